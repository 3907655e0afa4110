"""`volbot console` with the real application: what a new user sees first, in each language."""

from __future__ import annotations

import io

import pytest

from bot.config import Settings
from bot.console import run_console


@pytest.mark.parametrize(
    ("lang", "welcome", "choose", "help_word"),
    [
        ("da", "Velkommen", "Vælg dit sprog", "Kommende arrangementer"),
        ("ar", "أهلًا", "اختر لغتك", "الفعاليات القادمة"),
        ("ti", "እንቋዕ", "ቋንቋኹም ምረጹ", "ዝቕጽሉ ፍጻመታት"),
        ("en", "Welcome", "Choose your language", "Upcoming events"),
    ],
)
async def test_console_start_language_help(
    db_url: str, lang: str, welcome: str, choose: str, help_word: str
) -> None:
    settings = Settings(_env_file=None, database_url=db_url)  # type: ignore[call-arg]
    # /start, /language, press "English" (button 4), then /help answers in English.
    stdout = io.StringIO()
    code = await run_console(
        settings,
        user_id=4242,
        first_name="Amina",
        lang=lang,
        group=None,
        stdin=io.StringIO("/start\n/language\n/help\n4\n/help\n"),
        stdout=stdout,
    )
    out = stdout.getvalue()
    assert code == 0
    first_help, _, after_switch = out.partition("English.")
    assert welcome in first_help and choose in first_help and help_word in first_help, out
    assert "[1] Dansk  [2] العربية  [3] ትግርኛ  [4] English" in out
    assert "Upcoming events" in after_switch, out
