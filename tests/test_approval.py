"""Announcement caps and coordinators' approval of members' events, through the real Application:
at most 3 members' events a day reach followers; with `/settings approval on` none does before a
coordinator presses Approve; only the event's own network's coordinators may decide."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.db import models as m
from bot.testing.fake_bot_api import FakeChat, FakeUser
from bot.testing.harness import BotHarness, texts

CAPPED_DA = "men følgerne får ikke besked om det: medlemmer kan højst få 3 arrangementer om dagen"
PENDING_AR = "لقد سألت المنسّقين وسأخبرك بردّهم"
REQUEST_DA = "har oprettet et arrangement i Netværket. Skal jeg meddele det til netværkets følgere?"
REFUSED_DA = "Kun netværkets koordinatorer kan gøre det."
DEAD_DA = "Denne knap virker ikke længere."


async def _setup(bot: BotHarness) -> tuple[FakeUser, FakeChat, FakeUser, FakeUser]:
    admin = bot.user(1, "Mette", "da")
    group = bot.group("Netværket", admins=[admin])
    await bot.say(admin, "/setup", group)
    await bot.say(admin, "/start")  # the coordinator has a private chat with the bot
    follower = bot.user(5, "Sara", "da")
    await bot.say(follower, "/start net_netvaerket")
    member = bot.user(7, "Karim", "ar")
    await bot.say(member, "/start")
    await bot.say(member, "/events", group)  # a member of the group's network
    return admin, group, follower, member


async def _new_event_notices(bot: BotHarness, follower: FakeUser) -> int:
    await bot.run_due()
    return sum(
        "Nyt arrangement i Netværket" in (c.plain_text or "") for c in bot.api.sent_messages(follower.id)
    )


async def _states(bot: BotHarness) -> list[str]:
    async with bot.services.sessionmaker() as s:
        return list((await s.scalars(select(m.Event.announcement).order_by(m.Event.id))).all())


async def _notices(bot: BotHarness, kind: str) -> int:
    async with bot.services.sessionmaker() as s:
        return int(
            await s.scalar(select(func.count()).select_from(m.Notice).where(m.Notice.kind == kind)) or 0
        )


async def test_a_member_has_three_events_a_day_announced(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group, follower, _ = await _setup(bot)
    member = bot.user(8, "Jonas", "da")
    for i in range(1, 4):
        replies = texts(await bot.say(member, f"/newevent Møde {i} | 3. december kl. 17 | Egebæk", group))
        assert not any(CAPPED_DA in r for r in replies)
    assert await _new_event_notices(bot, follower) == 3
    replies = texts(await bot.say(member, "/newevent Møde 4 | 3. december kl. 17 | Egebæk", group))
    assert any("Møde 4" in r for r in replies)  # created, its card in the group
    assert any(CAPPED_DA in r for r in replies)
    assert await _new_event_notices(bot, follower) == 3
    assert await _states(bot) == ["announced"] * 3 + ["capped"]
    # Listed like any other event.
    listing = "\n".join(texts(await bot.say(member, "/events", group)))
    assert "Møde 4" in listing
    # A coordinator has no cap.
    for i in range(5):
        await bot.say(admin, f"/newevent Koordinering {i} | 4. december kl. 17 | Egebæk", group)
    assert await _new_event_notices(bot, follower) == 8
    # The next day the member has three again.
    await bot.advance(days=1)
    await bot.say(member, "/newevent Møde 5 | 5. december kl. 17 | Egebæk", group)
    assert await _new_event_notices(bot, follower) == 9


async def test_approval_then_announcement_and_the_member_told_in_their_language(
    clocked_bot: BotHarness,
) -> None:
    bot = clocked_bot
    admin, group, follower, member = await _setup(bot)
    replies = texts(await bot.say(admin, "/settings approval on", group))
    assert any("når en koordinator har godkendt dem" in r for r in replies)
    calls = await bot.say(member, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk", group)
    assert any(PENDING_AR in r for r in texts(calls, group.id))
    request = next(c for c in calls if c.chat_id == admin.id and c.buttons())
    assert REQUEST_DA in (request.plain_text or "") and "Fællesspisning" in (request.plain_text or "")
    assert [b["text"] for b in request.buttons()] == ["Godkend", "Afvis"]
    assert await _new_event_notices(bot, follower) == 0
    assert await _states(bot) == ["pending"]

    calls = await bot.press(admin, admin.id, request.message_id or 0, "Godkend")
    assert "Godkendt: følgerne får besked." in texts(calls)
    assert await _states(bot) == ["announced"]
    assert await _new_event_notices(bot, follower) == 1
    told = [c.plain_text or "" for c in bot.api.sent_messages(group.id)]
    assert any("وافق" in t and "Mette" in t and "Fællesspisning" in t for t in told)
    # A second press (or another coordinator's) changes nothing.
    await bot.press(
        admin, admin.id, request.message_id or 0, request.buttons()[0]["callback_data"], data=True
    )
    assert await _states(bot) == ["announced"]
    assert await _new_event_notices(bot, follower) == 1
    assert await _notices(bot, "approval_outcome") == 1


async def test_rejection_tells_the_member_and_nobody_else(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group, follower, member = await _setup(bot)
    await bot.say(admin, "/settings approval on", group)
    await bot.say(member, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk")  # privately
    request = next(c for c in bot.api.sent_messages(admin.id) if REQUEST_DA in (c.plain_text or ""))
    await bot.press(admin, admin.id, request.message_id or 0, "Afvis")
    assert await _states(bot) == ["rejected"]
    assert await _new_event_notices(bot, follower) == 0
    await bot.run_due()
    outcome = bot.api.sent_messages(member.id)[-1].plain_text or ""
    assert "لم يوافق" in outcome and "Fællesspisning" in outcome


async def test_request_goes_to_the_group_when_no_coordinator_can_be_written_to(
    clocked_bot: BotHarness,
) -> None:
    bot = clocked_bot
    admin, group, follower, member = await _setup(bot)
    await bot.say(admin, "/settings approval on", group)
    bot.api.block(admin.id)
    calls = await bot.say(member, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk", group)
    request = next(
        c for c in calls if c.chat_id == group.id and c.buttons() and REQUEST_DA in (c.plain_text or "")
    )
    bot.api.unblock(admin.id)
    await bot.press(admin, group, request.message_id or 0, "Godkend")
    assert await _states(bot) == ["announced"]
    assert await _new_event_notices(bot, follower) == 1


async def test_authorization_matrix(clocked_bot: BotHarness) -> None:
    """Member, outsider and another network's coordinator pressing Approve, and forged data: refused,
    nothing changed."""
    bot = clocked_bot
    admin, group, follower, member = await _setup(bot)
    await bot.say(admin, "/settings approval on", group)
    bot.api.block(admin.id)  # the request goes to the group, where anyone can press
    calls = await bot.say(member, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk", group)
    request = next(
        c for c in calls if c.chat_id == group.id and c.buttons() and REQUEST_DA in (c.plain_text or "")
    )
    bot.api.unblock(admin.id)
    approve = request.buttons()[0]["callback_data"]
    async with bot.services.sessionmaker() as s:
        event_id = int(await s.scalar(select(m.Event.id)) or 0)
    assert approve == f"appr:{event_id}:y"

    other_admin = bot.user(20, "Lars", "da")
    other_group = bot.group("Andet netværk", admins=[other_admin])
    await bot.say(other_admin, "/setup", other_group)
    await bot.say(other_admin, "/start")
    outsider = bot.user(30, "Ukendt", "da")
    await bot.say(outsider, "/start")
    member_da = bot.user(9, "Birgit", "da")
    await bot.say(member_da, "/events", group)

    for who in (member_da, outsider, other_admin):
        calls = await bot.press(who, group, request.message_id or 0, approve, data=True)
        assert texts(calls) == [REFUSED_DA], who
    # The member who created it may not approve their own event either.
    calls = await bot.press(member, group, request.message_id or 0, approve, data=True)
    assert texts(calls) == ["يمكن فقط لمنسقي الشبكة القيام بذلك."]
    # Forged data from a coordinator of another network, in their own chat.
    own = bot.api.sent_messages(other_admin.id)[-1]
    calls = await bot.press(other_admin, other_admin.id, own.message_id or 0, approve, data=True)
    assert texts(calls) == [REFUSED_DA]
    # Forged or stale data from the right coordinator: unknown event, unknown choice, bad id.
    for data in (f"appr:{event_id + 999}:y", f"appr:{event_id}:x", "appr:abc:y", f"appr:{event_id}"):
        calls = await bot.press(admin, group, request.message_id or 0, data, data=True)
        assert texts(calls) == [DEAD_DA], data
    assert await _states(bot) == ["pending"]
    assert await _new_event_notices(bot, follower) == 0
    assert await _notices(bot, "approval_outcome") == 0
    # The right coordinator still can.
    await bot.press(admin, group, request.message_id or 0, approve, data=True)
    assert await _states(bot) == ["announced"]


async def test_setting_needs_a_coordinator_and_a_valid_value(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group, _, member = await _setup(bot)
    replies = texts(await bot.say(member, "/settings approval on", group))
    assert replies and replies[0].startswith("⚠️")
    replies = texts(await bot.say(admin, "/settings approval maybe", group))
    assert replies and "/settings approval on" in replies[0] and replies[0].startswith("⚠️")
    async with bot.services.sessionmaker() as s:
        assert await s.scalar(select(m.Network.require_approval)) is False
