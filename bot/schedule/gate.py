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
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar

log = logging.getLogger(__name__)

_PROBING: ContextVar[bool] = ContextVar("volbot_probing", default=False)


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

    # ------------------------------------------------------------------ for requests

    @staticmethod
    def is_probe() -> bool:
        return _PROBING.get()

    @property
    def down(self) -> bool:
        return self.down_since is not None

    async def wait_open(self) -> None:
        if not self._open.is_set():
            await self._open.wait()

    def note_ok(self) -> None:
        """A request got an answer: nothing to do (the gate only closes on a failed probe)."""

    async def is_outage(self, err: Exception) -> bool:
        """After a request failed with `err`: True (after Telegram is back) when Telegram was down,
        False at once when it is up and the error was the request's own."""
        if not self.down:
            if self._probing is None or self._probing.done():
                self._probing = asyncio.get_running_loop().create_task(self._probe())
            if await asyncio.shield(self._probing):
                return False
            self._go_down(err)
        await self._open.wait()
        return True

    def state(self) -> str:
        """'ok', or why and for how long the Bot API has been unreachable (for /healthz)."""
        if self.down_since is None:
            return "ok"
        return f"unreachable for {time.monotonic() - self.down_since:.0f} s ({self.cause})"

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        self._open.set()

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
