"""/minutes (a reply to the text or file) and the Object button with its private dialogue."""

from __future__ import annotations

from typing import Any

from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import agenda as ag
from bot.domain import meetings as mt
from bot.domain import minutes as mn
from bot.domain.errors import UserError
from bot.i18n import N_, get_translator
from bot.render import meetings as rm
from bot.render import minutes as rmin
from bot.render.text import clean_input
from handlers.common import Ctx, handler, markup, send_to
from handlers.dialogue import FORMS, Form, Step, register_form, remember
from handlers.meetings import meeting_id_arg
from handlers.router import on_callback, parse_id

OBJECTION_KIND = "objection"


@handler
async def minutes(ctx: Ctx) -> None:
    if not ctx.is_group:
        raise UserError(N_("Use this command in your network's group."))
    network = await ctx.require_coordinator()
    meeting_id = meeting_id_arg(ctx, "/minutes 3")
    if meeting_id is None:
        meeting = await mt.latest_past(ctx.session, network, ctx.now)
        if meeting is None:
            raise UserError(N_("Write the meeting's number. Example: {example}"), example="/minutes 3")
    else:
        meeting = await mt.get_meeting(ctx.session, meeting_id, [network.id])
    msg = ctx.update.effective_message
    source = msg.reply_to_message if msg else None
    if source is None:
        raise UserError(
            N_("Reply with /minutes {id} to the message or file that holds the minutes."), id=meeting.id
        )
    file_id = source.document.file_id if source.document else None
    text = clean_input(source.text or source.caption or "")
    await mn.circulate(ctx.session, meeting, network, text=text, file_id=file_id, now=ctx.now)
    t = ctx.group_t
    sent = await ctx.context.bot.send_message(
        ctx.chat.id,
        rmin.minutes_text(t, network, meeting, cut_note=False),
        reply_to_message_id=source.message_id,
        allow_sending_without_reply=True,
        reply_markup=markup(rm.objection_keyboard(t, meeting)),
    )
    meeting.minutes_chat_id = sent.chat.id
    meeting.minutes_message_id = sent.message_id


@on_callback("minutes_object")
async def object_button(ctx: Ctx, obj_id: str, value: str) -> None:
    meeting = await ctx.session.get(m.Meeting, parse_id(obj_id))
    network = await ctx.session.get(m.Network, meeting.network_id) if meeting else None
    if meeting is None or network is None or ctx.person is None:
        raise UserError(N_("This button no longer works."))
    mn.check_open(meeting, network, ctx.now)
    if not await ag.may_take_part(ctx.session, network.id, ctx.person):
        raise UserError(N_("Only the network's members and followers can answer this."))
    # The reason is asked privately: objections are posted by the bot, not argued in the thread.
    person = ctx.person
    await remember(ctx, OBJECTION_KIND, {"meeting_id": meeting.id}, chat_id=person.tg_id)
    t = ctx.t
    question = t._(FORMS[OBJECTION_KIND].steps[0].prompt) + "\n<i>" + t._("/cancel stops.") + "</i>"
    try:
        await ctx.context.bot.send_message(person.tg_id, question)
    except Forbidden:
        raise UserError(
            N_(
                "Please open a private chat with me first (press my name, then Start), then press Object again."
            )
        ) from None
    except TelegramError:
        raise UserError(N_("Sorry, something went wrong. Please try again.")) from None
    await ctx.answer(t.plain("I have asked you for the reason in our private chat."))


async def finish_objection(ctx: Ctx, data: dict[str, Any]) -> None:
    assert ctx.person is not None
    meeting = await ctx.session.get(m.Meeting, int(data["meeting_id"]))
    network = await ctx.session.get(m.Network, meeting.network_id) if meeting else None
    if meeting is None or network is None:
        raise UserError(N_("This button no longer works."))
    objection = await mn.object_to(ctx.session, meeting, network, ctx.person, data["reason"], ctx.now)
    gt = get_translator(network.language)
    await send_to(
        ctx.context,
        network.chat_id,
        gt._(
            "⚠️ <b>Objection</b> to the minutes of the meeting on {when}, from {name}:\n{reason}",
            when=rm.when(gt, network, meeting.starts_at),
            name=ctx.person.display_name,
            reason=objection.reason,
        ),
    )
    await ctx.reply(ctx.t._("Your objection was posted to the group. The coordinators will take it up."))


register_form(
    Form(
        OBJECTION_KIND,
        [Step("reason", N_("What do you object to in the minutes? Write your reason."), max_length=1000)],
        finish_objection,
        example=N_("Item 3 is not minuted correctly: we decided to hold the party on 16 June."),
    )
)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("minutes", minutes), group=0)
