"""Delivers due notices: claims them atomically, renders each in its recipient's language, sends.

The database is the source of truth; the JobQueue only wakes the dispatcher at the next due time,
plus a periodic sweep that catches up after downtime. The life of a notice:

1. **claim**: a short transaction marks a small batch of due rows `sending` with this instance's id
   (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer — every transaction begins
   IMMEDIATE — serialises it; `UPDATE … RETURNING` tells exactly which rows this instance got).
   Only about a second's worth of sending is claimed at a time, so memory stays small whatever
   the backlog, and a crash leaves little to take back.
2. **render** in one session per batch, in the recipient's language *now*.
3. **send** (`bot.schedule.sending`), concurrently across chats, each request through the outbox
   (`bot.schedule.outbox`): the pacer keeps Telegram's limits and serves notices before bulk, and
   networks' bulk in turn; a 429 pauses and retries in place (nothing lost); while Telegram is
   unreachable requests wait and are retried (no try used up); a 403 marks the person unreachable
   and fails the notice; a request's own network error, timeout or 5xx goes back to the database
   with a backoff, a bounded number of times.
4. **record** (`bot.schedule.recording`): results are written by a group-committing writer as soon as they arrive, so the
   window in which a kill can cause a repeat is a request in flight plus one commit.

A live instance keeps its claims fresh (heartbeat); claims not refreshed for `stale_after` belong to
a dead instance and are taken back — those rows were either not sent yet or in flight.

The broadcast progress message is kept by `bot.schedule.progress`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, true, update
from telegram.ext import Application

from bot.db import models as m
from bot.schedule.jobs import BROADCAST_KIND, BULK_KINDS, Job, ProgressState, Result
from bot.schedule.progress import Progress
from bot.schedule.recording import Recording
from bot.schedule.sending import Sending
from bot.services import Services

log = logging.getLogger(__name__)

__all__ = ["BULK_KINDS", "Dispatcher", "Job", "Result"]


class Dispatcher(Sending, Recording, Progress):
    # Notices in hand at once (waiting in the pacer or in flight; the pacer keeps the rate).
    concurrency = 48
    # Rows claimed per round (about half a second of sending at Telegram's rate): a new round is
    # claimed as soon as a round's room is free, so what falls due is claimed within ~0.5 s.
    batch = 16

    def __init__(self, app: Application, services: Services) -> None:  # type: ignore[type-arg]
        self.app = app
        self.services = services
        self.instance = uuid.uuid4().hex[:12]
        outbox = services.outbox
        assert outbox is not None, "build the application with bot.app.build_application"
        self.outbox = outbox
        if outbox.pacer.limits.lifted:
            # No rate limit (a local Bot API server): larger rounds; the outbox keeps as many on the
            # wire as the HTTP pool has connections.
            self.batch, self.concurrency = 32, 64
        self._lock = asyncio.Lock()
        self._again = False
        self._runner: asyncio.Task[int] | None = None
        self._results: list[Result] = []
        self._writer: asyncio.Task[None] | None = None
        self._writer_wake = asyncio.Event()
        self._held: set[int] = set()
        # One request at a time per chat, in the order the rows were claimed (due time, id): a
        # follower gets two broadcasts, or a notice and its correction, in the order they were made.
        self._chat_turns: dict[tuple[int, int], tuple[asyncio.Lock, int]] = {}
        self._heart: asyncio.Task[None] | None = None
        # time.monotonic() at the start of the last heartbeat that refreshed every claim held
        self._beat = 0.0
        self._progress: dict[int, ProgressState] = {}
        self._bg: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.stats: dict[str, int] = {"sent": 0, "429": 0, "403": 0, "retried": 0, "failed": 0}

    # ------------------------------------------------------------------ claiming

    async def claim(self, now: datetime, limit: int | None = None) -> list[Job]:
        """Take up to `limit` due rows for this instance (atomically; never a row another holds)."""
        limit = limit or self.batch
        if self._stopping:
            return []
        claimed_mono = time.monotonic()
        async with self.services.sessionmaker() as session:
            pg = session.get_bind().dialect.name == "postgresql"
            ids: list[int] = []

            async def take(q: Any, n: int) -> None:
                q = q.order_by(m.Notice.due_at, m.Notice.id).limit(n)
                if pg:
                    q = q.with_for_update(skip_locked=True)
                ids.extend((await session.scalars(q)).all())

            due = select(m.Notice.id).where(m.Notice.state == "pending", m.Notice.due_at <= now)
            await take(due.where(m.Notice.kind.not_in(sorted(BULK_KINDS))), limit)
            if len(ids) < limit:
                # Bulk: an equal share for each network with bulk due, so networks' broadcasts and
                # announcements go out interleaved (the pacer serves them in turn).
                bulk = due.where(m.Notice.kind.in_(sorted(BULK_KINDS)))
                networks = list(
                    (
                        await session.scalars(
                            select(m.Notice.network_id)
                            .where(m.Notice.state == "pending", m.Notice.due_at <= now)
                            .where(m.Notice.kind.in_(sorted(BULK_KINDS)))
                            .distinct()
                        )
                    ).all()
                )
                share = max(1, -(-(limit - len(ids)) // max(len(networks), 1)))
                for network_id in networks:
                    if len(ids) >= limit:
                        break
                    where = (
                        m.Notice.network_id.is_(None)
                        if network_id is None
                        else m.Notice.network_id == network_id
                    )
                    await take(bulk.where(where), min(share, limit - len(ids)))
            if not ids:
                await session.commit()
                return []
            rows = (
                await session.execute(
                    update(m.Notice)
                    .where(m.Notice.id.in_(ids), m.Notice.state == "pending")
                    .values(state="sending", claimed_by=self.instance, claimed_at=self.clock())
                    .returning(
                        m.Notice.id,
                        m.Notice.kind,
                        m.Notice.chat_id,
                        m.Notice.attempts,
                        m.Notice.ref_id,
                        m.Notice.person_id,
                        m.Notice.due_at,
                        m.Notice.network_id,
                    )
                )
            ).all()
            await session.commit()
        jobs = [Job(**r._mapping, claimed_mono=claimed_mono) for r in rows]
        jobs.sort(key=lambda j: (j.kind in BULK_KINDS, j.due_at, j.id))
        self._held.update(j.id for j in jobs)
        return jobs

    async def release_stale(self, now: datetime) -> int:
        """Take back rows claimed by an instance that stopped refreshing its claims (it died).

        Never this instance's own rows in hand: their results are recorded by this instance (sent,
        failed or given back), even when the database was away long enough for their claims to look
        stale; taking them back would send again what was sent during the outage. Right after the
        database was unreachable, other instances' claims are left alone for `stale_after` too: they
        could not refresh them either, and get that long to do it (or to record their results)."""
        stale = m.Notice.state == "sending", m.Notice.claimed_at < now - self.stale_after
        # Rows of ours this instance no longer holds (none, unless one was leaked).
        not_held = m.Notice.id.not_in(sorted(self._held)) if self._held else true()
        whose = and_(m.Notice.claimed_by == self.instance, not_held)
        if not self._database_just_back():
            whose = or_(whose, m.Notice.claimed_by.is_(None), m.Notice.claimed_by != self.instance)
        async with self.services.sessionmaker() as session:
            result = await session.execute(
                update(m.Notice).where(*stale, whose).values(state="pending", claimed_by=None)
            )
            await session.commit()
            return result.rowcount or 0  # type: ignore[attr-defined]

    def _database_just_back(self) -> bool:
        """Whether the database was unreachable (for this instance) within the last `stale_after`."""
        mon = self.services.db_monitor
        if mon is None:
            return False
        if getattr(mon, "down", False):
            return True
        back = getattr(mon, "up_since", None)
        return back is not None and time.monotonic() - back < self.stale_after.total_seconds()

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_every)
            held = list(self._held)
            started = time.monotonic()
            if not held:
                self._beat = started
                continue
            try:
                async with self.services.sessionmaker() as session:
                    for i in range(0, len(held), 500):
                        await session.execute(
                            update(m.Notice)
                            .where(
                                m.Notice.id.in_(held[i : i + 500]),
                                m.Notice.state == "sending",
                                m.Notice.claimed_by == self.instance,
                            )
                            .values(claimed_at=self.clock())
                        )
                    await session.commit()
                self._beat = started
            except Exception:
                log.exception("dispatcher heartbeat failed")

    # ------------------------------------------------------------------ the run

    async def run_due(self, now: datetime | None = None) -> int:
        """Send everything due (at `now`, or as time passes while it runs); returns how many were sent."""
        async with self._lock:
            if self._heart is None or self._heart.done():
                self._heart = asyncio.get_running_loop().create_task(self._heartbeat())
            sent_before = self.stats["sent"]
            await self.release_stale(now or self.clock())
            released = time.monotonic()
            tasks: set[asyncio.Task[None]] = set()
            touched: set[int] = set()
            while True:
                if len(tasks) + self.batch > self.concurrency:
                    # Enough in hand (waiting in the pacer); claim again when a batch's room is free,
                    # so a reminder that falls due meanwhile is claimed within a fraction of a second.
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                self._again = False
                if time.monotonic() - released > self.heartbeat_every:
                    # A long run (a broadcast) also takes over what a dead instance held meanwhile.
                    await self.release_stale(now or self.clock())
                    released = time.monotonic()
                jobs = await self.claim(now or self.clock())
                if not jobs:
                    # Wait for what is in flight: a retried row may be due again by then.
                    if tasks:
                        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                        await self._flush_wait()
                        continue
                    if self._again:
                        continue
                    if self._results or (self._writer is not None and not self._writer.done()):
                        # Results still being recorded: their after-send hooks may plan notices due
                        # now (an agenda's files follow the agenda): claim once more after them.
                        await self._flush_wait()
                        continue
                    break
                jobs = await self._prepare(jobs)
                for job in jobs:
                    if job.kind == BROADCAST_KIND and job.ref_id is not None:
                        touched.add(job.ref_id)
                    task = asyncio.get_running_loop().create_task(self._send(job))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            await self._flush_wait()
            for bid in touched | set(self._progress):
                await self._update_progress(bid, final_check=True)
            return self.stats["sent"] - sent_before

    # ------------------------------------------------------------------ waking

    async def next_due(self) -> datetime | None:
        async with self.services.sessionmaker() as session:
            return await session.scalar(select(func.min(m.Notice.due_at)).where(m.Notice.state == "pending"))

    def wake(self, delay: float = 0.0) -> None:
        """Ask the JobQueue to run the dispatcher soon (after an enqueue, or at the next due time)."""
        jq = self.app.job_queue
        if jq is None:
            return
        jq.run_once(self._job, when=max(delay, 0.0), name="dispatch")

    def kick(self) -> None:
        """Run in the background now; if a run is going, make it look again before it ends."""
        if self._runner is not None and not self._runner.done():
            self._again = True
            return
        self._runner = asyncio.get_running_loop().create_task(self._run_and_rearm())

    async def _run_and_rearm(self) -> int:
        sent = 0
        try:
            sent = await self.run_due()
        except Exception:
            log.exception("dispatcher run failed")
        try:
            nxt = await self.next_due()
        except Exception:
            log.exception("dispatcher next_due failed")
            return sent
        if nxt is not None:
            delay = (nxt - self.clock()).total_seconds()
            if delay < self.services.settings.sweep_interval:
                self.wake(max(delay, 0.0))
        return sent

    async def _job(self, _context: Any) -> None:
        # Return at once: a long broadcast must not hold the JobQueue's worker.
        self.kick()

    def start(self) -> None:
        jq = self.app.job_queue
        if jq is None:
            return
        jq.run_repeating(self._job, interval=self.services.settings.sweep_interval, first=0.1, name="sweep")

    def request_stop(self) -> None:
        """Finish what is claimed, claim nothing more (graceful shutdown; the rest stays pending)."""
        self._stopping = True

    async def stop(self) -> None:
        """Finish what is in hand (used by tools; a kill is safe too)."""
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner
        await self._flush_wait()
        if self._heart is not None:
            self._heart.cancel()
