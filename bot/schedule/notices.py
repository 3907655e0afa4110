"""The delivery engine's contract: features enqueue notices (rows) and register renderers.

A notice is one message to one chat at one time. It is rendered when it is sent, in the language of
its recipient at that moment, from the current state of the database (an event edited after the
reminder was planned is shown as it is now). `dedup_key` is unique, so a notice can be planned any
number of times (by restarts, by two instances) and is still stored, and sent, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.db import models as m
from bot.domain.people import insert_for
from bot.i18n import Translator
from bot.render.keyboard import Keyboard
from bot.schedule import registry


@dataclass
class Rendered:
    text: str
    keyboard: Keyboard | None = None
    # (filename, bytes): sent as a document with `text` as its caption.
    document: tuple[str, bytes] | None = None
    # A Telegram file_id (a file someone posted): sent as that document with `text` as its caption.
    document_id: str | None = None
    # Files Telegram already has, as (kind, file_id, caption), kind "document" or "photo": one sent
    # alone, 2–10 of one kind as a media group (bot.schedule.media).
    media: list[tuple[str, str, str]] | None = None


# A renderer returns None when the notice no longer applies (event cancelled, item withdrawn): skipped.
Renderer = Callable[[AsyncSession, m.Notice, Translator], Awaitable[Rendered | None]]
# Called after a notice was sent (e.g. remember the message id of a card to edit it later).
AfterSend = Callable[[AsyncSession, m.Notice, int], Awaitable[None]]

# A notice that is not a message: database work done exactly once when it is due (a broadcast
# starting fans out to its followers). Runs in a transaction together with marking the row done.
Action = Callable[[AsyncSession, m.Notice, datetime], Awaitable[None]]

T = TypeVar("T")

RENDERERS: dict[str, Renderer] = {}
AFTER_SEND: dict[str, AfterSend] = {}
ACTIONS: dict[str, Action] = {}


# --- waking the dispatcher: after the commit, by itself ---------------------------------------------
# Enqueuing notes the earliest due time in the session; when that session commits, the function the
# sessionmaker put in `session.info[WAKER]` (Services.notices_committed) is called with it. So nobody
# calls `dispatcher.wake()` by hand, and the dispatcher never looks before the rows are visible.

WAKER = "volbot_waker"
_DUE = "volbot_enqueued_due"


def _note_enqueued(session: AsyncSession, due_at: datetime) -> None:
    earliest = session.info.get(_DUE)
    if earliest is None or due_at < earliest:
        session.info[_DUE] = due_at


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    due = session.info.pop(_DUE, None)
    waker = session.info.get(WAKER)
    if due is not None and waker is not None:
        waker(due)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_DUE, None)


async def memo(session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    """What `load()` returns, once per rendering batch: the dispatcher renders a batch of notices in
    one session, so a renderer can look up what many notices share (a broadcast's translation for a
    language, an event's counts) once instead of once per recipient."""
    cache: dict[Hashable, Any] = session.info.setdefault("volbot_memo", {})
    if key not in cache:
        cache[key] = await load()
    return cache[key]  # type: ignore[no-any-return]


def action(kind: str) -> Callable[[Action], Action]:
    def deco(fn: Action) -> Action:
        ACTIONS[kind] = fn
        return fn

    return deco


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    def deco(fn: Renderer) -> Renderer:
        RENDERERS[kind] = fn
        return fn

    return deco


def after_send(kind: str) -> Callable[[AfterSend], AfterSend]:
    def deco(fn: AfterSend) -> AfterSend:
        AFTER_SEND[kind] = fn
        return fn

    return deco


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    dedup_key: str,
    chat_id: int,
    due_at: datetime,
    person_id: int | None = None,
    network_id: int | None = None,
    ref_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Plan a notice; returns False when one with that key already exists (nothing changes). A kind
    nobody renders is refused here (bot.schedule.registry)."""
    registry.require_known((kind,))
    stmt = insert_for(session, m.Notice.__table__).values(
        kind=kind,
        dedup_key=dedup_key[:160],
        chat_id=chat_id,
        due_at=due_at,
        person_id=person_id,
        network_id=network_id,
        ref_id=ref_id,
        payload=payload or {},
        state="pending",
        attempts=0,
        created_at=m.utcnow(),
    )
    result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["dedup_key"]))
    if result.rowcount:  # type: ignore[attr-defined]
        _note_enqueued(session, due_at)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def enqueue_many(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Plan many notices in one statement (broadcasts to thousands). Keys as in `enqueue`."""
    if not rows:
        return 0
    registry.require_known({r["kind"] for r in rows})
    now = m.utcnow()
    values = [
        {
            "kind": r["kind"],
            "dedup_key": r["dedup_key"][:160],
            "chat_id": r["chat_id"],
            "due_at": r["due_at"],
            "person_id": r.get("person_id"),
            "network_id": r.get("network_id"),
            "ref_id": r.get("ref_id"),
            "payload": r.get("payload") or {},
            "state": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for r in rows
    ]
    total = 0
    # Bounded statements: SQLite limits bound parameters per statement.
    for i in range(0, len(values), 500):
        stmt = insert_for(session, m.Notice.__table__).values(values[i : i + 500])
        result = await session.execute(stmt.on_conflict_do_nothing(index_elements=["dedup_key"]))
        total += result.rowcount or 0  # type: ignore[attr-defined]
    if total:
        _note_enqueued(session, min(r["due_at"] for r in rows))
    return total


async def enqueue_to_people(
    session: AsyncSession,
    people: Iterable[m.Person],
    *,
    kind: str,
    key: Callable[[m.Person], str],
    due_at: datetime,
    network_id: int | None,
    ref_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> int:
    """The same notice to each person's private chat, planned in one statement; `key(person)` is the
    dedup key. Returns how many were new."""
    return await enqueue_many(
        session,
        [
            {
                "kind": kind,
                "dedup_key": key(person),
                "chat_id": person.tg_id,
                "due_at": due_at,
                "person_id": person.id,
                "network_id": network_id,
                "ref_id": ref_id,
                "payload": dict(payload or {}),
            }
            for person in people
        ],
    )


async def cancel_pending(
    session: AsyncSession,
    *,
    kind: str | None = None,
    ref_id: int | None = None,
    key_prefix: str | None = None,
) -> int:
    """Cancel notices not yet sent (an event was cancelled or moved)."""
    stmt = update(m.Notice).where(m.Notice.state == "pending")
    if kind is not None:
        stmt = stmt.where(m.Notice.kind == kind)
    if ref_id is not None:
        stmt = stmt.where(m.Notice.ref_id == ref_id)
    if key_prefix is not None:
        stmt = stmt.where(m.Notice.dedup_key.startswith(key_prefix))
    result = await session.execute(stmt.values(state="cancelled"))
    return result.rowcount or 0  # type: ignore[attr-defined]
