"""The decisions log: every vote result and every approved set of minutes, searchable.

Pure database logic; never imports telegram. Votes (bot.domain.votes) and minutes (meetings) both
write here through `record_decision`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain.errors import UserError
from bot.i18n import N_

KINDS = ("vote", "minutes")
MAX_WORDS = 8
MAX_WORD_LENGTH = 60


async def record_decision(
    session: AsyncSession,
    *,
    network_id: int,
    kind: str,
    text: str,
    outcome: str,
    decided_at: datetime,
    meeting_id: int | None = None,
    agenda_item_id: int | None = None,
    vote_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> m.Decision:
    """Add one decision to the network's log and return it (flushed, so it has an id).

    `kind` is "vote" or "minutes"; `outcome` a short key (adopted, rejected, tie, no_quorum, approved…);
    `details` whatever the kind needs to show it later (counts, the rule that decided)."""
    if kind not in KINDS:
        raise ValueError(f"unknown decision kind {kind!r}")
    if decided_at.tzinfo is None:
        raise ValueError("decided_at must be timezone-aware")
    decision = m.Decision(
        network_id=network_id,
        kind=kind,
        text=text,
        outcome=outcome[:16],
        decided_at=decided_at,
        meeting_id=meeting_id,
        agenda_item_id=agenda_item_id,
        vote_id=vote_id,
        details=dict(details or {}),
    )
    session.add(decision)
    await session.flush()
    return decision


def search_words(text: str | Iterable[str]) -> list[str]:
    """The words of a search, folded for case-insensitive matching (empty: everything)."""
    raw = text.split() if isinstance(text, str) else [w for part in text for w in part.split()]
    words = [w.casefold() for w in raw if w.strip()]
    if len(words) > MAX_WORDS or any(len(w) > MAX_WORD_LENGTH for w in words):
        raise UserError(
            N_("Search with at most {limit} short words. Example: /decisions sommerfest"), limit=MAX_WORDS
        )
    return words


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_decisions(
    session: AsyncSession,
    network_ids: Sequence[int],
    words: str | Iterable[str] = (),
    limit: int = 10,
    offset: int = 0,
) -> list[m.Decision]:
    """Decisions of these networks, newest first, whose text contains every word (case-insensitive).

    Ask for `limit + 1` to learn whether a further page exists."""
    folded = search_words(words)
    if not network_ids or limit <= 0:
        return []
    query = (
        select(m.Decision)
        .where(m.Decision.network_id.in_(list(network_ids)))
        .order_by(m.Decision.decided_at.desc(), m.Decision.id.desc())
    )
    sqlite = session.get_bind().dialect.name == "sqlite"
    # SQLite folds case for ASCII only: words with other letters (æ, ø, Arabic, Ge'ez) are matched
    # in Python below; everything else is narrowed down by the database.
    in_sql = [w for w in folded if not sqlite or w.isascii()]
    in_python = [w for w in folded if w not in in_sql]
    for word in in_sql:
        query = query.where(m.Decision.text.ilike(f"%{_escape_like(word)}%", escape="\\"))
    if not in_python:
        return list((await session.scalars(query.limit(limit).offset(max(offset, 0)))).all())
    out: list[m.Decision] = []
    skipped = 0
    for decision in (await session.scalars(query)).all():
        text = decision.text.casefold()
        if all(w in text for w in in_python):
            if skipped < offset:
                skipped += 1
                continue
            out.append(decision)
            if len(out) >= limit:
                break
    return out
