"""/places, /addguest, and `Going` / `Not going` on an event with limited places: the waiting list,
promotions (a private message in the promoted person's language), and the card kept current."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import events as ev
from bot.domain import places as pl
from bot.domain import translations as tr
from bot.domain.errors import UserError
from bot.domain.reminders import plan_event_reminders
from bot.i18n import N_, Translator
from bot.schedule.notices import Rendered, enqueue_many, renderer
from handlers.common import Ctx, handler
from handlers.dialogue import Form, Step, begin, register_form, run_oneline

KIND_PROMOTED = "place_promoted"
KIND_GUEST_PROMOTED = "guest_promoted"


def _events() -> Any:
    import handlers.events_cards as he  # late: handlers.events imports this module for its hook

    return he


def _commands() -> Any:
    import handlers.events as hc  # late: the event commands module imports the card module

    return hc



async def announce_promotions(ctx: Ctx, event: m.Event, promoted: list[pl.Promoted]) -> None:
    """A private message to each promoted person (their language, at send time), and to whoever added
    a promoted guest. Keys carry this update's id: a person promoted again later is told again."""
    if not promoted:
        return
    stamp = ctx.update.update_id
    rows: list[dict[str, Any]] = []
    ids = {p.person_id or p.added_by for p in promoted} - {None}
    persons = {p.id: p for p in await _persons(ctx.session, ids)}
    for i, p in enumerate(promoted):
        if p.person_id is not None and p.person_id in persons:
            target, kind, payload = persons[p.person_id], KIND_PROMOTED, {}
        elif p.person_id is None and p.added_by in persons:
            target, kind, payload = persons[p.added_by], KIND_GUEST_PROMOTED, {"name": p.guest_name or ""}
        else:
            continue
        rows.append(
            {
                "kind": kind,
                "dedup_key": f"{kind}:{event.id}:{stamp}:{i}",
                "chat_id": target.tg_id,
                "due_at": ctx.now,
                "person_id": target.id,
                "network_id": event.network_id,
                "ref_id": event.id,
                "payload": payload,
            }
        )
    await enqueue_many(ctx.session, rows)
    await plan_event_reminders(ctx.session, event.id, ctx.now)


async def _persons(session: AsyncSession, ids: set[int | None]) -> list[m.Person]:
    from sqlalchemy import select

    clean = [i for i in ids if i is not None]
    if not clean:
        return []
    return list((await session.scalars(select(m.Person).where(m.Person.id.in_(clean)))).all())


async def places_press(ctx: Ctx, event: m.Event, value: str) -> bool:
    """The hook in the card's `Going` / `Not going`: handles the press when the event has a limit or
    the presser is on its waiting list (under the event's lock); False lets the plain RSVP run."""
    assert ctx.person is not None
    ev.require_open(event, ctx.now)
    await pl.lock_event(ctx.session, event.id)
    key = ctx.update.update_id
    snap = await pl.snapshot(ctx.session, event.id, ctx.person.id, key)
    if snap.limit is None and snap.waiting == 0:
        return False
    t = ctx.t
    if value == "go":
        res = await pl.press_going(ctx.session, event, ctx.person, key, ctx.now, snap=snap)
        if res.state in ("going", "unchanged_going"):
            answer, alert = t.plain("You are going. See you there!"), False
        elif res.state == "waiting":
            answer, alert = (
                t.plain(
                    "The event is full. You are number {position} on the waiting list; "
                    "I will write to you if a place becomes free.",
                    position=res.position,
                ),
                True,
            )
        else:
            answer = t.plain("You are number {position} on the waiting list.", position=res.position)
            alert = True
    else:
        was_waiting = await pl.is_waiting(ctx.session, event.id, ctx.person.id)
        res = await pl.press_not_going(ctx.session, event, ctx.person, ctx.now)
        alert = False
        answer = (
            t.plain("You are off the waiting list.") if was_waiting else t.plain("Noted: you are not going.")
        )
        await announce_promotions(ctx, event, res.promoted)
    # Commit before talking to Telegram: the event's lock (and SQLite's write lock) is held only for
    # the database work, never across a round trip.
    await ctx.session.commit()
    await ctx.answer(answer, alert=alert)
    if res.changed:
        await _events().refresh_all_cards(ctx, event)
    return True


async def refresh_group_card(ctx: Ctx, event: m.Event) -> None:
    if event.card_chat_id and event.card_message_id:
        await _events().refresh_card(ctx, event, event.card_chat_id, event.card_message_id, group=True)


# --- /places -----------------------------------------------------------------------------------


async def parse_managed_event(ctx: Ctx, text: str, data: dict[str, Any]) -> int:
    event, _network = await _commands()._managed_event(ctx, text)
    return event.id


async def parse_places_step(ctx: Ctx, text: str, data: dict[str, Any]) -> int:
    return pl.parse_places(text)


async def finish_places(ctx: Ctx, data: dict[str, Any]) -> None:
    event, _network = await _commands()._managed_event(ctx, str(data["event"]))
    res = await pl.set_limit(ctx.session, event, int(data["places"]), ctx.now)
    t = ctx.t
    if res.places is None:
        text = t._("No limit on places for {title} any more.", title=event.title)
    else:
        text = t.n_(
            "{title}: {n} place. {going} going, {waiting} on the waiting list.",
            "{title}: {n} places. {going} going, {waiting} on the waiting list.",
            res.places,
            title=event.title,
            going=res.going,
            waiting=res.waiting,
        )
    if res.over:
        text += "\n" + t.n_(
            "{going} are already going, {n} more than the places: they keep their places, "
            "and new answers go on the waiting list.",
            "{going} are already going, {n} more than the places: they keep their places, "
            "and new answers go on the waiting list.",
            res.over,
            going=res.going,
        )
    if res.promoted:
        text += "\n" + t.n_(
            "{n} from the waiting list got a place; I am telling them.",
            "{n} from the waiting list got a place; I am telling them.",
            len(res.promoted),
        )
    await announce_promotions(ctx, event, res.promoted)
    await ctx.session.commit()
    await ctx.reply(text)
    await refresh_group_card(ctx, event)


PLACES_FORM = register_form(
    Form(
        "places",
        [
            Step("event", N_("Which event? Give its number."), parse_managed_event, max_length=20),
            Step("places", N_("How many places? 0 means no limit."), parse_places_step, max_length=10),
        ],
        finish_places,
        example=N_("/places 12 40"),
    )
)


@handler
async def places_command(ctx: Ctx) -> None:
    if not ctx.arg_text:
        await begin(ctx, "places")
        return
    await run_oneline(ctx, "places", ctx.arg_text.split(maxsplit=1))


# --- /addguest ---------------------------------------------------------------------------------


async def parse_coordinated_event(ctx: Ctx, text: str, data: dict[str, Any]) -> int:
    event = await ev.get_event(ctx.session, ev.parse_event_id(text))
    network = await _events().ev_network(ctx.session, event)
    if ctx.is_group and (ctx.network is None or ctx.network.id != network.id):
        raise UserError(N_("There is no event with that number. /events lists the upcoming ones."))
    await ctx.require_coordinator(network)
    return event.id


async def parse_guest(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return pl.check_guest_name(text)


async def finish_addguest(ctx: Ctx, data: dict[str, Any]) -> None:
    event_id = await parse_coordinated_event(ctx, str(data["event"]), data)
    event = await ev.get_event(ctx.session, event_id)
    res = await pl.add_guest(ctx.session, event, str(data["name"]), ctx.person, ctx.update.update_id, ctx.now)
    if res.state == "going":
        await ctx.reply(
            ctx.t._("Added {name} to {title}: they have a place.", name=data["name"], title=event.title)
        )
    else:
        await ctx.reply(
            ctx.t._(
                "{title} is full: {name} is number {position} on the waiting list. "
                "I will tell you if they get a place.",
                title=event.title,
                name=data["name"],
                position=res.position or 0,
            )
        )
    await refresh_group_card(ctx, event)


ADDGUEST_FORM = register_form(
    Form(
        "addguest",
        [
            Step("event", N_("Which event? Give its number."), parse_coordinated_event, max_length=20),
            Step("name", N_("The guest's name?"), parse_guest, max_length=pl.MAX_GUEST_NAME),
        ],
        finish_addguest,
        example=N_("/addguest 12 Amira"),
    )
)


@handler
async def addguest_command(ctx: Ctx) -> None:
    if not ctx.arg_text:
        await begin(ctx, "addguest")
        return
    await run_oneline(ctx, "addguest", ctx.arg_text.split(maxsplit=1))


# --- notices -----------------------------------------------------------------------------------


async def _title_and_when(session: AsyncSession, event: m.Event, t: Translator) -> tuple[str, str]:
    network = await session.get(m.Network, event.network_id)
    tz = network.timezone if network else "Europe/Copenhagen"
    texts = await tr.event_texts(session, event, t.lang)
    return texts.fields["title"], t.when(event.starts_at, tz)


@renderer(KIND_PROMOTED)
async def render_promoted(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    event = await session.get(m.Event, notice.ref_id) if notice.ref_id else None
    if event is None or event.status != "scheduled" or notice.person_id is None:
        return None
    row = await ev.rsvp_of(session, event.id, notice.person_id)
    if row is None or row.status != "going":
        return None  # gave the place back before this went out
    network = await session.get(m.Network, event.network_id)
    assert network is not None
    title, when = await _title_and_when(session, event, t)
    head = t._(
        "🎉 A place became free: you are going to <b>{title}</b> ({when}). "
        "If you cannot come after all, press Not going so the next person gets it.",
        title=title,
        when=when,
    )
    card = await _events().card_for(session, event, network, t)
    return Rendered(f"{head}\n\n{card.text}", card.keyboard)


@renderer(KIND_GUEST_PROMOTED)
async def render_guest_promoted(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    event = await session.get(m.Event, notice.ref_id) if notice.ref_id else None
    if event is None or event.status != "scheduled":
        return None
    title, when = await _title_and_when(session, event, t)
    return Rendered(
        t._(
            "🎉 A place became free: your guest {name} is now going to <b>{title}</b> ({when}).",
            name=str(notice.payload.get("name") or ""),
            title=title,
            when=when,
        )
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("places", places_command), group=0)
    app.add_handler(CommandHandler("addguest", addguest_command), group=0)


async def refill_after_forget(ctx: Ctx, event_ids: list[int]) -> None:
    """The hook in /forgetme: places the forgotten person held go to the first waiting."""
    for event_id in event_ids:
        event = await ctx.session.get(m.Event, event_id)
        if event is None or event.status != "scheduled" or event.starts_at <= ctx.now:
            continue
        promoted = await pl.refill(ctx.session, event_id, ctx.now)
        await announce_promotions(ctx, event, promoted)
    if event_ids:
        await ctx.session.commit()
