"""Repeat rules as people write them ("hver torsdag kl. 16.30-18.30", "første søndag i måneden kl. 13",
"every 2 weeks from 3 December 17:00", "كل خميس الساعة 4:30 مساء", "ኩሉ ሓሙስ ሰዓት 16:30", "hver 3. måned"),
read into an RFC 5545 RRULE and expanded with python-dateutil's rrule on the network's local clock.

The rule is stored without DTSTART (the series row keeps it, in UTC); it is always expanded from the local
wall time of DTSTART in the series' time zone, so 16.30 stays 16.30 across daylight-saving changes. UNTIL is
written as a floating local time (the end of the last day) and converted to UTC only for the feed.

Pure: no database, no Telegram. Bad input raises `UserError` with an example in the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from bot.domain.errors import UserError
from bot.domain.when import WEEKDAYS, _extract_date, _extract_time, normalize
from bot.i18n import N_

EXAMPLE = "hver torsdag kl. 16.30-18.30 · every Thursday 16:30-18:30 · كل خميس الساعة 16:30"
# A bounded weekly rule may not reach further than this at once (an open-ended one rolls on).
MAX_WEEKLY_SPAN = timedelta(days=2 * 366)
MAX_COUNT = 500
CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

# Weekday spellings not in bot.domain.when's table (Arabic without the article, hamza forms).
_MORE_WEEKDAYS = {
    "أحد": 6,
    "إثنين": 0,
    "أربعاء": 2,
    "mandage": 0,
    "tirsdage": 1,
    "onsdage": 2,
    "torsdage": 3,
    "fredage": 4,
    "lørdage": 5,
    "søndage": 6,
    "mondays": 0,
    "tuesdays": 1,
    "wednesdays": 2,
    "thursdays": 3,
    "fridays": 4,
    "saturdays": 5,
    "sundays": 6,
}


def _weekday(word: str) -> int | None:
    key = word.strip(".,")
    if key in WEEKDAYS:
        return WEEKDAYS[key]
    if key in _MORE_WEEKDAYS:
        return _MORE_WEEKDAYS[key]
    if key.startswith("ال") and key[2:] in _MORE_WEEKDAYS:
        return _MORE_WEEKDAYS[key[2:]]
    if key.startswith("ال") and key[2:] in WEEKDAYS:
        return WEEKDAYS[key[2:]]
    return None


# Ordinals of a weekday in the month (1..4, -1 = last).
_ORDINALS = {
    "første": 1,
    "1.": 1,
    "first": 1,
    "1st": 1,
    "أول": 1,
    "اول": 1,
    "الأول": 1,
    "الاول": 1,
    "ቀዳማይ": 1,
    "anden": 2,
    "2.": 2,
    "second": 2,
    "2nd": 2,
    "ثاني": 2,
    "الثاني": 2,
    "ካልኣይ": 2,
    "tredje": 3,
    "3.": 3,
    "third": 3,
    "3rd": 3,
    "ثالث": 3,
    "الثالث": 3,
    "ሳልሳይ": 3,
    "fjerde": 4,
    "4.": 4,
    "fourth": 4,
    "4th": 4,
    "رابع": 4,
    "الرابع": 4,
    "ራብዓይ": 4,
    "sidste": -1,
    "last": -1,
    "آخر": -1,
    "اخر": -1,
    "الأخير": -1,
    "الاخير": -1,
    "መወዳእታ": -1,
}
# "every N …": the N as written.
_NUMBERS = {
    "anden": 2,
    "andet": 2,
    "other": 2,
    "second": 2,
    "tredje": 3,
    "third": 3,
    "fjerde": 4,
    "fourth": 4,
    "sjette": 6,
    "two": 2,
    "three": 3,
    "four": 4,
    "six": 6,
    "twelve": 12,
    "to": 2,
    "tre": 3,
    "fire": 4,
    "seks": 6,
    "اثنين": 2,
    "ثلاثة": 3,
    "ثلاث": 3,
    "أربعة": 4,
    "اربعة": 4,
    "ستة": 6,
    "ክልተ": 2,
    "ሰለስተ": 3,
    "ኣርባዕተ": 4,
    "ሽዱሽተ": 6,
}
_N = r"(?P<n>\d{1,2}\.?|" + "|".join(sorted(map(re.escape, _NUMBERS), key=len, reverse=True)) + r")"
_EVERY = r"(?:hver|hvert|every|each|كل|ኩሉ|ኣብ ነፍሲ ወከፍ|ነፍሲ ወከፍ)"
_WEEK = r"(?:uger|uge|weeks|week|أسابيع|اسابيع|أسبوع|اسبوع|ሰሙናት|ሰሙን)(?=\s|$|,)"
_MONTH = r"(?:måneder|måned|months|month|أشهر|اشهر|شهور|شهر|ኣዋርሕ|ወርሒ)(?=\s|$|,)"

# Whole phrases, tried in order; each sets (freq, interval) and may leave weekday words to be read.
_PHRASES: list[tuple[re.Pattern[str], str, int | None]] = [
    (re.compile(r"(?:kvartalsvis|quarterly|every quarter|كل ربع سنة|فصليا|ርብዒ ዓመታዊ)"), "MONTHLY", 3),
    (re.compile(r"(?:كل شهرين)"), "MONTHLY", 2),
    (
        re.compile(r"(?:كل أسبوعين|كل اسبوعين|biweekly|fortnightly|hver fjortende dag|hver 14\. dag)"),
        "WEEKLY",
        2,
    ),
    (re.compile(_EVERY + r"\s+" + _N + r"\s*" + _MONTH), "MONTHLY", None),
    (re.compile(_EVERY + r"\s+" + _N + r"\s*" + _WEEK), "WEEKLY", None),
    (re.compile(_EVERY + r"\s+" + _MONTH), "MONTHLY", 1),
    (re.compile(r"(?:månedlig|månedligt|monthly|شهريا|شهرياً|شهريًا|ወርሓዊ)"), "MONTHLY", 1),
    (re.compile(_EVERY + r"\s+" + _WEEK), "WEEKLY", 1),
    (re.compile(r"(?:ugentlig|ugentligt|weekly|أسبوعيا|أسبوعياً|أسبوعيًا|اسبوعيا|ሰሙናዊ)"), "WEEKLY", 1),
    # "hver anden tirsdag", "every other Tuesday": the weekday follows.
    (re.compile(_EVERY + r"\s+" + _N + r"(?=\s+\S)"), "WEEKLY", None),
    (re.compile(_EVERY + r"(?=\s+\S)"), "WEEKLY", 1),
]
# Where a monthly rule is told by "of the month" words (with an ordinal weekday or a day number).
_OF_MONTH = re.compile(
    r"(?:i måneden|i hver måned|hver måned|om måneden|of the month|of every month|of each month|each month|"
    r"every month|a month|من كل شهر|في كل شهر|من الشهر|في الشهر|كل شهر|ናይ ነፍሲ ወከፍ ወርሒ|ናይ ኩሉ ወርሒ|ናይ ወርሒ|ኣብ ወርሒ|"
    r"ነፍሲ ወከፍ ወርሒ|ኩሉ ወርሒ)"
)
_UNTIL = re.compile(
    r"(?:^|\s)(?:until|till|indtil|til og med|t\.o\.m\.?|حتى|لغاية|إلى غاية|ክሳብ)\s+(?P<rest>.+)$"
)
_FROM = re.compile(
    r"(?:^|\s)(?:from|starting|starting on|beginning|fra og med|fra|startende|begyndende|ابتداء من|"
    r"ابتداءً من|اعتبارا من|اعتباراً من|بدءا من|بدءًا من|من|ካብ|ጀሚሩ)(?=\s|$)"
)
_COUNT = re.compile(
    r"(?:^|\s)(?P<n>\d{1,3})\s*(?:gange|gang|times|occurrences|مرات|مرة|ግዜ|ጊዜ|ግዜያት)(?=\s|$|,)"
)
_FILLERS = {
    "den",
    "d.",
    "the",
    "on",
    "om",
    "at",
    "يوم",
    "في",
    ",",
    "kl",
    "kl.",
    "ኣብ",
    "-",
    "og",
    "and",
    "و",
    "ዕለት",
    "a",
    "i",
    "in",
    "الساعة",
}


@dataclass(frozen=True)
class Repeat:
    """What a repeating `{when}` says: the RRULE (no DTSTART), its first occurrence (UTC) and the length
    of each occurrence (None when no end time was written)."""

    rule: str
    start: datetime
    duration: timedelta | None

    @property
    def end(self) -> datetime | None:
        return self.start + self.duration if self.duration is not None else None


def _bad(text: str) -> UserError:
    return UserError(
        N_("I could not read “{text}” as a repeating time. Write it like this: {example}"),
        text=text[:60],
        example=EXAMPLE,
    )


def _number(raw: str) -> int:
    raw = raw.rstrip(".")
    return int(raw) if raw.isdecimal() else _NUMBERS[raw]


def _strip(s: str, match: re.Match[str]) -> str:
    return re.sub(r"\s+", " ", (s[: match.start()] + " " + s[match.end() :])).strip()


def _take_weekdays(s: str) -> tuple[list[tuple[int, int | None]], str]:
    """Weekday words with an ordinal next to them ("første søndag", "الأحد الأول", "last Friday")."""
    words = s.split()
    found: list[tuple[int, int | None]] = []
    used: set[int] = set()
    for i, word in enumerate(words):
        day = _weekday(word)
        if day is None:
            continue
        ordinal = None
        if i > 0 and words[i - 1] in _ORDINALS and i - 1 not in used:
            ordinal = _ORDINALS[words[i - 1]]
            used.add(i - 1)
        elif i + 1 < len(words) and words[i + 1].strip(".,") in _ORDINALS:
            ordinal = _ORDINALS[words[i + 1].strip(".,")]
            used.add(i + 1)
        elif i > 1 and words[i - 1] in ("ናይ",) and words[i - 2] in _ORDINALS:
            ordinal = _ORDINALS[words[i - 2]]
            used.update((i - 2, i - 1))
        found.append((day, ordinal))
        used.add(i)
    rest = " ".join(w for i, w in enumerate(words) if i not in used)
    return found, rest


def looks_repeating(text: str) -> bool:
    s = normalize(text)
    return any(p.search(s) for p, _, _ in _PHRASES[:-2]) or bool(
        re.search(r"(?:^|\s)" + _EVERY + r"\s", s) or _OF_MONTH.search(s)
    )


def _local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock).replace(tzinfo=zone, fold=0).astimezone(UTC)


def _resolve_day(parts: tuple[int, int, int | None], after: date) -> date | None:
    d, mo, y = parts
    for year in [y] if y is not None else [after.year, after.year + 1, after.year + 2]:
        try:
            day = date(year, mo, d)
        except ValueError:
            continue
        if y is not None or day >= after:
            return day
    return None


def _date_in(text: str, today: date) -> tuple[date | None, str]:
    exact, parts, _, _, rest = _extract_date(text, today)
    if rest == "\x00":
        raise _bad(text)
    if exact is not None:
        return exact, rest
    if parts is not None:
        return _resolve_day(parts, today), rest
    return None, text


def parse_repeat(text: str, tz: str, now: datetime, lang: str | None = None) -> Repeat | None:
    """The repeat rule in `text`, or None when it does not repeat. Raises UserError for a rule that
    cannot be read, has no future occurrence, ends before it starts, or is too long at once."""
    del lang
    s = normalize(text)
    if not looks_repeating(text):
        return None
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()

    until: date | None = None
    m_until = _UNTIL.search(s)
    if m_until:
        day, rest = _date_in(m_until["rest"], today)
        if day is not None:
            until = day
            s = (s[: m_until.start()] + " " + rest).strip()
    count: int | None = None
    m_count = _COUNT.search(s)
    if m_count:
        count = int(m_count["n"])
        s = _strip(s, m_count)
        if not 1 <= count <= MAX_COUNT:
            raise _bad(text)

    freq, interval = "WEEKLY", 1
    monthly_words = _OF_MONTH.search(s)
    if monthly_words:
        s = _strip(s, monthly_words)
        freq = "MONTHLY"
    for pattern, f, n in _PHRASES:
        match = pattern.search(s)
        if match is None:
            continue
        if not monthly_words:
            freq = f
        interval = n if n is not None else _number(match["n"])
        s = _strip(s, match)
        break
    if not 1 <= interval <= 52:
        raise _bad(text)

    days, s = _take_weekdays(s)
    m_from = _FROM.search(s)
    if m_from:
        s = _strip(s, m_from)
    start_clock, end_clock, s, impossible = _extract_time(s)
    if impossible:
        raise _bad(text)
    if start_clock is None:
        raise UserError(N_("Please add a time to the rule, like this: {example}"), example=EXAMPLE)
    day_of_month: int | None = None
    m_dom = re.search(r"(?:^|\s)(?:den |the |يوم |ዕለት )?(?P<d>\d{1,2})(?:\.|st|nd|rd|th)?(?=\s|$)", s)
    from_day, s = _date_in(s, today)
    if from_day is None and m_dom and freq == "MONTHLY":
        day_of_month = int(m_dom["d"])
        s = _strip(s, m_dom)
        if not 1 <= day_of_month <= 31:
            raise _bad(text)
    leftover = [w for w in s.split() if w not in _FILLERS and w.strip(".,") not in _FILLERS]
    if leftover:
        raise _bad(text)

    parts = [f"FREQ={freq}"]
    if interval > 1:
        parts.append(f"INTERVAL={interval}")
    if days:
        if freq == "MONTHLY":
            if len(days) != 1 or days[0][1] is None:
                raise _bad(text)
            parts.append(f"BYDAY={days[0][1]}{CODES[days[0][0]]}")
        else:
            parts.append("BYDAY=" + ",".join(CODES[d] for d in sorted({d for d, _ in days})))
    elif day_of_month is not None:
        parts.append(f"BYMONTHDAY={day_of_month}")
    elif freq == "WEEKLY" and from_day is None:
        raise UserError(N_("Please say which day it repeats on, like this: {example}"), example=EXAMPLE)

    first_day = from_day or today
    if until is not None and until < first_day:
        raise UserError(
            N_("The end date comes before the start. Write it like this: {example}"),
            example="hver torsdag kl. 17 indtil 30. juni",
        )
    if until is not None:
        parts.append("UNTIL=" + until.strftime("%Y%m%dT235959"))
    if count is not None:
        parts.append(f"COUNT={count}")
    probe = ";".join(parts)
    # The first occurrence on or after the first day and after now; the rule is then anchored on it.
    anchor = datetime.combine(first_day, start_clock)
    first = None
    for local in rrulestr(probe, dtstart=anchor):
        if _local(local.date(), start_clock, zone) > now:
            first = local
            break
        if local.date() > first_day + timedelta(days=800):
            break
    if first is None:
        raise UserError(
            N_("“{text}” has no date in the future. Write it like this: {example}"),
            text=text[:60],
            example=EXAMPLE,
        )
    # Anchored on the first occurrence: a COUNT counts from there (dates already passed do not count).
    rule = ";".join(parts)
    start = _local(first.date(), start_clock, zone)
    duration = None
    if end_clock is not None:
        end_day = first.date() if end_clock > start_clock else first.date() + timedelta(days=1)
        # The length on the wall clock (a range that crosses a DST change keeps its written times).
        duration = datetime.combine(end_day, end_clock) - datetime.combine(first.date(), start_clock)
    if freq == "WEEKLY" and (until is not None or count is not None):
        last = list(expand(rule, start, tz))[-1]
        if last - start > MAX_WEEKLY_SPAN:
            raise UserError(
                N_(
                    "That is more than two years of weekly dates at once. Leave out the end (the series "
                    "then runs on by itself) or choose an earlier one, like this: {example}"
                ),
                example="hver torsdag kl. 17 indtil 30. juni",
            )
    return Repeat(rule, start, duration)


def rule_set(rule: str, dtstart: datetime, tz: str) -> rrule:
    zone = ZoneInfo(tz)
    local = dtstart.astimezone(zone).replace(tzinfo=None)
    made = rrulestr(rule, dtstart=local)
    assert isinstance(made, rrule)
    return made


def expand(
    rule: str, dtstart: datetime, tz: str, after: datetime | None = None, before: datetime | None = None
) -> list[datetime]:
    """Occurrence starts (UTC) of `rule` anchored at `dtstart`, on the zone's wall clock, in
    (after, before]; without `before`, the rule must be bounded (UNTIL or COUNT)."""
    zone = ZoneInfo(tz)
    clock = dtstart.astimezone(zone).time().replace(tzinfo=None)
    made = rule_set(rule, dtstart, tz)
    out = []
    slack = timedelta(days=1)
    lo = after.astimezone(zone).replace(tzinfo=None) - slack if after else None
    for local in made:
        if lo is not None and local < lo:
            continue
        value = _local(local.date(), clock, zone)
        if before is not None and value > before:
            break
        if after is not None and value <= after:
            continue
        out.append(value)
    return out


def occurrence_end(start: datetime, duration_minutes: int | None, tz: str) -> datetime | None:
    """The end of an occurrence: the same wall-clock length as the first one."""
    if duration_minutes is None:
        return None
    zone = ZoneInfo(tz)
    local = start.astimezone(zone).replace(tzinfo=None) + timedelta(minutes=duration_minutes)
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def parse_rule(rule: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in rule.split(";") if "=" in part)


def with_until(rule: str, last_local_day: date) -> str:
    """The rule ending on `last_local_day` (COUNT replaced by UNTIL)."""
    parts = {k: v for k, v in parse_rule(rule).items() if k not in ("UNTIL", "COUNT")}
    parts["UNTIL"] = last_local_day.strftime("%Y%m%dT235959")
    return ";".join(f"{k}={v}" for k, v in parts.items())


def shifted_days(rule: str, days: int) -> str:
    """A weekly rule with its weekdays moved by `days` (an edit of "this and later ones" to another day)."""
    parts = parse_rule(rule)
    if days % 7 == 0 or "BYDAY" not in parts:
        return rule
    if parts.get("FREQ") != "WEEKLY":
        raise UserError(
            N_("A monthly series can only move to another time of the same day. For example: {example}"),
            example="/editevent 12 when kl. 18",
        )
    parts["BYDAY"] = ",".join(CODES[(CODES.index(c) + days) % 7] for c in parts["BYDAY"].split(","))
    return ";".join(f"{k}={v}" for k, v in parts.items())


def ical_rule(rule: str, tz: str) -> str:
    """The rule as written in a feed: a floating UNTIL becomes UTC (RFC 5545 with a DTSTART in a TZID)."""
    parts = parse_rule(rule)
    if "UNTIL" in parts and not parts["UNTIL"].endswith("Z"):
        local = datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%S").replace(tzinfo=ZoneInfo(tz))
        parts["UNTIL"] = local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return ";".join(f"{k}={v}" for k, v in parts.items())


def parse_date_list(text: str, tz: str, now: datetime) -> list[datetime] | None:
    """Several dates with one time: "17. maj, 30. august og 22. november kl. 16.30" (None if one date)."""
    s = normalize(text)
    start_clock, _end, rest, impossible = _extract_time(s)
    if impossible or start_clock is None:
        return None
    chunks = [c.strip() for c in re.split(r",|\s(?:og|and|و|ን|ከምኡ ውን)\s|\sو", rest) if c.strip()]
    if len(chunks) < 2:
        return None
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    out: list[datetime] = []
    after = today
    for chunk in chunks:
        day, leftover = _date_in(chunk, after)
        if day is None or [w for w in leftover.split() if w not in _FILLERS]:
            return None
        moment = _local(day, start_clock, zone)
        if moment <= now:
            raise UserError(
                N_("“{text}” is in the past. Please give a future date and time, like this: {example}"),
                text=chunk[:60],
                example="17. maj, 30. august og 22. november kl. 16.30",
            )
        out.append(moment)
        after = day
    return sorted(set(out))
