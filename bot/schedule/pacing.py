"""The one pacer every request to a chat waits on: Telegram's limits, lanes, coalesced edits.

Telegram allows about 30 messages per second overall, one per second per private chat and 20 per
minute per group; it counts requests when they *arrive*, in a sliding window. The pacer hands out
the right to start a request ("a grant") one at a time, from one scheduling loop:

- **overall**: at most `global_per_second` grants in any `global_window` seconds *and* at least
  `global_interval` between two grants, both measured on the times the grants really happened.
  A grant that happens late (a busy machine) pushes the next one back instead of letting the two
  bunch; 29 per second, never closer than 1/45 s, leaves Telegram's 30 a margin for jitter.
- **per chat**: `private_interval` between two grants to one private chat; at most
  `group_per_minute` grants to one group in any 60 s, `group_interval` apart.
- **lanes**: of the requests whose chat may be served now, the pacer grants the one of the lowest
  lane: answers to what a person just did, then time-critical notices, then bulk. Within the bulk
  lane, networks take turns (round-robin), so one network's large broadcast never holds another's.
  Within a lane, requests are served in the order they asked.
- **coalescing**: an edit of a message that is still waiting for its grant is replaced by a newer
  edit of the same message (it keeps its place in the queue; only the newest text is sent).

On PostgreSQL the overall budget and the per-chat budgets are shared by all instances
(`bot.schedule.budget`): the loop picks the next few requests (`batch`) as it would grant them,
takes that many global slots and then their chats' slots at those slots' times from the database
(two round trips for the batch, not two per message), and grants each at the start of its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.schedule.budget import ChatBudget, SharedBudget

log = logging.getLogger(__name__)


class Lane(IntEnum):
    """Who waits for the message: lower lanes are served first."""

    ANSWER = 0  # a reply or edit for what a person just did
    NOTICE = 1  # time-critical: reminders, meeting notices, vote results, waiting-list promotions
    BULK = 2  # broadcasts, new-event announcements


@dataclass
class Limits:
    # Grants in any `global_window` seconds (Telegram: 30 per second, counted on arrival).
    global_per_second: int = 29
    global_window: float = 1.0
    # Spacing between any two grants, so a window never fills in a burst; shorter than 1/29 s so
    # that a grant made late (a busy machine) can be caught up without giving up the rate.
    global_interval: float = 1 / 45
    # Seconds between two messages to one private chat.
    private_interval: float = 1.0
    # Messages to one group in any 60-second window (Telegram: 20; one kept spare).
    group_per_minute: int = 19
    # Seconds between two messages to one group.
    group_interval: float = 1.0
    # The group limit's window (Telegram: a minute; tests shorten it together with the fake's).
    group_window: float = 60.0

    @property
    def lifted(self) -> bool:
        """No limit at all (a local Bot API server; capacity benchmarks)."""
        return self.global_per_second > 1000 and not self.per_chat

    @property
    def per_chat(self) -> bool:
        return self.private_interval > 0 or self.group_per_minute < 10**9

    @classmethod
    def global_only(cls) -> Limits:
        """Telegram's overall limit, no per-chat ones (tests whose fake does not count per chat)."""
        return cls(private_interval=0.0, group_per_minute=10**9, group_interval=0.0)

    @classmethod
    def unlimited(cls) -> Limits:
        return cls(
            global_per_second=10**9,
            global_interval=0.0,
            private_interval=0.0,
            group_per_minute=10**9,
            group_interval=0.0,
        )


@dataclass(eq=False)
class _Waiter:
    chat_id: int
    lane: Lane
    network: int | None
    key: Hashable | None
    fut: asyncio.Future[bool]
    # Being granted (the loop took budget for it): no longer replaced by a newer edit.
    taken: bool = False


@dataclass
class PacerStats:
    granted: dict[int, int] = field(default_factory=lambda: {int(lane): 0 for lane in Lane})
    coalesced: int = 0


class Pacer:
    """`await pacer.acquire(chat_id, lane, network, key)` before each request to a chat: True when the
    request may start now, False when a newer edit of the same message (`key`) replaced it."""

    # Requests granted per round of reservations in the shared budgets (PostgreSQL).
    batch = 7

    def __init__(
        self,
        limits: Limits | None = None,
        shared: SharedBudget | None = None,
        chats: ChatBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or Limits()
        # Seconds on the clock asyncio's sleeps run on (`loop.time()`, time.monotonic by default); the
        # shared budgets count on time.monotonic. Unit tests pass a virtual loop's `time`.
        self.clock = clock
        self.shared = shared
        self.chats = chats
        self.stats = PacerStats()
        # (grant time, chat, lane) of every grant, when a test or benchmark sets it to a list.
        self.trace: list[tuple[float, int, int]] | None = None
        self._lanes: tuple[deque[_Waiter], deque[_Waiter]] = (deque(), deque())
        # Bulk: one queue per network, served in turn (`_turns` is the rotation).
        self._bulk: dict[int | None, deque[_Waiter]] = {}
        self._turns: deque[int | None] = deque()
        self._keyed: dict[Hashable, _Waiter] = {}
        self._waiting = 0
        self._arrived = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        # Grant times (`clock()`).
        self._window: deque[float] = deque()
        self._starts: deque[float] = deque()
        self._last = -1e9
        self._paused_until = 0.0
        self._chat_next: dict[int, float] = {}
        self._chat_paused: dict[int, float] = {}
        self._group_windows: dict[int, deque[float]] = {}
        # Answers: when each (chat, asker) was last served, so askers in one chat take turns.
        self._answered: dict[tuple[int, int | None], float] = {}
        self._last_prune = clock()
        self._budget_down = False

    # ------------------------------------------------------------------ public

    async def acquire(
        self,
        chat_id: int,
        lane: Lane = Lane.ANSWER,
        network: int | None = None,
        key: Hashable | None = None,
    ) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        w = _Waiter(chat_id, Lane(lane), network, key, fut)
        old = self._keyed.get(key) if key is not None else None
        if old is not None and not old.taken and not old.fut.done():
            # A newer edit of the same message: it takes the older one's place, the older is dropped.
            queue = self._queue_of(old)
            queue[queue.index(old)] = w
            w.lane, w.network = old.lane, old.network
            old.fut.set_result(False)
            self.stats.coalesced += 1
        else:
            self._queue_of(w).append(w)
            self._waiting += 1
        if key is not None:
            self._keyed[key] = w
        self._arrived.set()
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._run())
        try:
            return await fut
        except asyncio.CancelledError:
            if not fut.done() or fut.cancelled() or not fut.result():
                self._drop(w)
            raise
        finally:
            if key is not None and self._keyed.get(key) is w:
                del self._keyed[key]

    def pause(self, seconds: float, chat_id: int | None = None) -> None:
        """Honour a 429's retry_after: nothing more to this chat (or at all) until it has passed."""
        until = self.clock() + max(seconds, 0.0)
        if chat_id is None:
            self._paused_until = max(self._paused_until, until)
        else:
            self._chat_paused[chat_id] = max(self._chat_paused.get(chat_id, 0.0), until)

    async def starting(self) -> None:
        """Called just before a granted request goes on the wire: if the event loop stalled between
        grants and starts (a busy machine), starts that would bunch wait here, so that no sliding
        `global_window` holds more than `global_per_second` starts either."""
        lim = self.limits
        if lim.global_per_second >= 10**6 or self.shared is not None:
            return
        starts = self._starts
        while True:
            now = self.clock()
            while starts and starts[0] <= now - lim.global_window:
                starts.popleft()
            if len(starts) < lim.global_per_second:
                starts.append(now)
                return
            await asyncio.sleep(starts[0] + lim.global_window - now)

    def chat_wait(self, chat_id: int) -> float:
        """Roughly how long a new answer to `chat_id` would wait for its grant (seconds)."""
        now = self.clock()
        ahead = sum(1 for q in self._queues() for w in q if w.chat_id == chat_id and not w.fut.done())
        wait = max(0.0, self._chat_ready(chat_id, now) - now)
        if chat_id < 0 and self.limits.per_chat:
            window = self._group_windows.get(chat_id, deque())
            per_minute = max(self.limits.group_per_minute, 1)
            # Each full minute's worth ahead (window + queue) costs a minute.
            backlog = len(window) + ahead
            interval = self.limits.group_interval
            if self.chats is not None:
                # Shared budget: two places per 7.5 s group slot, whatever this instance's window says.
                interval = max(interval, self.chats.interval(chat_id))
                wait = max(wait, self.chats.wait_estimate(chat_id))
            wait = max(wait, (backlog // per_minute) * self.limits.group_window + ahead * interval)
        else:
            wait += ahead * self.limits.private_interval
        return wait

    @property
    def waiting(self) -> int:
        return self._waiting

    # ------------------------------------------------------------------ queues

    def _queue_of(self, w: _Waiter) -> deque[_Waiter]:
        if w.lane < Lane.BULK:
            return self._lanes[w.lane]
        queue = self._bulk.get(w.network)
        if queue is None:
            queue = self._bulk[w.network] = deque()
            self._turns.append(w.network)
        return queue

    def _queues(self) -> list[deque[_Waiter]]:
        return [*self._lanes, *self._bulk.values()]

    def _drop(self, w: _Waiter) -> None:
        queue = self._queue_of(w)
        with contextlib.suppress(ValueError):
            queue.remove(w)
            self._waiting -= 1
        self._forget_empty(w)

    def _forget_empty(self, w: _Waiter) -> None:
        if w.lane == Lane.BULK and not self._bulk.get(w.network):
            self._bulk.pop(w.network, None)
            with contextlib.suppress(ValueError):
                self._turns.remove(w.network)

    def _chat_ready(self, chat_id: int, now: float) -> float:
        """When a request to this chat may start, by this instance's own accounting."""
        ready = max(self._chat_next.get(chat_id, 0.0), self._chat_paused.get(chat_id, 0.0))
        if chat_id < 0:
            window = self._group_windows.get(chat_id)
            if window:
                while window and window[0] <= now - self.limits.group_window:
                    window.popleft()
                if len(window) >= self.limits.group_per_minute:
                    ready = max(ready, window[0] + self.limits.group_window)
        return ready

    def _pick(
        self, now: float, busy: frozenset[int] | set[int] = frozenset()
    ) -> tuple[_Waiter | None, float]:
        """The waiter to serve now (lanes in order, bulk networks in turn), or when to look again;
        chats in `busy` (already picked for this batch) are passed over."""
        soonest = math.inf
        for index, queue in enumerate(self._lanes):
            seen: set[int] = set(busy)
            for w in self._answer_turns(queue) if index == Lane.ANSWER else queue:
                if w.chat_id in seen:
                    continue
                ready = self._chat_ready(w.chat_id, now)
                if ready <= now:
                    return w, now
                seen.add(w.chat_id)
                soonest = min(soonest, ready)
        for turn in range(len(self._turns)):
            network = self._turns[turn]
            seen = set(busy)
            for w in self._bulk[network]:
                if w.chat_id in seen:
                    continue
                ready = self._chat_ready(w.chat_id, now)
                if ready <= now:
                    # The next bulk grant starts with the network after this one.
                    self._turns.rotate(-(turn + 1))
                    return w, now
                seen.add(w.chat_id)
                soonest = min(soonest, ready)
        return None, soonest

    def _answer_turns(self, queue: deque[_Waiter]) -> list[_Waiter]:
        """The answer lane in serving order: in each chat the askers take turns (each asker's answers
        in the order they came; the asker served least recently first), so one person sending many
        commands in a group does not make the others wait behind all of their answers. An answer's
        `network` is who asked (handlers.common)."""
        firsts: dict[tuple[int, int | None], _Waiter] = {}
        for w in queue:
            firsts.setdefault((w.chat_id, w.network), w)
        return sorted(firsts.values(), key=lambda w: self._answered.get((w.chat_id, w.network), -1.0))

    def _global_ready(self, now: float) -> float:
        lim = self.limits
        ready = max(self._paused_until, self._last + lim.global_interval)
        if self.shared is None:
            window = self._window
            while window and window[0] <= now - lim.global_window:
                window.popleft()
            if len(window) >= lim.global_per_second:
                ready = max(ready, window[0] + lim.global_window)
        return ready

    # ------------------------------------------------------------------ the loop

    async def _sleep(self, seconds: float) -> None:
        """Sleep up to `seconds`, or until a new request arrives (it may be servable at once)."""
        self._arrived.clear()
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), min(seconds, 60.0))

    async def _run(self) -> None:
        shared = self.shared is not None or self.chats is not None
        while self._waiting > 0:
            now = self.clock()
            ready = self._global_ready(now)
            if ready > now:
                # Time-based: nothing that arrives can start sooner.
                await asyncio.sleep(ready - now)
                continue
            if not shared:
                w, soonest = self._pick(now)
                if w is None:
                    await self._sleep(soonest - now)
                    continue
                self._grant(w)
                self._prune()
                continue
            batch: list[_Waiter] = []
            busy: set[int] = set()
            soonest = math.inf
            while len(batch) < self.batch:
                w, soonest = self._pick(now, busy)
                if w is None:
                    break
                w.taken = True
                batch.append(w)
                busy.add(w.chat_id)
            if not batch:
                await self._sleep(soonest - now)
                continue
            try:
                await self._grant_shared(batch)
            except Exception as err:
                # The database holding the shared budgets is unreachable: nothing is sent past a
                # budget nobody can check; the requests keep their places and the loop tries again.
                if not self._budget_down:
                    log.warning("shared send budget unavailable (%s): sends wait", type(err).__name__)
                self._budget_down = True
                await asyncio.sleep(0.5)
                continue
            finally:
                for w in batch:
                    w.taken = False
            if self._budget_down:
                log.warning("shared send budget available again")
                self._budget_down = False
            self._prune()

    async def _grant_shared(self, batch: list[_Waiter]) -> None:
        """Grant a batch against the budgets in the database (see the module's docstring)."""
        slots: list[int | None] = [None] * len(batch)
        if self.shared is not None:
            got = await self.shared.take(len(batch), more=self._waiting > len(batch))
            batch = batch[: len(got)]
            slots = list(got)
        if not batch:
            return
        later: list[float | None] = [None] * len(batch)
        if self.chats is not None:
            planned = [None if s is None or self.shared is None else self.shared.start_of(s) for s in slots]
            later = await self.chats.take_many(
                [(w.chat_id, at) for w, at in zip(batch, planned, strict=True)]
            )
        for i, (w, slot, wait) in enumerate(zip(batch, slots, later, strict=True)):
            if w.lane > Lane.ANSWER and self._ahead_of(w.lane):
                # Something of a lower lane arrived meanwhile: it goes before the rest of the batch
                # (their slots go back to the budget; their chats' slots stay held for them).
                if self.shared is not None:
                    self.shared.give_back([s for s in slots[i:] if s is not None])
                return
            if wait is not None:
                # Another instance holds this chat's slot: wait for its next one.
                self._chat_next[w.chat_id] = self.clock() + wait
                continue
            if slot is not None and self.shared is not None and not await self.shared.wait_for(slot):
                # Woken after its slot (a busy loop): it goes first in the next batch, the rest of
                # this one after it (their slots go back), so the order is kept.
                self.shared.give_back([s for s in slots[i + 1 :] if s is not None])
                return
            now = self.clock()
            if self._paused_until > now or self._chat_paused.get(w.chat_id, 0.0) > now:
                continue  # a 429 arrived meanwhile
            after = self.chats.used(w.chat_id) if self.chats is not None else 0.0
            self._grant(w)
            # The chat's next free place in the shared budget (a group's two per 7.5 s): known here,
            # so that `chat_wait` tells a busy group's answer how long it would really wait.
            self._chat_next[w.chat_id] = max(self._chat_next.get(w.chat_id, 0.0), self.clock() + after)

    def _ahead_of(self, lane: Lane) -> bool:
        """Is a request of a lane before `lane` waiting, not yet taken, its chat ready?"""
        now = self.clock()
        for queue in self._lanes[:lane]:
            for w in queue:
                if not w.taken and self._chat_ready(w.chat_id, now) <= now:
                    return True
        return False

    def _grant(self, w: _Waiter) -> None:
        now = self.clock()
        lim = self.limits
        queue = self._queue_of(w)
        with contextlib.suppress(ValueError):
            queue.remove(w)
            self._waiting -= 1
        self._forget_empty(w)
        self._last = now
        if lim.global_per_second < 10**6:
            self._window.append(now)
        if lim.per_chat:
            if w.chat_id < 0:
                self._chat_next[w.chat_id] = now + lim.group_interval
                self._group_windows.setdefault(w.chat_id, deque()).append(now)
            else:
                self._chat_next[w.chat_id] = now + lim.private_interval
        if w.lane == Lane.ANSWER:
            self._answered[(w.chat_id, w.network)] = now
        self.stats.granted[int(w.lane)] += 1
        if self.trace is not None:
            self.trace.append((now, w.chat_id, int(w.lane)))
        if not w.fut.done():
            w.fut.set_result(True)

    def _prune(self) -> None:
        """Forget chats idle for a minute, so memory stays bounded by recent activity."""
        now = self.clock()
        if now - self._last_prune < 30.0:
            return
        self._last_prune = now
        old = now - max(self.limits.group_window, 1.0) - 1.0
        for chat_id in [c for c, t in self._chat_next.items() if t < old]:
            self._chat_next.pop(chat_id, None)
            self._group_windows.pop(chat_id, None)
        for chat_id in [c for c, t in self._chat_paused.items() if t < now]:
            self._chat_paused.pop(chat_id, None)
        for asked in [a for a, t in self._answered.items() if t < old]:
            self._answered.pop(asked, None)
