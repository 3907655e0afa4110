"""Whether Telegram's Bot API is reachable: all sends wait here while it is not.

A request that fails with a network error, a timeout or a 5xx asks `is_outage(err)`. The gate then
probes the Bot API once (`getMe`, shared by everyone asking at that moment): if the probe answers,
the error belonged to that request (it is the caller's to handle); if not, Telegram is down. While
it is down, every request waits at `wait_open()` and one probe runs after a backoff with jitter
(0.5 s doubling to `max_backoff`), so an outage costs a request every few seconds, not a busy loop.
The first probe that answers opens the gate and everything waiting goes on, lanes in order. The log
says it once when Telegram goes away and once when it is back; `/healthz` reads `state()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar

log = logging.getLogger(__name__)

_PROBING: ContextVar[bool] = ContextVar("volbot_probing", default=False)


class _QuietProbes(logging.Filter):
    """PTB logs every answer it cannot parse ("Can not load invalid JSON data", a 502's HTML page) as
    an error: a failed probe is the outage the gate already reported once, not news each time."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _PROBING.get()


# PTB's request logger (telegram.request.BaseRequest); added once per process.
_PTB_REQUEST_LOG = logging.getLogger("telegram.request.BaseRequest")
if not any(isinstance(f, _QuietProbes) for f in _PTB_REQUEST_LOG.filters):
    _PTB_REQUEST_LOG.addFilter(_QuietProbes())


class Gate:
    max_backoff = 4.0
    first_backoff = 0.5
    probe_timeout = 5.0

    def __init__(self, probe: Callable[[], Awaitable[object]]) -> None:
        self._probe_call = probe
        self._open = asyncio.Event()
        self._open.set()
        self._probing: asyncio.Task[bool] | None = None
        self._watch: asyncio.Task[None] | None = None
        self.down_since: float | None = None
        self.cause = ""
        self.outages = 0
        self.probes = 0
        # Requests waiting for the end of an outage, by ticket.
        self._held: list[tuple[int, int, asyncio.Future[None]]] = []
        self._held_seq = itertools.count()
        # Called when Telegram is found down (the outbox abandons the requests hanging on the wire).
        self.on_down: list[Callable[[], object]] = []

    # ------------------------------------------------------------------ for requests

    @staticmethod
    def is_probe() -> bool:
        return _PROBING.get()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    async def wait_open(self, ticket: int = 0) -> None:
        """Return when Telegram is reachable. Requests held by an outage go on in `ticket` order (the
        order they first came in), whatever path brought them here (queued, granted, on the wire)."""
        if self._open.is_set():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._held, (ticket, next(self._held_seq), fut))
        await fut

    def note_ok(self) -> None:
        """A request got an answer: nothing to do (the gate only closes on a failed probe)."""

    async def is_outage(self, err: Exception, since: int | None = None) -> bool:
        """After a request failed with `err`: True when Telegram is down (the request then waits at
        `wait_open` with the others),
        False at once when it is up and the error was the request's own. `since`: the number of
        outages when the request started; one declared since then was the request's trouble too
        (a request that hung through an outage times out when Telegram may already be back)."""
        if since is not None and self.outages > since:
            return True
        if not self.down:
            if self._probing is None or self._probing.done():
                self._probing = asyncio.get_running_loop().create_task(self._probe())
            if await asyncio.shield(self._probing):
                return False
            self._go_down(err)
        return True

    async def settled(self) -> None:
        """Wait for the verdict of a probe under way (Telegram is suspected down: a request failed),
        so that requests do not pile onto a link that may be dropping them."""
        probing = self._probing
        if probing is not None and not probing.done():
            await asyncio.shield(probing)

    def state(self) -> str:
        """'ok', or why and for how long the Bot API has been unreachable (for /healthz)."""
        if self.down_since is None:
            return "ok"
        return f"unreachable for {time.monotonic() - self.down_since:.0f} s ({self.cause})"

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self._open.set()
        self._release_held()

    # ------------------------------------------------------------------ inside

    @contextlib.contextmanager
    def _bypass(self) -> Iterator[None]:
        token = _PROBING.set(True)
        try:
            yield
        finally:
            _PROBING.reset(token)

    async def _probe(self) -> bool:
        self.probes += 1
        with self._bypass():
            try:
                await asyncio.wait_for(self._probe_call(), self.probe_timeout)
            except Exception as err:
                self.cause = type(err).__name__
                return False
        return True

    def _go_down(self, err: Exception) -> None:
        if self.down:
            return
        self.down_since = time.monotonic()
        self.cause = self.cause or type(err).__name__
        self.outages += 1
        self._open.clear()
        log.warning("Telegram's Bot API is unreachable (%s): all sends wait until it answers", self.cause)
        for fn in list(self.on_down):
            fn()
        self._watch = asyncio.get_running_loop().create_task(self._wait_for_recovery())

    async def _wait_for_recovery(self) -> None:
        backoff = self.first_backoff
        while True:
            # Full jitter around the backoff: instances that lost Telegram together do not probe together.
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            if await self._probe():
                break
            backoff = min(backoff * 2, self.max_backoff)
        assert self.down_since is not None
        log.warning(
            "Telegram's Bot API answers again after %.0f s: sending resumes",
            time.monotonic() - self.down_since,
        )
        self.down_since = None
        self.cause = ""
        self._open.set()
        self._release_held()

    def _release_held(self) -> None:
        # In ticket order: each resumes (and queues at the pacer) in the order it first came in.
        while self._held:
            _, _, fut = heapq.heappop(self._held)
            if not fut.done():
                fut.set_result(None)
