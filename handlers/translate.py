"""/translate: a translator's queue of event (and broadcast) texts waiting for their language,
one at a time, each translated in a guided dialogue."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import translations as tr
from bot.domain.errors import NotAllowed, UserError
from bot.i18n import N_
from bot.render.events import language_name, value
from handlers.common import Ctx, handler
from handlers.dialogue import Form, Step, begin, register_form


async def _subject(ctx: Ctx, data: dict[str, Any]) -> m.Event | m.Broadcast:
    model: type[m.Event] | type[m.Broadcast] = m.Event if data["subject"] == "event" else m.Broadcast
    obj = await ctx.session.get(model, int(data["id"]))
    assert ctx.person is not None
    if obj is None or not await tr.may_translate(ctx.session, ctx.person, obj.network_id, data["lang"]):
        raise NotAllowed(N_("Only translators named by the network's coordinators can do that."))
    return obj


async def finish(ctx: Ctx, data: dict[str, Any]) -> None:
    assert ctx.person is not None
    await _subject(ctx, data)
    keys = ("title", "place", "description") if data["subject"] == "event" else ("text",)
    fields = {k: data.get(k) or "" for k in keys}
    await tr.save(ctx.session, data["subject"], int(data["id"]), data["lang"], fields, ctx.person)
    left = len(await tr.queue(ctx.session, ctx.person, ctx.now))
    await ctx.reply(
        ctx.t._("Thank you, saved. Readers of that language now get your translation.")
        + "\n"
        + ctx.t.n_("{n} text is still waiting: /translate", "{n} texts are still waiting: /translate", left)
    )


register_form(
    Form(
        "translate_event",
        [
            Step("title", N_("The title, translated:"), max_length=120),
            Step("place", N_("The place, translated:"), max_length=200),
            Step("description", N_("The description, translated:"), optional=True, max_length=2000),
        ],
        finish,
        example=N_("Send each part as its own message."),
    )
)
register_form(
    Form(
        "translate_broadcast",
        [Step("text", N_("The message, translated:"), max_length=3500)],
        finish,
        example=N_("Send each part as its own message."),
    )
)


@handler
async def translate(ctx: Ctx) -> None:
    assert ctx.person is not None
    if not ctx.is_private:
        raise UserError(N_("Translations are done in a private chat with me: open it and send /translate."))
    if not await tr.queue(ctx.session, ctx.person, ctx.now, limit=1):
        roles = await ctx.session.scalar(
            m.Translator.__table__.select().where(m.Translator.person_id == ctx.person.id).limit(1)
        )
        if roles is None:
            raise NotAllowed(N_("Only translators named by the network's coordinators can do that."))
        await ctx.reply(ctx.t._("Nothing is waiting for a translation. Thank you!"))
        return
    items = await tr.queue(ctx.session, ctx.person, ctx.now)
    subject, subject_id, lang = items[0]
    data = {"subject": subject, "id": subject_id, "lang": lang}
    obj = await _subject(ctx, data)
    head = ctx.t.n_(
        "{n} text waits for a translation into {language}.",
        "{n} texts wait for a translation into {language}.",
        len(items),
        language=language_name(lang, ctx.t),
    )
    if isinstance(obj, m.Event):
        original = "\n".join(
            [
                f"<b>{value(ctx.t, obj.title)}</b>",
                f"📍 {value(ctx.t, obj.place)}",
                value(ctx.t, obj.description or "—"),
            ]
        )
        await ctx.reply(ctx.t.lines(f"{head}\n\n{original}"))
        await begin(ctx, "translate_event", data)
    else:
        await ctx.reply(ctx.t.lines(f"{head}\n\n{value(ctx.t, obj.text)}"))
        await begin(ctx, "translate_broadcast", data)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("translate", translate), group=0)
