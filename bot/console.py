"""`volbot console`: talk to the real bot in a terminal, no Telegram needed.

The real application (same handlers, same database) polls a local FakeBotAPI; each line typed is
injected as a message from the console user, and everything the bot sends to that chat (and
privately to the user) is printed as plain text with its inline buttons numbered.

Input:
  text            sent as a message (``/command`` works as in Telegram)
  N  or /press N  press button N of the latest message that has buttons
  :dm TEXT        (in a group) send TEXT to the bot in a private chat
  :file NAME      send a document called NAME (a few bytes) here; /file NAME works too
  :reply TEXT     send TEXT as a reply to your latest file here (e.g. :reply /additem Title)
  :added          (in a group) the bot is added to the group
  :help           this help
  :quit  or EOF   leave
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import re
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any, TextIO

from pydantic import BaseModel

from bot.testing.fake_bot_api import (
    BOT_ID,
    EDIT_METHODS,
    SEND_METHODS,
    Call,
    FakeBotAPI,
    FakeChat,
    FakeUser,
    UploadedFile,
    private_chat,
)

CONSOLE_TOKEN = "000:console"
QUIET_SECONDS = 0.3
# How long to wait for a first reply before deciding the bot has nothing to say.
FIRST_REPLY_GRACE = 1.5
MAX_WAIT = 30.0

_TAG_RE = re.compile(r"<[^>]+>")
_PRESS_RE = re.compile(r"^(?:/press\s+)?(\d+)$")
_FILE_RE = re.compile(r"^[:/]file\s+(\S.*)$")
# Files the bot sends on by file id (agenda files): printed like documents.
MEDIA_METHODS = frozenset({"sendMediaGroup", "sendPhoto"})

HELP = __doc__.split("Input:", 1)[1].rstrip() if __doc__ else ""


def group_chat_id(name: str) -> int:
    """A stable supergroup id for a group name, so the database state survives restarts."""
    return -(1_000_000_000_000 + zlib.crc32(name.encode("utf-8")) % 1_000_000_000)


def to_plain(text: str) -> str:
    return html.unescape(_TAG_RE.sub("", text))


def format_buttons(markup: Any) -> tuple[str, list[dict[str, Any]]]:
    """'[1] Going  [2] Not going' (one line per keyboard row) and the flat list of buttons."""
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        return "", []
    buttons: list[dict[str, Any]] = []
    lines: list[str] = []
    for row in markup["inline_keyboard"]:
        cells = []
        for button in row:
            buttons.append(button)
            label = f"[{len(buttons)}] {button.get('text', '')}"
            if button.get("url"):
                label += f" ({button['url']})"
            cells.append(label)
        lines.append("  ".join(cells))
    return "\n".join(lines), buttons


class Console:
    def __init__(
        self,
        api: FakeBotAPI,
        user: FakeUser,
        chat: FakeChat,
        out: TextIO,
    ) -> None:
        self.api = api
        self.user = user
        self.chat = chat
        self.dm = private_chat(user)
        self.out = out
        self._printed = 0  # index into api.all_calls
        self._keyboards: list[tuple[int, int]] = []  # (chat_id, message_id) in print order
        self._queries: set[str] = set()  # callback query ids of the console's button presses
        self._last_file: int | None = None  # message id of the console user's latest file here

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _watched(self, call: Call) -> bool:
        if call.method == "answerCallbackQuery":
            return str(call.params.get("callback_query_id")) in self._queries
        return call.chat_id in (self.chat.id, self.dm.id)

    def print_new(self) -> None:
        calls = self.api.all_calls
        while self._printed < len(calls):
            call = calls[self._printed]
            self._printed += 1
            if self._watched(call):
                self._print_call(call)

    def _print_call(self, call: Call) -> None:
        prefix = "[private] " if call.chat_id != self.chat.id else ""
        if not call.ok:
            if call.method in SEND_METHODS or call.method in EDIT_METHODS or call.method in MEDIA_METHODS:
                self.write(f"⚠ {prefix}{call.method} failed: {call.status} {call.description or ''}".rstrip())
            return
        if call.method == "answerCallbackQuery":
            text = call.params.get("text")
            if text:
                self.write(("⚠ " if call.params.get("show_alert") else "💬 ") + str(text))
            return
        if call.method == "deleteMessage":
            self.write(f"🗑 {prefix}(message {call.params.get('message_id')} deleted)")
            return
        if call.method in MEDIA_METHODS:
            self._print_media(call, prefix)
            return
        if call.method not in SEND_METHODS and call.method not in EDIT_METHODS:
            return
        response = call.response if isinstance(call.response, dict) else {}
        chat_id = call.chat_id or 0
        message_id = call.message_id or 0
        lines: list[str] = []
        if call.method in EDIT_METHODS:
            lines.append(f"✏️ {prefix}(edited message {message_id})")
        elif prefix:
            lines.append(prefix.strip())
        if call.method == "sendDocument":
            doc = call.params.get("document")
            if isinstance(doc, UploadedFile):
                lines.append(f"📎 {doc.filename} ({len(doc.content)} bytes)")
            else:
                document = response.get("document", {})
                lines.append(f"📎 {document.get('file_name', 'file')} ({document.get('file_size', 0)} bytes)")
        text = response.get("text", response.get("caption"))
        if text is None and call.text is not None:
            text = to_plain(call.text)
        if text and call.method != "editMessageReplyMarkup":
            lines.append(str(text))
        keyboard, buttons = format_buttons(response.get("reply_markup"))
        if buttons:
            lines.append(keyboard)
            self._keyboards.append((chat_id, message_id))
        elif call.method == "editMessageReplyMarkup":
            lines.append("(buttons removed)")
        self.write("\n".join(lines))
        self.write("")

    def _print_media(self, call: Call, prefix: str) -> None:
        messages = call.response if isinstance(call.response, list) else [call.response or {}]
        lines = [prefix.strip()] if prefix else []
        for msg in messages:
            if not isinstance(msg, dict):
                continue
            if "document" in msg:
                doc = msg["document"]
                line = f"📎 {doc.get('file_name', 'file')} ({doc.get('file_size', 0)} bytes)"
            else:
                line = "🖼 (photo)"
            if msg.get("caption"):
                line += f" — {msg['caption']}"
            lines.append(line)
        self.write("\n".join(lines))
        self.write("")

    def latest_keyboard(self) -> tuple[int, int, list[dict[str, Any]]] | None:
        for chat_id, message_id in reversed(self._keyboards):
            message = self.api.messages.get(chat_id, {}).get(message_id)
            if message is not None:
                _, buttons = format_buttons(message.get("reply_markup"))
                if buttons:
                    return chat_id, message_id, buttons
        return None

    async def settle(self) -> None:
        """Print replies until the bot has been quiet for QUIET_SECONDS (or said nothing at all
        within FIRST_REPLY_GRACE)."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        begin = self.api.injection_index
        while True:
            self.print_new()
            elapsed = loop.time() - start
            replied = any(c.method != "getUpdates" for c in self.api.all_calls[begin:])
            if elapsed > MAX_WAIT:
                break
            if replied and time.monotonic() - self.api.last_activity >= QUIET_SECONDS:
                break
            if not replied and elapsed >= FIRST_REPLY_GRACE:
                break
            await self.api.wait_change(QUIET_SECONDS / 3)
        self.print_new()

    async def handle(self, line: str) -> bool:
        """Process one input line; False means quit."""
        line = line.strip()
        if not line:
            return True
        if line in (":quit", ":q", ":exit"):
            return False
        if line == ":help":
            self.write(HELP)
            return True
        if line == ":added":
            if self.chat.type == "private":
                self.write("(not in a group)")
                return True
            self.api.bot_added(self.chat, self.user, as_admin=True)
        elif line.startswith(":dm "):
            self.api.inject_message(self.user, self.dm, line[4:])
        elif (f := _FILE_RE.match(line)) is not None:
            name = f.group(1).strip()
            sent = self.api.inject_message(
                self.user, self.chat, document=(name, f"console file {name}".encode())
            )
            self._last_file = int(sent["message_id"])
        elif line.startswith(":reply "):
            if self._last_file is None:
                self.write("(send a file first: :file NAME)")
                return True
            self.api.inject_message(self.user, self.chat, line[7:], reply_to_message_id=self._last_file)
        elif (m := _PRESS_RE.match(line)) is not None:
            found = self.latest_keyboard()
            number = int(m.group(1))
            if found is None or not 1 <= number <= len(found[2]):
                self.write("(no such button)")
                return True
            chat_id, message_id, buttons = found
            button = buttons[number - 1]
            if "callback_data" not in button:
                self.write(f"(opens {button.get('url') or 'something outside the chat'})")
                return True
            chat = self.chat if chat_id == self.chat.id else self.dm
            self._queries.add(
                self.api.press_button(self.user, chat, message_id, str(button["callback_data"]))
            )
        else:
            self.api.inject_message(self.user, self.chat, line)
        await self.settle()
        return True


async def _read_line(stdin: TextIO) -> str | None:
    line = await asyncio.to_thread(stdin.readline)
    return line if line else None


async def run_console(
    settings: BaseModel,
    *,
    user_id: int,
    first_name: str,
    lang: str | None,
    group: str | None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    app_factory: Callable[[Any], Any] | None = None,
) -> int:
    """Run the console until :quit or EOF; returns an exit code. ``app_factory`` (default
    ``bot.app.build_application``) builds the PTB Application from the adjusted settings."""
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    factory: Callable[[Any], Any]
    if app_factory is None:
        from bot.app import build_application
        from bot.schedule.pacing import Limits

        # The fake counts no per-chat limits: replies need not wait a second for each other here.
        factory = functools.partial(build_application, limits=Limits.global_only())
    else:
        factory = app_factory

    api = FakeBotAPI()
    await api.start()
    fields = type(settings).model_fields
    update: dict[str, Any] = {"bot_token": CONSOLE_TOKEN, "bot_api_base_url": api.base_url}
    if "bot_api_base_file_url" in fields:
        update["bot_api_base_file_url"] = api.base_file_url
    if "webhook_url" in fields:
        update["webhook_url"] = None
    adjusted: Any = settings.model_copy(update=update)
    app: Any = factory(adjusted)

    user = FakeUser(id=user_id, first_name=first_name, language_code=lang)
    if group:
        chat = FakeChat(id=group_chat_id(group), type="supergroup", title=group)
        api.set_admins(chat.id, [BOT_ID], creator=user_id)
    else:
        chat = private_chat(user)
    console = Console(api, user, chat, out)
    interactive = hasattr(stdin, "isatty") and stdin.isatty()
    started = False
    try:
        await app.initialize()
        if app.post_init is not None:
            await app.post_init(app)
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=10)
        started = True
        where = f"group “{group}” ({chat.id})" if group else "a private chat"
        console.write(
            f"volbot console — you are {first_name} ({user_id}, {lang or 'no language'}) in {where}."
        )
        console.write("Type :help for commands, :quit to leave.")
        await api.wait_quiet(QUIET_SECONDS, timeout=MAX_WAIT)
        console.print_new()
        while True:
            if interactive:
                out.write("> ")
                out.flush()
            line = await _read_line(stdin)
            if line is None or not await console.handle(line):
                break
        return 0
    finally:
        with contextlib.suppress(Exception):
            await console.settle()
        try:
            if started and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
                if app.post_stop is not None:
                    await app.post_stop(app)
            await app.shutdown()
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
        finally:
            await api.stop()


def main_console(
    settings: BaseModel,
    *,
    user_id: int,
    first_name: str,
    lang: str | None = None,
    group: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Synchronous entry point for ``volbot console``."""
    try:
        return asyncio.run(
            run_console(
                settings,
                user_id=user_id,
                first_name=first_name,
                lang=lang,
                group=group,
                stdin=stdin,
                stdout=stdout,
            )
        )
    except KeyboardInterrupt:
        return 130
