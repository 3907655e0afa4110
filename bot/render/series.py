"""A series' rhythm in the reader's language ("every Thursday", "hver torsdag", "كل يوم الخميس",
"ኩሉ ሓሙስ"), and the next dates of a series. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import get_day_names

from bot.db import models as m
from bot.domain import recurrence as rr
from bot.i18n import Translator

_CODES = rr.CODES


def day_name(t: Translator, index: int) -> str:
    """The weekday's name from Babel (CLDR) for the reader's locale; 0 is Monday."""
    return str(get_day_names("wide", locale=t.lang)[index])


def _days(t: Translator, byday: str) -> str:
    return ", ".join(day_name(t, _CODES.index(code[-2:])) for code in byday.split(","))


def _ordinal_day(t: Translator, ordinal: int, day: str) -> str:
    if ordinal == 1:
        return t.plain("the first {day} of every month", day=day)
    if ordinal == 2:
        return t.plain("the second {day} of every month", day=day)
    if ordinal == 3:
        return t.plain("the third {day} of every month", day=day)
    if ordinal == 4:
        return t.plain("the fourth {day} of every month", day=day)
    return t.plain("the last {day} of every month", day=day)


def rhythm(series: m.Series, t: Translator) -> str:
    """The rule in words, plain text (escape it where HTML is written)."""
    if not series.rrule:
        return ""
    parts = rr.parse_rule(series.rrule)
    interval = int(parts.get("INTERVAL", "1"))
    zone = ZoneInfo(series.timezone)
    start_local = series.dtstart.astimezone(zone)
    if parts.get("FREQ") == "WEEKLY":
        days = _days(t, parts["BYDAY"]) if "BYDAY" in parts else day_name(t, start_local.weekday())
        if interval == 1:
            # TRANSLATORS: the rhythm of a weekly event; {day} is a weekday name ("every Thursday")
            text = t.plain("every {day}", day=days)
        else:
            text = t.nplain("every week on {day}", "every {n} weeks on {day}", interval, day=days)
    else:
        byday = parts.get("BYDAY")
        if byday and interval == 1:
            ordinal = int(byday[:-2] or "1")
            text = _ordinal_day(t, ordinal, day_name(t, _CODES.index(byday[-2:])))
        else:
            day = int(parts.get("BYMONTHDAY", str(start_local.day)))
            text = t.nplain("on day {day} of every month", "on day {day} every {n} months", interval, day=day)
    if "UNTIL" in parts:
        raw = parts["UNTIL"]
        # TRANSLATORS: the end of a series' rhythm ("every Thursday until 30 June 2027")
        text += " " + t.plain("until {date}", date=t.day(date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))))
    elif "COUNT" in parts:
        last = rr.expand(series.rrule, series.dtstart, series.timezone)[-1]
        text += " " + t.plain("until {date}", date=t.day(last, series.timezone))
    return text


def rhythms(events: Sequence[m.Event], series: Mapping[int, m.Series], t: Translator) -> dict[int, str]:
    """The rhythm of each event of an active series (by event id), for lists and the public page."""
    out = {}
    for e in events:
        found = series.get(e.series_id or 0)
        if found is not None and found.status == "active" and found.rrule:
            out[e.id] = rhythm(found, t)
    return out


def next_dates(starts: list[datetime], tz: str, t: Translator) -> str:
    return ", ".join(t.day(s, tz, "medium") for s in starts)
