"""Repeating events in the chat: a repeating `{when}` in /newevent, the guided dialogue's how-often
buttons (`Once` · `Weekly` · `Every 2 weeks` · `Monthly`), the `Only this one` · `This and later ones`
question of /cancelevent and /editevent on an occurrence, and the notice that a series ends.

handlers/events.py calls in here at a few marked hooks ("series hook"); the rules are in
bot/domain/recurrence.py and bot/domain/series.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application

from bot.db import models as m
from bot.domain import card_extras
from bot.domain import events as ev
from bot.domain import recurrence as rr
from bot.domain import series as sr
from bot.domain import series_edit as se
from bot.domain import translations as tr
from bot.domain.errors import UserError
from bot.domain.reminders import cancel_event_reminders, plan_event_reminders
from bot.domain.when import parse_span
from bot.i18n import N_, Translator
from bot.render import series as rs
from bot.render.keyboard import Button, callback
from bot.schedule.notices import Rendered, cancel_pending, enqueue_many, renderer
from handlers.common import Ctx
from handlers.router import on_callback, parse_id

SCOPE = "sscope"
REPEAT = "srep"
# The guided dialogue's choices: label, then the rule for a start on a given weekday.
REPEAT_CHOICES = (
    # TRANSLATORS: button of the new-event dialogue: the event takes place one time
    ("once", N_("Once")),
    # TRANSLATORS: button of the new-event dialogue: the event repeats every week
    ("w1", N_("Weekly")),
    # TRANSLATORS: button of the new-event dialogue: the event repeats every second week
    ("w2", N_("Every 2 weeks")),
    # TRANSLATORS: button of the new-event dialogue: the event repeats every month
    ("m1", N_("Monthly")),
)


# --- /newevent ---------------------------------------------------------------------------------


async def parse_repeat_when(ctx: Ctx, text: str, network: m.Network) -> dict[str, str | None] | None:
    """A repeating `{when}` as the dialogue stores it (start, end, rule); None when it does not repeat."""
    repeat = rr.parse_repeat(text, network.timezone, ctx.now, ctx.t.lang)
    if repeat is None:
        return None
    end = repeat.end
    return {"start": repeat.start.isoformat(), "end": end.isoformat() if end else None, "rule": repeat.rule}


def _chosen_rule(choice: str, start: datetime, tz: str) -> str | None:
    from zoneinfo import ZoneInfo

    day = start.astimezone(ZoneInfo(tz))
    code = rr.CODES[day.weekday()]
    if choice == "w1":
        return f"FREQ=WEEKLY;BYDAY={code}"
    if choice == "w2":
        return f"FREQ=WEEKLY;INTERVAL=2;BYDAY={code}"
    if choice == "m1":
        nth = (day.day - 1) // 7 + 1
        return f"FREQ=MONTHLY;BYDAY={-1 if nth == 5 else nth}{code}"
    return None


async def finish_newevent(ctx: Ctx, data: dict[str, Any], network: m.Network) -> bool:
    """True when handled here: a series was created, or the how-often question was asked."""
    when = data["when"]
    if not when.get("rule"):
        if data.get("guided") and not data.get("repeat_asked"):
            data = {**data, "repeat_asked": True}
            await _remember(ctx, "newevent_repeat", data)
            keyboard = [
                [
                    Button(ctx.t.plain(label), callback(REPEAT, network.id, key))
                    for key, label in REPEAT_CHOICES[:2]
                ],
                [
                    Button(ctx.t.plain(label), callback(REPEAT, network.id, key))
                    for key, label in REPEAT_CHOICES[2:]
                ],
            ]
            await ctx.reply(ctx.t._("How often does it take place?"), keyboard)
            return True
        return False
    assert ctx.person is not None
    start = datetime.fromisoformat(when["start"])
    end = datetime.fromisoformat(when["end"]) if when.get("end") else None
    if start <= ctx.now:
        raise UserError(N_("That time has passed. Please start again with /newevent."))
    repeat = rr.Repeat(when["rule"], start, (end - start) if end else None)
    text_all = " ".join(str(data.get(k) or "") for k in ("title", "place", "description"))
    series, made = await sr.create_event_series(
        ctx.session,
        network,
        ctx.person,
        title=data["title"],
        place=data["place"],
        description=data.get("description") or "",
        language=tr.guess_language(text_all, ctx.t.lang),
        repeat=repeat,
        now=ctx.now,
    )
    from handlers.events_notices import announce

    # One announcement (the card of the first occurrence, with the rhythm); every occurrence its reminders.
    await announce(ctx, made[0], network)
    for event in made[1:]:
        await plan_event_reminders(ctx.session, event.id, ctx.now)
    del series
    return True


async def _remember(ctx: Ctx, kind: str, data: dict[str, Any]) -> None:
    from handlers.dialogue import remember

    await remember(ctx, kind, data)


async def _pending(ctx: Ctx, kind: str) -> m.Dialogue | None:
    if ctx.person is None:
        return None
    return await ctx.session.scalar(
        select(m.Dialogue).where(
            m.Dialogue.chat_id == ctx.chat.id,
            m.Dialogue.user_tg_id == ctx.person.tg_id,
            m.Dialogue.kind == kind,
        )
    )


@on_callback(REPEAT)
async def repeat_button(ctx: Ctx, obj_id: str, value: str) -> None:
    pending = await _pending(ctx, "newevent_repeat")
    if pending is None or str(pending.data.get("network_id")) != obj_id or value not in dict(REPEAT_CHOICES):
        raise UserError(N_("This button no longer works."))
    data = dict(pending.data)
    await ctx.session.delete(pending)
    await ctx.session.flush()
    network = await ctx.session.get(m.Network, parse_id(obj_id))
    if network is None:
        raise UserError(N_("This button no longer works."))
    start = datetime.fromisoformat(data["when"]["start"])
    rule = _chosen_rule(value, start, network.timezone)
    if rule is not None:
        data["when"] = {**data["when"], "rule": rule}
    await ctx.answer(ctx.t.plain(dict(REPEAT_CHOICES)[value]))
    from handlers.events_dialogue import finish_newevent as finish

    await finish(ctx, data)


# --- the card and the list ----------------------------------------------------------------------


async def rhythm_of(session: AsyncSession, event: m.Event, t: Translator) -> str | None:
    if event.series_id is None:
        return None
    series = await session.get(m.Series, event.series_id)
    if series is None or series.status != "active":
        return None
    return rs.rhythm(series, t) or None


async def rhythms_of(session: AsyncSession, events: Sequence[m.Event], t: Translator) -> dict[int, str]:
    return rs.rhythms(events, await sr.of_events(session, events), t)


# --- only this one · this and later ones -----------------------------------------------------------


async def ask_scope(ctx: Ctx, event: m.Event, op: str, which: str, value: str) -> bool:
    """On an occurrence with later ones, ask which are meant (and do nothing yet): True when asked."""
    if event.series_id is None or event.recurrence_at is None or event.status != "scheduled":
        return False
    later = await ctx.session.scalar(
        select(m.Event.id)
        .where(
            m.Event.series_id == event.series_id,
            m.Event.status == "scheduled",
            m.Event.recurrence_at > event.recurrence_at,
        )
        .limit(1)
    )
    series = await ctx.session.get(m.Series, event.series_id)
    if later is None and (series is None or sr.next_start(series, event.starts_at) is None):
        return False
    if op == "edit" and which == "when":
        network = await ctx.session.get(m.Network, event.network_id)
        assert network is not None
        parse_span(value, network.timezone, ctx.now, ctx.t.lang)  # a bad time is told before the question
    await _remember(
        ctx, "series_scope", {"event_id": event.id, "op": op, "which": which, "value": value[:500]}
    )
    keyboard = [
        [
            # TRANSLATORS: button: change only the chosen date of a series
            Button(ctx.t.plain("Only this one"), callback(SCOPE, event.id, "one")),
            # TRANSLATORS: button: change the chosen date and every later one of the series
            Button(ctx.t.plain("This and later ones"), callback(SCOPE, event.id, "later")),
        ]
    ]
    title = event.title
    if op == "cancel":
        text = ctx.t._(
            "<b>{title}</b> repeats. Cancel only this date ({when}), or this and the later ones?",
            title=title,
            when=ctx.t.when(event.starts_at, await _tz(ctx, event)),
        )
    else:
        text = ctx.t._(
            "<b>{title}</b> repeats. Change only this date ({when}), or this and the later ones?",
            title=title,
            when=ctx.t.when(event.starts_at, await _tz(ctx, event)),
        )
    await ctx.reply(text, keyboard)
    return True


async def _tz(ctx: Ctx, event: m.Event) -> str:
    network = await ctx.session.get(m.Network, event.network_id)
    return network.timezone if network else "Europe/Copenhagen"


async def occurrence_changed(ctx: Ctx, event: m.Event) -> None:
    """One occurrence changed on its own: the series' feed VEVENT (EXDATE / override) gets a new SEQUENCE."""
    if event.series_id is None:
        return
    series = await ctx.session.get(m.Series, event.series_id)
    if series is not None:
        series.sequence += 1
        series.updated_at = ctx.now


@on_callback(SCOPE)
async def scope_button(ctx: Ctx, obj_id: str, value: str) -> None:
    pending = await _pending(ctx, "series_scope")
    event_id = parse_id(obj_id)
    if pending is None or pending.data.get("event_id") != event_id or value not in ("one", "later"):
        raise UserError(N_("This button no longer works."))
    data = dict(pending.data)
    await ctx.session.delete(pending)
    await ctx.session.flush()
    from handlers import events as eh

    event, network = await eh._managed_event(ctx, str(event_id))
    await ctx.answer()
    if value == "one":
        if data["op"] == "cancel":
            await eh.cancel_single(ctx, event, network)
        else:
            ev.require_open(event, ctx.now)
            await eh.edit_single(ctx, event, network, data["which"], data["value"])
        return
    if data["op"] == "cancel":
        await _cancel_later(ctx, event, network)
    else:
        await _edit_later(ctx, event, network, data["which"], data["value"])


async def _cancel_later(ctx: Ctx, event: m.Event, network: m.Network) -> None:
    from handlers import events as eh

    series, affected, whole = await se.cancel_from(ctx.session, event, ctx.now)
    ids = [e.id for e in affected]
    for e in affected:
        await cancel_event_reminders(ctx.session, e.id)
    for e in affected:
        for kind in ("event_new", "event_card", "event_changed"):
            await cancel_pending(ctx.session, kind=kind, ref_id=e.id)
    # Everyone going to (or reminded of) an affected date, and the followers: one message each.
    going = select(m.Rsvp.person_id).where(
        m.Rsvp.event_id.in_(ids), (m.Rsvp.status == "going") | m.Rsvp.remind.is_(True)
    )
    followers = select(m.Membership.person_id).where(
        m.Membership.network_id == network.id, m.Membership.is_follower.is_(True)
    )
    people = (
        await ctx.session.scalars(
            select(m.Person).where(
                m.Person.reachable.is_(True), m.Person.id.in_(going) | m.Person.id.in_(followers)
            )
        )
    ).all()
    rows = [
        {
            "kind": "series_cancelled",
            "dedup_key": f"sercancel:{series.id}:{series.sequence}:{p.id}",
            "chat_id": p.tg_id,
            "due_at": ctx.now,
            "person_id": p.id,
            "network_id": network.id,
            "ref_id": event.id,
            "payload": {"series": series.id, "whole": whole},
        }
        for p in people
        if ctx.person is None or p.id != ctx.person.id
    ]
    await enqueue_many(ctx.session, rows)
    await ctx.reply(
        ctx.t.n_(
            "Cancelled: {title}, {n} date from {when} on. I am telling those who follow or answered.",
            "Cancelled: {title}, {n} dates from {when} on. I am telling those who follow or answered.",
            len(affected),
            title=event.title,
            when=ctx.t.when(event.starts_at, network.timezone),
        )
    )
    for e in affected:
        if e.card_chat_id and e.card_message_id:
            await eh.refresh_card(ctx, e, e.card_chat_id, e.card_message_id, group=True)


async def _edit_later(ctx: Ctx, event: m.Event, network: m.Network, which: str, value: str) -> None:
    from handlers.events_cards import refresh_card
    from handlers.events_notices import notify

    if which == "when":
        span = parse_span(value, network.timezone, ctx.now, ctx.t.lang)
        changed = await se.change_time_from(ctx.session, event, span.start, span.end, ctx.now)
    else:
        changed = await se.change_place_from(ctx.session, event, value, ctx.now)
        for e in changed:
            for row in (
                await ctx.session.scalars(
                    select(m.ContentTranslation).where(
                        m.ContentTranslation.subject == "event", m.ContentTranslation.subject_id == e.id
                    )
                )
            ).all():
                row.fields = {k: v for k, v in row.fields.items() if k != "place"}
    if not changed:
        await ctx.reply(ctx.t._("Nothing changed."))
        return
    for e in changed:
        await plan_event_reminders(ctx.session, e.id, ctx.now)
        going = await ev.going_people(ctx.session, e.id)
        going = await card_extras.also_told(ctx.session, e.id, going)  # helpers and those waiting too
        await notify(ctx, e, "event_changed", going, {"field": which})
    await ctx.reply(
        ctx.t.n_(
            "Saved for {n} date. I am telling those who are going.",
            "Saved for {n} dates. I am telling those who are going.",
            len(changed),
        )
    )
    for e in changed:
        if e.card_chat_id and e.card_message_id:
            await refresh_card(ctx, e, e.card_chat_id, e.card_message_id, group=True)


@renderer("series_cancelled")
async def render_series_cancelled(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    event = await session.get(m.Event, notice.ref_id) if notice.ref_id else None
    series = await session.get(m.Series, int(notice.payload.get("series") or 0))
    if event is None or series is None:
        return None
    network = await session.get(m.Network, series.network_id)
    if network is None:
        return None
    title = (await tr.event_texts(session, event, t.lang)).fields["title"]
    if notice.payload.get("whole"):
        return Rendered(
            t._(
                "❌ Cancelled: <b>{title}</b> will no longer take place ({network}).",
                title=title,
                network=network.name,
            )
        )
    return Rendered(
        t._(
            "❌ Cancelled: <b>{title}</b> from {when} on ({network}).",
            title=title,
            when=t.when(event.starts_at, network.timezone),
            network=network.name,
        )
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Everything here is reached through handlers/events.py's hooks and the buttons' callbacks."""
