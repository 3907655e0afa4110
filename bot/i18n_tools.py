"""Catalogue workflow: extract -> messages.pot, update -> da/ar/ti .po, check -> 100% or fail.

`check` fails on a missing, empty or fuzzy translation, a placeholder or HTML tag that differs from
the source, a wrong plural header, or a translation in the wrong script (Arabic must be in Arabic
script, Tigrinya in Ge'ez, Danish must not be the English left as it was).
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

from bot.bidi import bare_commands
from bot.i18n import DOMAIN, LOCALES_DIR, PLURAL_HEADERS, RTL, TRANSLATED

ROOT = LOCALES_DIR.parent
POT = LOCALES_DIR / f"{DOMAIN}.pot"
KEYWORDS = ["_", "n_:1,2", "plain", "nplain:1,2", "N_"]
PLACEHOLDER = re.compile(r"\{(\w*)\}")
TAG = re.compile(r"</?[a-z]+[^>]*>")
LATIN_TOKENS = re.compile(r"(?:/|@|https?://)[\w./:?=&-]+|\b[A-Z][a-z]+/[A-Za-z_]+\b")
# Names and codes that stay as they are in every language.
VERSION = "0.1.0"
# The project has no published address yet: the header names the guide translators start from.
TEAM_CONTACT = "volbot translators, see docs/TRANSLATING.md"
BUGS_TO = "the volbot issue tracker"
LANGUAGE_TEAMS = {"da": "Danish", "ar": "Arabic", "ti": "Tigrinya"}
HEADER_COMMENT = """\
# {language} translations for volbot.
# Copyright (C) 2026 volbot contributors
# This file is distributed under the same license as the volbot project (AGPL-3.0-or-later).
# How to translate, plural forms and the glossary: docs/TRANSLATING.md
#"""
POT_HEADER_COMMENT = """\
# Translations template for volbot.
# Copyright (C) 2026 volbot contributors
# This file is distributed under the same license as the volbot project (AGPL-3.0-or-later).
# How to translate, plural forms and the glossary: docs/TRANSLATING.md
#"""
SAME_IN_ALL = re.compile(r"^[\W\d_]*$|^(OK|Dansk|English|العربية|ትግርኛ)$")


def po_path(lang: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


_STAMP_LINE = re.compile(r'^"(POT-Creation-Date|PO-Revision-Date|Generated-By): .*\\n"$', re.MULTILINE)


def _keep_if_only_stamps_changed(path: Path, before: str | None) -> None:
    """Extraction rewrites the creation date every time; keep the old file when nothing else changed,
    so catalogues only show up in a diff when a message did."""
    if before is None or not path.exists():
        return
    after = path.read_text(encoding="utf-8")
    if after != before and _STAMP_LINE.sub("", after) == _STAMP_LINE.sub("", before):
        path.write_text(before, encoding="utf-8")


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


def extract() -> None:
    before = _read(POT)
    argv = [
        "pybabel",
        "-q",
        "extract",
        "-F",
        str(ROOT / "babel.cfg"),
        "-o",
        str(POT),
        # Source references without line numbers: translators (Poedit, Weblate) see where a message
        # is used, and a code change elsewhere in a file does not touch every catalogue.
        "--add-location=file",
        "--sort-output",
        "--project=volbot",
        f"--version={VERSION}",
        f"--msgid-bugs-address={BUGS_TO}",
        "--copyright-holder=volbot contributors",
        # `# Translators: ...` comments in the code, above a call, reach the catalogues as `#.` lines.
        "--add-comments=Translators:",
    ]
    for k in KEYWORDS:
        argv += ["-k", k]
    argv += ["--header-comment", POT_HEADER_COMMENT, "."]
    # Run from the project root so that references read `bot/render/events.py`, not absolute paths.
    with contextlib.chdir(ROOT):
        CommandLineInterface().run(argv)
    _keep_if_only_stamps_changed(POT, before)


def _fix_header(catalog: Catalog, lang: str) -> None:
    """A real header: not fuzzy (pybabel compile skips a catalogue whose header is fuzzy), the
    project and its version, the language team, and CLDR plural forms (see bot.i18n)."""
    nplurals, expr = PLURAL_HEADERS[lang]
    catalog._num_plurals = nplurals  # type: ignore[attr-defined,assignment]
    catalog._plural_expr = expr  # type: ignore[attr-defined,assignment]
    catalog.fuzzy = False
    catalog.project = "volbot"
    catalog.version = VERSION
    catalog.msgid_bugs_address = BUGS_TO
    catalog.copyright_holder = "volbot contributors"
    catalog.language_team = f"{LANGUAGE_TEAMS[lang]} ({TEAM_CONTACT})"
    if not catalog.last_translator or "EMAIL@ADDRESS" in catalog.last_translator:
        # A translator who edits the file (Poedit, Weblate) writes their own name here.
        catalog.last_translator = TEAM_CONTACT
    if not isinstance(catalog.revision_date, datetime):
        catalog.revision_date = catalog.creation_date
    catalog.header_comment = HEADER_COMMENT.format(language=LANGUAGE_TEAMS[lang])


def _write(path: Path, catalog: Catalog, lang: str) -> None:
    _fix_header(catalog, lang)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, omit_header=False, ignore_obsolete=True, include_lineno=False)


def update() -> None:
    """Merge messages.pot into every catalogue (new strings arrive empty, old ones become obsolete)."""
    with POT.open("rb") as f:
        template = read_po(f)
    for lang in TRANSLATED:
        path = po_path(lang)
        if path.exists():
            with path.open("rb") as f:
                catalog = read_po(f, locale=lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, domain=DOMAIN, project="volbot")
        catalog.update(template, no_fuzzy_matching=True)
        before = _read(path)
        _write(path, catalog, lang)
        _keep_if_only_stamps_changed(path, before)


def _script_ok(lang: str, source: str, text: str | None) -> bool:
    text = text or ""
    # Commands, @names, links and time-zone names stay Latin in every language: not counted.
    bare = LATIN_TOKENS.sub("", PLACEHOLDER.sub("", TAG.sub("", text)))
    letters = [c for c in bare if c.isalpha()]
    if not letters:
        return True
    names = [unicodedata.name(c, "") for c in letters]
    # Examples of input (Danish dates, item titles) may stay Latin inside a translation, so a quarter
    # of the letters in the language's own script is enough; an English copy has none.
    if lang == "ar":
        own = sum(n.startswith("ARABIC") for n in names)
        return own >= min(3, len(letters)) and own >= len(letters) * 0.25
    if lang == "ti":
        own = sum(n.startswith("ETHIOPIC") for n in names)
        return own >= min(3, len(letters)) and own >= len(letters) * 0.25
    if lang == "da":
        if not all(n.startswith("LATIN") for n in names if not n.startswith(("ARABIC", "ETHIOPIC"))):
            return False
        # The English left as it was is not a translation (single words like "OK" may stay).
        return (
            text != source
            or len(source.split()) < 2
            or source.startswith("/")
            or bool(SAME_IN_ALL.match(source))
        )
    return True


def _direction_problems(lang: str, short: str, text: str) -> list[str]:
    """In a right-to-left language a /command needs a LEFT-TO-RIGHT MARK right before it, or it reads
    "language/" and taps wrongly."""
    if lang not in RTL:
        return []
    return [
        f"{lang}: {command} has no LEFT-TO-RIGHT MARK (U+200E) before it in {short!r}"
        for command in bare_commands(text)
    ]


def _placeholders(text: str | None) -> set[str]:
    return set(PLACEHOLDER.findall(text or ""))


def _tags(text: str | None) -> list[str]:
    return sorted(TAG.findall(text or ""))


def used_in_code() -> dict[str, str]:
    """Every literal message passed to a translation call in bot/ and handlers/, read from the syntax
    tree: {message: "file:line"}. Unlike pybabel's extractor this also sees calls inside f-strings."""
    import ast

    names = {k.split(":")[0] for k in KEYWORDS}
    found: dict[str, str] = {}
    for folder in ("bot", "handlers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                first = node.args[0]
                if name in names and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.setdefault(first.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def check(langs: tuple[str, ...] = TRANSLATED) -> list[str]:
    problems: list[str] = []
    if not POT.exists():
        return [f"{POT} is missing: run `volbot i18n update`"]
    with POT.open("rb") as f:
        template = read_po(f)
    wanted = {msg.id if isinstance(msg.id, str) else msg.id[0]: msg for msg in template if msg.id}
    for message, where in sorted(used_in_code().items()):
        if message not in wanted:
            # Typically a call inside an f-string, which pybabel cannot see: it would stay English.
            problems.append(f"{where}: {message[:60]!r} is not in messages.pot (inside an f-string?)")
    for lang in langs:
        path = po_path(lang)
        if not path.exists():
            problems.append(f"{lang}: {path} is missing")
            continue
        with path.open("rb") as f:
            catalog = read_po(f, locale=lang)
        if catalog.fuzzy:
            problems.append(f"{lang}: the header is marked fuzzy (pybabel compile would skip the catalogue)")
        nplurals, expr = PLURAL_HEADERS[lang]
        header = catalog.plural_forms.replace(" ", "")
        if header != f"nplurals={nplurals};plural={expr};".replace(" ", ""):
            problems.append(
                f"{lang}: plural header is {catalog.plural_forms!r}, expected nplurals={nplurals}; plural={expr};"
            )
        have = {msg.id if isinstance(msg.id, str) else msg.id[0]: msg for msg in catalog if msg.id}
        for key, src in wanted.items():
            msg = have.get(key)
            short = key[:60].replace("\n", " ")
            if msg is None:
                problems.append(f"{lang}: missing {short!r}")
                continue
            if msg.fuzzy:
                problems.append(f"{lang}: fuzzy {short!r}")
                continue
            if isinstance(src.id, tuple):
                forms = list(msg.string) if isinstance(msg.string, tuple | list) else [msg.string]
                if len(forms) != nplurals or not all(forms):
                    problems.append(f"{lang}: plural forms incomplete for {short!r}")
                    continue
                allowed = _placeholders(src.id[0]) | _placeholders(src.id[1])
                needed = allowed - {"n"}
                for form in forms:
                    ph = _placeholders(form)
                    if not ph <= allowed or not needed <= ph:
                        problems.append(
                            f"{lang}: placeholders differ in {short!r}: {sorted(ph)} vs {sorted(allowed)}"
                        )
                    if _tags(form) != _tags(src.id[0]):
                        problems.append(f"{lang}: HTML tags differ in {short!r}")
                    if not _script_ok(lang, src.id[1], form):
                        problems.append(f"{lang}: not in the right script / not translated: {short!r}")
                    problems.extend(_direction_problems(lang, short, form or ""))
            else:
                text = msg.string if isinstance(msg.string, str) else ""
                if not text:
                    problems.append(f"{lang}: untranslated {short!r}")
                    continue
                if _placeholders(text) != _placeholders(key):
                    problems.append(
                        f"{lang}: placeholders differ in {short!r}: {sorted(_placeholders(text))} vs {sorted(_placeholders(key))}"
                    )
                if _tags(text) != _tags(key):
                    problems.append(f"{lang}: HTML tags differ in {short!r}")
                if not _script_ok(lang, key, text):
                    problems.append(f"{lang}: not in the right script / not translated: {short!r}")
                problems.extend(_direction_problems(lang, short, text))
    return problems


def summary() -> str:
    with POT.open("rb") as f:
        n = sum(1 for msg in read_po(f) if msg.id)
    return f"{n} messages, {', '.join(TRANSLATED)} at 100%"


# --- helpers for translators working in parallel: all catalogue writes hold one file lock ---------

LOCK = LOCALES_DIR / ".lock"


class _Locked:
    def __enter__(self) -> None:
        import fcntl

        LOCK.parent.mkdir(parents=True, exist_ok=True)
        self._f = LOCK.open("w")
        fcntl.flock(self._f, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        import fcntl

        fcntl.flock(self._f, fcntl.LOCK_UN)
        self._f.close()


def todo() -> list[dict[str, object]]:
    """Entries that some language still lacks: [{"id": ..., "plural": ... | None, "missing": [...]}]."""
    with _Locked():
        extract()
        update()
    out: dict[str, dict[str, object]] = {}
    for lang in TRANSLATED:
        with po_path(lang).open("rb") as f:
            catalog = read_po(f, locale=lang)
        for msg in catalog:
            if not msg.id:
                continue
            strings = msg.string if isinstance(msg.string, tuple | list) else [msg.string]
            if msg.fuzzy or not all(strings):
                key = msg.id if isinstance(msg.id, str) else msg.id[0]
                entry = out.setdefault(
                    key,
                    {"id": key, "plural": msg.id[1] if isinstance(msg.id, tuple) else None, "missing": []},
                )
                entry["missing"].append(lang)  # type: ignore[attr-defined]
    return list(out.values())


def apply(translations: dict[str, dict[str, str | list[str]]]) -> int:
    """Fill translations: {msgid: {"da": str | [plural forms], "ar": ..., "ti": ...}}. Returns count set."""
    count = 0
    with _Locked():
        extract()
        update()
        for lang in TRANSLATED:
            path = po_path(lang)
            with path.open("rb") as f:
                catalog = read_po(f, locale=lang)
            changed = False
            for msg in catalog:
                if not msg.id:
                    continue
                key = msg.id if isinstance(msg.id, str) else msg.id[0]
                value = translations.get(key, {}).get(lang)
                if value is None:
                    continue
                new = tuple(value) if isinstance(value, list) else value
                changed = changed or new != msg.string or msg.fuzzy
                msg.string = new
                msg.flags.discard("fuzzy")
                count += 1
            if changed:
                catalog.revision_date = datetime.now(UTC)
            _write(path, catalog, lang)
    return count
