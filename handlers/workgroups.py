"""/parent {slug} (a working group's link to its parent network) and the "publish decisions" setting
(`/settings publish on|off` and its button in /settings)."""

from __future__ import annotations

from telegram.ext import Application, CommandHandler

from bot.domain import workgroups as wg
from bot.domain.calendar import public_link
from bot.domain.errors import NotAllowed, UserError
from bot.i18n import N_
from bot.render.keyboard import Button, callback
from handlers.common import Ctx, handler
from handlers.router import on_callback, parse_id


@handler
async def parent(ctx: Ctx) -> None:
    if not ctx.is_group:
        raise UserError(N_("Use this command in your network's group."))
    child = await ctx.require_coordinator()
    words = ctx.arg_text.split()
    t = ctx.t
    if not words:
        current = await wg.parent_of(ctx.session, child.id)
        if current is None:
            await ctx.reply(
                t._(
                    "This network is not a working group of another. Link it with /parent and the parent's short name, e.g. /parent raadet."
                )
            )
        else:
            await ctx.reply(
                t._(
                    "This network is a working group of {parent}. /parent none unlinks it.",
                    parent=current.name,
                )
            )
        return
    if words[0].casefold() in wg.NONE_WORDS:
        changed = await wg.set_parent(ctx.session, child, None)
        await ctx.reply(
            t._("Unlinked: this network is no longer a working group.")
            if changed
            else t._("Nothing to change.")
        )
        return
    found = await wg.parent_by_slug(ctx.session, child, words[0])
    if not await ctx.is_coordinator(found):
        raise NotAllowed(N_("Only a coordinator of both networks can link them."))
    changed = await wg.set_parent(ctx.session, child, found)
    if not changed:
        await ctx.reply(t._("Nothing to change."))
        return
    await ctx.reply(
        t._(
            "{child} is now a working group of {parent}: its decisions appear in {parent}'s final agenda "
            "and in /decisions all there. Followers stay separate.",
            child=child.name,
            parent=found.name,
        )
    )


async def settings_line(ctx: Ctx) -> str:
    """For /settings: whether decisions are published, and where."""
    network = ctx.network
    assert network is not None
    t = ctx.t
    if await wg.is_published(ctx.session, network.id):
        link = public_link(ctx.services.settings.public_url, "/n/" + network.slug + "/decisions")
        return "\n" + t._("Published decisions: on ({url})", url=link)
    return "\n" + t._(
        "Published decisions: off. /settings publish on puts the approved minutes and decisions on the web."
    )


async def settings_row(ctx: Ctx) -> list[Button]:
    network = ctx.network
    assert network is not None
    on = await wg.is_published(ctx.session, network.id)
    label = ctx.t.plain("Stop publishing decisions") if on else ctx.t.plain("Publish decisions")
    return [Button(label, callback("publish_toggle", network.id, "0" if on else "1"))]


async def apply_setting(ctx: Ctx, words: list[str]) -> str:
    """`/settings publish on|off`; returns the untranslated confirmation."""
    network = ctx.network
    assert network is not None
    await wg.set_published(ctx.session, network, wg.parse_on_off(words[0] if words else ""))
    return N_("Saved.")


@on_callback("publish_toggle")
async def publish_button(ctx: Ctx, obj_id: str, value: str) -> None:
    network = await ctx.require_coordinator()
    if parse_id(obj_id) != network.id or value not in ("0", "1"):
        raise UserError(N_("This button no longer works."))
    await wg.set_published(ctx.session, network, value == "1")
    await ctx.answer(ctx.t.plain("Saved."))
    await ctx.reply((await settings_line(ctx)).strip(), quote=False)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("parent", parent), group=0)
