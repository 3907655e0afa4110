"""/todo {who} | {what} [| {due}] and /todos; the `Done` button (owner or coordinator only)."""

from __future__ import annotations

from typing import Any

from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import people
from bot.domain import todos as td
from bot.domain.errors import NotAllowed, UserError
from bot.i18n import N_
from bot.render import todos as rt
from bot.render.text import esc
from bot.render.todos import TODO_EXAMPLE
from handlers.agenda import member_networks
from handlers.common import Ctx, handler, markup, split_fields
from handlers.dialogue import Form, Step, begin, register_form, run_oneline
from handlers.router import on_callback, parse_id


async def todo_network(ctx: Ctx) -> m.Network:
    """The group's network; privately, the one network the person is a member of."""
    if ctx.is_group:
        return await ctx.require_network()
    networks = await member_networks(ctx)
    if len(networks) != 1:
        raise UserError(N_("Use this command in your network's group."))
    return networks[0]


async def parse_due(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    """Checked when typed (a wrong date is asked again), kept as written: read in the network's zone."""
    td.parse_due(text, await todo_network(ctx), ctx.now, ctx.t.lang)
    return text


async def finish_todo(ctx: Ctx, data: dict[str, Any]) -> None:
    assert ctx.person is not None
    network = await todo_network(ctx)
    item = await td.create(
        ctx.session,
        network,
        ctx.person,
        data["who"],
        data["what"],
        data.get("due") or "",
        ctx.now,
        ctx.t.lang,
    )
    t = ctx.t
    names = await td.owner_names(ctx.session, [item])
    text = (
        t._("Noted as action item {id}:", id=item.id) + "\n" + rt.item_line(t, item, network, names, ctx.now)
    )
    if item.owner_id is None:
        text += "\n" + t._(
            "I do not know {who} here, so I cannot tell them. With their @username, or once they have "
            "written in the group, I can.",
            who=item.owner_name,
        )
    elif item.owner_id != ctx.person.id:
        text += "\n" + t._("I will tell them privately, if they have opened a chat with me.")
    await ctx.reply(text)


register_form(
    Form(
        "todo",
        [
            Step("who", N_("Who does it? (@username, a name, or me)"), max_length=td.MAX_NAME),
            Step("what", N_("What is to be done?"), max_length=td.MAX_TEXT),
            Step("due", N_("By when? (a date, optional)"), parse_due, optional=True, max_length=60),
        ],
        finish_todo,
        example=TODO_EXAMPLE,
    )
)


@handler
async def todo(ctx: Ctx) -> None:
    await todo_network(ctx)
    if not ctx.arg_text:
        await begin(ctx, "todo")
        return
    await run_oneline(ctx, "todo", split_fields(ctx.arg_text, 3))


async def _list(ctx: Ctx) -> tuple[str, Any]:
    assert ctx.person is not None
    if ctx.is_group:
        networks = [await ctx.require_network()]
    else:
        networks = list(await people.person_networks(ctx.session, ctx.person))
    by_id = {n.id: n for n in networks}
    items = await td.open_items(ctx.session, list(by_id), limit=rt.MAX_BUTTONS)
    # In the group a button for every item (checked when pressed); privately only where this person
    # may press it.
    allowed = {
        item.id
        for item in items
        if ctx.is_group or item.owner_id == ctx.person.id or await ctx.is_coordinator(by_id[item.network_id])
    }
    names = await td.owner_names(ctx.session, items)
    text = rt.todos_text(ctx.t, items, by_id, names, ctx.now, several=len(networks) > 1)
    return text, rt.done_keyboard(ctx.t, items, allowed)


@handler
async def todos(ctx: Ctx) -> None:
    text, keyboard = await _list(ctx)
    await ctx.reply(text, keyboard)


@on_callback("todo_done")
async def done_button(ctx: Ctx, obj_id: str, value: str) -> None:
    if ctx.person is None:
        raise UserError(N_("This button no longer works."))
    item, network = await td.get_for(ctx.session, parse_id(obj_id))
    # Callback data is only a key: the presser must be the owner or a coordinator of the item's network.
    coordinator = await ctx.is_coordinator(network)
    if item.owner_id != ctx.person.id and not coordinator:
        raise NotAllowed(N_("Only the person it is for or a coordinator can mark it done."))
    changed = await td.mark_done(ctx.session, item, ctx.person, coordinator, ctx.now)
    t = ctx.t
    await ctx.answer(t.plain("Done.") if changed else t.plain("It was marked done already."))
    query = ctx.update.callback_query
    if not changed or query is None or query.message is None:
        return
    await ctx.session.flush()
    try:
        if ctx.is_group or query.message.chat.id == network.chat_id:
            text, keyboard = await _list(ctx)
            await ctx.context.bot.edit_message_text(
                text,
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=markup(keyboard),
            )
        else:
            await ctx.context.bot.edit_message_text(
                "✅ " + esc(item.text) + "\n" + t._("Marked done by {name}.", name=ctx.person.display_name),
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
            )
    except TelegramError:
        pass  # too old or unchanged: the answer above already told the presser


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("todo", todo), group=0)
    app.add_handler(CommandHandler("todos", todos), group=0)
