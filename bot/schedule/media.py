"""Sending files Telegram already has (by file id): one alone, several of one kind as a media group.

Telegram's rules: a media group holds 2–10 items, and documents cannot share one with photos."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import InputMediaDocument, InputMediaPhoto, Message


async def send_media(bot: Any, chat_id: int, media: Sequence[tuple[str, str, str]]) -> Message:
    """Send `media` ((kind, file_id, caption), all of one kind) to `chat_id`; returns the first message."""
    if len(media) == 1:
        kind, file_id, caption = media[0]
        if kind == "photo":
            return await bot.send_photo(chat_id, photo=file_id, caption=caption[:1024] or None)  # type: ignore[no-any-return]
        return await bot.send_document(chat_id, document=file_id, caption=caption[:1024] or None)  # type: ignore[no-any-return]
    if len(media) > 10 or len({kind for kind, _f, _c in media}) > 1:
        raise ValueError("a media group holds 2-10 files of one kind")
    items = [
        InputMediaPhoto(file_id, caption=caption[:1024] or None)
        if kind == "photo"
        else InputMediaDocument(file_id, caption=caption[:1024] or None)
        for kind, file_id, caption in media
    ]
    sent = await bot.send_media_group(chat_id, items)
    return sent[0]  # type: ignore[no-any-return]
