"""What every update and job needs: settings, the database, caches. Lives in `application.bot_data`."""

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
    extra: dict[str, Any] = field(default_factory=dict)
