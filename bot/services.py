"""What every update and job needs: settings, the database, caches, and every long-lived object of the
bot. The one place they are kept: `Services` fields (no `bot_data` keys, no loose dict); the Services
itself is the only thing in `application.bot_data` (key "services", read with `services_of`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.db.models import utcnow

if TYPE_CHECKING:
    from bot.schedule.dispatcher import Dispatcher
    from bot.schedule.outbox import Outbox
    from bot.schedule.pacing import Limits


@dataclass
class AdminCache:
    """Group admins per chat, trusted for a short time (safe to lose: it is asked again)."""

    ttl: float
    _entries: dict[int, tuple[float, frozenset[int]]] = field(default_factory=dict)

    def get(self, chat_id: int) -> frozenset[int] | None:
        hit = self._entries.get(chat_id)
        if hit is None or time.monotonic() - hit[0] > self.ttl:
            return None
        return hit[1]

    def put(self, chat_id: int, admins: frozenset[int]) -> None:
        self._entries[chat_id] = (time.monotonic(), admins)

    def forget(self, chat_id: int) -> None:
        self._entries.pop(chat_id, None)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    admins: AdminCache
    dispatcher: Dispatcher | None = None
    # The one way out (pacer + outage gate) every Bot API request passes through.
    outbox: Outbox | None = None
    # The clock every feature reads; tests replace it to walk through time.
    clock: Callable[[], datetime] = utcnow
    # What build_application was asked for (tests and tools turn these off or tune them).
    migrate: bool = True
    register_commands: bool = True
    dispatch: bool = True
    limits: Limits | None = None  # Telegram's limits for the pacer; None: the real ones
    webhook_stopping: bool = False  # shutting down: the webhook refuses updates (Telegram retries)
    # Long-lived objects of features, created by their module (each reads its own with a typed helper).
    card_editor: Any = None  # handlers.events_cards.CardEditor
    vote_editor: Any = None  # handlers.votes.VoteEditor
    press_batcher: Any = None  # handlers.votes.PressBatcher
    flood_guard: Any = None  # bot.domain.flood.FloodGuard (handlers/flood.py)
    db_monitor: Any = None  # bot.db.outage.DbMonitor

    def notices_committed(self, due_at: datetime) -> None:
        """A transaction that enqueued notices committed (bot.schedule.notices calls this): wake the
        dispatcher for the earliest of them; one due later than a sweep away is found by the sweep."""
        if self.dispatcher is None:
            return
        delay = (due_at - self.clock()).total_seconds()
        if delay < self.settings.sweep_interval:
            self.dispatcher.wake(max(delay, 0.0))
