"""Files attached to agenda items, and their delivery after the final agenda.

Pure database logic; never imports telegram. A file is stored by its Telegram file id (the bot never
downloads it) and sent on by that id. After the final agenda (and the day-before reminder) has been
sent to a chat, that chat gets the files of the accepted items it has not had yet: documents together
(a media group of 2–10, Telegram's rule), photos together, a single file on its own. Each file goes to
each chat once: the notices that carried files to a chat are what says which it has had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain.errors import NotAllowed, NotFound, UserError
from bot.domain.meetings import KIND_STAGE
from bot.i18n import N_
from bot.schedule.notices import enqueue, memo

KIND_FILES = "mtg_files"
MAX_PER_ITEM = 10
MAX_NAME = 200
# Telegram: a media group has 2–10 items; documents cannot be mixed with photos.
GROUP_MAX = 10
# Stages after which the files follow (the final agenda; the day-before reminder carries late ones).
FILE_STAGES = ("final", "daybefore")


@dataclass
class FileRef:
    """What a message held: a document or a photo, by Telegram file id."""

    kind: str  # document | photo
    file_id: str
    file_unique_id: str
    file_name: str


async def attach(
    session: AsyncSession, item: m.AgendaItem, person: m.Person | None, ref: FileRef, now: datetime
) -> m.AgendaAttachment:
    existing = await files_of(session, [item.id])
    mine = existing.get(item.id, [])
    if any(a.file_unique_id and a.file_unique_id == ref.file_unique_id for a in mine):
        raise UserError(N_("That file is already attached to this item."))
    if len(mine) >= MAX_PER_ITEM:
        raise UserError(N_("An item can have at most {limit} files."), limit=MAX_PER_ITEM)
    row = m.AgendaAttachment(
        item_id=item.id,
        uploader_id=person.id if person else None,
        kind=ref.kind if ref.kind in ("document", "photo") else "document",
        file_id=ref.file_id[:256],
        file_unique_id=ref.file_unique_id[:64],
        file_name=(ref.file_name or "file")[:MAX_NAME],
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def files_of(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, list[m.AgendaAttachment]]:
    out: dict[int, list[m.AgendaAttachment]] = {}
    if not item_ids:
        return out
    rows = await session.scalars(
        select(m.AgendaAttachment)
        .where(m.AgendaAttachment.item_id.in_(list(item_ids)))
        .order_by(m.AgendaAttachment.item_id, m.AgendaAttachment.id)
    )
    for row in rows:
        out.setdefault(row.item_id, []).append(row)
    return out


async def file_names(session: AsyncSession, item_ids: Sequence[int]) -> dict[int, list[str]]:
    return {k: [a.file_name for a in v] for k, v in (await files_of(session, item_ids)).items()}


async def item_for_attach(
    session: AsyncSession, item_id: int, person: m.Person, is_coordinator: bool, now: datetime
) -> tuple[m.AgendaItem, m.Meeting]:
    """The item `person` may add a file to: their own, or any of the network's as a coordinator; the
    meeting must still be ahead."""
    item = await session.get(m.AgendaItem, item_id)
    meeting = await session.get(m.Meeting, item.meeting_id) if item else None
    if item is None or meeting is None or item.status not in ("accepted", "pending"):
        raise NotFound(N_("There is no agenda item number {id}. /agenda shows the items."), id=item_id)
    if item.submitter_id != person.id and not is_coordinator:
        raise NotAllowed(N_("Only the item's submitter or a coordinator can add files to it."))
    if meeting.status != "scheduled" or meeting.starts_at <= now:
        raise UserError(N_("That meeting can no longer be changed."))
    return item, meeting


async def person_files(
    session: AsyncSession, person: m.Person
) -> list[tuple[m.AgendaAttachment, m.AgendaItem]]:
    rows = await session.execute(
        select(m.AgendaAttachment, m.AgendaItem)
        .join(m.AgendaItem, m.AgendaItem.id == m.AgendaAttachment.item_id)
        .where(m.AgendaAttachment.uploader_id == person.id)
        .order_by(m.AgendaAttachment.id)
    )
    return [(a, i) for a, i in rows.tuples()]


# --- delivery ----------------------------------------------------------------------------------


async def meeting_files(session: AsyncSession, meeting_id: int) -> list[m.AgendaAttachment]:
    """The files of the meeting's accepted items, in agenda order."""
    rows = await session.scalars(
        select(m.AgendaAttachment)
        .join(m.AgendaItem, m.AgendaItem.id == m.AgendaAttachment.item_id)
        .where(m.AgendaItem.meeting_id == meeting_id, m.AgendaItem.status == "accepted")
        .order_by(m.AgendaItem.position, m.AgendaItem.id, m.AgendaAttachment.id)
    )
    return list(rows.all())


async def already_planned(session: AsyncSession, meeting_id: int, chat_id: int) -> set[int]:
    """Ids of the files already planned (or sent) to this chat for this meeting."""
    rows = await session.scalars(
        select(m.Notice.payload).where(
            m.Notice.kind == KIND_FILES,
            m.Notice.ref_id == meeting_id,
            m.Notice.chat_id == chat_id,
            m.Notice.state.in_(("pending", "sending", "sent")),
        )
    )
    out: set[int] = set()
    for payload in rows:
        out.update(int(x) for x in (payload or {}).get("files", []))
    return out


def chunks(files: Sequence[m.AgendaAttachment]) -> list[list[m.AgendaAttachment]]:
    """Documents together and photos together, at most GROUP_MAX to a message."""
    out: list[list[m.AgendaAttachment]] = []
    for kind in ("document", "photo"):
        same = [f for f in files if f.kind == kind]
        out.extend(same[i : i + GROUP_MAX] for i in range(0, len(same), GROUP_MAX))
    return out


async def plan_files(session: AsyncSession, notice: m.Notice, now: datetime) -> int:
    """After a final agenda (or day-before reminder) went to a chat: plan the files it has not had."""
    stage = str(notice.payload.get("stage"))
    if stage not in FILE_STAGES or notice.ref_id is None:
        return 0
    meeting_id = notice.ref_id
    # Once per write batch (after_send runs for a batch of sent notices in one session).
    files = await memo(session, ("meeting_files", meeting_id), lambda: meeting_files(session, meeting_id))
    if not files:
        return 0
    had = await already_planned(session, notice.ref_id, notice.chat_id)
    fresh = [f for f in files if f.id not in had]
    added = 0
    who = f"p{notice.person_id}" if notice.person_id else f"c{notice.chat_id}"
    for part in chunks(fresh):
        ids = [f.id for f in part]
        added += await enqueue(
            session,
            kind=KIND_FILES,
            dedup_key=f"mtgfiles:{notice.ref_id}:{who}:{ids[0]}-{ids[-1]}:{len(ids)}",
            chat_id=notice.chat_id,
            due_at=now,
            person_id=notice.person_id,
            network_id=notice.network_id,
            ref_id=notice.ref_id,
            payload={"files": ids},
        )
    return added


async def plan_for_accepted(session: AsyncSession, item: m.AgendaItem, now: datetime) -> int:
    """A late item accepted after the final agenda went out: its files go now to every chat that had
    the final agenda (or the day-before reminder), each file once."""
    sent = await session.scalars(
        select(m.Notice).where(
            m.Notice.kind == KIND_STAGE, m.Notice.ref_id == item.meeting_id, m.Notice.state == "sent"
        )
    )
    added = 0
    for notice in sent.all():
        if str((notice.payload or {}).get("stage")) in FILE_STAGES:
            added += await plan_files(session, notice, now)
    return added
