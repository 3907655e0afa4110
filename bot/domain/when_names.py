"""Month, weekday and am/pm names for reading times, taken from Babel's CLDR data: the same names the
bot shows (`Translator.when` formats with Babel), so display and parsing cannot drift apart.

Every language the bot speaks, wide and abbreviated, format and stand-alone forms. CLDR lacks some
names people write (other Arabic month names used in the Levant and the Maghreb, spellings without
hamza, "a.m.", "مساء"): those are kept here as IDIOMS, added to what CLDR gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from babel.dates import get_day_names, get_month_names, get_period_names

# Every language the bot speaks (bot.i18n.LANGUAGES), read in any of them.
LANGUAGES = ("da", "en", "ar", "ti")
_WIDTHS: tuple[Literal["wide", "abbreviated"], ...] = ("wide", "abbreviated")
_CONTEXTS: tuple[Literal["format", "stand-alone"], ...] = ("format", "stand-alone")

MONTH_IDIOMS: dict[int, tuple[str, ...]] = {
    1: ("كانون الثاني", "جانفي"),
    2: ("شباط", "فيفري"),
    3: ("mrt", "آذار", "اذار"),
    4: ("ابريل", "إبريل", "نيسان", "افريل"),
    5: ("أيار", "ايار", "ماي", "ግንቦት"),
    6: ("حزيران", "جوان"),
    7: ("تموز", "جويلية"),
    8: ("اغسطس", "آب", "اب", "أوت"),
    9: ("sept", "أيلول", "ايلول"),
    10: ("تشرين الأول", "تشرين الاول", "اكتوبر"),
    11: ("تشرين الثاني",),
    12: ("كانون الأول", "كانون الاول"),
}
WEEKDAY_IDIOMS: dict[int, tuple[str, ...]] = {
    0: ("man", "الإثنين", "اثنين"),
    1: ("tirs", "tir", "tues", "ثلاثاء"),
    2: ("ons", "الاربعاء", "اربعاء"),
    3: ("tors", "tor", "thurs", "خميس"),
    4: ("fre", "جمعة", "الجمعه"),
    5: ("lør", "lordag", "سبت"),
    6: ("søn", "sondag", "الاحد", "احد"),
}
AM_IDIOMS = ("a.m.", "صباحا", "صباحاً", "ንግሆ")
PM_IDIOMS = ("p.m.", "مساء", "مساءا", "ድሕሪ ቀትሪ")


def key(name: str) -> str:
    """A name as `when.normalize` leaves typed text: lower case, no final full stop, plain spaces."""
    return " ".join(name.replace("\u00a0", " ").replace("\u200f", "").lower().split()).rstrip(".")


def _table(names: Iterable[tuple[int, str]], idioms: dict[int, tuple[str, ...]]) -> dict[str, int]:
    table: dict[str, int] = {}
    clashes: set[str] = set()
    for number, name in [*names, *((n, i) for n, words in idioms.items() for i in words)]:
        k = key(name)
        if k in table and table[k] != number:
            clashes.add(k)
        table.setdefault(k, number)
    # A name that means two different things in two languages is not read at all.
    return {k: v for k, v in table.items() if k not in clashes and k}


def _cldr(getter: object) -> list[tuple[int, str]]:
    out = []
    for lang in LANGUAGES:
        for width in _WIDTHS:
            for context in _CONTEXTS:
                out.extend(getter(width, context, lang).items())  # type: ignore[operator]
    return out


MONTHS: dict[str, int] = _table(_cldr(get_month_names), MONTH_IDIOMS)
WEEKDAYS: dict[str, int] = _table(_cldr(get_day_names), WEEKDAY_IDIOMS)


def _periods(which: str) -> set[str]:
    names = set()
    for lang in LANGUAGES:
        for width in _WIDTHS:
            for context in _CONTEXTS:
                name = get_period_names(width, context, lang).get(which)
                if name:
                    names.add(name.lower())
                    names.add(name.lower().rstrip("."))  # "ድ.ቀ." is also written "ድ.ቀ"
    return names


AM: frozenset[str] = frozenset(_periods("am") | set(AM_IDIOMS))
PM: frozenset[str] = frozenset(_periods("pm") | set(PM_IDIOMS))


def alternation(words: Iterable[str]) -> str:
    """A regular-expression alternation, longest first (so "مساءً" wins over "م")."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))
