"""/broadcast {text} [| at {when}]: coordinators send to every follower, now or later, with live progress.

Without arguments it lists the scheduled broadcasts (each with a Cancel button) and asks for the
text and the time step by step. In a private chat, a coordinator of several networks first chooses
the network."""

from __future__ import annotations

import re
from typing import Any

from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import broadcasts, people
from bot.domain.errors import UserError
from bot.domain.translations import guess_language
from bot.domain.when import parse_when
from bot.i18n import N_
from bot.render.keyboard import Button, callback
from handlers.common import Ctx, handler
from handlers.dialogue import Form, Step, begin, register_form
from handlers.router import on_callback, parse_id

EXAMPLE = N_("/broadcast Shared dinner tonight at 18 in the community hall | at tomorrow 9:00")
_AT = re.compile(r"^\s*(at|kl\.?|på|في|ብ)\s+", re.IGNORECASE)


async def _coordinated(ctx: Ctx) -> list[m.Network]:
    """Networks where this command acts: the group's, or (privately) those the person coordinates."""
    if ctx.network is not None:
        return [await ctx.require_coordinator()]
    if not ctx.is_private:
        await ctx.require_network()
    assert ctx.person is not None
    return [n for n in await people.person_networks(ctx.session, ctx.person) if await ctx.is_coordinator(n)]


async def _network_from(ctx: Ctx, data: dict[str, Any]) -> m.Network:
    network = await ctx.session.get(m.Network, int(data["network_id"]))
    if network is None or not await ctx.is_coordinator(network):
        raise UserError(N_("Only the network's coordinators can do that."))
    return network


async def _parse_text(ctx: Ctx, text: str, data: dict[str, Any]) -> Any:
    if len(text) > broadcasts.MAX_LENGTH:
        raise UserError(
            N_("The message is too long ({length} characters; at most {limit})."),
            length=len(text),
            limit=broadcasts.MAX_LENGTH,
        )
    return text


async def _parse_at(ctx: Ctx, text: str, data: dict[str, Any]) -> Any:
    network = await _network_from(ctx, data)
    when = parse_when(_AT.sub("", text), network.timezone, ctx.now, ctx.t.lang)
    return when.isoformat()


async def _finish(ctx: Ctx, data: dict[str, Any]) -> None:
    from datetime import datetime

    assert ctx.person is not None
    network = await _network_from(ctx, data)
    due = datetime.fromisoformat(data["at"]) if data.get("at") else ctx.now
    bc = await broadcasts.schedule(
        ctx.session,
        network=network,
        author=ctx.person,
        text=data["text"],
        language=guess_language(data["text"], network.language),
        due_at=due,
        progress_chat_id=ctx.chat.id,
    )
    if data.get("at"):
        await ctx.reply(
            ctx.t._(
                "Broadcast #{id} to the followers of {network} is scheduled for {when}. "
                "Translators can add their language until then. /broadcast lists it and can cancel it.",
                id=bc.id,
                network=network.name,
                when=ctx.t.when(due, network.timezone),
            )
        )


register_form(
    Form(
        "broadcast",
        [
            Step(
                "text",
                N_("What should I send to the followers?"),
                _parse_text,
                max_length=broadcasts.MAX_LENGTH,
            ),
            Step(
                "at",
                N_("When should it go out? Send - to send it now, or a time like: tomorrow 9:00"),
                _parse_at,
                optional=True,
            ),
        ],
        _finish,
        example=EXAMPLE,
    )
)


async def _list_scheduled(ctx: Ctx, networks: list[m.Network]) -> None:
    rows = await broadcasts.scheduled(ctx.session, [n.id for n in networks])
    if not rows:
        return
    names = {n.id: n for n in networks}
    for bc in rows:
        net = names[bc.network_id]
        preview = bc.text if len(bc.text) <= 120 else bc.text[:119] + "…"
        await ctx.reply(
            # Translators: {preview} is the start of the broadcast's text.
            ctx.t._(
                "Scheduled broadcast #{id} ({network}), goes out {when}:\n{preview}",
                id=bc.id,
                network=net.name,
                when=ctx.t.when(bc.due_at, net.timezone),
                preview=preview,
            ),
            [[Button(ctx.t.plain("Cancel this broadcast"), callback("broadcast_cancel", bc.id, ""))]],
        )


@handler
async def broadcast(ctx: Ctx) -> None:
    networks = await _coordinated(ctx)
    if not networks:
        raise UserError(N_("Only the network's coordinators can do that."))
    arg = ctx.arg_text.strip()
    if not arg:
        await _list_scheduled(ctx, networks)
        if len(networks) == 1:
            await begin(ctx, "broadcast", {"network_id": networks[0].id})
        else:
            await ctx.reply(
                ctx.t._("Which network should the broadcast go to?"),
                [[Button(n.name[:40], callback("broadcast_network", n.id, ""))] for n in networks],
            )
        return
    if len(networks) > 1:
        raise UserError(
            N_(
                "You coordinate several networks: write /broadcast in the network's group, or /broadcast alone here."
            )
        )
    data: dict[str, Any] = {"network_id": networks[0].id}
    text, sep, at = arg.rpartition("|")
    if not sep:
        text, at = arg, ""
    text = text.strip()
    if not text:
        raise UserError(N_("The message is empty. Example: {example}"), example=ctx.t.plain(EXAMPLE))
    data["text"] = await _parse_text(ctx, text, data)
    data["at"] = await _parse_at(ctx, at, data) if at.strip() else None
    await _finish(ctx, data)


@on_callback("broadcast_network")
async def choose_network(ctx: Ctx, obj_id: str, _value: str) -> None:
    network = await ctx.session.get(m.Network, parse_id(obj_id))
    if network is None or not await ctx.is_coordinator(network):
        raise UserError(N_("Only the network's coordinators can do that."))
    await ctx.answer(network.name)
    await begin(ctx, "broadcast", {"network_id": network.id})


@on_callback("broadcast_cancel")
async def cancel_broadcast(ctx: Ctx, obj_id: str, _value: str) -> None:
    bc = await ctx.session.get(m.Broadcast, parse_id(obj_id))
    network = await ctx.session.get(m.Network, bc.network_id) if bc is not None else None
    if bc is None or network is None or not await ctx.is_coordinator(network):
        raise UserError(N_("Only the network's coordinators can do that."))
    await broadcasts.cancel(ctx.session, bc.id, [network.id])
    await ctx.answer(ctx.t.plain("Cancelled."))
    await ctx.reply(ctx.t._("Broadcast #{id} is cancelled; nobody received it.", id=bc.id), quote=False)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("broadcast", broadcast), group=0)
