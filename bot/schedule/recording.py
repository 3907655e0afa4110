"""The dispatcher's recording part: results written by a group-committing writer as they arrive."""

from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy import Table, bindparam, update

from bot.db import models as m
from bot.db.outage import is_unavailable, monitor_of
from bot.domain import deliveries
from bot.schedule.jobs import BROADCAST_KIND, DispatcherBase, Result
from bot.schedule.notices import AFTER_SEND

log = logging.getLogger(__name__)


class Recording(DispatcherBase):
    # ------------------------------------------------------------------ recording

    def _record(self, result: Result) -> None:
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
            except Exception as err:
                self._results[:0] = batch
                if is_unavailable(err):
                    # Kept in memory until the database answers again (the monitor says it once and
                    # probes with backoff); this instance's claims on them are never taken back meanwhile.
                    monitor = monitor_of(self.services)
                    monitor.report(err)
                    await monitor.wait_up(5.0)
                    await asyncio.sleep(random.uniform(0.05, 0.25))
                else:
                    log.exception("recording %d delivery results failed; retrying", len(batch))
                    await asyncio.sleep(0.5)

    async def _flush_wait(self) -> None:
        while self._results or (self._writer is not None and not self._writer.done()):
            if self._writer is None or self._writer.done():
                self._writer = asyncio.get_running_loop().create_task(self._write_loop())
            await asyncio.shield(self._writer)

    async def _write(self, batch: list[Result]) -> None:
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
        for bid in {r.ref_id for r in batch if r.kind == BROADCAST_KIND and r.ref_id is not None}:
            self._touch_progress(bid)
