"""Meeting series: /newmeeting with several dates ("17. maj, 30. august og 22. november kl. 16.30") or a
rhythm ("hver 3. måned fra 6. april kl. 17", "every 3 months from 6 April 17:00"); /movemeeting and
/cancelmeeting on a meeting of a series ask `Only this one` · `This and later ones`.

Each meeting is an ordinary meeting with its own notice cycle (bot/domain/meetings.py); its notices
already list the network's next meeting dates. handlers/meetings.py calls in here at marked hooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from telegram.ext import Application

from bot.db import models as m
from bot.domain import meetings as mt
from bot.domain import recurrence as rr
from bot.domain import series as sr
from bot.domain.errors import UserError
from bot.i18n import N_, Raw
from bot.render import meetings as rm
from bot.render import series as rs
from bot.render.keyboard import Button, callback
from handlers.common import Ctx
from handlers.router import on_callback, parse_id

SCOPE = "mscope"


async def meeting_dates(ctx: Ctx, text: str, network: m.Network) -> dict[str, Any] | None:
    """Several dates or a rhythm, as the dialogue stores them; None for one date."""
    dates = rr.parse_date_list(text, network.timezone, ctx.now)
    if dates is not None:
        return {"dates": [d.isoformat() for d in dates], "rule": None}
    repeat = rr.parse_repeat(text, network.timezone, ctx.now, ctx.t.lang)
    if repeat is None:
        return None
    return {"dates": [repeat.start.isoformat()], "rule": repeat.rule}


async def finish_newmeeting(ctx: Ctx, data: dict[str, Any], coordinator_ids: frozenset[int]) -> None:
    network = await ctx.require_coordinator()
    when = data["when"]
    starts = [datetime.fromisoformat(d) for d in when["dates"]]
    if starts[0] <= ctx.now:
        raise UserError(N_("That time has already passed. Example: /newmeeting 2027-04-06 17:00 | Rådhuset"))
    series, meetings = await sr.create_meeting_series(
        ctx.session,
        network,
        ctx.person,
        place=data.get("place") or "",
        starts=starts,
        rule=when.get("rule"),
        now=ctx.now,
        coordinator_ids=sorted(coordinator_ids),
    )
    t = ctx.t
    lines = [t.n_("{n} meeting is planned:", "{n} meetings are planned:", len(meetings))]
    lines += ["• " + rm.meeting_line(t, network, meeting) for meeting in meetings]
    if series.rrule:
        lines.append(
            "🔁 " + t._("{rhythm}; the later dates are added as the time comes.", rhythm=rs.rhythm(series, t))
        )
    lines.append(
        t._("Each meeting has its own notices: the call for agenda items, the final agenda, the reminder.")
    )
    await ctx.reply("\n".join(lines))


async def ask_scope(ctx: Ctx, meeting: m.Meeting, op: str, value: str) -> bool:
    """On a meeting of a series with later ones, ask which are meant; True when asked."""
    if meeting.series_id is None or meeting.status != "scheduled":
        return False
    later = await ctx.session.scalar(
        select(m.Meeting.id)
        .where(
            m.Meeting.series_id == meeting.series_id,
            m.Meeting.status == "scheduled",
            m.Meeting.starts_at > meeting.starts_at,
        )
        .limit(1)
    )
    if later is None:
        return False
    from handlers.dialogue import remember

    await remember(ctx, "mseries_scope", {"meeting_id": meeting.id, "op": op, "value": value[:500]})
    keyboard = [
        [
            # TRANSLATORS: button: change only the chosen date of a series
            Button(ctx.t.plain("Only this one"), callback(SCOPE, meeting.id, "one")),
            # TRANSLATORS: button: change the chosen date and every later one of the series
            Button(ctx.t.plain("This and later ones"), callback(SCOPE, meeting.id, "later")),
        ]
    ]
    network = await ctx.session.get(m.Network, meeting.network_id)
    assert network is not None
    line = Raw(rm.meeting_line(ctx.t, network, meeting))
    if op == "cancel":
        text = ctx.t._(
            "Meeting {meeting} is one of a series. Cancel only this one, or this and the later ones?",
            meeting=line,
        )
    else:
        text = ctx.t._(
            "Meeting {meeting} is one of a series. Move only this one, or this and the later ones?",
            meeting=line,
        )
    await ctx.reply(text, keyboard)
    return True


@on_callback(SCOPE)
async def scope_button(ctx: Ctx, obj_id: str, value: str) -> None:
    from handlers import meetings as hm

    meeting_id = parse_id(obj_id)
    pending = None
    if ctx.person is not None:
        pending = await ctx.session.scalar(
            select(m.Dialogue).where(
                m.Dialogue.chat_id == ctx.chat.id,
                m.Dialogue.user_tg_id == ctx.person.tg_id,
                m.Dialogue.kind == "mseries_scope",
            )
        )
    if pending is None or pending.data.get("meeting_id") != meeting_id or value not in ("one", "later"):
        raise UserError(N_("This button no longer works."))
    data = dict(pending.data)
    await ctx.session.delete(pending)
    await ctx.session.flush()
    meeting, network = await hm.meeting_for(ctx, meeting_id)
    await ctx.require_coordinator(network)
    await ctx.answer()
    if value == "one":
        if data["op"] == "cancel":
            await hm.cancel_single(ctx, meeting, network)
        else:
            await hm.move_single(ctx, meeting, network, datetime.fromisoformat(data["value"]))
        return
    later = list(
        (
            await ctx.session.scalars(
                select(m.Meeting)
                .where(
                    m.Meeting.series_id == meeting.series_id,
                    m.Meeting.status == "scheduled",
                    m.Meeting.starts_at >= meeting.starts_at,
                )
                .order_by(m.Meeting.starts_at)
            )
        ).all()
    )
    series = await ctx.session.get(m.Series, meeting.series_id)
    zone = ZoneInfo(network.timezone)
    admins = await hm.admin_ids(ctx, network)
    if data["op"] == "cancel":
        for item in later:
            await mt.cancel_meeting(ctx.session, item, network, ctx.now)
        if series is not None:
            series.status = "cancelled"
            series.updated_at = ctx.now
        await ctx.reply(
            ctx.t.n_(
                "{n} meeting is cancelled; its notices will not be sent.",
                "{n} meetings are cancelled; their notices will not be sent.",
                len(later),
            )
            + "\n"
            + ctx.t._("The group, those who said they attend and the followers are told.")
        )
    else:
        new_start = datetime.fromisoformat(data["value"])
        shift = (new_start.astimezone(zone).date() - meeting.starts_at.astimezone(zone).date()).days
        clock = new_start.astimezone(zone).time()
        if series is not None and series.rrule:
            rr.shifted_days(
                series.rrule, shift
            )  # a monthly rule refuses a change of weekday, before any move

        def moved(moment: datetime) -> datetime:
            day = moment.astimezone(zone).date() + timedelta(days=shift)
            return datetime.combine(day, clock).replace(tzinfo=zone, fold=0).astimezone(UTC)

        # Latest first, so a move never lands on a meeting of the series not yet moved.
        for item in sorted(later, key=lambda x: x.starts_at, reverse=shift >= 0):
            await mt.move_meeting(ctx.session, item, network, moved(item.starts_at), ctx.now, admins)
        if series is not None:
            if series.rrule:
                # The rule goes on from the moved meeting (the dates before it are made already).
                series.dtstart = moved(meeting.starts_at)
                series.rrule = (
                    rr.shifted_days(series.rrule, shift) if "BYDAY" in series.rrule else series.rrule
                )
                series.horizon_until = max(x.starts_at for x in later)
            series.updated_at = ctx.now
        lines = [ctx.t.n_("{n} meeting moved:", "{n} meetings moved:", len(later))]
        lines += ["• " + rm.meeting_line(ctx.t, network, x) for x in sorted(later, key=lambda x: x.starts_at)]
        lines.append(ctx.t._("The group, those who said they attend and the followers are told."))
        await ctx.reply("\n".join(lines))


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Reached through handlers/meetings.py's hooks and the buttons' callbacks."""
