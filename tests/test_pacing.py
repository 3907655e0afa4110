"""The pacer alone: lanes in order, bulk networks in turn, coalesced edits, group windows that make a
request wait (never refuse it), cancellation, 429 pauses. Every test runs on a virtual-time event loop
(`bot.testing.virtual_loop`): the clock starts at 0 and jumps to the next timer when every task
waits, so the grant times in `pacer.trace` are exact and nothing really sleeps. A pacer that would
wait forever makes the loop raise `Deadlock` instead of hanging. (The shared budgets of several
instances: test_pacing_shared.)"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import pytest

from bot.schedule.pacing import Lane, Limits
from bot.schedule.pacing import Pacer as _Pacer
from bot.testing.virtual_loop import VirtualLoopPolicy

FAST = Limits(
    global_per_second=10_000,
    global_interval=0.001,
    private_interval=0.0,
    group_per_minute=10**9,
    group_interval=0.0,
)
# One grant a second overall, no per-chat limits: grant times count the grants.
ONE_A_SECOND = Limits(
    global_per_second=10_000,
    global_interval=1.0,
    private_interval=0.0,
    group_per_minute=10**9,
    group_interval=0.0,
)


@pytest.fixture
def event_loop_policy() -> VirtualLoopPolicy:
    return VirtualLoopPolicy()


def Pacer(limits: Limits | None = None) -> _Pacer:
    """A pacer on the virtual loop's clock, recording its grants."""
    pacer = _Pacer(limits, clock=asyncio.get_running_loop().time)
    pacer.trace = []
    return pacer


def now() -> float:
    return asyncio.get_running_loop().time()


def times(pacer: _Pacer) -> list[float]:
    assert pacer.trace is not None
    return [t for t, _chat, _lane in pacer.trace]


async def _grants(
    pacer: _Pacer, requests: list[tuple[str, int, Lane, int | None, Hashable | None]]
) -> list[str]:
    """Queue every request at once; the names in the order they were granted (coalesced ones left out)."""
    order: list[str] = []

    async def one(name: str, chat: int, lane: Lane, network: int | None, key: Hashable | None) -> None:
        if await pacer.acquire(chat, lane, network, key):
            order.append(name)

    await asyncio.gather(*(one(*r) for r in requests))
    return order


async def _at(
    delay: float, pacer: _Pacer, chat: int, lane: Lane = Lane.ANSWER, network: int | None = None
) -> tuple[bool, float]:
    """Ask for a grant `delay` seconds from now; whether it came and when."""
    await asyncio.sleep(delay)
    got = await pacer.acquire(chat, lane, network)
    return got, now()


async def test_lanes_are_served_in_order() -> None:
    pacer = Pacer(FAST)
    assert pacer.stats.granted == {0: 0, 1: 0, 2: 0} and pacer.stats.coalesced == 0
    requests = [(f"bulk{i}", 100 + i, Lane.BULK, 1, None) for i in range(5)]
    requests += [("notice1", 200, Lane.NOTICE, None, None), ("answer1", 300, Lane.ANSWER, None, None)]
    requests += [("bulk5", 105, Lane.BULK, 1, None), ("notice2", 201, Lane.NOTICE, None, None)]
    requests += [("answer2", 301, Lane.ANSWER, None, None)]
    assert await _grants(pacer, requests) == [
        "answer1",
        "answer2",
        "notice1",
        "notice2",
        "bulk0",
        "bulk1",
        "bulk2",
        "bulk3",
        "bulk4",
        "bulk5",
    ]
    assert pacer.stats.granted == {0: 2, 1: 2, 2: 6}
    assert pacer.trace is not None and [lane for _t, _c, lane in pacer.trace] == [0, 0, 1, 1] + [2] * 6
    assert pacer.waiting == 0


async def test_bulk_networks_take_turns() -> None:
    pacer = Pacer(FAST)
    # Network 1 queued its whole broadcast first; network 2's three still go out interleaved.
    requests = [(f"A{i}", 1000 + i, Lane.BULK, 1, None) for i in range(6)]
    requests += [(f"B{i}", 2000 + i, Lane.BULK, 2, None) for i in range(3)]
    assert await _grants(pacer, requests) == ["A0", "B0", "A1", "B1", "A2", "B2", "A3", "A4", "A5"]
    # Three networks: each in turn, in the order they came, the ones done dropping out.
    requests = [(f"A{i}", 1000 + i, Lane.BULK, 1, None) for i in range(4)]
    requests += [("B0", 2000, Lane.BULK, 2, None)]
    requests += [(f"C{i}", 3000 + i, Lane.BULK, 3, None) for i in range(2)]
    assert await _grants(pacer, requests) == ["A0", "B0", "C0", "A1", "C1", "A2", "A3"]


async def test_a_network_whose_chats_wait_passes_its_turn_on() -> None:
    """Network 1's broadcast is all to one busy chat: 2 and 3 go in turn meanwhile, and the turn
    after a network served out of order is the next one's, not the same network's again."""
    limits = Limits(global_per_second=10_000, global_interval=1.0, private_interval=10.0)
    pacer = Pacer(limits)
    assert await pacer.acquire(100)  # chat 100 is busy until 10
    requests = [("A0", 100, Lane.BULK, 1, None), ("A1", 100, Lane.BULK, 1, None)]
    requests += [("B0", 200, Lane.BULK, 2, None), ("B1", 201, Lane.BULK, 2, None)]
    requests += [("C0", 300, Lane.BULK, 3, None), ("C1", 301, Lane.BULK, 3, None)]
    assert await _grants(pacer, requests) == ["B0", "C0", "B1", "C1", "A0", "A1"]
    assert times(pacer) == [0.0, 1.0, 2.0, 3.0, 4.0, 10.0, 20.0]


async def test_a_busy_chat_does_not_hold_the_others_in_its_lane() -> None:
    pacer = Pacer(Limits(global_per_second=10_000, global_interval=0.25, private_interval=30.0))
    assert await pacer.acquire(7)  # chat 7 is now busy for 30 s
    to7 = asyncio.create_task(_at(0.0, pacer, 7, Lane.NOTICE))
    to8 = asyncio.create_task(_at(0.0, pacer, 8, Lane.NOTICE))
    assert await to8 == (True, 0.25)
    assert not to7.done() and pacer.waiting == 1
    assert await to7 == (True, 30.0)
    assert pacer.waiting == 0


async def test_a_request_that_can_go_at_once_does_not_wait_for_the_one_that_cannot() -> None:
    """The loop sleeps until chat 7 is free, but a request to another chat wakes it at once."""
    pacer = Pacer(Limits(global_per_second=10_000, global_interval=0.25, private_interval=30.0))
    assert await pacer.acquire(7)
    to7 = asyncio.create_task(_at(0.0, pacer, 7))
    assert await _at(5.0, pacer, 8) == (True, 5.0)
    assert await to7 == (True, 30.0)


async def test_cancelling_a_request_gives_up_its_place() -> None:
    pacer = Pacer(Limits(global_per_second=10_000, global_interval=0.25, private_interval=30.0))
    assert await pacer.acquire(7)
    held = asyncio.create_task(_at(0.0, pacer, 7, Lane.BULK, 2))
    await asyncio.sleep(1.0)
    assert pacer.waiting == 1
    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held
    assert pacer.waiting == 0
    # Network 2 left the rotation with its last request: the next bulk goes through as usual.
    assert await _grants(
        pacer, [("A0", 1, Lane.BULK, 1, None), ("B0", 2, Lane.BULK, 2, None), ("A1", 3, Lane.BULK, 1, None)]
    ) == ["A0", "B0", "A1"]
    assert pacer.stats.granted == {0: 1, 1: 0, 2: 3}


async def test_edits_of_one_message_coalesce_to_the_newest() -> None:
    pacer = Pacer(Limits(global_per_second=10_000, global_interval=0.001, private_interval=0.5))
    assert await pacer.acquire(5)  # the message itself; its edits must wait 0.5 s for the chat
    results = await asyncio.gather(
        pacer.acquire(5, key=(5, 99)),
        pacer.acquire(5, key=(5, 99)),
        pacer.acquire(6, key=(6, 99)),  # another chat's message: its own
        pacer.acquire(5, key=(5, 99)),
    )
    assert results == [False, False, True, True]
    assert pacer.stats.coalesced == 2
    assert pacer.stats.granted == {0: 3, 1: 0, 2: 0}
    assert times(pacer) == [0.0, 0.001, 0.5]
    assert pacer.waiting == 0
    # The message's edits are all done: the next edit of it is a new request again.
    assert await pacer.acquire(5, key=(5, 99))
    assert pacer.stats.coalesced == 2


async def test_a_newer_edit_keeps_the_older_ones_place_and_lane() -> None:
    """The newer edit asks in the bulk lane of another network; it is served where the edit it
    replaces waited: a notice, before the bulk, after the notice queued before it."""
    pacer = Pacer(ONE_A_SECOND)
    order: list[str] = []

    async def one(name: str, chat: int, lane: Lane, network: int | None, key: Hashable | None) -> None:
        if await pacer.acquire(chat, lane, network, key):
            order.append(name)

    first = asyncio.create_task(one("first", 1, Lane.ANSWER, None, None))
    tasks = [
        asyncio.create_task(one(*r))
        for r in [
            ("notice", 2, Lane.NOTICE, None, None),
            ("old edit", 3, Lane.NOTICE, None, "msg"),
            ("later notice", 4, Lane.NOTICE, None, None),
            ("bulk", 5, Lane.BULK, 1, None),
        ]
    ]
    await asyncio.sleep(0.5)  # all queued; "first" granted at 0, the others wait for 1, 2, 3, 4
    await one("new edit", 3, Lane.BULK, 9, "msg")
    await asyncio.gather(first, *tasks)
    assert order == ["first", "notice", "new edit", "later notice", "bulk"]
    assert times(pacer) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert pacer.stats.granted == {0: 1, 1: 3, 2: 1} and pacer.stats.coalesced == 1
    assert pacer.waiting == 0


async def test_an_edit_after_the_older_one_was_granted_is_sent_too() -> None:
    pacer = Pacer(ONE_A_SECOND)
    assert await pacer.acquire(3, key="msg")
    assert await pacer.acquire(3, key="msg")
    assert pacer.stats.coalesced == 0 and times(pacer) == [0.0, 1.0]


async def test_telegrams_limits_by_default() -> None:
    """Limits(): 29 grants in any second, 1/45 s apart; 1 s between two to one private chat; a group
    19 in any minute, 1 s apart."""
    pacer = Pacer(Limits())
    await asyncio.gather(*(pacer.acquire(chat) for chat in range(1, 32)))
    spaced = [k / 45 for k in range(29)] + [1.0, 1.0 + 1 / 45]
    assert times(pacer) == pytest.approx(spaced, abs=1e-9)

    pacer = Pacer(Limits())
    start = now()
    await asyncio.gather(*(pacer.acquire(5) for _ in range(3)))
    assert [t - start for t in times(pacer)] == [0.0, 1.0, 2.0]

    pacer = Pacer(Limits())
    start = now()
    await asyncio.gather(*(pacer.acquire(-100) for _ in range(21)))
    assert [t - start for t in times(pacer)] == [float(s) for s in range(19)] + [60.0, 61.0]


async def test_a_groups_messages_past_its_window_wait_and_are_not_refused() -> None:
    limits = Limits(
        global_per_second=10_000,
        global_interval=0.0,
        private_interval=0.0,
        group_per_minute=3,
        group_interval=0.0,
        group_window=0.5,
    )
    pacer = Pacer(limits)

    async def one() -> None:
        assert await pacer.acquire(-100)

    await asyncio.gather(*(one() for _ in range(7)))
    # Never more than 3 in any 0.5 s window: the 4th waits for the 1st to leave it, and so on.
    assert times(pacer) == [0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 1.0]
    # A private chat has no such window.
    await asyncio.gather(*(pacer.acquire(100) for _ in range(4)))
    assert times(pacer)[7:] == [1.0] * 4


async def test_a_groups_messages_are_spaced() -> None:
    limits = Limits(global_per_second=10_000, global_interval=0.0, private_interval=0.25, group_interval=2.0)
    pacer = Pacer(limits)
    await asyncio.gather(*(pacer.acquire(-7) for _ in range(3)), *(pacer.acquire(7) for _ in range(3)))
    assert sorted(pacer.trace or []) == [
        (0.0, -7, 0),
        (0.0, 7, 0),
        (0.25, 7, 0),
        (0.5, 7, 0),
        (2.0, -7, 0),
        (4.0, -7, 0),
    ]


async def test_global_spacing_and_window_are_kept() -> None:
    limits = Limits(global_per_second=4, global_window=1.0, global_interval=0.125, private_interval=0.0)
    pacer = Pacer(limits)
    await asyncio.gather(*(pacer.acquire(c) for c in range(1, 11)))
    # 0.125 apart; the 5th waits for the 1st to leave the 1 s window, and so on.
    assert times(pacer) == [0.0, 0.125, 0.25, 0.375, 1.0, 1.125, 1.25, 1.375, 2.0, 2.125]


async def test_a_429_pause_holds_everything() -> None:
    pacer = Pacer(FAST)
    pacer.pause(0.5)
    pacer.pause(0.25)  # a shorter pause does not cut the longer one short
    await asyncio.gather(pacer.acquire(9), pacer.acquire(10))
    assert times(pacer) == [0.5, 0.501]
    pacer.pause(-3.0)  # nothing to wait for
    assert await _at(0.0, pacer, 9) == (True, 0.502)


async def test_a_429_pause_arriving_while_requests_wait_holds_them() -> None:
    pacer = Pacer(ONE_A_SECOND)
    waiting = asyncio.gather(*(pacer.acquire(c) for c in range(3)))
    await asyncio.sleep(0.5)
    pacer.pause(2.0)
    await waiting
    assert times(pacer) == [0.0, 2.5, 3.5]


async def test_a_429_on_one_chat_holds_that_chat_only() -> None:
    pacer = Pacer(FAST)
    pacer.pause(30.0, chat_id=11)
    pacer.pause(10.0, chat_id=11)  # does not cut the longer one short
    pacer.pause(5.0, chat_id=12)
    pacer.pause(0.5, chat_id=14)
    pacer.pause(-1.0, chat_id=15)
    held = asyncio.create_task(_at(0.0, pacer, 11, Lane.NOTICE))
    assert await _at(0.0, pacer, 13, Lane.NOTICE) == (True, 0.0)
    assert await _at(0.0, pacer, 15, Lane.NOTICE) == (True, 0.001)
    assert await _at(0.0, pacer, 14, Lane.NOTICE) == (True, 0.5)
    assert await _at(0.0, pacer, 12, Lane.NOTICE) == (True, 5.0)
    assert not held.done() and pacer.waiting == 1
    assert await held == (True, 30.0)
    assert pacer.waiting == 0


async def test_chat_wait_counts_what_is_queued_ahead() -> None:
    limits = Limits(global_per_second=10_000, global_interval=0.0, private_interval=10.0, group_interval=2.0)
    pacer = Pacer(limits)
    assert pacer.chat_wait(5) == 0.0 and pacer.chat_wait(-5) == 0.0
    assert await pacer.acquire(5) and await pacer.acquire(-5)
    # The next message to each waits for the chat's spacing: 10 s privately, 2 s in the group.
    assert pacer.chat_wait(5) == 10.0
    assert pacer.chat_wait(-5) == 2.0
    assert pacer.chat_wait(6) == 0.0 and pacer.chat_wait(-6) == 0.0
    queued = [asyncio.create_task(pacer.acquire(-5)) for _ in range(3)]
    queued += [asyncio.create_task(pacer.acquire(5, Lane.BULK, 1)) for _ in range(2)]
    await asyncio.sleep(1.0)
    # Three queued ahead in the group, 2 s apart; two ahead privately, 10 s apart, after 9 s left.
    assert pacer.chat_wait(-5) == 6.0
    assert pacer.chat_wait(5) == 29.0
    pacer.pause(50.0, chat_id=5)
    assert pacer.chat_wait(5) == 70.0
    for task in queued:
        task.cancel()
    await asyncio.gather(*queued, return_exceptions=True)
    assert pacer.waiting == 0


async def test_chat_wait_counts_a_full_group_window_as_a_minute() -> None:
    limits = Limits(
        global_per_second=10_000,
        global_interval=0.0,
        private_interval=0.0,
        group_per_minute=2,
        group_interval=0.5,
        group_window=60.0,
    )
    pacer = Pacer(limits)
    await asyncio.gather(pacer.acquire(-5), pacer.acquire(-5))
    # A full minute's worth in the window costs a minute (it is full until 60, 59.5 s from now).
    assert pacer.chat_wait(-5) == 60.0
    queued = [asyncio.create_task(pacer.acquire(-5)) for _ in range(3)]
    await asyncio.sleep(0.5)
    # 2 in the window + 3 queued = two full minutes' worth ahead, and three spacings.
    assert pacer.chat_wait(-5) == 121.5
    for task in queued:
        task.cancel()
    await asyncio.gather(*queued, return_exceptions=True)
    # One a minute: each one ahead is a minute.
    pacer = Pacer(Limits(global_interval=0.0, private_interval=0.0, group_per_minute=1, group_interval=0.0))
    began = now()
    assert await pacer.acquire(-5)
    queued = [asyncio.create_task(pacer.acquire(-5)) for _ in range(2)]
    await asyncio.sleep(0)
    assert pacer.chat_wait(-5) == 180.0
    await asyncio.gather(*queued)
    assert [t - began for t in times(pacer)] == [0.0, 60.0, 120.0]
    # Without per-chat limits a group is like any chat: nothing to wait for.
    pacer = Pacer(Limits.global_only())
    await pacer.acquire(-5)
    assert pacer.chat_wait(-5) == 0.0


async def test_askers_in_one_group_take_turns() -> None:
    """One member's five commands and then two others' one each, all for the same group: the others
    are answered right after the first member's first answer, not behind all five."""
    pacer = Pacer(FAST)
    group = -1001
    requests = [(f"flood{i}", group, Lane.ANSWER, 7, None) for i in range(5)]
    requests += [("amal", group, Lane.ANSWER, 8, None), ("yonas", group, Lane.ANSWER, 9, None)]
    order = await _grants(pacer, requests)
    assert order == ["flood0", "amal", "yonas", "flood1", "flood2", "flood3", "flood4"]
    # Later, the one answered longest ago goes first, whoever asked first.
    requests = [("yonas", group, Lane.ANSWER, 9, None), ("flood", group, Lane.ANSWER, 7, None)]
    requests += [("amal", group, Lane.ANSWER, 8, None), ("new", group, Lane.ANSWER, 10, None)]
    assert await _grants(pacer, requests) == ["new", "amal", "yonas", "flood"]
    # Notices do not take turns by asker: they go in the order they came.
    requests = [("to group", group, Lane.NOTICE, None, None), ("to 5", 5, Lane.NOTICE, None, None)]
    assert await _grants(pacer, [("answer", group, Lane.ANSWER, None, None)]) == ["answer"]
    assert await _grants(pacer, requests) == ["to group", "to 5"]


async def test_a_groups_bulk_waits_for_its_window() -> None:
    limits = Limits(global_interval=0.0, private_interval=0.0, group_per_minute=2, group_interval=0.0)
    pacer = Pacer(limits)
    order = await _grants(pacer, [(f"g{i}", -5, Lane.BULK, 1, None) for i in range(3)])
    assert order == ["g0", "g1", "g2"] and times(pacer) == [0.0, 0.0, 60.0]


async def test_the_loop_ends_when_nothing_waits() -> None:
    pacer = Pacer(FAST)
    assert await pacer.acquire(1) and await pacer.acquire(2)
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert await pacer.acquire(1)  # and starts again for the next request
    assert times(pacer) == [0.0, 0.001, 0.002]


async def test_a_window_of_a_hundred_a_second() -> None:
    pacer = Pacer(Limits(global_per_second=100, global_interval=0.0, private_interval=0.0))
    await asyncio.gather(*(pacer.acquire(c) for c in range(1, 102)))
    assert times(pacer) == [0.0] * 100 + [1.0]
    began = now()
    for _ in range(101):
        await pacer.starting()
    assert now() - began == 1.0


async def test_a_replaced_edit_cancelled_before_it_resumes_is_just_cancelled() -> None:
    pacer = Pacer(ONE_A_SECOND)
    assert await pacer.acquire(1)
    old = asyncio.create_task(pacer.acquire(3, key="msg"))
    await asyncio.sleep(0.5)
    new = asyncio.create_task(pacer.acquire(3, key="msg"))
    await asyncio.sleep(0)  # the new edit has replaced the old one, which has not resumed yet
    old.cancel()
    with pytest.raises(asyncio.CancelledError):
        await old
    assert await new and pacer.waiting == 0 and times(pacer) == [0.0, 1.0]
    assert not pacer._keyed  # nothing kept about edits once they are done
