"""Series of events and meetings: creating one, materialising its occurrences on a rolling horizon,
and changing "this and later ones". Pure async functions on a session (no Telegram).

Design (see docs/DEVELOPING.md, "Series and the rolling horizon"): a series row holds the rule (RRULE,
local clock of its time zone) and the fields every occurrence starts from; each occurrence is an ordinary
`events` row (own id, card, RSVPs, reminders) with `series_id` and `recurrence_at` (the start the rule gave
it; unique per series). Rows exist only up to a rolling horizon (HORIZON ahead for events, MEETING_HORIZON
for meetings, and always the next occurrence), so an open-ended weekly series keeps ~8 rows ahead, never
an unbounded number. `series.horizon_until` is the start of the last occurrence materialised. The horizon is
moved on by a `series_extend` action notice per series (the delivery engine runs it exactly once, on any
instance, and catches up after downtime), due every EXTEND_EVERY or when the last materialised occurrence
starts, whichever comes first; each extension plans the new occurrences' reminders and the next extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db import models as m
from bot.domain import events as ev
from bot.domain import recurrence as rr
from bot.domain.errors import UserError
from bot.domain.reminders import plan_event_reminders
from bot.i18n import N_
from bot.schedule.notices import action, enqueue

HORIZON = timedelta(weeks=8)
MEETING_HORIZON = timedelta(days=366)
EXTEND_EVERY = timedelta(days=7)
KIND_EXTEND = "series_extend"


def _horizon(series: m.Series) -> timedelta:
    return MEETING_HORIZON if series.kind == "meeting" else HORIZON


def next_start(series: m.Series, after: datetime) -> datetime | None:
    """The first start of the rule after `after` (None when the rule has ended)."""
    if not series.rrule:
        return None
    made = rr.rule_set(series.rrule, series.dtstart, series.timezone)
    zone = ZoneInfo(series.timezone)
    local_after = after.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    clock = series.dtstart.astimezone(zone).time()
    probe = made.after(local_after, inc=True)
    while probe is not None:
        value = datetime.combine(probe.date(), clock).replace(tzinfo=zone, fold=0).astimezone(UTC)
        if value > after:
            return value
        probe = made.after(probe)
    return None


def due_starts(series: m.Series, now: datetime) -> list[datetime]:
    """Occurrence starts not yet materialised that should be: up to now + horizon, and at least the next."""
    if series.status != "active" or not series.rrule:
        return []
    after = series.horizon_until or (series.dtstart - timedelta(seconds=1))
    starts = rr.expand(
        series.rrule, series.dtstart, series.timezone, after=after, before=now + _horizon(series)
    )
    if not starts and after <= now:
        nxt = next_start(series, max(after, now))
        if nxt is not None:
            starts = [nxt]
    return starts


async def materialise(session: AsyncSession, series: m.Series, now: datetime) -> list[m.Event]:
    """Create the event rows the horizon asks for (idempotent: an occurrence is made once)."""
    starts = due_starts(series, now)
    made: list[m.Event] = []
    for start in starts:
        event = m.Event(
            network_id=series.network_id,
            creator_id=series.creator_id,
            title=series.title,
            place=series.place,
            description=series.description,
            starts_at=start,
            ends_at=rr.occurrence_end(start, series.duration_minutes, series.timezone),
            language=series.language,
            status="scheduled",
            sequence=0,
            created_at=now,
            updated_at=now,
            series_id=series.id,
            recurrence_at=start,
        )
        session.add(event)
        made.append(event)
    if starts:
        series.horizon_until = starts[-1]
        await session.flush()
    return made


async def schedule_extension(session: AsyncSession, series: m.Series, chat_id: int, now: datetime) -> None:
    """The next `series_extend` action: in EXTEND_EVERY, or when the last occurrence made starts."""
    if series.status != "active" or not series.rrule:
        return
    due = now + EXTEND_EVERY
    if series.horizon_until is not None and now < series.horizon_until < due:
        due = series.horizon_until
    await enqueue(
        session,
        kind=KIND_EXTEND,
        dedup_key=f"serext:{series.id}:{int(due.timestamp())}",
        chat_id=chat_id,
        due_at=due,
        network_id=series.network_id,
        ref_id=series.id,
    )


async def extend(session: AsyncSession, series: m.Series, now: datetime) -> list[m.Event]:
    """Move the horizon on: new occurrences (with their reminders) and the next extension."""
    network = await session.get(m.Network, series.network_id)
    if network is None:
        return []
    made = await materialise(session, series, now) if series.kind == "event" else []
    for event in made:
        await plan_event_reminders(session, event.id, now)
    if series.kind == "meeting":
        from bot.domain import meetings as mt

        for start in due_starts(series, now):
            meeting = await mt.create_meeting(session, network, None, start, series.place, now)
            meeting.series_id = series.id
            series.horizon_until = start
    await schedule_extension(session, series, network.chat_id, now)
    return made


@action(KIND_EXTEND)
async def extend_action(session: AsyncSession, notice: m.Notice, now: datetime) -> None:
    series = await session.get(m.Series, notice.ref_id) if notice.ref_id else None
    if series is not None:
        await extend(session, series, now)


async def extend_all(session: AsyncSession, now: datetime) -> int:
    """Extend every active series whose horizon is behind (a catch-up pass; the actions do it one by one)."""
    rows = (
        await session.scalars(
            select(m.Series).where(
                m.Series.status == "active",
                or_(m.Series.horizon_until.is_(None), m.Series.horizon_until < now + HORIZON - EXTEND_EVERY),
            )
        )
    ).all()
    made = 0
    for series in rows:
        made += len(await extend(session, series, now))
    return made


async def create_event_series(
    session: AsyncSession,
    network: m.Network,
    creator: m.Person | None,
    *,
    title: str,
    place: str,
    description: str,
    language: str,
    repeat: rr.Repeat,
    now: datetime,
) -> tuple[m.Series, list[m.Event]]:
    series = m.Series(
        network_id=network.id,
        kind="event",
        creator_id=creator.id if creator else None,
        rrule=repeat.rule,
        timezone=network.timezone,
        dtstart=repeat.start,
        duration_minutes=int(repeat.duration.total_seconds() // 60) if repeat.duration else None,
        title=ev.check_text("title", title),
        place=ev.check_text("place", place),
        description=ev.check_text("description", description or ""),
        language=language,
        status="active",
        sequence=0,
        created_at=now,
        updated_at=now,
    )
    session.add(series)
    await session.flush()
    made = await materialise(session, series, now)
    if not made:
        raise UserError(
            N_("“{text}” has no date in the future. Write it like this: {example}"),
            text="",
            example=rr.EXAMPLE,
        )
    await schedule_extension(session, series, network.chat_id, now)
    return series, made


async def create_meeting_series(
    session: AsyncSession,
    network: m.Network,
    creator: m.Person | None,
    *,
    place: str,
    starts: Sequence[datetime],
    rule: str | None,
    now: datetime,
    coordinator_ids: Sequence[int] = (),
) -> tuple[m.Series, list[m.Meeting]]:
    """A meeting series: listed dates (no rule) or a rhythm (materialised MEETING_HORIZON ahead)."""
    from bot.domain import meetings as mt

    series = m.Series(
        network_id=network.id,
        kind="meeting",
        creator_id=creator.id if creator else None,
        rrule=rule,
        timezone=network.timezone,
        dtstart=starts[0],
        place=place.strip(),
        language=network.language,
        status="active",
        sequence=0,
        created_at=now,
        updated_at=now,
    )
    session.add(series)
    await session.flush()
    dates = list(starts) if rule is None else due_starts(series, now)
    meetings = []
    for start in dates:
        meeting = await mt.create_meeting(session, network, creator, start, place, now, coordinator_ids)
        meeting.series_id = series.id
        meetings.append(meeting)
    series.horizon_until = dates[-1]
    await schedule_extension(session, series, network.chat_id, now)
    return series, meetings


def next_only(now: datetime) -> object:
    """A WHERE clause on events: single events, and of each series only its next scheduled occurrence."""
    other = aliased(m.Event)
    earlier = exists().where(
        other.series_id == m.Event.series_id,
        other.status == "scheduled",
        other.starts_at > now,
        or_(
            other.starts_at < m.Event.starts_at,
            and_(other.starts_at == m.Event.starts_at, other.id < m.Event.id),
        ),
    )
    return or_(m.Event.series_id.is_(None), ~earlier)


async def of_events(session: AsyncSession, events: Sequence[m.Event]) -> dict[int, m.Series]:
    """The series of these events, by series id."""
    ids = {e.series_id for e in events if e.series_id is not None}
    if not ids:
        return {}
    rows = await session.scalars(select(m.Series).where(m.Series.id.in_(ids)))
    return {s.id: s for s in rows}


async def occurrences(
    session: AsyncSession, series_id: int, *, after: datetime | None = None
) -> list[m.Event]:
    query = select(m.Event).where(m.Event.series_id == series_id)
    if after is not None:
        query = query.where(m.Event.starts_at > after)
    return list((await session.scalars(query.order_by(m.Event.recurrence_at))).all())


async def upcoming_count(session: AsyncSession, series_id: int, now: datetime) -> int:
    rows = await occurrences(session, series_id, after=now)
    return sum(1 for e in rows if e.status == "scheduled")


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


def rule_start_of(series: m.Series) -> datetime:
    return series.dtstart


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
