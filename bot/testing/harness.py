"""The real Application, polling a local FakeBotAPI over HTTP, on a database of the caller's choice.

Used by the end-to-end tests and the benchmarks:

    async with BotHarness(db_url) as h:
        alice = h.user(1, "Alice", "da")
        calls = await h.say(alice, "/start")        # waits until the update is fully handled
        await h.advance(days=3)                     # moves the clock and runs what became due
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update

from bot.app import build_application
from bot.config import Settings
from bot.schedule import notices
from bot.schedule.pacing import Limits
from bot.services import Services
from bot.testing.fake_bot_api import Call, FakeBotAPI, FakeChat, FakeUser, group_chat, private_chat


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)
        self.frozen = start is not None

    def __call__(self) -> datetime:
        return self.now if self.frozen else datetime.now(UTC)

    def set(self, when: datetime) -> None:
        self.frozen = True
        self.now = when

    def advance(self, delta: timedelta) -> None:
        if not self.frozen:
            self.now = datetime.now(UTC)
            self.frozen = True
        self.now += delta


class BotHarness:
    def __init__(
        self,
        database_url: str,
        *,
        api: FakeBotAPI | None = None,
        now: datetime | None = None,
        dispatch: bool = False,
        settings: dict[str, Any] | None = None,
        limits: Limits | None = None,
        via: Any = None,
        background_wakes: bool | None = None,
    ) -> None:
        self.database_url = database_url
        self.api = api or FakeBotAPI()
        self._own_api = api is None
        self.clock = FakeClock(now)
        self.dispatch = dispatch
        # Flood control off unless a test turns it on: tests send faster than any person.
        self.extra_settings = {"flood_limit": 0, **(settings or {})}
        # The pacer's limits: Telegram's when the fake enforces them; else none (the fake counts
        # nothing, and a test need not wait for Telegram's pace between replies).
        self.limits = limits
        # Something with base_url/base_file_url between the bot and the fake (an outage link).
        self.via = via
        # On a frozen clock the test decides when notices go out (`run_due`, `advance`): a wake the
        # bot asks for after an enqueue is only counted, never run in the background, so it cannot
        # race the test's next command. On the real clock (or with dispatch=True) wakes run as in
        # production.
        self.background_wakes = (now is None or dispatch) if background_wakes is None else background_wakes
        self.wakes = 0
        self._injected = 0
        self._processed = 0
        self._cond = asyncio.Condition()
        self._ids = itertools.count(-1001000000000, -1)

    async def __aenter__(self) -> BotHarness:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._own_api:
            await self.api.start()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token="123456:TEST-TOKEN",
            database_url=self.database_url,
            bot_api_base_url=(self.via or self.api).base_url,
            bot_api_base_file_url=(self.via or self.api).base_file_url,
            **self.extra_settings,
        )
        limits = self.limits or (Limits() if self.api.enforce_limits else Limits.unlimited())
        self.app = build_application(settings, clock=self.clock, dispatch=self.dispatch, limits=limits)
        self.services: Services = self.app.bot_data["services"]
        original = self.app.process_update

        async def tracked(update: object) -> None:
            try:
                await original(update)
            finally:
                async with self._cond:
                    self._processed += 1
                    self._cond.notify_all()

        self.app.process_update = tracked  # type: ignore[method-assign]
        await self.app.initialize()
        # PTB runs post_init/post_shutdown only inside run_polling/run_webhook; we drive the loop ourselves.
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        if not self.background_wakes and self.services.dispatcher is not None:
            self.services.dispatcher.wake = self._held_wake  # type: ignore[method-assign]
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(poll_interval=0.0, timeout=1, allowed_updates=Update.ALL_TYPES)

    async def stop(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)
        if self._own_api:
            await self.api.stop()

    def _held_wake(self, delay: float = 0.0) -> None:
        self.wakes += 1

    # --- people and chats ---
    def user(
        self, uid: int, first_name: str, lang: str | None = None, username: str | None = None
    ) -> FakeUser:
        return FakeUser(id=uid, first_name=first_name, language_code=lang, username=username)

    def group(self, title: str, admins: list[FakeUser] | None = None) -> FakeChat:
        chat = group_chat(next(self._ids), title)
        self.api.set_admins(chat.id, [a.id for a in admins or []])
        return chat

    # --- talking ---
    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every injected update has been handled completely."""
        async with self._cond:
            await asyncio.wait_for(self._cond.wait_for(lambda: self._processed >= self._injected), timeout)

    async def say(self, user: FakeUser, text: str, chat: FakeChat | None = None, **kw: Any) -> list[Call]:
        """Send a message as `user` (in their private chat by default); returns the bot's calls."""
        start = len(self.api.all_calls)
        self._injected += 1
        self.api.inject_message(user, chat or private_chat(user), text, **kw)
        await self.settle()
        return [c for c in self.api.all_calls[start:] if c.method != "getUpdates"]

    async def press(
        self,
        user: FakeUser,
        chat: FakeChat | int,
        message_id: int,
        label_or_data: str | int,
        *,
        data: bool = False,
    ) -> list[Call]:
        """Press a button (by label, number, or raw callback data with data=True); returns the bot's calls."""
        start = len(self.api.all_calls)
        self._injected += 1
        if data:
            self.api.press_button(user, chat, message_id, str(label_or_data))
        else:
            self.api.press(user, chat, message_id, label_or_data)
        await self.settle()
        return [c for c in self.api.all_calls[start:] if c.method != "getUpdates"]

    def quiet_session(self) -> AsyncSession:
        """A session for a test's own setup: notices enqueued in it do not wake the dispatcher after the
        commit (bot.schedule.notices), so the test drives delivery itself with `run_due()`."""
        return self.services.sessionmaker(info={notices.WAKER: None})

    @contextlib.contextmanager
    def wakes_held(self) -> Iterator[None]:
        """Meanwhile, commits that enqueue notices do not wake the dispatcher: for a test that needs
        several updates handled before anything is delivered (a move followed at once by a
        cancellation); `run_due()` delivers afterwards."""
        info = self.services.sessionmaker.kw["info"]
        waker = info.get(notices.WAKER)
        info[notices.WAKER] = None
        try:
            yield
        finally:
            info[notices.WAKER] = waker

    # --- time ---
    async def run_due(self) -> int:
        assert self.services.dispatcher is not None
        return await self.services.dispatcher.run_due()

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait until the dispatcher has no run in flight (a background run started by a wake)."""
        dispatcher = self.services.dispatcher
        assert dispatcher is not None

        async def idle() -> None:
            while True:
                runner = dispatcher._runner
                if runner is None or runner.done():
                    # a run that just ended may have been asked to look again; let it re-arm
                    await asyncio.sleep(0)
                    runner = dispatcher._runner
                    if runner is None or runner.done():
                        return
                await asyncio.wait({runner})

        await asyncio.wait_for(idle(), timeout)

    async def wait_sends(self, n: int, chat_id: int | None = None, timeout: float = 30.0) -> list[Call]:
        """Wait until the fake has received at least `n` successful sendMessage/sendDocument calls
        (to `chat_id`, or anywhere); returns them."""

        def sends() -> list[Call]:
            return [
                c
                for c in self.api.all_calls
                if c.method in ("sendMessage", "sendDocument")
                and c.ok
                and (chat_id is None or c.chat_id == chat_id)
            ]

        async def reached() -> list[Call]:
            while len(found := sends()) < n:
                await self.api.wait_change(timeout)
            return found

        return await asyncio.wait_for(reached(), timeout)

    async def advance(self, **delta: float) -> int:
        """Move the clock forward and deliver what became due; returns the number sent."""
        self.clock.advance(timedelta(**delta))
        return await self.run_due()


def texts(calls: list[Call], chat_id: int | None = None) -> list[str]:
    """Plain texts of messages sent or edited (optionally in one chat)."""
    out = []
    for c in calls:
        if c.method in (
            "sendMessage",
            "editMessageText",
            "sendDocument",
            "editMessageCaption",
            "answerCallbackQuery",
        ):
            if chat_id is not None and c.chat_id != chat_id:
                continue
            text = c.plain_text if c.method != "answerCallbackQuery" else c.params.get("text")
            if text:
                out.append(str(text))
    return out


__all__ = ["BotHarness", "FakeChat", "FakeClock", "FakeUser", "private_chat", "texts"]
