"""End-to-end: the foundation commands through the real Application and a local Bot API."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from bot.db import models as m
from bot.testing.harness import BotHarness, texts


async def test_start_welcomes_in_telegram_language(bot: BotHarness) -> None:
    for lang, word in (("da", "Velkommen"), ("ar", "أهلًا"), ("ti", "እንቋዕ"), ("en", "Welcome")):
        user = bot.user(100 + len(word), "Sara", lang)
        replies = texts(await bot.say(user, "/start"))
        assert replies and word in replies[0], (lang, replies)


async def test_setup_help_and_settings_in_group(bot: BotHarness) -> None:
    admin = bot.user(1, "Mette", "da", username="mette")
    member = bot.user(2, "Yonas", "ti", username="yonas")
    group = bot.group("Integrationsnetværket Rudersdal", admins=[admin])
    replies = texts(await bot.say(admin, "/setup", group))
    assert "Integrationsnetværket Rudersdal" in replies[0]
    assert "start=net_integrationsnetvaerket-rudersdal" in replies[0]
    # idempotent
    await bot.say(admin, "/setup", group)
    async with bot.services.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(m.Network)) == 1
    # a member sees no coordinator commands, in Tigrinya
    help_member = texts(await bot.say(member, "/help", group))[0]
    assert "/settings" not in help_member and "/events" in help_member
    assert any("\u1200" <= ch <= "\u137f" for ch in help_member)
    help_admin = texts(await bot.say(admin, "/help", group))[0]
    assert "/settings" in help_admin and "/vote" in help_admin
    # settings refuse members, change nothing
    refused = texts(await bot.say(member, "/settings rules 5 3 3 3", group))[0]
    assert "⚠️" in refused
    async with bot.services.sessionmaker() as s:
        net = await s.scalar(select(m.Network))
        assert net is not None and net.agenda_deadline_days == 10
    # a plural in Danish: "10 dage"
    shown = texts(await bot.say(admin, "/settings", group))[0]
    assert "10 dage" in shown and "Europe/Copenhagen" in shown
    assert (
        "Afstemninger: simpelt flertal af de afgivne stemmer" in shown
        and "Beslutningsdygtighed: intet krav" in shown
    )
    # bad input: clear message, nothing changed
    bad = texts(await bot.say(admin, "/settings rules 3 7 7 7", group))[0]
    assert "⚠️" in bad and "10" in bad
    ok = texts(await bot.say(admin, "/settings rules 12 7 7 7", group))
    assert ok[0] == "Gemt."
    async with bot.services.sessionmaker() as s:
        net = await s.scalar(select(m.Network))
        assert net is not None and net.agenda_deadline_days == 12


async def test_language_choice_and_plural_in_each_language(bot: BotHarness) -> None:
    admin = bot.user(1, "Mette", "en", username="mette")
    group = bot.group("Netværk", admins=[admin])
    await bot.say(admin, "/setup", group)
    calls = await bot.say(admin, "/language")
    msg = next(c for c in calls if c.method == "sendMessage")
    labels = [b["text"] for b in msg.buttons()]
    assert labels == ["Dansk", "العربية", "ትግርኛ", "English"]
    for label, expect in (("العربية", "أيام"), ("ትግርኛ", "10 መዓልታት"), ("Dansk", "10 dage")):
        replies = texts(await bot.press(admin, admin.id, msg.message_id, label))
        assert replies, label
        shown = texts(await bot.say(admin, "/settings", group))[0]
        assert expect in shown, (label, shown)


async def test_mydata_and_forgetme(bot: BotHarness) -> None:
    admin = bot.user(1, "Mette", "da", username="mette")
    group = bot.group("Netværk", admins=[admin])
    await bot.say(admin, "/setup", group)
    calls = await bot.say(admin, "/mydata")
    doc = next(c for c in calls if c.method == "sendDocument")
    data = json.loads(doc.params["document"].content)
    assert data["person"]["tg_id"] == 1 and data["memberships"]
    calls = await bot.say(admin, "/forgetme")
    msg = next(c for c in calls if c.method == "sendMessage")
    await bot.press(admin, admin.id, msg.message_id, 2)  # "No": nothing deleted
    async with bot.services.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(m.Person)) == 1
    calls = await bot.say(admin, "/forgetme")
    msg = next(c for c in calls if c.method == "sendMessage")
    await bot.press(admin, admin.id, msg.message_id, 1)
    async with bot.services.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(m.Person)) == 0
        assert await s.scalar(select(func.count()).select_from(m.Membership)) == 0


PRIVATE_COMMANDS = [
    "start", "help", "language", "newevent", "events", "event", "editevent", "cancelevent", "addtask", "tasks",
    "removetask", "places", "addguest", "interpreters", "subscribe", "unsubscribe", "reminders", "meetings",
    "additem", "agenda", "attach", "todo", "todos", "attendance", "movemeeting", "cancelmeeting", "decisions",
    "broadcast", "invite", "deliveries", "translate", "mydata", "forgetme", "cancel",
]  # fmt: skip
GROUP_COMMANDS = [
    "help", "language", "newevent", "events", "event", "editevent", "cancelevent", "addtask", "tasks",
    "removetask", "places", "subscribe", "meetings", "additem", "agenda", "attach", "todo", "todos", "standing",
    "decisions", "cancel",
]  # fmt: skip
ADMIN_COMMANDS = [
    "help", "language", "setup", "settings", "newevent", "events", "event", "editevent", "cancelevent",
    "addtask", "tasks", "removetask", "places", "addguest", "interpreters", "subscribe", "newmeeting", "meetings",
    "additem", "agenda", "attach", "todo", "todos", "standing", "attendance", "movemeeting", "cancelmeeting",
    "vote", "closevote", "handcount", "minutes", "decisions", "parent", "broadcast", "invite", "deliveries",
    "cancel",
]  # fmt: skip
SCOPES = {
    "all_private_chats": PRIVATE_COMMANDS,
    "all_group_chats": GROUP_COMMANDS,
    "all_chat_administrators": ADMIN_COMMANDS,
}
# A few descriptions per language, written by hand: (scope, command) -> text.
DESCRIPTIONS = {
    "": {
        ("all_private_chats", "forgetme"): "Delete everything I store about you",
        ("all_group_chats", "help"): "The commands you can use here",
        ("all_chat_administrators", "vote"): "Open a vote by show of hands",
    },
    "da": {
        ("all_private_chats", "forgetme"): "Slet alt, hvad jeg har gemt om dig",
        ("all_group_chats", "help"): "De kommandoer, du kan bruge her",
        ("all_chat_administrators", "vote"): "Start en afstemning ved håndsoprækning",
        ("all_chat_administrators", "minutes"): "Send referatet af et møde rundt",
    },
    "ar": {
        ("all_private_chats", "forgetme"): "حذف كل ما أحفظه عنك",
        ("all_group_chats", "help"): "الأوامر التي يمكنك استخدامها هنا",
        ("all_chat_administrators", "vote"): "فتح تصويت برفع الأيدي",
        ("all_chat_administrators", "minutes"): "تعميم محضر اجتماع",
    },
    "ti": {
        ("all_private_chats", "forgetme"): "ብዛዕባኹም ዝዓቀብክዎ ኩሉ ምድምሳስ",
        ("all_group_chats", "help"): "ኣብዚ ክትጥቀሙሎም እትኽእሉ ትእዛዛት",
        ("all_chat_administrators", "vote"): "ብኢድ ምልዓል ድምጺ ምሃብ ምኽፋት",
        ("all_chat_administrators", "minutes"): "ቃለ-ጉባኤ ኣኼባ ምዝርጋሕ",
    },
}


async def test_commands_registered_per_language(bot: BotHarness) -> None:
    """setMyCommands: per language (English as the default) and scope, exactly the commands each kind
    of chat may use, described in that language."""
    english = {
        scope: {c["command"]: c["description"] for c in bot.api.my_commands("", {"type": scope})}
        for scope in SCOPES
    }
    for lang, samples in DESCRIPTIONS.items():
        for scope, names in SCOPES.items():
            registered = bot.api.my_commands(lang, {"type": scope})
            assert [c["command"] for c in registered] == names, (lang, scope)
            described = {c["command"]: c["description"] for c in registered}
            assert all(described.values()), (lang, scope)
            if lang:  # every description translated, none left in English
                same = [n for n in names if described[n] == english[scope][n]]
                assert same == [], (lang, scope, same)
        for (scope, name), text in samples.items():
            described = {c["command"]: c["description"] for c in bot.api.my_commands(lang, {"type": scope})}
            assert described[name] == text, (lang, scope, name)
    # no commands in the default scope: members of a group do not see coordinator commands anywhere
    assert bot.api.my_commands("") == []


async def test_follow_link_event_link_dates_and_cancel_in_each_language(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin = bot.user(1, "Mette", "da", username="mette")
    group = bot.group("Netværk Nord", admins=[admin])
    await bot.say(admin, "/setup", group)
    await bot.say(admin, "/newevent Fællesspisning | 3. december kl. 17 | Medborgerhuset", group)
    cases = (
        ("da", "torsdag den 3. december 2026 17.00", "Du følger nu", "Intet blev gemt"),
        ("ar", "الخميس، 3 ديسمبر 2026 5:00 م", "أنت الآن تتابع", "لم يُحفظ شيء"),
        ("ti", "ሓሙስ፣ 3 ታሕሳስ 2026 5:00 ድ.ቀ.", "ሕጂ", "ዝተዓቀበ ነገር የለን"),
    )
    for i, (lang, date_text, follow_word, cancel_word) in enumerate(cases):
        reader = bot.user(50 + i, "Reader", lang)
        followed = texts(await bot.say(reader, "/start net_netvaerk-nord"), reader.id)
        assert follow_word in followed[0], (lang, followed)
        card = texts(await bot.say(reader, "/start ev_1"), reader.id)
        assert any(date_text in c for c in card), (lang, card)
        # a guided dialogue left with /cancel: nothing saved, said in the reader's language
        await bot.say(reader, "/help", group)  # now a member of the group, so may announce events
        await bot.say(reader, "/newevent")
        stopped = texts(await bot.say(reader, "/cancel"), reader.id)
        assert cancel_word in stopped[-1], (lang, stopped)
    nothing = texts(await bot.say(admin, "/cancel"), admin.id)
    assert nothing and "⚠️" not in nothing[0]
    async with bot.services.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(m.Event)) == 1
        assert await s.scalar(select(func.count()).select_from(m.Dialogue)) == 0


async def test_settings_buttons_dialogue_and_named_coordinators(bot: BotHarness) -> None:
    admin = bot.user(1, "Mette", "da", username="mette")
    yonas = bot.user(2, "Yonas", "ti", username="yonas")
    group = bot.group("Netværk Syd", admins=[admin])
    await bot.say(admin, "/setup", group)
    await bot.say(yonas, "/help", group)  # seen in the group
    panel = next(c for c in (await bot.say(admin, "/settings", group)) if c.buttons())
    assert [b["text"] for b in panel.buttons()][:2] == ["Sprog", "Tidszone"]
    # Time zone by button: a guided question, a wrong answer re-asked, then saved.
    asked = texts(await bot.press(admin, group.id, panel.message_id, "Tidszone"), group.id)
    assert "Europe/Copenhagen" in asked[-1]
    wrong = texts(await bot.say(admin, "Mars/Olympus", group), group.id)
    assert "⚠️" in wrong[0] and "Mars/Olympus" in wrong[0]
    assert texts(await bot.say(admin, "europe/london", group), group.id)[-1] == "Gemt."
    async with bot.services.sessionmaker() as s:
        net = await s.scalar(select(m.Network))
        assert net is not None and net.timezone == "Europe/London"
    # A member is not a coordinator until named; then /settings works for them.
    assert "⚠️" in texts(await bot.say(yonas, "/settings", group), group.id)[0]
    await bot.say(admin, "/settings coordinator add @yonas", group)
    shown = texts(await bot.say(yonas, "/settings", group), group.id)[0]
    assert "Yonas" in shown and any("\u1200" <= ch <= "\u137f" for ch in shown)
    await bot.say(admin, "/settings coordinator remove @yonas", group)
    assert "⚠️" in texts(await bot.say(yonas, "/settings", group), group.id)[0]
    unknown = texts(await bot.say(admin, "/settings coordinator add @nobody", group), group.id)[0]
    assert "⚠️" in unknown and "@nobody" in unknown


async def test_a_dialogue_left_for_hours_is_forgotten(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin = bot.user(1, "Mette", "da", username="mette")
    group = bot.group("Netværk Øst", admins=[admin])
    await bot.say(admin, "/setup", group)
    await bot.say(admin, "/newevent")  # asks for the title privately
    bot.clock.advance(timedelta(hours=13))
    reply = texts(await bot.say(admin, "Hej igen"), admin.id)
    assert reply and "/help" in reply[-1]  # not taken as an event title
    async with bot.services.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(m.Dialogue)) == 0
        assert await s.scalar(select(func.count()).select_from(m.Event)) == 0
