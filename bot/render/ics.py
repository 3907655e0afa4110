"""iCalendar output (icalendar library): stable UIDs, the network's VTIMEZONE, SEQUENCE, and
STATUS:CANCELLED, so subscribed phone calendars update instead of duplicating."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

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
    for event, network in events:
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
    if zones:
        cal.add_missing_timezones()
    return bytes(cal.to_ical())
