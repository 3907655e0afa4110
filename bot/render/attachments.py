"""Agenda files as text (📎 and the names) and the notice that carries them after the final agenda."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import attachments as at
from bot.domain import meetings as mt
from bot.i18n import Translator, isolate
from bot.render.text import esc
from bot.schedule.notices import Rendered, after_send, renderer


def files_line(names: list[str], rtl: bool = False) -> str:
    """'📎 slides.pdf, budget.xlsx' (people's own file names, escaped; isolated for right-to-left text)."""
    joined = ", ".join(esc(n) for n in names)
    return "📎 " + (isolate(joined) if rtl else joined)


@renderer(at.KIND_FILES)
async def render_files(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    meeting = await session.get(m.Meeting, notice.ref_id) if notice.ref_id else None
    if meeting is None or meeting.status != "scheduled":
        return None
    ids = [int(x) for x in notice.payload.get("files", [])]
    if not ids:
        return None
    rows = (
        await session.execute(
            select(m.AgendaAttachment, m.AgendaItem)
            .join(m.AgendaItem, m.AgendaItem.id == m.AgendaAttachment.item_id)
            .where(m.AgendaAttachment.id.in_(ids), m.AgendaItem.status == "accepted")
            .order_by(m.AgendaItem.position, m.AgendaItem.id, m.AgendaAttachment.id)
        )
    ).tuples()
    media = [
        (a.kind, a.file_id, t._("📎 For the agenda item “{title}”", title=item.title)) for a, item in rows
    ]
    if not media:
        return None  # withdrawn since
    return Rendered("", media=media)


@after_send(mt.KIND_STAGE)
async def files_after_agenda(session: AsyncSession, notice: m.Notice, message_id: int) -> None:
    """The final agenda (or the day-before reminder) went to this chat: its files follow."""
    await at.plan_files(session, notice, notice.sent_at or notice.due_at)
