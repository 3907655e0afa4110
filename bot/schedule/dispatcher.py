"""Delivers due notices: claims them atomically, renders each in its recipient's language, sends.

The database is the source of truth; the JobQueue only wakes `run_due` at the next due time, plus a
periodic sweep that catches up after downtime. Claiming marks rows `sending` with this instance's id
in one short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer serialises
it), so two instances never take the same row.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application

from bot.db import models as m
from bot.i18n import get_translator, negotiate
from bot.schedule.notices import AFTER_SEND, RENDERERS, Rendered
from bot.services import Services

log = logging.getLogger(__name__)

BATCH = 50
MAX_ATTEMPTS = 5
# A row left `sending` longer than this by a dead instance is taken back.
STALE_CLAIM = timedelta(minutes=2)


class Dispatcher:
    def __init__(self, app: Application, services: Services) -> None:  # type: ignore[type-arg]
        self.app = app
        self.services = services
        self.instance = uuid.uuid4().hex[:12]
        self._lock = asyncio.Lock()

    @property
    def bot(self) -> Any:
        return self.app.bot

    async def claim(self, now: datetime, limit: int = BATCH) -> list[int]:
        async with self.services.sessionmaker() as session:
            dialect = session.get_bind().dialect.name
            q = (
                select(m.Notice.id)
                .where(m.Notice.state == "pending", m.Notice.due_at <= now)
                .order_by(m.Notice.due_at, m.Notice.id)
                .limit(limit)
            )
            if dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            ids = list((await session.scalars(q)).all())
            if ids:
                await session.execute(
                    update(m.Notice)
                    .where(m.Notice.id.in_(ids), m.Notice.state == "pending")
                    .values(state="sending", claimed_by=self.instance, claimed_at=now)
                )
            await session.commit()
            return ids

    async def release_stale(self, now: datetime) -> None:
        async with self.services.sessionmaker() as session:
            await session.execute(
                update(m.Notice)
                .where(m.Notice.state == "sending", m.Notice.claimed_at < now - STALE_CLAIM)
                .values(state="pending")
            )
            await session.commit()

    async def run_due(self, now: datetime | None = None) -> int:
        """Send everything due now; returns how many were sent."""
        async with self._lock:
            sent = 0
            now = now or self.services.clock()
            await self.release_stale(now)
            while True:
                ids = await self.claim(now)
                if not ids:
                    break
                for notice_id in ids:
                    if await self.deliver(notice_id):
                        sent += 1
            return sent

    async def _render(self, session: Any, notice: m.Notice) -> Rendered | None:
        fn = RENDERERS.get(notice.kind)
        if fn is None:
            log.error("no renderer for notice kind %s", notice.kind)
            return None
        person = await session.get(m.Person, notice.person_id) if notice.person_id else None
        network = await session.get(m.Network, notice.network_id) if notice.network_id else None
        if person is not None:
            lang = negotiate(person.language, person.tg_language, network.language if network else None)
        else:
            lang = network.language if network else "en"
        return await fn(session, notice, get_translator(lang))

    async def deliver(self, notice_id: int) -> bool:
        from handlers.common import markup

        async with self.services.sessionmaker() as session:
            notice = await session.get(m.Notice, notice_id)
            if notice is None or notice.state != "sending" or notice.claimed_by != self.instance:
                return False
            rendered = await self._render(session, notice)
            if rendered is None:
                notice.state = "skipped"
                await session.commit()
                return False
            notice.attempts += 1
            try:
                if rendered.document is not None:
                    name, data = rendered.document
                    msg = await self.bot.send_document(
                        notice.chat_id,
                        document=data,
                        filename=name,
                        caption=rendered.text[:1024] or None,
                        reply_markup=markup(rendered.keyboard),
                    )
                else:
                    msg = await self.bot.send_message(
                        notice.chat_id, rendered.text[:4096], reply_markup=markup(rendered.keyboard)
                    )
            except RetryAfter as err:
                retry = (
                    err.retry_after
                    if isinstance(err.retry_after, (int, float))
                    else err.retry_after.total_seconds()
                )
                notice.state = "pending"
                notice.due_at = self.services.clock() + timedelta(seconds=float(retry))
                await session.commit()
                await asyncio.sleep(float(retry))
                return False
            except Forbidden:
                notice.state = "failed"
                notice.last_error = "forbidden"
                if notice.person_id:
                    person = await session.get(m.Person, notice.person_id)
                    if person is not None:
                        person.reachable = False
                await session.commit()
                return False
            except BadRequest as err:
                notice.state = "failed"
                notice.last_error = type(err).__name__
                await session.commit()
                return False
            except TelegramError as err:
                notice.last_error = type(err).__name__
                if notice.attempts >= MAX_ATTEMPTS:
                    notice.state = "failed"
                else:
                    notice.state = "pending"
                    notice.due_at = self.services.clock() + timedelta(seconds=2**notice.attempts)
                await session.commit()
                return False
            notice.state = "sent"
            notice.sent_at = self.services.clock()
            notice.message_id = msg.message_id
            hook = AFTER_SEND.get(notice.kind)
            if hook is not None:
                await hook(session, notice, msg.message_id)
            await session.commit()
            return True

    async def next_due(self) -> datetime | None:
        async with self.services.sessionmaker() as session:
            return await session.scalar(
                select(m.Notice.due_at).where(m.Notice.state == "pending").order_by(m.Notice.due_at).limit(1)
            )

    def wake(self, delay: float = 0.0) -> None:
        """Ask the JobQueue to run the dispatcher soon (after an enqueue, or at the next due time)."""
        jq = self.app.job_queue
        if jq is None:
            return
        jq.run_once(self._job, when=max(delay, 0.0), name="dispatch")

    async def _job(self, _context: Any) -> None:
        try:
            await self.run_due()
        except Exception:
            log.exception("dispatcher run failed")
        nxt = await self.next_due()
        if nxt is not None:
            delay = (nxt - self.services.clock()).total_seconds()
            if delay < self.services.settings.sweep_interval:
                self.wake(max(delay, 0.05))

    def start(self) -> None:
        jq = self.app.job_queue
        if jq is None:
            return
        jq.run_repeating(self._job, interval=self.services.settings.sweep_interval, first=0.1, name="sweep")
