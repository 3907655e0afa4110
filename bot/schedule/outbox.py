"""The one way out: every Bot API request the bot makes passes here (PTB's rate-limiter hook).

`Outbox` is installed as the application's `rate_limiter`, so handler replies, card and vote edits,
notices, broadcasts, documents and the error handler's apology all take the same road:

1. **the gate** (`bot.schedule.gate`): while Telegram is unreachable every request waits here;
2. **the pacer** (`bot.schedule.pacing`), for requests that send or edit a message in a chat: it
   keeps Telegram's limits and serves lanes in order; the lane is whatever the code around the
   request declared with `with lane(Lane.NOTICE, network_id):` (default: an answer to a person);
   an edit replaced by a newer edit of the same message while it waited is not sent at all;
3. the request; a 429 pauses the pacer (the chat and everything) and the request is retried in place;
   a network error, a timeout or a 5xx asks the gate whether Telegram is down, or went down while
   the request was on the wire (a timeout may come after Telegram is back): if so the request waits
   for it and is retried (an outage does not count against a message), otherwise the error is the
   request's own and goes to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from bot.schedule.gate import Gate
from bot.schedule.pacing import Lane, Pacer

log = logging.getLogger(__name__)

_LANE: ContextVar[tuple[Lane, int | None]] = ContextVar("volbot_lane", default=(Lane.ANSWER, None))
_GUARD: ContextVar[Callable[[], bool] | None] = ContextVar("volbot_guard", default=None)

# Requests that put something in a chat (Telegram's message limits apply to them).
_PACED_PREFIXES = ("send", "edit", "copy", "forward")
_UNPACED = frozenset({"sendChatAction"})


@contextlib.contextmanager
def lane(which: Lane, network: int | None = None) -> Iterator[None]:
    """Requests made inside (in this task) go out in lane `which`; bulk takes turns by `network`."""
    token = _LANE.set((which, network))
    try:
        yield
    finally:
        _LANE.reset(token)


class _Abandoned(Exception):
    """The request hung on the wire when Telegram was found down, and was given up to be made again."""


class _NotMade(Exception):
    """Telegram was found down before the request started: it waits for it, nothing was sent."""


class Withdrawn(Exception):
    """The request was not made: its `guard` said no when its turn came."""


@contextlib.contextmanager
def guard(still_wanted: Callable[[], bool]) -> Iterator[None]:
    """Requests made inside ask `still_wanted()` just before they start (after any wait); when it
    says no, the request is not made and `Withdrawn` is raised."""
    token = _GUARD.set(still_wanted)
    try:
        yield
    finally:
        _GUARD.reset(token)


def _retry_seconds(err: RetryAfter) -> float:
    ra = err.retry_after
    return float(ra if isinstance(ra, (int, float)) else ra.total_seconds())


def _chat_id(data: dict[str, Any]) -> int | None:
    value = data.get("chat_id")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


class Outbox(BaseRateLimiter[None]):
    # A 429 is retried in place this many times before it reaches the caller.
    max_rate_retries = 5

    def __init__(self, pacer: Pacer, gate: Gate, in_flight: int = 16) -> None:
        self.pacer = pacer
        self.gate = gate
        # Requests on the wire at once: no more than the HTTP pool's connections, so none queues
        # inside httpcore (whose queue costs O(connections) per waiting request and wake-up).
        self._wire = asyncio.Semaphore(in_flight)
        self.stats: dict[str, int] = {"429": 0, "held_by_outage": 0, "coalesced": 0}
        # Requests on the wire: when Telegram is found down, those still hanging (a link that drops
        # packets answers nothing until the read timeout) are abandoned and wait for it like the rest,
        # so that after the outage they go first again instead of timing out behind the queue.
        self._on_wire: set[asyncio.Task[Any]] = set()
        # The order requests came in: after an outage they go on in this order.
        self._tickets = itertools.count(1)
        self._abandoned: set[asyncio.Task[Any]] = set()
        gate.on_down.append(self._abandon_wire)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        self.gate.close()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if self.gate.is_probe():
            return await callback(*args, **kwargs)
        chat_id = _chat_id(data)
        paced = chat_id is not None and endpoint.startswith(_PACED_PREFIXES) and endpoint not in _UNPACED
        key = None
        if paced and endpoint.startswith("edit") and data.get("message_id") is not None:
            key = (chat_id, data.get("message_id"), endpoint)
        which, network = _LANE.get()
        rate_retries = 0
        ticket = next(self._tickets)
        while True:
            await self.gate.wait_open(ticket)
            if paced:
                assert chat_id is not None
                if not await self.pacer.acquire(chat_id, which, network, key):
                    self.stats["coalesced"] += 1
                    return True  # a newer edit of the same message replaced this one
                if self.gate.down:
                    # Telegram went away while this request waited for its turn: wait for it again.
                    continue
            check = _GUARD.get()
            if check is not None and not check():
                raise Withdrawn
            # Outages declared so far: one declared while this request is on the wire is its cause.
            outages = self.gate.outages
            try:
                async with self._wire:
                    if paced:
                        await self.pacer.starting()
                    await self.gate.settled()
                    if self.gate.down:
                        # Telegram went away while this request waited for a connection.
                        raise _NotMade
                    result = await self._on_the_wire(callback(*args, **kwargs))
            except _NotMade:
                continue
            except _Abandoned:
                self.stats["held_by_outage"] += 1
                continue
            except RetryAfter as err:
                self.stats["429"] += 1
                wait = _retry_seconds(err)
                # Telegram does not say which limit was hit: slow this chat and everything down.
                self.pacer.pause(wait)
                if chat_id is not None:
                    self.pacer.pause(wait, chat_id)
                rate_retries += 1
                if rate_retries <= self.max_rate_retries:
                    continue
                raise
            except BadRequest:
                raise
            except NetworkError as err:
                if await self.gate.is_outage(err, since=outages):
                    self.stats["held_by_outage"] += 1
                    continue
                raise
            self.gate.note_ok()
            return result

    async def _on_the_wire(self, request: Coroutine[Any, Any, Any]) -> Any:
        task = asyncio.get_running_loop().create_task(request)
        self._on_wire.add(task)
        try:
            return await task  # a caller cancelled (shutdown) cancels the request with it
        except asyncio.CancelledError:
            if task in self._abandoned:
                raise _Abandoned from None
            raise
        finally:
            self._on_wire.discard(task)
            self._abandoned.discard(task)

    def _abandon_wire(self) -> None:
        for task in list(self._on_wire):
            if not task.done():
                self._abandoned.add(task)
                task.cancel()
