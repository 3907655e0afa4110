"""Meetings on the network's own rhythm: scheduling, the notices, agenda items, standing items, attendance.

Pure database logic; never imports telegram.

Rhythm (from the networks' own minutes): items are due `agenda_deadline_days` before the meeting, the
final agenda goes out `final_agenda_days` before, a reminder the day before, minutes are due
`minutes_due_days` after. Day counts are taken on the network's wall clock: "7 days before" a 17:00
meeting is 17:00 local time seven days earlier, even across a daylight-saving change.

Who gets the notices: the group (in the group's language) and, privately, everyone who follows the
network (in their own language) — following is how a person asks for private messages; members who
do not follow read them in the group. The private copies are planned when the group's notice is
rendered, so somebody who starts following after the meeting was created still gets the later
notices. Coordinators (named ones, the meeting's creator, and group admins the handler names) get
the late items to decide on and the minutes reminder privately.
A move or a cancellation is told at once: to the group and, privately, to those who answered
Attending or Substitute and to the followers (a move replaces the call with its own notice).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain.errors import NotFound, UserError
from bot.i18n import N_
from bot.schedule.notices import action, cancel_pending, enqueue, enqueue_to_people

# Group-and-follower notices, in the order they go out.
STAGES = ("call", "callrem", "closed", "final", "daybefore")
KIND_STAGE = "mtg_stage"
# Not a message: when a stage is due, plans the followers' private copies (followers as of then).
KIND_FANOUT = "mtg_fanout"
KIND_LATE = "mtg_late"
KIND_ITEM_DECIDED = "mtg_itemdec"
KIND_MINUTES_DUE = "mtg_mindue"
# A meeting moved or cancelled: the group, and privately those who answered Attending or Substitute
# and the followers, each in their language.
KIND_MOVED = "mtg_moved"
KIND_CANCELLED = "mtg_cancelled"
CALL_REMINDER_DAYS = 3
ATTENDANCE = ("attending", "regrets", "substitute")
MAX_TITLE = 200
MAX_DESCRIPTION = 1000
MAX_STANDING = 12


def zone(network: m.Network) -> ZoneInfo:
    try:
        return ZoneInfo(network.timezone)
    except Exception:
        return ZoneInfo("UTC")


def days_before(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The same local wall-clock time `days` earlier (negative: later), as UTC."""
    local = moment.astimezone(tz)
    # Aware arithmetic within one zone is wall-clock arithmetic; the offset is recomputed on conversion.
    return (local - timedelta(days=days)).astimezone(UTC)


def deadline_of(meeting: m.Meeting, network: m.Network) -> datetime:
    return days_before(meeting.starts_at, network.agenda_deadline_days, zone(network))


def stage_times(meeting: m.Meeting, network: m.Network, now: datetime) -> dict[str, datetime]:
    """When each notice of the meeting is due; stages already past at planning time are left out
    (the call itself goes out at once)."""
    tz = zone(network)
    deadline = deadline_of(meeting, network)
    times = {
        "call": now,
        "callrem": days_before(deadline, CALL_REMINDER_DAYS, tz),
        "closed": deadline,
        "final": days_before(meeting.starts_at, network.final_agenda_days, tz),
        "daybefore": days_before(meeting.starts_at, 1, tz),
    }
    out = {"call": now}
    for stage, due in times.items():
        if stage != "call" and now < due < meeting.starts_at:
            out[stage] = due
    return out


def stage_over(meeting: m.Meeting, network: m.Network, stage: str, at: datetime) -> bool:
    """Whether a stage notice sent at `at` would come after the step that follows it (the bot was
    down, or the meeting was created late): a reminder of the call after the deadline, the day-before
    reminder after the meeting. Such a notice is not sent; the next one says what matters."""
    tz = zone(network)
    deadline = deadline_of(meeting, network)
    final = days_before(meeting.starts_at, network.final_agenda_days, tz)
    daybefore = days_before(meeting.starts_at, 1, tz)
    until = {
        "call": meeting.starts_at,
        "callrem": deadline,
        "closed": min(final, daybefore),
        "final": daybefore,
        "daybefore": meeting.starts_at,
    }.get(stage)
    return until is None or at >= until


def stamp(meeting: m.Meeting) -> int:
    """Part of every dedup key: a moved meeting gets fresh notices."""
    return int(meeting.starts_at.timestamp())


def stage_key(meeting: m.Meeting, stage: str, person_id: int | None = None) -> str:
    who = "g" if person_id is None else f"p{person_id}"
    return f"mtg:{meeting.id}:{stamp(meeting)}:{stage}:{who}"


def key_prefix(meeting: m.Meeting) -> str:
    return f"mtg:{meeting.id}:"


async def plan_notices(
    session: AsyncSession,
    meeting: m.Meeting,
    network: m.Network,
    now: datetime,
    coordinator_ids: Iterable[int] = (),
    *,
    call: bool = True,
) -> int:
    """Plan the group's stage notices and the coordinators' minutes reminder. Idempotent.

    `call=False` (a moved meeting): no new call notice — the notice of the move says it instead."""
    added = 0
    times = stage_times(meeting, network, now)
    if "call" in times:
        times["call"] = await call_time(session, meeting, network, now)
        # A later call (a meeting further on in a series): the stages before it are left out.
        times = {k: v for k, v in times.items() if k == "call" or v > times["call"]}
    for stage, due in times.items():
        if stage == "call" and not call:
            continue
        added += await enqueue(
            session,
            kind=KIND_STAGE,
            dedup_key=stage_key(meeting, stage),
            chat_id=network.chat_id,
            due_at=due,
            network_id=network.id,
            ref_id=meeting.id,
            payload={"stage": stage, "ts": stamp(meeting)},
        )
        added += await enqueue(
            session,
            kind=KIND_FANOUT,
            dedup_key=stage_key(meeting, stage, None) + ":fan",
            chat_id=network.chat_id,
            due_at=due,
            network_id=network.id,
            ref_id=meeting.id,
            payload={"stage": stage, "ts": stamp(meeting)},
        )
    due = days_before(meeting.starts_at, -network.minutes_due_days, zone(network))
    added += await enqueue_to_people(
        session,
        await coordinators(session, network, coordinator_ids, meeting),
        kind=KIND_MINUTES_DUE,
        key=lambda person: f"mtg:{meeting.id}:{stamp(meeting)}:mindue:p{person.id}",
        due_at=due,
        network_id=network.id,
        ref_id=meeting.id,
        payload={"ts": stamp(meeting)},
    )
    return added


async def call_time(session: AsyncSession, meeting: m.Meeting, network: m.Network, now: datetime) -> datetime:
    """When the call for agenda items goes out: at once, except for a meeting in a series planned
    while an earlier meeting of the series is still ahead — then the day after that meeting (its
    members are not asked for items to three meetings at once), if that is before the deadline."""
    if meeting.series_id is None:
        return now
    previous = await session.scalar(
        select(func.max(m.Meeting.starts_at)).where(
            m.Meeting.series_id == meeting.series_id,
            m.Meeting.status == "scheduled",
            m.Meeting.starts_at < meeting.starts_at,
        )
    )
    if previous is None:
        return now
    after = days_before(previous, -1, zone(network))
    return after if now < after < deadline_of(meeting, network) else now


@action(KIND_FANOUT)
async def fan_out_action(session: AsyncSession, notice: m.Notice, now: datetime) -> None:
    meeting = await session.get(m.Meeting, notice.ref_id) if notice.ref_id else None
    if meeting is None or meeting.status != "scheduled" or notice.payload.get("ts") != stamp(meeting):
        return
    network = await session.get(m.Network, meeting.network_id)
    if network is None or stage_over(meeting, network, str(notice.payload.get("stage")), now):
        return
    await fan_out(session, notice, meeting)


async def fan_out(session: AsyncSession, notice: m.Notice, meeting: m.Meeting) -> int:
    """Plan the followers' private copies of a stage notice (when it is due)."""
    added = await enqueue_to_people(
        session,
        await followers(session, meeting.network_id),
        kind=KIND_STAGE,
        key=lambda person: stage_key(meeting, notice.payload["stage"], person.id),
        due_at=notice.due_at,
        network_id=meeting.network_id,
        ref_id=meeting.id,
        payload=notice.payload,
    )
    return added


async def followers(session: AsyncSession, network_id: int) -> Sequence[m.Person]:
    rows = await session.scalars(
        select(m.Person)
        .join(m.Membership, m.Membership.person_id == m.Person.id)
        .where(
            m.Membership.network_id == network_id,
            m.Membership.is_follower.is_(True),
            m.Person.reachable.is_(True),
        )
        .order_by(m.Person.id)
    )
    return rows.all()


async def coordinators(
    session: AsyncSession,
    network: m.Network,
    admin_tg_ids: Iterable[int] = (),
    meeting: m.Meeting | None = None,
) -> list[m.Person]:
    """Known coordinators: named ones, group admins the bot has seen, and the meeting's creator."""
    admin_ids = list(admin_tg_ids)
    found: dict[int, m.Person] = {}
    named = await session.scalars(
        select(m.Person)
        .join(m.Membership, m.Membership.person_id == m.Person.id)
        .where(m.Membership.network_id == network.id, m.Membership.is_coordinator.is_(True))
    )
    for p in named:
        found[p.id] = p
    if admin_ids:
        for p in await session.scalars(select(m.Person).where(m.Person.tg_id.in_(admin_ids))):
            found[p.id] = p
    if meeting is not None and meeting.created_by is not None:
        creator = await session.get(m.Person, meeting.created_by)
        if creator is not None:
            found[creator.id] = creator
    return sorted(found.values(), key=lambda p: p.id)


# --- meetings ----------------------------------------------------------------------------------


async def create_meeting(
    session: AsyncSession,
    network: m.Network,
    creator: m.Person | None,
    starts_at: datetime,
    place: str,
    now: datetime,
    coordinator_ids: Iterable[int] = (),
    *,
    series_id: int | None = None,
) -> m.Meeting:
    if starts_at <= now:
        raise UserError(N_("That time has already passed. Example: /newmeeting 2027-04-06 17:00 | Rådhuset"))
    place = place.strip()
    if len(place) > 200:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."), length=len(place), limit=200
        )
    clash = await session.scalar(
        select(m.Meeting).where(
            m.Meeting.network_id == network.id,
            m.Meeting.status == "scheduled",
            m.Meeting.starts_at == starts_at,
        )
    )
    if clash is not None:
        raise UserError(N_("There is already a meeting at that time (number {id})."), id=clash.id)
    meeting = m.Meeting(
        network_id=network.id,
        starts_at=starts_at,
        place=place,
        status="scheduled",
        created_by=creator.id if creator else None,
        minutes_state="none",
        created_at=now,
        series_id=series_id,
    )
    session.add(meeting)
    await session.flush()
    await plan_notices(session, meeting, network, now, coordinator_ids)
    return meeting


async def move_meeting(
    session: AsyncSession,
    meeting: m.Meeting,
    network: m.Network,
    starts_at: datetime,
    now: datetime,
    coordinator_ids: Iterable[int] = (),
) -> int:
    """Move the meeting, replan its notices and tell the people concerned; returns how many are told."""
    if meeting.status != "scheduled" or meeting.starts_at <= now:
        raise UserError(N_("That meeting can no longer be changed."))
    if starts_at <= now:
        raise UserError(N_("That time has already passed. Example: /newmeeting 2027-04-06 17:00 | Rådhuset"))
    if starts_at == meeting.starts_at:
        raise UserError(N_("The meeting is already at that time."))
    clash = await session.scalar(
        select(m.Meeting).where(
            m.Meeting.network_id == network.id,
            m.Meeting.status == "scheduled",
            m.Meeting.starts_at == starts_at,
            m.Meeting.id != meeting.id,
        )
    )
    if clash is not None:
        raise UserError(N_("There is already a meeting at that time (number {id})."), id=clash.id)
    old = meeting.starts_at
    await cancel_pending(session, key_prefix=key_prefix(meeting))
    meeting.starts_at = starts_at
    await session.flush()
    await plan_notices(session, meeting, network, now, coordinator_ids, call=False)
    return await notify_change(
        session, meeting, network, KIND_MOVED, now, {"ts": stamp(meeting), "from": old.isoformat()}
    )


async def cancel_meeting(session: AsyncSession, meeting: m.Meeting, network: m.Network, now: datetime) -> int:
    """Cancel the meeting and its notices, and tell the people concerned; returns how many are told."""
    if meeting.status != "scheduled" or meeting.starts_at <= now:
        raise UserError(N_("That meeting can no longer be changed."))
    meeting.status = "cancelled"
    await cancel_pending(session, key_prefix=key_prefix(meeting))
    return await notify_change(session, meeting, network, KIND_CANCELLED, now, {"ts": stamp(meeting)})


async def attendees(session: AsyncSession, meeting: m.Meeting) -> list[m.Person]:
    """Those who answered Attending or Substitute and can be reached, by id."""
    rows = await session.scalars(
        select(m.Person)
        .join(m.Attendance, m.Attendance.person_id == m.Person.id)
        .where(
            m.Attendance.meeting_id == meeting.id,
            m.Attendance.status.in_(("attending", "substitute")),
            m.Person.reachable.is_(True),
        )
        .order_by(m.Person.id)
    )
    return list(rows)


async def concerned(session: AsyncSession, meeting: m.Meeting) -> list[m.Person]:
    """Who is told privately of a change: the attendees and the network's followers (each once)."""
    found = {p.id: p for p in await attendees(session, meeting)}
    for p in await followers(session, meeting.network_id):
        found.setdefault(p.id, p)
    return sorted(found.values(), key=lambda p: p.id)


async def notify_change(
    session: AsyncSession,
    meeting: m.Meeting,
    network: m.Network,
    kind: str,
    now: datetime,
    payload: dict[str, str | int],
) -> int:
    """Plan the notice of a move or a cancellation: the group and everyone `concerned`, now."""
    # Every change is its own notice (a meeting moved there and back is told both times).
    tag = f"mtgchg:{meeting.id}:{kind}:{stamp(meeting)}@{int(now.timestamp())}"
    added = int(
        await enqueue(
            session,
            kind=kind,
            dedup_key=f"{tag}:g",
            chat_id=network.chat_id,
            due_at=now,
            network_id=network.id,
            ref_id=meeting.id,
            payload=payload,
        )
    )
    added += await enqueue_to_people(
        session,
        await concerned(session, meeting),
        kind=kind,
        key=lambda person: f"{tag}:p{person.id}",
        due_at=now,
        network_id=network.id,
        ref_id=meeting.id,
        payload=payload,
    )
    return added


async def get_meeting(session: AsyncSession, meeting_id: int, network_ids: Iterable[int]) -> m.Meeting:
    """A meeting of one of these networks (another network's meeting is as unknown as a missing one)."""
    meeting = await session.get(m.Meeting, meeting_id)
    if meeting is None or meeting.network_id not in set(network_ids):
        raise NotFound(N_("There is no meeting number {id} here. /meetings lists them."), id=meeting_id)
    return meeting


async def upcoming(
    session: AsyncSession, network_ids: Iterable[int], now: datetime, limit: int = 5
) -> list[m.Meeting]:
    ids = list(network_ids)
    if not ids:
        return []
    rows = await session.scalars(
        select(m.Meeting)
        .where(m.Meeting.network_id.in_(ids), m.Meeting.status == "scheduled", m.Meeting.starts_at > now)
        .order_by(m.Meeting.starts_at, m.Meeting.id)
        .limit(limit)
    )
    return list(rows.all())


async def next_meeting(session: AsyncSession, network: m.Network, now: datetime) -> m.Meeting:
    found = await upcoming(session, [network.id], now, 1)
    if not found:
        raise NotFound(
            N_("{network} has no meeting planned. A coordinator can plan one with /newmeeting."),
            network=network.name,
        )
    return found[0]


async def latest_past(session: AsyncSession, network: m.Network, now: datetime) -> m.Meeting | None:
    return await session.scalar(
        select(m.Meeting)
        .where(
            m.Meeting.network_id == network.id, m.Meeting.status == "scheduled", m.Meeting.starts_at <= now
        )
        .order_by(m.Meeting.starts_at.desc())
        .limit(1)
    )
