"""Flood control at the door: every update passes `screen` (handler group -100, before any feature)
and the rules in `bot.domain.flood` decide. A flooder gets one notice in their language and is then
ignored for a minute; a repeated command or double tap is handled once. See bot/domain/flood.py."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from telegram import Chat, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.db import models as m
from bot.domain import people
from bot.domain.flood import FloodGuard, Verdict, normalise_action
from bot.i18n import N_, Translator
from bot.services import Services
from handlers.common import Context, send_paced, services_of, translator_for

log = logging.getLogger(__name__)

SCREEN_GROUP = -100
NOTICE = N_(
    "{name}, you are sending commands faster than I can answer. I will ignore your commands and "
    "buttons for a minute; after that, send one at a time."
)


def guard_of(services: Services) -> FloodGuard:
    guard = services.flood_guard
    if not isinstance(guard, FloodGuard):
        s = services.settings
        guard = FloodGuard(
            limit=s.flood_limit, group_limit=s.flood_group_limit, window=s.flood_window, mute=s.flood_mute
        )
        services.flood_guard = guard
    return guard


async def screen(update: Update, context: Context) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or user.is_bot:
        return
    query, msg = update.callback_query, update.message
    private = chat.type == Chat.PRIVATE
    if query is not None:
        counted, group_command, action = True, False, "button " + (query.data or "")
    elif msg is not None:
        text = msg.text or msg.caption or ""
        command = text.startswith("/")
        counted, group_command = command or private, command and not private
        action = normalise_action(text) if command else ""
    else:
        return
    services = services_of(context)
    guard = guard_of(services)
    verdict = guard.check(user.id, chat.id, counted=counted, group_command=group_command, action=action)
    if verdict is Verdict.PASS:
        return
    if verdict is Verdict.NOTICE:
        log.info("flood: user %s ignored for %ss (chat %s)", user.id, guard.mute, chat.id)
        await _notice(update, context, services)
    elif verdict is Verdict.DUPLICATE and query is not None:
        # The first copy of this press answers it; close this one's spinner quietly.
        try:
            await query.answer()
        except TelegramError:
            pass
    raise ApplicationHandlerStop


async def _translator(update: Update, services: Services) -> Translator:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    try:
        async with services.sessionmaker() as session:
            person = await session.scalar(select(m.Person).where(m.Person.tg_id == user.id))
            network = await people.network_for_chat(session, chat.id) if chat.type != Chat.PRIVATE else None
            if person is None:
                person = m.Person(tg_id=user.id, first_name=user.first_name, tg_language=user.language_code)
            return translator_for(person, network)
    except Exception:  # the notice matters more than its language
        from bot.i18n import get_translator, negotiate

        return get_translator(negotiate(None, user.language_code, None))


async def _notice(update: Update, context: Context, services: Services) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    t = await _translator(update, services)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(t.plain(NOTICE, name=user.first_name)[:200], show_alert=True)
            return
        kwargs: dict[str, Any] = {}
        if update.message is not None and chat.type != Chat.PRIVATE:
            kwargs = {"reply_to_message_id": update.message.message_id, "allow_sending_without_reply": True}
        await send_paced(context, chat.id, "⏸ " + t._(NOTICE, name=user.first_name), **kwargs)
    except TelegramError as err:
        log.warning("flood notice not delivered: %s", type(err).__name__)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(TypeHandler(Update, screen), group=SCREEN_GROUP)
