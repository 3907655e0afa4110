"""Places and the waiting list: who holds one of an event's places, who waits, in which order.

Every change of who holds a place (a `Going` or `Not going` press on a limited event, `/places`,
`/addguest`) runs under one lock per event: the event's row (`SELECT … FOR UPDATE` on PostgreSQL;
SQLite takes the database's write lock at BEGIN). Under it the places taken are counted and the
decision written in the same transaction, so however many presses arrive at once, on however many
instances, never more than the limit hold a place.

The waiting list is served in press order: each entry carries `press_key`, the Telegram update id of
the press (Telegram numbers updates in the order it receives them), so the first to press is the
first promoted even when two instances handle neighbouring presses in the other order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain.errors import UserError
from bot.domain.events import require_open, rsvp_of
from bot.domain.people import insert_for
from bot.i18n import N_

MAX_PLACES = 100_000
MAX_GUEST_NAME = 100


@dataclass
class Promoted:
    """Someone who got a place from the waiting list: a person, or a guest (and who added them)."""

    person_id: int | None
    guest_name: str | None = None
    added_by: int | None = None


@dataclass
class PressResult:
    state: str  # going | waiting | not_going | unchanged_going | unchanged_waiting | unchanged
    position: int | None = None  # on the waiting list, 1-based
    promoted: list[Promoted] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return not self.state.startswith("unchanged")


@dataclass
class Status:
    places: int | None
    going: int  # people and guests holding a place
    waiting: int


async def lock_event(session: AsyncSession, event_id: int) -> None:
    """Serialize changes of the event's places (held until the transaction ends)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(m.Event.id).where(m.Event.id == event_id).with_for_update())
    # SQLite: every transaction began with BEGIN IMMEDIATE (bot/db/engine.py), so it already holds
    # the only write lock.


async def limit_of(session: AsyncSession, event_id: int) -> int | None:
    return await session.scalar(select(m.EventPlaces.places).where(m.EventPlaces.event_id == event_id))


async def taken(session: AsyncSession, event_id: int) -> int:
    """People going and guests: the places held (one statement)."""
    people = (
        select(func.count())
        .select_from(m.Rsvp)
        .where(m.Rsvp.event_id == event_id, m.Rsvp.status == "going")
        .scalar_subquery()
    )
    guests = (
        select(func.count())
        .select_from(m.EventGuest)
        .where(m.EventGuest.event_id == event_id)
        .scalar_subquery()
    )
    return int(await session.scalar(select(people + guests)) or 0)


async def waiting_count(session: AsyncSession, event_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(m.WaitingEntry).where(m.WaitingEntry.event_id == event_id)
        )
        or 0
    )


async def status(session: AsyncSession, event_id: int) -> Status:
    return Status(
        await limit_of(session, event_id),
        await taken(session, event_id),
        await waiting_count(session, event_id),
    )


def _queue_order() -> tuple[Any, ...]:
    return (m.WaitingEntry.press_key, m.WaitingEntry.id)


async def waiting_list(session: AsyncSession, event_id: int) -> Sequence[m.WaitingEntry]:
    rows = await session.scalars(
        select(m.WaitingEntry).where(m.WaitingEntry.event_id == event_id).order_by(*_queue_order())
    )
    return rows.all()


async def _entry_of(session: AsyncSession, event_id: int, person_id: int) -> m.WaitingEntry | None:
    return await session.scalar(
        select(m.WaitingEntry).where(
            m.WaitingEntry.event_id == event_id, m.WaitingEntry.person_id == person_id
        )
    )


async def is_waiting(session: AsyncSession, event_id: int, person_id: int) -> bool:
    return await _entry_of(session, event_id, person_id) is not None


async def position(session: AsyncSession, entry: m.WaitingEntry) -> int:
    ahead = await session.scalar(
        select(func.count())
        .select_from(m.WaitingEntry)
        .where(
            m.WaitingEntry.event_id == entry.event_id,
            (m.WaitingEntry.press_key < entry.press_key)
            | ((m.WaitingEntry.press_key == entry.press_key) & (m.WaitingEntry.id < entry.id)),
        )
    )
    return int(ahead or 0) + 1


async def _set_going(
    session: AsyncSession, event_id: int, person_id: int, now: datetime, remind: bool
) -> None:
    await session.execute(
        insert_for(session, m.Rsvp.__table__)
        .values(event_id=event_id, person_id=person_id, status=None, remind=False, updated_at=now)
        .on_conflict_do_nothing(index_elements=["event_id", "person_id"])
    )
    row = await rsvp_of(session, event_id, person_id)
    assert row is not None
    row.status = "going"
    row.updated_at = now
    if remind:
        row.remind = True  # promoted: from now on they get the event's reminders


async def _promote(session: AsyncSession, event_id: int, now: datetime) -> list[Promoted]:
    """Fill free places from the head of the waiting list (the caller holds the event's lock)."""
    limit = await limit_of(session, event_id)
    out: list[Promoted] = []
    free = None if limit is None else limit - await taken(session, event_id)
    while free is None or free > 0:
        head = await session.scalar(
            select(m.WaitingEntry)
            .where(m.WaitingEntry.event_id == event_id)
            .order_by(*_queue_order())
            .limit(1)
        )
        if head is None:
            break
        if head.person_id is not None:
            await _set_going(session, event_id, head.person_id, now, remind=True)
        else:
            session.add(
                m.EventGuest(
                    event_id=event_id, name=head.guest_name or "", added_by=head.added_by, created_at=now
                )
            )
        out.append(Promoted(head.person_id, head.guest_name, head.added_by))
        await session.delete(head)
        await session.flush()
        if free is not None:
            free -= 1
    return out


@dataclass
class Snapshot:
    """One person's standing at an event and the event's counts, read in one statement."""

    limit: int | None
    taken: int
    waiting: int
    status: str | None  # the person's RSVP
    entry_id: int | None  # the person's place on the waiting list
    ahead: int  # entries pressed before `press_key`


async def snapshot(session: AsyncSession, event_id: int, person_id: int, press_key: int = 0) -> Snapshot:
    def count(model: Any, *where: Any) -> Any:
        return select(func.count()).select_from(model).where(*where).scalar_subquery()

    row = (
        await session.execute(
            select(
                select(m.EventPlaces.places).where(m.EventPlaces.event_id == event_id).scalar_subquery(),
                count(m.Rsvp, m.Rsvp.event_id == event_id, m.Rsvp.status == "going"),
                count(m.EventGuest, m.EventGuest.event_id == event_id),
                count(m.WaitingEntry, m.WaitingEntry.event_id == event_id),
                select(m.Rsvp.status)
                .where(m.Rsvp.event_id == event_id, m.Rsvp.person_id == person_id)
                .scalar_subquery(),
                select(m.WaitingEntry.id)
                .where(m.WaitingEntry.event_id == event_id, m.WaitingEntry.person_id == person_id)
                .scalar_subquery(),
                count(
                    m.WaitingEntry, m.WaitingEntry.event_id == event_id, m.WaitingEntry.press_key <= press_key
                ),
            )
        )
    ).one()
    places, people, guests, waiting, status, entry_id, ahead = row
    return Snapshot(places, int(people) + int(guests), int(waiting), status, entry_id, int(ahead))


async def press_going(
    session: AsyncSession,
    event: m.Event,
    person: m.Person,
    press_key: int,
    now: datetime,
    *,
    snap: Snapshot | None = None,
) -> PressResult:
    """`Going`: a place if one is free (or there is no limit), else the end of the waiting list.
    `snap`: read under the event's lock by the caller (else read here). Three statements under the
    lock in all: the lock, the snapshot, the write."""
    require_open(event, now)
    if snap is None:
        await lock_event(session, event.id)
        snap = await snapshot(session, event.id, person.id, press_key)
    if snap.status == "going":
        return PressResult("unchanged_going")
    if snap.entry_id is not None:
        entry = await session.get(m.WaitingEntry, snap.entry_id)
        assert entry is not None
        return PressResult("unchanged_waiting", await position(session, entry))
    if snap.limit is None or snap.taken < snap.limit:
        await session.execute(
            insert_for(session, m.Rsvp.__table__)
            .values(event_id=event.id, person_id=person.id, status="going", remind=False, updated_at=now)
            .on_conflict_do_update(
                index_elements=["event_id", "person_id"], set_={"status": "going", "updated_at": now}
            )
        )
        return PressResult("going")
    await session.execute(
        insert_for(session, m.WaitingEntry.__table__).values(
            event_id=event.id, person_id=person.id, press_key=press_key, created_at=now
        )
    )
    # entries pressed later but handled earlier stay behind this one (the list is in press order)
    return PressResult("waiting", snap.ahead + 1)


async def press_not_going(
    session: AsyncSession, event: m.Event, person: m.Person, now: datetime
) -> PressResult:
    """`Not going`: leaves the place (the first waiting gets it) or the waiting list."""
    require_open(event, now)
    await lock_event(session, event.id)
    row = await rsvp_of(session, event.id, person.id)
    entry = await _entry_of(session, event.id, person.id)
    was_going = row is not None and row.status == "going"
    if entry is not None:
        await session.delete(entry)
    if row is None:
        await session.execute(
            insert_for(session, m.Rsvp.__table__)
            .values(event_id=event.id, person_id=person.id, status=None, remind=False, updated_at=now)
            .on_conflict_do_nothing(index_elements=["event_id", "person_id"])
        )
        row = await rsvp_of(session, event.id, person.id)
        assert row is not None
    if row.status == "not_going" and entry is None:
        return PressResult("unchanged")
    row.status = "not_going"
    row.updated_at = now
    await session.flush()
    promoted = await _promote(session, event.id, now) if was_going else []
    return PressResult("not_going", promoted=promoted)


def parse_places(text: str) -> int:
    raw = text.strip()
    if not raw.isdecimal() or len(raw) > 6 or int(raw) > MAX_PLACES:
        raise UserError(
            N_("Give the number of places, or 0 for no limit. Example: {example}"), example="/places 12 40"
        )
    return int(raw)


@dataclass
class LimitResult:
    places: int | None
    going: int
    waiting: int
    promoted: list[Promoted]

    @property
    def over(self) -> int:
        return 0 if self.places is None else max(0, self.going - self.places)


async def set_limit(session: AsyncSession, event: m.Event, places: int, now: datetime) -> LimitResult:
    """`/places`: 0 lifts the limit. Lowering it below those going keeps them (nobody loses a place
    they were given); raising it or lifting it gives the new places to the waiting list, in order."""
    require_open(event, now)
    await lock_event(session, event.id)
    if places == 0:
        await session.execute(delete(m.EventPlaces).where(m.EventPlaces.event_id == event.id))
    else:
        await session.execute(
            insert_for(session, m.EventPlaces.__table__)
            .values(event_id=event.id, places=places, updated_at=now)
            .on_conflict_do_update(index_elements=["event_id"], set_={"places": places, "updated_at": now})
        )
    await session.flush()
    promoted = await _promote(session, event.id, now)
    st = await status(session, event.id)
    return LimitResult(st.places, st.going, st.waiting, promoted)


def check_guest_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise UserError(
            N_("Give the event's number and the guest's name, for example: {example}"),
            example="/addguest 12 Amira",
        )
    if len(name) > MAX_GUEST_NAME:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."),
            length=len(name),
            limit=MAX_GUEST_NAME,
        )
    return name


async def add_guest(
    session: AsyncSession, event: m.Event, name: str, added_by: m.Person | None, press_key: int, now: datetime
) -> PressResult:
    """A guest (no Telegram) takes a place, or joins the waiting list when the event is full."""
    require_open(event, now)
    name = check_guest_name(name)
    await lock_event(session, event.id)
    limit = await limit_of(session, event.id)
    by = added_by.id if added_by else None
    if limit is None or await taken(session, event.id) < limit:
        session.add(m.EventGuest(event_id=event.id, name=name, added_by=by, created_at=now))
        await session.flush()
        return PressResult("going")
    entry = m.WaitingEntry(
        event_id=event.id, guest_name=name, added_by=by, press_key=press_key, created_at=now
    )
    session.add(entry)
    await session.flush()
    return PressResult("waiting", await position(session, entry))


async def guests(session: AsyncSession, event_id: int) -> Sequence[m.EventGuest]:
    rows = await session.scalars(
        select(m.EventGuest).where(m.EventGuest.event_id == event_id).order_by(m.EventGuest.id)
    )
    return rows.all()


async def waiting_people(session: AsyncSession, event_id: int) -> Sequence[m.Person]:
    rows = await session.scalars(
        select(m.Person)
        .join(m.WaitingEntry, m.WaitingEntry.person_id == m.Person.id)
        .where(m.WaitingEntry.event_id == event_id)
        .order_by(*_queue_order())
    )
    return rows.all()


async def limited_events_going(session: AsyncSession, person_id: int) -> list[int]:
    """Events with a limit where the person holds a place (to refill when they leave entirely)."""
    rows = await session.scalars(
        select(m.Rsvp.event_id)
        .join(m.EventPlaces, m.EventPlaces.event_id == m.Rsvp.event_id)
        .where(m.Rsvp.person_id == person_id, m.Rsvp.status == "going")
    )
    return list(rows.all())


async def refill(session: AsyncSession, event_id: int, now: datetime) -> list[Promoted]:
    """Give free places to the waiting list (after someone holding one was forgotten)."""
    await lock_event(session, event_id)
    return await _promote(session, event_id, now)
