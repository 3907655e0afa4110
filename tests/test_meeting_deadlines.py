"""The deadline arithmetic of meetings, as pure functions with hand-computed expectations: local
wall-clock days (across the switch to summer time on 28 March 2027), each stage's due time, when a
stage is overtaken, and the dedup keys of stage notices. No clock is read: `now` is given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.db import models as m
from bot.domain.meetings import (
    days_before,
    deadline_of,
    key_prefix,
    stage_key,
    stage_over,
    stage_times,
    stamp,
    zone,
)

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the suite's frozen 'now'
# 6 April 2027 17:00 in Copenhagen (summer time, UTC+2)
STARTS = datetime(2027, 4, 6, 15, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def network(tz: str = "Europe/Copenhagen", deadline: int = 10, final: int = 7) -> m.Network:
    return m.Network(id=1, chat_id=-100, timezone=tz, agenda_deadline_days=deadline, final_agenda_days=final)


def meeting(starts: datetime = STARTS, mid: int = 3) -> m.Meeting:
    return m.Meeting(id=mid, network_id=1, starts_at=starts)


# Expected, by hand: 17:00 local each time; before 28 March that is 16:00 UTC, after it 15:00 UTC.
DEADLINE = datetime(2027, 3, 27, 16, 0, tzinfo=UTC)  # 10 days before, Sat 27 March 17:00 (winter time)
CALLREM = datetime(2027, 3, 24, 16, 0, tzinfo=UTC)  # 3 days before the deadline
FINAL = datetime(2027, 3, 30, 15, 0, tzinfo=UTC)  # 7 days before the meeting (summer time)
DAYBEFORE = datetime(2027, 4, 5, 15, 0, tzinfo=UTC)


def test_days_before_keeps_the_local_wall_clock_across_dst() -> None:
    assert days_before(STARTS, 10, CPH) == DEADLINE
    assert days_before(STARTS, 0, CPH) == STARTS
    assert days_before(STARTS, -7, CPH) == datetime(2027, 4, 13, 15, 0, tzinfo=UTC)
    assert days_before(DEADLINE, -10, CPH) == STARTS
    assert days_before(STARTS, 10, ZoneInfo("UTC")) == datetime(2027, 3, 27, 15, 0, tzinfo=UTC)
    assert days_before(STARTS, 10, CPH).tzinfo == UTC


def test_deadline_of_uses_the_network_days_and_zone() -> None:
    assert deadline_of(meeting(), network()) == DEADLINE
    assert deadline_of(meeting(), network(deadline=3)) == datetime(2027, 4, 3, 15, 0, tzinfo=UTC)
    # a zone the database holds but no longer exists: UTC, not a crash
    assert zone(network(tz="Nowhere/Atlantis")) == ZoneInfo("UTC")
    assert zone(network()) == CPH
    assert deadline_of(meeting(), network(tz="Nowhere/Atlantis")) == STARTS - timedelta(days=10)


def test_stage_times_planned_early_has_every_stage() -> None:
    assert stage_times(meeting(), network(), NOW) == {
        "call": NOW,
        "callrem": CALLREM,
        "closed": DEADLINE,
        "final": FINAL,
        "daybefore": DAYBEFORE,
    }


@pytest.mark.parametrize(
    ("now", "stages"),
    [
        (CALLREM - MIN, ["call", "callrem", "closed", "final", "daybefore"]),
        (CALLREM, ["call", "closed", "final", "daybefore"]),  # a stage due exactly now is past
        (DEADLINE - MIN, ["call", "closed", "final", "daybefore"]),
        (DEADLINE, ["call", "final", "daybefore"]),
        (FINAL, ["call", "daybefore"]),
        (DAYBEFORE - MIN, ["call", "daybefore"]),
        (DAYBEFORE, ["call"]),
        (STARTS + MIN, ["call"]),
    ],
)
def test_stage_times_planned_late_leaves_out_what_is_past(now: datetime, stages: list[str]) -> None:
    got = stage_times(meeting(), network(), now)
    assert list(got) == stages
    assert got["call"] == now
    expected = {"callrem": CALLREM, "closed": DEADLINE, "final": FINAL, "daybefore": DAYBEFORE}
    assert all(got[s] == expected[s] for s in stages if s != "call")


def test_stage_times_never_after_the_meeting() -> None:
    # a deadline of 0 days falls on the meeting itself: no 'closed' notice at the meeting's start
    got = stage_times(meeting(), network(deadline=0, final=0), NOW)
    assert got == {"call": NOW, "callrem": datetime(2027, 4, 3, 15, 0, tzinfo=UTC), "daybefore": DAYBEFORE}


@pytest.mark.parametrize(
    ("stage", "until"),
    [
        ("call", STARTS),
        ("callrem", DEADLINE),
        ("closed", FINAL),  # the final agenda comes before the day before
        ("final", DAYBEFORE),
        ("daybefore", STARTS),
    ],
)
def test_stage_over_exactly_at_the_next_step(stage: str, until: datetime) -> None:
    assert stage_over(meeting(), network(), stage, until - MIN) is False
    assert stage_over(meeting(), network(), stage, until) is True
    assert stage_over(meeting(), network(), stage, until + MIN) is True


def test_stage_over_closed_until_the_day_before_when_the_final_agenda_is_later() -> None:
    net = network(final=0)  # final agenda at the meeting itself: the day before comes first
    assert stage_over(meeting(), net, "closed", DAYBEFORE - MIN) is False
    assert stage_over(meeting(), net, "closed", DAYBEFORE) is True


def test_unknown_stage_is_always_over() -> None:
    assert stage_over(meeting(), network(), "nonsense", NOW) is True


def test_stage_keys_change_when_the_meeting_moves() -> None:
    assert stamp(meeting()) == 1807023600
    assert stage_key(meeting(), "final") == "mtg:3:1807023600:final:g"
    assert stage_key(meeting(), "daybefore", 5) == "mtg:3:1807023600:daybefore:p5"
    moved = meeting(STARTS + timedelta(days=7))
    assert stage_key(moved, "final") == "mtg:3:1807628400:final:g"
    assert stage_key(meeting(mid=4), "final") == "mtg:4:1807023600:final:g"
    assert key_prefix(meeting()) == "mtg:3:"
    assert stage_key(meeting(), "final").startswith(key_prefix(meeting()))


# Across the switch to summer time (28 March 2027, 02:00): local 17:00 is 16:00 UTC before, 15:00 after.
@pytest.mark.parametrize(
    ("starts", "deadline_days", "final_days", "expected"),
    [
        (
            datetime(2027, 3, 28, 15, 0, tzinfo=UTC),  # Sunday 28 March 17:00, summer time
            1,
            2,
            {
                "call": NOW,
                "callrem": datetime(2027, 3, 24, 16, 0, tzinfo=UTC),
                "closed": datetime(2027, 3, 27, 16, 0, tzinfo=UTC),
                "final": datetime(2027, 3, 26, 16, 0, tzinfo=UTC),
                "daybefore": datetime(2027, 3, 27, 16, 0, tzinfo=UTC),
            },
        ),
        (
            datetime(2027, 3, 30, 15, 0, tzinfo=UTC),  # Tuesday 30 March 17:00
            1,
            7,
            {
                "call": NOW,
                "callrem": datetime(2027, 3, 26, 16, 0, tzinfo=UTC),  # 3 days before the deadline, winter
                "closed": datetime(2027, 3, 29, 15, 0, tzinfo=UTC),
                "final": datetime(2027, 3, 23, 16, 0, tzinfo=UTC),
                "daybefore": datetime(2027, 3, 29, 15, 0, tzinfo=UTC),
            },
        ),
    ],
)
def test_every_stage_keeps_local_time_across_dst(
    starts: datetime, deadline_days: int, final_days: int, expected: dict[str, datetime]
) -> None:
    net = network(deadline=deadline_days, final=final_days)
    assert stage_times(meeting(starts), net, NOW) == expected
    assert all(v.tzinfo is UTC for v in stage_times(meeting(starts), net, NOW).values())


def test_stage_over_keeps_local_time_across_dst() -> None:
    net = network(deadline=1, final=2)
    starts = datetime(2027, 3, 28, 15, 0, tzinfo=UTC)
    final, daybefore = datetime(2027, 3, 26, 16, 0, tzinfo=UTC), datetime(2027, 3, 27, 16, 0, tzinfo=UTC)
    assert stage_over(meeting(starts), net, "closed", final - MIN) is False
    assert stage_over(meeting(starts), net, "closed", final) is True
    assert stage_over(meeting(starts), net, "final", daybefore - MIN) is False
    assert stage_over(meeting(starts), net, "final", daybefore) is True


def test_days_before_answers_in_utc() -> None:
    assert days_before(STARTS, 10, CPH).tzinfo is UTC
