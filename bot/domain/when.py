"""Reading the times people write ("3. december kl. 17", "tirsdag kl. 17.30", "tomorrow 6pm",
"غدا الساعة 6 مساء") as an aware UTC datetime, in the network's timezone.

The forms people really write are handled here first: the clock ("kl. 17", "17.30", "6pm",
"6 مساء", ranges "17-19"), then the day (ISO, "3/12", "3. december", weekdays, "i morgen").
`dateparser` reads what is left when that fails (other phrasings, other month spellings); it must
not see the Danish "kl." form, which it reads as the year 2117. A date without a clock time is
refused: an event needs a time. Without a year, the next future occurrence is chosen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain import when_names
from bot.domain.errors import UserError
from bot.i18n import N_, Phrase

# Shown in every error about times, in the reader's words, so the person sees forms that work (each
# translation is tested to read back).
EXAMPLE = N_("3 December 5pm · 2026-12-03 17:00 · tomorrow 6pm")
MAX_AHEAD_DAYS = 5 * 366

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")

# Month, weekday and am/pm names: Babel's CLDR data (what the bot shows) plus idioms (when_names.py).
MONTHS = when_names.MONTHS
WEEKDAYS = when_names.WEEKDAYS

RELATIVE_DAYS = {
    "i går": -1,
    "igår": -1,
    "yesterday": -1,
    "أمس": -1,
    "امس": -1,
    "البارحة": -1,
    "i forgårs": -2,
    "i dag": 0,
    "idag": 0,
    "today": 0,
    "tonight": 0,
    "i aften": 0,
    "اليوم": 0,
    "الليلة": 0,
    "ሎሚ": 0,
    "i morgen": 1,
    "imorgen": 1,
    "i morgen aften": 1,
    "tomorrow": 1,
    "غدا": 1,
    "غداً": 1,
    "غدًا": 1,
    "بكرة": 1,
    "بكره": 1,
    "ጽባሕ": 1,
    "i overmorgen": 2,
    "overmorgen": 2,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
    "بعد غد": 2,
    "بعد غدا": 2,
    "بعد غداً": 2,
    "بعد بكرة": 2,
}
NEXT_WORDS = ("næste ", "naeste ", "next ", "på ", "on ", "this ", "kommende ", "القادم ", "القادمة ")
NEXT_SUFFIXES = (" القادم", " القادمة", " الجاي", " næste")
FILLERS = {"den", "d.", "d", "the", "on", "om", "at", "يوم", "في", ",", "kl", "kl.", "ኣብ", "-"}
# series hook (time ranges): "fra 16.30 til 18.30", "from 4:30 to 6:30 pm", "من 4:30 إلى 6:30 مساء", "ካብ … ክሳብ …"
FILLERS |= {"fra", "from", "من", "ካብ"}

_AMPM = r"(?P<ap>" + when_names.alternation(when_names.AM | when_names.PM) + r")"
_CLOCK = r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?"
# series hook (time ranges): the end of a range may carry the am/pm word in any language ("4:30-6:30 مساء").
_END = (
    r"(?:\s*(?:-|–|—|til|to|until|إلى|الى|حتى|ክሳብ)\s*(?P<eh>\d{1,2})(?:[:.](?P<em>\d{2}))?(?:\s*"
    + _AMPM.replace("(?P<ap>", "(?P<eap>")
    + ")?)?"
)
# "kl. 17", "kl 17.30", "klokken 17", "at 6pm", "الساعة 6 مساء", "ሰዓት 6"
_RE_MARKED_TIME = re.compile(
    r"(?:^|\s)(?:kl\.?|klokken|at|@|الساعة|الساعه|ساعة|ሰዓት)\s*"
    + _CLOCK
    + r"(?:\s*"
    + _AMPM
    + r")?"
    + _END
    + r"(?=\s|$|,)"
)
# "17:00", "17.30" (not "3.12." which is a date), "6pm", "6 pm", "6 مساء"
_RE_BARE_TIME = re.compile(
    r"(?:^|\s)(?P<h>\d{1,2})(?:(?::(?P<m>\d{2}))|(?:\.(?P<m2>\d{2})(?!\.?\d)))"
    + r"(?:\s*"
    + _AMPM
    + r")?"
    + _END
    + r"(?=\s|$|,)"
)
_RE_AMPM_TIME = re.compile(r"(?:^|\s)(?P<h>\d{1,2})\s*" + _AMPM + _END + r"(?=\s|$|,)")
# series hook (time ranges): "2 إلى 4 مساء", "2-4 pm": the am/pm word only after the end.
_RE_RANGE_AMPM = re.compile(
    r"(?:^|\s)(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?:-|–|—|til|to|until|إلى|الى|حتى|ክሳብ)\s*(?P<eh>\d{1,2})"
    r"(?:[:.](?P<em>\d{2}))?\s*" + _AMPM.replace("(?P<ap>", "(?P<eap>") + r"(?=\s|$|,)"
)
_RE_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?:[t ](?P<h>\d{1,2}):(?P<m>\d{2})(?::\d{2})?)?"
)
# 3/12, 3/12/2026, 3/12-2026, 3.12., 3.12.2026, 03-12-2026
_RE_NUMERIC = re.compile(
    r"(?:^|\s)(?P<d>\d{1,2})(?:/(?P<mo>\d{1,2})(?:[/-](?P<y>\d{2,4}))?|\.(?P<mo2>\d{1,2})\.(?P<y2>\d{4}|\d{2}(?!\d))?"
    r"|-(?P<mo3>\d{1,2})-(?P<y3>\d{4}))(?=\s|$|,)"
)
_MONTH_ALT = "|".join(sorted((re.escape(k) for k in MONTHS), key=len, reverse=True))
_RE_DAY_MONTH = re.compile(
    r"(?:^|\s)(?P<d>\d{1,2})(?:\.|st|nd|rd|th)?\s*(?:of\s+)?(?P<mon>"
    + _MONTH_ALT
    + r")\.?(?:,?\s+(?P<y>\d{4}))?(?=\s|$|,)"
)
_RE_MONTH_DAY = re.compile(
    r"(?:^|\s)(?P<mon>"
    + _MONTH_ALT
    + r")\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{4}))?(?=\s|$|,)"
)


@dataclass(frozen=True)
class When:
    start: datetime
    end: datetime | None = None


def _bad(text: str) -> UserError:
    return UserError(
        N_("I could not read “{text}” as a date and time. Write it like this: {example}"),
        text=text[:60],
        example=Phrase(EXAMPLE),
    )


def _hour(h: int, ap: str | None) -> int:
    if not ap:
        return h
    ap = ap.strip()
    pm = ap in when_names.PM
    if h > 12:
        return h
    if pm and h < 12:
        return h + 12
    if not pm and h == 12:
        return 0
    return h


def _clock(h: str, m: str | None, ap: str | None) -> time | None:
    hour, minute = _hour(int(h), ap), int(m or 0)
    if hour == 24 and minute == 0:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def normalize(text: str) -> str:
    s = (
        text.translate(_DIGITS)
        .replace("،", ",")
        .replace("፣", ",")
        .replace("፡", " ")
        .replace("\u200f", "")
        .replace("\u200e", "")
    )
    s = s.replace("\u2068", "").replace("\u2069", "").replace("\u00a0", " ")
    s = re.sub(r"(\d)\s*h\b", r"\1:00", s)  # "18h"
    return re.sub(r"\s+", " ", s.strip().lower())


def _take(pattern: re.Pattern[str], s: str) -> tuple[re.Match[str] | None, str]:
    match = pattern.search(s)
    if not match:
        return None, s
    return match, (s[: match.start()] + " " + s[match.end() :]).strip()


def _extract_time(s: str) -> tuple[time | None, time | None, str, bool]:
    """The clock time (and an end time of a range) in `s`; returns the rest. The flag says a time
    was written but is impossible (25:00)."""
    for pattern in (_RE_MARKED_TIME, _RE_BARE_TIME, _RE_RANGE_AMPM, _RE_AMPM_TIME):
        match, rest = _take(pattern, s)
        if not match:
            continue
        g = match.groupdict()
        ap = g.get("ap")
        if not ap and g.get("eap") and g.get("eh") and int(g["h"]) <= int(g["eh"]):
            ap = g["eap"]  # series hook: "4:30-6:30 pm" is afternoon at both ends
        start = _clock(g["h"], g.get("m") or g.get("m2"), ap)
        if start is None:
            return None, None, rest, True
        end = None
        if g.get("eh"):
            end_ap = g.get("eap") or (g.get("ap") if g.get("ap") else None)
            end = _clock(g["eh"], g.get("em"), end_ap)
            if end is None:
                return None, None, rest, True
        return start, end, rest, False
    return None, None, s, False


def _year(y: str | None) -> int | None:
    if not y:
        return None
    value = int(y)
    return value + 2000 if value < 100 else value


def _day_from_parts(d: int, mo: int, y: int | None) -> tuple[int, int, int | None] | None:
    if not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return d, mo, y


def _extract_date(
    s: str, today: date
) -> tuple[date | None, tuple[int, int, int | None] | None, int | None, bool, str]:
    """Returns (exact date, (day, month, year?) without a known year, weekday, weekday is "next", rest)."""
    match, rest = _take(_RE_ISO, s)
    if match:
        try:
            return date(int(match["y"]), int(match["mo"]), int(match["d"])), None, None, False, rest
        except ValueError:
            return None, None, None, False, "\x00"
    for pattern in (_RE_NUMERIC, _RE_DAY_MONTH, _RE_MONTH_DAY):
        match, rest = _take(pattern, s)
        if not match:
            continue
        g = match.groupdict()
        if g.get("mon"):
            mo = MONTHS[g["mon"]]
            y = _year(g.get("y"))
        else:
            mo = int(g.get("mo") or g.get("mo2") or g.get("mo3") or 0)
            y = _year(g.get("y") or g.get("y2") or g.get("y3"))
        parts = _day_from_parts(int(g["d"]), mo, y)
        if parts is None:
            return None, None, None, False, "\x00"
        # A weekday written next to a date ("onsdag den 7. maj") is kept to check the date with.
        written = [WEEKDAYS[w.rstrip(".,")] for w in rest.split() if w.rstrip(".,") in WEEKDAYS]
        rest = " ".join(w for w in rest.split() if w.rstrip(".,") not in WEEKDAYS)
        return None, parts, written[0] if written else None, False, rest
    for phrase in sorted(RELATIVE_DAYS, key=len, reverse=True):
        m2 = re.search(r"(?:^|\s)" + re.escape(phrase) + r"(?=\s|$|,)", s)
        if m2:
            rest = (s[: m2.start()] + " " + s[m2.end() :]).strip()
            return today + timedelta(days=RELATIVE_DAYS[phrase]), None, None, False, rest
    words = s.split()
    for i, word in enumerate(words):
        key = word.rstrip(".,")
        if key in WEEKDAYS:
            before = " ".join(words[:i]) + " "
            after = " " + " ".join(words[i + 1 :])
            is_next = any(before.endswith(p) for p in (*NEXT_WORDS[:2], "next ", "kommende ")) or any(
                after.startswith(p) for p in NEXT_SUFFIXES
            )
            rest_words = words[:i] + words[i + 1 :]
            rest_words = [w for w in rest_words if w + " " not in NEXT_WORDS and " " + w not in NEXT_SUFFIXES]
            return None, None, WEEKDAYS[key], is_next, " ".join(rest_words)
    return None, None, None, False, s


def _localize(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """Wall-clock time in the zone, as UTC. A time skipped by the spring change (02:30) moves on
    by the gap, as a wall clock would; an ambiguous autumn time takes the first (summer) one."""
    # zoneinfo's fold=0 reads a skipped time with the winter offset (02:30 -> 03:30 summer time)
    # and an ambiguous one as the first occurrence: both what people mean.
    return datetime.combine(day, clock).replace(tzinfo=zone, fold=0).astimezone(UTC)


def _dateparser_fallback(s: str, zone: ZoneInfo, now_local: datetime, lang: str | None) -> datetime | None:
    """Other phrasings, through dateparser. Returns a naive local datetime, or None; raises when
    it found a date but no time."""
    import dateparser  # slow to import; only needed for unusual phrasings
    from dateparser.date import DateDataParser

    del dateparser
    languages = ["da", "en", "ar", "ti"]
    if lang in languages:
        languages.remove(lang)
        languages.insert(0, lang)
    parser = DateDataParser(
        languages=languages,
        settings={
            "RETURN_TIME_AS_PERIOD": True,
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": now_local.replace(tzinfo=None),
        },
    )
    try:
        data = parser.get_date_data(s)
    except Exception:
        return None
    if data.date_obj is None:
        return None
    if data.period != "time":
        raise UserError(
            N_("Please add a time to the date, like this: {example}"),
            example=Phrase(EXAMPLE),
        )
    return data.date_obj.replace(tzinfo=None, second=0, microsecond=0)


def parse_span(text: str, tz: str, now: datetime, lang: str | None = None) -> When:
    """Start (and end, for "17-19") of what the person wrote, as aware UTC datetimes."""
    if not text or not text.strip():
        raise UserError(N_("Please write a date and time, like this: {example}"), example=Phrase(EXAMPLE))
    try:
        zone = ZoneInfo(tz)
    except Exception:
        zone = ZoneInfo("Europe/Copenhagen")
    now_local = now.astimezone(zone)
    today = now_local.date()
    s = normalize(text)

    start_clock: time | None = None
    end_clock: time | None = None
    # A full ISO timestamp first: "2026-12-03 17:00", "2026-12-03T17:00".
    iso = _RE_ISO.search(s)
    if iso and iso["h"]:
        start_clock = _clock(iso["h"], iso["m"], None)
        if start_clock is None:
            raise _bad(text)
        after = s[iso.end() :]
        range_end = re.match(r"^\s*(?:-|–|—|til|to)\s*" + _CLOCK + r"\s*$", after)
        if range_end:
            end_clock = _clock(range_end["h"], range_end["m"], None)
            if end_clock is None:
                raise _bad(text)
            after = ""
        s = (s[: iso.start()] + f"{iso['y']}-{iso['mo']}-{iso['d']}" + after).strip()
    else:
        start_clock, end_clock, s, impossible = _extract_time(s)
        if impossible:
            raise _bad(text)

    exact, parts, weekday, is_next, rest = _extract_date(s, today)
    if rest == "\x00":
        raise _bad(text)
    leftover = [w for w in rest.split() if w not in FILLERS and w.rstrip(".,") not in FILLERS]

    local: datetime | None = None
    if leftover or (exact is None and parts is None and weekday is None and start_clock is None):
        # Not a form we know word by word: let dateparser try the whole text (without "kl.").
        cleaned = re.sub(r"\bkl\.?\s*(\d{1,2})[.](\d{2})\b", r"\1:\2", normalize(text))
        cleaned = re.sub(r"\bkl\.?\s*(\d{1,2})\b", r"\1:00", cleaned)
        cleaned = re.sub(r"\bklokken\s*(\d{1,2})\b", r"\1:00", cleaned)
        local = _dateparser_fallback(cleaned, zone, now_local, lang)
        if local is None:
            raise _bad(text)
        result = _localize(local.date(), local.time(), zone)
        if result <= now and not re.search(r"\d{4}", cleaned) and local.date() == today:
            # dateparser gave today for a weekday or time already passed; people mean the next one.
            result = _localize(
                local.date() + timedelta(days=7 if weekday is not None else 1), local.time(), zone
            )
        return _checked(When(result, None), text, now)

    if start_clock is None:
        raise UserError(N_("Please add a time to the date, like this: {example}"), example=Phrase(EXAMPLE))

    candidates: list[date] = []
    if exact is not None:
        candidates = [exact]
    elif parts is not None:
        d, mo, y = parts
        years = [y] if y is not None else [today.year, today.year + 1, today.year + 2]
        for year in years:
            try:
                candidates.append(date(year, mo, d))
            except ValueError:
                continue
        if not candidates:
            raise _bad(text)
    elif weekday is not None and parts is None:
        delta = (weekday - today.weekday()) % 7
        if is_next and delta == 0:
            delta = 7
        first = today + timedelta(days=delta)
        candidates = [first, first + timedelta(days=7)]
    else:
        candidates = [today, today + timedelta(days=1)]

    start = None
    for day in candidates:
        start = _localize(day, start_clock, zone)
        if start > now:
            break
    assert start is not None
    if parts is not None and weekday is not None and start.astimezone(zone).weekday() != weekday:
        raise UserError(
            N_("The weekday does not match the date in “{text}”. Please check it; for example: {example}"),
            text=text[:60],
            example=Phrase(EXAMPLE),
        )
    end = None
    if end_clock is not None:
        local_start = start.astimezone(zone)
        end_day = (
            local_start.date() if end_clock > local_start.time() else local_start.date() + timedelta(days=1)
        )
        end = _localize(end_day, end_clock, zone)
    return _checked(When(start, end), text, now)


def _checked(when: When, text: str, now: datetime) -> When:
    if when.start <= now:
        raise UserError(
            N_("“{text}” is in the past. Please give a future date and time, like this: {example}"),
            text=text[:60],
            example=Phrase(EXAMPLE),
        )
    if when.start - now > timedelta(days=MAX_AHEAD_DAYS):
        raise UserError(
            N_("“{text}” is too far ahead (more than five years). Write it like this: {example}"),
            text=text[:60],
            example=Phrase(EXAMPLE),
        )
    return when


def parse_when(text: str, tz: str, now: datetime, lang: str | None = None) -> datetime:
    """The start time the person wrote, as an aware UTC datetime in the future.

    Raises `UserError` (with an example) for an unreadable text, a date without a time, or a time
    that has passed."""
    return parse_span(text, tz, now, lang).start


def parse_end(text: str, start: datetime, tz: str) -> datetime:
    """An end time written on its own ("19", "19:30", "21.00") for an event starting at `start`."""
    s = normalize(text)
    match = re.fullmatch(r"(?:kl\.?\s*)?" + _CLOCK + r"(?:\s*" + _AMPM + r")?", s)
    clock = _clock(match["h"], match["m"], match["ap"]) if match else None
    if clock is None:
        raise UserError(N_("Write the end time like this: {example}"), example="19:00")
    zone = ZoneInfo(tz)
    local_start = start.astimezone(zone)
    day = local_start.date() if clock > local_start.time() else local_start.date() + timedelta(days=1)
    return _localize(day, clock, zone)
