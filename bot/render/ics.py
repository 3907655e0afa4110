"""iCalendar output (icalendar library): stable UIDs, the network's VTIMEZONE, SEQUENCE, and
STATUS:CANCELLED, so subscribed phone calendars update instead of duplicating.

Serializing with icalendar costs about a quarter of a millisecond per event, so a feed of 1,000 events
is built from parts serialized once: each event's VEVENT (icalendar, cached in a bounded LRU keyed by
everything the VEVENT is made of, so an edit or a cancellation can never be served stale) and each
zone's VTIMEZONE, put inside the calendar envelope icalendar made. DTSTAMP (the time the feed is
made) is the one per-request line: it goes where icalendar put a placeholder, so the bytes are the same
as icalendar's own serialization of the whole calendar."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard

from bot.db import models as m

DEFAULT_LENGTH = timedelta(hours=2)
# ~300 bytes each: at most a few MB, enough for every feed of a large installation to stay warm.
VEVENT_CACHE_SIZE = 20_000

_END_CALENDAR = b"END:VCALENDAR\r\n"
_BEGIN_EVENT = b"BEGIN:VEVENT\r\n"
# Serialized in place of the real DTSTAMP, then cut out: the request's DTSTAMP line goes there.
_STAMP_PLACEHOLDER = datetime(1970, 1, 1, tzinfo=UTC)
_STAMP_LINE = b"\r\nDTSTAMP:19700101T000000Z\r\n"

VeventKey = tuple[object, ...]


class _LRU:
    """A bounded least-recently-used map of serialized VEVENTs (thread-safe: feeds may be built in threads)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[VeventKey, tuple[bytes, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: VeventKey) -> tuple[bytes, bytes] | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: VeventKey, value: tuple[bytes, bytes]) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


VEVENTS = _LRU(VEVENT_CACHE_SIZE)


def clear_caches() -> None:
    """Forget every serialized part (benchmarks measure the cold build with it)."""
    VEVENTS.clear()
    _vtimezone_bytes.cache_clear()
    _transitions.cache_clear()
    _tzid.cache_clear()


def uid(event_id: int) -> str:
    return f"event-{event_id}@volbot"


def _vevent_key(event: m.Event, tz: str, url: str | None) -> VeventKey:
    # Everything the VEVENT is made of (not only id/sequence/updated_at): a change that forgot to bump
    # the sequence still shows, and an entry for a changed event is simply never asked for again.
    return (
        event.id,
        event.sequence,
        event.updated_at,
        event.status,
        event.starts_at,
        event.ends_at,
        event.title,
        event.place,
        event.description,
        tz,
        url,
    )


def _serialize_vevent(event: m.Event, tz: str, url: str | None) -> tuple[bytes, bytes]:
    """The VEVENT split around its DTSTAMP line (which the caller fills in)."""
    zone = ZoneInfo(tz)
    item = Event()
    item.add("uid", uid(event.id))
    item.add("dtstamp", _STAMP_PLACEHOLDER)
    start = event.starts_at.astimezone(zone)
    end = (event.ends_at or event.starts_at + DEFAULT_LENGTH).astimezone(zone)
    tzid = _tzid(tz)
    if tzid is None:  # UTC: written with Z
        item.add("dtstart", start)
        item.add("dtend", end)
    else:
        # Local wall time with the TZID icalendar itself chose for the zone: the same text as for the
        # aware datetime, without icalendar's search for the zone's name on every value.
        item.add("dtstart", start.replace(tzinfo=None), parameters={"TZID": tzid})
        item.add("dtend", end.replace(tzinfo=None), parameters={"TZID": tzid})
    item.add("summary", event.title)
    if event.place:
        item.add("location", event.place)
    if event.description:
        item.add("description", event.description)
    item.add("sequence", event.sequence)
    item.add("last-modified", event.updated_at)
    item.add("status", "CANCELLED" if event.status == "cancelled" else "CONFIRMED")
    if url:
        item.add("url", url)
    data = bytes(item.to_ical())
    # Property lines start at a line start; escaped values and folded continuations never do.
    head, found, tail = data.partition(_STAMP_LINE)
    assert found and _STAMP_LINE not in tail
    return head + b"\r\n", tail


@cache
def _tzid(tz: str) -> str | None:
    """The TZID icalendar writes for an aware datetime in this zone; None when it writes UTC (Z)."""
    probe = Event()
    probe.add("dtstart", datetime(2000, 1, 1, tzinfo=ZoneInfo(tz)))
    tzid = probe["DTSTART"].params.get("TZID")
    return str(tzid) if tzid else None


def _vevent(event: m.Event, tz: str, url: str | None) -> tuple[bytes, bytes]:
    key = _vevent_key(event, tz, url)
    found = VEVENTS.get(key)
    if found is None:
        found = _serialize_vevent(event, tz, url)
        VEVENTS.put(key, found)
    return found


def _dtstamp_line(now: datetime) -> bytes:
    stamp = Event()
    stamp.add("dtstamp", now)
    data = bytes(stamp.to_ical())
    return data[len(_BEGIN_EVENT) : -len(b"END:VEVENT\r\n")]


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
    envelope = bytes(cal.to_ical())
    assert envelope.endswith(_END_CALENDAR)
    dtstamp = _dtstamp_line(now)
    parts = [envelope[: -len(_END_CALENDAR)]]
    zones: set[str] = set()
    seen_years: set[int] = set()
    for event, network in events:
        seen_years.add(event.starts_at.year)
        zones.add(network.timezone)
        head, tail = _vevent(event, network.timezone, url_for.get(event.id) if url_for else None)
        parts += (head, dtstamp, tail)
    years = sorted(seen_years)
    first = years[0] - 1 if years else now.year - 1
    last = (years[-1] if years else now.year) + 1
    for tz in sorted(zones):
        parts.append(_vtimezone_bytes(tz, first, last))
    parts.append(_END_CALENDAR)
    return b"".join(parts)


@lru_cache(maxsize=256)
def _vtimezone_bytes(tz: str, first: int, last: int) -> bytes:
    return bytes(vtimezone(tz, first, last).to_ical())


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
