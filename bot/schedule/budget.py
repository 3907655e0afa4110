"""Telegram's global limit (~30 messages/s per bot) shared by several instances on one PostgreSQL.

Each instance paces itself (`bot.schedule.pacing`), but two instances pacing themselves to ~30/s
together send ~60/s. Here the budget lives in the database: time is cut into slots of
1/`per_second` s on the database's clock, and a request may start only in a slot its instance holds
(one row in `send_slots` per slot taken: the primary key makes a slot one instance's). An instance
takes a few free slots of the next second at a time — one `INSERT … SELECT … ON CONFLICT DO NOTHING
RETURNING` round trip per chunk — and starts one request at the beginning of each of them.

With one request per slot, any one-second window holds at most `per_second + 1` request starts,
whichever instances they come from; `per_second` is 28 so that this is 29: Telegram's 30 with a
margin for requests that arrive bunched by network jitter (like the single-instance pacer's 29 per
second).
Slots of a chunk not used in time (fewer messages than slots) are simply wasted. Old rows are
deleted as part of a later reservation. SQLite (one machine, one instance) does not use this.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import deque
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from bot.schedule.pacing import Limits

_RESERVE = text(
    """
    INSERT INTO send_slots (slot)
    SELECT s FROM generate_series(CAST(:first AS BIGINT), CAST(:last AS BIGINT)) AS s
    WHERE NOT EXISTS (SELECT 1 FROM send_slots t WHERE t.slot = s)
    ORDER BY s
    LIMIT :k
    ON CONFLICT (slot) DO NOTHING
    RETURNING slot
    """
)
_RESERVE_AND_PRUNE = text(
    """
    WITH pruned AS (DELETE FROM send_slots WHERE slot < :old)
    INSERT INTO send_slots (slot)
    SELECT s FROM generate_series(CAST(:first AS BIGINT), CAST(:last AS BIGINT)) AS s
    WHERE NOT EXISTS (SELECT 1 FROM send_slots t WHERE t.slot = s)
    ORDER BY s
    LIMIT :k
    ON CONFLICT (slot) DO NOTHING
    RETURNING slot
    """
)
_NOW = text("SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)")


class SharedBudget:
    """`await budget.acquire()` before each request: returns at the start of a slot this instance holds."""

    def __init__(
        self,
        engine: AsyncEngine,
        per_second: int = 28,
        chunk: int = 7,
        horizon: float = 1.0,
    ) -> None:
        self.engine = engine
        self.per_second = per_second
        self.width = 1.0 / per_second
        # Slots taken per round trip at most, and how far ahead one looks for free ones.
        self.chunk = chunk
        self.horizon = horizon
        self._slots: deque[int] = deque()
        self._lock = asyncio.Lock()
        self._waiting = 0
        # database clock - time.monotonic(), so every instance counts slots on the same clock
        self._offset: float | None = None
        self._synced = 0.0
        self._pruned = 0.0
        self.reservations = 0

    async def _sync(self) -> None:
        async with self.engine.connect() as conn:
            t0 = time.monotonic()
            db = float((await conn.execute(_NOW)).scalar_one())
            t1 = time.monotonic()
        self._offset = db - (t0 + t1) / 2
        self._synced = t1

    def _now(self) -> float:
        assert self._offset is not None
        return time.monotonic() + self._offset

    async def _reserve(self) -> None:
        if self._offset is None or time.monotonic() - self._synced > 60.0:
            await self._sync()
        now = self._now()
        first = int(now / self.width) + 1
        last = first + max(1, int(self.horizon / self.width)) - 1
        k = max(1, min(self.chunk, self._waiting))
        params: dict[str, int] = {"first": first, "last": last, "k": k}
        stmt = _RESERVE
        if time.monotonic() - self._pruned > 10.0:
            stmt = _RESERVE_AND_PRUNE
            params["old"] = int((now - 60.0) / self.width)
            self._pruned = time.monotonic()
        got: list[int] = []
        for _attempt in range(3):
            async with self.engine.begin() as conn:
                got = sorted(int(s) for s in (await conn.execute(stmt, params)).scalars())
            stmt = _RESERVE
            if got:
                break
            # Nothing: either the next second is full, or another instance took the same free slots
            # a moment before us (our snapshot saw them free); a new snapshot sees what is left.
        self.reservations += 1
        self._slots.extend(got)
        if not got:
            # The next second is taken by the others: look again when some of it has passed.
            await asyncio.sleep(self.horizon / 2)

    async def acquire(self) -> None:
        self._waiting += 1
        try:
            while True:
                slot = None
                async with self._lock:
                    # Drop slots whose time has passed (a request there could share the next slot).
                    while self._slots and (self._slots[0] + 1) * self.width <= self._now_or_zero():
                        self._slots.popleft()
                    if self._slots:
                        slot = self._slots.popleft()
                    else:
                        await self._reserve()
                        continue
                wait = slot * self.width - self._now()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self._now() < (slot + 1) * self.width:
                    return
                # Woken too late for that slot (a busy loop): take another.
        finally:
            self._waiting -= 1

    def _now_or_zero(self) -> float:
        return self._now() if self._offset is not None else 0.0


_TAKE_CHAT = text(
    """
    INSERT INTO chat_send_slots (chat_key, slot) VALUES (:chat_key, :slot)
    ON CONFLICT (chat_key, slot) DO NOTHING
    RETURNING slot
    """
)
_PRUNE_CHATS = text(
    "DELETE FROM chat_send_slots WHERE (chat_key > 0 AND slot < :p_old) OR (chat_key < 0 AND slot < :g_old)"
)


def chat_key(chat_id: int) -> int:
    """The budget's key for a chat: a hash (negative for groups), so the table names nobody."""
    digest = int.from_bytes(hashlib.blake2b(str(chat_id).encode(), digest_size=7).digest(), "big")
    return -digest - 1 if chat_id < 0 else digest + 1


class ChatBudget:
    """Telegram's per-chat limits shared by the instances on one PostgreSQL database.

    A chat's time is cut into slots (1 s for a private chat; 60/18 s for a group, so that any
    60-second window touches at most 19 of them, under Telegram's 20 a minute). A message may go to a
    chat only in a slot its instance took: one row in `chat_send_slots`, whose primary key makes a
    slot one instance's. `take` is one round trip; it returns None when the slot is ours, or the
    seconds until the chat's next slot when another instance holds this one."""

    def __init__(self, engine: AsyncEngine, limits: Limits) -> None:
        self.engine = engine
        self.private_width = max(limits.private_interval, 0.001)
        # n slots per window of which any window can touch n + 1: n = group_per_minute - 1.
        self.group_width = limits.group_window / max(limits.group_per_minute - 1, 1)
        self._offset: float | None = None
        self._synced = 0.0
        self._pruned = time.monotonic()
        self.refused = 0

    async def _sync(self) -> None:
        async with self.engine.connect() as conn:
            t0 = time.monotonic()
            db = float((await conn.execute(_NOW)).scalar_one())
            t1 = time.monotonic()
        self._offset = db - (t0 + t1) / 2
        self._synced = t1

    async def take(self, chat_id: int) -> float | None:
        if self._offset is None or time.monotonic() - self._synced > 60.0:
            await self._sync()
        assert self._offset is not None
        now = time.monotonic() + self._offset
        width = self.group_width if chat_id < 0 else self.private_width
        slot = int(now / width)
        async with self.engine.begin() as conn:
            if time.monotonic() - self._pruned > 30.0:
                self._pruned = time.monotonic()
                await conn.execute(
                    _PRUNE_CHATS,
                    {
                        "p_old": int((now - 120.0) / self.private_width),
                        "g_old": int((now - 120.0) / self.group_width),
                    },
                )
            got = (await conn.execute(_TAKE_CHAT, {"chat_key": chat_key(chat_id), "slot": slot})).scalar()
        if got is not None:
            return None
        self.refused += 1
        return max((slot + 1) * width - now, 0.01)
