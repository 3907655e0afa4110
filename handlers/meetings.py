"""/newmeeting, /meetings, /attendance, /movemeeting, /cancelmeeting and the attendance buttons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import agenda as ag
from bot.domain import meetings as mt
from bot.domain import people
from bot.domain.errors import UserError
from bot.domain.when import parse_when
from bot.i18n import N_
from bot.render import meetings as rm
from handlers import meeting_series
from handlers.common import Ctx, group_admins, handler
from handlers.dialogue import Form, Step, begin, register_form, run_oneline
from handlers.router import on_callback, parse_id

NEWMEETING_EXAMPLE = N_("/newmeeting 2027-04-06 17:00 | Town hall, meeting room 2")
ATTENDANCE_VALUES = {"a": "attending", "r": "regrets", "s": "substitute"}


async def admin_ids(ctx: Ctx, network: m.Network) -> frozenset[int]:
    return await group_admins(ctx.services, ctx.context, network.chat_id)


async def parse_meeting_time(ctx: Ctx, text: str, data: dict[str, Any]) -> Any:
    network = await ctx.require_network()
    several = await meeting_series.meeting_dates(ctx, text, network)  # series hook: dates or a rhythm
    if several is not None:
        return several
    moment = parse_when(text, network.timezone, ctx.now, ctx.t.lang)
    if moment <= ctx.now:
        raise UserError(N_("That time has already passed. Example: /newmeeting 2027-04-06 17:00 | Rådhuset"))
    return moment.isoformat()


async def finish_newmeeting(ctx: Ctx, data: dict[str, Any]) -> None:
    network = await ctx.require_coordinator()
    if isinstance(data["when"], dict):  # series hook: a meeting series
        await meeting_series.finish_newmeeting(ctx, data, await admin_ids(ctx, network))
        return
    starts_at = datetime.fromisoformat(data["when"])
    meeting = await mt.create_meeting(
        ctx.session,
        network,
        ctx.person,
        starts_at,
        data.get("place") or "",
        ctx.now,
        await admin_ids(ctx, network),
    )
    deadline = mt.deadline_of(meeting, network)
    t = ctx.t
    if deadline <= ctx.now:
        # Planned less than the deadline ahead: items go to the coordinators from the start.
        await ctx.reply(
            t._(
                "Meeting {id} is planned: {meeting}.\nThe deadline for agenda items ({deadline}) has "
                "already passed: items sent now go to the coordinators. The notice goes out now.",
                id=meeting.id,
                meeting=rm.meeting_line(t, network, meeting),
                deadline=rm.when(t, network, deadline),
            )
        )
        return
    await ctx.reply(
        t._(
            "Meeting {id} is planned: {meeting}.\nAgenda items are due by {deadline}; "
            "the notice with the call for items goes out now.",
            id=meeting.id,
            meeting=rm.meeting_line(t, network, meeting),
            deadline=rm.when(t, network, deadline),
        )
    )


register_form(
    Form(
        "newmeeting",
        [
            Step(
                "when",
                N_("When is the meeting? For example: 6. april kl. 17 or 2027-04-06 17:00"),
                parse_meeting_time,
            ),
            Step("place", N_("Where is the meeting?")),
        ],
        finish_newmeeting,
        example=NEWMEETING_EXAMPLE,
    )
)


@handler
async def newmeeting(ctx: Ctx) -> None:
    if not ctx.is_group:
        raise UserError(N_("Use this command in your network's group."))
    await ctx.require_coordinator()
    if not ctx.arg_text:
        await begin(ctx, "newmeeting")
        return
    from handlers.common import split_fields

    await run_oneline(ctx, "newmeeting", split_fields(ctx.arg_text, 2))


async def networks_here(ctx: Ctx) -> list[m.Network]:
    if ctx.network is not None:
        return [ctx.network]
    if ctx.is_group:
        await ctx.require_network()
    if ctx.person is None:
        return []
    return list(await people.person_networks(ctx.session, ctx.person))


@handler
async def meetings(ctx: Ctx) -> None:
    networks = await networks_here(ctx)
    t = ctx.t
    if not networks:
        await ctx.reply(t._("You do not follow any network yet. /subscribe shows how."))
        return
    lines: list[str] = []
    for network in networks:
        found = await mt.upcoming(ctx.session, [network.id], ctx.now, 5)
        lines.append(t._("<b>{network}</b>", network=network.name))
        if not found:
            lines.append(t._("No further meetings are planned yet."))
        for meeting in found:
            lines.append("• " + rm.meeting_line(t, network, meeting))
        lines.append("")
    lines.append(t._("/agenda shows the agenda of the next meeting."))
    await ctx.reply(t.lines("\n".join(lines)))


def meeting_id_arg(ctx: Ctx, example: str) -> int | None:
    words = ctx.arg_text.split()
    if not words:
        return None
    first = words[0].lstrip("#")
    if not first.isdecimal() or len(first) > 9:
        raise UserError(N_("Write the meeting's number. Example: {example}"), example=example)
    return int(first)


async def meeting_for(ctx: Ctx, meeting_id: int | None) -> tuple[m.Meeting, m.Network]:
    """The given meeting (of a network this person may see), else the next one here."""
    networks = await networks_here(ctx)
    if not networks:
        raise UserError(N_("You do not follow any network yet. /subscribe shows how."))
    by_id = {n.id: n for n in networks}
    if meeting_id is not None:
        meeting = await mt.get_meeting(ctx.session, meeting_id, by_id)
        return meeting, by_id[meeting.network_id]
    found = await mt.upcoming(ctx.session, by_id, ctx.now, 1)
    if not found:
        if len(networks) == 1:
            await mt.next_meeting(ctx.session, networks[0], ctx.now)
        raise UserError(N_("No further meetings are planned yet."))
    return found[0], by_id[found[0].network_id]


@handler
async def attendance_command(ctx: Ctx) -> None:
    meeting, network = await meeting_for(ctx, meeting_id_arg(ctx, "/attendance 3"))
    await ctx.require_coordinator(network)
    who = await ag.attendance(ctx.session, meeting.id)
    await ctx.reply(rm.attendance_text(ctx.t, network, meeting, who))


@handler
async def movemeeting(ctx: Ctx) -> None:
    from handlers.common import split_fields

    example = "/movemeeting 3 | 2027-04-13 17:00"
    fields = split_fields(ctx.arg_text, 2)
    number = fields[0].lstrip("#") if fields else ""
    if len(fields) < 2 or not number.isdecimal() or len(number) > 9 or not fields[1]:
        raise UserError(
            N_("Write the meeting's number and the new time. Example: {example}"), example=example
        )
    meeting, network = await meeting_for(ctx, int(number))
    await ctx.require_coordinator(network)
    starts_at = parse_when(fields[1], network.timezone, ctx.now, ctx.t.lang)
    if await meeting_series.ask_scope(ctx, meeting, "move", starts_at.isoformat()):  # series hook
        return
    await move_single(ctx, meeting, network, starts_at)


async def move_single(ctx: Ctx, meeting: m.Meeting, network: m.Network, starts_at: datetime) -> None:
    await mt.move_meeting(ctx.session, meeting, network, starts_at, ctx.now, await admin_ids(ctx, network))
    await ctx.reply(
        ctx.t._(
            "Meeting {id} moved: {meeting}. The notices follow the new time.",
            id=meeting.id,
            meeting=rm.meeting_line(ctx.t, network, meeting),
        )
        + "\n"
        + ctx.t._("The group, those who said they attend and the followers are told.")
    )


@handler
async def cancelmeeting(ctx: Ctx) -> None:
    meeting_id = meeting_id_arg(ctx, "/cancelmeeting 3")
    if meeting_id is None:
        raise UserError(N_("Write the meeting's number. Example: {example}"), example="/cancelmeeting 3")
    meeting, network = await meeting_for(ctx, meeting_id)
    await ctx.require_coordinator(network)
    if await meeting_series.ask_scope(ctx, meeting, "cancel", ""):  # series hook
        return
    await cancel_single(ctx, meeting, network)


async def cancel_single(ctx: Ctx, meeting: m.Meeting, network: m.Network) -> None:
    await mt.cancel_meeting(ctx.session, meeting, network, ctx.now)
    await ctx.reply(
        ctx.t._("Meeting {id} is cancelled; its notices will not be sent.", id=meeting.id)
        + "\n"
        + ctx.t._("The group, those who said they attend and the followers are told.")
    )


@on_callback("attendance")
async def attendance_button(ctx: Ctx, obj_id: str, value: str) -> None:
    status = ATTENDANCE_VALUES.get(value)
    meeting = await ctx.session.get(m.Meeting, parse_id(obj_id))
    if status is None or meeting is None or ctx.person is None:
        raise UserError(N_("This button no longer works."))
    if meeting.starts_at <= ctx.now:
        raise UserError(N_("That meeting can no longer be changed."))
    await ag.set_attendance(ctx.session, meeting, ctx.person, status, ctx.now)
    labels = {"attending": N_("Attending"), "regrets": N_("Regrets"), "substitute": N_("Substitute")}
    # Translators: popup after a meeting answer; {answer} is "Attending", "Regrets" or "Substitute".
    await ctx.answer(ctx.t.plain("Noted: {answer}", answer=ctx.t.plain(labels[status])))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("newmeeting", newmeeting), group=0)
    app.add_handler(CommandHandler("meetings", meetings), group=0)
    app.add_handler(CommandHandler("attendance", attendance_command), group=0)
    app.add_handler(CommandHandler("movemeeting", movemeeting), group=0)
    app.add_handler(CommandHandler("cancelmeeting", cancelmeeting), group=0)
