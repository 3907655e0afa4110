"""/start, /help and /language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram.ext import Application, CommandHandler

from bot.commands import visible
from bot.domain import people
from bot.domain.errors import UserError
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, N_, get_translator
from bot.render.keyboard import Button, callback
from handlers.common import Ctx, handler
from handlers.router import on_callback

# Payload prefix -> handler(ctx, rest). Features add theirs (events add "ev_").
START_PAYLOADS: dict[str, Callable[[Ctx, str], Awaitable[None]]] = {}


def start_payload(
    prefix: str,
) -> Callable[[Callable[[Ctx, str], Awaitable[None]]], Callable[[Ctx, str], Awaitable[None]]]:
    def deco(fn: Callable[[Ctx, str], Awaitable[None]]) -> Callable[[Ctx, str], Awaitable[None]]:
        START_PAYLOADS[prefix] = fn
        return fn

    return deco


@handler
async def start(ctx: Ctx) -> None:
    if not ctx.is_private:
        await help_in(ctx)
        return
    payload = ctx.args[0] if ctx.args else ""
    for prefix, fn in START_PAYLOADS.items():
        if payload.startswith(prefix):
            await fn(ctx, payload[len(prefix) :])
            return
    name = ctx.person.first_name if ctx.person else ""
    lines = [
        ctx.t._("Welcome, {name}!", name=name),
        "",
        ctx.t._(
            "I help volunteer networks: I announce events, remind you of them, collect items for "
            "meetings and count votes. I write to you in your own language."
        ),
        "",
        ctx.t._("/language changes the language, /help lists everything I can do."),
        *guide_lines(ctx, set()),
    ]
    await ctx.reply(ctx.t.lines("\n".join(lines)), language_keyboard(ctx))


async def roles_here(ctx: Ctx) -> set[str]:
    roles: set[str] = set()
    if ctx.person is None:
        return roles
    if ctx.network is not None:
        if await ctx.is_coordinator():
            roles.add("coordinator")
        from handlers.common import group_admins

        if ctx.person.tg_id in await group_admins(ctx.services, ctx.context, ctx.chat.id):
            roles.add("admin")
    elif ctx.is_group:
        from handlers.common import group_admins

        if ctx.person.tg_id in await group_admins(ctx.services, ctx.context, ctx.chat.id):
            roles.update({"admin", "coordinator"})
    else:
        if await people.translator_languages(ctx.session, ctx.person):
            roles.add("translator")
        for network in await people.person_networks(ctx.session, ctx.person):
            if await ctx.is_coordinator(network):
                roles.add("coordinator")
                break
    return roles


async def help_in(ctx: Ctx) -> None:
    roles = await roles_here(ctx)
    where = "private" if ctx.is_private else "group"
    lines = [ctx.t._("<b>What you can do here</b>")]
    for info in visible(where, roles):
        lines.append(f"{ctx.t.command('/' + info.name)} — {ctx.t._(info.description)}")
    if ctx.is_group and ctx.network is None:
        lines.append("")
        lines.append(ctx.t._("This group is not a network yet. A group admin can register it with /setup."))
    lines.extend(guide_lines(ctx, roles))
    await ctx.reply(ctx.t.lines("\n".join(lines)))


def guide_lines(ctx: Ctx, roles: set[str]) -> list[str]:
    """Links to the guides on the bot's web pages (only when PUBLIC_URL says where they are)."""
    base = (ctx.services.settings.public_url or "").rstrip("/")
    if not base:
        return []
    followers = f"{base}/guide?lang={ctx.t.lang}"
    lines = ["", ctx.t._("A short guide: {url}", url=followers)]
    if "coordinator" in roles or "admin" in roles:
        lang = ctx.t.lang if ctx.t.lang in ("da", "en") else "en"
        coordinators = f"{base}/guide/coordinators?lang={lang}"
        lines.append(ctx.t._("The coordinators' guide: {url}", url=coordinators))
    return lines


@handler
async def help_command(ctx: Ctx) -> None:
    await help_in(ctx)


def language_keyboard(ctx: Ctx, target: str = "p") -> list[list[Button]]:
    obj = ctx.network.id if (target == "g" and ctx.network) else 0
    return [[Button(LANGUAGE_NAMES[code], callback("language", f"{target}{obj}", code)) for code in LANGUAGES]]


@handler
async def language(ctx: Ctx) -> None:
    if ctx.is_group and ctx.network is not None and await ctx.is_coordinator():
        await ctx.reply(
            ctx.t._(
                "Choose the group's language. (Everyone can choose their own language in a private chat with me.)"
            ),
            language_keyboard(ctx, "g"),
        )
        return
    await ctx.reply(ctx.t._("Choose your language:"), language_keyboard(ctx))


@on_callback("language")
async def choose_language(ctx: Ctx, target: str, code: str) -> None:
    assert ctx.person is not None
    if code not in LANGUAGES:
        raise UserError(N_("That language is not available. Choose Dansk, العربية, ትግርኛ or English."))
    if target.startswith("g"):
        network = await ctx.require_coordinator()
        if target != f"g{network.id}":
            raise UserError(N_("This button no longer works."))
        network.language = code
        t = get_translator(code)
        await ctx.answer(t.plain("Done."))
        await ctx.reply(
            t._("The group's language is now {language}.", language=t.language_name(code)), quote=False
        )
        return
    await people.set_person_language(ctx.session, ctx.person, code)
    t = get_translator(code)
    await ctx.answer(t.plain("Done."))
    await ctx.reply(t._("I will write to you in {language}.", language=t.language_name(code)), quote=False)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("start", start), group=0)
    app.add_handler(CommandHandler("help", help_command), group=0)
    app.add_handler(CommandHandler("language", language), group=0)
