"""Catalogues, language negotiation, Babel formatting and bidi isolation.

Messages use named `{placeholders}` filled after translation. `Translator._` and `Translator.n_`
HTML-escape every value (replies use HTML parse mode) and, for right-to-left languages, wrap each
value in Unicode isolates so Latin names, times and links keep their order inside Arabic text.
"""

from __future__ import annotations

import html
import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from bot.bidi import FSI as FSI
from bot.bidi import LRM, isolate_lines, rtl_block
from bot.bidi import PDI as PDI
from bot.bidi import isolate as isolate
from bot.render.text import neutralize

log = logging.getLogger(__name__)

# The source catalogues (.po) at the top of a checkout, where translators edit them.
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
# The compiled catalogues (.mo) that the build puts inside the package (setup.py): a wheel or an
# ordinary install reads these, from any folder. A checkout has none and uses LOCALES_DIR.
PACKAGE_LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
LANGUAGES: tuple[str, ...] = ("da", "ar", "ti", "en")
TRANSLATED: tuple[str, ...] = ("da", "ar", "ti")
RTL = frozenset({"ar"})
# Shown on the /language buttons, each in its own language.
LANGUAGE_NAMES = {"da": "Dansk", "ar": "العربية", "ti": "ትግርኛ", "en": "English"}
# Plural headers written into every catalogue (the i18n check insists on them). Babel's own Arabic
# header swaps CLDR's "many" and "other" slots (babel#816) and its Tigrinya one says n != 1; these
# follow CLDR: Arabic slots are 0 zero, 1 one, 2 two, 3 few (3-10), 4 many (11-99), 5 other (100-102…).
PLURAL_HEADERS = {
    "da": (2, "(n != 1)"),
    "ti": (2, "(n > 1)"),
    "ar": (
        6,
        "(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5)",
    ),
}


def normalize_language(code: str | None) -> str | None:
    """'da-DK' -> 'da'; unsupported or empty -> None."""
    if not code:
        return None
    short = code.replace("_", "-").split("-")[0].lower()
    return short if short in LANGUAGES else None


def negotiate(chosen: str | None, telegram_code: str | None, network_default: str | None) -> str:
    """Stored choice > Telegram's language_code if supported > the network's default > English."""
    for candidate in (chosen, telegram_code, network_default):
        lang = normalize_language(candidate)
        if lang:
            return lang
    return "en"


class Raw(str):
    """A placeholder value that is already safe HTML (not escaped again)."""

    __slots__ = ()


class Phrase(str):
    """A placeholder value that is itself a message (marked with `N_`): translated for the reader, so an
    example reads in their words."""

    __slots__ = ()


def _compile(po_path: Path) -> Translations:
    with po_path.open("rb") as f:
        catalog = read_po(f, locale=po_path.parent.parent.name, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


def compile_catalogues(locales_dir: Path = LOCALES_DIR) -> list[Path]:
    """Write .mo files next to the .po files that are newer than them (a checkout's run step; an
    installed package carries its .mo files already and has no .po files here)."""
    written = []
    for po_path in sorted(locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f, locale=po_path.parent.parent.name, domain=DOMAIN)
        with mo_path.open("wb") as out:
            write_mo(out, catalog, use_fuzzy=False)
        written.append(mo_path)
    return written


@cache
def _translations(lang: str) -> NullTranslations:
    if lang == "en":
        return NullTranslations()
    built = PACKAGE_LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if built.exists():
        with built.open("rb") as f:
            return Translations(f, domain=DOMAIN)
    po_path = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    mo_path = po_path.with_suffix(".mo")
    if mo_path.exists() and (not po_path.exists() or mo_path.stat().st_mtime >= po_path.stat().st_mtime):
        with mo_path.open("rb") as f:
            return Translations(f, domain=DOMAIN)
    if po_path.exists():
        # A checkout without a build step: compile in memory rather than showing English.
        return _compile(po_path)
    log.warning("no catalogue for %s", lang)
    return NullTranslations()


def reload_catalogues() -> None:
    _translations.cache_clear()
    get_translator.cache_clear()


@dataclass(frozen=True)
class Translator:
    lang: str
    _gt: NullTranslations = field(repr=False, compare=False)

    @property
    def rtl(self) -> bool:
        return self.lang in RTL

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.lang)

    def _fill(self, text: str, kw: dict[str, Any], escape: bool) -> str:
        if not kw:
            return rtl_block(text) if self.rtl else text
        values = {}
        for key, value in kw.items():
            is_id = key == "id" or key.endswith("_id")
            if isinstance(value, Phrase):
                value = self._gt.gettext(str(value))
            if isinstance(value, Raw):
                s = str(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                # Ids are written as typed in commands (/event_1200), never as "1.200"; counts are
                # formatted for the locale. Digits keep their order in RTL text without isolation.
                values[key] = str(value) if is_id else self.number(value)
                continue
            else:
                s = neutralize(str(value))  # no value may reorder or hide the text around it
                s = html.escape(s, quote=False) if escape else s
            if self.rtl and not (is_id or (s.isascii() and s.isdigit())):
                # An id (or any plain number) is never isolated: in "/event_{id}" an isolate would cut
                # the command Telegram links at the "_". Other values keep their own direction, each
                # line on its own (an isolate ends at a line break).
                s = isolate_lines(s) if "\n" in s else isolate(s)
            values[key] = s
        try:
            filled = text.format(**values)
        except (KeyError, IndexError, ValueError):
            # A broken translation must never break a reply: fall back to the source text.
            log.error("placeholder mismatch in %s catalogue for %r", self.lang, text[:40])
            filled = text
        # Every line reads right-to-left, even one that starts with a value, a number or a /command.
        return rtl_block(filled) if self.rtl else filled

    def own(self, text: str) -> str:
        """People's own words (a title, a place, a description, a name) inside a message: HTML-escaped,
        and in right-to-left languages isolated line by line so each keeps its own direction."""
        escaped = html.escape(neutralize(text), quote=False)
        return isolate_lines(escaped) if self.rtl else escaped

    def language_name(self, code: str) -> str:
        """A language's name in the reader's language ("الدانمركية" for Danish in Arabic)."""
        return _language_name(code, self.lang)

    def command(self, text: str) -> str:
        """A /command placed by code inside a line: in right-to-left languages a LEFT-TO-RIGHT MARK
        goes before it, so it reads and taps as written."""
        return LRM + text if self.rtl else text

    def lines(self, text: str) -> str:
        """Text built by code from pieces (card lines, lists): in right-to-left languages every line
        gets what it needs to read right-to-left."""
        return rtl_block(text) if self.rtl else text

    def _(self, message: str, **kw: Any) -> str:
        """Translate; placeholder values are HTML-escaped (and isolated in RTL)."""
        return self._fill(self._gt.gettext(message), kw, escape=True)

    def n_(self, singular: str, plural: str, n: int, **kw: Any) -> str:
        """Translate with the language's plural form; `{n}` is the formatted number."""
        kw.setdefault("n", n)
        return self._fill(self._gt.ngettext(singular, plural, n), kw, escape=True)

    def plain(self, message: str, **kw: Any) -> str:
        """Translate for plain-text places (button labels, popup answers): no HTML escaping."""
        return self._fill(self._gt.gettext(message), kw, escape=False)

    def nplain(self, singular: str, plural: str, n: int, **kw: Any) -> str:
        kw.setdefault("n", n)
        return self._fill(self._gt.ngettext(singular, plural, n), kw, escape=False)

    # --- formatting (Babel, reader's locale, network's timezone) ---
    def when(self, value: datetime, tz: str | tzinfo, fmt: str = "full_short") -> str:
        """A moment in the network's timezone, in the reader's locale (weekday, date and time)."""
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        if fmt == "full_short":
            # "tirsdag den 3. december 2026 17.00" – the weekday matters to people planning.
            d = format_date(value.astimezone(zone), format="full", locale=self.lang)
            t = format_time(value, format="short", tzinfo=zone, locale=self.lang)
            return f"{d} {t}"
        if fmt in ("short", "medium", "long"):
            # Babel's medium/long datetime formats show seconds; nobody plans a dinner to the second.
            d = format_date(value.astimezone(zone), format=fmt, locale=self.lang)
            return f"{d} {format_time(value, format='short', tzinfo=zone, locale=self.lang)}"
        return format_datetime(value, format=fmt, tzinfo=zone, locale=self.lang)

    def day(self, value: date | datetime, tz: str | tzinfo | None = None, fmt: str = "long") -> str:
        if isinstance(value, datetime) and tz is not None:
            value = value.astimezone(ZoneInfo(tz) if isinstance(tz, str) else tz)
        return format_date(value, format=fmt, locale=self.lang)

    def clock(self, value: datetime, tz: str | tzinfo) -> str:
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        return format_time(value, format="short", tzinfo=zone, locale=self.lang)

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.lang)


@cache
def _language_name(code: str, lang: str) -> str:
    try:
        return str(Locale.parse(code).get_display_name(lang) or code)
    except Exception:
        return code


@cache
def get_translator(lang: str | None) -> Translator:
    code = normalize_language(lang) or "en"
    return Translator(code, _translations(code))


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where the reader is known."""
    return message
