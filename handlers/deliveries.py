"""/deliveries: coordinators see the messages of their network that could not be delivered.

In the group: that network's. In a private chat: the network the coordinator coordinates (a button
per network when there are several). Names of recipients are shown only to coordinators."""

from __future__ import annotations

from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import deliveries, people
from bot.domain.errors import UserError
from bot.i18n import N_
from bot.render.keyboard import Button, callback
from handlers.common import Ctx, handler
from handlers.router import on_callback, parse_id


async def _report(ctx: Ctx, network: m.Network) -> None:
    failures = await deliveries.recent_failures(ctx.session, network.id)
    unreachable = await deliveries.unreachable_followers(ctx.session, network.id)
    await ctx.reply(deliveries.report_text(ctx.t, network, failures, unreachable))


@handler
async def deliveries_command(ctx: Ctx) -> None:
    if ctx.network is not None:
        await _report(ctx, await ctx.require_coordinator())
        return
    if not ctx.is_private:
        await ctx.require_network()
    assert ctx.person is not None
    networks = [
        n for n in await people.person_networks(ctx.session, ctx.person) if await ctx.is_coordinator(n)
    ]
    if not networks:
        raise UserError(N_("Only the network's coordinators can do that."))
    if len(networks) == 1:
        await _report(ctx, networks[0])
        return
    await ctx.reply(
        ctx.t._("Which network?"),
        [[Button(n.name[:40], callback("deliveries_network", n.id, ""))] for n in networks],
    )


@on_callback("deliveries_network")
async def choose_network(ctx: Ctx, obj_id: str, _value: str) -> None:
    network = await ctx.session.get(m.Network, parse_id(obj_id))
    if network is None or not await ctx.is_coordinator(network):
        raise UserError(N_("Only the network's coordinators can do that."))
    await ctx.answer(network.name)
    await _report(ctx, network)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("deliveries", deliveries_command), group=0)
