"""The catalogues are standard ones that pybabel, msgfmt, Poedit and Weblate accept (issue 10)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from babel.messages.pofile import read_po

from bot import i18n_tools
from bot.i18n import TRANSLATED

LABELS = ["Going", "Not going", "Regrets", "Attending", "Substitute", "Object", "Remind me", "For", "Abstain"]


@pytest.mark.parametrize("lang", TRANSLATED)
def test_header_is_real_and_not_fuzzy(lang: str) -> None:
    path = i18n_tools.po_path(lang)
    text = path.read_text(encoding="utf-8")
    assert "#, fuzzy" not in text.split('msgid ""', 1)[0] + text.split("\n\n", 1)[0]
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    assert not catalog.fuzzy
    headers = dict(catalog.mime_headers)
    assert headers["Project-Id-Version"] == "volbot 0.1.0"
    assert headers["Language"] == lang
    assert headers["Language-Team"].startswith({"da": "Danish", "ar": "Arabic", "ti": "Tigrinya"}[lang])
    for field in ("Language-Team", "Last-Translator", "PO-Revision-Date", "Report-Msgid-Bugs-To"):
        assert not any(x in headers[field] for x in ("EMAIL@ADDRESS", "LL@li.org", "FULL NAME", "YEAR")), (
            field
        )


@pytest.mark.parametrize("path", [i18n_tools.POT, *(i18n_tools.po_path(lang) for lang in TRANSLATED)])
def test_references_and_translator_comments(path) -> None:  # type: ignore[no-untyped-def]
    with path.open("rb") as f:
        catalog = read_po(f)
    messages = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    assert all(m.locations for m in messages.values())
    assert ("bot/render/events.py", None) in messages["Going"].locations
    for label in LABELS:
        assert any(c.startswith("Translators:") for c in messages[label].auto_comments), label
    assert 'not "sorry"' in " ".join(messages["Regrets"].auto_comments)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_pybabel_compiles_without_warnings(lang: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "compile", "-l", lang,
         "-i", str(i18n_tools.po_path(lang)), "-o", str(tmp_path / "messages.mo")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "compiling catalog" in output
    assert "warning" not in output.lower() and "fuzzy" not in output and "error" not in output.lower(), output
    assert (tmp_path / "messages.mo").stat().st_size > 10_000


@pytest.mark.parametrize("lang", TRANSLATED)
def test_msgfmt_check_accepts(lang: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("msgfmt") is None:
        pytest.skip("GNU gettext's msgfmt is not installed")
    done = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "m.mo"), str(i18n_tools.po_path(lang))],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_update_is_stable_and_catalogues_are_current(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Extract and update from the code as it is change nothing: the committed catalogues are current,
    and a new creation date alone does not rewrite them."""
    original = i18n_tools.LOCALES_DIR
    locales = tmp_path / "locales"
    shutil.copytree(original, locales, ignore=shutil.ignore_patterns("*.mo", ".lock"))
    monkeypatch.setattr(i18n_tools, "LOCALES_DIR", locales)
    monkeypatch.setattr(i18n_tools, "POT", locales / "messages.pot")
    i18n_tools.extract()
    i18n_tools.update()
    for rel in ["messages.pot", *(f"{lang}/LC_MESSAGES/messages.po" for lang in TRANSLATED)]:
        assert (locales / rel).read_text(encoding="utf-8") == (original / rel).read_text(encoding="utf-8"), (
            rel
        )


def test_check_reports_a_fuzzy_header(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    locales = tmp_path / "locales"
    shutil.copytree(i18n_tools.LOCALES_DIR, locales, ignore=shutil.ignore_patterns("*.mo", ".lock"))
    monkeypatch.setattr(i18n_tools, "LOCALES_DIR", locales)
    monkeypatch.setattr(i18n_tools, "POT", locales / "messages.pot")
    path = locales / "ti" / "LC_MESSAGES" / "messages.po"
    path.write_text(
        path.read_text(encoding="utf-8").replace('msgid ""', '#, fuzzy\nmsgid ""', 1), encoding="utf-8"
    )
    assert i18n_tools.check(("ti",)) == [
        "ti: the header is marked fuzzy (pybabel compile would skip the catalogue)"
    ]
