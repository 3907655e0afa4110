"""End-to-end: events through the real Application and the local Bot API fake."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.db import models as m
from bot.testing.harness import BotHarness, texts


async def _setup(bot: BotHarness):  # type: ignore[no-untyped-def]
    admin = bot.user(1, "Mette", "da", username="mette")
    group = bot.group("Integrationsnetværket Rudersdal", admins=[admin])
    await bot.say(admin, "/setup", group)
    return admin, group


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.services.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_oneline_creation_card_and_followers(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    follower = bot.user(5, "Amal", "ar")
    await bot.say(follower, "/start net_integrationsnetvaerket-rudersdal")
    calls = await bot.say(
        admin,
        "/newevent Fællesspisning <b> | 3. december kl. 17 | Egebæk Medborgerhus | Alle er velkomne",
        group,
    )
    card = next(c for c in calls if c.method == "sendMessage" and c.chat_id == group.id)
    assert "Fællesspisning <b>" in (card.plain_text or "")
    assert "<b>Fællesspisning &lt;b&gt;</b>" in card.params["text"]
    assert "torsdag den 3. december 2026" in (card.plain_text or "")
    assert [b["text"] for b in card.buttons()] == [
        "Deltager",
        "Deltager ikke",
        "Påmind mig",
        "Føj til kalender",
        "🗣 Tolk",  # issue 13: its own row after the fixed rows
    ]
    await bot.run_due()
    to_follower = [c for c in bot.api.all_calls if c.method == "sendMessage" and c.chat_id == follower.id]
    assert to_follower and "Fællesspisning" in (to_follower[-1].plain_text or "")
    # The follower reads Arabic around the Danish text, with the note that there is no translation.
    assert "ديسمبر" in (to_follower[-1].plain_text or "")
    assert await _count(bot, m.Event) == 1


async def test_bad_inputs_create_nothing(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    bad = [
        "/newevent Fællesspisning | i går kl. 17 | Egebæk",
        "/newevent Fællesspisning | 2020-01-01 17:00 | Egebæk",
        "/newevent Fællesspisning | blabla | Egebæk",
        "/newevent Fællesspisning | 3. december | Egebæk",
        "/newevent Fællesspisning | 3. december kl. 17",
        "/newevent " + "x" * 121 + " | 3. december kl. 17 | Egebæk",
        "/newevent Spil | 3. december kl. 17 | " + "y" * 201,
        "/newevent Spil | 3. december kl. 17 | Egebæk | " + "z" * 2001,
        "/newevent  | 3. december kl. 17 | Egebæk",
    ]
    for text in bad:
        replies = texts(await bot.say(admin, text, group))
        assert replies and replies[0].startswith("⚠️"), (text, replies)
        assert "kl. 17" in replies[0] or "Egebæk" in replies[0], (text, replies)
    assert await _count(bot, m.Event) == 0


async def test_guided_dialogue_and_private_network_choice(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, _group = await _setup(bot)
    other = bot.group("Lyngby Integrationsråd", admins=[admin])
    await bot.say(admin, "/setup", other)
    calls = await bot.say(admin, "/newevent")
    msg = next(c for c in calls if c.method == "sendMessage")
    labels = [b["text"] for b in msg.buttons()]
    assert sorted(labels) == sorted(["Integrationsnetværket Rudersdal", "Lyngby Integrationsråd"])
    await bot.press(admin, admin.id, msg.message_id, "Lyngby Integrationsråd")
    await bot.say(admin, "Spilledag uden skærme")
    refused = texts(await bot.say(admin, "i forgårs"))
    assert refused[0].startswith("⚠️")
    await bot.say(admin, "lørdag kl. 13-16")
    await bot.say(admin, "Lyngby Hovedbibliotek")
    asked = await bot.say(admin, "-")
    # The guided dialogue ends with how often it takes place (series: tests/test_series_e2e.py).
    question = next(c for c in asked if c.buttons())
    assert [b["text"] for b in question.buttons()] == ["Én gang", "Hver uge", "Hver 2. uge", "Månedligt"]
    done = await bot.press(admin, admin.id, question.message_id, "Én gang")
    assert any("Spilledag uden skærme" in t for t in texts(done))
    async with bot.services.sessionmaker() as s:
        event = await s.scalar(select(m.Event))
        net = await s.scalar(select(m.Network).where(m.Network.name == "Lyngby Integrationsråd"))
        assert event is not None and net is not None and event.network_id == net.id
        assert event.ends_at is not None and event.description == ""
    await bot.run_due()
    posted = [c for c in bot.api.all_calls if c.method == "sendMessage" and c.chat_id == other.id]
    assert any("Spilledag uden skærme" in (c.plain_text or "") for c in posted)


async def test_private_without_network(bot: BotHarness) -> None:
    stranger = bot.user(9, "Yonas", "ti")
    replies = texts(await bot.say(stranger, "/newevent Test | i morgen kl. 17 | Her"))
    assert replies[0].startswith("⚠️") and any("\u1200" <= ch <= "\u137f" for ch in replies[0])
    assert await _count(bot, m.Event) == 0


async def test_rsvp_idempotent_and_other_network_refused(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    calls = await bot.say(admin, "/newevent Temaaften | 3. december kl. 19 | Rådhuset", group)
    card = next(c for c in calls if c.method == "sendMessage" and c.chat_id == group.id)
    member = bot.user(2, "Yonas", "ti")
    first = await bot.press(member, group.id, card.message_id, 1)
    edits = [c for c in first if c.method == "editMessageText"]
    assert len(edits) == 1 and "1 deltager" in (edits[0].plain_text or "")
    again = await bot.press(member, group.id, card.message_id, 1)
    assert not [c for c in again if c.method == "editMessageText"]
    async with bot.services.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(m.Rsvp)) == 1
    # A forged press from another network's group changes nothing.
    other_admin = bot.user(3, "Ole", "da")
    other = bot.group("Andet netværk", admins=[other_admin])
    setup_calls = await bot.say(other_admin, "/setup", other)
    other_msg = next(c for c in setup_calls if c.method == "sendMessage").message_id
    assert other_msg is not None
    async with bot.services.sessionmaker() as s:
        event = await s.scalar(select(m.Event))
        assert event is not None
    forged = await bot.press(other_admin, other.id, other_msg, f"ev:{event.id}:go", data=True)
    assert any(c.method == "answerCallbackQuery" for c in forged)
    assert not [c for c in forged if c.method == "editMessageText"]
    missing = await bot.press(member, group.id, card.message_id, "ev:99999:go", data=True)
    assert not [c for c in missing if c.method == "editMessageText"]
    async with bot.services.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(m.Rsvp)) == 1
    # Add to calendar sends an .ics file privately.
    ics_calls = await bot.press(member, group.id, card.message_id, 4)
    doc = next(c for c in ics_calls if c.method == "sendDocument")
    assert doc.chat_id == member.id and b"BEGIN:VEVENT" in doc.params["document"].content
    # Remind me plans reminders.
    await bot.press(member, group.id, card.message_id, 3)
    async with bot.services.sessionmaker() as s:
        n = await s.scalar(
            select(func.count()).select_from(m.Notice).where(m.Notice.kind == "event_reminder")
        )
        assert n and n >= 1


async def test_cancel_and_edit_notices(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    follower = bot.user(5, "Amal", "ar")
    await bot.say(follower, "/start net_integrationsnetvaerket-rudersdal")
    calls = await bot.say(admin, "/newevent Infomøde | 3. december kl. 17 | Rådhuset", group)
    card = next(c for c in calls if c.method == "sendMessage" and c.chat_id == group.id)
    goer = bot.user(2, "Yonas", "ti")
    await bot.say(goer, "/start")
    await bot.press(goer, group.id, card.message_id, 1)
    await bot.run_due()
    async with bot.services.sessionmaker() as s:
        event = await s.scalar(select(m.Event))
        assert event is not None
        eid = event.id
    # Not allowed for someone else.
    refused = texts(await bot.say(goer, f"/cancelevent {eid}", group))
    assert refused[0].startswith("⚠️")
    start = len(bot.api.all_calls)
    texts(await bot.say(admin, f"/editevent {eid} place Egebæk Medborgerhus", group))
    await bot.run_due()
    sent = [c for c in bot.api.all_calls[start:] if c.method == "sendMessage" and c.chat_id == goer.id]
    assert sent and "Egebæk Medborgerhus" in (sent[-1].plain_text or "")
    start = len(bot.api.all_calls)
    await bot.say(admin, f"/editevent {eid} when 4. december kl. 18", group)
    await bot.run_due()
    sent = [c for c in bot.api.all_calls[start:] if c.method == "sendMessage" and c.chat_id == goer.id]
    assert sent and "4" in (sent[-1].plain_text or "")
    start = len(bot.api.all_calls)
    await bot.say(admin, f"/cancelevent {eid}", group)
    await bot.run_due()
    told = {c.chat_id for c in bot.api.all_calls[start:] if c.method == "sendMessage"}
    assert goer.id in told and follower.id in told
    async with bot.services.sessionmaker() as s:
        event = await s.get(m.Event, eid)
        assert event is not None and event.status == "cancelled" and event.sequence == 3
        pending = await s.scalar(
            select(func.count())
            .select_from(m.Notice)
            .where(m.Notice.kind == "event_reminder", m.Notice.state == "pending")
        )
        assert pending == 0
    # Pressing the cancelled card is refused.
    late = await bot.press(goer, group.id, card.message_id, f"ev:{eid}:go", data=True)
    assert any(c.method == "answerCallbackQuery" and c.params.get("show_alert") for c in late)


async def test_events_list_and_event_link(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    for day in (5, 3, 4):
        await bot.say(admin, f"/newevent Aften {day} | {day}. december kl. 17 | Rådhuset", group)
    listing = texts(await bot.say(admin, "/events", group))[0]
    assert listing.index("Aften 3") < listing.index("Aften 4") < listing.index("Aften 5")
    follower = bot.user(5, "Amal", "en")
    await bot.say(follower, "/start net_integrationsnetvaerket-rudersdal")
    private = texts(await bot.say(follower, "/events"))[0]
    assert "Aften 3" in private
    async with bot.services.sessionmaker() as s:
        eid = await s.scalar(select(m.Event.id).where(m.Event.title == "Aften 4"))
    shown = texts(await bot.say(follower, f"/start ev_{eid}"))[0]
    assert "Aften 4" in shown and "Written in Danish" in shown
    shown = texts(await bot.say(follower, f"/event {eid}"))[0]
    assert "Aften 4" in shown
    bad = texts(await bot.say(follower, "/event abc"))[0]
    assert bad.startswith("⚠️") and "/event 12" in bad


async def test_translation_flow_per_reader_language(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    translator = bot.user(7, "Selam", "ar", username="selam")
    await bot.say(translator, "Hej alle", group)  # known in the network
    await bot.say(translator, "/start")
    saved = texts(await bot.say(admin, "/settings translator add @selam ar", group))
    assert saved and not saved[0].startswith("⚠️"), saved
    reader_ar = bot.user(5, "Amal", "ar")
    reader_ti = bot.user(6, "Yonas", "ti")
    for reader in (reader_ar, reader_ti):
        await bot.say(reader, "/start net_integrationsnetvaerket-rudersdal")
    await bot.say(
        admin,
        "/newevent Fællesspisning | 3. december kl. 17 | Egebæk Medborgerhus | Alle er velkomne",
        group,
    )
    await bot.run_due()  # the announcement goes out before any translation: the original, with a note
    async with bot.services.sessionmaker() as s:
        event = await s.scalar(select(m.Event))
        assert event is not None and event.language == "da"
        eid = event.id
    announced = texts(
        [c for c in bot.api.all_calls if c.chat_id == reader_ar.id and c.method == "sendMessage"]
    )
    assert "Fællesspisning" in announced[-1] and "عشاء" not in announced[-1]

    # The translator's queue shows the event, and the dialogue asks field by field.
    queue = texts(await bot.say(translator, "/translate"))
    # expected texts written by hand (not through the bot's own translator)
    assert queue[0].startswith("نص واحد ينتظر الترجمة إلى \u2068العربية\u2069."), queue[0]
    assert (
        "Fællesspisning" in queue[0] and "Egebæk Medborgerhus" in queue[0] and "Alle er velkomne" in queue[0]
    )
    assert len(queue) == 2  # the original, then the first question (the title)
    await bot.say(translator, "عشاء مشترك")
    await bot.say(translator, "مركز إيغبيك الثقافي")
    done = texts(await bot.say(translator, "الجميع مرحب بهم"))
    assert len(done) == 1 and "لا توجد نصوص بانتظار الترجمة: \u200e/translate" in done[0], done
    async with bot.services.sessionmaker() as s:
        row = await s.scalar(select(m.ContentTranslation))
        assert row is not None and (row.subject, row.subject_id, row.language) == ("event", eid, "ar")
        assert row.fields == {
            "title": "عشاء مشترك",
            "place": "مركز إيغبيك الثقافي",
            "description": "الجميع مرحب بهم",
        }

    # The Arabic reader gets the Arabic text, without the note.
    ar_card = texts(await bot.say(reader_ar, f"/event {eid}"))[0]
    assert "عشاء مشترك" in ar_card and "مركز إيغبيك الثقافي" in ar_card and "الجميع مرحب بهم" in ar_card
    assert "Fællesspisning" not in ar_card and "Egebæk" not in ar_card
    ar_note = "مكتوب باللغة \u2068الدانمركية\u2069؛ لا توجد ترجمة بعد."
    assert ar_note not in ar_card and ar_note in announced[-1]
    # The Tigrinya reader gets the original with the note in Tigrinya.
    ti_card = texts(await bot.say(reader_ti, f"/event {eid}"))[0]
    note = "ብቋንቋ ዳኒሽ ተጻሒፉ፤ ገና ኣይተተርጎመን።"
    assert "Fællesspisning" in ti_card and "Egebæk Medborgerhus" in ti_card and "عشاء" not in ti_card
    assert note in ti_card and any("\u1200" <= ch <= "\u137f" for ch in note)

    # The reminders a day before: each in the reader's language, rendered at send time.
    start = len(bot.api.all_calls)
    await bot.advance(days=9, hours=12)
    sent = bot.api.all_calls[start:]
    reminder_ar = texts([c for c in sent if c.chat_id == reader_ar.id and c.method == "sendMessage"])
    reminder_ti = texts([c for c in sent if c.chat_id == reader_ti.id and c.method == "sendMessage"])
    assert reminder_ar and "⏰" in reminder_ar[-1] and "عشاء مشترك" in reminder_ar[-1]
    assert "Fællesspisning" not in reminder_ar[-1]
    assert reminder_ti and "⏰" in reminder_ti[-1] and "Fællesspisning" in reminder_ti[-1]
    assert note in reminder_ti[-1]

    # Nothing waits any more (the event is still ahead: it left the queue because it is translated).
    empty = texts(await bot.say(translator, "/translate"))
    assert empty == ["لا يوجد شيء بانتظار الترجمة. شكراً لك!"]


async def test_burst_of_going_presses_collapses_into_few_edits(clocked_bot: BotHarness) -> None:
    import asyncio
    import itertools
    import math
    import time

    from handlers.events_cards import GROUP_EDIT_INTERVAL, CardEditor

    bot = clocked_bot
    admin, group = await _setup(bot)
    calls = await bot.say(admin, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk", group)
    card = next(c for c in calls if c.method == "sendMessage" and c.chat_id == group.id)
    assert card.message_id is not None
    members = [bot.user(100 + i, f"Medlem {i}", "da") for i in range(12)]

    def card_edits() -> list:  # type: ignore[type-arg]
        return [
            c
            for c in bot.api.all_calls
            if c.method == "editMessageText"
            and c.chat_id == group.id
            and c.params.get("message_id") in (card.message_id, str(card.message_id))
        ]

    async def quiet() -> None:
        """Until the editor has nothing more to do (waits on its state, however slow the machine)."""
        editor = bot.services.card_editor
        assert isinstance(editor, CardEditor)
        async with asyncio.timeout(60):
            while editor.busy or editor.dirty.get(group.id):
                await bot.api.wait_change(0.5)

    def going(n: int) -> str:
        return f"✅ {n} deltagere"

    def at_most(seconds: float) -> int:
        """Edits the editor may make in `seconds`: one now, then one per interval."""
        return 1 + math.ceil(seconds / GROUP_EDIT_INTERVAL)

    # A burst: twelve people press Going at once (updates are handled concurrently).
    began = time.monotonic()
    await asyncio.gather(*(bot.press(u, group.id, card.message_id, 1) for u in members))
    burst = time.monotonic() - began
    await quiet()
    edits = card_edits()
    # twelve presses collapse into few edits: bounded by how long the burst took, not one per press
    assert 1 <= len(edits) <= min(at_most(burst), 11), ([c.plain_text for c in edits], burst)
    assert all(c.ok for c in edits)
    assert going(12) in (edits[-1].plain_text or ""), edits[-1].plain_text
    # A second wave: one changes their mind, two more come; the last edit shows the final state.
    began = time.monotonic()
    await asyncio.gather(
        bot.press(members[0], group.id, card.message_id, 2),
        *(bot.press(bot.user(200 + i, f"Ny {i}", "da"), group.id, card.message_id, 1) for i in range(2)),
    )
    burst = time.monotonic() - began
    await quiet()
    later = card_edits()[len(edits) :]
    assert 1 <= len(later) <= min(at_most(burst), 3) and all(c.ok for c in later), [
        c.plain_text for c in later
    ]
    assert going(13) in (later[-1].plain_text or ""), later[-1].plain_text
    # Never two edits of the group's card within one interval. The editor spaces the requests it
    # starts by GROUP_EDIT_INTERVAL (3 s); their arrival can be bunched by the HTTP round trip on a
    # loaded machine, so 2 s here: still far from the few milliseconds apart of edits not spaced.
    gaps = [b.time - a.time for a, b in itertools.pairwise(card_edits())]
    assert all(gap >= GROUP_EDIT_INTERVAL - 1.0 for gap in gaps), gaps
    async with bot.services.sessionmaker() as s:
        n = await s.scalar(select(func.count()).select_from(m.Rsvp).where(m.Rsvp.status == "going"))
        assert n == 13
