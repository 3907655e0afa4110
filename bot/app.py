"""build_application(settings): the one factory the bot, the console and the tests share."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import traceback
from collections.abc import Callable
from typing import Any

import httpx
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
from telegram.ext import Application, ApplicationBuilder, Defaults
from telegram.request import HTTPXRequest

from bot.commands import COMMANDS, CommandInfo
from bot.config import Settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import Person
from bot.db.outage import monitor_of
from bot.i18n import LANGUAGES, get_translator, negotiate
from bot.schedule import notices, registry
from bot.schedule.budget import ChatBudget, SharedBudget
from bot.schedule.gate import Gate
from bot.schedule.outbox import Outbox
from bot.schedule.pacing import Pacer
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


# Connections to the Bot API (and requests in flight at once, see Outbox): at Telegram's 30/s with
# 50-100 ms round trips about 3 are busy; a local Bot API server (no limits) keeps 8 busy. httpcore's
# pool costs O(connections) per request, so a larger pool only costs CPU.
POOL_SIZE = 8


def _request() -> HTTPXRequest:
    """PTB's maintained httpx client over HTTP/1.1 with a pool of kept-alive connections; proxies
    (HTTPS_PROXY, ALL_PROXY), TLS verification and uploads work the standard httpx way. getUpdates
    gets PTB's own separate request object."""
    return HTTPXRequest(
        connection_pool_size=POOL_SIZE,
        pool_timeout=30,
        http_version="1.1",
        httpx_kwargs={
            "limits": httpx.Limits(
                max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE, keepalive_expiry=60
            )
        },
    )


def _outbox(services: Services, bot: Callable[[], Any]) -> Outbox:
    """The pacer and the outage gate every request goes through (see bot/schedule/outbox.py)."""
    pacer = Pacer(services.limits)
    if not pacer.limits.lifted and services.engine.dialect.name == "postgresql":
        # Several instances may share this database: they share Telegram's limits too.
        pacer.shared = SharedBudget(services.engine)
        if pacer.limits.per_chat:
            pacer.chats = ChatBudget(services.engine, pacer.limits)
    return Outbox(pacer, Gate(lambda: bot().get_me()), in_flight=POOL_SIZE)


def build_application(settings: Settings, **options: Any) -> Application:  # type: ignore[type-arg]
    """Options (for tests and tools): migrate, register_commands, dispatch (bools), engine,
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
    holder: list[Any] = []
    services.outbox = _outbox(services, lambda: holder[0].bot)
    app = builder.rate_limiter(services.outbox).build()
    holder.append(app)
    app.bot_data["services"] = services
    for mod in feature_modules():
        mod.register(app)
    app.add_error_handler(on_error)
    return app
