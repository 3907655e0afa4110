"""Direction marks for right-to-left readers (Unicode Bidirectional Algorithm, UAX #9).

Telegram lays out every line (paragraph) on its own and takes its direction from the line's first
strong character, skipping isolated pieces (rule P2). For an Arabic reader:

- people's own text (titles, places, names, descriptions) is isolated line by line (an isolate ends
  at a line break, so a multi-line text isolated as one piece would leave its later lines bare);
- a line whose first strong character is not right-to-left (it starts with an isolate, a number, an
  emoji, a Latin word or a left-to-right mark) gets a RIGHT-TO-LEFT MARK in front, so it reads
  right-to-left;
- a `/command` keeps a LEFT-TO-RIGHT MARK in front (in the catalogues), so it reads and taps as
  written; ids are plain digits, never isolated (Telegram would make only `/event_` tappable).
"""

from __future__ import annotations

import html
import re
import unicodedata

LRM, RLM = "\u200e", "\u200f"
FSI, LRI, RLI, PDI = "\u2068", "\u2066", "\u2067", "\u2069"
_OPENERS = frozenset((FSI, LRI, RLI))
_TAG = re.compile(r"<[^>]*>")
# A command as Telegram links it: "/" then letters, digits or "_" (not inside a word or a URL).
COMMAND = re.compile(r"(?<![\w/:.<])/[A-Za-z][A-Za-z0-9_]*")


def isolate(text: str) -> str:
    """Wrap one line of text in first-strong isolates so it keeps its own direction."""
    return f"{FSI}{text}{PDI}"


def isolate_lines(text: str) -> str:
    """Isolate each line on its own (an isolate does not reach past a line break)."""
    return "\n".join(isolate(line) if line else line for line in text.split("\n"))


def visible(line: str) -> str:
    """What a reader sees of an HTML line: tags dropped, entities read."""
    return html.unescape(_TAG.sub("", line))


def first_strong(text: str) -> str | None:
    """'L' or 'R' for the first strong character outside isolates (UAX #9 P2), or None."""
    depth = 0
    for ch in text:
        if ch in _OPENERS:
            depth += 1
            continue
        if ch == PDI:
            depth = max(0, depth - 1)
            continue
        if depth:
            continue
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return "L"
        if kind in ("R", "AL"):
            return "R"
    return None


def rtl_line(line: str) -> str:
    """The line with a RIGHT-TO-LEFT MARK in front when it would otherwise read left-to-right."""
    shown = visible(line)
    if not shown.strip() or first_strong(shown) == "R":
        return line
    return RLM + line


def rtl_block(text: str) -> str:
    """Every line of `text` reading right-to-left (see `rtl_line`)."""
    return "\n".join(rtl_line(line) for line in text.split("\n"))


def bare_commands(text: str) -> list[str]:
    """Commands in `text` with nothing keeping their direction in right-to-left text: not preceded by
    a LEFT-TO-RIGHT MARK (or placed inside a left-to-right isolate)."""
    bare = []
    for match in COMMAND.finditer(text):
        before = text[: match.start()]
        if before.endswith(LRM):
            continue
        # Inside an explicit left-to-right isolate or embedding that is still open.
        opened = max(before.rfind(LRI), before.rfind("\u202a"))
        closed = max(before.rfind(PDI), before.rfind("\u202c"))
        if opened > closed:
            continue
        bare.append(match.group(0))
    return bare
