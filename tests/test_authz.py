"""The authorization matrix: every coordinator-only command (from bot.commands) and every button of
their messages, tried as a member, as an outsider and as a coordinator of another network. Each is
refused, and a dump of every table is the same before and after (only the bookkeeping of having
seen someone — persons, memberships — may change)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.commands import COMMANDS
from bot.db import models as m
from bot.testing.fake_bot_api import Call, FakeChat, private_chat
from bot.testing.harness import BotHarness, texts

# Callback kinds only coordinators may use (members' buttons — votes, attendance, RSVPs,
# objections — are checked by the features' own tests).
COORDINATOR_KINDS = {"settings", "late_item_decide", "broadcast_cancel", "broadcast_network"}
SEEN_TABLES = {"persons", "memberships"}


async def dump(bot: BotHarness) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with bot.services.sessionmaker() as s:
        for table in m.Base.metadata.sorted_tables:
            if table.name in SEEN_TABLES:
                continue
            rows = (await s.execute(select(table))).all()
            out[table.name] = sorted((tuple(map(repr, r)) for r in rows), key=repr)
    return out


def coordinator_buttons(calls: list[Call]) -> list[tuple[int, int, str]]:
    found = []
    for c in calls:
        if c.method not in ("sendMessage", "editMessageText", "sendDocument") or not c.ok:
            continue
        for b in c.buttons():
            kind = str(b.get("callback_data", "")).split(":", 1)[0]
            if kind in COORDINATOR_KINDS and c.chat_id is not None:
                found.append((c.chat_id, c.message_id or 0, b["callback_data"]))
    return found


async def network_id(bot: BotHarness, chat_id: int) -> int:
    async with bot.services.sessionmaker() as s:
        nid = await s.scalar(select(m.Network.id).where(m.Network.chat_id == chat_id))
    assert nid is not None
    return int(nid)


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


async def test_coordinator_commands_and_buttons_refused_for_everyone_else(clocked_bot: BotHarness) -> None:
    bot = clocked_bot  # frozen at Monday 23 November 2026: the dates below stay in the future for good
    coord_a = bot.user(1, "Mette", "en", username="mette")
    coord_b = bot.user(2, "Bent", "en", username="bent")
    member = bot.user(3, "Yonas", "en", username="yonas")
    outsider = bot.user(4, "Olga", "en", username="olga")
    group_a = bot.group("Network A", admins=[coord_a])
    group_b = bot.group("Network B", admins=[coord_b])
    await bot.say(coord_a, "/setup Network A", group_a)
    await bot.say(coord_b, "/setup Network B", group_b)
    await bot.say(member, "hello", group_a)
    await bot.say(outsider, "/start")
    await bot.say(coord_b, "/start")
    await bot.say(member, "/start")

    # Network A's coordinator creates what the others will try to touch.
    coord_calls: list[Call] = []
    for text in (
        "/settings",
        "/newmeeting 2027-06-01 17:00 | Library",
        "/vote Shall we buy a projector?",
        "/broadcast Dinner on Friday | at 2027-05-01 10:00",
        "/broadcast",
        "/newevent Fællesspisning | 2027-05-02 17:00 | Egebæk",  # issue 13: its places, guests, tasks
        "/places 1 3",
        "/addtask 1 Smagsprøver | 2",
    ):
        coord_calls += await bot.say(coord_a, text, group_a)
    async with bot.services.sessionmaker() as s:
        meeting_id = await s.scalar(select(m.Meeting.id))
        vote_id = await s.scalar(select(m.Vote.id))
        broadcast_id = await s.scalar(select(m.Broadcast.id))
    assert meeting_id and vote_id and broadcast_id, (meeting_id, vote_id, broadcast_id)
    buttons = coordinator_buttons(coord_calls)
    network_a = await network_id(bot, group_a.id)
    # forged data naming A's objects, as someone could write into any button of theirs
    buttons += [
        (group_a.id, buttons[0][1], f"bccancel:{broadcast_id}:"),
        (group_a.id, buttons[0][1], f"bcnet:{network_a}:"),
        (group_a.id, buttons[0][1], f"set:{network_a}:rules"),
        (group_a.id, buttons[0][1], f"dlvnet:{network_a}:"),
    ]
    assert any(data.startswith("settings:") for _c, _m, data in buttons), buttons
    # issue 13: the creator-or-coordinator commands, tried by everyone else (the creator is A's coordinator)
    creator_or_coordinator = ["/places 1 0", "/places 1 40", "/addtask 1 Opvask", "/removetask 1"]

    args = {
        "settings": "rules 5 3 3 3",
        "newmeeting": "2027-07-01 17:00 | Town hall",
        "attendance": str(meeting_id),
        "movemeeting": f"{meeting_id} | 2027-08-01 17:00",
        "cancelmeeting": str(meeting_id),
        "vote": "Shall we close the network?",
        "closevote": str(vote_id),
        "handcount": f"{vote_id} 9 0 0",
        "minutes": str(meeting_id),
        "broadcast": "Spam for every follower",
        "deliveries": "",
        # issue 13
        "addguest": "1 Amira",
        "interpreters": "1 confirm ar",
        "parent": "network-b",
        # issue 17
        "invite": "",
    }
    coordinator_only = [c for c in COMMANDS if c.who == "coordinator"]
    assert {c.name for c in coordinator_only} <= set(args), "a new coordinator command needs arguments here"

    # let what A's coordinator caused be delivered first (notices due now), so only the attempts count
    await bot.run_due()
    await bot.api.wait_quiet()
    before = await dump(bot)
    attempts: list[tuple[str, str, FakeChat]] = []
    for c in coordinator_only:
        text = f"/{c.name} {args[c.name]}"
        if c.where in ("group", "both"):
            attempts += [("member", text, group_a), ("coordinator of B", text, group_a)]
        if c.where in ("private", "both"):
            attempts.append(("outsider", text, private_chat(outsider)))
            attempts.append(("member", text, private_chat(member)))
    for text in creator_or_coordinator:
        attempts += [("member", text, group_a), ("coordinator of B", text, group_a)]
        attempts += [("outsider", text, private_chat(outsider)), ("member", text, private_chat(member))]
    who = {"member": member, "coordinator of B": coord_b, "outsider": outsider}
    for role, text, chat in attempts:
        replies = texts(await bot.say(who[role], text, chat))
        assert replies, (role, text)
        after = await dump(bot)
        assert not changed(before, after), (role, text, changed(before, after), replies)

    # Buttons of the coordinator's messages: pressed where they are, and forged into other chats.
    for chat_id, message_id, data in buttons:
        presses: list[tuple[Any, int, int]] = [(member, chat_id, message_id), (coord_b, chat_id, message_id)]
        for user, chat in ((outsider, private_chat(outsider)), (coord_b, group_b)):
            # a message of the bot in that chat, carrying network A's callback data
            sent = bot.api.sent_messages(chat.id)
            if sent and sent[-1].message_id:
                presses.append((user, chat.id, sent[-1].message_id))
        for user, where, mid in presses:
            calls = await bot.press(user, where, mid, data, data=True)
            after = await dump(bot)
            assert not changed(before, after), (user.first_name, data, changed(before, after), texts(calls))
