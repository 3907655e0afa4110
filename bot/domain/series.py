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
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db import models as m
from bot.domain import events as ev
from bot.domain import recurrence as rr
from bot.domain.errors import UserError
from bot.domain.reminders import _rows_for as _reminder_rows
from bot.i18n import N_
from bot.schedule.notices import action, enqueue_many

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


def _materialise_rows(session: AsyncSession, series: m.Series, now: datetime) -> list[m.Event]:
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
    return made


async def materialise(session: AsyncSession, series: m.Series, now: datetime) -> list[m.Event]:
    """Create the event rows the horizon asks for (idempotent: an occurrence is made once)."""
    made = _materialise_rows(session, series, now)
    if made:
        await session.flush()
    return made


def _extension_row(series: m.Series, chat_id: int, now: datetime) -> dict[str, Any] | None:
    """The next `series_extend` action: in EXTEND_EVERY, or when the last occurrence made starts."""
    if series.status != "active" or not series.rrule:
        return None
    due = now + EXTEND_EVERY
    if series.horizon_until is not None and now < series.horizon_until < due:
        due = series.horizon_until
    return {
        "kind": KIND_EXTEND,
        "dedup_key": f"serext:{series.id}:{int(due.timestamp())}",
        "chat_id": chat_id,
        "due_at": due,
        "network_id": series.network_id,
        "ref_id": series.id,
    }


async def schedule_extension(session: AsyncSession, series: m.Series, chat_id: int, now: datetime) -> None:
    row = _extension_row(series, chat_id, now)
    if row is not None:
        await enqueue_many(session, [row])


async def extend(session: AsyncSession, series: m.Series, now: datetime) -> list[m.Event]:
    """Move the horizon on: new occurrences (with their reminders) and the next extension."""
    return await extend_many(session, [series], now)


async def extend_many(session: AsyncSession, many: Sequence[m.Series], now: datetime) -> list[m.Event]:
    """`extend` for many series in a few statements: the occurrences made in one flush, the followers of each
    network read once, every new reminder and every next extension inserted together."""
    nets = {
        n.id: n
        for n in (
            await session.scalars(select(m.Network).where(m.Network.id.in_({x.network_id for x in many})))
        ).all()
    }
    made: list[m.Event] = []
    notices: list[dict[str, Any]] = []
    for series in many:
        network = nets.get(series.network_id)
        if network is None:
            continue
        if series.kind == "meeting":
            from bot.domain import meetings as mt

            for start in due_starts(series, now):
                await mt.create_meeting(
                    session, network, None, start, series.place, now, series_id=series.id
                )
                series.horizon_until = start
        else:
            made += _materialise_rows(session, series, now)
        row = _extension_row(series, network.chat_id, now)
        if row is not None:
            notices.append(row)
    if made:
        await session.flush()
        followers: dict[int, list[tuple[int, int, str | None]]] = {}
        for network_id, person_id, tg_id, minutes in (
            await session.execute(
                select(m.Membership.network_id, m.Person.id, m.Person.tg_id, m.Person.reminder_minutes)
                .join(m.Person, m.Person.id == m.Membership.person_id)
                .where(
                    m.Membership.network_id.in_({e.network_id for e in made}),
                    m.Membership.is_follower.is_(True),
                    m.Person.reachable.is_(True),
                )
            )
        ).all():
            followers.setdefault(network_id, []).append((person_id, tg_id, minutes))
        for event in made:
            # A new occurrence has no RSVPs yet: its reminders are the followers'.
            tz = nets[event.network_id].timezone
            notices += _reminder_rows(event, tz, followers.get(event.network_id, []), now)
    await enqueue_many(session, notices)
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
    for i in range(0, len(rows), 200):
        made += len(await extend_many(session, rows[i : i + 200], now))
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
        meeting = await mt.create_meeting(
            session, network, creator, start, place, now, coordinator_ids, series_id=series.id
        )
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
