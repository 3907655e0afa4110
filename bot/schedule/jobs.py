"""What the dispatcher's parts share: the jobs and results it passes around, and the state every
part reads (`DispatcherBase`; the parts are mixins of `bot.schedule.dispatcher.Dispatcher`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram.ext import Application

from bot.db import models as m
from bot.i18n import Translator, get_translator, negotiate
from bot.schedule.notices import Rendered
from bot.schedule.outbox import Outbox
from bot.schedule.pacing import Lane
from bot.services import Services

# Bulk kinds (broadcasts, new-event announcements) are claimed after everything else that is due and
# go out in the pacer's bulk lane, networks taking turns; everything else is a time-critical notice.
BULK_KINDS: set[str] = {"broadcast", "event_new"}
# The kind whose `ref_id` is a broadcast with a progress message.
BROADCAST_KIND = "broadcast"


def lane_of(kind: str) -> Lane:
    return Lane.BULK if kind in BULK_KINDS else Lane.NOTICE


@dataclass
class Job:
    id: int
    kind: str
    chat_id: int
    attempts: int
    ref_id: int | None
    person_id: int | None
    due_at: datetime
    network_id: int | None = None
    rendered: Rendered | None = None
    # time.monotonic() when the claim was made (refreshed by the heartbeat as `_beat`)
    claimed_mono: float = 0.0


@dataclass
class Result:
    id: int
    state: str  # sent | pending | failed | skipped
    attempts: int
    kind: str
    ref_id: int | None
    due_at: datetime
    sent_at: datetime | None = None
    message_id: int | None = None
    error: str | None = None
    unreachable_person: int | None = None
    network_id: int | None = None


@dataclass
class ProgressState:
    last_edit: float = 0.0
    task: asyncio.Task[None] | None = None
    dirty: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class DispatcherBase:
    """State and settings shared by the dispatcher's parts (set in `Dispatcher.__init__`)."""

    # Attempts for network errors, timeouts and 5xx before a notice is failed (an outage of
    # Telegram as a whole does not count: the outbox holds requests until it is back).
    max_attempts = 4
    # Backoff after the n-th failed attempt: base * 2**(n-1) seconds.
    backoff_base = 2.0
    # Claims older than this without a heartbeat belong to a dead instance: its rows are taken back
    # that long after it died. A live instance refreshes its claims every `heartbeat_every` seconds
    # (five chances before they go stale) and never starts a request on a claim it could not refresh
    # for `stale_after - claim_margin` (the database was unreachable, the loop stalled): that row is
    # given back instead, so another instance taking it cannot make a duplicate.
    stale_after = timedelta(seconds=10)
    heartbeat_every = 2.0
    claim_margin = 3.0
    # Minimum seconds between two edits of a broadcast's progress message.
    progress_every_group = 5.0
    progress_every_private = 5.0

    app: Application  # type: ignore[type-arg]
    services: Services
    outbox: Outbox
    instance: str
    stats: dict[str, int]
    _again: bool
    _held: set[int]
    _chat_turns: dict[tuple[int, int], tuple[asyncio.Lock, int]]
    _beat: float
    _results: list[Result]
    _writer: asyncio.Task[None] | None
    _writer_wake: asyncio.Event
    _progress: dict[int, ProgressState]
    _bg: set[asyncio.Task[Any]]

    @property
    def bot(self) -> Any:
        return self.app.bot

    def clock(self) -> datetime:
        return self.services.clock()

    def wake(self, delay: float = 0.0) -> None:
        raise NotImplementedError

    @staticmethod
    def translator_for(person: m.Person | None, network: m.Network | None) -> Translator:
        if person is not None:
            lang = negotiate(person.language, person.tg_language, network.language if network else None)
        else:
            lang = network.language if network else "en"
        return get_translator(lang)

    def _record(self, result: Result) -> None:
        raise NotImplementedError

    def _touch_progress(self, broadcast_id: int) -> None:
        raise NotImplementedError

    async def _flush_wait(self) -> None:
        raise NotImplementedError
