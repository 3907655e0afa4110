"""Catalogues complete and correct; negotiation order; Babel formatting; bidi isolation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from bot import i18n_tools
from bot.i18n import FSI, PDI, get_translator, negotiate, normalize_language


def test_catalogues_complete_and_in_the_right_script() -> None:
    problems = i18n_tools.check()
    assert problems == [], "\n".join(problems[:40])


def test_check_catches_broken_translations(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Build a tiny catalogue set with typical mistakes and check that each is reported.
    import shutil

    locales = tmp_path / "locales"
    shutil.copytree(i18n_tools.LOCALES_DIR, locales)
    monkeypatch.setattr(i18n_tools, "LOCALES_DIR", locales)
    monkeypatch.setattr(i18n_tools, "POT", locales / "messages.pot")
    path = locales / "ar" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale="ar")
    target = next(m for m in catalog if isinstance(m.id, str) and "{name}" in m.id)
    target.string = "Welcome {nom}"  # English left, placeholder renamed
    from babel.messages.pofile import write_po

    with path.open("wb") as f:
        write_po(f, catalog)
    problems = "\n".join(i18n_tools.check(("ar",)))
    assert "placeholders differ" in problems and "right script" in problems


@pytest.mark.parametrize(
    ("lang", "counts"),
    [
        ("ar", {0: 0, 1: 1, 2: 2, 3: 3, 10: 3, 11: 4, 99: 4, 100: 5, 102: 5, 103: 3}),
        ("ti", {0: 0, 1: 0, 2: 1, 5: 1}),
        ("da", {0: 1, 1: 0, 2: 1}),
    ],
)
def test_plural_slots_follow_cldr(lang: str, counts: dict[int, int]) -> None:
    t = get_translator(lang)
    plural = t._gt.plural  # type: ignore[attr-defined]
    for n, slot in counts.items():
        assert plural(n) == slot, (lang, n)


DEADLINE_ONE, DEADLINE_MANY = (
    "Agenda items due {n} day before a meeting",
    "Agenda items due {n} days before a meeting",
)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "ar",  # zero, one, two, few (3-10), many (11-99), other (100+): six forms, each its own words
            {
                0: "آخر موعد لبنود جدول الأعمال: 0 يوم قبل الاجتماع",
                1: "آخر موعد لبنود جدول الأعمال: يوم واحد قبل الاجتماع",
                2: "آخر موعد لبنود جدول الأعمال: يومان قبل الاجتماع",
                5: "آخر موعد لبنود جدول الأعمال: 5 أيام قبل الاجتماع",
                11: "آخر موعد لبنود جدول الأعمال: 11 يومًا قبل الاجتماع",
                100: "آخر موعد لبنود جدول الأعمال: 100 يوم قبل الاجتماع",
            },
        ),
        (
            "da",
            {
                0: "Frist for dagsordenspunkter: 0 dage før et møde",
                1: "Frist for dagsordenspunkter: 1 dag før et møde",
                2: "Frist for dagsordenspunkter: 2 dage før et møde",
                10: "Frist for dagsordenspunkter: 10 dage før et møde",
            },
        ),
        (
            "ti",  # 0 and 1 singular
            {
                0: "ቀነ-ገደብ ነጥብታት ኣጀንዳ፦ 0 መዓልቲ ቅድሚ ኣኼባ",
                1: "ቀነ-ገደብ ነጥብታት ኣጀንዳ፦ 1 መዓልቲ ቅድሚ ኣኼባ",
                2: "ቀነ-ገደብ ነጥብታት ኣጀንዳ፦ 2 መዓልታት ቅድሚ ኣኼባ",
                11: "ቀነ-ገደብ ነጥብታት ኣጀንዳ፦ 11 መዓልታት ቅድሚ ኣኼባ",
            },
        ),
    ],
)
def test_plural_messages_use_the_right_form(lang: str, expected: dict[int, str]) -> None:
    t = get_translator(lang)
    assert {n: t.n_(DEADLINE_ONE, DEADLINE_MANY, n) for n in expected} == expected


def test_negotiation_order() -> None:
    assert negotiate("ar", "da", "ti") == "ar"
    assert negotiate(None, "da-DK", "ti") == "da"
    assert negotiate(None, "de", "ti") == "ti"
    assert negotiate(None, "de", None) == "en"
    assert normalize_language("pt-BR") is None


def test_arabic_isolates_latin_pieces_and_escapes_html() -> None:
    ar = get_translator("ar")
    text = ar._("Welcome, {name}!", name="<Anna>")
    assert f"{FSI}&lt;Anna&gt;{PDI}" in text
    da = get_translator("da")
    assert FSI not in da._("Welcome, {name}!", name="Anna")


def test_dates_in_reader_locale_and_network_timezone() -> None:
    moment = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # 17:00 in Copenhagen (winter)
    assert get_translator("da").when(moment, "Europe/Copenhagen") == "torsdag den 3. december 2026 17.00"
    assert "ديسمبر" in get_translator("ar").when(moment, "Europe/Copenhagen")
    assert "ታሕሳስ" in get_translator("ti").when(moment, "Europe/Copenhagen")
    summer = datetime(2027, 6, 3, 15, 0, tzinfo=UTC)  # 17:00 in Copenhagen (summer)
    assert get_translator("da").clock(summer, "Europe/Copenhagen") == "17.00"


def test_ids_stay_typable_and_counts_are_localised() -> None:
    # An id inside a command must stay one clickable token, even in Arabic and with thousands.
    for lang in ("da", "ar", "ti", "en"):
        t = get_translator(lang)
        line = t._(
            "• {when} — <b>{title}</b>, {place} (/event_{id})", when="x", title="y", place="z", id=1200
        )
        assert "/event_1200" in line, (lang, line)
    assert get_translator("da").number(1200) == "1.200"


def test_check_finds_messages_pybabel_cannot_see(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bot").mkdir()
    (tmp_path / "handlers").mkdir()
    (tmp_path / "bot" / "page.py").write_text(
        "def page(t):\n    return f\"<p>{t._('Hidden in an f-string')}</p>\"\n"
    )
    monkeypatch.setattr(i18n_tools, "ROOT", tmp_path)
    assert i18n_tools.used_in_code() == {"Hidden in an f-string": "bot/page.py:2"}
    problems = i18n_tools.check(("da",))
    assert any("Hidden in an f-string" in p and "bot/page.py:2" in p for p in problems)
