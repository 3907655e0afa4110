"""Files on agenda items: `/additem` as a reply to a file, a file sent during the /additem dialogue,
and `/attach {item id}` as a reply to a file (the item's submitter or a coordinator)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from telegram import Message
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.db import models as m
from bot.domain import attachments as at
from bot.domain.errors import UserError
from bot.i18n import N_, Raw
from bot.render.attachments import files_line
from handlers.common import Ctx, handler

ADDITEM_KIND = "additem"


def file_of(msg: Message | None) -> at.FileRef | None:
    """The document or photo a message holds (the largest size of a photo)."""
    if msg is None:
        return None
    if msg.document is not None:
        d = msg.document
        return at.FileRef("document", d.file_id, d.file_unique_id, d.file_name or "file")
    if msg.photo:
        p = msg.photo[-1]
        return at.FileRef("photo", p.file_id, p.file_unique_id, f"photo-{p.file_unique_id[-8:]}.jpg")
    return None


def ref_data(ref: at.FileRef) -> dict[str, str]:
    return {
        "kind": ref.kind,
        "file_id": ref.file_id,
        "file_unique_id": ref.file_unique_id,
        "file_name": ref.file_name,
    }


def reply_files(ctx: Ctx) -> list[dict[str, str]]:
    """The file of the message this command replies to, as dialogue data (empty: none)."""
    msg = ctx.update.effective_message
    ref = file_of(msg.reply_to_message if msg else None)
    return [ref_data(ref)] if ref is not None else []


async def attach_all(ctx: Ctx, item: m.AgendaItem, files: list[dict[str, Any]] | None) -> list[str]:
    """Attach the files gathered for a new item; returns their names."""
    names: list[str] = []
    for f in files or []:
        ref = at.FileRef(
            str(f.get("kind", "document")),
            str(f["file_id"]),
            str(f.get("file_unique_id", "")),
            str(f.get("file_name", "file")),
        )
        row = await at.attach(ctx.session, item, ctx.person, ref, ctx.now)
        names.append(row.file_name)
    return names


def attached_note(ctx: Ctx, item: m.AgendaItem, names: list[str]) -> str:
    """What the files of a new item are, and how to add one later (the item's number is only shown here)."""
    later = ctx.t._("To add a file later, reply to it with /attach {id}.", id=item.id)
    if not names:
        return "\n" + later
    attached = ctx.t.n_(
        "{n} file attached: {names}",
        "{n} files attached: {names}",
        len(names),
        names=Raw(files_line(names, ctx.t.rtl)),
    )
    return "\n" + attached + "\n" + later


@handler
async def attach(ctx: Ctx) -> None:
    assert ctx.person is not None
    words = ctx.arg_text.split()
    raw = words[0].lstrip("#") if words else ""
    if not raw.isdecimal() or len(raw) > 9:
        raise UserError(
            N_("Reply to a file with /attach and the item's number. Example: {example}"), example="/attach 12"
        )
    msg = ctx.update.effective_message
    ref = file_of(msg.reply_to_message if msg else None)
    if ref is None:
        raise UserError(
            N_("Reply to a file with /attach and the item's number. Example: {example}"), example="/attach 12"
        )
    item = await ctx.session.get(m.AgendaItem, int(raw))
    meeting = await ctx.session.get(m.Meeting, item.meeting_id) if item else None
    network = await ctx.session.get(m.Network, meeting.network_id) if meeting else None
    if network is None or (ctx.network is not None and ctx.network.id != network.id):
        raise UserError(N_("There is no agenda item number {id}. /agenda shows the items."), id=int(raw))
    item, meeting = await at.item_for_attach(
        ctx.session, int(raw), ctx.person, await ctx.is_coordinator(network), ctx.now
    )
    row = await at.attach(ctx.session, item, ctx.person, ref, ctx.now)
    await ctx.reply(ctx.t._("📎 {file} is attached to “{title}”.", file=row.file_name, title=item.title))


@handler
async def file_in_dialogue(ctx: Ctx) -> None:
    """A file sent while /additem asks its questions goes with the item."""
    if ctx.person is None:
        return
    dialogue = await ctx.session.scalar(
        select(m.Dialogue).where(
            m.Dialogue.chat_id == ctx.chat.id,
            m.Dialogue.user_tg_id == ctx.person.tg_id,
            m.Dialogue.kind == ADDITEM_KIND,
        )
    )
    ref = file_of(ctx.update.effective_message)
    if dialogue is None or ref is None:
        return
    data = dict(dialogue.data)
    files = list(data.get("files") or [])
    if len(files) >= at.MAX_PER_ITEM:
        raise UserError(N_("An item can have at most {limit} files."), limit=at.MAX_PER_ITEM)
    files.append(ref_data(ref))
    data["files"] = files
    dialogue.data = data
    dialogue.updated_at = ctx.now
    await ctx.reply(
        ctx.t._("📎 {file} will be attached to the item. Now answer the question above.", file=ref.file_name)
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("attach", attach), group=0)
    # Before the dialogue's text handler (group 10); files only, so nothing else is taken from it.
    app.add_handler(MessageHandler(filters.Document.ALL | filters.PHOTO, file_in_dialogue), group=9)
