"""Riding out a database outage: PostgreSQL unreachable for a while, or SQLite locked by a long writer.

- `is_unavailable(err)`: is this error the database being away (as opposed to a bug or bad data)?
- `DbMonitor` (one per Services, `monitor_of(services)`): listens to the engine's errors; on a
  connection failure it marks the database down, probes it with backoff and jitter until it answers,
  then marks it up and wakes the dispatcher, so delivery resumes by itself within a second or two.
  `/healthz` and the webhook read `monitor.down`.
- `retry_while_down(services, attempt)`: runs `attempt()` (one whole update, in its own session) again
  after the database is back, instead of losing the update: nothing was committed by a failed attempt.
  Polling confirms updates to Telegram when it fetches them, so the update is held here until handled;
  a webhook request waits only `WEBHOOK_WAIT` seconds and is then answered with 503 (Telegram sends it
  again later), see `mark_webhook_retry`.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import (
    TimeoutError as PoolTimeout,
)

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
T = TypeVar("T")

# How long an update (polling) is held and retried while the database is away; then it is given up
# (the error handler apologises). Telegram keeps unconfirmed updates for 24 hours, but polling has
# already confirmed this one.
POLLING_WAIT = 15 * 60.0
# A webhook request is answered within Telegram's patience: then 503, and Telegram retries.
WEBHOOK_WAIT = 5.0
PROBE_TIMEOUT = 3.0
BACKOFF_FIRST, BACKOFF_MAX = 0.25, 5.0

_DRIVER_OUTAGE_NAMES = {
    # asyncpg
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "CannotConnectNowError",
    "PostgresConnectionError",
    "InterfaceError",
    "InternalClientError",
    "TooManyConnectionsError",
    "AdminShutdownError",
    "CrashShutdownError",
    "ConnectionRejectionError",
}
_LOCKED = ("database is locked", "database is busy", "database table is locked")

# Set by the webhook route for the duration of one update: handlers append to it when they gave up
# because the database was away, and the route answers 503.
webhook_outage: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "webhook_outage", default=None
)


def _chain(err: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [err]
    while todo:
        e = todo.pop()
        if e is None or any(e is s for s in seen) or len(seen) > 20:
            continue
        seen.append(e)
        orig = getattr(e, "orig", None)
        todo += [e.__cause__, e.__context__, orig if isinstance(orig, BaseException) else None]
    return seen


def is_locked(err: BaseException) -> bool:
    """SQLite's "database is locked": another writer held the lock longer than the busy timeout."""
    return any(any(s in str(e) for s in _LOCKED) for e in _chain(err))


_DB_CODE = ("/sqlalchemy/", "/asyncpg/", "/aiosqlite/", "/sqlite3/")


def _raised_in_database_code(e: BaseException) -> bool:
    tb = e.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if any(part in name for part in _DB_CODE):
            return True
        tb = tb.tb_next
    return False


def is_unavailable(err: BaseException) -> bool:
    """The database could not be reached, dropped the connection, or (SQLite) stayed locked; not a
    bug and not bad data. Network errors count only when the database code raised them."""
    for e in _chain(err):
        if any(s in str(e) for s in _LOCKED):
            return True
        if isinstance(e, DisconnectionError | PoolTimeout):
            return True
        if isinstance(e, DBAPIError) and e.connection_invalidated:
            return True
        if type(e).__name__ in _DRIVER_OUTAGE_NAMES and type(e).__module__.startswith("asyncpg"):
            return True
        if isinstance(e, InterfaceError | OperationalError) and any(
            w in str(e).lower() for w in ("closed", "connect", "terminat", "reset", "timeout")
        ):
            return True
        if isinstance(e, OSError | TimeoutError) and _raised_in_database_code(e):
            return True
    return False


# Loggers of the background loops that retry on their own while the database is away (their code is
# not ours to change): their tracebacks are held back while an outage is known, since the monitor
# said it once ("database unreachable"), and counted in the recovery line instead.
QUIET_LOGGERS = (
    "bot.schedule.dispatcher",
    "bot.schedule.recording",
    "bot.schedule.progress",
    "bot.schedule.budget",
    "bot.schedule.pacing",
    "handlers.votes",
)
_MONITORS: weakref.WeakSet[DbMonitor] = weakref.WeakSet()


class _QuietDuringOutage(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        err = record.exc_info[1] if record.exc_info else None
        if err is None:
            return True
        for mon in list(_MONITORS):
            if mon.down and is_unavailable(err):
                mon.suppressed += 1
                return False
        return True


_QUIET = _QuietDuringOutage()


class DbMonitor:
    """Up/down state of the database, from the engine's own errors and a probe while it is down."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.down_since: float | None = None
        self.cause = ""
        self.outages = 0
        self.failures = 0
        self._up = asyncio.Event()
        self._up.set()
        self._down = asyncio.Event()
        self.retries = 0
        self.suppressed = 0
        # time.monotonic() when the last outage ended (None before the first)
        self.up_since: float | None = None
        _MONITORS.add(self)
        for name in QUIET_LOGGERS:
            logger = logging.getLogger(name)
            if _QUIET not in logger.filters:
                logger.addFilter(_QUIET)
        self._prober: asyncio.Task[None] | None = None
        self.on_recovery: list[Callable[[], Any]] = []
        engine = services.engine.sync_engine
        event.listen(engine, "handle_error", self._on_engine_error)
        event.listen(engine, "do_connect", self._connect)

    def _connect(self, dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        """Every new connection (pool refills, pre-ping reconnects): a failure marks the database down,
        whichever part of the bot asked (the dispatcher included)."""
        try:
            return dialect.connect(*cargs, **cparams)
        except Exception as err:
            self.report(err)
            raise

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def _on_engine_error(self, context: Any) -> None:
        err = context.original_exception
        if context.is_disconnect or (err is not None and is_unavailable(err)):
            self.report(err)

    def report(self, err: BaseException | None) -> None:
        """A database call failed because the database is away (called from any task)."""
        self.failures += 1
        if self.down_since is None:
            self.down_since = time.monotonic()
            self.outages += 1
            if err is not None and is_locked(err):
                self.cause = "locked"
            else:
                self.cause = type(err).__name__ if err is not None else "unreachable"
            self._up.clear()
            self._down.set()
            # Said once per outage, not once per failed call.
            log.warning(
                "database unreachable (%s); holding updates and deliveries until it answers", self.cause
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._prober is None or self._prober.done():
            self._prober = loop.create_task(self._probe_until_up())

    async def _probe_until_up(self) -> None:
        delay = BACKOFF_FIRST
        while True:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX)
            try:
                if self.services.engine.dialect.name == "sqlite":
                    # Takes the write lock (BEGIN IMMEDIATE), waiting at most the busy timeout.
                    async with self.services.engine.begin() as conn:
                        await conn.execute(text("SELECT 1"))
                else:
                    async with asyncio.timeout(PROBE_TIMEOUT):
                        async with self.services.engine.connect() as conn:
                            await conn.execute(text("SELECT 1"))
            except Exception:
                continue
            self._mark_up()
            return

    def _mark_up(self) -> None:
        if self.down_since is None:
            return
        took = time.monotonic() - self.down_since
        self.down_since = None
        self.up_since = time.monotonic()
        self._down.clear()
        self._up.set()
        log.warning(
            "database reachable again after %.1f s; resuming (%d failed background calls not logged)",
            took,
            self.suppressed,
        )
        self.suppressed = 0
        dispatcher = self.services.dispatcher
        if dispatcher is not None:
            kick = getattr(dispatcher, "kick", None)
            if callable(kick):
                kick()
        for fn in list(self.on_recovery):
            fn()

    async def wait_down(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._down.wait()
            return True
        except TimeoutError:
            return False

    async def wait_up(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._up.wait()
            return True
        except TimeoutError:
            return False


def monitor_of(services: Services) -> DbMonitor:
    mon = services.db_monitor
    if not isinstance(mon, DbMonitor):
        mon = DbMonitor(services)
        services.db_monitor = mon
    return mon


async def retry_while_down(services: Services, attempt: Callable[[], Awaitable[T]]) -> T | None:
    """`attempt()` again and again while the database is away (each attempt from scratch: a failed
    one committed nothing). Polling: up to POLLING_WAIT; in a webhook request: up to WEBHOOK_WAIT,
    then the request is marked for a 503 and None is returned."""
    monitor = monitor_of(services)
    flag = webhook_outage.get()
    budget = WEBHOOK_WAIT if flag is not None else POLLING_WAIT
    deadline = time.monotonic() + budget
    delay = BACKOFF_FIRST
    while True:
        try:
            return await attempt()
        except Exception as err:
            if not is_unavailable(err):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                if flag is not None:
                    flag.append(err)
                    return None
                raise
            monitor.retries += 1
            monitor.report(err)
            await monitor.wait_up(min(left, BACKOFF_MAX * 2))
            # Jitter, so the updates held during an outage do not all hit the database at once.
            await asyncio.sleep(min(delay, max(left, 0.0)) * random.uniform(0.5, 1.0))
            delay = min(delay * 2, BACKOFF_MAX)
