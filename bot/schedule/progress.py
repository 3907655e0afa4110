"""The dispatcher's broadcast-progress part: the coordinators' progress message, edited sparingly,
and its final edit (failures included) made by exactly one instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy import update
from telegram.error import TelegramError

from bot.db import models as m
from bot.schedule.jobs import DispatcherBase, ProgressState
from bot.schedule.outbox import lane
from bot.schedule.pacing import Lane

log = logging.getLogger(__name__)


class Progress(DispatcherBase):
    # ------------------------------------------------------------------ broadcast progress

    def _touch_progress(self, broadcast_id: int) -> None:
        p = self._progress.setdefault(broadcast_id, ProgressState())
        p.dirty = True
        if p.task is None or p.task.done():
            p.task = asyncio.get_running_loop().create_task(self._update_progress(broadcast_id))
            self._bg.add(p.task)
            p.task.add_done_callback(self._bg.discard)

    async def _update_progress(self, broadcast_id: int, final_check: bool = False) -> None:
        """Edit the progress message sparingly; the last edit (exactly one instance does it) gives the
        outcome, failures included, to the coordinators."""
        from bot.domain import broadcasts

        p = self._progress.setdefault(broadcast_id, ProgressState())
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
            with lane(Lane.NOTICE), contextlib.suppress(TelegramError):
                await self.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id)
            if final:
                self._progress.pop(broadcast_id, None)
        except Exception:
            log.exception("broadcast progress %s failed", broadcast_id)
