"""Announcement caps and coordinators' approval of members' events: the hook `may_announce` (called
where a new event's announcement to followers is planned), the Approve · Reject buttons, and the
outcome told to the member in their language. Rules in bot/domain/approval.py."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import TelegramError
from telegram.ext import Application

from bot.db import models as m
from bot.domain import approval as ap
from bot.domain import people
from bot.domain.errors import NotAllowed, UserError
from bot.i18n import N_, Translator
from bot.render.keyboard import Button, Keyboard, callback
from bot.schedule.notices import Rendered, renderer
from handlers.common import Ctx, group_admins, send_to, translator_for
from handlers.router import on_callback, parse_id

log = logging.getLogger(__name__)

CAPPED_TEXT = N_(
    "Your event is created and listed in /events, but followers are not told about it: members can "
    "have at most {n} events a day announced to followers. Ask a coordinator if it should be announced."
)
PENDING_TEXT = N_(
    "Your event is created. In this network a coordinator approves members' events before followers "
    "are told about them; I have asked the coordinators and will tell you their answer."
)


async def may_announce(ctx: Ctx, event: m.Event, network: m.Network) -> bool:
    """The hook: True when followers may be told about the new event now. Otherwise tells the member
    why not and, where the network requires it, asks the coordinators."""
    assert ctx.person is not None
    coordinator = await ctx.is_coordinator(network)
    state = await ap.decide_on_creation(
        ctx.session, event, network, ctx.person, coordinator=coordinator, chat_id=ctx.chat.id, now=ctx.now
    )
    if state == ap.ANNOUNCED:
        return True
    if state == ap.CAPPED:
        await ctx.reply("ℹ️ " + ctx.t._(CAPPED_TEXT, n=ap.DAILY_CAP), quote=False)
        return False
    await ctx.reply("ℹ️ " + ctx.t._(PENDING_TEXT), quote=False)
    await _ask_coordinators(ctx, event, network)
    return False


async def _coordinators(ctx: Ctx, network: m.Network) -> list[tuple[int, m.Person | None]]:
    """(Telegram id, person if known) of the named coordinators and the group's admins."""
    bot_id = ctx.context.bot.id
    named = {p.tg_id: p for p in await people.named_coordinators(ctx.session, network)}
    ids = set(named) | set(await group_admins(ctx.services, ctx.context, network.chat_id))
    ids.discard(bot_id)
    out: list[tuple[int, m.Person | None]] = []
    for tg_id in sorted(ids):
        person = named.get(tg_id) or await ctx.session.scalar(select(m.Person).where(m.Person.tg_id == tg_id))
        if person is None or person.reachable:
            out.append((tg_id, person))
    return out


async def request_text(
    session: AsyncSession, event: m.Event, network: m.Network, creator: m.Person, t: Translator
) -> tuple[str, Keyboard]:
    from handlers.events_cards import card_for

    card = await card_for(session, event, network, t)
    head = t._(
        "{name} created an event in {network}. Shall I announce it to the network's followers?",
        name=creator.display_name,
        network=network.name,
    )
    keyboard = [
        [
            Button(t.plain("Approve"), callback("appr", event.id, "y")),
            Button(t.plain("Reject"), callback("appr", event.id, "n")),
        ]
    ]
    return f"{head}\n\n{card.text}", keyboard


async def _ask_coordinators(ctx: Ctx, event: m.Event, network: m.Network) -> None:
    """Privately to each coordinator who can be written to; in the group when none can."""
    assert ctx.person is not None
    asked = 0
    for tg_id, person in await _coordinators(ctx, network):
        if tg_id == ctx.person.tg_id:
            continue
        t = translator_for(person, network)
        text, keyboard = await request_text(ctx.session, event, network, ctx.person, t)
        try:
            await send_to(ctx.context, tg_id, text, keyboard)
            asked += 1
        except TelegramError as err:  # never started a private chat with the bot, or blocked it
            log.info("approval request not delivered privately: %s", type(err).__name__)
    if asked == 0:
        text, keyboard = await request_text(ctx.session, event, network, ctx.person, ctx.group_t)
        await send_to(ctx.context, network.chat_id, text, keyboard)


@on_callback("appr")
async def approval_button(ctx: Ctx, obj_id: str, value: str) -> None:
    """Approve · Reject: only a coordinator of the event's own network; the data is only a key."""
    event_id = parse_id(obj_id)
    if value not in ("y", "n") or ctx.person is None:
        raise UserError(N_("This button no longer works."))
    event = await ctx.session.get(m.Event, event_id)
    network = await ctx.session.get(m.Network, event.network_id) if event is not None else None
    if event is None or network is None:
        raise UserError(N_("This button no longer works."))
    if not await ctx.is_coordinator(network):
        raise NotAllowed(N_("Only the network's coordinators can do that."))
    approve = value == "y"
    await ap.decide(ctx.session, event_id, approve=approve, by=ctx.person, now=ctx.now)
    done = (
        ctx.t.plain("Approved: followers are being told.")
        if approve
        else ctx.t.plain("Rejected: followers are not told.")
    )
    await ctx.answer(done)
    msg = ctx.update.effective_message
    if msg is not None:
        line = (
            ctx.t._("✅ Approved by {name}.", name=ctx.person.display_name)
            if approve
            else ctx.t._("❌ Rejected by {name}.", name=ctx.person.display_name)
        )
        try:
            await ctx.context.bot.edit_message_reply_markup(msg.chat_id, msg.message_id, reply_markup=None)
            await ctx.reply(line, quote=False)
        except TelegramError as err:
            log.info("approval message not updated: %s", type(err).__name__)


@renderer("approval_outcome")
async def render_outcome(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    event = await session.get(m.Event, notice.ref_id) if notice.ref_id else None
    if event is None:
        return None
    by = str(notice.payload.get("by") or "")
    if notice.payload.get("approved"):
        text = t._(
            "✅ {name} approved your event {title}; its followers are being told about it.",
            name=by,
            title=event.title,
        )
    else:
        text = t._(
            "❌ {name} did not approve your event {title}; followers are not told about it. "
            "It stays listed in /events.",
            name=by,
            title=event.title,
        )
    return Rendered(text)


def setting_line(network: m.Network, t: Translator) -> str:
    """The /settings line for the setting."""
    if network.require_approval:
        return t._("Members' events: announced to followers after a coordinator approves")
    return t._("Members' events: announced to followers at once (at most {n} a day each)", n=ap.DAILY_CAP)


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Buttons and renderers register by decorator; nothing else to add."""
