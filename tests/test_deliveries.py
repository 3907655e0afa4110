"""Failed deliveries reach the coordinators: /deliveries lists them (group, or private), and the next
morning one summary per network and day goes to the group (counts, no names)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.db import models as m
from bot.domain import deliveries
from bot.testing.harness import BotHarness, texts


async def _network(h: BotHarness, n: int) -> tuple[Any, Any, list[Any]]:
    admin = h.user(1, "Mette", "en")
    group = h.group("Integration network", admins=[admin])
    await h.say(admin, "/setup Integration network", group)
    async with h.services.sessionmaker() as s:
        slug = await s.scalar(select(m.Network.slug))
    followers = [h.user(100 + i, f"Follower{i}", "en") for i in range(n)]
    for f in followers:
        await h.say(f, f"/start net_{slug}")
    return admin, group, followers


async def _summaries(h: BotHarness, chat_id: int) -> list[str]:
    # In the group's language (the network's default: Danish).
    return [t for t in texts(h.api.sent_messages(chat_id)) if "Leveringsrapport" in t]


async def test_failures_listed_for_coordinators_and_summarised_once_a_day(
    clocked_bot: BotHarness, start_time: datetime
) -> None:
    h = clocked_bot
    admin, group, followers = await _network(h, 4)
    broken, blocked = followers[0], followers[1]
    h.api.fail_next("sendMessage", chat_id=broken.id, kind="500", count=10)
    h.api.block(blocked.id)

    await h.say(admin, "/broadcast Shared dinner on Friday at 18", group)
    await h.run_due()
    # retried with backoff (2, 4, 8 s), then failed after the last attempt
    for step in (2, 4, 8, 16):
        await h.advance(seconds=step)
    attempts = len([c for c in h.api.calls("sendMessage", broken.id) if c.status == 500])
    assert attempts == h.services.dispatcher.max_attempts  # type: ignore[union-attr]
    got = [f for f in followers if any("Shared dinner" in t for t in texts(h.api.sent_messages(f.id)))]
    assert got == followers[2:]

    # The coordinator asks in the group: kind, when, who, why, and how many are unreachable.
    report = "\n".join(texts(await h.say(admin, "/deliveries", group)))
    assert "Broadcast" in report
    assert "Follower0" in report and f"Telegram kept failing ({attempts} attempts)" in report
    assert "Follower1" in report and "blocked the bot" in report
    assert "1 follower has blocked the bot" in report
    assert "Follower2" not in report
    assert "Monday" in report  # when, in the network's time zone

    # Privately too (the coordinator of one network gets it directly).
    private = "\n".join(texts(await h.say(admin, "/deliveries")))
    assert "Follower0" in private

    # Not for members, in the group or privately: no names leak.
    for chat in (group, None):
        refused = "\n".join(texts(await h.say(followers[2], "/deliveries", chat)))
        assert "Follower0" not in refused and "coordinator" in refused.lower()

    # Nothing summarised before the next morning; then exactly one summary, in the group.
    assert await _summaries(h, group.id) == []
    async with h.services.sessionmaker() as s:
        planned = await s.scalar(
            select(func.count()).select_from(m.Notice).where(m.Notice.kind == deliveries.SUMMARY)
        )
        assert planned == 1  # two failures that day, one summary planned
    tomorrow_9 = (start_time + timedelta(days=1)).replace(hour=8, minute=0)  # 09:00 Copenhagen
    h.clock.set(tomorrow_9 - timedelta(minutes=1))
    await h.run_due()
    assert await _summaries(h, group.id) == []
    h.clock.set(tomorrow_9)
    await h.run_due()
    summary = await _summaries(h, group.id)
    assert len(summary) == 1
    assert "2 beskeder kunne ikke leveres" in summary[0] and "Rundsendelse: 2" in summary[0]
    assert "Follower0" not in summary[0]  # the group reads it: counts, no names
    await h.advance(days=2)
    assert len(await _summaries(h, group.id)) == 1
    assert h.api.duplicates() == {}


async def test_a_day_without_failures_has_no_summary(clocked_bot: BotHarness) -> None:
    h = clocked_bot
    admin, group, _followers = await _network(h, 2)
    await h.say(admin, "/broadcast Game day without screens", group)
    await h.run_due()
    await h.advance(days=2)
    assert await _summaries(h, group.id) == []
    report = "\n".join(texts(await h.say(admin, "/deliveries", group)))
    assert "No message has failed lately" in report
