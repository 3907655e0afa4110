"""A series in the calendar feed: one VEVENT with RRULE (DTSTART with TZID, DTEND), cancelled occurrences
as EXDATE, changed ones as VEVENTs with RECURRENCE-ID (the same UID), SEQUENCE from the series. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Event, vRecur

from bot.db import models as m
from bot.domain import recurrence as rr
from bot.domain.series_edit import is_override
from bot.render.ics import DEFAULT_LENGTH, add_details


def uid(series_id: int) -> str:
    return f"series-{series_id}@volbot"


def _local(value: datetime, tz: str) -> datetime:
    return value.astimezone(ZoneInfo(tz))


def components(
    series: m.Series, rows: Sequence[m.Event], *, now: datetime, url: str | None = None
) -> list[Event]:
    """The master VEVENT and its overrides."""
    tz = series.timezone
    start = _local(series.dtstart, tz)
    end = _local(
        rr.occurrence_end(series.dtstart, series.duration_minutes, tz) or series.dtstart + DEFAULT_LENGTH, tz
    )
    master = Event()
    master.add("uid", uid(series.id))
    master.add("dtstamp", now)
    master.add("dtstart", start)
    master.add("dtend", end)
    assert series.rrule is not None
    master.add("rrule", vRecur.from_ical(rr.ical_rule(series.rrule, tz)))
    exdates = sorted(
        _local(e.recurrence_at, tz) for e in rows if e.status == "cancelled" and e.recurrence_at is not None
    )
    if exdates and series.status == "active":
        master.add("exdate", exdates)
    add_details(
        master,
        title=series.title,
        place=series.place,
        description=series.description,
        sequence=series.sequence,
        updated_at=series.updated_at,
        cancelled=series.status != "active",
        url=url,
    )
    out = [master]
    for e in rows:
        if e.status != "scheduled" or not is_override(e, series):
            continue
        assert e.recurrence_at is not None
        item = Event()
        item.add("uid", uid(series.id))
        item.add("dtstamp", now)
        item.add("recurrence-id", _local(e.recurrence_at, tz))
        item.add("dtstart", _local(e.starts_at, tz))
        item.add("dtend", _local(e.ends_at or e.starts_at + DEFAULT_LENGTH, tz))
        item.add("summary", e.title)
        if e.place:
            item.add("location", e.place)
        if e.description:
            item.add("description", e.description)
        item.add("sequence", series.sequence)
        item.add("last-modified", e.updated_at.astimezone(UTC))
        item.add("status", "CONFIRMED")
        out.append(item)
    return out


def serialize(series: m.Series, rows: Sequence[m.Event], *, now: datetime, url: str | None = None) -> bytes:
    return b"".join(bytes(c.to_ical()) for c in components(series, rows, now=now, url=url))


def splice(feed: bytes, parts: Sequence[bytes]) -> bytes:
    """Put VEVENTs into a serialized calendar, before its VTIMEZONEs (or its end)."""
    if not parts:
        return feed
    joined = b"".join(parts)
    at = feed.find(b"BEGIN:VTIMEZONE\r\n")
    if at < 0:
        at = feed.rfind(b"END:VCALENDAR")
    return feed[:at] + joined + feed[at:]


def rezone(feed: bytes, tz: str, first: int, last: int) -> bytes:
    """The calendar with its VTIMEZONE replaced by one covering [first, last]: a series runs on past the
    years of the rows the feed was built from."""
    from bot.render.ics import _vtimezone_bytes

    out = feed
    while True:
        begin = out.find(b"BEGIN:VTIMEZONE\r\n")
        if begin < 0:
            break
        end = out.find(b"END:VTIMEZONE\r\n", begin)
        out = out[:begin] + out[end + len(b"END:VTIMEZONE\r\n") :]
    at = out.rfind(b"END:VCALENDAR")
    return out[:at] + _vtimezone_bytes(tz, first, last) + out[at:]
