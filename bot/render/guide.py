"""The guides (bot/guides/*.md) as HTML: a small, safe Markdown subset.

Everything is HTML-escaped first; then only these are recognised: `#`/`##`/`###` headings, paragraphs,
`- ` and `1. ` lists, `**bold**`, `` `code` ``, `[text](target)` links whose target is a path on this
site (`/…`, `?…`, `#…`) or https, and a line `{{transcript NAME}}` that embeds
bot/guides/transcripts/{lang}/NAME.txt (what the group really saw, captured from `volbot console` by
scripts/capture-guide) as a chat block, or nothing when there is no such transcript.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import cache
from importlib import resources

GUIDES = {
    # guide -> languages it is written in
    "follower": ("da", "ar", "ti", "en"),
    "coordinators": ("da", "en"),
}

_HEADING = re.compile(r"^(#{1,3}) (.+)$")
_BULLET = re.compile(r"^- (.+)$")
_NUMBERED = re.compile(r"^(\d+)\. (.+)$")
_TRANSCRIPT = re.compile(r"^\{\{transcript ([a-z0-9_-]+)\}\}$")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")
_SAFE_TARGET = re.compile(r"^(/[^/]|/$|\?|#|https://)")


def _data(*parts: str) -> str | None:
    entry = resources.files("bot.guides")
    for part in parts:
        entry = entry / part
    return entry.read_text(encoding="utf-8") if entry.is_file() else None


@cache
def source(guide: str, lang: str) -> str:
    text = _data(f"{guide}.{lang}.md")
    if text is None:
        raise KeyError(f"no guide {guide} in {lang}")
    return text


@cache
def transcript(lang: str, name: str) -> str | None:
    return _data("transcripts", lang, f"{name}.txt")


def inline(text: str) -> str:
    """Escaped text with bold, code and safe links."""
    out = html.escape(text, quote=True)

    def link(m: re.Match[str]) -> str:
        label, target = m.group(1), html.unescape(m.group(2))
        if not _SAFE_TARGET.match(target):
            return m.group(0)
        return f'<a href="{html.escape(target, quote=True)}">{label}</a>'

    out = _CODE.sub(lambda m: f'<code dir="ltr">{m.group(1)}</code>', out)
    out = _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", out)
    return _LINK.sub(link, out)


def chat_html(text: str) -> str:
    """A transcript as a chat block: one line per element, each taking its own direction (a Danish
    guide's transcript has Arabic messages to a follower, and the other way round)."""
    lines = "".join(
        f'<div dir="auto">{html.escape(line)}</div>' if line.strip() else "<br>"
        for line in text.rstrip().splitlines()
    )
    return f'<div class="chat">{lines}</div>'


def to_html(markdown: str, lang: str, *, transcript_of: Callable[[str, str], str | None] = transcript) -> str:
    """The body HTML of a guide; `{{transcript NAME}}` embeds that transcript (or says it is missing)."""
    blocks: list[str] = []
    para: list[str] = []
    items: list[str] = []
    list_tag = ""

    def flush() -> None:
        nonlocal list_tag
        if para:
            blocks.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()
        if items:
            blocks.append(f"<{list_tag}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{list_tag}>")
            items.clear()
            list_tag = ""

    for raw in markdown.splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if m := _HEADING.match(line):
            flush()
            level = len(m.group(1))
            slug = re.sub(r"[^\w]+", "-", m.group(2).lower()).strip("-")
            blocks.append(f'<h{level} id="{html.escape(slug)}">{inline(m.group(2))}</h{level}>')
        elif m := _TRANSCRIPT.match(line):
            flush()
            text = transcript_of(lang, m.group(1))
            # A step this version of the bot cannot show yet has no transcript: nothing is embedded.
            if text is not None:
                blocks.append(chat_html(text))
        elif (bullet := _BULLET.match(line)) or (numbered := _NUMBERED.match(line)):
            if para:
                blocks.append(f"<p>{inline(' '.join(para))}</p>")
                para.clear()
            tag = "ul" if bullet else "ol"
            if items and list_tag != tag:
                flush()
            list_tag = tag
            item = bullet.group(1) if bullet else numbered.group(2) if numbered else ""
            items.append(inline(item))
        elif items and raw.startswith("  "):
            items[-1] += " " + inline(line)
        else:
            if items:
                flush()
            para.append(line)
    flush()
    return "\n".join(blocks)


def title_of(markdown: str) -> str:
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return ""
