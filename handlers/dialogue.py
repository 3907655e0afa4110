"""Guided dialogues: a command given without its arguments asks field by field.

State lives in the `dialogues` table (one per user and chat), so a restart or another instance
continues where the person left off. In groups the questions use ForceReply, so the answers reach
the bot even with privacy mode on. `/cancel` leaves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.db import models as m
from bot.domain.errors import UserError
from bot.i18n import N_
from bot.render.text import clean_input
from handlers.common import Ctx, handler

Parser = Callable[[Ctx, str, dict[str, Any]], Awaitable[Any]]
Finisher = Callable[[Ctx, dict[str, Any]], Awaitable[None]]

# A dialogue not answered for this long is forgotten.
DIALOGUE_EXPIRES = timedelta(hours=12)

SKIP_WORDS = {"-", "–", "skip", "spring over", "تخطي", "ሕለፍ"}


async def keep_text(ctx: Ctx, text: str, data: dict[str, Any]) -> Any:
    return text


@dataclass
class Step:
    key: str
    prompt: str  # untranslated question
    parse: Parser = keep_text
    optional: bool = False
    max_length: int = 200


@dataclass
class Form:
    kind: str
    steps: list[Step]
    finish: Finisher
    example: str = ""  # untranslated one-line example, shown with errors
    extra: dict[str, Any] = field(default_factory=dict)


FORMS: dict[str, Form] = {}


def register_form(form: Form) -> Form:
    FORMS[form.kind] = form
    return form


async def _current(ctx: Ctx) -> m.Dialogue | None:
    if ctx.person is None:
        return None
    return await ctx.session.scalar(
        select(m.Dialogue).where(m.Dialogue.chat_id == ctx.chat.id, m.Dialogue.user_tg_id == ctx.person.tg_id)
    )


async def _ask(ctx: Ctx, form: Form, step_no: int) -> None:
    step = form.steps[step_no]
    text = ctx.t._(step.prompt)
    hints = []
    if step.optional:
        hints.append(ctx.t._("Send - to skip."))
    hints.append(ctx.t._("/cancel stops."))
    await ctx.reply(f"{text}\n<i>{' '.join(hints)}</i>", force_reply=not ctx.is_private)


async def remember(
    ctx: Ctx, kind: str, data: dict[str, Any], step: int = 0, *, chat_id: int | None = None
) -> None:
    """Store (replacing any earlier one) this person's dialogue state in this chat (or in `chat_id`:
    the private chat, for a question asked there about a press in a group). The only writer of
    dialogue rows; stamped with the update's time."""
    assert ctx.person is not None
    chat = ctx.chat.id if chat_id is None else chat_id
    await ctx.session.execute(
        delete(m.Dialogue).where(m.Dialogue.chat_id == chat, m.Dialogue.user_tg_id == ctx.person.tg_id)
    )
    ctx.session.add(
        m.Dialogue(
            chat_id=chat,
            user_tg_id=ctx.person.tg_id,
            kind=kind,
            step=step,
            data=dict(data),
            updated_at=ctx.now,
        )
    )


async def take(ctx: Ctx, kind: str) -> dict[str, Any] | None:
    """The data stored by `remember(ctx, kind, …)` in this chat, removed; None if there is none."""
    assert ctx.person is not None
    pending = await ctx.session.scalar(
        select(m.Dialogue).where(
            m.Dialogue.chat_id == ctx.chat.id,
            m.Dialogue.user_tg_id == ctx.person.tg_id,
            m.Dialogue.kind == kind,
        )
    )
    if pending is None:
        return None
    data = dict(pending.data)
    await ctx.session.delete(pending)
    await ctx.session.flush()
    return data


async def begin(ctx: Ctx, kind: str, data: dict[str, Any] | None = None) -> None:
    """Start (or restart) a guided dialogue for this person in this chat."""
    form = FORMS[kind]
    await remember(ctx, kind, dict(data or {}))
    await _ask(ctx, form, 0)


async def parse_step(ctx: Ctx, step: Step, raw: str, data: dict[str, Any]) -> Any:
    text = raw.strip()
    if not text or (step.optional and text.lower() in SKIP_WORDS):
        if step.optional:
            return None
        raise UserError(N_("Please write an answer, or /cancel."))
    if len(text) > step.max_length:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."),
            length=len(text),
            limit=step.max_length,
        )
    return await step.parse(ctx, text, data)


async def run_oneline(ctx: Ctx, kind: str, values: list[str], data: dict[str, Any] | None = None) -> None:
    """All fields given at once (`a | b | c`): parse each, and create nothing unless all are right."""
    form = FORMS[kind]
    data = dict(data or {})
    for i, step in enumerate(form.steps):
        raw = values[i] if i < len(values) else ""
        if not raw.strip() and not step.optional:
            raise UserError(
                # Translators: {field} is what is missing, e.g. the question "Where does it take place?".
                N_("Missing: {field}. Example: {example}"),
                field=ctx.t.plain(step.prompt),
                example=ctx.t.plain(form.example),
            )
        data[step.key] = await parse_step(ctx, step, raw, data)
    await form.finish(ctx, data)


@handler
async def on_text(ctx: Ctx) -> None:
    dialogue = await _current(ctx)
    if dialogue is not None and ctx.now - dialogue.updated_at > DIALOGUE_EXPIRES:
        # Started and left long ago: today's message is not the answer to yesterday's question.
        await ctx.session.delete(dialogue)
        dialogue = None
    if dialogue is None:
        if ctx.is_private:
            await ctx.reply(ctx.t._("I did not understand that. /help shows what I can do."))
        return
    form = FORMS.get(dialogue.kind)
    if form is None or dialogue.step >= len(form.steps):
        await ctx.session.delete(dialogue)
        return
    step = form.steps[dialogue.step]
    msg = ctx.update.effective_message
    raw = clean_input((msg.text or "") if msg else "")
    data = dict(dialogue.data)
    try:
        data[step.key] = await parse_step(ctx, step, raw, data)
    except UserError as err:
        # A wrong answer is explained and asked again; the dialogue stays where it was.
        await ctx.reply("⚠️ " + ctx.t._(err.message, **err.params))
        await _ask(ctx, form, dialogue.step)
        return
    if dialogue.step + 1 < len(form.steps):
        dialogue.step += 1
        dialogue.data = data
        dialogue.updated_at = ctx.now
        await _ask(ctx, form, dialogue.step)
        return
    await ctx.session.delete(dialogue)
    await ctx.session.flush()
    await form.finish(ctx, data)


@handler
async def cancel(ctx: Ctx) -> None:
    dialogue = await _current(ctx)
    if dialogue is None:
        await ctx.reply(ctx.t._("There is nothing to cancel."))
        return
    await ctx.session.delete(dialogue)
    await ctx.reply(ctx.t._("Stopped. Nothing was saved."))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("cancel", cancel), group=0)
    # Group 10: after the feature handlers, so their own text handlers win.
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text), group=10)
