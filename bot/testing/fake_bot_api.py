"""A local fake of the Telegram Bot API, served over real HTTP on loopback.

The real PTB ``Application`` talks to it through
``ApplicationBuilder().base_url(api.base_url).base_file_url(api.base_file_url)``; the fake records
every call, keeps the state of every message (so edits and button presses behave), serves
long-polling ``getUpdates`` and lets tests inject updates, failures and Telegram's rate limits.

The server is a small HTTP/1.1 implementation on raw asyncio streams, running in the current
event loop (no threads): it is several times faster than a framework and keeps the fake out of
the way of benchmarks. Every accepted socket gets ``TCP_NODELAY`` and every response is written
in one piece; without that a sequential client waits ~40 ms per request on delayed ACKs.

Typical use::

    async with FakeBotAPI() as api:
        app = ApplicationBuilder().token("1:x").base_url(api.base_url) ... .build()
        user = FakeUser(1, "Amina", language_code="da")
        api.inject_message(user, private_chat(user), "/start")
        call = await api.next_message(user.id)
        assert "Welcome" in call.text

Semantics worth knowing:

* Message texts sent with ``parse_mode=HTML`` are validated like Telegram does (unknown tags, a
  stray ``<`` or unbalanced tags give ``400 Bad Request: can't parse entities``) and stored as
  plain text in ``api.messages`` -- the way Telegram returns them. ``Call.params["text"]`` keeps
  what the bot sent.
* ``getUpdates`` honours ``allowed_updates`` like Telegram: until a client asks for them,
  ``chat_member``, ``message_reaction`` and ``message_reaction_count`` updates are not delivered.
* ``fail_next(..., kind="timeout")`` holds the request for ``timeout_delay`` seconds and then
  closes the connection without answering (the client sees a timeout or a dropped connection).
  With ``deliver=True`` the call takes effect first (the message is stored and counted as
  delivered), which simulates "Telegram sent it, but the answer was lost".
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import math
import re
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = [
    "BOT_ID",
    "BOT_USERNAME",
    "Call",
    "FakeBotAPI",
    "FakeChat",
    "FakeUser",
    "UploadedFile",
    "group_chat",
    "html_to_plain",
    "private_chat",
]

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
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "parse_mode",
        "language_code",
        "url",
        "secret_token",
        "ip_address",
        "action",
        "title",
        "description",
        "short_description",
        "name",
        "custom_title",
        "file_id",
        "emoji",
        "data",
        "query",
        "business_connection_id",
        "message_effect_id",
    }
)

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
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

FailureKind = str  # "429" | "403" | "400" | "500" | "502" | "timeout"


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


# --------------------------------------------------------------------------- helpers


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


def _decode_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS or not value:
        return value
    first = value[0]
    if first in "{[" or first in "-0123456789" or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for m in re.finditer(r'([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))', rest):
        raw = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = raw
    return main.strip().lower(), params


def _unescape_form_name(value: str) -> str:
    # httpx encodes multipart names the HTML5 way: '"' -> %22, controls -> %XX, '\' -> '\\'.
    return unquote(value.replace("\\\\", "\\"))


def _parse_multipart(body: bytes, boundary: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, _, content = part.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        _, disp = _header_params(headers.get("content-disposition", ""))
        name = _unescape_form_name(disp.get("name", ""))
        if "filename" in disp:
            params[name] = UploadedFile(
                filename=_unescape_form_name(disp["filename"]),
                content=content,
                content_type=headers.get("content-type", "application/octet-stream"),
            )
        else:
            params[name] = _decode_value(name, content.decode("utf-8"))
    return params


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


# --------------------------------------------------------------------------- the fake


class FakeBotAPI:
    """A fake Telegram Bot API server on 127.0.0.1. See the module docstring."""

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

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeBotAPI:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self._running = True
        return self

    async def stop(self) -> None:
        self._running = False
        self._updates_event.set()
        if self._server is not None:
            self._server.close()
        tasks = [t for t in self._conn_tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(BaseException):
                await self._webhook_task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends ``{token}/{method}``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------------ HTTP

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conn_tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self.tcp_nodelay else 0)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    verb, target, version = lines[0].split(" ", 2)
                except ValueError:
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    body = await self._read_chunked(reader)
                else:
                    length = int(headers.get("content-length") or 0)
                    body = await reader.readexactly(length) if length else b""
                try:
                    status, ctype, payload = await self._route(verb, target, headers, body)
                except _Drop:
                    return
                keep_alive = (
                    version.upper() == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                )
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
                    % (
                        status,
                        _REASONS.get(status, "Unknown").encode(),
                        ctype.encode(),
                        len(payload),
                        b"" if keep_alive else b"Connection: close\r\n",
                    )
                    + payload
                )
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
                if not keep_alive:
                    await writer.drain()
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Only stop() cancels these tasks; finishing quietly keeps asyncio's stream
            # callback from logging the cancellation as an error.
            return
        finally:
            if task is not None:
                self._conn_tasks.discard(task)
            writer.close()

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readline()

    async def _route(
        self, verb: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/file/bot"):
            _, _, file_path = path[len("/file/bot") :].partition("/")
            file_id = unquote(file_path).rpartition("/")[2]
            f = self.files.get(file_id)
            if f is None:
                return 404, "application/json", b'{"ok":false,"error_code":404,"description":"Not Found"}'
            return 200, f.content_type, f.content
        if not path.startswith("/bot") or "/" not in path[4:]:
            return 404, "application/json", b'{"ok":false,"error_code":404,"description":"Not Found"}'
        token, _, method = path[4:].partition("/")
        params: dict[str, Any] = {
            k: _decode_value(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        }
        if body:
            ctype, cparams = _header_params(headers.get("content-type", ""))
            if ctype == "application/json":
                data = json.loads(body)
                if isinstance(data, dict):
                    params.update(
                        {k: _decode_value(k, v) if isinstance(v, str) else v for k, v in data.items()}
                    )
            elif ctype == "multipart/form-data":
                params.update(_parse_multipart(body, cparams.get("boundary", "")))
            else:
                params.update(
                    {
                        k: _decode_value(k, v)
                        for k, v in parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                    }
                )
        status, payload = await self._api_call(token, method, params)
        return status, "application/json", payload

    # ------------------------------------------------------------------ dispatch

    async def _api_call(self, token: str, method_name: str, params: dict[str, Any]) -> tuple[int, bytes]:
        method = self._canonical.get(method_name.lower(), method_name)
        chat_id = _as_int(params.get("chat_id"))
        now = time.monotonic()
        call = Call(index=-1, method=method, params=params, chat_id=chat_id, time=now)
        is_poll = method == "getUpdates"
        if not is_poll:
            self._last_activity = now
        result: Any = True
        drop = False
        deliver_then_drop = False
        try:
            failure = self._take_failure(method, chat_id)
            if failure is not None:
                if failure.kind == "timeout":
                    drop = True
                    deliver_then_drop = failure.deliver
                    if not deliver_then_drop:
                        raise _Drop
                else:
                    raise self._failure_error(failure)
            if chat_id is not None and chat_id in self.blocked and method in BLOCKABLE_METHODS:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            if self.enforce_limits and method in MESSAGE_METHODS:
                retry_after = self._check_limits(chat_id, now)
                if retry_after is not None:
                    self.count_429 += 1
                    raise _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
            handler = self._handlers.get(method.lower())
            if handler is not None:
                result = handler(params)
                if asyncio.iscoroutine(result):
                    result = await result
            call.response = result
        except _Drop:
            call.status, call.ok = 0, False
            self._record(call)
            await self._hold()
            raise
        except _ApiError as e:
            call.status, call.ok, call.description = e.status, False, e.description
            self._record(call)
            body: dict[str, Any] = {"ok": False, "error_code": e.status, "description": e.description}
            if e.retry_after is not None:
                body["parameters"] = {"retry_after": e.retry_after}
            if self.latency and not is_poll:
                await asyncio.sleep(self.latency)
            return e.status, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        if drop:
            call.status = 0
            self._record(call)
            await self._hold()
            raise _Drop
        self._record(call)
        if self.latency and not is_poll:
            await asyncio.sleep(self.latency)
        payload = {"ok": True, "result": result}
        return 200, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    async def _hold(self) -> None:
        await asyncio.sleep(self.timeout_delay)

    def _record(self, call: Call) -> None:
        call.index = len(self._calls)
        self._calls.append(call)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _take_failure(self, method: str, chat_id: int | None) -> _Failure | None:
        for f in self._failures:
            matches = (f.method == "*" and method in BLOCKABLE_METHODS) or f.method == method
            if matches and (f.chat_id is None or f.chat_id == chat_id):
                f.count -= 1
                if f.count <= 0:
                    self._failures.remove(f)
                return f
        return None

    @staticmethod
    def _failure_error(f: _Failure) -> _ApiError:
        if f.kind == "429":
            return _ApiError(429, f"Too Many Requests: retry after {f.retry_after}", f.retry_after)
        if f.kind == "403":
            return _ApiError(403, f.description or "Forbidden: bot was blocked by the user")
        if f.kind == "400":
            return _ApiError(400, f.description or "Bad Request: chat not found")
        if f.kind == "500":
            return _ApiError(500, f.description or "Internal Server Error")
        if f.kind == "502":
            return _ApiError(502, f.description or "Bad Gateway")
        raise ValueError(f"unknown failure kind {f.kind!r}")

    def _check_limits(self, chat_id: int | None, now: float) -> int | None:
        """Return retry_after (seconds) if the call exceeds a limit, else consume and return None."""
        gw = self._global_window
        while gw and gw[0] <= now - 1.0:
            gw.popleft()
        if len(gw) >= self.global_rate:
            return max(1, math.ceil(gw[0] + 1.0 - now))
        bucket: _Bucket | None = None
        window: deque[float] | None = None
        if chat_id is not None and chat_id > 0:
            bucket = self._private_buckets.get(chat_id)
            if bucket is None:
                bucket = self._private_buckets[chat_id] = _Bucket(float(self.private_burst), now)
            bucket.tokens = min(
                float(self.private_burst), bucket.tokens + (now - bucket.stamp) * self.private_rate
            )
            bucket.stamp = now
            if bucket.tokens < 1.0:
                return max(1, math.ceil((1.0 - bucket.tokens) / self.private_rate))
        elif chat_id is not None and chat_id < 0:
            window = self._group_windows.setdefault(chat_id, deque())
            while window and window[0] <= now - self.group_window:
                window.popleft()
            if len(window) >= self.group_per_minute:
                return max(1, math.ceil(window[0] + self.group_window - now))
        gw.append(now)
        if bucket is not None:
            bucket.tokens -= 1.0
        if window is not None:
            window.append(now)
        return None

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

    def block(self, chat_id: int) -> None:
        """Every send to ``chat_id`` answers 403 'Forbidden: bot was blocked by the user'."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    def fail_next(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        kind: FailureKind = "429",
        count: int = 1,
        retry_after: int = 1,
        description: str | None = None,
        deliver: bool = False,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (``"*"``: any sending method), optionally only
        to ``chat_id``, fail. kind: "429" (with retry_after), "403", "400", "500", "502" or
        "timeout" (hold ``timeout_delay`` s, then close the connection without an answer; with
        ``deliver=True`` the call takes effect before that)."""
        if kind not in ("429", "403", "400", "500", "502", "timeout"):
            raise ValueError(f"unknown failure kind {kind!r}")
        method = self._canonical.get(method.lower(), method)
        self._failures.append(_Failure(method, chat_id, kind, count, retry_after, description, deliver))

    def reset_limits(self) -> None:
        self._global_window.clear()
        self._group_windows.clear()
        self._private_buckets.clear()

    # ------------------------------------------------------------------ injecting updates

    def _mark_injection(self) -> None:
        self._mark = len(self._calls)
        self._cursors.clear()

    def inject_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (update_id assigned if missing); returns its update_id."""
        if "update_id" not in update:
            update = {"update_id": next(self._update_seq), **update}
        self._updates.append(update)
        self._mark_injection()
        self._last_activity = time.monotonic()
        self._updates_event.set()
        self._updates_event = asyncio.Event()
        if self.webhook.get("url"):
            self._kick_webhook()
        return int(update["update_id"])

    def _remember(self, user: FakeUser | None, chat: FakeChat | None) -> None:
        if user is not None:
            self._users[user.id] = user.to_dict()
        if chat is not None:
            self._chats[chat.id] = chat.to_dict()
            if (
                user is not None
                and chat.id < 0
                and self.member_status(chat.id, user.id) in ("left", "kicked")
            ):
                self.set_member_status(chat.id, user.id, "member")

    def inject_message(
        self,
        user: FakeUser,
        chat: FakeChat | None = None,
        text: str | None = None,
        *,
        reply_to_message_id: int | None = None,
        document: UploadedFile | tuple[str, bytes] | None = None,
        caption: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A message from ``user`` in ``chat`` (default: their private chat). A leading /command
        gets a bot_command entity (``/cmd@volbot_test_bot`` included). Returns the message."""
        chat = chat or private_chat(user)
        self._remember(user, chat)
        msg: dict[str, Any] = {
            "message_id": self._new_message_id(chat.id),
            "from": user.to_dict(),
            "chat": chat.to_dict(),
            "date": int(time.time()),
        }
        if text is not None:
            msg["text"] = text
            if entities is None:
                m = _COMMAND_RE.match(text)
                if m is not None:
                    entities = [{"type": "bot_command", "offset": 0, "length": len(m.group(0))}]
            if entities:
                msg["entities"] = entities
        if document is not None:
            f = document if isinstance(document, UploadedFile) else UploadedFile(document[0], document[1])
            file_id = f"DOC{next(self._file_seq)}"
            self.files[file_id] = f
            msg["document"] = {
                "file_id": file_id,
                "file_unique_id": "U" + file_id,
                "file_name": f.filename,
                "mime_type": f.content_type,
                "file_size": len(f.content),
            }
            if caption is not None:
                msg["caption"] = caption
        if reply_to_message_id is not None:
            target = self.messages.get(chat.id, {}).get(reply_to_message_id)
            if target is None:
                raise KeyError(f"no message {reply_to_message_id} in chat {chat.id}")
            msg["reply_to_message"] = {k: v for k, v in target.items() if k != "reply_to_message"}
        msg.update(extra)
        self._store(chat.id, msg)
        self.inject_update({"message": msg})
        return msg

    def press_button(self, user: FakeUser, chat: FakeChat | int, message_id: int, data: str) -> str:
        """A callback_query from ``user`` on the stored message; returns the callback query id."""
        chat_id = chat if isinstance(chat, int) else chat.id
        if isinstance(chat, FakeChat):
            self._remember(user, chat)
        else:
            self._remember(user, None)
        msg = self.messages.get(chat_id, {}).get(message_id)
        if msg is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        qid = str(next(self._cq_seq) * 7919 + 10_000_000)
        self._open_queries.add(qid)
        instance = 1_000_000 + chat_id % 1_000_000
        self.inject_update(
            {
                "callback_query": {
                    "id": qid,
                    "from": user.to_dict(),
                    "message": dict(msg),  # as it was when pressed
                    "chat_instance": str(instance),
                    "data": data,
                }
            }
        )
        return qid

    def buttons(self, chat_id: int, message_id: int) -> list[dict[str, Any]]:
        """The current inline buttons of a stored message, row by row flattened."""
        msg = self.messages.get(chat_id, {}).get(message_id)
        return _flat_buttons(msg.get("reply_markup")) if msg else []

    def press(self, user: FakeUser, chat: FakeChat | int, message_id: int, label: str | int) -> str:
        """Press a button by its text (exact or substring) or its 1-based number."""
        buttons = self.buttons(chat if isinstance(chat, int) else chat.id, message_id)
        if isinstance(label, int):
            button = buttons[label - 1]
        else:
            matches = [b for b in buttons if b["text"] == label] or [b for b in buttons if label in b["text"]]
            if not matches:
                raise KeyError(f"no button {label!r} among {[b['text'] for b in buttons]}")
            button = matches[0]
        if "callback_data" not in button:
            raise ValueError(f"button {button.get('text')!r} has no callback_data")
        return self.press_button(user, chat, message_id, str(button["callback_data"]))

    def new_chat_member(
        self, chat: FakeChat, user: FakeUser, *, by: FakeUser | None = None
    ) -> dict[str, Any]:
        """``user`` joins ``chat`` (a service message with new_chat_members)."""
        self._remember(user, chat)
        self.set_member_status(chat.id, user.id, "member")
        return self.inject_message(by or user, chat, None, new_chat_members=[user.to_dict()])

    def left_chat_member(self, chat: FakeChat, user: FakeUser) -> dict[str, Any]:
        self.set_member_status(chat.id, user.id, "left")
        return self.inject_message(user, chat, None, left_chat_member=user.to_dict())

    def bot_added(self, chat: FakeChat, by: FakeUser, *, as_admin: bool = False) -> int:
        """The bot is added to ``chat`` by ``by``: a my_chat_member update and a service message."""
        self._remember(by, chat)
        new = "administrator" if as_admin else "member"
        if as_admin:
            self._admins.setdefault(chat.id, []).append(BOT_ID)
        else:
            self.set_member_status(chat.id, BOT_ID, "member")
        update_id = self.inject_update(
            {
                "my_chat_member": {
                    "chat": chat.to_dict(),
                    "from": by.to_dict(),
                    "date": int(time.time()),
                    "old_chat_member": _member("left", self._user(BOT_ID)),
                    "new_chat_member": _member(new, self._user(BOT_ID)),
                }
            }
        )
        self.inject_message(by, chat, None, new_chat_members=[self._user(BOT_ID)])
        return update_id

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

    # ------------------------------------------------------------------ inspecting

    def calls(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self._calls
            if (method is None or c.method == method) and (chat_id is None or c.chat_id == chat_id)
        ]

    @property
    def all_calls(self) -> list[Call]:
        return self._calls

    def sent_messages(self, chat_id: int | None = None) -> list[Call]:
        """Successful sendMessage/sendDocument calls (optionally to one chat)."""
        return [
            c
            for c in self._calls
            if c.ok and c.method in SEND_METHODS and (chat_id is None or c.chat_id == chat_id)
        ]

    def deliveries(self, chat_id: int | None = None) -> Counter[tuple[int | None, str]]:
        """How often each (chat_id, text) was delivered; documents count as '📎filename|caption'."""
        counter: Counter[tuple[int | None, str]] = Counter()
        for c in self.sent_messages(chat_id):
            if c.method == "sendDocument":
                doc = c.params.get("document")
                name = doc.filename if isinstance(doc, UploadedFile) else str(doc)
                key = f"📎{name}|{c.text or ''}"
            else:
                key = c.text or ""
            counter[(c.chat_id, key)] += 1
        return counter

    def duplicates(self, chat_id: int | None = None) -> dict[tuple[int | None, str], int]:
        """(chat_id, text) delivered more than once, with their counts: {} means exactly-once."""
        return {k: n for k, n in self.deliveries(chat_id).items() if n > 1}

    def clear(self) -> None:
        """Forget recorded calls, 429 counts, limit windows and pending failures (messages stay)."""
        self._calls.clear()
        self._mark = 0
        self._cursors.clear()
        self.count_429 = 0
        self._failures.clear()
        self.callback_answers.clear()
        self.reset_limits()

    @property
    def injection_index(self) -> int:
        """Index of the first call recorded after the last injection."""
        return self._mark

    @property
    def last_activity(self) -> float:
        """time.monotonic() of the last non-getUpdates call or injection."""
        return self._last_activity

    def _describe_recent(self, n: int = 25) -> str:
        recent = [c for c in self._calls if c.method != "getUpdates"][-n:]
        return "\n".join(f"  {c}" for c in recent) or "  (none)"

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 5.0,
        *,
        start: int | None = None,
        description: str = "a matching call",
    ) -> Call:
        """The first recorded call from ``start`` (default: after the last injection) that
        satisfies ``predicate``; AssertionError listing recent calls on timeout."""
        index = self._mark if start is None else start
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while index < len(self._calls):
                call = self._calls[index]
                index += 1
                if predicate(call):
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {description}; recent calls:\n"
                    + self._describe_recent()
                )
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def next_message(self, chat_id: int, timeout: float = 5.0) -> Call:
        """The next successful sendMessage/sendDocument/edit to ``chat_id`` after the last injection;
        successive calls return successive messages."""
        start = max(self._cursors.get(chat_id, 0), self._mark)
        call = await self.wait_for(
            lambda c: (
                c.ok and c.chat_id == chat_id and (c.method in SEND_METHODS or c.method in EDIT_METHODS)
            ),
            timeout,
            start=start,
            description=f"a message to chat {chat_id}",
        )
        self._cursors[chat_id] = call.index + 1
        return call

    async def answer_of(self, callback_query_id: str, timeout: float = 5.0) -> Call:
        """The answerCallbackQuery call for this callback query id."""
        return await self.wait_for(
            lambda c: (
                c.method == "answerCallbackQuery"
                and str(c.params.get("callback_query_id")) == callback_query_id
            ),
            timeout,
            start=0,
            description=f"answerCallbackQuery({callback_query_id})",
        )

    async def wait_change(self, timeout: float) -> bool:
        """Wait until a call is recorded (or ``timeout`` passes); True if one was."""
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def wait_quiet(self, quiet: float = 0.3, timeout: float = 10.0) -> None:
        """Return once no call (other than getUpdates) and no injection happened for ``quiet`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            idle = time.monotonic() - self._last_activity
            if idle >= quiet:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"the bot was not quiet for {quiet}s within {timeout}s")
            await asyncio.sleep(min(quiet - idle, remaining) + 0.001)
