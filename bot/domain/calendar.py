"""The public calendar feed and each event's stored VEVENT (`events.ics_vevent`, `events.ics_key`).

The VEVENT is serialized with icalendar (bot.render.ics) when an event is created or changed, and stored
in its row, so a fresh process builds a feed of 1,000 events from the rows instead of serializing each
again. The feed reads the stored text only for events its in-process LRU does not hold, uses it only while
its key still matches the row (and PUBLIC_URL and the network's time zone, which are in the key), and
serializes and stores again the ones that do not."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.render import ics

# Cancelled events stay in the feed for a while so subscribed calendars see STATUS:CANCELLED.
FEED_HISTORY = timedelta(days=30)
FEED_LIMIT = 2000
_CHUNK = 500  # ids per IN (...) when reading stored VEVENTs

_EVENTS = m.Event.__table__
assert isinstance(_EVENTS, Table)
_STORE = (
    update(_EVENTS)
    .where(_EVENTS.c.id == bindparam("b_id"))
    .values(ics_key=bindparam("b_key"), ics_vevent=bindparam("b_vevent"))
)


def public_link(public_url: str | None, path: str) -> str:
    return f"{(public_url or '').rstrip('/')}{path}"


def event_url(public_url: str | None, network: m.Network, event_id: int) -> str:
    """The URL written into the feed's VEVENT: the event on the network's public page."""
    return public_link(public_url, f"/n/{network.slug}#event-{event_id}")


async def store_vevents(session: AsyncSession, rows: Sequence[tuple[int, str, str]]) -> None:
    """Write (event id, ics_key, ics_vevent) rows: one UPDATE … WHERE id = :id each, in one executemany
    (in id order, so two feeds writing back the same rows on PostgreSQL take the row locks alike)."""
    if rows:
        await session.execute(_STORE, [{"b_id": i, "b_key": k, "b_vevent": v} for i, k, v in sorted(rows)])


async def refresh_stored_vevents(
    session: AsyncSession, events: Iterable[tuple[m.Event, m.Network]], public_url: str | None
) -> None:
    """Serialize each event's feed VEVENT as it is now and store it (after a create or a change)."""
    rows = []
    for event, network in events:
        key, text = ics.stored_vevent(event, network.timezone, event_url(public_url, network, event.id))
        rows.append((event.id, key, text))
    await session.flush()  # the event's own row first (a new event must exist; changes land before)
    await store_vevents(session, rows)


async def _stored(session: AsyncSession, ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    found: dict[int, tuple[str | None, str | None]] = {}
    for i in range(0, len(ids), _CHUNK):
        rows = await session.execute(
            select(m.Event.id, m.Event.ics_key, m.Event.ics_vevent).where(m.Event.id.in_(ids[i : i + _CHUNK]))
        )
        found.update((eid, (key, text)) for eid, key, text in rows)
    return found


async def feed_events(session: AsyncSession, network: m.Network, now: datetime) -> Sequence[m.Event]:
    return (
        await session.scalars(
            select(m.Event)
            .where(
                m.Event.network_id == network.id,
                or_(m.Event.starts_at > now - FEED_HISTORY, m.Event.updated_at > now - FEED_HISTORY),
            )
            .order_by(m.Event.starts_at)
            .limit(FEED_LIMIT)
        )
    ).all()


async def network_feed(
    session: AsyncSession, network: m.Network, now: datetime, public_url: str | None
) -> ics.Feed:
    """The network's .ics feed. Feed.stale holds the VEVENTs to store again (`store_vevents`): the
    caller writes them back and commits (a failed write-back costs only time, never a wrong feed)."""
    events = await feed_events(session, network, now)
    # --- series hook (bot/domain/series_feed.py): occurrences are written as one VEVENT per series ---
    from bot.domain import series_feed

    events, series = await series_feed.split(session, network, events, now, now - FEED_HISTORY)
    # --- end series hook ---
    plan = ics.FeedPlan(
        [(e, network) for e in events], {e.id: event_url(public_url, network, e.id) for e in events}
    )
    stored = await _stored(session, plan.missing) if plan.missing else None
    built = plan.build(name=network.name, now=now, stored=stored)
    built.data = series_feed.add(built.data, network, events, series, now)  # series hook
    return built
