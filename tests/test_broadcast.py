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


BROADCAST_DA = "📣 Integrationsnetværket\n\nFællesspisning i aften kl. 18 i Medborgerhuset"


async def test_broadcast_now_reaches_every_follower_once_with_progress(clocked_bot: BotHarness) -> None:
    h = clocked_bot
    admin, group, followers = await _network_with_followers(h, 8)
    mark = len(h.api.all_calls)
    calls = await h.say(admin, "/broadcast Fællesspisning i aften kl. 18 i Medborgerhuset", group)  # type: ignore[arg-type]
    # sent at once: no reply while handling; the progress message comes from the delivery
    assert calls == []
    assert await h.run_due() == 8 + 1  # eight followers and the progress message
    # The final edit of the progress message may still be on its way (paced: one message a second
    # per group): wait for it, however slow the machine.
    await h.api.wait_for(
        lambda c: c.chat_id == group.id and "Færdig" in (c.plain_text or ""), timeout=30, start=mark
    )
    expected = {
        "da": BROADCAST_DA,
        # Every line reads right-to-left (RLM before a line that would not), the network's name and
        # the text isolated, the language named in Arabic.
        "ar": "\u200f📣 \u2068Integrationsnetværket\u2069\n\n"
        "\u200f\u2068Fællesspisning i aften kl. 18 i Medborgerhuset\u2069\n\n"
        "(مكتوب باللغة \u2068الدانمركية\u2069؛ لا توجد ترجمة إلى لغتك بعد.)",
        "ti": "📣 Integrationsnetværket\n\nFællesspisning i aften kl. 18 i Medborgerhuset\n\n"
        "(ብቋንቋ ዳኒሽ ተጻሒፉ፤ ገና ናብ ቋንቋኹም ኣይተተርጎመን።)",
        "en": "📣 Integrationsnetværket\n\nFællesspisning i aften kl. 18 i Medborgerhuset\n\n"
        "(Written in Danish; no translation into your language yet.)",
    }
    for f in followers:
        got = [c.plain_text for c in h.api.sent_messages(f.id) if "Fællesspisning" in (c.text or "")]  # type: ignore[attr-defined]
        assert got == [expected[f.language_code]], (f.language_code, got)  # type: ignore[attr-defined]
    progress = [
        c
        for c in h.api.all_calls[mark:]
        if c.chat_id == group.id and c.method in ("sendMessage", "editMessageText")  # type: ignore[attr-defined]
    ]
    assert progress[0].method == "sendMessage"
    assert progress[0].plain_text == "📣 Rundsendelse #1\nSender… 0 af 8 sendt."
    assert all(c.method == "editMessageText" for c in progress[1:])
    assert progress[-1].plain_text == "📣 Rundsendelse #1\nFærdig: sendt til 8 af 8 følgere."
    assert h.api.duplicates() == {}


async def test_two_broadcasts_to_the_same_followers_both_arrive(clocked_bot: BotHarness) -> None:
    """Each broadcast is its own message to each follower (a dedup key without the broadcast's id
    would make the second reach nobody), also when both are due in the same run."""
    h = clocked_bot
    admin, group, followers = await _network_with_followers(h, 3)
    await h.say(admin, "/broadcast Første besked", group)  # type: ignore[arg-type]
    assert await h.run_due() == 3 + 1
    await h.api.wait_for(lambda c: "#1\nFærdig" in (c.plain_text or ""), timeout=30, start=0)
    await h.say(admin, "/broadcast Anden besked", group)  # type: ignore[arg-type]
    await h.say(admin, "/broadcast Tredje besked", group)  # type: ignore[arg-type]
    assert await h.run_due() == 2 * (3 + 1)
    for i in (2, 3):
        await h.api.wait_for(lambda c, i=i: f"#{i}\nFærdig" in (c.plain_text or ""), timeout=30, start=0)
    for f in followers:
        got = [
            line.strip("\u200e\u200f\u2068\u2069")  # Arabic: the line's direction marks
            for c in h.api.sent_messages(f.id)  # type: ignore[attr-defined]
            for line in (c.plain_text or "").splitlines()
            if line.strip("\u200e\u200f\u2068\u2069").endswith(" besked")
        ]
        assert got == ["Første besked", "Anden besked", "Tredje besked"], got
    finals = [
        c.plain_text
        for c in h.api.all_calls
        if c.chat_id == group.id and "Færdig" in (c.plain_text or "")  # type: ignore[attr-defined]
    ]
    # The keys are a stored contract (a restart or a second instance re-plans with the same keys):
    # one per broadcast and follower, one start and one progress message per broadcast.
    async with h.services.sessionmaker() as s:
        pids = sorted((await s.scalars(select(m.Person.id).where(m.Person.tg_id >= 100))).all())
        notices = (
            await s.execute(select(m.Notice.kind, m.Notice.dedup_key, m.Notice.ref_id, m.Notice.state))
        ).all()
    expected = set()
    for b in (1, 2, 3):
        expected |= {
            ("broadcast_start", f"bcstart:{b}", b, "sent"),
            ("broadcast_progress", f"bcprog:{b}", b, "sent"),
        }
        expected |= {("broadcast", f"bc:{b}:{pid}", b, "sent") for pid in pids}
    assert {tuple(n) for n in notices} == expected
    assert sorted(finals) == [f"📣 Rundsendelse #{i}\nFærdig: sendt til 3 af 3 følgere." for i in (1, 2, 3)]
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
    assert [(c.method, c.chat_id) for c in calls] == [("sendMessage", group.id)]  # type: ignore[attr-defined]
    assert texts(calls) == [
        "⚠️ Tilføj et klokkeslæt til datoen, sådan her: "
        "3. december kl. 17 · 2026-12-03 17:00 · i morgen kl. 18"
    ]
    calls = await h.say(admin, "/broadcast Hej | at 2026-11-20 10:00", group)  # type: ignore[arg-type]
    assert texts(calls) == [
        "⚠️ »2026-11-20 10:00« ligger i fortiden. Angiv en fremtidig dato og et klokkeslæt, sådan her: "
        "3. december kl. 17 · 2026-12-03 17:00 · i morgen kl. 18"
    ]
    calls = await h.say(followers[0], "/broadcast Spam", group)  # type: ignore[arg-type]
    assert texts(calls) == ["⚠️ Kun netværkets koordinatorer kan gøre det."]
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
