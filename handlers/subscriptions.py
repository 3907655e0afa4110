"""/subscribe, /unsubscribe, /reminders and the `/start net_{slug}` link: following networks and
choosing reminder lead times. Every change re-plans the person's reminders."""

from __future__ import annotations

from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import people, subscriptions
from bot.domain.errors import UserError
from bot.domain.reminders import LEAD_TIMES, parse_minutes
from bot.i18n import N_, Translator
from bot.render.keyboard import Button, Keyboard, callback
from handlers.common import Ctx, handler, markup
from handlers.router import on_callback, parse_id
from handlers.start import start_payload


def lead_label(t: Translator, minutes: int) -> str:
    if minutes == 15:
        return t.plain("15 minutes")
    if minutes == 60:
        return t.plain("1 hour")
    if minutes == 1440:
        return t.plain("1 day")
    return t.plain("1 week")


async def _edit(ctx: Ctx, text: str, keyboard: Keyboard | None) -> None:
    query = ctx.update.callback_query
    if query is not None and query.message is not None:
        await ctx.context.bot.edit_message_text(
            text, chat_id=ctx.chat.id, message_id=query.message.message_id, reply_markup=markup(keyboard)
        )
    else:
        await ctx.reply(text, keyboard)


# --- following ----------------------------------------------------------------------------


async def _subscribe_view(ctx: Ctx) -> tuple[str, Keyboard]:
    assert ctx.person is not None
    nets = await people.person_networks(ctx.session, ctx.person)
    followed = {n.id for n in await people.followed_networks(ctx.session, ctx.person)}
    if not nets:
        return (
            ctx.t._(
                "You are not in any network yet. Ask a network's coordinators for its link, "
                "or write /subscribe in the network's group."
            ),
            [],
        )
    rows = [
        [Button(("✅ " if n.id in followed else "➕ ") + n.name[:40], callback("follow_toggle", n.id, "t"))]
        for n in nets
    ]
    text = ctx.t._("Choose the networks to follow (press again to stop). ✅ = you follow it.")
    return text, rows


@handler
async def subscribe(ctx: Ctx) -> None:
    if not ctx.is_private:
        network = await ctx.require_network()
        username = ctx.context.bot.username
        url = f"https://t.me/{username}?start=net_{network.slug}"
        await ctx.reply(
            ctx.group_t._(
                "Follow {network} in a private chat with me: you get its events and reminders in your own "
                "language.",
                network=network.name,
            ),
            [[Button(ctx.group_t.plain("Follow {network}", network=network.name[:40]), url=url)]],
        )
        return
    text, keyboard = await _subscribe_view(ctx)
    await ctx.reply(text, keyboard or None)


@on_callback("follow_toggle")
async def toggle_follow(ctx: Ctx, obj_id: str, _value: str) -> None:
    assert ctx.person is not None
    network = await ctx.session.get(m.Network, parse_id(obj_id))
    mine = {n.id for n in await people.person_networks(ctx.session, ctx.person)}
    if network is None or network.id not in mine:
        raise UserError(N_("This button no longer works."))
    followed = {n.id for n in await people.followed_networks(ctx.session, ctx.person)}
    if network.id in followed:
        await subscriptions.unfollow(ctx.session, network, ctx.person, ctx.now)
        await ctx.answer(ctx.t.plain("You no longer follow {network}.", network=network.name))
    else:
        await subscriptions.follow(ctx.session, network, ctx.person, ctx.now)
        await ctx.answer(ctx.t.plain("You now follow {network}.", network=network.name))
    text, keyboard = await _subscribe_view(ctx)
    await _edit(ctx, text, keyboard)


@start_payload("net_")
async def follow_from_link(ctx: Ctx, slug: str) -> None:
    """`/start net_{slug}` (the link /subscribe gives in a group): follow, then plan reminders."""
    assert ctx.person is not None
    network = await people.network_by_slug(ctx.session, slug)
    if network is None:
        raise UserError(N_("I could not find that network. Ask its coordinators for a new link."))
    new = await subscriptions.follow(ctx.session, network, ctx.person, ctx.now)
    if new:
        await ctx.reply(
            ctx.t._(
                "You now follow {network}. I will send you its events and reminders. "
                "/reminders chooses when, /unsubscribe stops.",
                network=network.name,
            )
        )
    else:
        await ctx.reply(ctx.t._("You already follow {network}.", network=network.name))


async def _unsubscribe_view(ctx: Ctx) -> tuple[str, Keyboard]:
    assert ctx.person is not None
    followed = await people.followed_networks(ctx.session, ctx.person)
    if not followed:
        return ctx.t._("You do not follow any network. /subscribe to follow one."), []
    rows = [[Button("✖ " + n.name[:40], callback("unfollow", n.id, ""))] for n in followed]
    if len(followed) > 1:
        rows.append([Button(ctx.t.plain("Stop following all"), callback("unfollow", "all", ""))])
    return ctx.t._("Which network do you want to stop following?"), rows


@handler
async def unsubscribe(ctx: Ctx) -> None:
    if not ctx.is_private:
        await ctx.reply(ctx.t._("Write /unsubscribe to me in a private chat."))
        return
    text, keyboard = await _unsubscribe_view(ctx)
    await ctx.reply(text, keyboard or None)


@on_callback("unfollow")
async def stop_following(ctx: Ctx, obj_id: str, _value: str) -> None:
    assert ctx.person is not None
    if obj_id == "all":
        n = await subscriptions.unfollow_all(ctx.session, ctx.person, ctx.now)
        await ctx.answer(ctx.t.nplain("Stopped following {n} network.", "Stopped following {n} networks.", n))
    else:
        network = await ctx.session.get(m.Network, parse_id(obj_id))
        if network is None:
            raise UserError(N_("This button no longer works."))
        if await subscriptions.unfollow(ctx.session, network, ctx.person, ctx.now):
            await ctx.answer(ctx.t.plain("You no longer follow {network}.", network=network.name))
    text, keyboard = await _unsubscribe_view(ctx)
    await _edit(ctx, text, keyboard or None)


# --- reminder lead times ------------------------------------------------------------------------


def _reminders_view(ctx: Ctx) -> tuple[str, Keyboard]:
    assert ctx.person is not None
    chosen = set(parse_minutes(ctx.person.reminder_minutes))
    row = [
        Button(("✅ " if mins in chosen else "▫️ ") + lead_label(ctx.t, mins), callback("reminder_lead", mins, ""))
        for mins in LEAD_TIMES
    ]
    names = ", ".join(lead_label(ctx.t, mins) for mins in LEAD_TIMES if mins in chosen)
    text = "\n".join(
        [
            ctx.t._("When should I remind you of events? Press to switch; several are allowed."),
            # Translators: {lead_times} lists the chosen reminder times, e.g. "1 day, 1 hour": the reminders
            # currently come that long before each event (not "ago").
            ctx.t._("Now: {lead_times} before.", lead_times=names),
        ]
    )
    return text, [row[:2], row[2:]]


@handler
async def reminders(ctx: Ctx) -> None:
    if not ctx.is_private:
        await ctx.reply(ctx.t._("Write /reminders to me in a private chat."))
        return
    text, keyboard = _reminders_view(ctx)
    await ctx.reply(text, keyboard)


@on_callback("reminder_lead")
async def toggle_lead_time(ctx: Ctx, obj_id: str, _value: str) -> None:
    assert ctx.person is not None
    minutes = parse_id(obj_id)
    await subscriptions.toggle_lead_time(ctx.session, ctx.person, minutes, ctx.now)
    await ctx.answer(ctx.t.plain("Saved."))
    text, keyboard = _reminders_view(ctx)
    await _edit(ctx, text, keyboard)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("subscribe", subscribe), group=0)
    app.add_handler(CommandHandler("unsubscribe", unsubscribe), group=0)
    app.add_handler(CommandHandler("reminders", reminders), group=0)
