"""/events, /event, /cancelevent, /editevent, and registering every event command. The parts live in
events_dialogue (/newevent), events_cards (the card and its buttons), events_notices (announce, renderers)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.db import models as m
from bot.domain import card_extras, people
from bot.domain import events as ev
from bot.domain import translations as tr
from bot.domain.errors import NotFound, UserError
from bot.domain.reminders import cancel_event_reminders, plan_event_reminders
from bot.domain.when import parse_span
from bot.i18n import N_
from bot.render import events as rv
from bot.schedule.notices import cancel_pending
from handlers import series as series_hooks
from handlers.common import Ctx, handler
from handlers.events_cards import card_for, ev_network, refresh_card
from handlers.events_dialogue import newevent
from handlers.events_notices import notify, store_vevent
from handlers.router import on_callback, parse_id
from handlers.start import start_payload

log = logging.getLogger(__name__)

# --- commands ---------------------------------------------------------------------------------


async def _list_network_ids(ctx: Ctx) -> list[int]:
    if ctx.network is not None:
        return [ctx.network.id]
    if ctx.is_group:
        await ctx.require_network()
    assert ctx.person is not None
    return [n.id for n in await people.followed_networks(ctx.session, ctx.person)]


async def _events_page(ctx: Ctx, offset: int) -> tuple[str, Any]:
    t = ctx.group_t if ctx.is_group else ctx.t
    ids = await _list_network_ids(ctx)
    if not ids and ctx.is_private:
        return t._("You do not follow any network yet. /subscribe shows how."), None
    page = await ev.upcoming(ctx.session, ids, ctx.now, offset=offset)
    texts = await tr.many_event_texts(ctx.session, page.events, t.lang)
    rhythms = await series_hooks.rhythms_of(ctx.session, page.events, t)  # series hook
    text = rv.list_text(
        page.events, page.networks, texts, t, show_network=len(ids) > 1, more=page.more, rhythms=rhythms
    )
    return text, rv.list_keyboard(offset + ev.PAGE, page.more, t)


@handler
async def events_command(ctx: Ctx) -> None:
    text, keyboard = await _events_page(ctx, 0)
    await ctx.reply(text, keyboard)


@on_callback("events_more")
async def more_events(ctx: Ctx, obj_id: str, value: str) -> None:
    offset = parse_id(obj_id)
    text, keyboard = await _events_page(ctx, min(offset, 10_000))
    await ctx.answer()
    await ctx.reply(text, keyboard)


async def show_event(ctx: Ctx, event_id: int) -> None:
    event = await ev.get_event(ctx.session, event_id)
    if ctx.is_group and (ctx.network is None or ctx.network.id != event.network_id):
        raise NotFound(N_("There is no event with that number. /events lists the upcoming ones."))
    network = await ev_network(ctx.session, event)
    t = ctx.group_t if ctx.is_group else ctx.t
    card = await card_for(ctx.session, event, network, t)
    await ctx.reply(card.text, card.keyboard)


@handler
async def event_command(ctx: Ctx) -> None:
    if not ctx.arg_text:
        raise UserError(N_("Give the event's number, for example: {example}"), example="/event 12")
    await show_event(ctx, ev.parse_event_id(ctx.arg_text))


@handler
async def event_link(ctx: Ctx) -> None:
    msg = ctx.update.effective_message
    text = (msg.text or "") if msg else ""
    command = text.split()[0].split("@")[0]
    await show_event(ctx, ev.parse_event_id(command.removeprefix("/event_")))


@start_payload("ev_")
async def open_from_link(ctx: Ctx, rest: str) -> None:
    await show_event(ctx, ev.parse_event_id(rest))


async def _managed_event(ctx: Ctx, raw: str) -> tuple[m.Event, m.Network]:
    event = await ev.get_event(ctx.session, ev.parse_event_id(raw))
    network = await ev_network(ctx.session, event)
    if ctx.is_group and (ctx.network is None or ctx.network.id != network.id):
        raise NotFound(N_("There is no event with that number. /events lists the upcoming ones."))
    await ev.may_manage(ctx.session, event, ctx.person, await ctx.is_coordinator(network))
    return event, network


@handler
async def cancelevent(ctx: Ctx) -> None:
    if not ctx.arg_text:
        raise UserError(N_("Give the event's number, for example: {example}"), example="/cancelevent 12")
    event, network = await _managed_event(ctx, ctx.arg_text)
    if await series_hooks.ask_scope(ctx, event, "cancel", "", ""):  # series hook: only this one / later
        return
    await cancel_single(ctx, event, network)


async def cancel_single(ctx: Ctx, event: m.Event, network: m.Network) -> None:
    await ev.cancel(ctx.session, event, ctx.now)
    await series_hooks.occurrence_changed(ctx, event)  # series hook: EXDATE, SEQUENCE
    await store_vevent(ctx, event, network)
    await cancel_event_reminders(ctx.session, event.id)
    for kind in ("event_new", "event_card", "event_changed"):
        await cancel_pending(ctx.session, kind=kind, ref_id=event.id)
    audience = await ev.audience(ctx.session, event, followers=True, rsvped=True)
    audience = await card_extras.also_told(ctx.session, event.id, audience)  # issue 13: helpers, waiting
    await notify(ctx, event, "event_cancelled", audience, {})
    await ctx.reply(
        ctx.t._("Cancelled: {title}. I am telling those who follow or answered it.", title=event.title)
    )
    if event.card_chat_id and event.card_message_id:
        await refresh_card(ctx, event, event.card_chat_id, event.card_message_id, group=True)


EDIT_EXAMPLE = "/editevent 12 when 4. december kl. 18 · /editevent 12 place Egebæk Medborgerhus"
FIELD_WORDS = {
    "when": "when",
    "time": "when",
    "tid": "when",
    "tidspunkt": "when",
    "وقت": "when",
    "الوقت": "when",
    "place": "place",
    "sted": "place",
    "مكان": "place",
    "المكان": "place",
}


@handler
async def editevent(ctx: Ctx) -> None:
    parts = ctx.arg_text.split(maxsplit=2)
    if len(parts) < 3 or parts[1].lower() not in FIELD_WORDS:
        raise UserError(N_("Write it like this: {example}"), example=EDIT_EXAMPLE)
    event, network = await _managed_event(ctx, parts[0])
    ev.require_open(event, ctx.now)
    which = FIELD_WORDS[parts[1].lower()]
    if await series_hooks.ask_scope(ctx, event, "edit", which, parts[2]):  # series hook
        return
    await edit_single(ctx, event, network, which, parts[2])


async def edit_single(ctx: Ctx, event: m.Event, network: m.Network, which: str, value: str) -> None:
    parts = ["", "", value]
    if which == "when":
        span = parse_span(parts[2], network.timezone, ctx.now, ctx.t.lang)
        if span.start == event.starts_at and span.end == event.ends_at:
            await ctx.reply(ctx.t._("Nothing changed."))
            return
        event.starts_at, event.ends_at = span.start, span.end
    else:
        place = ev.check_text("place", parts[2])
        if place == event.place:
            await ctx.reply(ctx.t._("Nothing changed."))
            return
        event.place = place
        # The translators' versions of the place are now out of date.
        for lang_row in (
            await ctx.session.scalars(
                select(m.ContentTranslation).where(
                    m.ContentTranslation.subject == "event", m.ContentTranslation.subject_id == event.id
                )
            )
        ).all():
            lang_row.fields = {k: v for k, v in lang_row.fields.items() if k != "place"}
    ev.bump(event, ctx.now)
    await series_hooks.occurrence_changed(ctx, event)  # series hook: RECURRENCE-ID override, SEQUENCE
    await store_vevent(ctx, event, network)
    await plan_event_reminders(ctx.session, event.id, ctx.now)
    going = await ev.going_people(ctx.session, event.id)
    going = await card_extras.also_told(ctx.session, event.id, going)  # issue 13: helpers, waiting
    await notify(ctx, event, "event_changed", going, {"field": which})
    await ctx.reply(ctx.t._("Saved. I am telling those who are going."))
    if event.card_chat_id and event.card_message_id:
        await refresh_card(ctx, event, event.card_chat_id, event.card_message_id, group=True)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("newevent", newevent), group=0)
    app.add_handler(CommandHandler("events", events_command), group=0)
    app.add_handler(CommandHandler("event", event_command), group=0)
    app.add_handler(CommandHandler("cancelevent", cancelevent), group=0)
    app.add_handler(CommandHandler("editevent", editevent), group=0)
    app.add_handler(MessageHandler(filters.Regex(r"^/event_\d+(@\w+)?(\s|$)"), event_link), group=0)
