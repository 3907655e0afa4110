"""Broadcasts: a coordinator's message to every follower of a network, now or at a set time.

A broadcast is a row plus one `broadcast_start` notice due when it goes out. When that notice is
due, the dispatcher runs `start` in one transaction: it fans out to one `broadcast` notice per
follower at that moment (so people who followed in the meantime get it too), plus the progress
message for the coordinators. Every follower's message is rendered when it is sent, in the
follower's language (a translator's version when one exists, else the original with a note).
Until it starts, a broadcast can be cancelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.bidi import isolate_lines
from bot.db import models as m
from bot.domain.errors import NotFound, UserError
from bot.i18n import N_, Translator
from bot.render.text import TELEGRAM_LIMIT, fit_escaped
from bot.schedule.notices import (
    Rendered,
    action,
    after_send,
    cancel_pending,
    enqueue,
    enqueue_many,
    memo,
    renderer,
)

MAX_LENGTH = 3500
START = "broadcast_start"
MESSAGE = "broadcast"
PROGRESS = "broadcast_progress"


async def schedule(
    session: AsyncSession,
    *,
    network: m.Network,
    author: m.Person,
    text: str,
    language: str,
    due_at: datetime,
    progress_chat_id: int,
) -> m.Broadcast:
    """Create a broadcast going out at `due_at` (now or later); nothing is sent until it is due."""
    text = text.strip()
    if not text:
        raise UserError(
            N_("The message is empty. Example: {example}"), example="/broadcast Spisning i aften kl. 18"
        )
    if len(text) > MAX_LENGTH:
        raise UserError(
            N_("The message is too long ({length} characters; at most {limit})."),
            length=len(text),
            limit=MAX_LENGTH,
        )
    bc = m.Broadcast(
        network_id=network.id,
        author_id=author.id,
        text=text,
        language=language,
        due_at=due_at,
        state="scheduled",
        total=0,
        progress_chat_id=progress_chat_id,
    )
    session.add(bc)
    await session.flush()
    await enqueue(
        session,
        kind=START,
        dedup_key=f"bcstart:{bc.id}",
        chat_id=progress_chat_id,
        due_at=due_at,
        network_id=network.id,
        ref_id=bc.id,
    )
    return bc


async def scheduled(session: AsyncSession, network_ids: Sequence[int]) -> Sequence[m.Broadcast]:
    if not network_ids:
        return []
    rows = await session.scalars(
        select(m.Broadcast)
        .where(m.Broadcast.network_id.in_(network_ids), m.Broadcast.state == "scheduled")
        .order_by(m.Broadcast.due_at)
    )
    return rows.all()


async def cancel(session: AsyncSession, broadcast_id: int, network_ids: Sequence[int]) -> m.Broadcast:
    """Cancel a scheduled broadcast of one of `network_ids` (those the person coordinates)."""
    bc = await session.get(m.Broadcast, broadcast_id)
    if bc is None or bc.network_id not in network_ids:
        raise NotFound(N_("I could not find that broadcast."))
    if bc.state != "scheduled":
        raise UserError(N_("That broadcast has already gone out; it can no longer be cancelled."))
    # The start notice is claimed atomically; cancel only if it is still pending.
    if not await cancel_pending(session, kind=START, ref_id=bc.id):
        raise UserError(N_("That broadcast has already gone out; it can no longer be cancelled."))
    bc.state = "cancelled"
    return bc


@action(START)
async def start(session: AsyncSession, notice: m.Notice, now: datetime) -> None:
    """Fan out to the followers of this moment (runs once, in the start notice's transaction)."""
    bc = await session.get(m.Broadcast, notice.ref_id)
    if bc is None or bc.state != "scheduled":
        return
    followers = (
        await session.execute(
            select(m.Person.id, m.Person.tg_id)
            .join(m.Membership, m.Membership.person_id == m.Person.id)
            .where(
                m.Membership.network_id == bc.network_id,
                m.Membership.is_follower.is_(True),
                m.Person.reachable.is_(True),
            )
            .order_by(m.Person.id)
        )
    ).all()
    rows: list[dict[str, Any]] = [
        {
            "kind": MESSAGE,
            "dedup_key": f"bc:{bc.id}:{pid}",
            "chat_id": tg_id,
            "due_at": now,
            "person_id": pid,
            "network_id": bc.network_id,
            "ref_id": bc.id,
        }
        for pid, tg_id in followers
    ]
    await enqueue_many(session, rows)
    bc.total = len(rows)
    bc.state = "sending" if rows else "done"
    if bc.progress_chat_id is not None:
        await enqueue(
            session,
            kind=PROGRESS,
            dedup_key=f"bcprog:{bc.id}",
            chat_id=bc.progress_chat_id,
            due_at=now,
            # In a private chat the author reads it in their language; in a group, the group's.
            person_id=bc.author_id if bc.progress_chat_id > 0 else None,
            network_id=bc.network_id,
            ref_id=bc.id,
        )


async def delivery_counts(session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(m.Notice.state, func.count())
        .where(m.Notice.kind == MESSAGE, m.Notice.ref_id == broadcast_id)
        .group_by(m.Notice.state)
    )
    return {state: int(n) for state, n in rows}


def progress_text(t: Translator, bc: m.Broadcast, counts: dict[str, int], *, final: bool) -> str:
    sent = counts.get("sent", 0)
    failed = counts.get("failed", 0) + counts.get("skipped", 0)
    total = bc.total
    head = t._("📣 Broadcast #{id}", id=bc.id)
    if total == 0:
        return f"{head}\n" + t._("Nobody follows this network yet, so nobody received it.")
    if not final:
        # Translators: progress of a broadcast: {sent} messages sent so far of {total}.
        return f"{head}\n" + t.n_(
            "Sending… {sent} of {total} sent.",
            "Sending… {sent} of {total} sent.",
            total,
            sent=sent,
            total=total,
        )
    lines = [
        head,
        # Translators: {sent} and {total} are numbers of followers; the plural form follows {total}.
        t.n_(
            "Done: sent to {sent} of {total} follower.",
            "Done: sent to {sent} of {total} followers.",
            total,
            sent=sent,
            total=total,
        ),
    ]
    if failed:
        lines.append(
            t.n_(
                "{n} could not be reached (they blocked the bot, or Telegram kept failing).",
                "{n} could not be reached (they blocked the bot, or Telegram kept failing).",
                failed,
            )
        )
    return "\n".join(lines)


@renderer(PROGRESS)
async def render_progress(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    bc = await session.get(m.Broadcast, notice.ref_id)
    if bc is None:
        return None
    counts = await delivery_counts(session, bc.id)
    return Rendered(progress_text(t, bc, counts, final=False))


@after_send(PROGRESS)
async def remember_progress(session: AsyncSession, notice: m.Notice, message_id: int) -> None:
    bc = await session.get(m.Broadcast, notice.ref_id)
    if bc is not None:
        bc.progress_chat_id = notice.chat_id
        bc.progress_message_id = message_id


async def texts_for(session: AsyncSession, bc: m.Broadcast, lang: str) -> tuple[str, bool]:
    """The broadcast's text for a reader of `lang`: (text, translated-or-original-language)."""
    if lang == bc.language:
        return bc.text, True
    row = await session.scalar(
        select(m.ContentTranslation).where(
            m.ContentTranslation.subject == "broadcast",
            m.ContentTranslation.subject_id == bc.id,
            m.ContentTranslation.language == lang,
        )
    )
    if row is not None and str(row.fields.get("text") or "").strip():
        return str(row.fields["text"]), True
    return bc.text, False


@renderer(MESSAGE)
async def render_broadcast(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    bc = await session.get(m.Broadcast, notice.ref_id)
    if bc is None or bc.state == "cancelled":
        return None
    network = await session.get(m.Network, bc.network_id)
    # Once per batch and language, not once per follower.
    text, translated = await memo(
        session, ("broadcast_text", bc.id, t.lang), lambda: texts_for(session, bc, t.lang)
    )
    head = f"📣 <b>{t.own(network.name if network else '')}</b>"
    foot = ""
    if not translated:
        foot = t._(
            "<i>(Written in {language}; no translation into your language yet.)</i>",
            language=t.language_name(bc.language),
        )
    # Escaping can make a text of 3,500 characters several times longer (<, >, &): cut it sensibly
    # rather than let the message be cut inside an entity. Room is kept for the direction marks.
    marks = 3 * (text.count("\n") + 1) if t.rtl else 0
    body = fit_escaped(text, TELEGRAM_LIMIT - len(head) - len(foot) - 8 - marks)
    if t.rtl:
        body = isolate_lines(body)
    return Rendered(t.lines("\n\n".join(x for x in (head, body, foot) if x)))
