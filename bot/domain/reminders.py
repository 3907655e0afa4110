"""Event reminders: which notices should exist for an event, or for a person, and making it so.

A reminder is a notice of kind `event_reminder` per (recipient, lead time), due at the event's start
minus the lead time. Recipients are the network's followers plus everyone who pressed Remind me
(`Rsvp.remind`), each with their own lead times (`Person.reminder_minutes`). The dedup key contains
the start time, so a moved event gets fresh reminders while the stale ones are cancelled.

Lead times of a day or more are counted on the network's wall clock (a reminder "1 day before" a
17:00 event comes at 17:00 the day before, even across a daylight-saving change); shorter ones are
absolute. Planning is idempotent: call it again after any change and the notices converge.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.schedule.notices import enqueue_many

KIND = "event_reminder"
# The lead times a person can choose, in minutes: 15 min, 1 h, 1 day, 1 week.
LEAD_TIMES: tuple[int, ...] = (15, 60, 1440, 10080)
DEFAULT_LEAD_TIMES: tuple[int, ...] = (1440,)


def parse_minutes(value: str | None) -> list[int]:
    """A person's stored lead times (comma separated) as sorted minutes; unknown values are dropped."""
    out: set[int] = set()
    for part in (value or "").split(","):
        part = part.strip()
        if part.isdecimal() and int(part) in LEAD_TIMES:
            out.add(int(part))
    return sorted(out)


def format_minutes(minutes: Iterable[int]) -> str:
    return ",".join(str(x) for x in sorted({x for x in minutes if x in LEAD_TIMES}))


def reminder_due(starts_at: datetime, minutes: int, tz: str) -> datetime:
    """When the reminder `minutes` before `starts_at` is due (UTC)."""
    if minutes >= 1440 and minutes % 1440 == 0:
        try:
            zone = ZoneInfo(tz)
        except Exception:
            zone = ZoneInfo("UTC")
        # Aware arithmetic in one zone is wall-clock arithmetic: same local time N days earlier.
        local = starts_at.astimezone(zone)
        return (local - timedelta(days=minutes // 1440)).astimezone(UTC)
    return (starts_at - timedelta(minutes=minutes)).astimezone(UTC)


def reminder_key(event_id: int, person_id: int, minutes: int, starts_at: datetime) -> str:
    return f"evrem:{event_id}:{person_id}:{minutes}:{int(starts_at.timestamp())}"


def _rows_for(
    event: m.Event, tz: str, persons: Iterable[tuple[int, int, str | None]], now: datetime
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for person_id, tg_id, minutes_text in persons:
        for minutes in parse_minutes(minutes_text) or list(DEFAULT_LEAD_TIMES):
            due = reminder_due(event.starts_at, minutes, tz)
            if due <= now:
                continue  # too late for this lead time: skipped, never sent late
            rows.append(
                {
                    "kind": KIND,
                    "dedup_key": reminder_key(event.id, person_id, minutes, event.starts_at),
                    "chat_id": tg_id,
                    "due_at": due,
                    "person_id": person_id,
                    "network_id": event.network_id,
                    "ref_id": event.id,
                    "payload": {"minutes": minutes},
                }
            )
    return rows


async def _converge(session: AsyncSession, scope: Any, rows: list[dict[str, Any]]) -> int:
    """Make the pending reminders within `scope` (a WHERE clause on notices) exactly `rows`:
    cancel pending ones not wanted, revive cancelled ones wanted again, insert the new ones."""
    wanted = {r["dedup_key"] for r in rows}
    existing = (
        await session.execute(
            select(m.Notice.id, m.Notice.dedup_key, m.Notice.state).where(
                m.Notice.kind == KIND, scope, m.Notice.state.in_(("pending", "cancelled"))
            )
        )
    ).all()
    drop = [nid for nid, key, state in existing if state == "pending" and key not in wanted]
    revive = [nid for nid, key, state in existing if state == "cancelled" and key in wanted]
    for i in range(0, len(drop), 500):
        await session.execute(
            update(m.Notice)
            .where(m.Notice.id.in_(drop[i : i + 500]), m.Notice.state == "pending")
            .values(state="cancelled")
        )
    for i in range(0, len(revive), 500):
        await session.execute(
            update(m.Notice)
            .where(m.Notice.id.in_(revive[i : i + 500]), m.Notice.state == "cancelled")
            .values(state="pending", attempts=0)
        )
    created = await enqueue_many(session, rows)
    return created + len(revive)


async def _event_tz(session: AsyncSession, event: m.Event) -> str:
    tz = await session.scalar(select(m.Network.timezone).where(m.Network.id == event.network_id))
    return tz or "Europe/Copenhagen"


async def plan_event_reminders(session: AsyncSession, event_id: int, now: datetime) -> int:
    """Plan (or re-plan after an edit) the reminders of one event; returns how many were added.

    Call after creating or editing an event and after a Remind me press. Reminders of people who no
    longer follow, of lead times no longer chosen, and of the event's old start time are cancelled.
    """
    event = await session.get(m.Event, event_id)
    if event is None or event.status != "scheduled":
        await cancel_event_reminders(session, event_id)
        return 0
    tz = await _event_tz(session, event)
    followers = select(m.Membership.person_id).where(
        m.Membership.network_id == event.network_id, m.Membership.is_follower.is_(True)
    )
    reminded = select(m.Rsvp.person_id).where(m.Rsvp.event_id == event.id, m.Rsvp.remind.is_(True))
    helpers = (  # issue 13: task helpers get the event's reminders
        select(m.TaskHelper.person_id)
        .join(m.EventTask, m.EventTask.id == m.TaskHelper.task_id)
        .where(m.EventTask.event_id == event.id)
    )
    persons = (
        await session.execute(
            select(m.Person.id, m.Person.tg_id, m.Person.reminder_minutes).where(
                m.Person.reachable.is_(True),
                or_(m.Person.id.in_(followers), m.Person.id.in_(reminded), m.Person.id.in_(helpers)),
            )
        )
    ).all()
    rows = _rows_for(event, tz, [(p[0], p[1], p[2]) for p in persons], now)
    return await _converge(session, m.Notice.ref_id == event.id, rows)


async def cancel_event_reminders(session: AsyncSession, event_id: int) -> int:
    """Cancel every reminder of the event not yet sent (the event was cancelled or deleted)."""
    result = await session.execute(
        update(m.Notice)
        .where(m.Notice.kind == KIND, m.Notice.ref_id == event_id, m.Notice.state == "pending")
        .values(state="cancelled")
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def plan_person_reminders(session: AsyncSession, person_id: int, now: datetime) -> int:
    """Re-plan one person's reminders for every upcoming event (after follow, unfollow or a change
    of lead times); returns how many were added. Pending ones no longer wanted are cancelled."""
    person = await session.get(m.Person, person_id)
    if person is None:
        return 0
    rows: list[dict[str, Any]] = []
    if person.reachable:
        followed = select(m.Membership.network_id).where(
            m.Membership.person_id == person_id, m.Membership.is_follower.is_(True)
        )
        reminded = select(m.Rsvp.event_id).where(m.Rsvp.person_id == person_id, m.Rsvp.remind.is_(True))
        helping = (  # issue 13: task helpers get the event's reminders
            select(m.EventTask.event_id)
            .join(m.TaskHelper, m.TaskHelper.task_id == m.EventTask.id)
            .where(m.TaskHelper.person_id == person_id)
        )
        events = (
            await session.execute(
                select(m.Event, m.Network.timezone)
                .join(m.Network, m.Network.id == m.Event.network_id)
                .where(
                    m.Event.status == "scheduled",
                    m.Event.starts_at > now,
                    or_(m.Event.network_id.in_(followed), m.Event.id.in_(reminded), m.Event.id.in_(helping)),
                )
            )
        ).all()
        for event, tz in events:
            rows.extend(_rows_for(event, tz, [(person.id, person.tg_id, person.reminder_minutes)], now))
    # Only future reminders are in scope: past ones are history, whatever their state.
    scope = (m.Notice.person_id == person_id) & (m.Notice.due_at > now)
    return await _converge(session, scope, rows)
