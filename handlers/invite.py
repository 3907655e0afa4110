"""/invite: the printable invitation (a one-page PDF with the follow link as a QR code and how to follow
in Danish, Arabic and Tigrinya), for a coordinator — in the group, or privately for a network they
coordinate (`/invite {slug}`, or a button per network)."""

from __future__ import annotations

import asyncio

from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import people
from bot.domain.errors import UserError
from bot.i18n import N_
from bot.render.invitation import follow_link, invitation_pdf
from bot.render.keyboard import Button, callback
from handlers.common import Ctx, handler
from handlers.router import on_callback


async def _coordinated(ctx: Ctx) -> list[m.Network]:
    assert ctx.person is not None
    return [n for n in await people.person_networks(ctx.session, ctx.person) if await ctx.is_coordinator(n)]


async def send_invitation(ctx: Ctx, network: m.Network) -> None:
    link = follow_link(ctx.context.bot.username, network.slug)
    # Rendering a page takes a moment of CPU: off the event loop.
    pdf = await asyncio.to_thread(invitation_pdf, network.name, link)
    await ctx.context.bot.send_document(
        ctx.chat.id,
        document=pdf,
        filename=f"invitation-{network.slug}.pdf",
        caption=ctx.t._(
            "An invitation to print for {network}: the QR code opens {link}. Hang it where people "
            "who could follow you will see it.",
            network=network.name,
            link=link,
        ),
    )


@handler
async def invite(ctx: Ctx) -> None:
    if not ctx.is_private:
        await send_invitation(ctx, await ctx.require_coordinator())
        return
    networks = await _coordinated(ctx)
    if not networks:
        raise UserError(N_("Only the network's coordinators can do that."))
    wanted = ctx.arg_text.strip().lower()
    if wanted:
        chosen = [n for n in networks if n.slug.lower() == wanted]
        if not chosen:
            raise UserError(N_("You do not coordinate a network called {slug}."), slug=wanted)
        networks = chosen
    if len(networks) == 1:
        await send_invitation(ctx, networks[0])
        return
    await ctx.reply(
        ctx.t._("Which network is the invitation for?"),
        [[Button(n.name, callback("invite", n.id, ""))] for n in networks],
    )


@on_callback("invite")
async def invite_button(ctx: Ctx, obj_id: str, _value: str) -> None:
    network = await ctx.session.get(m.Network, int(obj_id)) if obj_id.isdecimal() else None
    if network is None or not ctx.is_private or not await ctx.is_coordinator(network):
        raise UserError(N_("Only the network's coordinators can do that."))
    await ctx.answer()
    await send_invitation(ctx, network)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("invite", invite), group=0)
