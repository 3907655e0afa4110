"""The Bot API fake's HTML checks: Telegram-flavoured HTML validated the way Telegram does it, and
the plain text Telegram would show; inline keyboards flattened."""

from __future__ import annotations

import html
import re
from typing import Any

_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "blockquote",
    }
)
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")


def html_to_plain(text: str) -> str:
    """Validate Telegram-flavoured HTML and return the plain text Telegram would show.

    Raises ValueError with Telegram's wording for what Telegram refuses."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while True:
        i = text.find("<", pos)
        if i < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:i])
        m = _TAG_RE.match(text, i)
        offset = len(text[:i].encode("utf-8"))
        if m is None:
            raise ValueError(
                f"can't parse entities: Unsupported start tag at byte offset {offset}"
                if text[i + 1 : i + 2].isalpha()
                else f"can't parse entities: Unexpected end of name token at byte offset {offset}"
            )
        closing, name = m.group(1) == "/", m.group(2).lower()
        if name not in _HTML_TAGS:
            raise ValueError(f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {offset}')
        if closing:
            if not stack or stack[-1] != name:
                raise ValueError(
                    f"can't parse entities: Unmatched end tag at byte offset {offset}, expected \"</"
                    f'{stack[-1] if stack else ""}>", found "</{name}>"'
                )
            stack.pop()
        else:
            stack.append(name)
        pos = m.end()
    if stack:
        raise ValueError(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return html.unescape("".join(out))


def _flat_buttons(markup: Any) -> list[dict[str, Any]]:
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list):
        return []
    return [b for row in rows if isinstance(row, list) for b in row if isinstance(b, dict)]
