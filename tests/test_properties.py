"""Property tests: no input makes the date parser or the argument parsers crash; bad input is a
UserError (shown translated), good input gives an aware time in the future."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.errors import UserError
from bot.domain.when import parse_when
from handlers.common import split_fields
from handlers.network import parse_rules, parse_timezone

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ZONES = st.sampled_from(["Europe/Copenhagen", "UTC", "America/New_York", "Asia/Tokyo"])
LANGS = st.sampled_from([None, "da", "en", "ar", "ti"])
# Text people might write: dates, times, words in four scripts, punctuation, and plain noise.
PIECES = st.sampled_from(
    [
        "3.",
        "december",
        "kl.",
        "17",
        "17.30",
        "i morgen",
        "tomorrow",
        "6pm",
        "Dec",
        "2026-12-03",
        "tirsdag",
        "غدا",
        "الساعة",
        "ጽባሕ",
        ":",
        "/",
        "-",
        "|",
        " ",
        "0",
        "99",
        "2999",
        "1900",
        "31",
        "feb",
        "ካብ",
    ]
)
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(PIECES, max_size=12).map(" ".join),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, tz=ZONES, lang=LANGS)
def test_parse_when_never_crashes(text: str, tz: str, lang: str | None) -> None:
    try:
        when = parse_when(text, tz, NOW, lang)
    except UserError as err:
        assert err.message  # a message to show, with an example
        return
    assert when.tzinfo is not None and when > NOW


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=5000), n=st.integers(min_value=1, max_value=6))
def test_split_fields_is_total(text: str, n: int) -> None:
    fields = split_fields(text, n)
    assert all(isinstance(f, str) for f in fields)
    if not text:
        assert fields == []
        return
    # exactly one field per `|` up to n, the last keeping any further `|`; each field stripped
    assert len(fields) == min(n, text.count("|") + 1)
    assert fields == [f.strip() for f in fields]
    assert all("|" not in f for f in fields[:-1])
    if len(fields) < n:
        assert "|" not in fields[-1]
    # nothing but the separators used and blanks around fields is lost
    joined = "".join(fields)
    assert joined.count("|") == text.count("|") - (len(fields) - 1)
    kept = [c for c in joined if not c.isspace() and c != "|"]
    assert kept == [c for c in text if not c.isspace() and c != "|"]


def test_split_fields_examples() -> None:
    assert split_fields("", 3) == []
    assert split_fields("a", 3) == ["a"]
    assert split_fields(" a | b | c ", 3) == ["a", "b", "c"]
    assert split_fields("a | b | c | d", 3) == ["a", "b", "c | d"]
    assert split_fields("a || c", 2) == ["a", "| c"]
    assert split_fields(" | x", 2) == ["", "x"]
    assert split_fields("a | b", 1) == ["a | b"]


@settings(max_examples=200, deadline=None)
@given(
    text=st.one_of(st.text(max_size=200), st.lists(st.integers(-5, 200).map(str), max_size=6).map(" ".join))
)
def test_settings_arguments_are_refused_clearly_or_valid(text: str) -> None:
    try:
        deadline, final, due, objection = parse_rules(text)
    except UserError as err:
        assert err.message
    else:
        assert 1 <= final < deadline <= 90 and 1 <= due <= 60 and 1 <= objection <= 60
    try:
        zone = parse_timezone(text)
    except UserError as err:
        assert err.message
    else:
        assert zone.lower() == text.strip().lower()
