"""/broadcast end to end: followers get it once, in their language; progress; scheduling and cancel."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.db import models as m
from bot.testing.harness import BotHarness, texts


async def _network_with_followers(h: BotHarness, n: int) -> tuple[object, object, list[object]]:
    admin = h.user(1, "Mette", "da")
    group = h.group("Integrationsnetværket", admins=[admin])
    await h.say(admin, "/setup Integrationsnetværket", group)
    followers = [h.user(100 + i, f"F{i}", ["da", "ar", "ti", "en"][i % 4]) for i in range(n)]
    for f in followers:
        await h.say(f, "/start net_integrationsnetvaerket")
    return admin, group, followers


async def test_broadcast_now_reaches_every_follower_once_with_progress(clocked_bot: BotHarness) -> None:
    h = clocked_bot
    admin, group, followers = await _network_with_followers(h, 8)
    calls = await h.say(admin, "/broadcast Fællesspisning i aften kl. 18 i Medborgerhuset", group)  # type: ignore[arg-type]
    assert calls == [] or all(c.chat_id == group.id for c in calls)  # type: ignore[attr-defined]
    await h.run_due()
    for f in followers:
        got = [c for c in h.api.sent_messages(f.id) if "Fællesspisning" in (c.text or "")]  # type: ignore[attr-defined]
        assert len(got) == 1
    ar = h.api.sent_messages(followers[1].id)[-1].plain_text or ""  # type: ignore[attr-defined]
    # The original, with a note naming the language in Arabic (not "باللغة Dansk").
    assert "Fællesspisning" in ar and "الدانمركية" in ar and "Dansk" not in ar
    progress = [
        c for c in h.api.all_calls if c.chat_id == group.id and c.method in ("sendMessage", "editMessageText")
    ]  # type: ignore[attr-defined]
    final = progress[-1].plain_text or ""
    assert "8" in final
    assert h.api.duplicates() == {}


async def test_translation_used_and_scheduled_broadcast_cancel(
    clocked_bot: BotHarness, start_time: datetime
) -> None:
    h = clocked_bot
    admin, group, followers = await _network_with_followers(h, 4)
    await h.say(admin, "/broadcast Spilledag uden skærme | at 2026-11-25 10:00", group)  # type: ignore[arg-type]
    await h.say(admin, "/broadcast Temaaften om sport | at 2026-11-26 10:00", group)  # type: ignore[arg-type]
    async with h.services.sessionmaker() as s:
        bcs = (await s.scalars(select(m.Broadcast).order_by(m.Broadcast.id))).all()
        assert [b.state for b in bcs] == ["scheduled", "scheduled"]
        s.add(
            m.ContentTranslation(
                subject="broadcast",
                subject_id=bcs[0].id,
                language="ar",
                fields={"text": "يوم ألعاب بدون شاشات"},
            )
        )
        await s.commit()
    # Listed with a Cancel button; cancel the second.
    calls = await h.say(admin, "/broadcast", group)  # type: ignore[arg-type]
    listed = [c for c in calls if c.buttons() and "Temaaften" in (c.plain_text or "")]
    assert listed
    await h.press(admin, group.id, listed[0].message_id, 1)  # type: ignore[attr-defined,arg-type]
    await h.say(admin, "/cancel", group)  # type: ignore[arg-type]
    await h.advance(days=4)
    ar_texts = texts(h.api.sent_messages(followers[1].id))  # type: ignore[attr-defined]
    assert any("يوم ألعاب بدون شاشات" in t for t in ar_texts)
    da_texts = texts(h.api.sent_messages(followers[0].id))  # type: ignore[attr-defined]
    assert any("Spilledag uden skærme" in t for t in da_texts)
    assert not any("Temaaften" in t for f in followers for t in texts(h.api.sent_messages(f.id)))  # type: ignore[attr-defined]
    assert h.api.duplicates() == {}


async def test_bad_time_and_non_coordinator_change_nothing(clocked_bot: BotHarness) -> None:
    h = clocked_bot
    admin, group, followers = await _network_with_followers(h, 1)
    calls = await h.say(admin, "/broadcast Hej | at i forgårs", group)  # type: ignore[arg-type]
    assert calls and calls[-1].method == "sendMessage"
    calls = await h.say(followers[0], "/broadcast Spam", group)  # type: ignore[arg-type]
    assert "coordinator" in " ".join(texts(calls)).lower() or "koordinator" in " ".join(texts(calls)).lower()
    async with h.services.sessionmaker() as s:
        assert await s.scalar(select(m.Broadcast)) is None


async def test_follow_unfollow_and_lead_times_replan_reminders(
    clocked_bot: BotHarness, start_time: datetime
) -> None:
    h = clocked_bot
    admin, group, followers = await _network_with_followers(h, 1)
    f = followers[0]
    async with h.services.sessionmaker() as s:
        net = await s.scalar(select(m.Network))
        ev = m.Event(
            network_id=net.id, title="Game day", starts_at=start_time + timedelta(days=3), language="en"
        )
        s.add(ev)
        await s.commit()
    calls = await h.say(f, "/reminders")  # type: ignore[arg-type]
    msg = calls[-1]
    await h.press(f, f.id, msg.message_id, 1)  # type: ignore[attr-defined,arg-type]  15 min on
    async with h.services.sessionmaker() as s:
        rows = (
            await s.scalars(
                select(m.Notice).where(m.Notice.kind == "event_reminder", m.Notice.state == "pending")
            )
        ).all()
        assert sorted(r.payload["minutes"] for r in rows) == [15, 1440]
    calls = await h.say(f, "/unsubscribe")  # type: ignore[arg-type]
    await h.press(f, f.id, calls[-1].message_id, 1)  # type: ignore[attr-defined,arg-type]
    async with h.services.sessionmaker() as s:
        rows = (
            await s.scalars(
                select(m.Notice).where(m.Notice.kind == "event_reminder", m.Notice.state == "pending")
            )
        ).all()
        assert rows == []
    calls = await h.say(admin, "/subscribe", group)  # type: ignore[arg-type]
    assert any("start=net_integrationsnetvaerket" in (b.get("url") or "") for c in calls for b in c.buttons())
