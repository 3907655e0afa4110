"""The one way out, end to end against the Bot API fake with Telegram's limits enforced: every limit
is checked where Telegram counts it (the fake's arrival times, sliding windows), lanes and turns are
checked by order, never by duration, so the tests hold on a busy machine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import handlers.common as common
from bot.db import models as m
from bot.schedule.jobs import BULK_KINDS
from bot.schedule.notices import Rendered, enqueue_many, renderer
from bot.schedule.pacing import Limits
from bot.testing.fake_bot_api import Call, FakeBotAPI
from bot.testing.harness import BotHarness
from bot.testing.receiver import busiest

BULK = "test_bulk"
NOTE = "test_note"


@renderer(BULK)
async def _render_bulk(session: Any, notice: m.Notice, t: Any) -> Rendered:
    return Rendered(f"bulk {notice.payload['net']} {notice.payload['n']}")


@renderer(NOTE)
async def _render_note(session: Any, notice: m.Notice, t: Any) -> Rendered:
    return Rendered(f"note {notice.payload['n']}")


@pytest.fixture
def bulk_kind() -> Iterator[None]:
    BULK_KINDS.add(BULK)
    yield
    BULK_KINDS.discard(BULK)


async def _networks(h: BotHarness, *names: str) -> list[int]:
    async with h.quiet_session() as s:
        nets = [m.Network(chat_id=-500 - i, name=n, slug=n.lower()) for i, n in enumerate(names)]
        s.add_all(nets)
        await s.commit()
        return [n.id for n in nets]


async def _enqueue(
    h: BotHarness, kind: str, chats: list[int], tag: str, network_id: int | None = None
) -> None:
    async with h.quiet_session() as s:
        await enqueue_many(
            s,
            [
                {
                    "kind": kind,
                    "dedup_key": f"{tag}:{i}",
                    "chat_id": chat,
                    "due_at": h.clock(),
                    "network_id": network_id,
                    "payload": {"n": i, "net": tag},
                }
                for i, chat in enumerate(chats)
            ],
        )
        await s.commit()


def _sends(api: FakeBotAPI) -> list[Call]:
    return [c for c in api.all_calls if c.method == "sendMessage" and c.ok]


async def _until(api: FakeBotAPI, done: Any, timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not done():
        assert loop.time() < deadline, "timed out"
        await api.wait_change(1.0)


async def test_lanes_in_order_networks_in_turn_limits_at_the_receiver(db_url: str, bulk_kind: None) -> None:
    async with BotHarness(db_url, limits=Limits()) as h:
        h.api.enforce_limits = True
        assert h.services.outbox is not None
        h.services.outbox.pacer.trace = []
        net_a, net_b = await _networks(h, "A", "B")
        await _enqueue(h, BULK, [10_000 + i for i in range(70)], "A", net_a)
        await _enqueue(h, BULK, [20_000 + i for i in range(12)], "B", net_b)
        run = asyncio.create_task(h.run_due())
        await _until(h.api, lambda: len(_sends(h.api)) >= 10)
        # A reminder-like notice falls due and a person is answered in the middle of the bulk.
        await _enqueue(h, NOTE, [30_000, 30_001, 30_002], "note")
        sent_before_answer = len(_sends(h.api))
        await h.app.bot.send_message(40_000, "answer")
        await run

        sends = _sends(h.api)
        texts = [c.text or "" for c in sends]
        assert h.api.count_429 == 0
        assert len(texts) == 70 + 12 + 3 + 1 and len(set(texts)) == len(texts)
        # Telegram's 30 a second, counted where it counts them (arrivals, any sliding second); the
        # pacer plans at most 29, the one to spare absorbs requests bunched on the way.
        assert busiest([c.time for c in sends], 1.0) <= 30
        assert h.services.outbox is not None
        assert busiest([t for t, _chat, _lane in h.services.outbox.pacer.trace or []], 1.0) <= 29
        # The answer went ahead of everything that was waiting (at most the requests already let go).
        assert texts.index("answer") <= sent_before_answer + 2
        # The notices went ahead of the bulk still waiting: most of it came after them.
        last_note = max(texts.index(f"note {i}") for i in range(3))
        assert sum(1 for t in texts[last_note:] if t.startswith("bulk")) >= 20
        # Network B's 12 did not wait for A's 70: the two took turns.
        bulk = [t for t in texts if t.startswith("bulk")]
        last_b = max(i for i, t in enumerate(bulk) if t.startswith("bulk B"))
        assert last_b < 30, bulk[:30]


async def test_a_groups_21st_message_waits_and_is_not_refused(db_url: str) -> None:
    # Telegram's minute shortened to 3 s on both sides; 20 allowed by the fake, 19 planned by the pacer.
    async with FakeBotAPI(enforce_limits=True, group_window=3.0) as api:
        limits = Limits(group_window=3.0, group_interval=0.05)
        async with BotHarness(db_url, api=api, limits=limits) as h:
            group = -100_777
            sent = await asyncio.gather(*(h.app.bot.send_message(group, f"answer {i}") for i in range(21)))
            assert len(sent) == 21
            calls = [c for c in api.all_calls if c.chat_id == group and c.method == "sendMessage"]
            assert [c.ok for c in calls] == [True] * 21  # none refused: nothing to retry
            assert api.count_429 == 0
            assert [c.text for c in calls] == [f"answer {i}" for i in range(21)]  # in order
            assert busiest([c.time for c in calls], 3.0) <= 20  # the pacer plans 19; one for jitter


async def test_edits_of_one_message_coalesce(db_url: str) -> None:
    async with BotHarness(db_url, limits=Limits()) as h:
        h.api.enforce_limits = True
        msg = await h.app.bot.send_message(4242, "v0")
        # The chat's next second is a second away: the three edits wait together; only the newest goes.
        results = await asyncio.gather(
            *(
                h.app.bot.edit_message_text(f"v{i}", chat_id=4242, message_id=msg.message_id)
                for i in (1, 2, 3)
            )
        )
        edits = h.api.calls("editMessageText", 4242)
        assert [c.text for c in edits] == ["v3"]
        assert results[0] is True and results[1] is True  # replaced ones report success
        assert h.api.messages[4242][msg.message_id]["text"] == "v3"
        assert h.services.outbox is not None and h.services.outbox.stats["coalesced"] == 2


async def test_per_chat_limits_hold_across_two_instances(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("instances share per-chat budgets through PostgreSQL")
    # Private chats: 4 a second (burst 2) at the fake; groups: 5 per 2 s. The pacers plan the same.
    async with FakeBotAPI(
        enforce_limits=True, private_rate=4.0, private_burst=2, group_per_minute=5, group_window=2.0
    ) as api:
        limits = Limits(private_interval=0.25, group_per_minute=5, group_window=2.0, group_interval=0.0)
        async with (
            BotHarness(db_url, api=api, limits=limits) as a,
            BotHarness(db_url, api=api, limits=limits) as b,
        ):
            person, group = 4242, -4243
            await _enqueue(a, NOTE, [person] * 8 + [group] * 6, "a")
            await _enqueue(b, NOTE, [person] * 8 + [group] * 6, "b")
            sent = await asyncio.gather(a.run_due(), b.run_due())
            assert sum(sent) == 28 and all(sent)
            assert api.count_429 == 0
            to_person = [c.time for c in api.sent_messages(person)]
            to_group = [c.time for c in api.sent_messages(group)]
            assert len(to_person) == 16 and len(to_group) == 12
            # Each instance alone would keep 4/s; together, without the shared budget, they make 8/s.
            assert busiest(to_person, 1.0) <= 5
            assert busiest(to_group, 2.0) <= 5


async def test_a_busy_groups_answer_goes_privately_else_waits_its_turn(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Telegram's minute shortened to 20 s (fake and pacer), 3 messages in it; answers may wait 3 s.
    # The window is long enough that a loaded machine cannot let it pass between the steps below.
    monkeypatch.setattr(common, "GROUP_PATIENCE", 3.0)
    async with FakeBotAPI(enforce_limits=True, group_per_minute=3, group_window=20.0) as api:
        limits = Limits(group_per_minute=3, group_interval=0.0, group_window=20.0)
        async with BotHarness(db_url, api=api, limits=limits) as h:
            admin = h.user(1, "Mette", "da")
            amina = h.user(2, "Amina", "ar")
            group = h.group("Netværket", admins=[admin])
            for _ in range(3):
                await h.say(admin, "/help", group)
            assert len(api.sent_messages(group.id)) == 3
            # The 4th answer would wait for the window: it goes to the person, saying why.
            calls = await h.say(amina, "/help", group)
            private = [c for c in calls if c.method == "sendMessage" and c.chat_id == amina.id]
            assert len(private) == 1 and len(api.sent_messages(group.id)) == 3
            text = private[0].plain_text or ""
            assert text.startswith("سألتَ في") and "Netværket" in text
            # Someone Telegram will not let the bot write to privately (never started it): answered
            # in the group when the turn comes, in order, never refused.
            api.block(admin.id)
            h._injected += 1
            api.inject_message(admin, group, "/help")
            await _until(api, lambda: len(api.sent_messages(group.id)) >= 4, timeout=60)
            await h.settle(timeout=60)
            assert api.count_429 == 0
            assert [c.ok for c in api.calls("sendMessage", group.id)] == [True] * 4
            assert len(api.calls("sendMessage", admin.id)) == 1  # tried privately, refused, not lost
