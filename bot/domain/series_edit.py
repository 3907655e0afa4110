"""Changing a series from one occurrence on ("This and later ones"), and what the feed needs to know of
an occurrence changed on its own. See bot/domain/series.py for the design."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import events as ev
from bot.domain import recurrence as rr
from bot.domain.errors import UserError
from bot.domain.series import occurrences, schedule_extension
from bot.i18n import N_


def _bump(series: m.Series, now: datetime) -> None:
    series.sequence += 1
    series.updated_at = now


def _local_day_before(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz)) - timedelta(days=1)


async def _end_before(session: AsyncSession, series: m.Series, event: m.Event) -> bool:
    """End the series' rule before this occurrence; False when no occurrence came before it."""
    assert event.recurrence_at is not None
    earlier = await session.scalar(
        select(m.Event.id)
        .where(m.Event.series_id == series.id, m.Event.recurrence_at < event.recurrence_at)
        .limit(1)
    )
    if earlier is None:
        return False
    if series.rrule:
        series.rrule = rr.with_until(
            series.rrule, _local_day_before(event.recurrence_at, series.timezone).date()
        )
    return True


async def cancel_from(
    session: AsyncSession, event: m.Event, now: datetime
) -> tuple[m.Series, list[m.Event], bool]:
    """Cancel this occurrence and every later one; the rule ends before it. Returns the series, the
    occurrences cancelled, and whether no upcoming occurrence is left before them (the whole series)."""
    series = await session.get(m.Series, event.series_id)
    if series is None or event.recurrence_at is None:
        raise UserError(N_("This event was cancelled."))
    ev.require_open(event, now)
    affected = [
        e
        for e in await occurrences(session, series.id)
        if e.recurrence_at is not None and e.recurrence_at >= event.recurrence_at and e.status == "scheduled"
    ]
    for e in affected:
        e.status = "cancelled"
        ev.bump(e, now)
    if not await _end_before(session, series, event):
        series.status = "cancelled"
    series.horizon_until = series.horizon_until or event.recurrence_at
    _bump(series, now)
    before = await session.scalar(
        select(m.Event.id)
        .where(
            m.Event.series_id == series.id,
            m.Event.status == "scheduled",
            m.Event.starts_at > now,
            m.Event.recurrence_at < event.recurrence_at,
        )
        .limit(1)
    )
    return series, affected, before is None


async def split_from(session: AsyncSession, event: m.Event, now: datetime) -> tuple[m.Series, list[m.Event]]:
    """ "This and later ones": a new series from this occurrence on (the old one ends before it), holding
    this and the later occurrences. Returns it and its scheduled upcoming occurrences."""
    old = await session.get(m.Series, event.series_id)
    if old is None or event.recurrence_at is None or not old.rrule:
        raise UserError(N_("This event was cancelled."))
    ev.require_open(event, now)
    rule = old.rrule
    params = rr.parse_rule(rule)
    if "COUNT" in params:
        before = len([x for x in rr.expand(rule, old.dtstart, old.timezone) if x < event.recurrence_at])
        params["COUNT"] = str(max(1, int(params["COUNT"]) - before))
        rule = ";".join(f"{k}={v}" for k, v in params.items())
    later = [
        e
        for e in await occurrences(session, old.id)
        if e.recurrence_at and e.recurrence_at >= event.recurrence_at
    ]
    if not await _end_before(session, old, event):
        # Nothing before it: the series itself changes (no split needed).
        _bump(old, now)
        return old, [e for e in later if e.status == "scheduled" and e.starts_at > now]
    new = m.Series(
        network_id=old.network_id,
        kind=old.kind,
        creator_id=old.creator_id,
        rrule=rule,
        timezone=old.timezone,
        dtstart=event.recurrence_at,
        duration_minutes=old.duration_minutes,
        title=old.title,
        place=old.place,
        description=old.description,
        language=old.language,
        status="active",
        sequence=old.sequence + 1,
        horizon_until=old.horizon_until,
        created_at=now,
        updated_at=now,
    )
    old.horizon_until = min(old.horizon_until or event.recurrence_at, event.recurrence_at)
    _bump(old, now)
    session.add(new)
    await session.flush()
    for e in later:
        e.series_id = new.id
    await session.flush()
    network = await session.get(m.Network, new.network_id)
    if network is not None:
        await schedule_extension(session, new, network.chat_id, now)
    return new, [e for e in later if e.status == "scheduled" and e.starts_at > now]


async def change_place_from(
    session: AsyncSession, event: m.Event, place: str, now: datetime
) -> list[m.Event]:
    place = ev.check_text("place", place)
    series, rows = await split_from(session, event, now)
    old_place = series.place
    series.place = place
    changed = []
    for e in rows:
        if e.place in (old_place, event.place) and e.place != place:
            e.place = place
            ev.bump(e, now)
            changed.append(e)
    return changed


async def change_time_from(
    session: AsyncSession, event: m.Event, start: datetime, end: datetime | None, now: datetime
) -> list[m.Event]:
    """Move this and the later occurrences: the same change of day and the new clock time, on the local
    wall clock; the rule moves with them (a weekly one to the new weekday)."""
    assert event.recurrence_at is not None
    probe = await session.get(m.Series, event.series_id)
    if probe is None:
        raise UserError(N_("This event was cancelled."))
    zone = ZoneInfo(probe.timezone)
    shift = (start.astimezone(zone).date() - event.starts_at.astimezone(zone).date()).days
    clock = start.astimezone(zone).time()
    assert probe.rrule is not None
    rule = rr.shifted_days(
        probe.rrule, shift
    )  # refuses a day shift of a monthly rule before changing anything
    series, rows = await split_from(session, event, now)
    series.rrule = rule if series.id == probe.id else rr.shifted_days(series.rrule or rule, shift)
    if end is not None:
        series.duration_minutes = int((end - start).total_seconds() // 60)

    def moved(moment: datetime) -> datetime:
        day = moment.astimezone(zone).date() + timedelta(days=shift)
        return datetime.combine(day, clock).replace(tzinfo=zone, fold=0).astimezone(UTC)

    series.dtstart = moved(series.dtstart if series.id == probe.id else event.recurrence_at)
    # Park the rows away from their new keys first: (series_id, recurrence_at) is unique.
    for e in rows:
        e.recurrence_at = None
    await session.flush()
    for e in rows:
        e.starts_at = moved(e.starts_at)
        e.recurrence_at = e.starts_at
        e.ends_at = rr.occurrence_end(e.starts_at, series.duration_minutes, series.timezone)
        ev.bump(e, now)
    if rows:
        series.horizon_until = max(e.starts_at for e in rows)
    if any(e.starts_at <= now for e in rows):
        raise UserError(
            N_("“{text}” is in the past. Please give a future date and time, like this: {example}"),
            text=start.isoformat()[:16],
            example="/editevent 12 when torsdag kl. 17",
        )
    _bump(series, now)
    return rows


def is_override(event: m.Event, series: m.Series) -> bool:
    """Whether the occurrence differs from what the series says (a RECURRENCE-ID override in the feed)."""
    if event.recurrence_at is None:
        return False
    return (
        event.starts_at != event.recurrence_at
        or event.ends_at != rr.occurrence_end(event.recurrence_at, series.duration_minutes, series.timezone)
        or event.title != series.title
        or event.place != series.place
        or event.description != series.description
    )
