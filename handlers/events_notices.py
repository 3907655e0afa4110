"""The notices that announce, change, cancel and remind of events (each rendered in the reader's
language at send time), and enqueuing them."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import calendar
from bot.domain import events as ev
from bot.domain import translations as tr
from bot.domain.reminders import plan_event_reminders
from bot.i18n import Translator
from bot.render import events as rv
from bot.schedule.notices import Rendered, after_send, enqueue, enqueue_to_people, renderer
from handlers.approval import may_announce
from handlers.common import Ctx
from handlers.events_cards import card_for, event_and_network

log = logging.getLogger(__name__)


async def announce(ctx: Ctx, event: m.Event, network: m.Network) -> None:
    """The card to the group (its language) and a notice to every follower (their language)."""
    assert ctx.person is not None
    if ctx.network is not None and ctx.network.id == network.id:
        card = await card_for(ctx.session, event, network, ctx.group_t)
        sent = await ctx.reply(card.text, card.keyboard)
        if sent is not None:
            event.card_chat_id = sent.chat_id
            event.card_message_id = sent.message_id
    else:
        await enqueue(
            ctx.session,
            kind="event_card",
            dedup_key=f"evcard:{event.id}",
            chat_id=network.chat_id,
            due_at=ctx.now,
            network_id=network.id,
            ref_id=event.id,
        )
        card = await card_for(ctx.session, event, network, ctx.t)
        await ctx.reply(
            ctx.t._("Created. I am posting it in the group too.") + "\n\n" + card.text, card.keyboard
        )
    followers = await ev.audience(ctx.session, event, followers=True, rsvped=False)
    if not await may_announce(ctx, event, network):  # daily cap and approval: handlers/approval.py
        followers = []
    await enqueue_to_people(
        ctx.session,
        [p for p in followers if p.id != ctx.person.id],
        kind="event_new",
        key=lambda p: f"evnew:{event.id}:{p.id}",
        due_at=ctx.now,
        network_id=network.id,
        ref_id=event.id,
    )
    await plan_event_reminders(ctx.session, event.id, ctx.now)


async def store_vevent(ctx: Ctx, event: m.Event, network: m.Network) -> None:
    """The event's feed VEVENT, serialized now that it changed (the feed would otherwise do it)."""
    await calendar.refresh_stored_vevents(ctx.session, [(event, network)], ctx.services.settings.public_url)


async def notify(ctx: Ctx, event: m.Event, kind: str, people_: Any, payload: dict[str, Any]) -> None:
    """`kind` to each of `people_` privately (not to the person who made the change)."""
    await enqueue_to_people(
        ctx.session,
        [p for p in people_ if ctx.person is None or p.id != ctx.person.id],
        kind=kind,
        key=lambda p: f"{kind}:{event.id}:{event.sequence}:{p.id}",
        due_at=ctx.now,
        network_id=event.network_id,
        ref_id=event.id,
        payload=payload,
    )


@renderer("event_card")
async def render_group_card(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await event_and_network(session, notice.ref_id)
    if found is None or found[0].status != "scheduled":
        return None
    return await card_for(session, found[0], found[1], t)


@after_send("event_card")
async def remember_card(session: AsyncSession, notice: m.Notice, message_id: int) -> None:
    event = await session.get(m.Event, notice.ref_id) if notice.ref_id else None
    if event is not None:
        event.card_chat_id = notice.chat_id
        event.card_message_id = message_id


@renderer("event_new")
async def render_new(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await event_and_network(session, notice.ref_id)
    if found is None or found[0].status != "scheduled":
        return None
    event, network = found
    card = await card_for(session, event, network, t)
    head = t._("New event in {network}:", network=network.name)
    return Rendered(f"{head}\n\n{card.text}", card.keyboard)


@renderer("event_reminder")
async def render_reminder(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await event_and_network(session, notice.ref_id)
    if found is None:
        return None
    event, network = found
    if event.status != "scheduled" or event.starts_at <= notice.due_at:
        return None
    card = await card_for(session, event, network, t)
    head = t._(
        "⏰ Reminder: {title} starts {when}.",
        title=(await tr.event_texts(session, event, t.lang)).fields["title"],
        when=t.when(event.starts_at, network.timezone),
    )
    return Rendered(f"{head}\n\n{card.text}", card.keyboard)


@renderer("event_cancelled")
async def render_cancelled(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await event_and_network(session, notice.ref_id)
    if found is None or found[0].status != "cancelled":
        return None
    event, network = found
    texts = await tr.event_texts(session, event, t.lang)
    return Rendered(
        t._(
            "❌ Cancelled: <b>{title}</b> on {when} ({network}).",
            title=texts.fields["title"],
            when=t.when(event.starts_at, network.timezone),
            network=network.name,
        )
    )


@renderer("event_changed")
async def render_changed(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await event_and_network(session, notice.ref_id)
    if found is None or found[0].status != "scheduled":
        return None
    event, network = found
    texts = await tr.event_texts(session, event, t.lang)
    if notice.payload.get("field") == "place":
        head = t._(
            "📍 New place for <b>{title}</b>: {place}",
            title=texts.fields["title"],
            place=texts.fields["place"],
        )
    else:
        head = t._(
            "🕔 New time for <b>{title}</b>: {when}",
            title=texts.fields["title"],
            when=rv.when_line(event, network.timezone, t),
        )
    card = await card_for(session, event, network, t)
    return Rendered(f"{head}\n\n{card.text}", card.keyboard)
