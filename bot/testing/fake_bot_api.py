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
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bot.testing.fake_html import _flat_buttons, html_to_plain
from bot.testing.fake_server import FakeServer
from bot.testing.fake_state import (
    BOT_FIRST_NAME,
    BOT_ID,
    BOT_USER,
    BOT_USERNAME,
    EDIT_METHODS,
    MESSAGE_METHODS,
    SEND_METHODS,
    Call,
    FakeChat,
    FakeUser,
    UploadedFile,
    _member,
    group_chat,
    private_chat,
)

__all__ = [
    "BOT_FIRST_NAME",
    "BOT_ID",
    "BOT_USER",
    "BOT_USERNAME",
    "EDIT_METHODS",
    "MESSAGE_METHODS",
    "SEND_METHODS",
    "Call",
    "FakeBotAPI",
    "FakeChat",
    "FakeUser",
    "UploadedFile",
    "group_chat",
    "html_to_plain",
    "private_chat",
]

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")


class FakeBotAPI(FakeServer):
    """A fake Telegram Bot API server on 127.0.0.1. See the module docstring. Layers: fake_state
    (data), fake_limits, fake_methods, fake_server; this one injects updates and inspects calls."""

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
