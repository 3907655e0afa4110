"""Working groups and published decisions: per-network options (table network_options).

Pure database logic; never imports telegram. A working group is a network linked to a parent
network (`/parent {slug}`, by a coordinator of both; the handler checks that). The parent's final
agenda shows each working group's decisions since the parent's previous meeting, and `/decisions all`
in the parent includes its working groups. Nothing else is shared: a working group's followers are
its own. Publishing (`publish_decisions`) puts a network's approved minutes and decisions log on the
web at /n/{slug}/decisions; off by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import people
from bot.domain.errors import NotFound, UserError
from bot.i18n import N_

NONE_WORDS = frozenset({"none", "ingen", "-", "لا شيء", "لا", "የለን", "ዋላ ሓደ"})
ALL_WORDS = frozenset({"all", "alle", "الكل", "كل", "ኩሉ"})
MAX_DECISIONS_PER_GROUP = 10


async def options(session: AsyncSession, network_id: int, *, create: bool = False) -> m.NetworkOptions | None:
    row = await session.get(m.NetworkOptions, network_id)
    if row is None and create:
        row = m.NetworkOptions(network_id=network_id, parent_id=None, publish_decisions=False)
        session.add(row)
        await session.flush()
    return row


async def parent_of(session: AsyncSession, network_id: int) -> m.Network | None:
    row = await options(session, network_id)
    if row is None or row.parent_id is None:
        return None
    return await session.get(m.Network, row.parent_id)


async def children(session: AsyncSession, parent_id: int) -> list[m.Network]:
    rows = await session.scalars(
        select(m.Network)
        .join(m.NetworkOptions, m.NetworkOptions.network_id == m.Network.id)
        .where(m.NetworkOptions.parent_id == parent_id)
        .order_by(m.Network.name, m.Network.id)
    )
    return list(rows.all())


async def parent_by_slug(session: AsyncSession, child: m.Network, slug: str) -> m.Network:
    parent = await people.network_by_slug(session, slug.strip().lower())
    if parent is None:
        raise NotFound(N_("There is no network with the short name {slug}."), slug=slug)
    if parent.id == child.id:
        raise UserError(N_("A network cannot be its own parent."))
    # No circles: the parent (or one of its parents) must not be this group.
    seen = {child.id}
    current: m.Network | None = parent
    while current is not None:
        if current.id in seen:
            raise UserError(
                N_("{parent} is a working group of this network; it cannot also be its parent."),
                parent=parent.name,
            )
        seen.add(current.id)
        current = await parent_of(session, current.id)
    return parent


async def set_parent(session: AsyncSession, child: m.Network, parent: m.Network | None) -> bool:
    """Link (or, with None, unlink); False when nothing changed."""
    row = await options(session, child.id, create=parent is not None)
    if row is None:
        return False
    new = parent.id if parent else None
    if row.parent_id == new:
        return False
    row.parent_id = new
    return True


async def decision_scope(
    session: AsyncSession, networks: Sequence[m.Network], words: str, in_group: bool
) -> tuple[list[m.Network], str]:
    """`/decisions all [words]` in a parent's group: the parent and its working groups, and the
    remaining search words."""
    parts = words.split()
    if not in_group or not parts or parts[0].casefold() not in ALL_WORDS:
        return list(networks), words
    out = list(networks)
    for network in networks:
        out.extend(await children(session, network.id))
    return out, " ".join(parts[1:])


async def previous_meeting_start(session: AsyncSession, meeting: m.Meeting) -> datetime | None:
    return await session.scalar(
        select(m.Meeting.starts_at)
        .where(
            m.Meeting.network_id == meeting.network_id,
            m.Meeting.status == "scheduled",
            m.Meeting.starts_at < meeting.starts_at,
            m.Meeting.id != meeting.id,
        )
        .order_by(m.Meeting.starts_at.desc())
        .limit(1)
    )


async def group_decisions(
    session: AsyncSession, parent: m.Network, meeting: m.Meeting, until: datetime
) -> list[tuple[m.Network, list[m.Decision]]]:
    """Each working group's decisions since the parent's previous meeting (all, if it had none)."""
    since = await previous_meeting_start(session, meeting)
    out: list[tuple[m.Network, list[m.Decision]]] = []
    for group in await children(session, parent.id):
        query = select(m.Decision).where(m.Decision.network_id == group.id, m.Decision.decided_at <= until)
        if since is not None:
            query = query.where(m.Decision.decided_at > since)
        rows = await session.scalars(
            query.order_by(m.Decision.decided_at, m.Decision.id).limit(MAX_DECISIONS_PER_GROUP)
        )
        found = list(rows.all())
        if found:
            out.append((group, found))
    return out


# --- publishing ----------------------------------------------------------------------------------


async def is_published(session: AsyncSession, network_id: int) -> bool:
    row = await options(session, network_id)
    return bool(row and row.publish_decisions)


async def set_published(session: AsyncSession, network: m.Network, value: bool) -> bool:
    row = await options(session, network.id, create=value)
    if row is None or row.publish_decisions == value:
        return False
    row.publish_decisions = value
    return True


def parse_on_off(word: str) -> bool:
    w = word.strip().casefold()
    if w in ("on", "yes", "ja", "til", "نعم", "تشغيل", "እወ"):
        return True
    if w in ("off", "no", "nej", "fra", "لا", "إيقاف", "ኣይፋል"):
        return False
    raise UserError(N_("Write on or off. Example: {example}"), example="/settings publish on")


async def published_minutes(session: AsyncSession, network_id: int, limit: int = 20) -> list[m.Meeting]:
    """Approved minutes that have a text (files are not put on the web), newest first."""
    rows = await session.scalars(
        select(m.Meeting)
        .where(
            m.Meeting.network_id == network_id,
            m.Meeting.minutes_state == "approved",
            m.Meeting.minutes_text.is_not(None),
        )
        .order_by(m.Meeting.starts_at.desc())
        .limit(limit)
    )
    return [x for x in rows.all() if (x.minutes_text or "").strip()]
