"""/newevent, /events, /event, /cancelevent, /editevent, the event card's buttons, and the notices
that announce, change, cancel and remind of events (each rendered in the reader's language)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.db import models as m
from bot.domain import calendar, people
from bot.domain import events as ev
from bot.domain import translations as tr
from bot.domain.errors import NotFound, UserError
from bot.domain.reminders import cancel_event_reminders, plan_event_reminders
from bot.domain.when import parse_span
from bot.i18n import N_, Translator, get_translator
from bot.render import events as rv
from bot.render.ics import build_calendar
from bot.render.keyboard import Button, callback
from bot.schedule.notices import Rendered, after_send, enqueue, enqueue_many, renderer
from bot.services import Services
from handlers.approval import may_announce
from handlers.common import Context, Ctx, handler, markup, split_fields
from handlers.dialogue import Form, Step, begin, register_form, run_oneline
from handlers.router import on_callback, parse_id
from handlers.start import start_payload

log = logging.getLogger(__name__)

# A group gets at most one card edit per this many seconds (Telegram: 20 messages a minute).
GROUP_EDIT_INTERVAL = 3.0


# --- the guided dialogue ---------------------------------------------------------------------


async def _network_of(ctx: Ctx, data: dict[str, Any]) -> m.Network:
    network = await ctx.session.get(m.Network, int(data["network_id"]))
    if network is None:
        raise NotFound(N_("I could not find that network."))
    return network


async def parse_title(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return ev.check_text("title", text)


async def parse_when_step(ctx: Ctx, text: str, data: dict[str, Any]) -> dict[str, str | None]:
    network = await _network_of(ctx, data)
    span = parse_span(text, network.timezone, ctx.now, ctx.t.lang)
    return {"start": span.start.isoformat(), "end": span.end.isoformat() if span.end else None}


async def parse_place(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return ev.check_text("place", text)


async def parse_description(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return ev.check_text("description", text)


async def finish_newevent(ctx: Ctx, data: dict[str, Any]) -> None:
    from datetime import datetime

    assert ctx.person is not None
    network = await _network_of(ctx, data)
    when = data["when"]
    start = datetime.fromisoformat(when["start"])
    end = datetime.fromisoformat(when["end"]) if when.get("end") else None
    if start <= ctx.now:  # a dialogue left open until the time passed
        raise UserError(N_("That time has passed. Please start again with /newevent."))
    text_all = " ".join(str(data.get(k) or "") for k in ("title", "place", "description"))
    event = await ev.create(
        ctx.session,
        network,
        ctx.person,
        title=data["title"],
        starts_at=start,
        ends_at=end,
        place=data["place"],
        description=data.get("description") or "",
        language=tr.guess_language(text_all, ctx.t.lang),
        now=ctx.now,
    )
    await _store_vevent(ctx, event, network)
    await announce(ctx, event, network)


FORM = register_form(
    Form(
        "newevent",
        [
            Step("title", N_("What is the event called?"), parse_title, max_length=100_000),
            Step(
                "when",
                N_("When does it start? For example: 3. december kl. 17, or tomorrow 18:00"),
                parse_when_step,
                max_length=200,
            ),
            Step("place", N_("Where does it take place?"), parse_place, max_length=100_000),
            Step(
                "description",
                N_("A few words about it (who it is for, what to bring)?"),
                parse_description,
                optional=True,
                max_length=100_000,
            ),
        ],
        finish_newevent,
        example=N_("/newevent Fællesspisning | 3. december kl. 17 | Egebæk Medborgerhus | Alle er velkomne"),
    )
)


async def _start_form(ctx: Ctx, network: m.Network, args: str) -> None:
    data = {"network_id": network.id}
    if args:
        await run_oneline(ctx, "newevent", split_fields(args, 4), data)
    else:
        await begin(ctx, "newevent", data)


@handler
async def newevent(ctx: Ctx) -> None:
    assert ctx.person is not None
    if not ctx.is_private:
        network = await ctx.require_network()
        await _start_form(ctx, network, ctx.arg_text)
        return
    networks = await ev.member_networks(ctx.session, ctx.person)
    if not networks:
        raise UserError(
            N_(
                "You are not a member of any network yet. Write in your network's group first, then try again."
            )
        )
    if len(networks) == 1:
        await _start_form(ctx, networks[0], ctx.arg_text)
        return
    # Several networks: keep what was written, and ask which network it is for.
    await ctx.session.execute(
        m.Dialogue.__table__.delete().where(
            m.Dialogue.chat_id == ctx.chat.id, m.Dialogue.user_tg_id == ctx.person.tg_id
        )
    )
    ctx.session.add(
        m.Dialogue(
            chat_id=ctx.chat.id,
            user_tg_id=ctx.person.tg_id,
            kind="newevent_pick",
            step=0,
            data={"args": ctx.arg_text[:5000]},
        )
    )
    keyboard = [[Button(n.name[:60], callback("evnet", n.id, ""))] for n in networks]
    await ctx.reply(ctx.t._("Which network is the event for?"), keyboard)


@on_callback("evnet")
async def pick_network(ctx: Ctx, obj_id: str, value: str) -> None:
    assert ctx.person is not None
    network_id = parse_id(obj_id)
    networks = {n.id: n for n in await ev.member_networks(ctx.session, ctx.person)}
    if network_id not in networks or not ctx.is_private:
        raise UserError(N_("This button no longer works."))
    pending = await ctx.session.scalar(
        select(m.Dialogue).where(
            m.Dialogue.chat_id == ctx.chat.id,
            m.Dialogue.user_tg_id == ctx.person.tg_id,
            m.Dialogue.kind == "newevent_pick",
        )
    )
    args = str(pending.data.get("args") or "") if pending else ""
    if pending is not None:
        await ctx.session.delete(pending)
        await ctx.session.flush()
    await ctx.answer(networks[network_id].name)
    await _start_form(ctx, networks[network_id], args)


# --- announcing -----------------------------------------------------------------------------


async def card_for(session: AsyncSession, event: m.Event, network: m.Network, t: Translator) -> Rendered:
    texts = await tr.event_texts(session, event, t.lang)
    going = await ev.going_count(session, event.id)
    return Rendered(rv.card_text(event, network, texts, going, t), rv.card_keyboard(event, t))


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
    rows = [
        {
            "kind": "event_new",
            "dedup_key": f"evnew:{event.id}:{p.id}",
            "chat_id": p.tg_id,
            "due_at": ctx.now,
            "person_id": p.id,
            "network_id": network.id,
            "ref_id": event.id,
        }
        for p in followers
        if p.id != ctx.person.id
    ]
    await enqueue_many(ctx.session, rows)
    await plan_event_reminders(ctx.session, event.id, ctx.now)
    _wake(ctx)


def _wake(ctx: Ctx) -> None:
    if ctx.services.dispatcher is not None:
        ctx.services.dispatcher.wake()


async def _event_and_network(session: AsyncSession, event_id: int | None) -> tuple[m.Event, m.Network] | None:
    if event_id is None:
        return None
    event = await session.get(m.Event, event_id)
    if event is None:
        return None
    network = await session.get(m.Network, event.network_id)
    if network is None:
        return None
    return event, network


@renderer("event_card")
async def render_group_card(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _event_and_network(session, notice.ref_id)
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
    found = await _event_and_network(session, notice.ref_id)
    if found is None or found[0].status != "scheduled":
        return None
    event, network = found
    card = await card_for(session, event, network, t)
    head = t._("New event in {network}:", network=network.name)
    return Rendered(f"{head}\n\n{card.text}", card.keyboard)


@renderer("event_reminder")
async def render_reminder(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _event_and_network(session, notice.ref_id)
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
    found = await _event_and_network(session, notice.ref_id)
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
    found = await _event_and_network(session, notice.ref_id)
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

    # The text last shown per card, to skip edits that change nothing; bounded (oldest dropped).
    shown: OrderedDict[tuple[int, int], str] = field(default_factory=OrderedDict)
    last_edit: dict[int, float] = field(default_factory=dict)
    # chat -> {message_id: event_id} waiting to be edited, oldest first.
    dirty: dict[int, dict[int, int]] = field(default_factory=dict)
    # chats with a flush under way (inline or as a task).
    busy: set[int] = field(default_factory=set)
    pending: dict[int, asyncio.Task[None]] = field(default_factory=dict)


def _editor(services: Services) -> CardEditor:
    editor = services.extra.get("event_cards")
    if not isinstance(editor, CardEditor):
        editor = CardEditor()
        services.extra["event_cards"] = editor
    return editor


async def _edit_now(
    context: Context, services: Services, event_id: int, chat_id: int, message_id: int
) -> None:
    editor = _editor(services)
    async with services.sessionmaker() as session:
        found = await _event_and_network(session, event_id)
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
    if editor.shown.get(key) == card.text:
        return
    editor.last_edit[chat_id] = time.monotonic()
    try:
        await context.bot.edit_message_text(
            card.text, chat_id=chat_id, message_id=message_id, reply_markup=markup(card.keyboard)
        )
        editor.shown[key] = card.text
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


async def ev_network(session: AsyncSession, event: m.Event) -> m.Network:
    network = await session.get(m.Network, event.network_id)
    assert network is not None
    return network


@on_callback(rv.KIND)
async def on_card_button(ctx: Ctx, obj_id: str, value: str) -> None:
    assert ctx.person is not None
    event = await _event_for_press(ctx, obj_id)
    if value in ("go", "no"):
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
        _wake(ctx)
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
    text = rv.list_text(page.events, page.networks, texts, t, show_network=len(ids) > 1, more=page.more)
    return text, rv.list_keyboard(offset + ev.PAGE, page.more, t)


@handler
async def events_command(ctx: Ctx) -> None:
    text, keyboard = await _events_page(ctx, 0)
    await ctx.reply(text, keyboard)


@on_callback("evlist")
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


async def _store_vevent(ctx: Ctx, event: m.Event, network: m.Network) -> None:
    """The event's feed VEVENT, serialized now that it changed (the feed would otherwise do it)."""
    await calendar.refresh_stored_vevents(ctx.session, [(event, network)], ctx.services.settings.public_url)


async def _notify(ctx: Ctx, event: m.Event, kind: str, people_: Any, payload: dict[str, Any]) -> None:
    rows = [
        {
            "kind": kind,
            "dedup_key": f"{kind}:{event.id}:{event.sequence}:{p.id}",
            "chat_id": p.tg_id,
            "due_at": ctx.now,
            "person_id": p.id,
            "network_id": event.network_id,
            "ref_id": event.id,
            "payload": payload,
        }
        for p in people_
        if ctx.person is None or p.id != ctx.person.id
    ]
    await enqueue_many(ctx.session, rows)
    _wake(ctx)


@handler
async def cancelevent(ctx: Ctx) -> None:
    if not ctx.arg_text:
        raise UserError(N_("Give the event's number, for example: {example}"), example="/cancelevent 12")
    event, network = await _managed_event(ctx, ctx.arg_text)
    await ev.cancel(ctx.session, event, ctx.now)
    await _store_vevent(ctx, event, network)
    await cancel_event_reminders(ctx.session, event.id)
    await ctx.session.execute(
        m.Notice.__table__.update()
        .where(
            m.Notice.ref_id == event.id,
            m.Notice.kind.in_(("event_new", "event_card", "event_changed")),
            m.Notice.state == "pending",
        )
        .values(state="cancelled")
    )
    audience = await ev.audience(ctx.session, event, followers=True, rsvped=True)
    await _notify(ctx, event, "event_cancelled", audience, {})
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
    await _store_vevent(ctx, event, network)
    await plan_event_reminders(ctx.session, event.id, ctx.now)
    going = await ev.going_people(ctx.session, event.id)
    await _notify(ctx, event, "event_changed", going, {"field": which})
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
