"""Every date the bot shows, in every language and format, can be typed back to the same moment; the
names it reads are CLDR's, the ones it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import get_day_names, get_month_names
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.domain import when_names
from bot.domain.when import parse_when
from bot.i18n import get_translator

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LANGS = ("da", "ar", "ti", "en")
# t.when's full form (cards, reminders, notices) and the shorter ones (the /events list uses medium).
FORMATS = ("full_short", "long", "medium")
ZONES = ("Europe/Copenhagen", "Africa/Asmara", "America/New_York", "UTC")


def _unambiguous(moment: datetime, zone: ZoneInfo) -> bool:
    """The wall-clock time shown names one moment (not the repeated hour when summer time ends)."""
    local = moment.astimezone(zone).replace(tzinfo=None)
    return all(local.replace(tzinfo=zone, fold=fold).astimezone(UTC) == moment for fold in (0, 1))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    minutes=st.integers(min_value=60, max_value=4 * 365 * 24 * 60),
    lang=st.sampled_from(LANGS),
    fmt=st.sampled_from(FORMATS),
    tz=st.sampled_from(ZONES),
)
def test_every_shown_date_types_back(minutes: int, lang: str, fmt: str, tz: str) -> None:
    moment = NOW + timedelta(minutes=minutes)
    assume(_unambiguous(moment, ZoneInfo(tz)))
    shown = get_translator(lang).when(moment, tz, fmt)
    assert parse_when(shown, tz, NOW, lang) == moment, (shown, moment)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_month_as_shown(lang: str, fmt: str) -> None:
    """All twelve months (and so every month name and abbreviation the formats use), at 9:30 and 21:30."""
    for month in range(1, 13):
        for hour in (9, 21):
            moment = datetime(2027, month, 14, hour, 30, tzinfo=UTC)
            shown = get_translator(lang).when(moment, "UTC", fmt)
            assert parse_when(shown, "UTC", NOW, lang) == moment, shown


def test_parsing_reads_the_names_babel_shows() -> None:
    for lang in LANGS:
        for width in ("wide", "abbreviated"):
            for context in ("format", "stand-alone"):
                for number, name in get_month_names(width, context, lang).items():
                    assert when_names.MONTHS[when_names.key(name)] == number, (lang, name)
                for number, name in get_day_names(width, context, lang).items():
                    assert when_names.WEEKDAYS[when_names.key(name)] == number, (lang, name)
    # Idioms CLDR lacks are kept.
    assert when_names.MONTHS["كانون الأول"] == 12 and when_names.WEEKDAYS["الاحد"] == 6
    assert "ድ.ቀ." in when_names.PM and "ص" in when_names.AM and "مساء" in when_names.PM


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A Tigrinya phrasing our own rules do not read ("ሰዓት" after the time) goes to dateparser, which
        # is asked in Tigrinya too.
        ("ታሕሳስ 3 17:00 ሰዓት", datetime(2026, 12, 3, 16, 0, tzinfo=UTC)),
        ("ታሕሳስ 3 2026 5:00 ድ.ቀ.", datetime(2026, 12, 3, 16, 0, tzinfo=UTC)),
        ("ሓሙስ 3 ታሕሳስ 2026 17:00", datetime(2026, 12, 3, 16, 0, tzinfo=UTC)),
        ("ጽባሕ ሰዓት 17", datetime(2026, 11, 24, 16, 0, tzinfo=UTC)),
        ("غدا الساعة 6 مساء", datetime(2026, 11, 24, 17, 0, tzinfo=UTC)),
        ("i morgen kl. 17", datetime(2026, 11, 24, 16, 0, tzinfo=UTC)),
    ],
)
def test_tigrinya_and_idioms(text: str, expected: datetime) -> None:
    assert parse_when(text, "Europe/Copenhagen", NOW, "ti") == expected
