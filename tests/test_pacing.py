"""The pacer alone: lanes in order, bulk networks in turn, coalesced edits, group windows that make a
request wait (never refuse it), cancellation. Orders are checked, not durations: every request is
queued before the first grant, so the order does not depend on how busy the machine is; the only
times checked are lower bounds the pacer guarantees on the monotonic clock."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Hashable

import pytest

from bot.schedule.pacing import Lane, Limits, Pacer

FAST = Limits(
    global_per_second=10_000,
    global_interval=0.001,
    private_interval=0.0,
    group_per_minute=10**9,
    group_interval=0.0,
)


async def _grants(
    pacer: Pacer, requests: list[tuple[str, int, Lane, int | None, Hashable | None]]
) -> list[str]:
    """Queue every request at once; the names in the order they were granted (coalesced ones left out)."""
    order: list[str] = []

    async def one(name: str, chat: int, lane: Lane, network: int | None, key: Hashable | None) -> None:
        if await pacer.acquire(chat, lane, network, key):
            order.append(name)

    await asyncio.gather(*(one(*r) for r in requests))
    return order


async def test_lanes_are_served_in_order() -> None:
    pacer = Pacer(FAST)
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


async def test_bulk_networks_take_turns() -> None:
    pacer = Pacer(FAST)
    # Network 1 queued its whole broadcast first; network 2's three still go out interleaved.
    requests = [(f"A{i}", 1000 + i, Lane.BULK, 1, None) for i in range(6)]
    requests += [(f"B{i}", 2000 + i, Lane.BULK, 2, None) for i in range(3)]
    assert await _grants(pacer, requests) == ["A0", "B0", "A1", "B1", "A2", "B2", "A3", "A4", "A5"]


async def test_a_busy_chat_does_not_hold_the_others_in_its_lane() -> None:
    pacer = Pacer(Limits(global_per_second=10_000, global_interval=0.001, private_interval=30.0))
    assert await pacer.acquire(7)  # chat 7 is now busy for 30 s
    order = []

    async def one(name: str, chat: int) -> None:
        await pacer.acquire(chat, Lane.NOTICE)
        order.append(name)

    tasks = [asyncio.create_task(one("to7", 7)), asyncio.create_task(one("to8", 8))]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    assert order == ["to8"]
    tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    assert pacer.waiting == 0


async def test_edits_of_one_message_coalesce_to_the_newest() -> None:
    pacer = Pacer(Limits(global_per_second=10_000, global_interval=0.001, private_interval=0.3))
    assert await pacer.acquire(5)  # the message itself; its edits must wait 0.3 s for the chat
    results = await asyncio.gather(
        pacer.acquire(5, key=(5, 99)),
        pacer.acquire(5, key=(5, 99)),
        pacer.acquire(6, key=(6, 99)),  # another chat's message: its own
        pacer.acquire(5, key=(5, 99)),
    )
    assert results == [False, False, True, True]
    assert pacer.stats.coalesced == 2


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
    pacer.trace = []

    async def one() -> None:
        assert await pacer.acquire(-100)

    await asyncio.gather(*(one() for _ in range(7)))
    granted = [t for t, _chat, _lane in pacer.trace]
    assert len(granted) == 7
    # Never more than 3 in any 0.5 s window: the 4th waits for the 1st to leave it, and so on.
    for i in range(3, 7):
        assert granted[i] - granted[i - 3] >= 0.5 - 1e-9
    # A window full: a new answer would wait (what the reply path asks before answering privately).
    fresh = Pacer(limits)
    for _ in range(3):
        assert await fresh.acquire(-200)
    assert fresh.chat_wait(-200) > 0.4
    assert fresh.chat_wait(-201) == 0.0


async def test_global_spacing_is_kept_between_real_grant_times() -> None:
    limits = Limits(global_per_second=4, global_window=0.4, global_interval=0.05, private_interval=0.0)
    pacer = Pacer(limits)
    pacer.trace = []

    async def one(chat: int) -> None:
        assert await pacer.acquire(chat)

    await asyncio.gather(*(one(c) for c in range(1, 11)))
    granted = [t for t, _chat, _lane in pacer.trace]
    gaps = [b - a for a, b in itertools.pairwise(granted)]
    assert min(gaps) >= 0.05 - 1e-6
    for i in range(4, 10):
        assert granted[i] - granted[i - 4] >= 0.4 - 1e-6


async def test_a_429_pause_holds_the_chat_and_everything() -> None:
    pacer = Pacer(FAST)
    pacer.pause(0.3)
    t0 = time.monotonic()
    assert await pacer.acquire(9)
    assert time.monotonic() - t0 >= 0.3 - 1e-3


async def test_a_429_on_one_chat_holds_that_chat_only() -> None:
    pacer = Pacer(FAST)
    pacer.pause(30.0, chat_id=11)
    order: list[str] = []

    async def one(name: str, chat: int) -> None:
        await pacer.acquire(chat, Lane.NOTICE)
        order.append(name)

    held = asyncio.create_task(one("to11", 11))
    await one("to12", 12)
    assert order == ["to12"] and not held.done()
    held.cancel()
    with pytest.raises(asyncio.CancelledError):
        await held
    assert pacer.waiting == 0


async def test_chat_wait_counts_what_is_queued_ahead() -> None:
    limits = Limits(
        global_per_second=10_000, global_interval=0.001, private_interval=10.0, group_interval=2.0
    )
    pacer = Pacer(limits)
    assert pacer.chat_wait(5) == 0.0 and pacer.chat_wait(-5) == 0.0
    assert await pacer.acquire(5) and await pacer.acquire(-5)
    # The next message to each waits for the chat's spacing: up to 10 s privately, 2 s in the group.
    assert 9.0 < pacer.chat_wait(5) <= 10.0
    assert 1.0 < pacer.chat_wait(-5) <= 2.0
    queued = [asyncio.create_task(pacer.acquire(-5)) for _ in range(3)]
    await asyncio.sleep(0)  # let them queue
    # Three queued ahead, 2 s apart.
    assert pacer.chat_wait(-5) >= 6.0
    for task in queued:
        task.cancel()
    await asyncio.gather(*queued, return_exceptions=True)
    assert pacer.waiting == 0


async def test_askers_in_one_group_take_turns() -> None:
    """One member's five commands and then two others' one each, all for the same group: the others
    are answered right after the first member's first answer, not behind all five."""
    pacer = Pacer(FAST)
    group = -1001
    requests = [(f"flood{i}", group, Lane.ANSWER, 7, None) for i in range(5)]
    requests += [("amal", group, Lane.ANSWER, 8, None), ("yonas", group, Lane.ANSWER, 9, None)]
    order = await _grants(pacer, requests)
    assert order == ["flood0", "amal", "yonas", "flood1", "flood2", "flood3", "flood4"]
