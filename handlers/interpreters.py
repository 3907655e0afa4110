"""`🗣 Interpreter` on event cards and meeting notices, /interpreters (counts, `confirm {language}`),
and the notices: counts to coordinators 3 days before, the confirmation to those who asked."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import interpreters as ip
from bot.domain import people
from bot.domain import translations as tr
from bot.domain.errors import NotFound, UserError
from bot.domain.meetings import coordinators
from bot.i18n import N_, Translator
from bot.render import help as rh
from bot.render.meetings import meeting_line
from bot.schedule.notices import Rendered, enqueue_to_people, renderer
from handlers.common import Ctx, group_admins, handler
from handlers.dialogue import Form, Step, begin, register_form
from handlers.router import on_callback, parse_id

SUBJECT_CODES = {"e": "event", "m": "meeting"}


def _events() -> Any:
    import handlers.events_cards as he

    return he



async def _pressed_subject(ctx: Ctx, code: str, raw_id: str) -> tuple[m.Event | m.Meeting, m.Network]:
    """The event or meeting of a press, if the presser may act on it here (else the button is dead)."""
    subject = SUBJECT_CODES.get(code)
    if subject == "event":
        event = await _events()._event_for_press(ctx, raw_id)
        network = await ctx.session.get(m.Network, event.network_id)
        assert network is not None
        if event.status != "scheduled" or event.starts_at <= ctx.now:
            raise UserError(N_("This event has already taken place."))
        return event, network
    if subject == "meeting":
        meeting = await ctx.session.get(m.Meeting, parse_id(raw_id))
        network = await ctx.session.get(m.Network, meeting.network_id) if meeting else None
        if meeting is None or network is None:
            raise UserError(N_("This button no longer works."))
        if ctx.is_group:
            if ctx.network is None or ctx.network.id != network.id:
                raise UserError(N_("This button no longer works."))
        else:
            assert ctx.person is not None
            if await people.membership(ctx.session, network, ctx.person, create=False) is None:
                raise UserError(N_("This button no longer works."))
        if meeting.status != "scheduled" or meeting.starts_at <= ctx.now:
            raise UserError(N_("That meeting can no longer be changed."))
        return meeting, network
    raise UserError(N_("This button no longer works."))


async def _plan_digest(ctx: Ctx, subject: str, row: m.Event | m.Meeting, network: m.Network) -> None:
    admins = await group_admins(ctx.services, ctx.context, network.chat_id)
    coords = await coordinators(ctx.session, network, admins)
    await ip.plan_digest(ctx.session, subject, row.id, row.starts_at, network.id, coords, ctx.now)


@on_callback(rh.INTERPRETER_KIND)
async def interpreter_button(ctx: Ctx, obj_id: str, value: str) -> None:
    assert ctx.person is not None
    code, _, language = value.partition("-")
    row, network = await _pressed_subject(ctx, code, obj_id)
    subject = SUBJECT_CODES[code]
    t = ctx.t
    if not language:
        # The 🗣 button itself: a second press withdraws.
        if await ip.withdraw(ctx.session, subject, row.id, ctx.person):
            await ctx.answer(t.plain("Withdrawn: you no longer ask for an interpreter."))
            return
        if t.lang in ip.ASK_LANGUAGES:
            choices = await ip.choices(ctx.session, network.id)
            await ctx.answer()
            await ctx.reply(
                t._("Which language do you need interpreting into?"),
                rh.language_choice(t, code, row.id, choices),
            )
            return
        language = t.lang
    elif language not in await ip.choices(ctx.session, network.id) and language != t.lang:
        raise UserError(N_("This button no longer works."))
    await ip.record(ctx.session, subject, row.id, ctx.person, language, ctx.now)
    await _plan_digest(ctx, subject, row, network)
    await ctx.answer(
        t.plain(
            "Noted: you need an interpreter into {language}. Press 🗣 Interpreter again to withdraw.",
            language=rh.language_label(language, t),
        )
    )


async def _title(session: AsyncSession, row: m.Event | m.Meeting, network: m.Network, t: Translator) -> str:
    if isinstance(row, m.Event):
        return (await tr.event_texts(session, row, t.lang)).fields["title"]
    return meeting_line(t, network, row)


@handler
async def interpreters_command(ctx: Ctx) -> None:
    if not ctx.arg_text:
        await begin(ctx, "interpreters")
        return
    await interpreters(ctx, ctx.arg_text.split())


async def parse_subject_step(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    ip.parse_subject(text)
    return text.strip()


FORM = register_form(
    Form(
        "interpreters",
        [
            Step(
                "subject",
                N_("Which event? Give its number, or m and a meeting's number (m3)."),
                parse_subject_step,
                max_length=20,
            )
        ],
        lambda ctx, data: interpreters(ctx, [str(data["subject"])]),
        example=N_("/interpreters 12"),
    )
)


async def interpreters(ctx: Ctx, parts: list[str]) -> None:
    if not parts or len(parts) not in (1, 3) or (len(parts) == 3 and parts[1].lower() != "confirm"):
        raise UserError(N_("Write it like this: {example}"), example=ip.EXAMPLE)
    subject, subject_id = ip.parse_subject(parts[0])
    row = await ip.subject_row(ctx.session, subject, subject_id)
    network = await ctx.session.get(m.Network, row.network_id)
    assert network is not None
    if ctx.is_group and (ctx.network is None or ctx.network.id != network.id):
        raise NotFound(N_("There is no event with that number. /events lists the upcoming ones."))
    await ctx.require_coordinator(network)
    t = ctx.t
    if len(parts) == 1:
        title = await _title(ctx.session, row, network, t)
        counts = await ip.counts(ctx.session, subject, row.id)
        confirmed = await ip.confirmed(ctx.session, subject, row.id)
        await ctx.reply(rh.counts_text(title, counts, confirmed, t))
        return
    language = parts[2].lower()
    asked = await ip.confirm(ctx.session, subject, row.id, language, ctx.person, ctx.now)
    await enqueue_to_people(
        ctx.session,
        asked,
        kind=ip.KIND_CONFIRMED,
        key=lambda p: f"{ip.KIND_CONFIRMED}:{subject}:{row.id}:{language}:p{p.id}",
        due_at=ctx.now,
        network_id=network.id,
        ref_id=row.id,
        payload={"subject": subject, "language": language},
    )
    await ctx.reply(
        t.n_(
            "Confirmed: an interpreter into {language}. I am telling the {n} person who asked.",
            "Confirmed: an interpreter into {language}. I am telling the {n} people who asked.",
            len(asked),
            language=rh.language_label(language, t),
        )
    )
    if isinstance(row, m.Event) and row.card_chat_id and row.card_message_id:
        await _events().refresh_card(ctx, row, row.card_chat_id, row.card_message_id, group=True)


async def _notice_subject(
    session: AsyncSession, notice: m.Notice
) -> tuple[m.Event | m.Meeting, m.Network] | None:
    subject = str(notice.payload.get("subject") or "")
    if subject not in ip.SUBJECTS or notice.ref_id is None:
        return None
    row: m.Event | m.Meeting | None = (
        await session.get(m.Event, notice.ref_id)
        if subject == "event"
        else await session.get(m.Meeting, notice.ref_id)
    )
    if row is None or row.status != "scheduled":
        return None
    network = await session.get(m.Network, row.network_id)
    return (row, network) if network is not None else None


@renderer(ip.KIND_DIGEST)
async def render_digest(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _notice_subject(session, notice)
    if found is None:
        return None
    row, network = found
    if notice.payload.get("ts") != ip.stamp(row.starts_at):
        return None  # moved: the counts go out before the new time instead
    subject = str(notice.payload["subject"])
    counts = await ip.counts(session, subject, row.id)
    if not counts:
        return None
    title = await _title(session, row, network, t)
    confirmed = await ip.confirmed(session, subject, row.id)
    ref = f"{row.id}" if subject == "event" else f"m{row.id}"
    hint = t._("To confirm one: /interpreters {ref} confirm ar", ref=ref)
    return Rendered(f"{rh.counts_text(title, counts, confirmed, t)}\n\n{hint}")


@renderer(ip.KIND_CONFIRMED)
async def render_confirmed(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _notice_subject(session, notice)
    if found is None or notice.person_id is None:
        return None
    row, network = found
    subject = str(notice.payload["subject"])
    request = await ip.request_of(session, subject, row.id, notice.person_id)
    language = str(notice.payload.get("language") or "")
    if request is None or request.language != language:
        return None  # withdrawn in the meantime
    title = await _title(session, row, network, t)
    return Rendered(
        t._(
            "🗣 An interpreter into {language} is confirmed for <b>{title}</b> ({when}).",
            language=rh.language_label(language, t),
            title=title,
            when=t.when(row.starts_at, network.timezone),
        )
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("interpreters", interpreters_command), group=0)
