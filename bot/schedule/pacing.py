"""Telegram's rate limits, kept by construction on the sending side.

Telegram allows about 30 messages per second overall, one per second (sustained) per private chat
and 20 per minute per group; exceeding them costs a 429 and a pause. The pacer makes a sender wait
before it starts a request instead: per chat first (without holding the global slot, so one busy
chat never stalls the others), then globally. The global budget is a sliding one-second window
capped a little under the limit plus an even spacing, because Telegram counts requests when they
arrive and network jitter can bunch two requests that left evenly spaced.

Several instances on one PostgreSQL database share the global budget instead
(`bot.schedule.budget.SharedBudget`): the per-chat limits stay in each instance, and the global step
takes a slot from the database.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.schedule.budget import SharedBudget


@dataclass
class Limits:
    # Requests started in any `global_window` seconds (Telegram: ~30 per second). 29 per 0.985 s
    # is ~29.4/s: a request bunched by jitter still cannot make 31 in Telegram's one-second count.
    global_per_second: int = 29
    global_window: float = 0.985
    # Even spacing between any two requests, so a window never fills in a burst.
    global_interval: float = 1 / 30
    # Seconds between two messages to one private chat.
    private_interval: float = 1.0
    # Messages to one group in any 60-second window (Telegram: 20; one kept spare).
    group_per_minute: int = 19
    # Seconds between two messages to one group.
    group_interval: float = 1.0

    @classmethod
    def unlimited(cls) -> Limits:
        return cls(
            global_per_second=10**9,
            global_interval=0.0,
            private_interval=0.0,
            group_per_minute=10**9,
            group_interval=0.0,
        )


class Pacer:
    """`await pacer.acquire(chat_id)` before each request to a chat; `pause()` after a 429."""

    def __init__(self, limits: Limits | None = None, shared: SharedBudget | None = None) -> None:
        self.limits = limits or Limits()
        self.shared = shared
        self._window: deque[float] = deque()
        self._last = -1e9
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        # chat_id -> earliest next start; groups also keep their minute window.
        self._chat_next: dict[int, float] = {}
        self._chat_paused: dict[int, float] = {}
        self._group_windows: dict[int, deque[float]] = {}
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._last_prune = time.monotonic()

    def pause(self, seconds: float, chat_id: int | None = None) -> None:
        """Honour a 429's retry_after: nothing more to this chat (or at all) until it has passed."""
        until = time.monotonic() + max(seconds, 0.0)
        if chat_id is None:
            self._paused_until = max(self._paused_until, until)
        else:
            self._chat_paused[chat_id] = max(self._chat_paused.get(chat_id, 0.0), until)

    async def acquire(self, chat_id: int | None) -> None:
        if chat_id is not None:
            lock = self._chat_locks.get(chat_id)
            if lock is None:
                lock = self._chat_locks[chat_id] = asyncio.Lock()
            async with lock:
                await self._chat_slot(chat_id)
                await self._global_slot()
                self._reserve(chat_id)
        else:
            await self._global_slot()
        self._prune()

    async def _chat_slot(self, chat_id: int) -> None:
        lim = self.limits
        is_group = chat_id < 0
        while True:
            now = time.monotonic()
            wait = max(
                self._chat_next.get(chat_id, 0.0) - now,
                self._chat_paused.get(chat_id, 0.0) - now,
            )
            if is_group:
                window = self._group_windows.setdefault(chat_id, deque())
                while window and window[0] <= now - 60.0:
                    window.popleft()
                if len(window) >= lim.group_per_minute:
                    wait = max(wait, window[0] + 60.0 - now)
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def _reserve(self, chat_id: int) -> None:
        # After the global slot: the chat's spacing counts from when the request really starts.
        now = time.monotonic()
        if chat_id < 0:
            self._chat_next[chat_id] = now + self.limits.group_interval
            self._group_windows.setdefault(chat_id, deque()).append(now)
        else:
            self._chat_next[chat_id] = now + self.limits.private_interval

    async def _global_slot(self) -> None:
        if self.shared is not None:
            while (wait := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            await self.shared.acquire()
            return
        lim = self.limits
        async with self._lock:
            while True:
                now = time.monotonic()
                window = self._window
                while window and window[0] <= now - lim.global_window:
                    window.popleft()
                wait = max(self._last + lim.global_interval - now, self._paused_until - now)
                if len(window) >= lim.global_per_second:
                    wait = max(wait, window[0] + lim.global_window - now)
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if lim.global_per_second < 10**9:
                window.append(now)
            self._last = now

    def _prune(self) -> None:
        """Forget chats idle for a minute, so memory stays bounded by recent activity."""
        now = time.monotonic()
        if now - self._last_prune < 30.0:
            return
        self._last_prune = now
        old = now - 61.0
        for chat_id in [c for c, t in self._chat_next.items() if t < old]:
            self._chat_next.pop(chat_id, None)
            self._group_windows.pop(chat_id, None)
            lock = self._chat_locks.get(chat_id)
            if lock is not None and not lock.locked():
                self._chat_locks.pop(chat_id, None)
        for chat_id in [c for c, t in self._chat_paused.items() if t < now]:
            self._chat_paused.pop(chat_id, None)
