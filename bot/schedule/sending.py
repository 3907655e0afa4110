"""The dispatcher's sending part: actions and rendering of a claimed batch, then one request per
notice through the outbox (its lane by kind; a network's bulk takes turns with other networks')."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.db import models as m
from bot.db.outage import is_unavailable
from bot.schedule.jobs import DispatcherBase, Job, Result, lane_of
from bot.schedule.media import send_media
from bot.schedule.notices import ACTIONS, RENDERERS, Rendered
from bot.schedule.outbox import Withdrawn, guard, lane

log = logging.getLogger(__name__)


def _retry_seconds(err: RetryAfter) -> float:
    ra = err.retry_after
    return float(ra if isinstance(ra, (int, float)) else ra.total_seconds())


class Sending(DispatcherBase):
    async def _prepare(self, jobs: list[Job]) -> list[Job]:
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

    async def _prepare_batch(self, jobs: list[Job]) -> list[Job]:
        """Run actions, render messages (one session for the batch); returns the jobs to send."""
        out: list[Job] = []
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

    async def _run_action(self, job: Job, act: Any) -> None:
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

    # ------------------------------------------------------------------ sending

    def _claim_fresh(self, job: Job) -> bool:
        """Whether the job's claim was refreshed recently enough that no other instance takes it back."""
        stale = self.stale_after.total_seconds()
        fresh = max(job.claimed_mono, self._beat)
        return time.monotonic() - fresh < stale - min(self.claim_margin, 0.3 * stale)

    def _result(self, job: Job, state: str, **kw: Any) -> Result:
        kw.setdefault("due_at", job.due_at)
        return Result(
            id=job.id,
            state=state,
            attempts=job.attempts,
            kind=job.kind,
            ref_id=job.ref_id,
            network_id=job.network_id,
            **kw,
        )

    async def _send(self, job: Job) -> None:
        """`_send_now` in its turn: one request at a time per chat and lane, in claim order (tasks start
        in claim order and asyncio.Lock serves its waiters first come, first served), so one chat's
        broadcasts leave in the order they were made, while a reminder may still pass bulk."""
        turn = (job.chat_id, int(lane_of(job.kind)))
        lock, users = self._chat_turns.get(turn, (asyncio.Lock(), 0))
        self._chat_turns[turn] = (lock, users + 1)
        try:
            async with lock:
                await self._send_now(job)
        finally:
            lock, users = self._chat_turns[turn]
            if users <= 1:
                del self._chat_turns[turn]
            else:
                self._chat_turns[turn] = (lock, users - 1)

    async def _send_now(self, job: Job) -> None:
        from bot.render.markup import markup

        rendered = job.rendered
        assert rendered is not None
        try:
            # The outbox waits for the pacer (and for Telegram, in an outage) and asks `_claim_fresh`
            # just before the request starts: a claim that may look stale to the other instances by
            # then is given back unsent.
            with lane(lane_of(job.kind), job.network_id), guard(lambda: self._claim_fresh(job)):
                if rendered.media:
                    # An agenda's files (bot/schedule/media.py): a media group, or one file.
                    msg = await send_media(self.bot, job.chat_id, rendered.media)
                elif rendered.document_id is not None:
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
        except Withdrawn:
            self._record(self._result(job, "pending", error="claim expired before sending"))
            return
        except RetryAfter as err:
            # Still limited after the outbox's retries in place: back to the database for later.
            self.stats["429"] += 1
            wait = _retry_seconds(err)
            self._record(
                self._result(job, "pending", due_at=self.clock() + timedelta(seconds=wait), error="429")
            )
            self.wake(wait)
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
            # This request's own timeout, dropped connection or 5xx (Telegram as a whole answered the
            # outbox's probe): maybe sent, maybe not; retried with backoff, a bounded number of times.
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
