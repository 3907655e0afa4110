"""parse_when: the forms people really write, in the network's timezone, DST-correct."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.errors import UserError
from bot.domain.when import parse_end, parse_span, parse_when
from bot.i18n import get_translator

CPH = "Europe/Copenhagen"
Z = ZoneInfo(CPH)
# Sunday 1 March 2026, 10:00 in Copenhagen (winter time, UTC+1).
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def wall(value: datetime, tz: str = CPH) -> tuple[int, int, int, int, int]:
    v = value.astimezone(ZoneInfo(tz))
    return (v.year, v.month, v.day, v.hour, v.minute)


def local(text: str, now: datetime = NOW, tz: str = CPH) -> tuple[int, int, int, int, int]:
    value = parse_when(text, tz, now)
    assert value.tzinfo is not None
    assert value.utcoffset() == UTC.utcoffset(None)
    return wall(value, tz)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ISO
        ("2026-12-03 17:00", (2026, 12, 3, 17, 0)),
        ("2026-12-03T17:00", (2026, 12, 3, 17, 0)),
        ("2026-06-03 kl. 9", (2026, 6, 3, 9, 0)),
        # Danish
        ("3. december kl. 17", (2026, 12, 3, 17, 0)),
        ("3. December kl. 17.30", (2026, 12, 3, 17, 30)),
        ("den 3. december 2026 kl. 17", (2026, 12, 3, 17, 0)),
        ("3/12 kl. 17.30", (2026, 12, 3, 17, 30)),
        ("3/12-2026 kl. 17", (2026, 12, 3, 17, 0)),
        ("3.12. kl. 17", (2026, 12, 3, 17, 0)),
        ("3.12.2026 kl 17", (2026, 12, 3, 17, 0)),
        ("tirsdag kl. 17.30", (2026, 3, 3, 17, 30)),
        ("Tirsdag kl. 17:30", (2026, 3, 3, 17, 30)),
        ("i morgen 18:00", (2026, 3, 2, 18, 0)),
        ("i morgen kl. 18", (2026, 3, 2, 18, 0)),
        ("i overmorgen kl. 18", (2026, 3, 3, 18, 0)),
        ("næste tirsdag kl 17", (2026, 3, 3, 17, 0)),
        ("onsdag den 7. maj kl. 17-19", None),  # 7 May 2026 is a Thursday: refused below
        ("torsdag den 7. maj kl. 17-19", (2026, 5, 7, 17, 0)),
        ("i dag kl. 16", (2026, 3, 1, 16, 0)),
        ("klokken 18 i morgen", (2026, 3, 2, 18, 0)),
        # English
        ("tomorrow 6pm", (2026, 3, 2, 18, 0)),
        ("tomorrow at 6 pm", (2026, 3, 2, 18, 0)),
        ("Dec 3 17:00", (2026, 12, 3, 17, 0)),
        ("December 3, 2026 5:30pm", (2026, 12, 3, 17, 30)),
        ("3rd of December at 5pm", (2026, 12, 3, 17, 0)),
        ("next tuesday 18:00", (2026, 3, 3, 18, 0)),
        ("friday 12pm", (2026, 3, 6, 12, 0)),
        ("friday 12am", (2026, 3, 6, 0, 0)),
        # Arabic, Arabic-Indic digits
        ("غدا الساعة 6 مساء", (2026, 3, 2, 18, 0)),
        ("غداً الساعة ٦ مساءً", (2026, 3, 2, 18, 0)),
        ("3 ديسمبر 17:00", (2026, 12, 3, 17, 0)),
        ("٣ ديسمبر ١٧:٠٠", (2026, 12, 3, 17, 0)),
        ("بعد غد الساعة 10 صباحا", (2026, 3, 3, 10, 0)),
        ("الثلاثاء القادم الساعة 17:30", (2026, 3, 3, 17, 30)),
        ("3 كانون الأول 17:00", (2026, 12, 3, 17, 0)),
        # Tigrinya weekday
        ("ሰሉስ 17:00", (2026, 3, 3, 17, 0)),
        # A bare time: the next occurrence
        ("18:00", (2026, 3, 1, 18, 0)),
        ("09:00", (2026, 3, 2, 9, 0)),
    ],
)
def test_forms(text: str, expected: tuple[int, ...] | None) -> None:
    if expected is None:
        with pytest.raises(UserError):
            parse_when(text, CPH, NOW)
        return
    assert local(text) == expected


def test_without_year_takes_next_future_occurrence() -> None:
    # 1 February has passed on 1 March 2026: next year's.
    assert local("1. februar kl. 12") == (2027, 2, 1, 12, 0)
    # Later today is today; earlier today is next year for a dated form.
    assert local("1. marts kl. 18") == (2026, 3, 1, 18, 0)
    assert local("1. marts kl. 8") == (2027, 3, 1, 8, 0)


def test_weekday_today_and_next() -> None:
    # NOW is a Sunday 10:00: "søndag kl. 18" is today, "søndag kl. 8" a week later,
    # "næste søndag" never today.
    assert local("søndag kl. 18") == (2026, 3, 1, 18, 0)
    assert local("søndag kl. 8") == (2026, 3, 8, 8, 0)
    assert local("næste søndag kl. 18") == (2026, 3, 8, 18, 0)
    assert local("next sunday 18:00") == (2026, 3, 8, 18, 0)


def test_ranges_give_an_end() -> None:
    span = parse_span("søndag den 25. oktober kl. 11-16", CPH, NOW)
    assert wall(span.start) == (2026, 10, 25, 11, 0)
    assert span.end is not None
    assert wall(span.end) == (2026, 10, 25, 16, 0)
    assert (span.end - span.start).total_seconds() == 5 * 3600
    # 01..04 across the autumn change (the clock goes back at 03:00): four hours, not three.
    span = parse_span("25/10 kl. 1-4", CPH, NOW)
    assert span.end is not None
    assert (span.end - span.start).total_seconds() == 4 * 3600
    span = parse_span("3/12 kl. 16.30 – 18.30", CPH, NOW)
    assert span.end is not None and span.end.astimezone(Z).hour == 18
    span = parse_span("2026-12-03 17:00-19:00", CPH, NOW)
    assert span.end is not None and span.end.astimezone(Z).hour == 19
    assert parse_span("2026-12-03 17:00", CPH, NOW).end is None
    span = parse_span("3/12 kl. 22-1", CPH, NOW)  # past midnight: next day
    assert span.end is not None and span.end.astimezone(Z).day == 4


def test_dst_offsets() -> None:
    # Winter: UTC+1, summer: UTC+2; the same wall-clock time gives different UTC.
    assert parse_when("3/12 kl. 17", CPH, NOW) == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    assert parse_when("3/6 kl. 17", CPH, NOW) == datetime(2026, 6, 3, 15, 0, tzinfo=UTC)
    # The day after the spring change, read before it.
    assert parse_when("30/3 kl. 17", CPH, NOW) == datetime(2026, 3, 30, 15, 0, tzinfo=UTC)
    # A time skipped by the spring change (02:30 on 29 March) moves on with the clock.
    assert local("29/3 kl. 2.30") == (2026, 3, 29, 3, 30)
    # An ambiguous autumn time is the first one (summer time).
    assert parse_when("25/10 kl. 2.30", CPH, NOW) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_other_timezone() -> None:
    assert parse_when("3/12 kl. 17", "America/New_York", NOW) == datetime(2026, 12, 3, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "blah",
        "næste år engang",
        "kl. 25",
        "31/2 kl. 17",
        "13/13 kl. 17",
        "3. december",  # no time
        "i overmorgen",  # no time
        "tomorrow",
        "7. september 2017 kl. 17.00 til 19.00",  # past
        "2026-02-01 10:00",  # past
        "i dag kl. 9",  # earlier today
        "i går kl. 17",
        "yesterday 6pm",
        "2099-01-01 10:00",  # too far ahead
        "onsdag den 7. maj kl. 17",  # weekday does not match the date
    ],
)
def test_refused_with_example(text: str) -> None:
    with pytest.raises(UserError) as info:
        parse_when(text, CPH, NOW)
    assert "{example}" in info.value.message
    # The example is shown in the reader's words.
    assert "kl. 17" in get_translator("da").plain(info.value.message, **info.value.params)


def test_past_message_differs_from_unreadable() -> None:
    with pytest.raises(UserError) as past:
        parse_when("2026-02-01 10:00", CPH, NOW)
    with pytest.raises(UserError) as unreadable:
        parse_when("blah", CPH, NOW)
    with pytest.raises(UserError) as no_time:
        parse_when("3. december", CPH, NOW)
    assert len({past.value.message, unreadable.value.message, no_time.value.message}) == 3


def test_parse_end() -> None:
    start = parse_when("3/12 kl. 17", CPH, NOW)
    assert parse_end("19", start, CPH).astimezone(Z).hour == 19
    assert parse_end("kl. 19.30", start, CPH).astimezone(Z).minute == 30
    assert parse_end("01:00", start, CPH).astimezone(Z).day == 4
    with pytest.raises(UserError):
        parse_end("soon", start, CPH)


@pytest.mark.parametrize("lang", ["da", "ar", "ti", "en"])
@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 3, 16, 0, tzinfo=UTC),  # winter, 17:00 in Copenhagen
        datetime(2027, 6, 15, 7, 30, tzinfo=UTC),  # summer morning, 09:30
        datetime(2027, 3, 28, 13, 0, tzinfo=UTC),  # the day summer time begins, 15:00
    ],
)
def test_a_date_as_the_bot_shows_it_can_be_typed_back(lang: str, moment: datetime) -> None:
    """People copy the date from a card into a command: every language's own format reads back."""
    from bot.i18n import get_translator

    shown = get_translator(lang).when(moment, "Europe/Copenhagen")
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert parse_when(shown, "Europe/Copenhagen", now, lang) == moment, shown
