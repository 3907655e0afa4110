"""Delivers due notices: claims them atomically, renders each in its recipient's language, sends.

The database is the source of truth; the JobQueue only wakes the dispatcher at the next due time,
plus a periodic sweep that catches up after downtime. The life of a notice:

1. **claim**: a short transaction marks a small batch of due rows `sending` with this instance's id
   (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer — every transaction begins
   IMMEDIATE — serialises it; `UPDATE … RETURNING` tells exactly which rows this instance got).
   Only about a second's worth of sending is claimed at a time, so memory stays small whatever
   the backlog, and a crash leaves little to take back.
2. **render** in one session per batch, in the recipient's language *now*.
3. **send**, concurrently across chats, each request paced (`bot.schedule.pacing`): Telegram's
   limits are kept by construction. A 429 pauses and retries in place (nothing lost); a 403 marks
   the person unreachable and fails the notice; network errors, timeouts and 5xx go back to the
   database with a backoff, a bounded number of times.
4. **record**: results are written by a group-committing writer as soon as they arrive, so the
   window in which a kill can cause a repeat is a request in flight plus one commit.

A live instance keeps its claims fresh (heartbeat); claims not refreshed for `stale_after` belong to
a dead instance and are taken back — those rows were either not sent yet or in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.db import models as m
from bot.db.outage import is_unavailable
from bot.domain import deliveries
from bot.i18n import Translator, get_translator, negotiate
from bot.schedule.budget import SharedBudget
from bot.schedule.notices import ACTIONS, AFTER_SEND, RENDERERS, Rendered
from bot.schedule.pacing import Pacer
from bot.services import Services

log = logging.getLogger(__name__)

# Bulk kinds are claimed after everything else that is due, so a reminder due in the middle of a
# large broadcast is not queued behind it.
BULK_KINDS = frozenset({"broadcast"})


@dataclass
class _Job:
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
class _Result:
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
class _Progress:
    last_edit: float = 0.0
    task: asyncio.Task[None] | None = None
    dirty: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _retry_seconds(err: RetryAfter) -> float:
    ra = err.retry_after
    return float(ra if isinstance(ra, (int, float)) else ra.total_seconds())


class Dispatcher:
    # Requests in flight at once (latency hiding; the pacer keeps the rate).
    concurrency = 32
    # Rows claimed per round: about a second of sending at Telegram's rate.
    batch = 32
    # Attempts for network errors, timeouts and 5xx before a notice is failed.
    max_attempts = 4
    # Backoff after the n-th failed attempt: base * 2**(n-1) seconds.
    backoff_base = 2.0
    # A 429 is retried in place this many times (then the row goes back to the database).
    max_rate_retries = 5
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

    def __init__(self, app: Application, services: Services) -> None:  # type: ignore[type-arg]
        self.app = app
        self.services = services
        self.instance = uuid.uuid4().hex[:12]
        self.pacer = Pacer(services.limits)
        if self.pacer.limits.global_per_second <= 1000 and services.engine.dialect.name == "postgresql":
            # Several instances may share this database: they share Telegram's global limit too.
            self.pacer.shared = SharedBudget(services.engine)
        if self.pacer.limits.global_per_second > 1000:
            # No rate limit (a local Bot API server): claim and send in larger rounds.
            self.batch, self.concurrency = 200, 64
        self._lock = asyncio.Lock()
        self._again = False
        self._runner: asyncio.Task[int] | None = None
        self._results: list[_Result] = []
        self._writer: asyncio.Task[None] | None = None
        self._writer_wake = asyncio.Event()
        self._held: set[int] = set()
        self._heart: asyncio.Task[None] | None = None
        # time.monotonic() at the start of the last heartbeat that refreshed every claim held
        self._beat = 0.0
        self._progress: dict[int, _Progress] = {}
        self._bg: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.stats: dict[str, int] = {"sent": 0, "429": 0, "403": 0, "retried": 0, "failed": 0}

    @property
    def bot(self) -> Any:
        return self.app.bot

    def clock(self) -> datetime:
        return self.services.clock()

    # ------------------------------------------------------------------ claiming

    async def claim(self, now: datetime, limit: int | None = None) -> list[_Job]:
        """Take up to `limit` due rows for this instance (atomically; never a row another holds)."""
        limit = limit or self.batch
        if self._stopping:
            return []
        claimed_mono = time.monotonic()
        async with self.services.sessionmaker() as session:
            pg = session.get_bind().dialect.name == "postgresql"
            ids: list[int] = []
            for bulk in (False, True):
                if len(ids) >= limit:
                    break
                q = (
                    select(m.Notice.id)
                    .where(m.Notice.state == "pending", m.Notice.due_at <= now)
                    .where(m.Notice.kind.in_(BULK_KINDS) if bulk else m.Notice.kind.not_in(BULK_KINDS))
                    .order_by(m.Notice.due_at, m.Notice.id)
                    .limit(limit - len(ids))
                )
                if pg:
                    q = q.with_for_update(skip_locked=True)
                ids.extend((await session.scalars(q)).all())
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
        jobs = [_Job(**r._mapping, claimed_mono=claimed_mono) for r in rows]
        jobs.sort(key=lambda j: (j.kind in BULK_KINDS, j.due_at, j.id))
        self._held.update(j.id for j in jobs)
        return jobs

    async def release_stale(self, now: datetime) -> int:
        """Take back rows claimed by an instance that stopped refreshing its claims (it died)."""
        async with self.services.sessionmaker() as session:
            result = await session.execute(
                update(m.Notice)
                .where(m.Notice.state == "sending", m.Notice.claimed_at < now - self.stale_after)
                .values(state="pending", claimed_by=None)
            )
            await session.commit()
            return result.rowcount or 0  # type: ignore[attr-defined]

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
            sem = asyncio.Semaphore(self.concurrency)
            tasks: set[asyncio.Task[None]] = set()
            touched: set[int] = set()
            while True:
                self._again = False
                if time.monotonic() - released > self.heartbeat_every:
                    # A long run (a broadcast) also takes over what a dead instance held meanwhile.
                    await self.release_stale(now or self.clock())
                    released = time.monotonic()
                jobs = await self.claim(now or self.clock())
                if not jobs:
                    # Wait for what is in flight: a retried row may be due again by then.
                    if tasks:
                        await asyncio.gather(*tasks)
                        tasks.clear()
                        await self._flush_wait()
                        continue
                    if self._again:
                        continue
                    break
                jobs = await self._prepare(jobs)
                for job in jobs:
                    if job.kind in BULK_KINDS and job.ref_id is not None:
                        touched.add(job.ref_id)
                    await sem.acquire()
                    task = asyncio.get_running_loop().create_task(self._send(job))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(lambda _t: sem.release())
            await self._flush_wait()
            for bid in touched | set(self._progress):
                await self._update_progress(bid, final_check=True)
            return self.stats["sent"] - sent_before

    async def _prepare(self, jobs: list[_Job]) -> list[_Job]:
        """`_prepare_batch`, but when the database goes away meanwhile every row of the batch is given
        back (pending) instead of staying claimed by this instance for ever or being failed."""
        try:
            return await self._prepare_batch(jobs)
        except Exception as err:
            if not is_unavailable(err):
                raise
            for job in jobs:  # rows already recorded keep their first result
                self._record(self._result(job, "pending", error="database unavailable"))
            return []

    async def _prepare_batch(self, jobs: list[_Job]) -> list[_Job]:
        """Run actions, render messages (one session for the batch); returns the jobs to send."""
        out: list[_Job] = []
        # Actions first, each in its own transaction (on SQLite a second open session would wait
        # for the first's write lock).
        for job in [j for j in jobs if j.kind in ACTIONS]:
            await self._run_action(job, ACTIONS[job.kind])
        jobs = [j for j in jobs if j.kind not in ACTIONS]
        if not jobs:
            return out
        async with self.services.sessionmaker() as session:
            # The identity map holds objects weakly: keep what the batch loads, so that the renderers'
            # `session.get(Event/Broadcast/…)` of what many notices share is one query per batch.
            keep: list[object] = []
            event.listen(session.sync_session, "loaded_as_persistent", lambda _s, obj: keep.append(obj))
            notices = {
                n.id: n
                for n in (
                    await session.scalars(select(m.Notice).where(m.Notice.id.in_([j.id for j in jobs])))
                ).all()
            }
            person_ids = {n.person_id for n in notices.values() if n.person_id}
            network_ids = {n.network_id for n in notices.values() if n.network_id}
            persons = (
                {
                    p.id: p
                    for p in (await session.scalars(select(m.Person).where(m.Person.id.in_(person_ids))))
                }
                if person_ids
                else {}
            )
            networks = (
                {
                    n.id: n
                    for n in (await session.scalars(select(m.Network).where(m.Network.id.in_(network_ids))))
                }
                if network_ids
                else {}
            )
            for job in jobs:
                notice = notices.get(job.id)
                if notice is None:
                    self._held.discard(job.id)
                    continue
                try:
                    person = persons.get(notice.person_id) if notice.person_id else None
                    network = networks.get(notice.network_id) if notice.network_id else None
                    if person is not None and not person.reachable:
                        self._record(self._result(job, "failed", error="unreachable"))
                        continue
                    job.rendered = await self._render(session, notice, person, network)
                except Exception as err:
                    if is_unavailable(err):
                        raise
                    log.exception("rendering notice %s (%s) failed", job.id, job.kind)
                    self._record(self._result(job, "failed", error="render error"))
                    continue
                if job.rendered is None:
                    self._record(self._result(job, "skipped"))
                    continue
                out.append(job)
            await session.rollback()
        return out

    async def _run_action(self, job: _Job, act: Any) -> None:
        """Database-only work (a broadcast starting), done in one transaction with marking the row
        sent, so it happens exactly once."""
        try:
            async with self.services.sessionmaker() as session:
                notice = await session.get(m.Notice, job.id)
                if notice is not None and notice.state == "sending" and notice.claimed_by == self.instance:
                    await act(session, notice, self.clock())
                    notice.state = "sent"
                    notice.sent_at = self.clock()
                await session.commit()
        except Exception as err:
            if is_unavailable(err):  # done when the database is back, not failed for good
                self._record(self._result(job, "pending", error="database unavailable"))
                return
            log.exception("notice action %s (%s) failed", job.id, job.kind)
            self._record(self._result(job, "failed", error="action error"))
            return
        finally:
            self._held.discard(job.id)
        self._again = True

    async def _render(
        self, session: AsyncSession, notice: m.Notice, person: m.Person | None, network: m.Network | None
    ) -> Rendered | None:
        fn = RENDERERS.get(notice.kind)
        if fn is None:
            log.error("no renderer for notice kind %s", notice.kind)
            return None
        t = self.translator_for(person, network)
        rendered = await fn(session, notice, t)
        if rendered is not None and t.rtl:
            # Every line read right-to-left, whatever the renderer built (see bot.bidi).
            rendered.text = t.lines(rendered.text)
        return rendered

    @staticmethod
    def translator_for(person: m.Person | None, network: m.Network | None) -> Translator:
        if person is not None:
            lang = negotiate(person.language, person.tg_language, network.language if network else None)
        else:
            lang = network.language if network else "en"
        return get_translator(lang)

    # ------------------------------------------------------------------ sending

    def _claim_fresh(self, job: _Job) -> bool:
        """Whether the job's claim was refreshed recently enough that no other instance takes it back."""
        stale = self.stale_after.total_seconds()
        fresh = max(job.claimed_mono, self._beat)
        return time.monotonic() - fresh < stale - min(self.claim_margin, 0.3 * stale)

    def _result(self, job: _Job, state: str, **kw: Any) -> _Result:
        kw.setdefault("due_at", job.due_at)
        return _Result(
            id=job.id,
            state=state,
            attempts=job.attempts,
            kind=job.kind,
            ref_id=job.ref_id,
            network_id=job.network_id,
            **kw,
        )

    async def _send(self, job: _Job) -> None:
        from bot.render.markup import markup

        rendered = job.rendered
        assert rendered is not None
        rate_retries = 0
        while True:
            try:
                await self.pacer.acquire(job.chat_id)
            except Exception as err:  # the shared budget's table is unreachable (a database outage)
                self._record(self._result(job, "pending", error=f"pacing: {type(err).__name__}"))
                return
            if not self._claim_fresh(job):
                # The claim may look stale to the other instances by now: give the row back unsent.
                self._record(self._result(job, "pending", error="claim expired before sending"))
                return
            try:
                if rendered.document_id is not None:
                    # A file Telegram already has (the minutes posted in the group): sent by file_id.
                    msg = await self.bot.send_document(
                        job.chat_id,
                        document=rendered.document_id,
                        caption=rendered.text[:1024] or None,
                        reply_markup=markup(rendered.keyboard),
                    )
                elif rendered.document is not None:
                    name, data = rendered.document
                    msg = await self.bot.send_document(
                        job.chat_id,
                        document=data,
                        filename=name,
                        caption=rendered.text[:1024] or None,
                        reply_markup=markup(rendered.keyboard),
                    )
                else:
                    msg = await self.bot.send_message(
                        job.chat_id, rendered.text[:4096], reply_markup=markup(rendered.keyboard)
                    )
            except RetryAfter as err:
                self.stats["429"] += 1
                wait = _retry_seconds(err)
                # Telegram does not say which limit was hit: slow everything down, not one chat.
                self.pacer.pause(wait)
                self.pacer.pause(wait, job.chat_id)
                rate_retries += 1
                if rate_retries <= self.max_rate_retries:
                    continue
                self._record(
                    self._result(job, "pending", due_at=self.clock() + timedelta(seconds=wait), error="429")
                )
                return
            except Forbidden:
                self.stats["403"] += 1
                self.stats["failed"] += 1
                job.attempts += 1
                self._record(self._result(job, "failed", error="forbidden", unreachable_person=job.person_id))
                return
            except BadRequest as err:
                self.stats["failed"] += 1
                job.attempts += 1
                self._record(self._result(job, "failed", error=f"bad request: {str(err)[:150]}"))
                return
            except (NetworkError, TelegramError) as err:
                # Timeouts, dropped connections and 5xx: maybe sent, maybe not; retried with backoff.
                job.attempts += 1
                if job.attempts >= self.max_attempts:
                    self.stats["failed"] += 1
                    self._record(self._result(job, "failed", error=type(err).__name__))
                else:
                    self.stats["retried"] += 1
                    delay = self.backoff_base * 2 ** (job.attempts - 1)
                    self._record(
                        self._result(
                            job,
                            "pending",
                            due_at=self.clock() + timedelta(seconds=delay),
                            error=type(err).__name__,
                        )
                    )
                    self.wake(delay)
                return
            except Exception as err:
                log.exception("sending notice %s failed", job.id)
                job.attempts += 1
                self._record(self._result(job, "failed", error=type(err).__name__))
                return
            self.stats["sent"] += 1
            job.attempts += 1
            self._record(self._result(job, "sent", sent_at=self.clock(), message_id=msg.message_id))
            return

    # ------------------------------------------------------------------ recording

    def _record(self, result: _Result) -> None:
        self._results.append(result)
        self._writer_wake.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def _write_loop(self) -> None:
        """Group commit: whatever results arrived while the last commit ran go in the next one."""
        while self._results:
            self._writer_wake.clear()
            batch, self._results = self._results, []
            try:
                await self._write(batch)
            except Exception:
                log.exception("recording %d delivery results failed; retrying", len(batch))
                self._results[:0] = batch
                await asyncio.sleep(0.5)

    async def _flush_wait(self) -> None:
        while self._results or (self._writer is not None and not self._writer.done()):
            if self._writer is None or self._writer.done():
                self._writer = asyncio.get_running_loop().create_task(self._write_loop())
            await asyncio.shield(self._writer)

    async def _write(self, batch: list[_Result]) -> None:
        table = m.Notice.__table__
        assert isinstance(table, Table)
        stmt = (
            update(table)
            .where(
                table.c.id == bindparam("b_id"),
                table.c.state == "sending",
                table.c.claimed_by == self.instance,
            )
            .values(
                state=bindparam("b_state"),
                attempts=bindparam("b_attempts"),
                due_at=bindparam("b_due_at"),
                sent_at=bindparam("b_sent_at"),
                message_id=bindparam("b_message_id"),
                last_error=bindparam("b_error"),
                claimed_by=bindparam("b_claimed_by"),
                # When the attempt ended (what coordinators see for a failure).
                claimed_at=bindparam("b_at"),
            )
        )
        at = self.clock()
        params = [
            {
                "b_at": at,
                "b_id": r.id,
                "b_state": r.state,
                "b_attempts": r.attempts,
                "b_due_at": r.due_at,
                "b_sent_at": r.sent_at,
                "b_message_id": r.message_id,
                "b_error": r.error,
                "b_claimed_by": self.instance if r.state != "pending" else None,
            }
            for r in batch
        ]
        async with self.services.sessionmaker() as session:
            await session.execute(stmt, params)
            unreachable = {r.unreachable_person for r in batch if r.unreachable_person}
            if unreachable:
                await session.execute(
                    update(m.Person).where(m.Person.id.in_(unreachable)).values(reachable=False)
                )
            failed_in = {
                r.network_id
                for r in batch
                if r.state == "failed"
                and r.network_id is not None
                and r.kind != deliveries.SUMMARY
                and r.error != "unreachable"
            }
            if failed_in:
                # Coordinators get a summary of the day's failures (once per network and day).
                await deliveries.note_failures(session, failed_in, at)
            for r in batch:
                hook = AFTER_SEND.get(r.kind)
                if hook is not None and r.state == "sent" and r.message_id is not None:
                    notice = await session.get(m.Notice, r.id)
                    if notice is not None:
                        await hook(session, notice, r.message_id)
            await session.commit()
        for r in batch:
            self._held.discard(r.id)
        for bid in {r.ref_id for r in batch if r.kind in BULK_KINDS and r.ref_id is not None}:
            self._touch_progress(bid)

    # ------------------------------------------------------------------ broadcast progress

    def _touch_progress(self, broadcast_id: int) -> None:
        p = self._progress.setdefault(broadcast_id, _Progress())
        p.dirty = True
        if p.task is None or p.task.done():
            p.task = asyncio.get_running_loop().create_task(self._update_progress(broadcast_id))
            self._bg.add(p.task)
            p.task.add_done_callback(self._bg.discard)

    async def _update_progress(self, broadcast_id: int, final_check: bool = False) -> None:
        """Edit the progress message sparingly; the last edit (exactly one instance does it) gives the
        outcome, failures included, to the coordinators."""
        from bot.domain import broadcasts

        p = self._progress.setdefault(broadcast_id, _Progress())
        try:
            async with self.services.sessionmaker() as session:
                bc = await session.get(m.Broadcast, broadcast_id)
                if bc is None or bc.progress_message_id is None or bc.progress_chat_id is None:
                    if bc is None or bc.state != "sending":
                        self._progress.pop(broadcast_id, None)
                    await session.rollback()
                    return
                counts = await broadcasts.delivery_counts(session, broadcast_id)
                done = counts.get("pending", 0) + counts.get("sending", 0) == 0
                final = False
                if done:
                    result = await session.execute(
                        update(m.Broadcast)
                        .where(m.Broadcast.id == broadcast_id, m.Broadcast.state == "sending")
                        .values(state="done")
                    )
                    final = bool(result.rowcount)  # type: ignore[attr-defined]
                    if not final:
                        await session.commit()
                        self._progress.pop(broadcast_id, None)
                        return
                elif final_check and not p.dirty:
                    await session.rollback()
                    return
                every = self.progress_every_group if bc.progress_chat_id < 0 else self.progress_every_private
                if not final:
                    wait = p.last_edit + every - time.monotonic()
                    if wait > 0:
                        await session.rollback()
                        if not final_check:
                            await asyncio.sleep(wait)
                            p.task = None
                            if p.dirty:
                                self._touch_progress(broadcast_id)
                        return
                author = await session.get(m.Person, bc.author_id) if bc.author_id else None
                network = await session.get(m.Network, bc.network_id)
                t = self.translator_for(author if bc.progress_chat_id > 0 else None, network)
                text = broadcasts.progress_text(t, bc, counts, final=final)
                chat_id, message_id = bc.progress_chat_id, bc.progress_message_id
                await session.commit()
            p.dirty = False
            p.last_edit = time.monotonic()
            await self.pacer.acquire(chat_id)
            with contextlib.suppress(TelegramError):
                await self.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id)
            if final:
                self._progress.pop(broadcast_id, None)
        except Exception:
            log.exception("broadcast progress %s failed", broadcast_id)

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
