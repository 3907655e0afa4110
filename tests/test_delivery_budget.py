"""Telegram's global limit holds across instances: two dispatchers on one PostgreSQL database share one
send budget, so together they stay under ~30 messages/s as the receiver counts them (the fake
answers 429 above it)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db import models as m
from bot.schedule.budget import SharedBudget
from bot.schedule.notices import Rendered, enqueue_many, renderer
from bot.schedule.pacing import Limits
from bot.testing.harness import BotHarness
from bot.testing.receiver import busiest

KIND = "budget_test"


@renderer(KIND)
async def _render(session: Any, notice: m.Notice, t: Any) -> Rendered:
    return Rendered(f"budget {notice.id}")


async def test_two_instances_share_telegrams_global_limit(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the shared budget is for several instances on PostgreSQL")
    total = 300
    async with (
        BotHarness(db_url, limits=Limits()) as a,
        BotHarness(db_url, api=a.api, limits=Limits()) as b,
    ):
        a.api.enforce_limits = True
        da, db = a.services.dispatcher, b.services.dispatcher
        assert da is not None and db is not None
        assert isinstance(da.outbox.pacer.shared, SharedBudget) and isinstance(
            db.outbox.pacer.shared, SharedBudget
        )
        async with a.quiet_session() as s:
            await enqueue_many(
                s,
                [
                    {"kind": KIND, "dedup_key": f"budget:{i}", "chat_id": 70_000 + i, "due_at": a.clock()}
                    for i in range(total)
                ],
            )
            await s.commit()
        sent_a, sent_b = await asyncio.gather(da.run_due(), db.run_due())
        assert sent_a + sent_b == total
        assert sent_a > 0 and sent_b > 0  # both really sent
        assert a.api.count_429 == 0
        assert da.stats["429"] == db.stats["429"] == 0
        per_chat = Counter(c.chat_id for c in a.api.sent_messages())
        assert len(per_chat) == total and set(per_chat.values()) == {1}
        # Telegram's 30 a second, counted where Telegram counts (arrivals, a sliding second), from
        # both together: the shared budget plans 29, one to spare for requests bunched on the way.
        assert busiest([c.time for c in a.api.all_calls if c.method == "sendMessage"], 1.0) <= 30
        async with a.services.sessionmaker() as s:
            # the budget's rows: one per slot used (or reserved), never more than one per slot
            assert (await s.scalar(select(func.count()).select_from(m.SendSlot))) >= total


async def test_budget_slots_are_exclusive_and_old_ones_pruned(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the shared budget is for several instances on PostgreSQL")
    from bot.db.engine import create_engine

    engine = create_engine(db_url)
    try:
        x, y = SharedBudget(engine, chunk=5), SharedBudget(engine, chunk=5)
        x._waiting = y._waiting = 5
        await asyncio.gather(x._reserve(), y._reserve())
        mine, theirs = set(x._slots), set(y._slots)
        assert mine and theirs and not (mine & theirs)
        assert len(mine) <= 5 and len(theirs) <= 5
        # a reservation prunes rows older than a minute (in the same round trip)
        async with engine.begin() as conn:
            await conn.execute(m.SendSlot.__table__.insert(), [{"slot": 1}, {"slot": 2}])
        x._pruned = 0.0
        await x._reserve()
        async with engine.connect() as conn:
            old = await conn.scalar(select(func.count()).select_from(m.SendSlot).where(m.SendSlot.slot < 10))
        assert old == 0
    finally:
        await engine.dispose()
