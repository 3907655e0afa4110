"""The Bot API fake's methods (`_m_<method>`): what each Bot API call does to the fake's state."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterable
from typing import Any

from bot.testing.fake_limits import FakeLimits
from bot.testing.fake_state import (
    _OPT_IN_UPDATES,
    BOT_ID,
    BOT_USER,
    UploadedFile,
    _ApiError,
    _as_int,
    _member,
)


class FakeMethods(FakeLimits):
    # ------------------------------------------------------------------ API methods

    def _m_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    def _m_logOut(self, params: dict[str, Any]) -> Any:
        return True

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first",
            )
        offset = _as_int(params.get("offset"))
        limit = _as_int(params.get("limit")) or 100
        limit = max(1, min(100, limit))
        try:
            timeout = float(params.get("timeout") or 0)
        except (TypeError, ValueError):
            timeout = 0.0
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(allowed) if allowed else None
        if offset is not None:
            if offset < 0:
                while len(self._updates) > -offset:
                    self._updates.popleft()
            else:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            batch = [u for u in self._updates if self._is_allowed(u)][:limit]
            remaining = deadline - loop.time()
            if batch or remaining <= 0 or not self._running:
                return batch
            event = self._updates_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self._allowed

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        url = params.get("url") or ""
        self.webhook = dict(params) if url else {}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if url:
            self._kick_webhook()
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope")
        scope_key = json.dumps(scope, sort_keys=True) if scope else json.dumps({"type": "default"})
        return scope_key, str(params.get("language_code") or "")

    def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        self.commands[self._commands_key(params)] = commands
        return True

    def _m_getMyCommands(self, params: dict[str, Any]) -> Any:
        return self.commands.get(self._commands_key(params), [])

    def _m_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    def my_commands(
        self, language_code: str = "", scope: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """What setMyCommands stored for this language and scope (default scope if None)."""
        p: dict[str, Any] = {"language_code": language_code, "scope": scope}
        return self.commands.get(self._commands_key(p), [])

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params)
        raw = params.get("text")
        text = "" if raw is None else str(raw)
        if not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        plain = self._plain(text, params.get("parse_mode"))
        if not plain.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(plain) > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        msg = self._bot_message(chat_id, params, text=plain)
        self._raw[(chat_id, msg["message_id"])] = (text, params.get("parse_mode"))
        return dict(msg)

    def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params)
        doc = params.get("document")
        if isinstance(doc, UploadedFile):
            file_id = f"DOC{next(self._file_seq)}"
            self.files[file_id] = doc
        elif isinstance(doc, str) and doc in self.files:
            file_id = doc
        elif isinstance(doc, str) and doc.startswith(("http://", "https://")):
            file_id = f"DOC{next(self._file_seq)}"
            self.files[file_id] = UploadedFile(doc.rsplit("/", 1)[-1] or "file", b"")
        else:
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        f = self.files[file_id]
        fields: dict[str, Any] = {
            "document": {
                "file_id": file_id,
                "file_unique_id": "U" + file_id,
                "file_name": f.filename,
                "mime_type": f.content_type,
                "file_size": len(f.content),
            }
        }
        caption = params.get("caption")
        if caption:
            plain = self._plain(str(caption), params.get("parse_mode"))
            if len(plain) > 1024:
                raise _ApiError(400, "Bad Request: message caption is too long")
            fields["caption"] = plain
        msg = self._bot_message(chat_id, params, **fields)
        self._raw[(chat_id, msg["message_id"])] = (
            None if caption is None else str(caption),
            params.get("parse_mode"),
        )
        return dict(msg)

    def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        # Only photos Telegram already has (by file id): what the bot forwards from agenda items.
        chat_id = self._chat_id(params)
        photo = params.get("photo")
        if not isinstance(photo, str) or photo not in self.files:
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        fields: dict[str, Any] = {
            "photo": [{"file_id": photo, "file_unique_id": "U" + photo, "width": 1280, "height": 960}]
        }
        caption = params.get("caption")
        if caption:
            fields["caption"] = self._plain(str(caption), params.get("parse_mode"))
        msg = self._bot_message(chat_id, params, **fields)
        self._raw[(chat_id, msg["message_id"])] = (None if caption is None else str(caption), None)
        return dict(msg)

    def _m_sendMediaGroup(self, params: dict[str, Any]) -> Any:
        """2–10 documents, or 2–10 photos/videos, by file id; one message each, sharing a media_group_id."""
        chat_id = self._chat_id(params)
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise _ApiError(400, "Bad Request: wrong number of media specified (must be 2-10)")
        kinds = {str(item.get("type")) for item in media if isinstance(item, dict)}
        if "document" in kinds and kinds != {"document"}:
            raise _ApiError(400, "Bad Request: documents can't be mixed with other media types")
        group_id = f"G{next(self._file_seq)}"
        out = []
        for item in media:
            if not isinstance(item, dict) or item.get("media") not in self.files:
                raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            file_id = str(item["media"])
            f = self.files[file_id]
            fields: dict[str, Any] = {"media_group_id": group_id}
            if item.get("type") == "document":
                fields["document"] = {
                    "file_id": file_id,
                    "file_unique_id": "U" + file_id,
                    "file_name": f.filename,
                    "mime_type": f.content_type,
                    "file_size": len(f.content),
                }
            else:
                fields["photo"] = [
                    {"file_id": file_id, "file_unique_id": "U" + file_id, "width": 1280, "height": 960}
                ]
            if item.get("caption"):
                plain = self._plain(str(item["caption"]), item.get("parse_mode"))
                if len(plain) > 1024:
                    raise _ApiError(400, "Bad Request: message caption is too long")
                fields["caption"] = plain
            msg = self._bot_message(chat_id, {}, **fields)
            out.append(dict(msg))
        return out

    def _m_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params.get("file_id", ""))
        f = self.files.get(file_id)
        if f is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": "U" + file_id,
            "file_size": len(f.content),
            "file_path": f"documents/{file_id}",
        }

    def _target(self, params: dict[str, Any], *, what: str = "edit") -> tuple[int, dict[str, Any]] | None:
        if params.get("inline_message_id"):
            return None
        chat_id = self._chat_id(params)
        mid = _as_int(params.get("message_id"))
        msg = self.messages.get(chat_id, {}).get(mid) if mid is not None else None
        if msg is None:
            raise _ApiError(400, f"Bad Request: message to {what} not found")
        return chat_id, msg

    def _apply_edit(self, params: dict[str, Any], *, text_key: str | None) -> Any:
        target = self._target(params)
        if target is None:
            return True
        chat_id, msg = target
        if msg.get("from", {}).get("id") != BOT_ID:
            raise _ApiError(400, "Bad Request: message can't be edited")
        markup = self._check_markup(params.get("reply_markup"))
        new_markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        key = (chat_id, msg["message_id"])
        old_raw = self._raw.get(key, (msg.get("text"), None))
        if text_key is not None:
            raw = params.get(text_key)
            text = "" if raw is None else str(raw)
            if text_key == "text" and not text.strip():
                raise _ApiError(400, "Bad Request: message text is empty")
            if text_key == "text" and "text" not in msg:
                raise _ApiError(400, "Bad Request: there is no text in the message to edit")
            plain = self._plain(text, params.get("parse_mode"))
            if text_key == "text" and len(plain) > 4096:
                raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
            new_raw: tuple[str | None, str | None] = (text, params.get("parse_mode"))
            same_text = old_raw[0] == text and (old_raw[1] or None) == (new_raw[1] or None)
        else:
            plain, new_raw, same_text = "", old_raw, True
        if same_text and msg.get("reply_markup") == new_markup:
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message",
            )
        if text_key is not None:
            msg[text_key] = plain
            self._raw[key] = new_raw
        if new_markup is None:
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = new_markup
        msg["edit_date"] = int(time.time())
        return dict(msg)

    def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        return self._apply_edit(params, text_key="text")

    def _m_editMessageCaption(self, params: dict[str, Any]) -> Any:
        return self._apply_edit(params, text_key="caption")

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        return self._apply_edit(params, text_key=None)

    def _m_deleteMessage(self, params: dict[str, Any]) -> Any:
        target = self._target(params, what="delete")
        if target is None:
            return True
        chat_id, msg = target
        del self.messages[chat_id][msg["message_id"]]
        self.deleted.append((chat_id, msg["message_id"]))
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        qid = str(params.get("callback_query_id", ""))
        if qid not in self._open_queries:
            raise _ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        self._open_queries.discard(qid)
        self.callback_answers[qid] = params
        return True

    def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._chat_id(params)
        return True

    def _m_pinChatMessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params)
        mid = _as_int(params.get("message_id"))
        if mid is None or mid not in self.messages.get(chat_id, {}):
            raise _ApiError(400, "Bad Request: message to pin not found")
        self.pinned[chat_id] = mid
        return True

    def _m_unpinChatMessage(self, params: dict[str, Any]) -> Any:
        self.pinned.pop(self._chat_id(params), None)
        return True

    def _m_getChat(self, params: dict[str, Any]) -> Any:
        info = dict(self._chat(self._chat_id(params)))
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }
        )
        return info

    def member_status(self, chat_id: int, user_id: int) -> str:
        """creator | administrator | member | left | kicked, as getChatMember will answer."""
        if chat_id > 0:
            return "member" if user_id in (chat_id, BOT_ID) else "left"
        if self._creator.get(chat_id) == user_id:
            return "creator"
        if user_id in self._admins.get(chat_id, ()):
            return "administrator"
        return self._statuses.get(chat_id, {}).get(user_id, "member" if user_id == BOT_ID else "left")

    def _m_getChatMember(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params)
        user_id = _as_int(params.get("user_id"))
        if user_id is None:
            raise _ApiError(400, "Bad Request: invalid user_id specified")
        return _member(self.member_status(chat_id, user_id), self._user(user_id))

    def _m_getChatAdministrators(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params)
        if chat_id > 0:
            raise _ApiError(400, "Bad Request: there are no administrators in the private chat")
        ids = ([self._creator[chat_id]] if chat_id in self._creator else []) + self._admins.get(chat_id, [])
        return [_member(self.member_status(chat_id, uid), self._user(uid)) for uid in ids]

    def _m_getChatMemberCount(self, params: dict[str, Any]) -> Any:
        chat_id = self._chat_id(params)
        if chat_id > 0:
            return 2
        statuses = self._statuses.get(chat_id, {})
        members = {u for u, s in statuses.items() if s in ("member", "administrator", "creator")}
        members |= set(self._admins.get(chat_id, [])) | (
            {self._creator[chat_id]} if chat_id in self._creator else set()
        )
        return len(members | {BOT_ID})

    # ------------------------------------------------------------------ admins, members, blocking

    def set_admins(self, chat_id: int, user_ids: Iterable[int], *, creator: int | None = None) -> None:
        """Who getChatAdministrators/getChatMember report as administrators (``creator`` as creator).
        Add ``BOT_ID`` to make the bot an administrator."""
        self._admins[chat_id] = [u for u in user_ids if u != creator]
        if creator is not None:
            self._creator[chat_id] = creator
        else:
            self._creator.pop(chat_id, None)

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """status: member | left | kicked (admins via set_admins)."""
        self._statuses.setdefault(chat_id, {})[user_id] = status
