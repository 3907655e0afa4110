"""The network feed's series: occurrence rows leave the per-event VEVENTs and each series is written once
(bot/render/series_ics.py). Called from bot.domain.calendar.network_feed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.render import series_ics

# Series years the feed's VTIMEZONE covers ahead (an open-ended rule runs on).
YEARS_AHEAD = 3


async def split(
    session: AsyncSession, network: m.Network, events: Sequence[m.Event], now: datetime, history: object
) -> tuple[list[m.Event], list[tuple[m.Series, list[m.Event]]]]:
    """The single events, and the series to write with their occurrence rows."""
    singles = [e for e in events if e.series_id is None]
    ids = {e.series_id for e in events if e.series_id is not None}
    query = select(m.Series).where(
        m.Series.network_id == network.id,
        m.Series.kind == "event",
        m.Series.status != "replaced",
        or_(m.Series.status == "active", m.Series.id.in_(ids), m.Series.updated_at > history),
    )
    found = list((await session.scalars(query.order_by(m.Series.id))).all())
    if not found:
        return singles, []
    rows: dict[int, list[m.Event]] = {s.id: [] for s in found}
    for event in (
        await session.scalars(
            select(m.Event).where(m.Event.series_id.in_(list(rows))).order_by(m.Event.recurrence_at)
        )
    ).all():
        rows[event.series_id or 0].append(event)
    # A series split at its first occurrence keeps no rows: nothing of it to show.
    return singles, [(s, rows[s.id]) for s in found if rows[s.id] and s.rrule]


def add(
    data: bytes,
    network: m.Network,
    singles: Sequence[m.Event],
    series: Sequence[tuple[m.Series, list[m.Event]]],
    now: datetime,
    url_for: object = None,
) -> bytes:
    if not series:
        return data
    parts = [series_ics.serialize(s, rows, now=now) for s, rows in series]
    years = [e.starts_at.year for e in singles] + [s.dtstart.year for s, _ in series]
    first = min([*years, now.year]) - 1
    last = max([*years, now.year]) + YEARS_AHEAD
    return series_ics.rezone(series_ics.splice(data, parts), network.timezone, first, last)
