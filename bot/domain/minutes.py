"""Minutes: circulated after the meeting, approved when the objection window passes in silence.

Pure database logic; never imports telegram. The state lives on the meeting (`minutes_state`:
none -> circulated -> approved | disputed). Time-driven steps are notices:
- `mtg_minutes`: the minutes, privately to everyone who said they attend (or substitute), with Object;
- `mtg_mclose` (an action, not a message): when the window ends it decides once (approved or
  disputed; approved minutes go into the decisions log) and plans `mtg_mresult`, the announcement
  to the group;
- `mtg_disputed`: coordinators are told privately that the minutes are disputed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import agenda as ag
from bot.domain import meetings as mt
from bot.domain.decisions import record_decision
from bot.domain.errors import UserError
from bot.i18n import N_
from bot.schedule.notices import action, enqueue, enqueue_to_people

KIND_MINUTES = "mtg_minutes"
# Not a message: decides once when the objection window ends, then plans the announcement.
KIND_CLOSE = "mtg_mclose"
KIND_RESULT = "mtg_mresult"
KIND_DISPUTED = "mtg_disputed"
MAX_REASON = 1000


def window_end(meeting: m.Meeting, network: m.Network) -> datetime:
    assert meeting.minutes_posted_at is not None
    return mt.days_before(meeting.minutes_posted_at, -network.objection_days, mt.zone(network))


async def circulate(
    session: AsyncSession,
    meeting: m.Meeting,
    network: m.Network,
    *,
    text: str | None,
    file_id: str | None,
    now: datetime,
) -> int:
    """Record the minutes and plan their private copies and the end of the objection window."""
    if meeting.starts_at > now:
        raise UserError(N_("That meeting has not taken place yet."))
    if meeting.status != "scheduled":
        raise UserError(N_("That meeting can no longer be changed."))
    if meeting.minutes_state != "none":
        raise UserError(N_("The minutes of that meeting were already circulated."))
    if not (text or "").strip() and not file_id:
        raise UserError(
            N_("Reply with /minutes {id} to the message or file that holds the minutes."), id=meeting.id
        )
    meeting.minutes_state = "circulated"
    meeting.minutes_text = (text or "").strip() or None
    meeting.minutes_file_id = file_id
    meeting.minutes_posted_at = now
    added = await enqueue_to_people(
        session,
        await mt.attendees(session, meeting),
        kind=KIND_MINUTES,
        key=lambda person: f"mtgmin:{meeting.id}:p{person.id}",
        due_at=now,
        network_id=network.id,
        ref_id=meeting.id,
    )
    await enqueue(
        session,
        kind=KIND_CLOSE,
        dedup_key=f"mtgmin:{meeting.id}:close",
        chat_id=network.chat_id,
        due_at=window_end(meeting, network),
        network_id=network.id,
        ref_id=meeting.id,
    )
    return added


async def object_to(
    session: AsyncSession,
    meeting: m.Meeting,
    network: m.Network,
    person: m.Person,
    reason: str,
    now: datetime,
) -> m.Objection:
    reason = reason.strip()
    if not reason:
        raise UserError(N_("Please write the reason for your objection, or /cancel."))
    if len(reason) > MAX_REASON:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."),
            length=len(reason),
            limit=MAX_REASON,
        )
    check_open(meeting, network, now)
    if not await ag.may_take_part(session, network.id, person):
        raise UserError(N_("Only the network's members and followers can answer this."))
    objection = m.Objection(meeting_id=meeting.id, person_id=person.id, reason=reason, created_at=now)
    session.add(objection)
    await session.flush()
    return objection


def check_open(meeting: m.Meeting, network: m.Network, now: datetime) -> None:
    if meeting.minutes_state != "circulated" or now >= window_end(meeting, network):
        raise UserError(N_("The time for objections to these minutes has ended."))


async def objection_count(session: AsyncSession, meeting_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(m.Objection).where(m.Objection.meeting_id == meeting_id)
        )
        or 0
    )


async def close_window(
    session: AsyncSession,
    meeting: m.Meeting,
    network: m.Network,
    now: datetime,
    admin_tg_ids: Iterable[int] = (),
) -> str | None:
    """Decide once: 'approved' (recorded in the decisions log) or 'disputed' (coordinators told).

    Returns the new state, or None when there was nothing to decide (already decided)."""
    if meeting.minutes_state != "circulated":
        return None
    if await objection_count(session, meeting.id):
        meeting.minutes_state = "disputed"
        await enqueue_to_people(
            session,
            await mt.coordinators(session, network, admin_tg_ids, meeting),
            kind=KIND_DISPUTED,
            key=lambda person: f"mtgmin:{meeting.id}:disputed:p{person.id}",
            due_at=now,
            network_id=network.id,
            ref_id=meeting.id,
        )
        return "disputed"
    meeting.minutes_state = "approved"
    local = meeting.starts_at.astimezone(mt.zone(network))
    summary = (meeting.minutes_text or "").strip()
    await record_decision(
        session,
        network_id=network.id,
        kind="minutes",
        # The log is searched by words: the meeting's date and the minutes' own text.
        text=f"{local:%Y-%m-%d} {meeting.place}\n{summary}".strip()[:4000],
        outcome="approved",
        decided_at=now,
        meeting_id=meeting.id,
        details={"file_id": meeting.minutes_file_id} if meeting.minutes_file_id else {},
    )
    return "approved"


@action(KIND_CLOSE)
async def close_action(session: AsyncSession, notice: m.Notice, now: datetime) -> None:
    meeting = await session.get(m.Meeting, notice.ref_id) if notice.ref_id else None
    network = await session.get(m.Network, meeting.network_id) if meeting else None
    if meeting is None or network is None:
        return
    state = await close_window(session, meeting, network, notice.due_at)
    if state is None:
        return
    await enqueue(
        session,
        kind=KIND_RESULT,
        dedup_key=f"mtgmin:{meeting.id}:result",
        chat_id=network.chat_id,
        due_at=notice.due_at,
        network_id=network.id,
        ref_id=meeting.id,
    )
