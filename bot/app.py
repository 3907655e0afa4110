"""build_application(settings): the one factory the bot, the console and the tests share."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import traceback
from typing import Any

from sqlalchemy import select
from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults
from telegram.request import HTTPXRequest

from bot.commands import COMMANDS, CommandInfo
from bot.config import Settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import Person
from bot.db.outage import monitor_of
from bot.http_request import LeanRequest
from bot.i18n import LANGUAGES, get_translator, negotiate
from bot.schedule import notices, registry
from bot.services import AdminCache, Services

log = logging.getLogger(__name__)


def feature_modules() -> list[Any]:
    """Every module under `handlers/` with a `register(app)`; discovered so features plug in alone."""
    import handlers

    mods = []
    for info in sorted(pkgutil.iter_modules(handlers.__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"handlers.{info.name}")
        if hasattr(mod, "register"):
            mods.append(mod)
    return mods


def command_lists(lang: str) -> dict[str, list[BotCommand]]:
    t = get_translator(lang)

    def cmds(infos: list[CommandInfo]) -> list[BotCommand]:
        return [BotCommand(c.name, t.plain(c.description)[:256]) for c in infos]

    private = [c for c in COMMANDS if c.where in ("private", "both")]
    group_all = [c for c in COMMANDS if c.where in ("group", "both")]
    group_members = [c for c in group_all if c.who in ("anyone", "member")]
    return {"private": cmds(private), "group": cmds(group_members), "admins": cmds(group_all)}


async def register_commands(app: Application) -> None:  # type: ignore[type-arg]
    scopes = {
        "private": BotCommandScopeAllPrivateChats(),
        "group": BotCommandScopeAllGroupChats(),
        "admins": BotCommandScopeAllChatAdministrators(),
    }
    for lang in LANGUAGES:
        lists = command_lists(lang)
        for key, scope in scopes.items():
            try:
                await app.bot.set_my_commands(
                    lists[key], scope=scope, language_code=None if lang == "en" else lang
                )
            except TelegramError as err:
                log.warning("setMyCommands failed for %s/%s: %s", lang, key, type(err).__name__)


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    services: Services = app.bot_data["services"]
    if services.migrate:
        await upgrade(services.engine)
    # Every notice kind is known before anything is sent: a pending row nobody can deliver stops here.
    registry.load()
    async with services.sessionmaker() as session:
        await registry.check_database(session)
    from bot.schedule.dispatcher import Dispatcher

    services.dispatcher = Dispatcher(app, services)
    if services.register_commands:
        await register_commands(app)
    if services.dispatch:
        services.dispatcher.start()


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    services: Services = app.bot_data["services"]
    await services.engine.dispose()


async def on_error(update: object, context: Any) -> None:
    """Log the failure without message texts or tokens, and apologise in the person's language.

    Only the exception's type and the stack are logged: an exception's message may quote what a user
    wrote (and SQL errors quote parameters), so it is left out."""
    err = context.error
    chat_id = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
    stack = "".join(traceback.format_tb(err.__traceback__)) if err is not None else ""
    log.error(
        "handler failed: %s (update %s, chat %s)\n%s",
        type(err).__name__,
        update.update_id if isinstance(update, Update) else "-",
        chat_id,
        stack,
    )
    if not isinstance(update, Update) or chat_id is None:
        return
    user = update.effective_user
    t = get_translator(user.language_code if user else None)
    services = context.application.bot_data.get("services") if context.application else None
    if user is not None and isinstance(services, Services):
        try:
            async with services.sessionmaker() as session:
                person = await session.scalar(select(Person).where(Person.tg_id == user.id))
                if person is not None:
                    t = get_translator(negotiate(person.language, person.tg_language, None))
        except Exception:  # the database may be what failed; Telegram's language will do
            pass
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(
                t.plain("Sorry, something went wrong. Please try again."), show_alert=True
            )
        else:
            await context.bot.send_message(chat_id, t._("Sorry, something went wrong. Please try again."))
    except TelegramError:
        pass


def _request() -> HTTPXRequest:
    """Bot API calls over kept-alive asyncio streams (bot/http_request.py: 5x the sends per CPU second of
    httpx's pool); getUpdates keeps httpx. LeanRequest speaks no proxy protocol, so where a proxy is
    configured in the environment, httpx (which honours it) does all the calls."""
    proxied = any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"))
    if proxied:
        return HTTPXRequest(connection_pool_size=64, pool_timeout=30)
    return LeanRequest(connection_pool_size=64, pool_timeout=30)


def build_application(settings: Settings, **options: Any) -> Application:  # type: ignore[type-arg]
    """Options (for tests and tools): migrate, register_commands, dispatch, rate_limiter (bools), engine,
    clock, limits (bot.schedule.pacing.Limits)."""
    if not settings.bot_token:
        raise ValueError("BOT_TOKEN is not set")
    engine = options.pop("engine", None) or create_engine(
        settings.database_url, busy_timeout=settings.sqlite_busy_timeout
    )
    info: dict[str, Any] = {}
    services = Services(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine, info),
        admins=AdminCache(settings.admin_cache_seconds),
    )
    # Every session that enqueues notices wakes the dispatcher after its commit (bot.schedule.notices).
    info[notices.WAKER] = services.notices_committed
    if "clock" in options:
        services.clock = options.pop("clock")
    monitor_of(services)  # database outages: bot/db/outage.py
    for name in ("migrate", "register_commands", "dispatch", "limits"):
        if name in options:
            setattr(services, name, options.pop(name))
    rate_limiter = bool(options.pop("rate_limiter", False))
    if options:
        raise TypeError(f"unknown build_application options: {', '.join(sorted(options))}")
    builder = (
        ApplicationBuilder()
        .token(settings.bot_token)
        .base_url(settings.bot_api_base_url)
        .base_file_url(settings.file_base_url)
        .defaults(
            Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True))
        )
        .concurrent_updates(64)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .request(_request())
    )
    if rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter())  # type: ignore[arg-type]
    app = builder.build()
    app.bot_data["services"] = services
    for mod in feature_modules():
        mod.register(app)
    app.add_error_handler(on_error)
    return app
