"""The event card: rendered for a reader, updated in place (edits coalesced, at most one per group every
GROUP_EDIT_INTERVAL seconds), and its buttons (going / not going / remind me / calendar file)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import TelegramError

from bot.db import models as m
from bot.domain import card_extras, people
from bot.domain import events as ev
from bot.domain import translations as tr
from bot.domain.errors import UserError
from bot.domain.reminders import plan_event_reminders
from bot.i18n import N_, Translator, get_translator
from bot.render import events as rv
from bot.render.ics import build_calendar
from bot.schedule.notices import Rendered
from bot.services import Services
from handlers.common import Context, Ctx, markup
from handlers.router import on_callback, parse_id

log = logging.getLogger(__name__)

log = logging.getLogger(__name__)

# A group gets at most one card edit per this many seconds (Telegram: 20 messages a minute).
GROUP_EDIT_INTERVAL = 3.0


async def card_for(session: AsyncSession, event: m.Event, network: m.Network, t: Translator) -> Rendered:
    texts = await tr.event_texts(session, event, t.lang)
    going = await ev.going_count(session, event.id)
    extras = await card_extras.load(session, event)  # issue 13: tasks, places, interpreters
    from handlers import series as series_hooks  # late: handlers.series uses the event modules

    rhythm = await series_hooks.rhythm_of(session, event, t)  # series hook
    text = rv.card_text(event, network, texts, going, t, extras, rhythm=rhythm)
    return Rendered(text, rv.card_keyboard(event, t, extras))


async def event_and_network(session: AsyncSession, event_id: int | None) -> tuple[m.Event, m.Network] | None:
    if event_id is None:
        return None
    event = await session.get(m.Event, event_id)
    if event is None:
        return None
    network = await session.get(m.Network, event.network_id)
    if network is None:
        return None
    return event, network


async def ev_network(session: AsyncSession, event: m.Event) -> m.Network:
    network = await session.get(m.Network, event.network_id)
    assert network is not None
    return network


# --- the card, updated in place ---------------------------------------------------------------


SHOWN_CARDS_KEPT = 5000


@dataclass
class CardEditor:
    """Collapses many changes of cards into few edits: at most one edit per group every
    GROUP_EDIT_INTERVAL seconds, none when the text would not change, and the last edit always shows
    the state after the last change.

    Per chat, one flush at a time (inline for the first change, then one background task) edits the
    cards marked dirty, each read from the database when it is edited: so edits never overlap or
    arrive out of order, and a change made while an edit is on its way marks the card dirty again."""

    # The text and buttons last shown per card, to skip edits that change nothing; bounded (oldest dropped).
    shown: OrderedDict[tuple[int, int], str] = field(default_factory=OrderedDict)
    last_edit: dict[int, float] = field(default_factory=dict)
    # chat -> {message_id: event_id} waiting to be edited, oldest first.
    dirty: dict[int, dict[int, int]] = field(default_factory=dict)
    # chats with a flush under way (inline or as a task).
    busy: set[int] = field(default_factory=set)
    pending: dict[int, asyncio.Task[None]] = field(default_factory=dict)


def _editor(services: Services) -> CardEditor:
    if not isinstance(services.card_editor, CardEditor):
        services.card_editor = CardEditor()
    return services.card_editor


async def _edit_now(
    context: Context, services: Services, event_id: int, chat_id: int, message_id: int
) -> None:
    editor = _editor(services)
    async with services.sessionmaker() as session:
        found = await event_and_network(session, event_id)
        if found is None:
            return
        event, network = found
        if chat_id == network.chat_id:
            t = get_translator(network.language)
        else:
            person = await session.scalar(select(m.Person).where(m.Person.tg_id == chat_id))
            from handlers.common import translator_for

            t = translator_for(person, network)
        card = await card_for(session, event, network, t)
    key = (chat_id, message_id)
    # The buttons count too: a new task or the interpreter row changes only the keyboard.
    looks = f"{card.text}\x00{card.keyboard!r}"
    if editor.shown.get(key) == looks:
        return
    editor.last_edit[chat_id] = time.monotonic()
    try:
        await context.bot.edit_message_text(
            card.text, chat_id=chat_id, message_id=message_id, reply_markup=markup(card.keyboard)
        )
        editor.shown[key] = looks
        editor.shown.move_to_end(key)
        while len(editor.shown) > SHOWN_CARDS_KEPT:
            editor.shown.popitem(last=False)
    except TelegramError as err:
        log.info("card edit failed: %s", type(err).__name__)


def _edit_wait(editor: CardEditor, chat_id: int, group: bool) -> float:
    if not group:
        return 0.0
    return editor.last_edit.get(chat_id, -1e9) + GROUP_EDIT_INTERVAL - time.monotonic()


async def _edit_next(editor: CardEditor, context: Context, services: Services, chat_id: int) -> None:
    waiting = editor.dirty[chat_id]
    message_id, event_id = next(iter(waiting.items()))
    # Taken off before the read: a change committed from here on marks the card dirty again.
    del waiting[message_id]
    if not waiting:
        del editor.dirty[chat_id]
    await _edit_now(context, services, event_id, chat_id, message_id)


async def refresh_card(ctx: Ctx, event: m.Event, chat_id: int, message_id: int, *, group: bool) -> None:
    """Edit the card now if the group's budget allows, else later, once, with whatever is current."""
    editor = _editor(ctx.services)
    # Commit first: the edit reads the current state in its own session.
    await ctx.session.commit()
    editor.dirty.setdefault(chat_id, {})[message_id] = event.id
    if chat_id in editor.busy:
        return  # the flush under way edits this card after the current edit, from the state then
    editor.busy.add(chat_id)
    context, services = ctx.context, ctx.services
    if _edit_wait(editor, chat_id, group) <= 0:
        try:
            await _edit_next(editor, context, services, chat_id)
        except BaseException:
            editor.busy.discard(chat_id)
            raise
        if chat_id not in editor.dirty:
            editor.busy.discard(chat_id)
            return

    async def later() -> None:
        try:
            while chat_id in editor.dirty:
                wait = _edit_wait(editor, chat_id, group)
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    await _edit_next(editor, context, services, chat_id)
                except Exception:
                    log.exception("card edit failed")
        finally:
            editor.busy.discard(chat_id)
            editor.pending.pop(chat_id, None)

    editor.pending[chat_id] = asyncio.get_running_loop().create_task(later())


async def refresh_all_cards(ctx: Ctx, event: m.Event) -> None:
    query = ctx.update.callback_query
    msg = query.message if query is not None else None
    if event.card_chat_id and event.card_message_id:
        await refresh_card(ctx, event, event.card_chat_id, event.card_message_id, group=True)
    if msg is not None and (msg.chat.id, msg.message_id) != (event.card_chat_id, event.card_message_id):
        await refresh_card(ctx, event, msg.chat.id, msg.message_id, group=not ctx.is_private)


async def _event_for_press(ctx: Ctx, obj_id: str) -> m.Event:
    """The pressed event, if it exists and the presser may act on it here."""
    event = await ctx.session.get(m.Event, parse_id(obj_id))
    if event is None:
        raise UserError(N_("This button no longer works."))
    if ctx.is_private:
        if not event.open_to_all:
            assert ctx.person is not None
            row = await people.membership(
                ctx.session, await ev_network(ctx.session, event), ctx.person, create=False
            )
            if row is None:
                raise UserError(N_("This button no longer works."))
    elif ctx.network is None or ctx.network.id != event.network_id:
        raise UserError(N_("This button no longer works."))
    return event


@on_callback(rv.KIND)
async def on_card_button(ctx: Ctx, obj_id: str, value: str) -> None:
    assert ctx.person is not None
    event = await _event_for_press(ctx, obj_id)
    if value in ("go", "no"):
        from handlers.places import places_press  # late: handlers.places uses this module

        if await places_press(ctx, event, value):  # issue 13: limited places, the waiting list
            return
        changed = await ev.set_rsvp(
            ctx.session, event, ctx.person, "going" if value == "go" else "not_going", ctx.now
        )
        if value == "go":
            await ctx.answer(ctx.t.plain("You are going. See you there!"))
        else:
            await ctx.answer(ctx.t.plain("Noted: you are not going."))
        if changed:
            await refresh_all_cards(ctx, event)
    elif value == "rem":
        changed = await ev.set_remind(ctx.session, event, ctx.person, ctx.now)
        await plan_event_reminders(ctx.session, event.id, ctx.now)
        if changed:
            await ctx.answer(ctx.t.plain("I will remind you before it starts. /reminders chooses when."))
        else:
            await ctx.answer(ctx.t.plain("You already get a reminder for this event."))
    elif value == "ics":
        await send_ics(ctx, event)
    else:
        raise UserError(N_("This button no longer works."))


async def send_ics(ctx: Ctx, event: m.Event) -> None:
    assert ctx.person is not None
    network = await ev_network(ctx.session, event)
    data = build_calendar([(event, network)], name=network.name, now=ctx.now)
    try:
        await ctx.context.bot.send_document(
            ctx.person.tg_id,
            document=data,
            filename=f"event-{event.id}.ics",
            caption=ctx.t.plain("Open the file to add the event to your calendar."),
        )
    except TelegramError:
        await ctx.answer(ctx.t.plain("Write to me in a private chat first, then press again."), alert=True)
        return
    if not ctx.is_private:
        await ctx.answer(ctx.t.plain("I sent you the calendar file in our private chat."))
    else:
        await ctx.answer()
