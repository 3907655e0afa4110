"""Arabic as an Arabic reader sees it, checked with a real Unicode Bidirectional Algorithm (python-bidi,
the Rust unicode-bidi crate): every line of every kind of message reads right-to-left, and every
/command and /event_N link appears intact, as one left-to-right run, in the visual order."""

from __future__ import annotations

import re
import shutil

import pytest
from babel.messages.pofile import read_po, write_po
from bidi import get_base_level, get_display
from sqlalchemy import select

from bot import i18n_tools
from bot.bidi import FSI, LRM, PDI, RLM, bare_commands, first_strong, isolate, rtl_line
from bot.db import models as m
from bot.i18n import get_translator
from bot.testing.fake_bot_api import Call
from bot.testing.harness import BotHarness, texts

CONTROLS = re.compile("[\u200e\u200f\u2066-\u2069\u202a-\u202e]")
ARABIC = re.compile("[\u0600-\u06ff]")
# A bot command as Telegram links it: "/" after a non-word character, then [A-Za-z0-9_] up to a
# character outside that set (an isolate mark too: "/event_⁨12⁩" links only "/event_").
LINKED = re.compile(r"(?<![\w/])/[A-Za-z][A-Za-z0-9_]*")


def problems(text: str) -> list[str]:
    """What an Arabic reader would see wrong in `text` (the message as Telegram shows it)."""
    found = []
    for line in text.split("\n"):
        if not CONTROLS.sub("", line).strip():
            continue
        if get_base_level(line) != 1:
            found.append(f"line reads left-to-right: {line!r}")
        shown = CONTROLS.sub("", get_display(line))
        linked = LINKED.findall(line)
        # What the person would type: the same text without the invisible marks.
        typed = LINKED.findall(CONTROLS.sub("", line))
        if linked != typed:
            found.append(f"commands cut by a mark: Telegram links {linked}, the text says {typed}: {line!r}")
        for command in typed:
            if command not in shown:
                found.append(f"{command} is not one left-to-right run in the visual order {shown!r}")
    return found


def arabic(calls: list[Call], chat_id: int | None = None) -> list[str]:
    return [t for t in texts(calls, chat_id) if ARABIC.search(t)]


# --- the checker itself, on known good and bad text ----------------------------------------------


def test_the_old_isolated_id_is_caught_and_no_longer_made() -> None:
    # Before: the id was isolated inside the command, so Telegram linked only "/event_".
    old = f"{RLM}• الخميس — عشاء، القاعة (/event_{isolate('12')})"
    assert any("commands cut by a mark" in p for p in problems(old))
    assert any("/event_12 is not one left-to-right run" in p for p in problems(old))
    # A command without a left-to-right mark after Arabic text reads "language/".
    assert any("/language is not one" in p for p in problems("لتغيير اللغة أرسل /language الآن"))
    assert problems(f"لتغيير اللغة أرسل {LRM}/language الآن") == []
    # A line starting with an isolated Latin value takes the left-to-right direction.
    place = f"📍 {isolate('Egebæk')}"
    assert problems(place) == [f"line reads left-to-right: {place!r}"]
    assert problems(RLM + place) == [] and get_base_level(f"{isolate('Egebæk')} نص") == 1
    # Now: the list line as the renderer passes it (id as a string) keeps the id bare.
    ar = get_translator("ar")
    line = ar._(
        "• {when} — <b>{title}</b>, {place} (/event_{id})",
        when="٣ ديسمبر",
        title="Fællesspisning",
        place="Egebæk",
        id="12",
    )
    assert "/event_12" in line and f"{FSI}12{PDI}" not in line
    assert problems(line.replace("<b>", "").replace("</b>", "")) == []


def test_translator_isolates_each_line_and_starts_lines_right_to_left() -> None:
    ar = get_translator("ar")
    out = ar._("{title} — presented by {name}", title="Madklub\nHvem hjælper?", name="Mette")
    lines = out.split("\n")
    assert lines[0].startswith(RLM + FSI + "Madklub" + PDI) and lines[1].startswith(
        FSI + "Hvem hjælper?" + PDI
    )
    assert all(get_base_level(line) == 1 for line in lines)
    assert ar.own("a\nb") == f"{FSI}a{PDI}\n{FSI}b{PDI}"
    da = get_translator("da")
    assert da.own("a <b>\nb") == "a &lt;b&gt;\nb" and da.lines("📍 x") == "📍 x"
    # Language names inside Arabic text are Arabic.
    assert ar.language_name("da") == "الدانمركية" and get_translator("ti").language_name("ar") == "ዓረብኛ"
    assert first_strong(f"{FSI}abc{PDI} نص") == "R" and rtl_line("<b>نص</b>") == "<b>نص</b>"


def test_check_fails_on_an_arabic_command_without_a_mark(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    locales = tmp_path / "locales"
    shutil.copytree(i18n_tools.LOCALES_DIR, locales)
    monkeypatch.setattr(i18n_tools, "LOCALES_DIR", locales)
    monkeypatch.setattr(i18n_tools, "POT", locales / "messages.pot")
    path = locales / "ar" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale="ar")
    target = next(msg for msg in catalog if isinstance(msg.string, str) and f"{LRM}/help" in msg.string)
    assert i18n_tools.check(("ar",)) == []
    target.string = str(target.string).replace(LRM, "")
    with path.open("wb") as f:
        write_po(f, catalog)
    found = i18n_tools.check(("ar",))
    expected = [
        f"ar: {c} has no LEFT-TO-RIGHT MARK (U+200E) before it in {target.id[:60]!r}"
        for c in bare_commands(target.string)
    ]
    assert "/help" in bare_commands(target.string) and found == expected, found
    assert bare_commands(f"نص {RLM}/help") == ["/help"] and bare_commands(f"نص {LRM}/help") == []


# --- every kind of message an Arabic reader gets, through the real bot ------------------------


async def test_every_message_an_arabic_reader_gets(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin = bot.user(1, "Mette", "da")
    amal = bot.user(2, "Amal", "ar")
    group = bot.group("Integrationsnetværket Rudersdal", admins=[admin])
    seen: dict[str, list[str]] = {}

    def keep(kind: str, got: list[str]) -> list[str]:
        assert got, f"no Arabic message for {kind}"
        seen.setdefault(kind, []).extend(got)
        return got

    await bot.say(admin, "/setup", group)
    await bot.say(admin, "/settings language ar", group)
    keep("start", arabic(await bot.say(amal, "/start")))
    keep("help", arabic(await bot.say(amal, "/help")))
    keep("follow", arabic(await bot.say(amal, "/start net_integrationsnetvaerket-rudersdal")))
    keep("reminder settings", arabic(await bot.say(amal, "/reminders")))
    keep("language choice", arabic(await bot.say(amal, "/language")))
    keep("privacy", arabic(await bot.say(amal, "/mydata")))
    keep("help in the group", arabic(await bot.say(amal, "/help", group), group.id))

    # An event: the card in the (Arabic) group, and the announcement to the follower.
    calls = await bot.say(
        admin,
        "/newevent Fællesspisning for alle | 3. december kl. 17 | Egebæk Medborgerhus | "
        "Alle er velkomne.\nTag gerne mad med.",
        group,
    )
    card = keep("event card in the group", arabic(calls, group.id))
    assert "Tag gerne mad med." in card[0]
    await bot.run_due()
    keep("announcement", arabic(bot.api.sent_messages(amal.id)[-1:]))
    async with bot.services.sessionmaker() as s:
        eid = await s.scalar(select(m.Event.id))
    listing = keep("events list", arabic(await bot.say(amal, "/events")))
    assert f"/event_{eid}" in listing[0]
    keep("event card", arabic(await bot.say(amal, f"/event_{eid}")))
    keep("events list in the group", arabic(await bot.say(amal, "/events", group), group.id))

    # A meeting with an agenda (an item with a two-line description), then a vote and its result.
    mark = len(bot.api.all_calls)
    await bot.say(admin, "/newmeeting 2026-12-10 17:00 | Rådhuset, mødelokale 2", group)
    await bot.run_due()
    keep("meeting call", arabic(bot.api.all_calls[mark:], group.id))
    keep(
        "agenda item",
        arabic(
            await bot.say(amal, "/additem Madklub i Birkerød | Hvem hjælper?\nVi mangler 3 personer", group)
        ),
    )
    keep("agenda", arabic(await bot.say(amal, "/agenda", group), group.id))
    calls = await bot.say(admin, "/vote Skal vi holde sommerfest 21. juni? | two-thirds", group)
    vote = next(c for c in calls if c.method == "sendMessage" and c.chat_id == group.id)
    keep("vote", arabic([vote]))
    keep("vote pressed", arabic(await bot.press(amal, group, vote.message_id or 0, 0)))
    keep("vote result", arabic(await bot.say(admin, "/closevote", group), group.id))
    keep("decisions", arabic(await bot.say(amal, "/decisions")))
    keep("meetings", arabic(await bot.say(amal, "/meetings")))

    # A broadcast written in Danish: the original with a note in Arabic.
    await bot.say(admin, "/broadcast Fællesspisning i aften kl. 18\nHusk en ret til buffeten", group)
    await bot.run_due()
    broadcast = keep("broadcast note", arabic(bot.api.sent_messages(amal.id)[-1:]))
    assert "الدانمركية" in broadcast[0] and "Dansk" not in broadcast[0]

    # Errors.
    keep("error: no such event", arabic(await bot.say(amal, "/event 99999")))
    keep("error: not a coordinator", arabic(await bot.say(amal, "/vote Må jeg?", group), group.id))
    keep("error: unreadable date", arabic(await bot.say(amal, "/newevent Test | den 45. blah | Her")))
    keep("error: not understood", arabic(await bot.say(amal, "hej")))

    # The reminder, a day before the event (and the agenda notices on the way).
    await bot.advance(days=9, hours=8)
    keep("reminder", [t for t in arabic(bot.api.sent_messages(amal.id)[-6:]) if "⏰" in t])

    failures = [f"{kind}: {p}" for kind, got in seen.items() for text in got for p in problems(text)]
    assert failures == [], "\n".join(failures)
    # Every /command the bot wrote to the Arabic reader was there to be checked.
    commands = {c for got in seen.values() for text in got for c in LINKED.findall(text)}
    assert {"/help", "/language", f"/event_{eid}", "/reminders", "/decisions"} <= commands, commands


@pytest.mark.parametrize("lang", ["da", "en", "ti"])
def test_left_to_right_languages_get_no_marks(lang: str) -> None:
    t = get_translator(lang)
    out = t._("• {when} — <b>{title}</b>, {place} (/event_{id})", when="x", title="y\nz", place="p", id="12")
    assert not CONTROLS.search(out) and "/event_12" in out
