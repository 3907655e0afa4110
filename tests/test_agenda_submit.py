"""Sending an agenda item (bot.domain.meetings.submit_item) on its own: what is refused and why, what
is stored (trimmed title and description, the next position, the submitter, the time), and the
deadline as a moment: on time up to and at it, late right after it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import models as m
from bot.db.engine import create_engine, create_sessionmaker
from bot.domain.agenda import submit_item
from bot.domain.errors import UserError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STARTS = datetime(2026, 12, 10, 16, 0, tzinfo=UTC)  # Thursday 10 December 17:00 in Copenhagen
DEADLINE = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 10 days before, 17:00 local


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[tuple[Any, m.Network, m.Meeting, m.Person]]:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as s:
            net = m.Network(chat_id=-1001, name="Netværk", slug="netvaerk", timezone="Europe/Copenhagen")
            person = m.Person(tg_id=77, first_name="Yonas", reminder_minutes="1440")
            s.add_all([net, person])
            await s.flush()
            meeting = m.Meeting(network_id=net.id, starts_at=STARTS, place="Rådhuset", status="scheduled")
            s.add(meeting)
            await s.flush()
            yield s, net, meeting, person
    finally:
        await engine.dispose()


async def test_items_are_stored_trimmed_in_order(world: Any) -> None:
    s, net, meeting, person = world
    first = await submit_item(s, meeting, net, person, "  Madklub  ", "  hver torsdag ", NOW)
    second = await submit_item(s, meeting, net, person, "Temaaften", "", NOW + timedelta(hours=1))
    third = await submit_item(s, meeting, net, person, "Sommerfest", None, NOW)  # type: ignore[arg-type]
    rows = (await s.scalars(select(m.AgendaItem).order_by(m.AgendaItem.id))).all()
    assert [(r.title, r.description, r.position, r.late, r.status) for r in rows] == [
        ("Madklub", "hver torsdag", 0, False, "accepted"),
        ("Temaaften", "", 1, False, "accepted"),
        ("Sommerfest", "", 2, False, "accepted"),
    ]
    assert [r.id for r in rows] == [first.id, second.id, third.id]
    assert all(r.meeting_id == meeting.id and r.submitter_id == person.id for r in rows)
    assert [r.created_at for r in rows] == [NOW, NOW + timedelta(hours=1), NOW]


async def test_on_time_until_the_deadline_and_late_right_after(world: Any) -> None:
    s, net, meeting, person = world
    on_time = await submit_item(s, meeting, net, person, "Til tiden", "", DEADLINE)
    late = await submit_item(s, meeting, net, person, "For sent", "", DEADLINE + timedelta(seconds=1))
    assert (on_time.late, on_time.status, on_time.position) == (False, "accepted", 0)
    assert (late.late, late.status, late.position) == (True, "pending", 1)


@pytest.mark.parametrize(
    ("title", "description", "message", "params"),
    [
        ("", "", "Write the item's title. Example: /additem Sommerfest i juni | Hvem hjælper?", {}),
        ("   ", "noget", "Write the item's title. Example: /additem Sommerfest i juni | Hvem hjælper?", {}),
        (
            "x" * 201,
            "",
            "That is too long ({length} characters; at most {limit}).",
            {"length": 201, "limit": 200},
        ),
        (
            "Ok",
            "y" * 1001,
            "That is too long ({length} characters; at most {limit}).",
            {"length": 1001, "limit": 1000},
        ),
    ],
)
async def test_bad_items_are_refused_with_the_reason(
    world: Any, title: str, description: str, message: str, params: dict[str, int]
) -> None:
    s, net, meeting, person = world
    with pytest.raises(UserError) as err:
        await submit_item(s, meeting, net, person, title, description, NOW)
    assert (err.value.message, err.value.params) == (message, params)
    assert (await s.scalars(select(m.AgendaItem))).all() == []


async def test_longest_allowed_title_and_description_are_accepted(world: Any) -> None:
    s, net, meeting, person = world
    item = await submit_item(s, meeting, net, person, "x" * 200, "y" * 1000, NOW)
    assert (len(item.title), len(item.description)) == (200, 1000)


async def test_a_past_or_cancelled_meeting_takes_no_items(world: Any) -> None:
    s, net, meeting, person = world
    for now in (STARTS, STARTS + timedelta(days=1)):
        with pytest.raises(UserError) as err:
            await submit_item(s, meeting, net, person, "For sent", "", now)
        assert err.value.message == "That meeting can no longer be changed."
    item = await submit_item(s, meeting, net, person, "Lige før", "", STARTS - timedelta(seconds=1))
    assert item.late is True
    meeting.status = "cancelled"
    with pytest.raises(UserError) as err:
        await submit_item(s, meeting, net, person, "Aflyst", "", NOW)
    assert err.value.message == "That meeting can no longer be changed."
