"""iCalendar output (icalendar library): stable UIDs, the network's VTIMEZONE, SEQUENCE, and
STATUS:CANCELLED, so subscribed phone calendars update instead of duplicating.

Serializing with icalendar costs about a quarter of a millisecond per event, so a feed of 1,000 events
is built from parts serialized once: each event's VEVENT (icalendar, cached in a bounded LRU keyed by
everything the VEVENT is made of, so an edit or a cancellation can never be served stale) and each
zone's VTIMEZONE, put inside the calendar envelope icalendar made. DTSTAMP (the time the feed is
made) is the one per-request line: it goes where icalendar put a placeholder, so the bytes are the same
as icalendar's own serialization of the whole calendar (`calendar_component`).

A fresh process (a restart, another instance) would pay the serialization again for every feed, so each
event's VEVENT is also stored in its row (`events.ics_vevent`) with a hash of everything it is made of
(`events.ics_key`, see `stored_key`): written when the event is created or changed, and by the feed for
rows whose hash no longer matches (PUBLIC_URL, the network's time zone or slug changed, an older icalendar
or tzdata). A stored VEVENT is only ever used while its hash matches the row as it is now."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import icalendar
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
# Bump when _vevent_component changes what it writes: every stored VEVENT is then made again.
STORED_FORMAT = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

VeventKey = tuple[object, ...]
# A serialized VEVENT: the bytes before and after its DTSTAMP line, and its stored_key.
Part = tuple[bytes, bytes, str]


class _LRU:
    """A bounded least-recently-used map of serialized VEVENTs (thread-safe: feeds may be built in threads)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[VeventKey, Part] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: VeventKey) -> Part | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: VeventKey, value: Part) -> None:
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


def _local_span(starts_at: datetime, ends_at: datetime | None, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    return starts_at.astimezone(zone), (ends_at or starts_at + DEFAULT_LENGTH).astimezone(zone)


def stored_key(event: m.Event, tz: str, url: str | None) -> str:
    """A hash (40 hex digits) of everything the VEVENT is made of, as stored with it in the row."""
    return _digest(_vevent_key(event, tz, url))


def _digest(key: VeventKey) -> str:
    """stored_key from the LRU key's values. The times are the local wall times written (so a change of
    the zone's rules in tzdata shows), and the icalendar version is in it (its output may change)."""
    event_id, sequence, updated_at, status, starts_at, ends_at, title, place, description, tz, url = key
    assert isinstance(starts_at, datetime) and isinstance(updated_at, datetime) and isinstance(tz, str)
    start, end = _local_span(starts_at, ends_at if isinstance(ends_at, datetime) else None, tz)
    made_of = (
        STORED_FORMAT,
        icalendar.__version__,
        event_id,
        sequence,
        _wall(updated_at.astimezone(UTC)),
        status,
        _wall(start),
        _wall(end),
        title,
        place,
        description,
        tz,
        url,
    )
    # repr of ints, strings and None: unambiguous and stable (and a few times faster than json).
    return hashlib.sha1(repr(made_of).encode(), usedforsecurity=False).hexdigest()


def _wall(value: datetime) -> int:
    """The wall-clock time written, in microseconds (isoformat() costs more than the rest of the key)."""
    return (value.replace(tzinfo=UTC) - _EPOCH) // _MICROSECOND


def _vevent_component(event: m.Event, tz: str, url: str | None, stamp: datetime) -> Event:
    item = Event()
    item.add("uid", uid(event.id))
    item.add("dtstamp", stamp)
    start, end = _local_span(event.starts_at, event.ends_at, tz)
    tzid = _tzid(tz)
    if tzid is None:  # UTC: written with Z
        item.add("dtstart", start)
        item.add("dtend", end)
    else:
        # Local wall time with the TZID icalendar itself chose for the zone: the same text as for the
        # aware datetime, without icalendar's search for the zone's name on every value.
        item.add("dtstart", start.replace(tzinfo=None), parameters={"TZID": tzid})
        item.add("dtend", end.replace(tzinfo=None), parameters={"TZID": tzid})
    add_details(
        item,
        title=event.title,
        place=event.place,
        description=event.description,
        sequence=event.sequence,
        updated_at=event.updated_at,
        cancelled=event.status == "cancelled",
        url=url,
    )
    return item


def add_details(
    item: Event,
    *,
    title: str,
    place: str | None,
    description: str | None,
    sequence: int,
    updated_at: datetime,
    cancelled: bool,
    url: str | None,
) -> None:
    """What a VEVENT says besides its times (an event's, or a series' master)."""
    item.add("summary", title)
    if place:
        item.add("location", place)
    if description:
        item.add("description", description)
    item.add("sequence", sequence)
    # RFC 5545: LAST-MODIFIED is in UTC (and so the same whatever zone the value came in).
    item.add("last-modified", updated_at.astimezone(UTC))
    item.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if url:
        item.add("url", url)


def _split(data: bytes) -> tuple[bytes, bytes] | None:
    """A VEVENT split around its placeholder DTSTAMP line (which the caller fills in); None if it has none.
    Property lines start at a line start; escaped values and folded continuations never do."""
    head, found, tail = data.partition(_STAMP_LINE)
    if not found or _STAMP_LINE in tail:
        return None
    return head + b"\r\n", tail


def _serialize_vevent(event: m.Event, tz: str, url: str | None) -> tuple[bytes, bytes]:
    """The VEVENT, written by icalendar, split around its DTSTAMP line."""
    split = _split(bytes(_vevent_component(event, tz, url, _STAMP_PLACEHOLDER).to_ical()))
    assert split is not None
    return split


@cache
def _tzid(tz: str) -> str | None:
    """The TZID icalendar writes for an aware datetime in this zone; None when it writes UTC (Z)."""
    probe = Event()
    probe.add("dtstart", datetime(2000, 1, 1, tzinfo=ZoneInfo(tz)))
    tzid = probe["DTSTART"].params.get("TZID")
    return str(tzid) if tzid else None


def _joined(part: Part) -> str:
    """The VEVENT as stored: icalendar's text with the placeholder DTSTAMP line."""
    return (part[0] + _STAMP_LINE[2:] + part[1]).decode()


def _vevent(event: m.Event, tz: str, url: str | None) -> Part:
    key = _vevent_key(event, tz, url)
    return VEVENTS.get(key) or _resolve(event, tz, url, key, None)[0]


def _resolve(
    event: m.Event, tz: str, url: str | None, key: VeventKey, stored: tuple[str | None, str | None] | None
) -> tuple[Part, bool]:
    """A part the LRU lacks: the stored (ics_key, ics_vevent) while its key matches, else serialized by
    icalendar; put in the LRU. The flag says the stored VEVENT is missing or out of date."""
    digest = _digest(key)
    split = _split(stored[1].encode()) if stored and stored[0] == digest and stored[1] else None
    if split is not None:
        found, stale = (*split, digest), False
    else:
        found, stale = (*_serialize_vevent(event, tz, url), digest), True
    VEVENTS.put(key, found)
    return found, stale


def stored_vevent(event: m.Event, tz: str, url: str | None) -> tuple[str, str]:
    """(ics_key, ics_vevent) for the event's row: the same serialization the feed uses."""
    part = _vevent(event, tz, url)
    return part[2], _joined(part)


def _dtstamp_line(now: datetime) -> bytes:
    stamp = Event()
    stamp.add("dtstamp", now)
    data = bytes(stamp.to_ical())
    return data[len(_BEGIN_EVENT) : -len(b"END:VEVENT\r\n")]


@dataclass
class Feed:
    data: bytes
    # (event id, ics_key, ics_vevent) for the events whose stored VEVENT was missing or out of date.
    stale: list[tuple[int, str, str]] = field(default_factory=list)


def _envelope(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//volbot//events//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    return cal


def _year_range(events: list[tuple[m.Event, m.Network]], now: datetime) -> tuple[int, int]:
    years = sorted({event.starts_at.year for event, _ in events})
    first = years[0] - 1 if years else now.year - 1
    last = (years[-1] if years else now.year) + 1
    return first, last


def calendar_component(
    events: Iterable[tuple[m.Event, m.Network]],
    *,
    name: str,
    now: datetime,
    url_for: Mapping[int, str] | None = None,
) -> Calendar:
    """The whole calendar as one icalendar object, nothing cached or stored: what build_calendar's bytes
    equal (slow; for tests and checks)."""
    pairs = list(events)
    cal = _envelope(name)
    for event, network in pairs:
        url = url_for.get(event.id) if url_for else None
        cal.add_component(_vevent_component(event, network.timezone, url, now))
    first, last = _year_range(pairs, now)
    for tz in sorted({network.timezone for _, network in pairs}):
        cal.add_component(vtimezone(tz, first, last))
    return cal


def build_calendar(
    events: Iterable[tuple[m.Event, m.Network]],
    *,
    name: str,
    now: datetime,
    url_for: Mapping[int, str] | None = None,
) -> bytes:
    return FeedPlan(events, url_for).build(name=name, now=now).data


class FeedPlan:
    """A feed in two steps: which events' VEVENTs this process does not hold (`missing`: read their
    rows' ics_key and ics_vevent), then the bytes."""

    def __init__(
        self, events: Iterable[tuple[m.Event, m.Network]], url_for: Mapping[int, str] | None = None
    ) -> None:
        self.pairs = list(events)
        self._items: list[tuple[m.Event, str, str | None, VeventKey, Part | None]] = []
        self.missing: list[int] = []
        for event, network in self.pairs:
            tz = network.timezone
            url = url_for.get(event.id) if url_for else None
            key = _vevent_key(event, tz, url)
            part = VEVENTS.get(key)
            if part is None:
                self.missing.append(event.id)
            self._items.append((event, tz, url, key, part))

    def build(
        self, *, name: str, now: datetime, stored: Mapping[int, tuple[str | None, str | None]] | None = None
    ) -> Feed:
        """`stored` maps event ids to their row's (ics_key, ics_vevent), used for a missing part while
        the key matches. Feed.stale lists the VEVENTs to store again."""
        envelope = bytes(_envelope(name).to_ical())
        assert envelope.endswith(_END_CALENDAR)
        dtstamp = _dtstamp_line(now)
        parts = [envelope[: -len(_END_CALENDAR)]]
        stale: list[tuple[int, str, str]] = []
        for event, tz, url, key, part in self._items:
            if part is None:
                part, is_stale = _resolve(event, tz, url, key, stored.get(event.id) if stored else None)
                if is_stale:
                    stale.append((event.id, part[2], _joined(part)))
            parts += (part[0], dtstamp, part[1])
        first, last = _year_range(self.pairs, now)
        for tz in sorted({network.timezone for _, network in self.pairs}):
            parts.append(_vtimezone_bytes(tz, first, last))
        parts.append(_END_CALENDAR)
        return Feed(b"".join(parts), stale)


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
