"""Bad input at scale, through the real application: Hypothesis generates callback data and command
arguments, the FakeBotAPI delivers them as updates, and after every one we check that

* no handler crashed (the application's error handler never ran, no apology was sent),
* everything the bot sent is valid for Telegram (the fake answers 400 for bad HTML, over-long or
  empty texts, a second answer to one button press, ...), and every press got an answer,
* the database changed only where that input may change it: a refused or malformed input (an
  answer or reply starting with "⚠️") changes nothing; a press of forged data changes nothing
  unless it names a real object its presser may act on, and then only that feature's tables;
  a user of another network changes nothing but their own following, reminders or data.

Dates have their own property tests (tests/test_properties.py); these cover the handlers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.commands import COMMANDS
from bot.db import models as m
from bot.render import events as rv
from bot.testing.fake_bot_api import Call, FakeChat, FakeUser, private_chat
from bot.testing.harness import BotHarness, texts
from handlers.router import CALLBACKS

APOLOGY = "Sorry, something went wrong"
# Bookkeeping of having seen someone (person rows, memberships) and the shared send budget may
# change on any update.
IGNORED_TABLES = {"persons", "memberships", "send_slots"}
# Columns the bot's background editors update after the fact (which revision a message shows).
IGNORED_COLUMNS = {"votes": {"shown_revision"}}

# Kinds of callback data: every registered one, the vote buttons (their own handler, before the
# router), and a few that do not exist.
KINDS = sorted({*CALLBACKS, "vote"})
FAKE_KINDS = ["", "nope", "VOTE", "ev ", "évé"]
# What a press of `kind:<real id>:value` by a member may change (features' own tables).
MEMBER_MAY_CHANGE: dict[str, set[str]] = {
    rv.KIND: {"rsvps", "notices"},
    "att": {"attendance"},
    "vote": {"ballots", "votes", "vote_voters"},
    "mobj": {"dialogues"},
    "evnet": {"dialogues"},
    "sub": {"notices"},
    "unsub": {"notices"},
    "rem": {"notices"},
    "forget": {t.name for t in m.Base.metadata.sorted_tables},  # forgetting oneself, confirmed
}
# A user of another network may only change their own settings.
OUTSIDER_MAY_CHANGE: dict[str, set[str]] = {
    k: MEMBER_MAY_CHANGE[k] for k in ("sub", "unsub", "rem", "forget")
}
REAL_VALUES = ["", "go", "no", "rem", "ics", "f", "a", "x", "d", "u", "w", "yes", "attending", "regrets"]
REAL_VALUES += ["substitute", "da", "ar", "ti", "en", "lang", "tz", "rules", "coord", "transl"]
ODD_IDS = ["", "all", "g1", "g2", "²", "³", "٣", "१", "𝟙", "1.5", " 1", "0x1", "1e3", "+1", "-0", "01", "1_0"]

IDS = st.one_of(
    st.integers(0, 12).map(str),
    st.integers(10**12, 10**40).map(str),
    st.integers(-(10**20), -1).map(str),
    st.sampled_from(ODD_IDS),
    st.text(max_size=12),
)
VALUES = st.one_of(st.sampled_from(REAL_VALUES), st.text(max_size=24))


def _fit(data: str, limit: int = 64) -> str:
    """Telegram refuses callback data over 64 bytes, so no press can carry more."""
    return data.encode()[:limit].decode(errors="ignore")


CALLBACK_DATA = st.one_of(
    st.text(max_size=64).map(_fit),
    st.builds(lambda k, i, v: _fit(f"{k}:{i}:{v}"), st.sampled_from(KINDS + FAKE_KINDS), IDS, VALUES),
    st.builds(lambda k, i: _fit(f"{k}:{i}"), st.sampled_from(KINDS), IDS),
)

# Command arguments: scripts and characters people write (RTL, Ge'ez, emoji, controls, HTML-like).
WORDS = st.sampled_from(
    [
        "Fællesspisning",
        "i morgen kl. 17",
        "3. december kl. 19",
        "2027-06-01 17:00",
        "Rådhuset",
        "غدا الساعة 5",
        "اجتماع",
        "ጽባሕ",
        "ኣኼባ",
        "🎉",
        "👩🏽‍🤝‍👩🏻",
        "<b>",
        "</b>",
        "<i>x</i>",
        "&",
        "&amp;",
        "&#0;",
        "<a href='x'>",
        "<",
        ">",
        "|",
        "||",
        "@",
        "@yonas",
        "voters",
        "quorum",
        "until",
        "two-thirds",
        "item",
        "rules",
        "tz",
        "Europe/Copenhagen",
        "\u202e",
        "\u2066",
        "\u200f",
        "\x00",
        "\x07",
        "\ufeff",
        "\n",
        "\t",
        "0",
        "1",
        "2",
        "-1",
        "99999999999999999999",
        "1e999",
        "NaN",
        "ev_1",
        "net_x",
        "/cancel",
    ]
)
ARGS = st.one_of(
    st.just(""),
    st.lists(WORDS, min_size=1, max_size=10).map(" ".join),
    st.lists(st.one_of(WORDS, st.text(max_size=30)), min_size=1, max_size=6).map(" | ".join),
    st.text(max_size=200),
    st.integers(-(10**30), 10**30).map(str),
    st.builds(lambda w, n: (w + " ") * n, WORDS, st.integers(50, 700)).map(lambda s: s[:5000]),
    st.text(min_size=4000, max_size=5000),
)

# VOLBOT_FUZZ_EXAMPLES=500 for a longer hunt; the default keeps the file well under a minute.
FUZZ = settings(
    max_examples=int(os.environ.get("VOLBOT_FUZZ_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@dataclass
class World:
    bot: BotHarness
    coord: FakeUser
    member: FakeUser
    outsider: FakeUser
    group_a: FakeChat
    group_b: FakeChat
    message_a: int  # a message of the bot in group A (the vote)
    message_b: int  # one in group B
    private_member: int  # one in the member's private chat
    private_outsider: int
    errors: list[BaseException] = field(default_factory=list)


def _last_sent(calls: list[Call], chat_id: int) -> int:
    ids = [c.message_id for c in calls if c.method == "sendMessage" and c.ok and c.chat_id == chat_id]
    assert ids and ids[-1], [str(c) for c in calls]
    return int(ids[-1])


async def _build(bot: BotHarness) -> World:
    coord = bot.user(1, "Mette", "da", username="mette")
    member = bot.user(3, "Yonas", "en", username="yonas")
    coord_b = bot.user(2, "Bent", "en", username="bent")
    outsider = bot.user(4, "Olga", "ar", username="olga")
    group_a = bot.group("Network A", admins=[coord])
    group_b = bot.group("Network B", admins=[coord_b])
    await bot.say(coord, "/setup Network A", group_a)
    await bot.say(coord_b, "/setup Network B", group_b)
    await bot.say(member, "hello", group_a)
    await bot.say(outsider, "hello", group_b)
    private_member = _last_sent(await bot.say(member, "/start"), member.id)
    private_outsider = _last_sent(await bot.say(outsider, "/start"), outsider.id)
    for text, who in (
        ("/newevent Fællesspisning | 2027-05-03 17:00 | Egebæk | Alle er velkomne", coord),
        ("/newmeeting 2027-06-01 17:00 | Library", coord),
        ("/additem Temaaften om idræt | Invitation fra DGI", member),
        ("/broadcast Dinner on Friday | at 2027-05-01 10:00", coord),
    ):
        replies = texts(await bot.say(who, text, group_a))
        assert replies and not replies[-1].startswith("⚠️"), (text, replies)
    message_a = _last_sent(await bot.say(coord, "/vote Shall we buy a projector?", group_a), group_a.id)
    message_b = _last_sent(await bot.say(coord_b, "/help", group_b), group_b.id)
    async with bot.services.sessionmaker() as s:
        for model in (m.Event, m.Meeting, m.AgendaItem, m.Vote, m.Broadcast):
            assert await s.scalar(select(model.id)) is not None, model
        assert await s.scalar(select(m.Vote.status)) == "open"
        assert await s.scalar(select(m.Broadcast.state)) == "scheduled"
    world = World(
        bot, coord, member, outsider, group_a, group_b, message_a, message_b, private_member, private_outsider
    )

    async def record(_update: object, context: Any) -> None:
        world.errors.append(context.error)

    bot.app.add_error_handler(record)
    await bot.api.wait_quiet()
    return world


@pytest.fixture
async def world(clocked_bot: BotHarness) -> AsyncIterator[World]:
    # The frozen clock (Monday 23 November 2026): the dates below stay in the future for good.
    bot = clocked_bot
    yield await _build(bot)
    # What background tasks (card and vote editors) sent after the last example is checked too.
    await bot.api.wait_quiet()
    assert not _bad_calls(bot.api.all_calls)


async def dump(bot: BotHarness) -> dict[str, list[tuple[str, ...]]]:
    out: dict[str, list[tuple[str, ...]]] = {}
    async with bot.services.sessionmaker() as s:
        for table in m.Base.metadata.sorted_tables:
            if table.name in IGNORED_TABLES:
                continue
            skip = IGNORED_COLUMNS.get(table.name, set())
            cols = [c for c in table.columns if c.name not in skip]
            rows = (await s.execute(select(*cols))).all()
            out[table.name] = sorted(tuple(map(repr, r)) for r in rows)
    return out


async def deliver(bot: BotHarness) -> None:
    """Deliver what is due now (a broadcast sent at once, notices), so it is neither missing from the
    answers nor changing the database behind a later example's back."""
    for _ in range(10):
        if not await bot.run_due():
            return


def changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def _bad_calls(calls: list[Call]) -> list[str]:
    """Calls Telegram would refuse because of what the bot sent (a 'not modified' edit is harmless)."""
    return [
        f"{c} {c.description} {str(c.params.get('text'))[:300]!r}"
        for c in calls
        if c.status == 400 and "not modified" not in (c.description or "")
    ]


def _check_no_crash(world: World, calls: list[Call], what: object) -> None:
    assert not world.errors, (what, [repr(e) for e in world.errors])
    assert not any(APOLOGY in t for t in texts(calls)), (what, texts(calls))
    assert not _bad_calls(calls), (what, _bad_calls(calls))


def _real_id(obj_id: str) -> bool:
    return obj_id.isascii() and obj_id.isdigit() and str(int(obj_id)) == obj_id


# --- callback data ---------------------------------------------------------------------------


@FUZZ
@given(data=CALLBACK_DATA)
# found by this test: digits int() does not read (str.isdigit() is true for "²") crashed handlers
@example(data="att:²:attending")
@example(data="vote:³:f")
@example(data="dec:²:")
@example(data=f"ev:{10**30}:go")
async def test_any_callback_data_is_answered_and_changes_only_what_it_may(world: World, data: str) -> None:
    bot = world.bot
    world.errors.clear()
    kind, _, rest = data.partition(":")
    obj_id = rest.partition(":")[0]
    presses = [
        (world.member, world.group_a.id, world.message_a, MEMBER_MAY_CHANGE),
        (world.member, world.member.id, world.private_member, MEMBER_MAY_CHANGE),
        (world.outsider, world.group_b.id, world.message_b, OUTSIDER_MAY_CHANGE),
        (world.outsider, world.outsider.id, world.private_outsider, OUTSIDER_MAY_CHANGE),
    ]
    for user, chat_id, message_id, may in presses:
        await deliver(bot)
        before = await dump(bot)
        start = len(bot.api.all_calls)
        calls = await bot.press(user, chat_id, message_id, data, data=True)
        what = (user.first_name, chat_id, data)
        _check_no_crash(world, calls, what)
        answers = [c for c in calls if c.method == "answerCallbackQuery"]
        assert len(answers) == 1 and answers[0].ok, (what, [str(c) for c in calls])
        after = await dump(bot)
        allowed = may.get(kind, set()) if _real_id(obj_id) else set()
        answer = str(answers[0].params.get("text") or "")
        if answer.startswith("⚠️") or answers[0].params.get("show_alert"):
            allowed = set()  # refused: nothing may change
        diff = changed(before, after)
        assert diff <= allowed, (what, diff, answer, texts(bot.api.all_calls[start:]))


# --- command arguments -----------------------------------------------------------------------

COMMAND_NAMES = [c.name for c in COMMANDS]


@FUZZ
@given(name=st.sampled_from(COMMAND_NAMES), args=ARGS, private=st.booleans(), coordinator=st.booleans())
# found by this test: numbers too big for the database, and digits int() does not read
@example(name="movemeeting", args="99999999999999999999 | 2027-08-01 17:00", private=False, coordinator=True)
@example(name="cancelmeeting", args="²", private=False, coordinator=True)
@example(name="event", args="²", private=True, coordinator=False)
@example(name="closevote", args="³", private=False, coordinator=True)
@example(name="vote", args="Q | voters --5", private=False, coordinator=True)
@example(name="decisions", args="\x00", private=False, coordinator=False)
@example(name="newevent", args="Spil\x00dag | i morgen kl. 18 | Bibliotek", private=False, coordinator=True)
async def test_any_command_arguments_get_a_clear_answer(
    world: World, name: str, args: str, private: bool, coordinator: bool
) -> None:
    """As a member, and as the coordinator (who gets past the permission checks to the parsing)."""
    bot = world.bot
    world.errors.clear()
    user = world.coord if coordinator else world.member
    chat = private_chat(user) if private else world.group_a
    text = f"/{name} {args}" if args else f"/{name}"
    await deliver(bot)
    before = await dump(bot)
    start = len(bot.api.all_calls)
    calls = await bot.say(user, text, chat)
    what = (name, chat.type, text[:200])
    replies = texts(calls)
    if replies and replies[0].startswith("⚠️"):
        after = await dump(bot)
        assert not changed(before, after), (what, changed(before, after), replies)
    await deliver(bot)  # a broadcast sent at once is answered by its progress message
    calls = bot.api.all_calls[start:]
    _check_no_crash(world, calls, what)
    assert texts(calls), what  # every command is answered
    # A dialogue the command may have started is left, so the next example starts clean.
    await bot.say(user, "/cancel", chat)
