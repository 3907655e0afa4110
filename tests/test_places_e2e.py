"""End-to-end: help sign-ups (tasks), places with a waiting list and promotions, guests — through
the real Application and the Bot API fake, with people reading Danish, Arabic and Tigrinya."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.db import models as m
from bot.testing.fake_bot_api import FakeChat, FakeUser
from bot.testing.harness import BotHarness, texts

LRM = "\u200e"
SEEN_TABLES = {"persons", "memberships"}


async def dump(bot: BotHarness) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the bookkeeping of having seen someone (as in tests/test_authz.py)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with bot.services.sessionmaker() as s:
        for table in m.Base.metadata.sorted_tables:
            if table.name not in SEEN_TABLES:
                rows = (await s.execute(select(table))).all()
                out[table.name] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return out


class Net:
    def __init__(self, bot: BotHarness) -> None:
        self.bot = bot
        self.mette = bot.user(1, "Mette", "da", username="mette")  # coordinator (group admin)
        self.susanne = bot.user(2, "Susanne", "da")
        self.massoud = bot.user(3, "Massoud", "ar")
        self.yonas = bot.user(4, "Yonas", "ti")
        self.group = bot.group("Integrationsnetværket", admins=[self.mette])
        self.card_id = 0

    async def setup(self) -> None:
        await self.bot.say(self.mette, "/setup", self.group)
        for u in (self.mette, self.susanne, self.massoud, self.yonas):
            await self.bot.say(u, "/start")
            await self.bot.say(u, "hej", self.group)
        calls = await self.bot.say(
            self.mette, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk Medborgerhus", self.group
        )
        self.card_id = next(
            c for c in calls if c.method == "sendMessage" and c.chat_id == self.group.id
        ).message_id

    async def press(self, user: FakeUser, data: str, chat: FakeChat | None = None, mid: int = 0) -> list[str]:
        return texts(await self.bot.press(user, chat or self.group, mid or self.card_id, data, data=True))

    async def say(self, user: FakeUser, text: str, chat: FakeChat | None = None) -> list[str]:
        return texts(await self.bot.say(user, text, chat if chat is not None else self.group))

    def private(self, user: FakeUser) -> list[str]:
        return [c.plain_text or "" for c in self.bot.api.sent_messages(user.id)]


async def rsvp_state(bot: BotHarness) -> dict[str, Any]:
    async with bot.services.sessionmaker() as s:
        going = (
            await s.scalars(
                select(m.Person.first_name)
                .join(m.Rsvp, m.Rsvp.person_id == m.Person.id)
                .where(m.Rsvp.status == "going")
                .order_by(m.Person.first_name)
            )
        ).all()
        waiting = (
            await s.execute(
                select(m.Person.first_name, m.WaitingEntry.guest_name)
                .select_from(m.WaitingEntry)
                .outerjoin(m.Person, m.Person.id == m.WaitingEntry.person_id)
                .order_by(m.WaitingEntry.press_key, m.WaitingEntry.id)
            )
        ).all()
        guests = (await s.scalars(select(m.EventGuest.name).order_by(m.EventGuest.id))).all()
    return {"going": list(going), "waiting": [p or g for p, g in waiting], "guests": list(guests)}


async def test_tasks_sign_up_withdraw_full_list_remove_reminders(clocked_bot: BotHarness) -> None:
    net = Net(clocked_bot)
    await net.setup()
    assert await net.say(net.mette, "/addtask 1 Smagsprøver | 2") == [
        "Opgave 1 er tilføjet til Fællesspisning: Smagsprøver, 2 hjælpere. Kortet har en knap til at melde sig.",
        # the group's card, edited in place with the new button
        clocked_bot.api.messages[net.group.id][net.card_id]["text"],
    ]
    labels = [b["text"] for b in clocked_bot.api.buttons(net.group.id, net.card_id)]
    assert labels == [
        "Deltager",
        "Deltager ikke",
        "Påmind mig",
        "Føj til kalender",
        "🙋 Smagsprøver 0/2",
        "🗣 Tolk",
    ]
    task = "task:1:"
    assert (await net.press(net.susanne, task))[0] == (
        "Tak! Du hjælper med: Smagsprøver. Jeg minder dig om det før arrangementet."
    )
    assert (await net.press(net.massoud, task))[0] == (
        "شكرًا! أنت تساعد في: \u2068Smagsprøver\u2069. سأرسل لك تذكيرًا قبل الفعالية."
    )
    # full: refused in the presser's language, nothing recorded
    assert (await net.press(net.yonas, task))[0] == "Smagsprøver ዘድልዮ ሓገዝቲ ኩሎም ኣለውዎ (2/2)።"
    # a second press withdraws
    assert (await net.press(net.susanne, task))[0] == "Du hjælper ikke længere med: Smagsprøver."
    listing = await net.say(net.susanne, "/tasks 1")
    assert listing == ["Hjælp søges: Fællesspisning\n• Smagsprøver — 1/2 (opgave 1)\n  Hjælpere: Massoud"]
    # Yonas (a member, not the creator) cannot remove it; in Tigrinya, and nothing changes
    before = await dump(clocked_bot)
    assert await net.say(net.yonas, "/removetask 1") == ["⚠️ ነዚ ፍጻመ ክቕይሮ ዝኽእል እቲ ዝፈጠሮ ሰብ ወይ ኣወሃሃዲ ጥራይ እዩ።"]
    assert await dump(clocked_bot) == before

    # Massoud follows nothing and never pressed Remind me: as a helper he gets the reminder (1 day before)
    await clocked_bot.advance(days=9, hours=8)
    reminders = [t for t in net.private(net.massoud) if t.startswith("⏰")]
    assert len(reminders) == 1 and "Fællesspisning" in reminders[0] and "تذكير" in reminders[0]
    # ... and is told of the cancellation, in Arabic
    await net.say(net.mette, "/cancelevent 1")
    await clocked_bot.run_due()
    assert net.private(net.massoud)[-1].startswith("❌ أُلغيت الفعالية: \u2068Fællesspisning\u2069")


async def test_removing_a_task_tells_its_helpers(clocked_bot: BotHarness) -> None:
    net = Net(clocked_bot)
    await net.setup()
    await net.say(net.mette, "/addtask 1 Opvask")
    await net.press(net.yonas, "task:1:")
    assert (await net.say(net.mette, "/removetask 1"))[:1] == [
        "Opgaven Opvask er fjernet. Jeg giver dens hjælpere besked."
    ]
    await clocked_bot.run_due()
    assert net.private(net.yonas)[-1] == ("ዕማም Opvask ንFællesspisning ተወጊዱ፤ ድሕሪ ሕጂ ኣይተመዝገብካን። የቐንየልና!")
    async with clocked_bot.services.sessionmaker() as s:
        assert (await s.scalars(select(m.EventTask))).all() == []
        assert (await s.scalars(select(m.TaskHelper))).all() == []


async def test_addtask_guided_dialogue(clocked_bot: BotHarness) -> None:
    net = Net(clocked_bot)
    await net.setup()
    assert await net.say(net.mette, "/addtask") == [
        "Hvilket arrangement? Skriv dets nummer.\n/cancel stopper."
    ]
    await net.say(net.mette, "1")
    await net.say(net.mette, "Borddækning")
    replies = await net.say(net.mette, "3")
    assert replies[0] == (
        "Opgave 1 er tilføjet til Fællesspisning: Borddækning, 3 hjælpere. Kortet har en knap til at melde sig."
    )


async def test_places_waiting_list_promotion_guests(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    net = Net(bot)
    await net.setup()
    going, not_going = "ev:1:go", "ev:1:no"
    replies = await net.say(net.mette, "/places 1 2")
    assert replies[0] == "Fællesspisning: 2 pladser. 0 deltager, 0 på ventelisten."
    # the group's card, edited in place
    assert replies[1].endswith("✅ 0/2 pladser optaget\nIntegrationsnetværket · arrangement 1")
    assert (await net.say(net.mette, "/addguest 1 Amira"))[
        0
    ] == "Amira er tilføjet til Fællesspisning og har en plads."
    assert (await net.press(net.susanne, going))[0] == "Du deltager. Vi ses!"
    # full: the waiting list, with the position, in the presser's language
    assert (await net.press(net.massoud, going))[0] == (
        "الفعالية ممتلئة. أنت رقم 1 في قائمة الانتظار؛ سأكتب لك إذا أصبح هناك مكان شاغر."
    )
    assert (await net.press(net.yonas, going))[0] == (
        "እቲ ፍጻመ መሊኡ እዩ። ኣብ ዝርዝር ተጸበይቲ ቁጽሪ 2 ኢኻ፤ ቦታ እንተ ተረኺቡ ክጽሕፈልካ እየ።"
    )
    assert (await net.press(net.yonas, going))[0] == "ኣብ ዝርዝር ተጸበይቲ ቁጽሪ 2 ኢኻ።"
    card = (await net.say(net.susanne, "/event 1"))[0]
    assert "✅ 2/2 pladser optaget\n⏳ 2 på ventelisten" in card
    assert await rsvp_state(bot) == {
        "going": ["Susanne"],
        "waiting": ["Massoud", "Yonas"],
        "guests": ["Amira"],
    }

    # Susanne gives her place back: Massoud (first waiting) gets it and a private message in Arabic
    assert (await net.press(net.susanne, not_going))[0] == "Noteret: du deltager ikke."
    await bot.run_due()
    promoted = net.private(net.massoud)[-1]
    assert promoted.startswith("🎉 أصبح هناك مكان شاغر: أنت مشارك في \u2068Fællesspisning\u2069")
    assert await rsvp_state(bot) == {"going": ["Massoud"], "waiting": ["Yonas"], "guests": ["Amira"]}
    async with bot.services.sessionmaker() as s:
        # from now on he gets the event's reminders
        assert await s.scalar(select(m.Rsvp.remind).join(m.Person).where(m.Person.first_name == "Massoud"))
        assert await s.scalar(
            select(m.Notice.id).where(m.Notice.kind == "event_reminder", m.Notice.chat_id == net.massoud.id)
        )

    # lowering the limit below those going keeps them, and says so to the coordinator
    assert (await net.say(net.mette, "/places 1 1"))[:1] == [
        "Fællesspisning: 1 plads. 2 deltager, 1 på ventelisten.\n"
        "2 deltager allerede, 1 flere end pladserne: de beholder deres pladser, og nye tilmeldinger kommer "
        "på ventelisten."
    ]
    # Massoud leaves: 1 place, Amira holds it, nobody is promoted
    await net.press(net.massoud, not_going)
    assert await rsvp_state(bot) == {"going": [], "waiting": ["Yonas"], "guests": ["Amira"]}
    # lifting the limit gives Yonas a place, and a message in Tigrinya
    assert (await net.say(net.mette, "/places 1 0"))[:1] == [
        "Der er ikke længere en grænse for pladser til Fællesspisning.\n"
        "1 fra ventelisten har fået en plads; jeg giver besked."
    ]
    await bot.run_due()
    assert net.private(net.yonas)[-1].startswith("🎉 ቦታ ተረኺቡ: ኣብ Fællesspisning")
    assert await rsvp_state(bot) == {"going": ["Yonas"], "waiting": [], "guests": ["Amira"]}
    assert "✅ 2 deltagere" in (await net.say(net.susanne, "/event 1"))[0]


async def test_guest_on_the_waiting_list_and_leaving_the_list(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    net = Net(bot)
    await net.setup()
    await net.say(net.mette, "/places 1 1")
    await net.press(net.yonas, "ev:1:go")
    assert (await net.say(net.mette, "/addguest 1 Amira"))[:1] == [
        "Fællesspisning er fuldt: Amira er nummer 1 på ventelisten. Jeg siger til, hvis gæsten får en plads."
    ]
    await net.press(net.massoud, "ev:1:go")
    assert (await net.press(net.massoud, "ev:1:no"))[0] == "لقد خرجت من قائمة الانتظار."
    await net.press(net.yonas, "ev:1:no")
    await bot.run_due()
    assert await rsvp_state(bot) == {"going": [], "waiting": [], "guests": ["Amira"]}
    # whoever added the guest is told, in their language
    assert net.private(net.mette)[-1].startswith("🎉 En plads er blevet ledig: din gæst Amira deltager nu i")


async def test_refused_and_forged(clocked_bot: BotHarness) -> None:
    """Members cannot set places or add guests; another network's coordinator cannot press network
    A's task or RSVP from their own group with forged data; nothing changes."""
    bot = clocked_bot
    net = Net(bot)
    await net.setup()
    await net.say(net.mette, "/places 1 1")
    await net.say(net.mette, "/addtask 1 Smagsprøver | 2")
    await bot.run_due()
    bent = bot.user(9, "Bent", "da")
    group_b = bot.group("Netværk B", admins=[bent])
    await bot.say(bent, "/setup", group_b)
    await bot.say(bent, "/newevent Spil | 4. december kl. 17 | Biblioteket", group_b)
    await bot.run_due()
    before = await dump(bot)
    assert await net.say(net.susanne, "/places 1 5") == [
        "⚠️ Kun den, der oprettede arrangementet, eller en koordinator kan ændre det."
    ]
    assert await net.say(net.massoud, "/addguest 1 Ali") == ["⚠️ يمكن فقط لمنسقي الشبكة القيام بذلك."]
    assert (await net.say(bent, "/places 1 5", group_b))[0].startswith("⚠️")
    assert (await net.say(bent, "/addguest 1 Ali", group_b))[0].startswith("⚠️")
    b_card = bot.api.sent_messages(group_b.id)[-1].message_id
    for data in ("task:1:", "ev:1:go", "ev:1:no", "interp:1:e", "interp:1:e-ar", "task:999:", "task:x:"):
        replies = await net.press(bent, data, group_b, b_card)
        assert replies == ["Denne knap virker ikke længere."], (data, replies)
    assert await dump(bot) == before


async def test_mydata_and_forgetme_cover_tasks_waiting_list_and_interpreters(clocked_bot: BotHarness) -> None:
    import json

    bot = clocked_bot
    net = Net(bot)
    await net.setup()
    await net.say(net.mette, "/places 1 1")
    await net.say(net.mette, "/addtask 1 Smagsprøver | 2")
    await net.press(net.susanne, "ev:1:go")
    await net.press(net.massoud, "ev:1:go")  # waiting
    await net.press(net.massoud, "task:1:")
    await net.press(net.massoud, "interp:1:e")
    calls = await bot.say(net.massoud, "/mydata")
    doc = next(c for c in calls if c.method == "sendDocument")
    export = json.loads(doc.params["document"].content)
    assert [r["task_id"] for r in export["tasks_helping"]] == [1]
    assert [(r["event_id"], r["guest_name"]) for r in export["waiting_list"]] == [(1, None)]
    assert [(r["subject"], r["subject_id"], r["language"]) for r in export["interpreter_requests"]] == [
        ("event", 1, "ar")
    ]
    calls = await bot.say(net.massoud, "/forgetme")
    confirm = next(c for c in calls if c.method == "sendMessage")
    await bot.press(net.massoud, net.massoud.id, confirm.message_id or 0, 1)
    async with bot.services.sessionmaker() as s:
        for model in (m.TaskHelper, m.WaitingEntry, m.InterpreterRequest):
            assert (await s.scalars(select(model))).all() == [], model
    assert await rsvp_state(bot) == {"going": ["Susanne"], "waiting": [], "guests": []}
    assert "🙋 Smagsprøver 0/2" in [b["text"] for b in (await bot.say(net.susanne, "/event 1"))[0].buttons()]


async def test_forgetme_by_someone_going_gives_the_place_to_the_first_waiting(
    clocked_bot: BotHarness,
) -> None:
    bot = clocked_bot
    net = Net(bot)
    await net.setup()
    await net.say(net.mette, "/places 1 1")
    await net.press(net.susanne, "ev:1:go")
    await net.press(net.yonas, "ev:1:go")  # waiting
    calls = await bot.say(net.susanne, "/forgetme")
    confirm = next(c for c in calls if c.method == "sendMessage")
    await bot.press(net.susanne, net.susanne.id, confirm.message_id or 0, 1)
    await bot.run_due()
    assert await rsvp_state(bot) == {"going": ["Yonas"], "waiting": [], "guests": []}
    assert net.private(net.yonas)[-1].startswith("🎉 ቦታ ተረኺቡ: ኣብ Fællesspisning")


async def test_tasks_removetask_interpreters_guided(clocked_bot: BotHarness) -> None:
    net = Net(clocked_bot)
    await net.setup()
    await net.say(net.mette, "/addtask 1 Opvask")
    assert await net.say(net.massoud, "/tasks") == ["أي فعالية؟ اكتب رقمها.\nأرسل \u200e/cancel للإلغاء."]
    # the list is for the whole group: in the group's language
    assert (await net.say(net.massoud, "1"))[0] == "Hjælp søges: Fællesspisning\n• Opvask — 0/1 (opgave 1)"
    assert await net.say(net.mette, "/interpreters") == [
        "Hvilket arrangement? Skriv dets nummer, eller m og et mødes nummer (m3).\n/cancel stopper."
    ]
    assert await net.say(net.mette, "1") == ["Ingen har bedt om tolk til Fællesspisning endnu."]
    await net.say(net.mette, "/removetask")
    assert (await net.say(net.mette, "1"))[0] == "Opgaven Opvask er fjernet. Jeg giver dens hjælpere besked."


async def test_helpers_and_waiting_are_told_of_changes(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    net = Net(bot)
    await net.setup()
    await net.say(net.mette, "/places 1 1")
    await net.say(net.mette, "/addtask 1 Opvask")
    await net.press(net.susanne, "ev:1:go")
    await net.press(net.massoud, "ev:1:go")  # waiting
    await net.press(net.yonas, "task:1:")  # helping
    await bot.run_due()
    await net.say(net.mette, "/editevent 1 place Biblioteket")
    await bot.run_due()
    for user in (net.susanne, net.massoud, net.yonas):
        assert net.private(user)[-1].startswith("📍") and "Biblioteket" in net.private(user)[-1], user
