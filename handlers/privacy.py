"""/mydata and /forgetme."""

from __future__ import annotations

import json

from telegram.ext import Application, CommandHandler

from bot.domain import people
from bot.domain.errors import UserError
from bot.domain.places import limited_events_going  # issue 13
from bot.domain.privacy import export_person
from bot.i18n import N_
from bot.render.keyboard import Button, callback
from handlers.common import Ctx, handler
from handlers.places import refill_after_forget  # issue 13
from handlers.router import on_callback


def _private_only(ctx: Ctx) -> None:
    if not ctx.is_private:
        raise UserError(N_("Please use this command in a private chat with me."))


@handler
async def mydata(ctx: Ctx) -> None:
    _private_only(ctx)
    assert ctx.person is not None
    data = await export_person(ctx.session, ctx.person)
    blob = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
    await ctx.context.bot.send_document(
        ctx.chat.id,
        document=blob,
        filename="volbot-mydata.json",
        caption=ctx.t._("Everything I store about you. /forgetme deletes it."),
    )


@handler
async def forgetme(ctx: Ctx) -> None:
    _private_only(ctx)
    assert ctx.person is not None
    await ctx.reply(
        ctx.t._(
            "This deletes everything I store about you: your language, the networks you follow, your "
            "replies, votes and reminders. It cannot be undone. Are you sure?"
        ),
        [
            [
                Button(ctx.t.plain("Yes, delete everything"), callback("forget_me", ctx.person.id, "yes")),
                Button(ctx.t.plain("No, keep it"), callback("forget_me", ctx.person.id, "no")),
            ]
        ],
    )


@on_callback("forget_me")
async def forget_button(ctx: Ctx, obj_id: str, value: str) -> None:
    assert ctx.person is not None
    if not ctx.is_private or obj_id != str(ctx.person.id):
        raise UserError(N_("This button no longer works."))
    query = ctx.update.callback_query
    assert query is not None
    if value != "yes":
        await ctx.answer(ctx.t.plain("Nothing was deleted."))
        await query.edit_message_text(ctx.t._("Nothing was deleted."))
        return
    t = ctx.t
    held = await limited_events_going(ctx.session, ctx.person.id)  # issue 13
    await people.forget_person(ctx.session, ctx.person)
    await refill_after_forget(ctx, held)  # issue 13: the first waiting get the places freed
    ctx.person = None
    await ctx.answer(t.plain("Deleted."))
    await query.edit_message_text(
        t._("Everything I stored about you is deleted. If you write to me again, I start afresh.")
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("mydata", mydata), group=0)
    app.add_handler(CommandHandler("forgetme", forgetme), group=0)
