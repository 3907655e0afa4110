"""Shorter failover, safely: a claim not refreshed in time is given back unsent (never sent by two
instances), and a dead instance's claims come back after `stale_after`."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.db import models as m
from bot.db.outage import monitor_of
from bot.schedule.notices import Rendered, enqueue_many, renderer
from bot.testing.harness import BotHarness

KIND = "failover_test"


@renderer(KIND)
async def _render(session: Any, notice: m.Notice, t: Any) -> Rendered:
    return Rendered(f"failover {notice.id}")


async def _enqueue(h: BotHarness, n: int) -> None:
    async with h.quiet_session() as s:
        await enqueue_many(
            s,
            [
                {"kind": KIND, "dedup_key": f"fo:{i}", "chat_id": 90_000 + i, "due_at": h.clock()}
                for i in range(n)
            ],
        )
        await s.commit()


async def test_a_claim_that_could_not_be_refreshed_is_given_back_unsent(db_url: str) -> None:
    async with BotHarness(db_url) as h:
        d = h.services.dispatcher
        assert d is not None
        assert d.heartbeat_every * 5 <= d.stale_after.total_seconds()
        await _enqueue(h, 3)
        jobs = await d._prepare(await d.claim(h.clock()))
        assert len(jobs) == 3
        # As if the heartbeat had failed for longer than the safety margin allows.
        for job in jobs:
            job.claimed_mono = time.monotonic() - d.stale_after.total_seconds()
        d._beat = 0.0
        for job in jobs:
            await d._send(job)
        await d._flush_wait()
        assert h.api.sent_messages() == []
        async with h.services.sessionmaker() as s:
            rows = (await s.execute(select(m.Notice.state, m.Notice.claimed_by))).all()
        assert [tuple(r) for r in rows] == [("pending", None)] * 3
        # Given back, not lost: the next round sends each once.
        assert await h.run_due() == 3
        assert Counter(c.chat_id for c in h.api.sent_messages()) == Counter({90_000: 1, 90_001: 1, 90_002: 1})


async def test_dead_instance_claims_come_back_after_stale_after(db_url: str) -> None:
    async with BotHarness(db_url) as h:
        d = h.services.dispatcher
        assert d is not None
        await _enqueue(h, 2)
        assert len(await d.claim(h.clock())) == 2
        d._held.clear()  # the claiming instance died
        h.clock.advance(d.stale_after - timedelta(seconds=1))
        assert await h.run_due() == 0
        h.clock.advance(timedelta(seconds=2))
        assert await h.run_due() == 2
        assert h.api.duplicates() == {}


async def _claims(h: BotHarness) -> list[tuple[str, str | None]]:
    async with h.services.sessionmaker() as s:
        rows = (await s.execute(select(m.Notice.state, m.Notice.claimed_by).order_by(m.Notice.id))).all()
    return [(r[0], r[1]) for r in rows]


async def test_own_claims_in_hand_are_never_taken_back_however_stale(db_url: str) -> None:
    # A database outage longer than `stale_after`: the rows this instance sent meanwhile wait in its
    # writer for the database. Taking them back as if it had died would send them all again.
    async with BotHarness(db_url) as h:
        d = h.services.dispatcher
        assert d is not None
        await _enqueue(h, 3)
        jobs = await d.claim(h.clock())
        assert len(jobs) == 3
        h.clock.advance(d.stale_after * 3)
        assert await d.release_stale(h.clock()) == 0
        assert await _claims(h) == [("sending", d.instance)] * 3
        # What it no longer holds (a leak) does come back.
        d._held.discard(jobs[0].id)
        assert await d.release_stale(h.clock()) == 1
        assert await _claims(h) == [("pending", None), ("sending", d.instance), ("sending", d.instance)]


async def test_other_instances_claims_wait_out_a_database_outage(db_url: str) -> None:
    # Both instances lost the database together: neither could refresh its claims. The first back
    # leaves the other's claims alone for `stale_after`, the time the other needs to refresh them.
    async with BotHarness(db_url) as h:
        d = h.services.dispatcher
        assert d is not None
        monitor = monitor_of(h.services)
        await _enqueue(h, 2)
        assert len(await d.claim(h.clock())) == 2
        held_by = d.instance
        d._held.clear()
        d.instance = "other-instance"  # look at those claims from another instance
        h.clock.advance(d.stale_after * 3)
        monitor.up_since = time.monotonic()  # the database just came back
        assert await d.release_stale(h.clock()) == 0
        assert await _claims(h) == [("sending", held_by)] * 2
        monitor.down_since = time.monotonic()  # and while it is away, nothing is taken back either
        assert await d.release_stale(h.clock()) == 0
        monitor.down_since = None
        monitor.up_since = time.monotonic() - d.stale_after.total_seconds() - 1
        assert await d.release_stale(h.clock()) == 2
        assert await _claims(h) == [("pending", None)] * 2
