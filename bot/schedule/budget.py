"""Telegram's global limit (~30 messages/s per bot) shared by several instances on one PostgreSQL.

Each instance paces itself (`bot.schedule.pacing`), but two instances pacing themselves to ~30/s
together send ~60/s. Here the budget lives in the database: time is cut into slots of
1/`per_second` s on the database's clock, and a request may start only in a slot its instance holds
(one row in `send_slots` per slot taken: the primary key makes a slot one instance's). An instance
takes a few free slots of the next second at a time — one `INSERT … SELECT … ON CONFLICT DO NOTHING
RETURNING` round trip per chunk — and starts one request at the beginning of each of them.

With one request per slot, started at most `late` of a slot after the slot's start, any
one-second window holds at most `per_window` request starts, whichever instances they come from:
two starts j - i slots apart are at least (j - i - late) slot widths apart, so one window holds
starts of fewer than per_second + late + 1 consecutive slots. `per_second` is 28.8 and `late` a
fifth of a slot (6.9 ms), so that this is 29: Telegram's 30 with a margin for requests that arrive
bunched by network jitter (like the single-instance pacer's 29 per second). A request woken later
than that in its slot (a busy machine) takes the next slot instead.
Slots of a chunk not used in time (fewer messages than slots) are simply wasted. Old rows are
deleted as part of a later reservation. SQLite (one machine, one instance) does not use this.
"""

from __future__ import annotations

import asyncio
import contextlib
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
        per_second: float = 28.8,
        chunk: int = 7,
        horizon: float = 1.0,
    ) -> None:
        self.engine = engine
        # One statement per round trip, no BEGIN/COMMIT around it.
        self._auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.per_second = per_second
        self.width = 1.0 / per_second
        # How far into its slot a request may still start (a fraction of the slot; see above).
        self.late = max(0.0, min(1.0, 29 - per_second))
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
        # Slots lost because the request was woken too late in them.
        self.missed = 0
        # The reservation of the next chunk, made while this one is used.
        self._ahead: asyncio.Task[None] | None = None

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

    async def _reserve(self, want: int | None = None, after: int | None = None) -> None:
        if self._offset is None or time.monotonic() - self._synced > 60.0:
            await self._sync()
        now = self._now()
        first = int(now / self.width) + 1
        if after is not None:
            first = max(first, after + 1)
        last = first + max(1, int(self.horizon / self.width)) - 1
        k = max(1, min(self.chunk, self._waiting if want is None else want))
        params: dict[str, int] = {"first": first, "last": last, "k": k}
        stmt = _RESERVE
        if time.monotonic() - self._pruned > 10.0:
            stmt = _RESERVE_AND_PRUNE
            params["old"] = int((now - 60.0) / self.width)
            self._pruned = time.monotonic()
        got: list[int] = []
        for _attempt in range(3):
            async with self._auto.connect() as conn:
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
                    while self._slots and (self._slots[0] + self.late) * self.width <= self._now_or_zero():
                        self._slots.popleft()
                    if self._slots:
                        slot = self._slots.popleft()
                    else:
                        await self._reserve()
                        continue
                wait = slot * self.width - self._now()
                if wait > 0:
                    await asyncio.sleep(wait)
                if self._now() < (slot + self.late) * self.width:
                    return
                # Woken too late for that slot (a busy loop): take another.
        finally:
            self._waiting -= 1

    def _now_or_zero(self) -> float:
        return self._now() if self._offset is not None else 0.0

    async def take(self, n: int, more: bool = False) -> list[int]:
        """Up to `n` slots this instance holds, earliest first (one round trip for up to `chunk` of
        them); empty when the next second is the others'. Start a request in each with `wait_for`.
        `more`: further requests wait after these, so the next chunk is reserved meanwhile (its
        slots follow these without the gap of a round trip)."""
        async with self._lock:
            self._drop_passed()
            if not self._slots and self._ahead is not None:
                with contextlib.suppress(Exception):
                    await self._ahead
                self._ahead = None
                self._drop_passed()
            if not self._slots:
                await self._reserve(n)
            out: list[int] = []
            while self._slots and len(out) < n:
                out.append(self._slots.popleft())
            if more and out and not self._slots and (self._ahead is None or self._ahead.done()):
                self._ahead = asyncio.get_running_loop().create_task(self._reserve(self.chunk, out[-1]))
            return out

    def _drop_passed(self) -> None:
        while self._slots and (self._slots[0] + self.late) * self.width <= self._now_or_zero():
            self._slots.popleft()

    def give_back(self, slots: list[int]) -> None:
        """Slots taken but not used: the next `take` hands them out first (while they last)."""
        self._slots.extendleft(sorted(slots, reverse=True))

    def start_of(self, slot: int) -> float:
        """The slot's start on the database clock."""
        return slot * self.width

    async def wait_for(self, slot: int) -> bool:
        """Sleep until the slot starts; False when woken too late in it (the slot is lost)."""
        wait = slot * self.width - self._now()
        if wait > 0:
            await asyncio.sleep(wait)
        if self._now() < (slot + self.late) * self.width:
            return True
        self.missed += 1
        return False


_TAKE_CHATS = text(
    """
    INSERT INTO chat_send_slots (chat_key, slot)
    SELECT DISTINCT ON (t.k) t.k, t.s
    FROM unnest(CAST(:keys AS BIGINT[]), CAST(:slots AS BIGINT[])) AS t (k, s)
    WHERE NOT EXISTS (SELECT 1 FROM chat_send_slots c WHERE c.chat_key = t.k AND c.slot = t.s)
    ORDER BY t.k, t.s
    ON CONFLICT (chat_key, slot) DO NOTHING
    RETURNING chat_key, slot
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

    A chat's time is cut into slots, each with a few places: a private chat's slots are 1 s wide
    with one place; a group's have two places and are as wide as lets any 60-second window touch
    no more places than the group's 19 a minute (7.5 s: a window touches at most 9 slots, 18
    places), so a group can get two answers in a row instead of one every 3.3 s. A message may go to
    a chat only in a place its instance took: one row in `chat_send_slots` (slot number x places +
    place), whose primary key makes a place one instance's. `take_many` reserves the first free place
    of several chats (each at the time its message is planned to start) in one round trip; for each
    it returns None when the place is ours, or the seconds until the chat's next slot when the others
    hold them. A place reserved but not used (its message missed its global slot) stays ours until
    `used` or until it passes."""

    def __init__(self, engine: AsyncEngine, limits: Limits) -> None:
        self.engine = engine
        self._auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.private_width = max(limits.private_interval, 0.001)
        n, window = max(limits.group_per_minute, 1), limits.group_window
        # k places per slot, slots touched by a window = window / width + 1, so k * (that) <= n.
        self.group_places = 2 if n // 2 >= 2 else 1
        self.group_width = window / max(n // self.group_places - 1, 1)
        self._offset: float | None = None
        self._synced = 0.0
        self._pruned = time.monotonic()
        self.refused = 0
        self.round_trips = 0
        # chat id -> (slot, row) this instance holds for it and has not used yet
        self._held: dict[int, tuple[int, int]] = {}
        # chat id -> (slot, places of it this instance used)
        self._spent: dict[int, tuple[int, int]] = {}

    async def _sync(self) -> None:
        async with self.engine.connect() as conn:
            t0 = time.monotonic()
            db = float((await conn.execute(_NOW)).scalar_one())
            t1 = time.monotonic()
        self._offset = db - (t0 + t1) / 2
        self._synced = t1

    def now(self) -> float:
        """The database clock (synced by a previous `take_many`)."""
        return time.monotonic() + (self._offset or 0.0)

    def _shape(self, chat_id: int) -> tuple[float, int]:
        return (self.group_width, self.group_places) if chat_id < 0 else (self.private_width, 1)

    def used(self, chat_id: int) -> float:
        """The place held for this chat has been used by a message; returns the seconds until the
        chat may have its next message as far as this instance knows (0: a place of the slot is left)."""
        held = self._held.pop(chat_id, None)
        if held is None:
            return 0.0
        slot = held[0]
        spent_slot, count = self._spent.get(chat_id, (slot, 0))
        count = count + 1 if spent_slot == slot else 1
        self._spent[chat_id] = (slot, count)
        return self.wait_estimate(chat_id)

    def wait_estimate(self, chat_id: int) -> float:
        """Seconds until a place is free for this chat, by this instance's own uses."""
        width, places = self._shape(chat_id)
        spent = self._spent.get(chat_id)
        if spent is None:
            return 0.0
        slot, count = spent
        now = self.now()
        if int(now / width) != slot or count < places:
            return 0.0
        return max(0.0, (slot + 1) * width - now)

    def interval(self, chat_id: int) -> float:
        """Seconds per message to this chat, on average, in the shared budget."""
        width, places = self._shape(chat_id)
        return width / places

    async def take(self, chat_id: int) -> float | None:
        return (await self.take_many([(chat_id, None)]))[0]

    async def take_many(self, wanted: list[tuple[int, float | None]]) -> list[float | None]:
        """`wanted`: (chat id, planned start on the database clock, or None for now), chats distinct."""
        if self._offset is None or time.monotonic() - self._synced > 60.0:
            await self._sync()
        now = self.now()
        slots: list[int] = []
        for chat_id, at in wanted:
            width, _ = self._shape(chat_id)
            slots.append(int((now if at is None else at) / width))
        if len(self._held) > 10_000 or len(self._spent) > 10_000:
            self._held.clear()
            self._spent.clear()
        keys: list[int] = []
        rows: list[int] = []
        for (chat_id, _), slot in zip(wanted, slots, strict=True):
            held = self._held.get(chat_id)
            if held is not None and held[0] == slot:
                continue
            _, places = self._shape(chat_id)
            for place in range(places):
                keys.append(chat_key(chat_id))
                rows.append(slot * places + place)
        if keys:
            async with self._auto.connect() as conn:
                if time.monotonic() - self._pruned > 30.0:
                    self._pruned = time.monotonic()
                    await conn.execute(
                        _PRUNE_CHATS,
                        {
                            "p_old": int((now - 120.0) / self.private_width),
                            "g_old": int((now - 120.0) / self.group_width) * self.group_places,
                        },
                    )
                got = {
                    int(k): int(r)
                    for k, r in (await conn.execute(_TAKE_CHATS, {"keys": keys, "slots": rows}))
                }
            self.round_trips += 1
            for (chat_id, _), slot in zip(wanted, slots, strict=True):
                row = got.get(chat_key(chat_id))
                _, places = self._shape(chat_id)
                if row is not None and row // places == slot:
                    self._held[chat_id] = (slot, row)
        out: list[float | None] = []
        for (chat_id, _), slot in zip(wanted, slots, strict=True):
            held = self._held.get(chat_id)
            if held is not None and held[0] == slot:
                out.append(None)
                continue
            self.refused += 1
            width, _ = self._shape(chat_id)
            out.append(max((slot + 1) * width - now, 0.01))
        return out
