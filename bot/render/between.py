"""What the between-meetings features add to the meeting notices: the final agenda's follow-up
section (open action items) and "From the working groups" section, and the open count in the
coordinators' minutes reminder."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import todos as td
from bot.domain import workgroups as wg
from bot.i18n import Translator, isolate
from bot.render.text import esc
from bot.render.todos import follow_up_lines
from bot.render.votes import decision_line
from bot.schedule.notices import memo

MAX_TODOS = 15
RLM = "\u200f"
# The agenda itself comes first: what these sections add stays within this many characters, so the
# final agenda keeps within one Telegram message (4096).
SECTIONS_BUDGET = 1600
SHORT = 160


def shorten(text: str, limit: int = SHORT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def short_decision(d: m.Decision) -> m.Decision:
    """A copy (never added to a session) whose text is cut to one short line: approved minutes carry
    their whole text in the log."""
    return m.Decision(
        id=d.id,
        network_id=d.network_id,
        kind=d.kind,
        text=shorten(d.text),
        outcome=d.outcome,
        details=dict(d.details or {}),
        decided_at=d.decided_at,
        meeting_id=d.meeting_id,
    )


def within(lines: list[str], budget: int) -> list[str]:
    out: list[str] = []
    used = 0
    for line in lines:
        used += len(line) + 1
        if used > budget:
            out.append("…")
            break
        out.append(line)
    return out


async def _todos(session: AsyncSession, network_id: int) -> tuple[list[m.ActionItem], dict[int, str]]:
    items = await td.open_items(session, [network_id], limit=MAX_TODOS)
    return items, await td.owner_names(session, items)


async def final_agenda_sections(
    session: AsyncSession, t: Translator, network: m.Network, meeting: m.Meeting, at: datetime
) -> list[str]:
    # Looked up once per rendering batch (the same for every reader; only the language differs).
    items, names = await memo(session, ("final_todos", network.id), lambda: _todos(session, network.id))
    lines = follow_up_lines(t, items, network, names, at)
    groups = await memo(
        session, ("final_groups", meeting.id), lambda: wg.group_decisions(session, network, meeting, at)
    )
    if groups:
        lines += ["", t._("<b>From the working groups</b>")]
        for group, decisions in groups:
            lines.append(f"{RLM}▸ {isolate(esc(group.name))}" if t.rtl else "▸ " + esc(group.name))
            lines.extend("  • " + decision_line(short_decision(d), t, group.timezone) for d in decisions)
    return within(lines, SECTIONS_BUDGET)


async def open_todos_note(session: AsyncSession, t: Translator, network: m.Network) -> str:
    n = await td.open_count(session, network.id)
    if not n:
        return ""
    return "\n" + t.n_(
        "{n} action item is still open: /todos lists it.",
        "{n} action items are still open: /todos lists them.",
        n,
    )
