"""iCalendar output (icalendar library): stable UIDs, the network's VTIMEZONE, SEQUENCE, and
STATUS:CANCELLED, so subscribed phone calendars update instead of duplicating."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard

from bot.db import models as m

DEFAULT_LENGTH = timedelta(hours=2)


def uid(event_id: int) -> str:
    return f"event-{event_id}@volbot"


def build_calendar(
    events: Iterable[tuple[m.Event, m.Network]],
    *,
    name: str,
    now: datetime,
    url_for: dict[int, str] | None = None,
) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//volbot//events//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    zones: set[str] = set()
    seen_years: set[int] = set()
    for event, network in events:
        seen_years.add(event.starts_at.year)
        zone = ZoneInfo(network.timezone)
        zones.add(network.timezone)
        item = Event()
        item.add("uid", uid(event.id))
        item.add("dtstamp", now)
        item.add("dtstart", event.starts_at.astimezone(zone))
        item.add("dtend", (event.ends_at or event.starts_at + DEFAULT_LENGTH).astimezone(zone))
        item.add("summary", event.title)
        if event.place:
            item.add("location", event.place)
        if event.description:
            item.add("description", event.description)
        item.add("sequence", event.sequence)
        item.add("last-modified", event.updated_at)
        item.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
        if url_for and event.id in url_for:
            item.add("url", url_for[event.id])
        cal.add_component(item)
    years = sorted(seen_years)
    for tz in sorted(zones):
        cal.add_component(
            vtimezone(tz, years[0] - 1 if years else now.year - 1, (years[-1] if years else now.year) + 1)
        )
    return bytes(cal.to_ical())


def _offset(zone: ZoneInfo, at: datetime) -> timedelta:
    return at.astimezone(zone).utcoffset() or timedelta(0)


@cache
def _transitions(
    tz: str, first: int, last: int
) -> tuple[tuple[datetime, timedelta, timedelta, str, bool], ...]:
    """Every change of offset in [first, last], found by scanning days and bisecting to the minute."""
    zone = ZoneInfo(tz)
    out = []
    day = datetime(first, 1, 1, tzinfo=UTC)
    end = datetime(last + 1, 1, 1, tzinfo=UTC)
    prev = _offset(zone, day)
    while day < end:
        nxt = day + timedelta(days=1)
        off = _offset(zone, nxt)
        if off != prev:
            lo, hi = day, nxt
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                if _offset(zone, mid) == prev:
                    lo = mid
                else:
                    hi = mid
            local = hi.astimezone(zone)
            out.append((hi, prev, off, local.tzname() or tz, bool(local.dst())))
            prev = off
        day = nxt
    return tuple(out)


def vtimezone(tz: str, first: int, last: int) -> Timezone:
    """A VTIMEZONE with one observance per transition (no RDATE lists): every parser reads it the same."""
    zone = ZoneInfo(tz)
    comp = Timezone()
    comp.add("tzid", tz)
    start = datetime(first, 1, 1, tzinfo=UTC)
    initial = start.astimezone(zone)
    base = TimezoneDaylight() if initial.dst() else TimezoneStandard()
    base.add("dtstart", (start + _offset(zone, start)).replace(tzinfo=None))
    base.add("tzoffsetfrom", _offset(zone, start))
    base.add("tzoffsetto", _offset(zone, start))
    base.add("tzname", initial.tzname() or tz)
    comp.add_component(base)
    for at, before, after, name, dst in _transitions(tz, first, last):
        sub = TimezoneDaylight() if dst else TimezoneStandard()
        # DTSTART of an observance is the local time *before* the change.
        sub.add("dtstart", (at + before).replace(tzinfo=None))
        sub.add("tzoffsetfrom", before)
        sub.add("tzoffsetto", after)
        sub.add("tzname", name)
        comp.add_component(sub)
    return comp
