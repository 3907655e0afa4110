"""Repeat rules and time ranges as people write them, in da, en, ar and ti (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.db import models as m
from bot.domain import recurrence as rr
from bot.domain.errors import UserError
from bot.domain.when import parse_span
from bot.i18n import get_translator
from bot.render.series import rhythm

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday in winter
TZ = "Europe/Copenhagen"
H2 = timedelta(hours=2)


@pytest.mark.parametrize(
    ("text", "rule", "start", "duration"),
    [
        (
            "hver torsdag kl. 16.30-18.30",
            "FREQ=WEEKLY;BYDAY=TH",
            datetime(2026, 11, 26, 15, 30, tzinfo=UTC),
            H2,
        ),
        (
            "every Thursday 16:30-18:30",
            "FREQ=WEEKLY;BYDAY=TH",
            datetime(2026, 11, 26, 15, 30, tzinfo=UTC),
            H2,
        ),
        (
            "كل خميس الساعة 16:30-18:30",
            "FREQ=WEEKLY;BYDAY=TH",
            datetime(2026, 11, 26, 15, 30, tzinfo=UTC),
            H2,
        ),
        (
            "كل خميس من 4:30 إلى 6:30 مساء",
            "FREQ=WEEKLY;BYDAY=TH",
            datetime(2026, 11, 26, 15, 30, tzinfo=UTC),
            H2,
        ),
        ("ኩሉ ሓሙስ ሰዓት 16:30-18:30", "FREQ=WEEKLY;BYDAY=TH", datetime(2026, 11, 26, 15, 30, tzinfo=UTC), H2),
        ("ኩሉ ሓሙስ ካብ 16:30 ክሳብ 18:30", "FREQ=WEEKLY;BYDAY=TH", datetime(2026, 11, 26, 15, 30, tzinfo=UTC), H2),
        (
            "hver anden tirsdag kl. 17",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            datetime(2026, 11, 24, 16, tzinfo=UTC),
            None,
        ),
        (
            "every other Tuesday 17:00",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            datetime(2026, 11, 24, 16, tzinfo=UTC),
            None,
        ),
        (
            "كل أسبوعين يوم الثلاثاء الساعة 17:00",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            datetime(2026, 11, 24, 16, tzinfo=UTC),
            None,
        ),
        (
            "ኣብ ነፍሲ ወከፍ ክልተ ሰሙን ሰሉስ ሰዓት 17:00",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
            datetime(2026, 11, 24, 16, tzinfo=UTC),
            None,
        ),
        (
            "every 2 weeks from 3 December 17:00",
            "FREQ=WEEKLY;INTERVAL=2",
            datetime(2026, 12, 3, 16, tzinfo=UTC),
            None,
        ),
        (
            "første søndag i måneden kl. 13",
            "FREQ=MONTHLY;BYDAY=1SU",
            datetime(2026, 12, 6, 12, tzinfo=UTC),
            None,
        ),
        (
            "first Sunday of the month 13:00",
            "FREQ=MONTHLY;BYDAY=1SU",
            datetime(2026, 12, 6, 12, tzinfo=UTC),
            None,
        ),
        (
            "أول أحد من كل شهر الساعة 13:00",
            "FREQ=MONTHLY;BYDAY=1SU",
            datetime(2026, 12, 6, 12, tzinfo=UTC),
            None,
        ),
        (
            "الأحد الأول من كل شهر الساعة 1 مساء",
            "FREQ=MONTHLY;BYDAY=1SU",
            datetime(2026, 12, 6, 12, tzinfo=UTC),
            None,
        ),
        (
            "ቀዳማይ ሰንበት ናይ ነፍሲ ወከፍ ወርሒ ሰዓት 13:00",
            "FREQ=MONTHLY;BYDAY=1SU",
            datetime(2026, 12, 6, 12, tzinfo=UTC),
            None,
        ),
        (
            "sidste fredag i måneden kl. 17",
            "FREQ=MONTHLY;BYDAY=-1FR",
            datetime(2026, 11, 27, 16, tzinfo=UTC),
            None,
        ),
        (
            "den 15. i måneden kl. 18",
            "FREQ=MONTHLY;BYMONTHDAY=15",
            datetime(2026, 12, 15, 17, tzinfo=UTC),
            None,
        ),
        ("månedlig fra 3. december kl. 17", "FREQ=MONTHLY", datetime(2026, 12, 3, 16, tzinfo=UTC), None),
        (
            "hver 3. måned fra 6. april kl. 17",
            "FREQ=MONTHLY;INTERVAL=3",
            datetime(2027, 4, 6, 15, tzinfo=UTC),
            None,
        ),
        (
            "every 3 months from 6 April 17:00",
            "FREQ=MONTHLY;INTERVAL=3",
            datetime(2027, 4, 6, 15, tzinfo=UTC),
            None,
        ),
        (
            "hver torsdag kl. 16.30 indtil 30. juni",
            "FREQ=WEEKLY;BYDAY=TH;UNTIL=20270630T235959",
            datetime(2026, 11, 26, 15, 30, tzinfo=UTC),
            None,
        ),
        (
            "every Thursday 17:00 until 1 March",
            "FREQ=WEEKLY;BYDAY=TH;UNTIL=20270301T235959",
            datetime(2026, 11, 26, 16, tzinfo=UTC),
            None,
        ),
        (
            "hver torsdag kl. 17 10 gange",
            "FREQ=WEEKLY;BYDAY=TH;COUNT=10",
            datetime(2026, 11, 26, 16, tzinfo=UTC),
            None,
        ),
        (
            "hver tirsdag og torsdag kl. 17",
            "FREQ=WEEKLY;BYDAY=TU,TH",
            datetime(2026, 11, 24, 16, tzinfo=UTC),
            None,
        ),
        ("كل أحد من 2 إلى 4 مساء", "FREQ=WEEKLY;BYDAY=SU", datetime(2026, 11, 29, 13, tzinfo=UTC), H2),
    ],
)
def test_rules(text: str, rule: str, start: datetime, duration: timedelta | None) -> None:
    repeat = rr.parse_repeat(text, TZ, NOW)
    assert repeat is not None
    assert (repeat.rule, repeat.start, repeat.duration) == (rule, start, duration)


@pytest.mark.parametrize("text", ["3. december kl. 17", "kl. 17-19", "tomorrow 6pm", "غدا الساعة 6 مساء"])
def test_single_times_do_not_repeat(text: str) -> None:
    assert rr.parse_repeat(text, TZ, NOW) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hver blåmandag kl. 17", "could not read"),
        ("hver torsdag", "add a time"),
        ("hver torsdag kl. 17 indtil 24. november 2026", "no date in the future"),
        ("hver torsdag kl. 17 fra 3. december indtil 1. december", "end date comes before"),
        ("hver torsdag kl. 17 indtil 1. januar 2029", "more than two years"),
        ("every Thursday 17:00 500 times", "more than two years"),
    ],
)
def test_bad_rules(text: str, message: str) -> None:
    with pytest.raises(UserError) as err:
        rr.parse_repeat(text, TZ, NOW)
    assert message in err.value.message


def test_expansion_keeps_the_wall_clock_across_dst() -> None:
    repeat = rr.parse_repeat("hver torsdag kl. 16.30-18.30", TZ, NOW)
    assert repeat is not None
    starts = rr.expand(repeat.rule, repeat.start, TZ, before=datetime(2027, 4, 10, tzinfo=UTC))
    # 16.30 in Copenhagen is 15.30 UTC in winter and 14.30 UTC from 28 March 2027.
    assert starts[-3:] == [
        datetime(2027, 3, 25, 15, 30, tzinfo=UTC),
        datetime(2027, 4, 1, 14, 30, tzinfo=UTC),
        datetime(2027, 4, 8, 14, 30, tzinfo=UTC),
    ]
    assert rr.occurrence_end(starts[-2], 120, TZ) == datetime(2027, 4, 1, 16, 30, tzinfo=UTC)
    assert (
        rr.ical_rule("FREQ=WEEKLY;BYDAY=TH;UNTIL=20270630T235959", TZ)
        == "FREQ=WEEKLY;BYDAY=TH;UNTIL=20270630T215959Z"
    )


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("3. december 16.30-18.30", (15, 30), (17, 30)),
        ("3. december 16:30–18:30", (15, 30), (17, 30)),
        ("3. december kl. 17-19", (16, 0), (18, 0)),
        ("3. december fra 16.30 til 18.30", (15, 30), (17, 30)),
        ("Dec 3 from 4:30 to 6:30 pm", (15, 30), (17, 30)),
        ("3 ديسمبر الساعة 4:30-6:30 مساء", (15, 30), (17, 30)),
        ("3 ديسمبر من 4:30 إلى 6:30 مساء", (15, 30), (17, 30)),
        ("3 ታሕሳስ ሰዓት 16:30-18:30", (15, 30), (17, 30)),
        ("3 ታሕሳስ ካብ 16:30 ክሳብ 18:30", (15, 30), (17, 30)),
        ("3 ديسمبر من 2 إلى 4 مساء", (13, 0), (15, 0)),
        ("3 ታሕሳስ ካብ 2 ክሳብ 4 ድ.ቀ.", (13, 0), (15, 0)),
        ("Dec 3 2-4pm", (13, 0), (15, 0)),
    ],
)
def test_time_ranges(text: str, start: tuple[int, int], end: tuple[int, int]) -> None:
    span = parse_span(text, TZ, NOW)
    assert span.start == datetime(2026, 12, 3, *start, tzinfo=UTC)
    assert span.end == datetime(2026, 12, 3, *end, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rule", "lang", "text"),
    [
        ("FREQ=WEEKLY;BYDAY=TH", "da", "hver torsdag"),
        ("FREQ=WEEKLY;BYDAY=TH", "en", "every Thursday"),
        ("FREQ=WEEKLY;BYDAY=TH", "ti", "ነፍሲ ወከፍ ሓሙስ"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", "da", "hver 2. uge, tirsdag"),
        ("FREQ=MONTHLY;BYDAY=1SU", "da", "første søndag i måneden"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "en", "the last Friday of every month"),
        ("FREQ=MONTHLY;INTERVAL=3", "da", "den 26. hver 3. måned"),
        ("FREQ=WEEKLY;BYDAY=TH;UNTIL=20270630T235959", "da", "hver torsdag indtil 30. juni 2027"),
    ],
)
def test_rhythm_in_words(rule: str, lang: str, text: str) -> None:
    series = m.Series(rrule=rule, dtstart=datetime(2026, 11, 26, 15, 30, tzinfo=UTC), timezone=TZ)
    assert rhythm(series, get_translator(lang)) == text


def test_rhythm_in_arabic_reads_right_to_left() -> None:
    series = m.Series(
        rrule="FREQ=WEEKLY;BYDAY=TH", dtstart=datetime(2026, 11, 26, 15, 30, tzinfo=UTC), timezone=TZ
    )
    text = rhythm(series, get_translator("ar"))
    assert text.startswith("كل يوم") and "الخميس" in text


def test_date_list() -> None:
    dates = rr.parse_date_list("17. maj, 30. august og 22. november kl. 16.30", TZ, NOW)
    assert dates == [
        datetime(2027, 5, 17, 14, 30, tzinfo=UTC),
        datetime(2027, 8, 30, 14, 30, tzinfo=UTC),
        datetime(2027, 11, 22, 15, 30, tzinfo=UTC),
    ]
    assert rr.parse_date_list("17. maj kl. 16.30", TZ, NOW) is None
