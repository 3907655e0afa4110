"""/vote, the vote buttons, /closevote, /handcount, and the editor that keeps vote messages current
within Telegram's limits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from sqlalchemy import select, update
from telegram import Update
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationHandlerStop, CallbackQueryHandler, CommandHandler

from bot.db import models as m
from bot.domain import vote_rules, votes
from bot.domain.errors import UserError
from bot.i18n import N_, Translator, get_translator
from bot.render import votes as render
from bot.render.keyboard import parse_callback
from bot.schedule import notices
from bot.schedule.notices import Rendered, renderer
from bot.services import Services
from handlers.common import Ctx, handler, markup, services_of, split_fields
from handlers.dialogue import Form, Step, begin, register_form

log = logging.getLogger(__name__)

RESULT_KIND = "vote_result"


class VoteEditor:
    """Coalesces the edits of vote messages: at most one edit per vote every `vote_interval` seconds
    and at most `per_minute` edits per chat in any minute (Telegram allows 20 messages, edits included,
    per group and minute; the rest is left for the bot's other messages). A 429 pauses the chat for
    the time Telegram asks. What to show is read from the database (`revision` > `shown_revision`), so
    the final tally is shown after closing however the presses were spread, and after a restart too.

    Pacing uses the monotonic clock on purpose: it follows Telegram's real-time limits, not the
    business clock (`services.clock`) that tests move."""

    def __init__(
        self,
        app: Application,  # type: ignore[type-arg]
        *,
        vote_interval: float = 3.0,
        per_minute: int = 15,
        sweep_interval: float = 2.0,
    ) -> None:
        self.app = app
        self.vote_interval = vote_interval
        self.per_minute = per_minute
        self.sweep_interval = sweep_interval
        self._scheduled: set[int] = set()
        self._last_edit: dict[int, float] = {}
        self._chat_edits: dict[int, deque[float]] = {}
        self._blocked_until: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.edits = 0
        self.retry_afters = 0

    @property
    def services(self) -> Services:
        services = self.app.bot_data["services"]
        assert isinstance(services, Services)
        return services

    def delay(self, vote_id: int, chat_id: int) -> float:
        now = time.monotonic()
        wait = 0.0
        last = self._last_edit.get(vote_id)
        if last is not None:
            wait = max(wait, last + self.vote_interval - now)
        window = self._chat_edits.setdefault(chat_id, deque())
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= self.per_minute:
            wait = max(wait, window[0] + 60.0 - now + 0.05)
        wait = max(wait, self._blocked_until.get(chat_id, 0.0) - now)
        return wait

    def poke(self, vote_id: int, chat_id: int) -> None:
        """The vote changed: edit its message as soon as the limits allow (once, however many pokes)."""
        if vote_id in self._scheduled:
            return
        jq = self.app.job_queue
        if jq is None:
            return
        self._scheduled.add(vote_id)
        jq.run_once(
            self._job,
            when=max(self.delay(vote_id, chat_id), 0.0),
            data=(vote_id, chat_id),
            name=f"vote-edit-{vote_id}",
        )

    async def _job(self, context: Any) -> None:
        vote_id, chat_id = context.job.data
        self._scheduled.discard(vote_id)
        try:
            await self.flush(vote_id, chat_id)
        except Exception:
            log.exception("editing vote %s failed", vote_id)

    async def sweep(self, _context: Any = None) -> None:
        """Catch what no handler poked: a deadline closed by the delivery engine, a restart."""
        try:
            async with self.services.sessionmaker() as session:
                rows = (
                    await session.execute(
                        select(m.Vote.id, m.Vote.chat_id).where(
                            m.Vote.revision > m.Vote.shown_revision, m.Vote.message_id.is_not(None)
                        )
                    )
                ).all()
        except Exception:
            log.exception("vote editor sweep failed")
            return
        for vote_id, chat_id in rows:
            if chat_id is not None:
                self.poke(int(vote_id), int(chat_id))

    async def flush(self, vote_id: int, chat_id: int) -> None:
        lock = self._locks.setdefault(vote_id, asyncio.Lock())
        async with lock:
            wait = self.delay(vote_id, chat_id)
            if wait > 0:
                self.poke(vote_id, chat_id)
                return
            async with self.services.sessionmaker() as session:
                vote = await session.get(m.Vote, vote_id)
                if vote is None or vote.message_id is None or vote.chat_id is None:
                    return
                if vote.shown_revision >= vote.revision:
                    return
                revision = vote.revision
                network = await session.get(m.Network, vote.network_id)
                t = get_translator(network.language if network else None)
                text = await vote_message_text(session, vote, t, network.timezone if network else "UTC")
                keyboard = render.keyboard(vote, t)
                await session.commit()
            now = time.monotonic()
            self._last_edit[vote_id] = now
            self._chat_edits.setdefault(vote.chat_id, deque()).append(now)
            try:
                await self.app.bot.edit_message_text(
                    text, chat_id=vote.chat_id, message_id=vote.message_id, reply_markup=markup(keyboard)
                )
                self.edits += 1
            except RetryAfter as err:
                self.retry_afters += 1
                retry = err.retry_after
                seconds = retry if isinstance(retry, (int, float)) else retry.total_seconds()
                self._blocked_until[vote.chat_id] = time.monotonic() + float(seconds)
                self.poke(vote_id, vote.chat_id)
                return
            except BadRequest as err:
                # "message is not modified" means it already shows this; a deleted message cannot be
                # edited again. Either way, showing this revision is settled.
                if "not modified" not in str(err).lower():
                    log.warning("vote %s message could not be edited: %s", vote_id, type(err).__name__)
            except TelegramError as err:
                log.warning("vote %s edit failed (%s); retrying", vote_id, type(err).__name__)
                self._blocked_until[vote.chat_id] = time.monotonic() + 5.0
                self.poke(vote_id, vote.chat_id)
                return
            async with self.services.sessionmaker() as session:
                await session.execute(
                    update(m.Vote)
                    .where(m.Vote.id == vote_id, m.Vote.shown_revision < revision)
                    .values(shown_revision=revision)
                )
                latest = await session.scalar(select(m.Vote.revision).where(m.Vote.id == vote_id))
                await session.commit()
            if latest is not None and latest > revision:
                self.poke(vote_id, vote.chat_id)


def editor_of(ctx: Ctx) -> VoteEditor | None:
    editor = ctx.services.vote_editor
    return editor if isinstance(editor, VoteEditor) else None


def poke(ctx: Ctx, vote: m.Vote) -> None:
    editor = editor_of(ctx)
    if editor is not None and vote.chat_id is not None:
        editor.poke(vote.id, vote.chat_id)


async def vote_message_text(session: Any, vote: m.Vote, t: Translator, tz: str) -> str:
    counts = await votes.tally(session, vote)
    quorum = await votes.quorum_needed(session, vote)
    attending = await votes.attending_count(session, vote)
    return render.vote_text(vote, counts, t, tz, quorum=quorum, attending=attending)


# --- /vote -----------------------------------------------------------------------------------


async def _open(ctx: Ctx, question: str, option_fields: list[str]) -> None:
    network = await ctx.require_coordinator()
    options = await vote_rules.parse_options(ctx.session, network, option_fields, ctx.now, ctx.t.lang)
    vote = await votes.open_vote(ctx.session, network, ctx.person, question, options, ctx.now)
    t = ctx.group_t
    text = await vote_message_text(ctx.session, vote, t, network.timezone)
    # Committed before the message exists, so the first presses find the vote.
    await ctx.session.commit()
    sent = await ctx.reply(text, render.keyboard(vote, t), quote=False)
    if sent is not None:
        await votes.set_message(ctx.session, vote, sent.chat_id, sent.message_id)


@handler
async def vote_command(ctx: Ctx) -> None:
    await ctx.require_coordinator()
    if not ctx.is_group:
        raise UserError(N_("Use this command in your network's group."))
    if not ctx.arg_text:
        await begin(ctx, "vote")
        return
    question, *rest = split_fields(ctx.arg_text, 50)
    await _open(ctx, question, rest)


async def _parse_question(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return votes.check_question(text)


async def _parse_options_step(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    network = await ctx.require_coordinator()
    # Checked now, so a mistake is explained while the person is still answering.
    await vote_rules.parse_options(ctx.session, network, split_fields(text, 20), ctx.now, ctx.t.lang)
    return text


async def _finish_vote(ctx: Ctx, data: dict[str, Any]) -> None:
    fields = split_fields(data.get("options") or "", 20)
    await _open(ctx, data["question"], fields)


register_form(
    Form(
        "vote",
        [
            Step("question", N_("What is the question to vote on?"), _parse_question, max_length=300),
            Step(
                "options",
                N_(
                    "Until when is the vote open, and by which rule? For example: "
                    "until Friday 18:00 | two-thirds | quorum 5"
                ),
                _parse_options_step,
                optional=True,
            ),
        ],
        _finish_vote,
        example=vote_rules.EXAMPLE,
    )
)


# --- pressing --------------------------------------------------------------------------------


class PressBatcher:
    """Presses are recorded in batches: whatever arrives while one transaction runs goes into the next
    (group commit). A storm of 300 presses then costs a few transactions instead of 300, and SQLite's
    single writer is never fought over. Each press still gets its own result and answer."""

    def __init__(self, app: Application) -> None:  # type: ignore[type-arg]
        self.app = app
        self._pending: list[tuple[votes.PressIn, asyncio.Future[votes.PressOut]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, press_in: votes.PressIn) -> votes.PressOut:
        future: asyncio.Future[votes.PressOut] = asyncio.get_running_loop().create_future()
        self._pending.append((press_in, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return await future

    async def _run(self) -> None:
        services = self.app.bot_data["services"]
        assert isinstance(services, Services)
        while self._pending:
            batch = self._pending[: votes.MAX_BATCH]
            del self._pending[: votes.MAX_BATCH]
            try:
                async with services.sessionmaker() as session:
                    results = await votes.record_presses(session, [p for p, _ in batch], services.clock())
                    await session.commit()
                self.batches += 1
            except Exception as err:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


async def press(update: Update, context: Any) -> None:
    """A press of For, Against or Abstain (callback data `vote:{id}:{f|a|x}`): recorded in a batch,
    answered privately in the presser's language, and the vote message edited when the limits allow."""
    query = update.callback_query
    user = update.effective_user
    chat = update.effective_chat
    if query is None or user is None or chat is None or user.is_bot:
        raise ApplicationHandlerStop
    _kind, obj_id, value = parse_callback(query.data or "")
    vote_id = int(obj_id) if obj_id.isdecimal() and len(obj_id) <= 12 else None
    batcher = services_of(context).press_batcher
    assert isinstance(batcher, PressBatcher)
    result = await batcher.submit(
        votes.PressIn(
            tg_id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            username=user.username,
            language_code=user.language_code,
            chat_id=chat.id,
            vote_id=vote_id,
            code=value,
        )
    )
    t = get_translator(result.lang)
    params = {"choice": render.choice_label(t, result.choice)} if result.choice else {}
    try:
        await query.answer(t.plain(result.message, **params)[:200], show_alert=not result.ok)
    except TelegramError as err:
        log.info("answering a vote press failed: %s", type(err).__name__)
    if result.changed and result.vote_id is not None and result.chat_id is not None:
        editor = services_of(context).vote_editor
        if isinstance(editor, VoteEditor):
            editor.poke(result.vote_id, result.chat_id)
    raise ApplicationHandlerStop


# --- closing ---------------------------------------------------------------------------------


async def _announce(ctx: Ctx, vote: m.Vote, result: vote_rules.Result, counts: vote_rules.Tally) -> None:
    attending = await votes.attending_count(ctx.session, vote)
    await ctx.session.commit()
    await ctx.reply(render.result_text(vote, result, counts, ctx.group_t, attending=attending), quote=False)
    poke(ctx, vote)


@handler
async def closevote(ctx: Ctx) -> None:
    network = await ctx.require_coordinator()
    words = ctx.arg_text.split()
    if len(words) > 1:
        raise UserError(N_("Write the vote's number. Example: {example}"), example="/closevote 12")
    vote = (
        await votes.find_vote(ctx.session, network, words[0])
        if words
        else await votes.latest_open(ctx.session, network)
    )
    result, counts, _decision = await votes.close_vote(ctx.session, vote, ctx.now, closed_by="coordinator")
    await _announce(ctx, vote, result, counts)


async def _hand_count(ctx: Ctx, words: list[str]) -> None:
    network = await ctx.require_coordinator()
    vote_ref, for_, against, abstain = vote_rules.parse_hands(words)
    vote = await votes.find_vote(ctx.session, network, vote_ref)
    result, counts, _decision = await votes.record_hand_count(
        ctx.session, vote, for_, against, abstain, ctx.now
    )
    await _announce(ctx, vote, result, counts)


@handler
async def handcount(ctx: Ctx) -> None:
    await ctx.require_coordinator()
    if not ctx.arg_text:
        await begin(ctx, "handcount")
        return
    await _hand_count(ctx, ctx.arg_text.split())


async def _parse_vote_ref(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    network = await ctx.require_coordinator()
    vote = await votes.find_vote(ctx.session, network, text)
    if vote.status != "open":
        raise UserError(N_("Vote {id} is already closed."), id=vote.id)
    return str(vote.id)


async def _parse_counts(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    vote_rules.parse_hands(["0", *text.replace(",", " ").split()])
    return text


async def _finish_handcount(ctx: Ctx, data: dict[str, Any]) -> None:
    await _hand_count(ctx, [data["vote"], *data["counts"].replace(",", " ").split()])


register_form(
    Form(
        "handcount",
        [
            Step("vote", N_("Which vote? Write its number."), _parse_vote_ref),
            Step(
                "counts",
                N_("How many hands for, against and abstaining? Write three numbers, for example: 14 3 1"),
                _parse_counts,
            ),
        ],
        _finish_handcount,
        example=N_("/handcount 12 14 3 1 (vote 12: 14 for, 3 against, 1 abstaining)"),
    )
)


# --- the deadline ----------------------------------------------------------------------------


@notices.action(vote_rules.CLOSE_KIND)
async def close_at_deadline(session: Any, notice: m.Notice, _now: Any = None) -> None:
    """Database work done once when the deadline notice is due: close the vote (decided at the
    deadline itself) and plan the announcement of its result in the group."""
    if notice.ref_id is None:
        return
    vote = await votes.close_due(session, notice.ref_id, notice.due_at)
    if vote is None or vote.chat_id is None:
        return
    await notices.enqueue(
        session,
        kind=RESULT_KIND,
        dedup_key=f"{RESULT_KIND}:{vote.id}",
        chat_id=vote.chat_id,
        due_at=notice.due_at,
        network_id=vote.network_id,
        ref_id=vote.id,
    )


@renderer(RESULT_KIND)
async def render_result(session: Any, notice: m.Notice, t: Translator) -> Rendered | None:
    """The result of a vote closed by its deadline, from the decision recorded when it closed."""
    vote = await session.get(m.Vote, notice.ref_id) if notice.ref_id is not None else None
    if vote is None:
        return None
    decision = await votes.decision_of(session, vote)
    if decision is None:
        return None
    d = decision.details or {}
    counts = vote_rules.Tally(
        int(d.get("for") or 0),
        int(d.get("against") or 0),
        int(d.get("abstain") or 0),
        by_hand=bool(d.get("by_hand")),
    )
    result = vote_rules.Result(decision.outcome, str(d.get("decided_by") or vote.rule), d.get("quorum"))
    return Rendered(render.result_text(vote, result, counts, t, attending=d.get("attending")))


def register(app: Application) -> None:  # type: ignore[type-arg]
    editor = VoteEditor(app)
    services = app.bot_data["services"]
    services.vote_editor = editor
    services.press_batcher = PressBatcher(app)
    # Before the generic button router (group 0): presses of votes take this tuned path.
    app.add_handler(CallbackQueryHandler(press, pattern=r"^vote:"), group=-1)
    app.add_handler(CommandHandler("vote", vote_command), group=0)
    app.add_handler(CommandHandler("closevote", closevote), group=0)
    app.add_handler(CommandHandler("handcount", handcount), group=0)
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            editor.sweep, interval=editor.sweep_interval, first=1.0, name="vote-sweep"
        )
