"""/additem, /agenda, /standing; late items accepted or declined, items moved and withdrawn by buttons."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import agenda as ag
from bot.domain import attachments as at
from bot.domain import meetings as mt
from bot.domain.errors import NotAllowed, UserError
from bot.i18n import N_
from bot.render import meetings as rm
from bot.render.keyboard import Button, Keyboard, callback
from handlers import attachments
from handlers.common import Ctx, handler, markup, split_fields
from handlers.dialogue import Form, Step, begin, register_form, remember, run_oneline, take
from handlers.meetings import admin_ids, meeting_for, meeting_id_arg
from handlers.router import on_callback, parse_id

ADDITEM_EXAMPLE = N_("/additem Summer party in June | Who helps with the food?")
PICK_KIND = "additem_pick"


async def member_networks(ctx: Ctx) -> list[m.Network]:
    """Networks this person may send items to: those they are a member or coordinator of."""
    assert ctx.person is not None
    rows = await ctx.session.scalars(
        select(m.Network)
        .join(m.Membership, m.Membership.network_id == m.Network.id)
        .where(
            m.Membership.person_id == ctx.person.id,
            m.Membership.is_member | m.Membership.is_coordinator,
        )
        .order_by(m.Network.name)
    )
    return list(rows.all())


async def submit(
    ctx: Ctx, network: m.Network, title: str, description: str, files: list[dict[str, Any]] | None = None
) -> None:
    assert ctx.person is not None
    meeting = await mt.next_meeting(ctx.session, network, ctx.now)
    item = await ag.submit_item(ctx.session, meeting, network, ctx.person, title, description, ctx.now)
    # Files (handlers/attachments.py): the one replied to, or sent during the dialogue.
    attached = attachments.attached_note(ctx, item, await attachments.attach_all(ctx, item, files))
    t = ctx.t
    line = rm.meeting_line(t, network, meeting)
    if item.status == "accepted":
        await ctx.reply(
            t._("“{title}” is on the agenda of {meeting}.", title=item.title, meeting=line) + attached
        )
        return
    await ag.notify_late(ctx.session, item, network, meeting, await admin_ids(ctx, network))
    await ctx.reply(
        t._(
            "The deadline for items for {meeting} was {deadline}. I have sent “{title}” to the coordinators; "
            "I will tell you whether they accept it.",
            meeting=line,
            deadline=rm.when(t, network, mt.deadline_of(meeting, network)),
            title=item.title,
        )
        + attached
    )


async def submit_or_pick(ctx: Ctx, data: dict[str, Any]) -> None:
    title, description = data["title"], data.get("description") or ""
    files = data.get("files")
    if ctx.network is not None:
        await submit(ctx, ctx.network, title, description, files)
        return
    if ctx.is_group:
        await ctx.require_network()
    networks = await member_networks(ctx)
    if not networks:
        raise UserError(N_("Send items in your network's group, or become a member there first."))
    if len(networks) == 1:
        await submit(ctx, networks[0], title, description, files)
        return
    # Several networks: keep the item for a moment and ask which one (the button is only a key).
    await remember(ctx, PICK_KIND, {"title": title, "description": description, "files": files}, step=99)
    keyboard: Keyboard = [[Button(n.name[:60], callback("additem_network", n.id))] for n in networks]
    await ctx.reply(ctx.t._("Which network is the item for?"), keyboard)


register_form(
    Form(
        "additem",
        [
            Step("title", N_("What is the item's title?")),
            Step("description", N_("Describe it in a few words (optional)."), optional=True, max_length=1000),
        ],
        submit_or_pick,
        example=ADDITEM_EXAMPLE,
    )
)


@handler
async def additem(ctx: Ctx) -> None:
    if ctx.is_group:
        await ctx.require_network()
    files = {"files": attachments.reply_files(ctx)}  # a reply to a document or photo attaches it
    if not ctx.arg_text:
        await begin(ctx, "additem", files)
        return
    await run_oneline(ctx, "additem", split_fields(ctx.arg_text, 2), files)


@on_callback("additem_network")
async def pick_network(ctx: Ctx, obj_id: str, value: str) -> None:
    network_id = parse_id(obj_id)
    assert ctx.person is not None
    network = next((n for n in await member_networks(ctx) if n.id == network_id), None)
    data = await take(ctx, PICK_KIND) if network is not None else None
    if data is None or network is None:
        raise UserError(N_("This button no longer works."))
    await ctx.answer()
    await submit(ctx, network, data["title"], data.get("description") or "", data.get("files"))


async def agenda_view(ctx: Ctx, meeting: m.Meeting, network: m.Network) -> tuple[str, Keyboard | None]:
    t = ctx.t
    standing = await ag.standing_items(ctx.session, network.id)
    items = await ag.items_of(ctx.session, meeting.id)
    names = await rm._names(ctx.session, items)
    files = await at.file_names(ctx.session, [i.id for i in items])
    text = rm.agenda_text(t, network, meeting, standing, items, names, files)
    keyboard: Keyboard | None = None
    if await ctx.is_coordinator(network):
        if ctx.is_private:
            who = await ag.attendance(ctx.session, meeting.id)
            text += "\n\n" + rm.attendance_text(t, network, meeting, who)
        if items and meeting.starts_at > ctx.now:
            text += "\n\n" + t._("<i>Coordinators: ↑ ↓ move an item, ✕ withdraws it.</i>")
            keyboard = []
            for item in items[:20]:
                short = item.title[:18]
                keyboard.append(
                    [
                        Button(f"↑ {short}", callback("agenda_item_move", item.id, "u")),
                        Button("↓", callback("agenda_item_move", item.id, "d")),
                        Button("✕", callback("agenda_item_move", item.id, "w")),
                    ]
                )
    return text, keyboard


@handler
async def agenda(ctx: Ctx) -> None:
    meeting, network = await meeting_for(ctx, meeting_id_arg(ctx, "/agenda 3"))
    text, keyboard = await agenda_view(ctx, meeting, network)
    await ctx.reply(text, keyboard)


async def _item_and_network(ctx: Ctx, obj_id: str) -> tuple[m.AgendaItem, m.Meeting, m.Network]:
    item = await ctx.session.get(m.AgendaItem, parse_id(obj_id))
    meeting = await ctx.session.get(m.Meeting, item.meeting_id) if item else None
    network = await ctx.session.get(m.Network, meeting.network_id) if meeting else None
    if item is None or meeting is None or network is None:
        raise UserError(N_("This button no longer works."))
    return item, meeting, network


@on_callback("agenda_item_move")
async def move_button(ctx: Ctx, obj_id: str, value: str) -> None:
    item, meeting, network = await _item_and_network(ctx, obj_id)
    if not await ctx.is_coordinator(network):
        raise NotAllowed(N_("Only the network's coordinators can do that."))
    if meeting.starts_at <= ctx.now or meeting.status != "scheduled":
        raise UserError(N_("That meeting can no longer be changed."))
    if value in ("u", "d"):
        changed = await ag.move_item(ctx.session, item, -1 if value == "u" else 1)
    elif value == "w":
        changed = await ag.withdraw_item(ctx.session, item)
    else:
        raise UserError(N_("This button no longer works."))
    await ctx.answer(ctx.t.plain("Done.") if changed else ctx.t.plain("Nothing to change."))
    await ctx.session.flush()
    text, keyboard = await agenda_view(ctx, meeting, network)
    query = ctx.update.callback_query
    if changed and query is not None and query.message is not None:
        try:
            await ctx.context.bot.edit_message_text(
                text,
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=markup(keyboard),
            )
        except TelegramError:
            pass  # the message is too old or unchanged: the answer above already told the presser


@on_callback("late_item_decide")
async def late_button(ctx: Ctx, obj_id: str, value: str) -> None:
    item, _meeting, network = await _item_and_network(ctx, obj_id)
    if not await ctx.is_coordinator(network):
        raise NotAllowed(N_("Only the network's coordinators can do that."))
    if value not in ("a", "d"):
        raise UserError(N_("This button no longer works."))
    if not await ag.decide_late(ctx.session, item, value == "a", ctx.now):
        raise UserError(N_("Another coordinator has already decided on this item."))
    t = ctx.t
    assert ctx.person is not None
    outcome = (
        t._("Accepted by {name}.", name=ctx.person.display_name)
        if value == "a"
        else t._("Declined by {name}.", name=ctx.person.display_name)
    )
    await ctx.answer(t.plain("Done."))
    query = ctx.update.callback_query
    if query is not None and query.message is not None:
        try:
            await ctx.context.bot.edit_message_text(
                t.lines(f"{t.own(item.title)}\n{outcome}"),
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
            )
        except TelegramError:
            pass


def standing_list(ctx: Ctx, items: list[m.StandingItem]) -> str:
    t = ctx.t
    lines = [t._("<b>Standing agenda items</b>")]
    for n, item in enumerate(items, start=1):
        # Translators: where a standing item goes: at the start / at the end of every agenda.
        where = t._("at the start") if item.placement == "start" else t._("at the end")
        lines.append(f"{t.number(n)}. {rm.standing_title(t, item)} ({where})")
    lines += [
        "",
        t._(
            "Coordinators change them like this:\n/standing add start Nyt fra kommunen\n"
            "/standing add end Eventuelt\n/standing remove 2"
        ),
    ]
    return t.lines("\n".join(lines))


@handler
async def standing(ctx: Ctx) -> None:
    network = await ctx.require_network()
    words = ctx.arg_text.split()
    if words:
        await ctx.require_coordinator(network)
        action = words[0].lower()
        if action == "add" and len(words) >= 3:
            await ag.add_standing(ctx.session, network, " ".join(words[2:]), words[1].lower())
        elif action == "remove" and len(words) == 2 and words[1].isdecimal():
            await ag.remove_standing(ctx.session, network, int(words[1]))
        else:
            raise UserError(
                N_("I did not understand that. Example: {example}"), example="/standing add end Eventuelt"
            )
        await ctx.reply(ctx.t._("Saved."))
    await ctx.reply(standing_list(ctx, await ag.standing_items(ctx.session, network.id)))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("additem", additem), group=0)
    app.add_handler(CommandHandler("agenda", agenda), group=0)
    app.add_handler(CommandHandler("standing", standing), group=0)
