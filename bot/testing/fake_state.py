"""The Bot API fake's data (users, chats, calls, uploaded files) and its state: messages, updates,
members, webhook, with the helpers that build and store messages. The layers above add limits and
failures (fake_limits), the Bot API methods (fake_methods), the HTTP server (fake_server)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.testing.fake_html import _flat_buttons, html_to_plain

BOT_ID = 999000
BOT_USERNAME = "volbot_test_bot"
BOT_FIRST_NAME = "volbot"
BOT_USER: dict[str, Any] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": BOT_FIRST_NAME,
    "username": BOT_USERNAME,
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

# Methods that send or change a message: limited by Telegram, refused for blocked chats.
MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendMediaGroup",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "editMessageMedia",
    }
)
SEND_METHODS = frozenset({"sendMessage", "sendDocument"})
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})
# Methods refused with 403 for a blocked chat.
BLOCKABLE_METHODS = MESSAGE_METHODS | {"sendChatAction", "pinChatMessage"}

# Telegram does not deliver these update types unless allowed_updates asks for them.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

# Parameters whose values are plain strings (never JSON-decoded).

FailureKind = str  # "429" | "401" | "403" | "400" | "500" | "502" | "timeout"


# --------------------------------------------------------------------------- data classes


@dataclass(frozen=True)
class FakeUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code:
            d["language_code"] = self.language_code
        return d


@dataclass(frozen=True)
class FakeChat:
    id: int
    type: str = "private"  # private | group | supergroup | channel
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            d["first_name"] = self.first_name or f"User{self.id}"
            if self.last_name:
                d["last_name"] = self.last_name
        else:
            d["title"] = self.title or f"Group {self.id}"
        if self.username:
            d["username"] = self.username
        return d


def private_chat(user: FakeUser) -> FakeChat:
    """The private chat between ``user`` and the bot (its id is the user's id)."""
    return FakeChat(
        id=user.id,
        type="private",
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
    )


def group_chat(chat_id: int, title: str, type: str = "supergroup") -> FakeChat:
    if chat_id >= 0:
        raise ValueError("group chat ids are negative")
    return FakeChat(id=chat_id, type=type, title=title)


@dataclass
class UploadedFile:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"

    def __repr__(self) -> str:  # keep call listings short
        return f"UploadedFile({self.filename!r}, {len(self.content)} bytes)"


@dataclass
class Call:
    """One request the bot made. ``status`` is the HTTP status answered (0: connection dropped);
    ``ok`` is true when the call took effect (a message sent/edited, ...)."""

    index: int
    method: str
    params: dict[str, Any]
    chat_id: int | None
    time: float
    status: int = 200
    ok: bool = True
    response: Any = None
    description: str | None = None

    @property
    def text(self) -> str | None:
        """The text or caption as the bot sent it (HTML included)."""
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    @property
    def plain_text(self) -> str | None:
        """The text or caption as Telegram shows it (tags stripped, entities unescaped)."""
        if isinstance(self.response, dict) and ("text" in self.response or "caption" in self.response):
            return str(self.response.get("text", self.response.get("caption", "")))
        text = self.text
        if text is None:
            return None
        if str(self.params.get("parse_mode", "")).upper() == "HTML":
            try:
                return html_to_plain(text)
            except ValueError:
                return text
        return text

    @property
    def message_id(self) -> int | None:
        if isinstance(self.response, dict) and "message_id" in self.response:
            return int(self.response["message_id"])
        mid = self.params.get("message_id")
        return mid if isinstance(mid, int) else None

    @property
    def reply_markup(self) -> Any:
        return self.params.get("reply_markup")

    def buttons(self) -> list[dict[str, Any]]:
        """The inline buttons of this call's reply_markup, flattened row by row."""
        return _flat_buttons(self.reply_markup)

    def __str__(self) -> str:
        text = self.plain_text
        shown = f" {text[:70]!r}" if text else ""
        return f"#{self.index} {self.method} chat={self.chat_id} -> {self.status}{shown}"


@dataclass
class _Failure:
    method: str
    chat_id: int | None
    kind: FailureKind
    count: int
    retry_after: int
    description: str | None
    deliver: bool


class _ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class _Drop(Exception):
    """Close the connection without answering."""


@dataclass
class _Bucket:
    tokens: float
    stamp: float


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def _member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    if status == "creator":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if status == "administrator":
        flags = [
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_pin_messages",
            "can_manage_topics",
        ]
        d: dict[str, Any] = {"status": "administrator", "user": user, "can_be_edited": False}
        d.update({f: True for f in flags})
        d.update({"is_anonymous": False, "can_promote_members": False})
        return d
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": 0}
    if status in ("member", "left"):
        return {"status": status, "user": user}
    raise ValueError(f"unsupported member status {status!r}")


class FakeState:
    """What the fake knows; every layer of FakeBotAPI builds on it."""

    def __init__(
        self,
        *,
        port: int = 0,
        enforce_limits: bool = False,
        latency: float = 0.0,
        timeout_delay: float = 6.0,
        strict_html: bool = True,
        global_rate: int = 30,
        private_rate: float = 1.0,
        private_burst: int = 3,
        group_per_minute: int = 20,
        group_window: float = 60.0,
    ) -> None:
        self.port = port
        self.enforce_limits = enforce_limits
        self.latency = latency
        self.timeout_delay = timeout_delay
        self.strict_html = strict_html
        self.global_rate = global_rate
        self.private_rate = private_rate
        self.private_burst = private_burst
        self.group_per_minute = group_per_minute
        self.group_window = group_window  # seconds; tests shorten Telegram's minute

        self._server: asyncio.Server | None = None
        self._conn_tasks: set[asyncio.Task[Any]] = set()
        self._running = False
        self.tcp_nodelay = True  # only for measuring the delayed-ACK effect; leave on

        self._calls: list[Call] = []
        self._mark = 0  # index of the first call after the last injection
        self._cursors: dict[int | None, int] = {}
        self._changed = asyncio.Event()
        self._last_activity = time.monotonic()

        self.messages: dict[int, dict[int, dict[str, Any]]] = {}
        self._raw: dict[tuple[int, int], tuple[str | None, str | None]] = {}
        self._next_mid: dict[int, int] = {}
        self.deleted: list[tuple[int, int]] = []
        self.pinned: dict[int, int] = {}
        self.reply_keyboards: dict[int, Any] = {}
        self.files: dict[str, UploadedFile] = {}
        self._file_seq = itertools.count(1)

        self._updates: deque[dict[str, Any]] = deque()
        self._update_seq = itertools.count(1)
        self._updates_event = asyncio.Event()
        self._allowed: frozenset[str] | None = None

        self._cq_seq = itertools.count(1)
        self._open_queries: set[str] = set()
        self.callback_answers: dict[str, dict[str, Any]] = {}

        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._admins: dict[int, list[int]] = {}
        self._creator: dict[int, int] = {}
        self._statuses: dict[int, dict[int, str]] = {}

        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] = {}
        self._webhook_task: asyncio.Task[None] | None = None

        self._failures: list[_Failure] = []
        self.blocked: set[int] = set()
        self.count_429 = 0
        self._global_window: deque[float] = deque()
        self._group_windows: dict[int, deque[float]] = {}
        self._private_buckets: dict[int, _Bucket] = {}

        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {}
        names = [
            "getMe",
            "getUpdates",
            "deleteWebhook",
            "setWebhook",
            "getWebhookInfo",
            "setMyCommands",
            "getMyCommands",
            "deleteMyCommands",
            "sendMessage",
            "editMessageText",
            "editMessageReplyMarkup",
            "editMessageCaption",
            "deleteMessage",
            "answerCallbackQuery",
            "sendDocument",
            "sendPhoto",
            "sendMediaGroup",
            "sendChatAction",
            "getChat",
            "getChatAdministrators",
            "getChatMember",
            "getChatMemberCount",
            "pinChatMessage",
            "unpinChatMessage",
            "getFile",
            "close",
            "logOut",
        ]
        for name in names:
            self._handlers[name.lower()] = getattr(self, "_m_" + name)
        self._canonical = {n.lower(): n for n in MESSAGE_METHODS | set(names)}

    def _record(self, call: Call) -> None:
        call.index = len(self._calls)
        self._calls.append(call)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ state helpers

    def _user(self, user_id: int) -> dict[str, Any]:
        if user_id == BOT_ID:
            return {k: BOT_USER[k] for k in ("id", "is_bot", "first_name", "username")}
        return self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}

    def _chat(self, chat_id: int) -> dict[str, Any]:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                u = self._users.get(chat_id, {})
                chat = {"id": chat_id, "type": "private", "first_name": u.get("first_name", f"User{chat_id}")}
            else:
                kind = "supergroup" if chat_id < -1_000_000_000_000 else "group"
                chat = {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}
            self._chats[chat_id] = chat
        return chat

    def _chat_id(self, params: dict[str, Any]) -> int:
        cid = _as_int(params.get("chat_id"))
        if cid is None:
            raise _ApiError(400, "Bad Request: chat not found")
        return cid

    def _new_message_id(self, chat_id: int) -> int:
        mid = self._next_mid.get(chat_id, 0) + 1
        self._next_mid[chat_id] = mid
        return mid

    def _store(self, chat_id: int, msg: dict[str, Any]) -> None:
        self.messages.setdefault(chat_id, {})[msg["message_id"]] = msg

    def _plain(self, text: str, parse_mode: Any) -> str:
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            try:
                return html_to_plain(text)
            except ValueError as e:
                if self.strict_html:
                    raise _ApiError(400, f"Bad Request: {e}") from None
                return re.sub(r"<[^>]*>", "", text)
        return text

    @staticmethod
    def _check_markup(markup: Any) -> Any:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _ApiError(
                    400, 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be an Array'
                )
            for b in _flat_buttons(markup):
                if not b.get("text"):
                    raise _ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                data = b.get("callback_data")
                if data is not None and not (1 <= len(str(data).encode("utf-8")) <= 64):
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _reply_to(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any] | None:
        rp = params.get("reply_parameters")
        mid = _as_int(params.get("reply_to_message_id"))
        allow = bool(params.get("allow_sending_without_reply"))
        if isinstance(rp, dict):
            mid = _as_int(rp.get("message_id"))
            allow = allow or bool(rp.get("allow_sending_without_reply"))
        if mid is None:
            return None
        target = self.messages.get(chat_id, {}).get(mid)
        if target is None and not allow:
            raise _ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _bot_message(self, chat_id: int, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
        markup = self._check_markup(params.get("reply_markup"))
        reply_to = self._reply_to(chat_id, params)
        msg: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": self._user(BOT_ID),
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        msg.update(fields)
        if reply_to is not None:
            msg["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
        if isinstance(markup, dict):
            if "inline_keyboard" in markup:
                msg["reply_markup"] = markup
            else:
                self.reply_keyboards[chat_id] = markup
        self._store(chat_id, msg)
        return msg

    # ------------------------------------------------------------------ webhook delivery

    def _kick_webhook(self) -> None:
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._deliver_webhook())

    async def _deliver_webhook(self) -> None:
        """POST queued updates to the webhook URL, but only on loopback: tests stay offline."""
        import httpx

        async with httpx.AsyncClient(timeout=10) as client:
            while self._updates and self.webhook.get("url"):
                url = str(self.webhook["url"])
                if urlsplit(url).hostname not in ("127.0.0.1", "localhost", "::1"):
                    return
                update = self._updates[0]
                headers = {"Content-Type": "application/json"}
                if self.webhook.get("secret_token"):
                    headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
                try:
                    r = await client.post(url, content=json.dumps(update), headers=headers)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    if self._updates and self._updates[0] is update:
                        self._updates.popleft()
                else:
                    await asyncio.sleep(0.2)
