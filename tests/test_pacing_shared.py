"""The pacer with the budgets several instances share (`bot.schedule.budget`, on PostgreSQL), here as
fakes on a virtual-time loop: batches of requests taken from the overall budget and then their chats',
each granted at the start of its slot; a lower lane that arrives during a batch goes first; a chat
another instance holds waits; an unreachable budget holds every send. Also what the local pacer
does besides granting: `starting()`'s window, forgetting idle chats, the limits' presets."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.schedule.pacing import Lane, Limits
from bot.schedule.pacing import Pacer as _Pacer
from bot.testing.virtual_loop import VirtualLoopPolicy

NO_LOCAL_LIMITS = Limits(
    global_per_second=2,  # the shared budget decides: this instance's own window is not used
    global_interval=0.0,
    private_interval=0.0,
    group_per_minute=10**9,
    group_interval=0.0,
)


@pytest.fixture
def event_loop_policy() -> VirtualLoopPolicy:
    return VirtualLoopPolicy()


def now() -> float:
    return asyncio.get_running_loop().time()


class FakeShared:
    """The overall budget: slot k starts at k seconds; `take` hands out the next free ones."""

    def __init__(self, per_take: int = 100) -> None:
        self.next = 0
        self.per_take = per_take
        self.given_back: list[int] = []
        self.takes: list[tuple[int, bool]] = []
        self.late: set[int] = set()  # slots whose request is woken too late
        self.fail = 0  # the next `take`s that raise (the database is unreachable)
        self.round_trip = 0.0

    async def take(self, n: int, more: bool = False) -> list[int]:
        self.takes.append((n, more))
        await asyncio.sleep(self.round_trip)
        if self.fail:
            self.fail -= 1
            raise ConnectionError("no database")
        out = sorted(self.given_back)[:n]
        self.given_back = sorted(self.given_back)[n:]
        while len(out) < min(n, self.per_take):
            self.next = max(self.next, int(now()))
            out.append(self.next)
            self.next += 1
        return out

    def give_back(self, slots: list[int]) -> None:
        self.given_back += slots

    def start_of(self, slot: int) -> float:
        return float(slot) + 0.5  # its own clock: half a second ahead

    async def wait_for(self, slot: int) -> bool:
        if slot > now():
            await asyncio.sleep(slot - now())
        return slot not in self.late


class FakeChats:
    """The per-chat budget: `held` chats are another instance's for that many seconds more."""

    def __init__(self) -> None:
        self.held: dict[int, float] = {}
        self.asked: list[list[tuple[int, float | None]]] = []
        self.after_use: dict[int, float] = {}

    async def take_many(self, wanted: list[tuple[int, float | None]]) -> list[float | None]:
        self.asked.append(wanted)
        return [self.held.pop(chat, None) for chat, _at in wanted]

    def used(self, chat_id: int) -> float:
        return self.after_use.get(chat_id, 0.0)

    def interval(self, chat_id: int) -> float:
        return 3.75 if chat_id < 0 else 1.0

    def wait_estimate(self, chat_id: int) -> float:
        return 4.0 if chat_id == -9 else 0.0


def Pacer(
    limits: Limits = NO_LOCAL_LIMITS, shared: FakeShared | None = None, chats: FakeChats | None = None
) -> _Pacer:
    fakes: Any = (shared, chats)  # the fakes stand in for budget.SharedBudget and budget.ChatBudget
    pacer = _Pacer(limits, shared=fakes[0], chats=fakes[1], clock=asyncio.get_running_loop().time)
    pacer.trace = []
    return pacer


def granted(pacer: _Pacer) -> list[tuple[float, int]]:
    return [(t, chat) for t, chat, _lane in pacer.trace or []]


async def test_requests_are_granted_in_batches_at_their_slots() -> None:
    shared, chats = FakeShared(), FakeChats()
    pacer = Pacer(shared=shared, chats=chats)
    await asyncio.gather(*(pacer.acquire(c, Lane.NOTICE) for c in range(1, 11)))
    # Batches of 7; `more` while requests wait past this batch.
    assert shared.takes == [(7, True), (3, False)]
    assert granted(pacer) == [(float(s), s + 1) for s in range(10)]
    # Each chat's place asked for at its slot's start on the budget's clock.
    assert chats.asked == [[(c, c - 0.5) for c in range(1, 8)], [(8, 7.5), (9, 8.5), (10, 9.5)]]
    assert pacer.stats.granted == {0: 0, 1: 10, 2: 0} and pacer.waiting == 0


async def test_a_batch_has_one_request_per_chat() -> None:
    shared = FakeShared()
    pacer = Pacer(shared=shared)
    await asyncio.gather(*(pacer.acquire(c) for c in (1, 1, 2, 1)))
    assert shared.takes == [(2, True), (1, True), (1, False)]
    assert granted(pacer) == [(0.0, 1), (1.0, 2), (2.0, 1), (3.0, 1)]


async def test_fewer_slots_than_asked_grant_fewer() -> None:
    shared = FakeShared(per_take=2)
    pacer = Pacer(shared=shared)
    await asyncio.gather(*(pacer.acquire(c) for c in range(1, 6)))
    assert shared.takes == [(5, False), (3, False), (1, False)]
    assert granted(pacer) == [(float(s), s + 1) for s in range(5)]
    assert pacer.chat_wait(5) == 0.0  # no per-chat limits, no chat budget: nothing to wait for


async def test_only_the_chat_budget() -> None:
    chats = FakeChats()
    pacer = Pacer(chats=chats)
    await asyncio.gather(*(pacer.acquire(c) for c in (4, 5)))
    assert chats.asked == [[(4, None), (5, None)]]
    assert granted(pacer) == [(0.0, 4), (0.0, 5)]


async def test_an_answer_arriving_during_a_bulk_batch_goes_next() -> None:
    shared = FakeShared()
    pacer = Pacer(shared=shared)
    bulk = asyncio.gather(*(pacer.acquire(c, Lane.BULK, 1) for c in (1, 2, 3, 4)))
    await asyncio.sleep(0.5)  # the first bulk went at 0; the second waits for its slot at 1
    assert await pacer.acquire(9, Lane.ANSWER)
    await bulk
    # The rest of the batch gives its slots back; the answer takes the first of them.
    assert granted(pacer) == [(0.0, 1), (1.0, 2), (2.0, 9), (3.0, 3), (4.0, 4)]
    assert shared.takes == [(4, False), (3, False)]


async def test_a_notice_arriving_during_a_bulk_batch_goes_next_but_an_answer_batch_is_not_cut() -> None:
    shared = FakeShared()
    pacer = Pacer(shared=shared)
    answers = asyncio.gather(*(pacer.acquire(c, Lane.ANSWER) for c in (1, 2, 3)))
    await asyncio.sleep(0.5)
    later = asyncio.create_task(pacer.acquire(8, Lane.ANSWER))
    assert await pacer.acquire(9, Lane.NOTICE)
    await answers
    await later
    assert granted(pacer) == [(0.0, 1), (1.0, 2), (2.0, 3), (3.0, 8), (4.0, 9)]
    bulk = asyncio.gather(*(pacer.acquire(c, Lane.BULK, 1) for c in (1, 2, 3)))
    await asyncio.sleep(0.5)  # the first bulk waits for its slot at 5
    assert await pacer.acquire(7, Lane.NOTICE)
    await bulk
    assert granted(pacer)[5:] == [(5.0, 1), (6.0, 7), (7.0, 2), (8.0, 3)]


async def test_a_chat_another_instance_holds_waits_for_it() -> None:
    shared, chats = FakeShared(), FakeChats()
    chats.held[2] = 10.0
    pacer = Pacer(shared=shared, chats=chats)
    await asyncio.gather(*(pacer.acquire(c) for c in (1, 2, 3)))
    # Chat 2's slot (1) went unused; it goes when its chat is free, 10 s after it was told.
    assert granted(pacer) == [(0.0, 1), (2.0, 3), (10.0, 2)]


async def test_a_request_woken_too_late_for_its_slot_goes_first_in_the_next_batch() -> None:
    shared = FakeShared()
    shared.late.add(1)
    pacer = Pacer(shared=shared)
    await asyncio.gather(*(pacer.acquire(c) for c in (1, 2, 3, 4)))
    assert granted(pacer) == [(0.0, 1), (2.0, 2), (3.0, 3), (4.0, 4)]
    assert shared.takes == [(4, False), (3, False)]


async def test_a_429_during_a_batch_holds_the_rest() -> None:
    shared = FakeShared()
    pacer = Pacer(shared=shared)
    waiting = asyncio.gather(*(pacer.acquire(c) for c in (1, 2, 3)))
    await asyncio.sleep(0.5)
    pacer.pause(5.0, chat_id=2)
    await waiting
    assert granted(pacer) == [(0.0, 1), (2.0, 3), (5.5, 2)]
    waiting = asyncio.gather(*(pacer.acquire(c) for c in (1, 2)))
    await asyncio.sleep(0.25)
    pacer.pause(3.0)
    await waiting
    assert granted(pacer)[3:] == [(8.75, 1), (9.0, 2)]


async def test_an_edit_being_granted_is_not_replaced_but_one_left_waiting_is() -> None:
    shared, chats = FakeShared(), FakeChats()
    shared.round_trip = 0.25
    pacer = Pacer(shared=shared, chats=chats)
    first = asyncio.create_task(pacer.acquire(1, key="m1"))
    await asyncio.sleep(0.125)  # the batch is being taken (its slots asked for)
    assert await pacer.acquire(1, key="m1")
    assert await first and pacer.stats.coalesced == 0
    assert granted(pacer) == [(0.25, 1), (1.0, 1)]
    chats.held[3] = 10.0
    held = asyncio.create_task(pacer.acquire(3, key="m3"))
    await asyncio.sleep(1.0)  # chat 3 was another instance's: the edit waits, no longer taken
    assert await pacer.acquire(3, key="m3")
    assert await held is False and pacer.stats.coalesced == 1


async def test_chat_wait_knows_a_groups_place_in_the_shared_budget() -> None:
    shared, chats = FakeShared(), FakeChats()
    chats.after_use[-5] = 7.5
    limits = Limits(global_per_second=2, global_interval=0.0, private_interval=1.0, group_interval=1.0)
    pacer = Pacer(limits, shared=shared, chats=chats)
    assert pacer.chat_wait(-9) == 4.0  # another instance's uses
    assert await pacer.acquire(-5)
    assert pacer.chat_wait(-5) == 7.5
    assert await pacer.acquire(5)
    assert pacer.chat_wait(5) == 1.0  # the local spacing still counts
    queued = [asyncio.create_task(pacer.acquire(-6)) for _ in range(4)]
    await asyncio.sleep(0)
    # Three more after the first, each a shared group slot's share (3.75 s) apart.
    assert pacer.chat_wait(-6) == 15.0
    await asyncio.gather(*queued)


async def test_an_unreachable_budget_holds_every_send_until_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = FakeShared()
    shared.fail = 3
    pacer = Pacer(shared=shared)
    with caplog.at_level(logging.WARNING, logger="bot.schedule.pacing"):
        await asyncio.gather(pacer.acquire(1), pacer.acquire(2))
        assert await pacer.acquire(3)  # once back, nothing more to say
        shared.fail = 1
        assert await pacer.acquire(4)
    assert granted(pacer) == [(1.5, 1), (2.0, 2), (3.0, 3), (4.0, 4)]
    assert [r.getMessage() for r in caplog.records] == [
        "shared send budget unavailable (ConnectionError): sends wait",
        "shared send budget available again",
        "shared send budget unavailable (ConnectionError): sends wait",
        "shared send budget available again",
    ]


async def test_starting_keeps_the_window_of_starts() -> None:
    """A grant's request may start late (a busy machine); `starting` keeps the window all the same."""
    pacer = _Pacer(Limits(global_per_second=3, global_window=1.0), clock=asyncio.get_running_loop().time)
    began = now()
    started = []
    for pause in (0.0, 0.25, 0.25, 0.0, 0.0, 0.0, 0.0):
        await asyncio.sleep(pause)
        await pacer.starting()
        started.append(now() - began)
    assert started == [0.0, 0.25, 0.5, 1.0, 1.25, 1.5, 2.0]
    # Shared budgets space the starts themselves; so do no limits at all.
    for pacer in (Pacer(shared=FakeShared()), _Pacer(Limits(global_per_second=10**6))):
        began = now()
        for _ in range(50):
            await pacer.starting()
        assert now() == began


async def test_idle_chats_are_forgotten_but_busy_and_paused_ones_are_not() -> None:
    """Every half minute or so the pacer forgets chats free for over a minute (the group window and
    a second): memory stays bounded by recent activity, and no chat loses its spacing or pause."""
    limits = Limits(global_per_second=10_000, global_interval=0.0, private_interval=100.0, group_window=60.0)
    pacer = _Pacer(limits, clock=asyncio.get_running_loop().time)

    async def at(t: float, chat: int) -> None:
        await asyncio.sleep(t - now())
        assert await pacer.acquire(chat)
        assert now() == t

    await at(0.0, 1)
    await at(0.0, -3)
    pacer.pause(200.0, chat_id=4)
    pacer.pause(10.0, chat_id=5)
    await at(29.0, 6)  # not yet half a minute since the pacer started: nothing forgotten
    assert set(pacer._chat_paused) == {4, 5} and set(pacer._chat_next) == {1, -3, 6}
    await at(30.0, 7)
    # Chat 5's pause is over and forgotten; the others are busy or paused.
    assert set(pacer._chat_paused) == {4} and set(pacer._chat_next) == {1, -3, 6, 7}
    await at(100.0, 1)  # chat 1 kept its spacing
    await at(108.5, 10)  # free at 208.5
    await at(109.0, 11)  # 209
    await at(110.0, 12)  # 210
    await at(200.0, 4)  # chat 4 kept its pause
    await at(270.0, 8)
    # Free since before 270 - 61 = 209: forgotten.
    assert set(pacer._chat_next) == {11, 12, 4, 8} and set(pacer._group_windows) == set()
    assert set(pacer._answered) == {(8, None)}
    # A window shorter than a second still keeps a chat for 2 s.
    pacer = _Pacer(Limits(private_interval=1.0, group_window=0.5), clock=asyncio.get_running_loop().time)
    began = now()
    await at(began + 28.5, 1)  # free at +29.5
    await at(began + 32.0, 2)
    assert set(pacer._chat_next) == {2}


async def test_an_answer_whose_chat_becomes_free_goes_before_the_rest_of_a_bulk_batch() -> None:
    shared = FakeShared()
    limits = Limits(global_per_second=2, global_interval=0.0, private_interval=0.0, group_interval=0.0)
    pacer = Pacer(limits, shared=shared)
    assert await pacer.acquire(-9)  # the group has a window now
    pacer.pause(2.0, chat_id=-9)
    answer = asyncio.create_task(pacer.acquire(-9, Lane.ANSWER))
    await asyncio.sleep(0)
    await asyncio.gather(*(pacer.acquire(c, Lane.BULK, 1) for c in (1, 2, 3, 4)))
    await answer
    # Slots 1 and 2 to the bulk; at 2 the group is free again: the answer takes slot 3.
    assert granted(pacer) == [(0.0, -9), (1.0, 1), (2.0, 2), (3.0, -9), (4.0, 3), (5.0, 4)]


def test_presets_of_the_limits() -> None:
    assert not Limits().lifted and Limits().per_chat
    assert Limits.unlimited().lifted and not Limits.unlimited().per_chat
    glob = Limits.global_only()
    assert (glob.global_per_second, glob.private_interval, glob.group_per_minute) == (29, 0.0, 10**9)
    assert not glob.per_chat and not glob.lifted
    assert Limits(private_interval=0.0).per_chat  # groups still limited
    assert Limits(group_per_minute=10**9).per_chat  # private chats still limited
    assert not Limits(global_per_second=1000, private_interval=0.0, group_per_minute=10**9).lifted
    assert Limits(global_per_second=1001, private_interval=0.0, group_per_minute=10**9).lifted


async def test_no_limits_grant_everything_at_once() -> None:
    pacer = _Pacer(Limits.unlimited(), clock=asyncio.get_running_loop().time)
    pacer.trace = []
    began = now()
    await asyncio.gather(*(pacer.acquire(c % 3 - 1) for c in range(60)))
    assert len(pacer.trace) == 60 and {t for t, _c, _l in pacer.trace} == {began}
