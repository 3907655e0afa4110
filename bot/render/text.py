"""Text helpers shared by every renderer."""

from __future__ import annotations

import html
import re

TELEGRAM_LIMIT = 4096
_TAG = re.compile(r"<[^>]+>")


# Characters that change the direction of everything after them (embeddings, overrides, isolates:
# U+202A-U+202E, U+2066-U+2069) or are invisible and carry no meaning in a name or title (zero-width
# space, word joiner, byte-order mark, Mongolian vowel separator). In a name or title they could
# reverse or hide the rest of someone else's line, or make two names look the same, so they are
# removed from what people send and again from every value shown (names come from Telegram).
# Zero-width (non-)joiners and the LRM/RLM/ALM marks stay: Arabic, Persian and emoji need them, and
# they cannot reorder text beyond their neighbours.
_HIDDEN = dict.fromkeys(
    map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u2060\ufeff\u180e")
)


def neutralize(text: str) -> str:
    """`text` without direction overrides, embeddings, isolates and invisible spaces."""
    return text.translate(_HIDDEN)


def clean_input(text: str) -> str:
    """What people send, made safe to store: NUL characters (which PostgreSQL refuses in text),
    direction overrides and invisible spaces removed."""
    return neutralize(text.replace("\x00", ""))


def esc(text: str) -> str:
    """A value for an HTML message: escaped, and unable to reorder or hide the text around it."""
    return html.escape(neutralize(text), quote=False)


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
            piece, rest = _cut_plain(strip_html(line), limit)
            if current:
                parts.append(current)
                current = ""
            parts.append(piece)
            line = esc(rest)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


def _cut_plain(plain: str, limit: int) -> tuple[str, str]:
    """The longest start of `plain` whose escaped form fits `limit` (cut at a space in its second
    half if there is one), escaped; and the rest, not escaped. Cutting before escaping never splits
    an entity such as &lt;."""
    lo, hi = 1, len(plain)
    while lo < hi:  # the longest n with len(esc(plain[:n])) <= limit
        mid = (lo + hi + 1) // 2
        if len(esc(plain[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    space = plain.rfind(" ", 0, lo)
    cut = space if space > lo // 2 else lo
    return esc(plain[:cut]), plain[cut:].lstrip()


def fit_escaped(plain: str, budget: int) -> str:
    """`plain` (not yet escaped) escaped for HTML and, when that is longer than `budget`, cut at a
    space with "…" so the result fits: the cut never splits an entity such as &lt;."""
    out = esc(plain)
    if len(out) <= budget:
        return out
    piece, _rest = _cut_plain(neutralize(plain), max(budget - 1, 1))
    return piece.rstrip() + "…"


def truncate_html(text: str, limit: int = TELEGRAM_LIMIT) -> str:
    """A safe last resort for one message: the first part of `split_message` (whole lines, no tag or
    entity cut), with "…" when something was left out."""
    if len(text) <= limit:
        return text
    return split_message(text, limit - 1)[0] + "…"
