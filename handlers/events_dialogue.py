"""The guided /newevent dialogue (title, time, place, description) and, in a private chat with
several networks, the choice of network."""

from __future__ import annotations

import logging
from typing import Any

from bot.db import models as m
from bot.domain import events as ev
from bot.domain import translations as tr
from bot.domain.errors import NotFound, UserError
from bot.domain.when import parse_span
from bot.i18n import N_
from bot.render.keyboard import Button, callback
from handlers import series as series_hooks
from handlers.common import Ctx, handler, split_fields
from handlers.dialogue import Form, Step, begin, register_form, remember, run_oneline, take
from handlers.events_notices import announce, store_vevent
from handlers.router import on_callback, parse_id

log = logging.getLogger(__name__)

# --- the guided dialogue ---------------------------------------------------------------------


async def _network_of(ctx: Ctx, data: dict[str, Any]) -> m.Network:
    network = await ctx.session.get(m.Network, int(data["network_id"]))
    if network is None:
        raise NotFound(N_("I could not find that network."))
    return network


async def parse_title(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return ev.check_text("title", text)


async def parse_when_step(ctx: Ctx, text: str, data: dict[str, Any]) -> dict[str, str | None]:
    network = await _network_of(ctx, data)
    repeat = await series_hooks.parse_repeat_when(ctx, text, network)  # series hook: a repeating {when}
    if repeat is not None:
        return repeat
    span = parse_span(text, network.timezone, ctx.now, ctx.t.lang)
    return {"start": span.start.isoformat(), "end": span.end.isoformat() if span.end else None}


async def parse_place(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return ev.check_text("place", text)


async def parse_description(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return ev.check_text("description", text)


async def finish_newevent(ctx: Ctx, data: dict[str, Any]) -> None:
    from datetime import datetime

    assert ctx.person is not None
    network = await _network_of(ctx, data)
    if await series_hooks.finish_newevent(ctx, data, network):  # series hook: a series, or ask how often
        return
    when = data["when"]
    start = datetime.fromisoformat(when["start"])
    end = datetime.fromisoformat(when["end"]) if when.get("end") else None
    if start <= ctx.now:  # a dialogue left open until the time passed
        raise UserError(N_("That time has passed. Please start again with /newevent."))
    text_all = " ".join(str(data.get(k) or "") for k in ("title", "place", "description"))
    event = await ev.create(
        ctx.session,
        network,
        ctx.person,
        title=data["title"],
        starts_at=start,
        ends_at=end,
        place=data["place"],
        description=data.get("description") or "",
        language=tr.guess_language(text_all, ctx.t.lang),
        now=ctx.now,
    )
    await store_vevent(ctx, event, network)
    await announce(ctx, event, network)


FORM = register_form(
    Form(
        "newevent",
        [
            Step("title", N_("What is the event called?"), parse_title, max_length=100_000),
            Step(
                "when",
                N_("When does it start? For example: 3. december kl. 17, or tomorrow 18:00"),
                parse_when_step,
                max_length=200,
            ),
            Step("place", N_("Where does it take place?"), parse_place, max_length=100_000),
            Step(
                "description",
                N_("A few words about it (who it is for, what to bring)?"),
                parse_description,
                optional=True,
                max_length=100_000,
            ),
        ],
        finish_newevent,
        example=N_("/newevent Fællesspisning | 3. december kl. 17 | Egebæk Medborgerhus | Alle er velkomne"),
    )
)


async def _start_form(ctx: Ctx, network: m.Network, args: str) -> None:
    data: dict[str, Any] = {"network_id": network.id}
    if args:
        await run_oneline(ctx, "newevent", split_fields(args, 4), data)
    else:
        data["guided"] = True  # series hook: the guided dialogue ends with the how-often buttons
        await begin(ctx, "newevent", data)


@handler
async def newevent(ctx: Ctx) -> None:
    assert ctx.person is not None
    if not ctx.is_private:
        network = await ctx.require_network()
        await _start_form(ctx, network, ctx.arg_text)
        return
    networks = await ev.member_networks(ctx.session, ctx.person)
    if not networks:
        raise UserError(
            N_(
                "You are not a member of any network yet. Write in your network's group first, then try again."
            )
        )
    if len(networks) == 1:
        await _start_form(ctx, networks[0], ctx.arg_text)
        return
    # Several networks: keep what was written, and ask which network it is for.
    await remember(ctx, "newevent_pick", {"args": ctx.arg_text[:5000]})
    keyboard = [[Button(n.name[:60], callback("newevent_network", n.id, ""))] for n in networks]
    await ctx.reply(ctx.t._("Which network is the event for?"), keyboard)


@on_callback("newevent_network")
async def pick_network(ctx: Ctx, obj_id: str, value: str) -> None:
    assert ctx.person is not None
    network_id = parse_id(obj_id)
    networks = {n.id: n for n in await ev.member_networks(ctx.session, ctx.person)}
    if network_id not in networks or not ctx.is_private:
        raise UserError(N_("This button no longer works."))
    pending = await take(ctx, "newevent_pick")
    args = str(pending.get("args") or "") if pending else ""
    await ctx.answer(networks[network_id].name)
    await _start_form(ctx, networks[network_id], args)
