"""Text helpers shared by every renderer."""

from __future__ import annotations

import html
import re

TELEGRAM_LIMIT = 4096
_TAG = re.compile(r"<[^>]+>")


def clean_input(text: str) -> str:
    """What people send, made safe to store: NUL characters (which PostgreSQL refuses in text) removed."""
    return text.replace("\x00", "")


def esc(text: str) -> str:
    return html.escape(text, quote=False)


def strip_html(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


def split_message(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split a long HTML message on line boundaries so each part fits Telegram's 4096 characters.

    Lines are never cut inside a tag: a single over-long line is cut at a space, with tags stripped."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            plain = esc(strip_html(line))
            cut = plain.rfind(" ", 0, limit - 1)
            cut = cut if cut > limit // 2 else limit - 1
            if current:
                parts.append(current)
                current = ""
            parts.append(plain[:cut])
            line = plain[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts
