"""The one wrapper every handler runs in: a session per update, the person and network looked up,
the reader's language resolved, user errors translated, commit on success, rollback on error."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import (
    Chat,
    ForceReply,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.db import models as m
from bot.db.outage import retry_while_down
from bot.domain import people
from bot.domain.errors import NotAllowed, UserError
from bot.i18n import N_, Translator, get_translator, negotiate
from bot.render.keyboard import Keyboard
from bot.render.markup import markup as markup  # where the handlers import it from
from bot.render.text import clean_input, split_message
from bot.schedule.outbox import lane
from bot.schedule.pacing import Lane
from bot.services import Services

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


def services_of(context: Context) -> Services:
    services = context.application.bot_data["services"]
    assert isinstance(services, Services)
    return services


@dataclass
class Ctx:
    """Everything a handler needs for one update."""

    update: Update
    context: Context
    session: AsyncSession
    services: Services
    person: m.Person | None
    chat: Chat
    network: m.Network | None
    t: Translator
    now: datetime
    answered: bool = False
    _coordinator: dict[int, bool] = field(default_factory=dict)

    @property
    def is_private(self) -> bool:
        return self.chat.type == Chat.PRIVATE

    @property
    def is_group(self) -> bool:
        return self.chat.type in (Chat.GROUP, Chat.SUPERGROUP)

    @property
    def args(self) -> list[str]:
        return [clean_input(a) for a in self.context.args or []]

    @property
    def arg_text(self) -> str:
        """Everything after the command, as typed (keeps `|` separators and spacing)."""
        msg = self.update.effective_message
        text = clean_input((msg.text or msg.caption or "") if msg else "")
        if text.startswith("/"):
            parts = text.split(maxsplit=1)
            return parts[1].strip() if len(parts) > 1 else ""
        return text.strip()

    def translator_for(self, person: m.Person | None) -> Translator:
        return translator_for(person, self.network)

    @property
    def group_t(self) -> Translator:
        """The language of what the group as a whole reads."""
        return get_translator(self.network.language if self.network else self.t.lang)

    async def reply(
        self,
        text: str,
        keyboard: Keyboard | None = None,
        *,
        force_reply: bool = False,
        quote: bool = True,
    ) -> Message | None:
        """Reply in this chat, split to Telegram's length limit; buttons go on the last part.

        In a group that has used up Telegram's 20 messages a minute, an answer that would wait longer
        than `GROUP_PATIENCE` (1.5 s) goes to the person privately instead, with a line saying why; a person
        who never started the bot (Telegram refuses) gets it in the group, in order, when its turn
        comes. Nothing is dropped either way."""
        msg = self.update.effective_message
        user = self.update.effective_user
        outbox = self.services.outbox
        if (
            not self.is_private
            and user is not None
            and not user.is_bot
            and outbox is not None
            and outbox.pacer.chat_wait(self.chat.id) > GROUP_PATIENCE
        ):
            intro = self.t._(
                "You asked in {group}, where many messages are waiting for their turn right now, "
                "so here is my answer privately.",
                group=self.chat.title or "",
            )
            with contextlib.suppress(Forbidden):
                return await self._send(user.id, intro + "\n\n" + text, keyboard, force_reply, None)
        return await self._send(self.chat.id, text, keyboard, force_reply, msg if quote else None)

    async def _send(
        self,
        chat_id: int,
        text: str,
        keyboard: Keyboard | None,
        force_reply: bool,
        quote: Message | None,
    ) -> Message | None:
        parts = split_message(text)
        sent: Message | None = None
        if self.session.in_transaction():
            # What the bot says happened has happened: the work so far is committed before the answer
            # waits for its turn (a busy group's answer may wait seconds; on SQLite an open
            # transaction would hold the one write lock, and every other update with it, meanwhile).
            await self.session.commit()
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            reply_markup: Any = None
            if last and keyboard:
                reply_markup = markup(keyboard)
            elif last and force_reply:
                reply_markup = ForceReply(selective=True)
            kwargs: dict[str, Any] = {"reply_markup": reply_markup}
            if quote is not None and i == 0 and chat_id < 0:
                kwargs["reply_to_message_id"] = quote.message_id
                kwargs["allow_sending_without_reply"] = True
            sent = await send_paced(self.context, chat_id, part, **kwargs)
        return sent

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Answer a button press (a short popup or toast), in plain text."""
        query = self.update.callback_query
        if query is not None and not self.answered:
            self.answered = True
            await query.answer(text[:200] if text else None, show_alert=alert)

    async def is_coordinator(self, network: m.Network | None = None) -> bool:
        network = network or self.network
        if network is None or self.person is None:
            return False
        if network.id in self._coordinator:
            return self._coordinator[network.id]
        result = await is_coordinator(self.services, self.context, self.session, network, self.person)
        self._coordinator[network.id] = result
        return result

    async def require_network(self) -> m.Network:
        if self.network is None:
            if self.is_group:
                raise UserError(
                    N_("This group is not a network yet. A group admin can register it with /setup.")
                )
            raise UserError(N_("Use this command in your network's group."))
        return self.network

    async def require_coordinator(self, network: m.Network | None = None) -> m.Network:
        network = network or await self.require_network()
        if not await self.is_coordinator(network):
            raise NotAllowed(N_("Only the network's coordinators can do that."))
        return network


def translator_for(person: m.Person | None, network: m.Network | None) -> Translator:
    if person is None:
        return get_translator(network.language if network else None)
    return get_translator(
        negotiate(person.language, person.tg_language, network.language if network else None)
    )


async def group_admins(services: Services, context: Context, chat_id: int) -> frozenset[int]:
    cached = services.admins.get(chat_id)
    if cached is not None:
        return cached
    try:
        admins = await context.bot.get_chat_administrators(chat_id)
    except TelegramError:
        log.warning("could not read the admins of chat %s", chat_id)
        return frozenset()
    ids = frozenset(
        a.user.id for a in admins if a.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
    )
    services.admins.put(chat_id, ids)
    return ids


async def is_coordinator(
    services: Services, context: Context, session: AsyncSession, network: m.Network, person: m.Person
) -> bool:
    row = await people.membership(session, network, person, create=False)
    if row is not None and row.is_coordinator:
        return True
    return person.tg_id in await group_admins(services, context, network.chat_id)


Handler = Callable[[Ctx], Awaitable[Any]]
T = TypeVar("T")


def handler(func: Handler) -> Callable[[Update, Context], Coroutine[Any, Any, None]]:
    """Wrap a feature handler in the per-update session and error translation."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: Context) -> None:
        services = services_of(context)
        chat = update.effective_chat
        user = update.effective_user
        if chat is None:
            return
        # The database away (PostgreSQL unreachable, SQLite locked): the update is tried again when it
        # is back instead of being lost (bot/db/outage.py).
        # Answers go out in the answer lane, taking turns by who asked: one member's flood of commands
        # does not hold up the answers to the others in the same group (bot/schedule/pacing.py).
        with lane(Lane.ANSWER, user.id if user is not None else None):
            await retry_while_down(services, lambda: _run(func, update, context, services, chat, user))

    return wrapper


async def _run(
    func: Handler, update: Update, context: Context, services: Services, chat: Chat, user: Any
) -> None:
    async with services.sessionmaker() as session:
        person = None
        network = await people.network_for_chat(session, chat.id) if chat.type != Chat.PRIVATE else None
        if user is not None and not user.is_bot:
            person = await people.upsert_person(
                session, user.id, user.first_name, user.last_name, user.username, user.language_code
            )
            if network is not None:
                await people.mark_member(session, network, person)
        ctx = Ctx(
            update=update,
            context=context,
            session=session,
            services=services,
            person=person,
            chat=chat,
            network=network,
            t=translator_for(person, network),
            now=services.clock(),
        )
        try:
            await func(ctx)
            await session.commit()
        except UserError as err:
            await session.rollback()
            await _show_user_error(ctx, err)
            # Keep the person row (and language choice) even when the action was refused.
            await _persist_person(services, update)


async def _persist_person(services: Services, update: Update) -> None:
    user = update.effective_user
    if user is None or user.is_bot:
        return
    async with services.sessionmaker() as session:
        await people.upsert_person(
            session, user.id, user.first_name, user.last_name, user.username, user.language_code
        )
        await session.commit()


async def _show_user_error(ctx: Ctx, err: UserError) -> None:
    text = ctx.t._(err.message, **err.params)
    if ctx.update.callback_query is not None:
        await ctx.answer(ctx.t.plain(err.message, **err.params), alert=True)
        return
    await ctx.reply("⚠️ " + text)


def split_fields(text: str, count: int) -> list[str]:
    """`a | b | c` -> ['a', 'b', 'c'], the last field keeps any further `|`."""
    parts = [p.strip() for p in text.split("|", count - 1)] if text else []
    return parts


# Seconds an answer in a busy group may wait for its turn before it goes to the person privately:
# people expect an answer to a command within a couple of seconds (the flood drill's goal is 2 s; on
# PostgreSQL a group's places come in 7.5-second slots shared by the instances, bot/schedule/budget.py).
GROUP_PATIENCE = 1.5


async def send_paced(context: Context, chat_id: int, text: str, **kwargs: Any) -> Message:
    """send_message through the one way out (bot/schedule/outbox.py): paced in the answers lane,
    a 429 retried in place, held (not lost) while Telegram is unreachable."""
    return await context.bot.send_message(chat_id, text, **kwargs)


async def send_to(
    context: Context, chat_id: int, text: str, keyboard: Keyboard | None = None
) -> Message | None:
    sent = None
    parts = split_message(text)
    for i, part in enumerate(parts):
        sent = await send_paced(
            context, chat_id, part, reply_markup=markup(keyboard) if i == len(parts) - 1 else None
        )
    return sent


def join_lines(lines: Sequence[str]) -> str:
    return "\n".join(line for line in lines if line is not None)
