"""One wake: a transaction that enqueues notices wakes the dispatcher after its commit by itself
(bot.schedule.notices: an after-commit hook calls Services.notices_committed); handlers never call
`dispatcher.wake()`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.db.engine import create_engine, create_sessionmaker
from bot.schedule import notices
from bot.testing.harness import BotHarness


async def test_a_handler_that_enqueues_gets_it_delivered_without_a_wake_call(bot: BotHarness) -> None:
    admin = bot.user(1, "Mette", "da", username="mette")
    group = bot.group("Integrationsnetværket Rudersdal", admins=[admin])
    await bot.say(admin, "/setup", group)
    follower = bot.user(5, "Amal", "da")
    await bot.say(follower, "/start net_integrationsnetvaerket-rudersdal")
    # No sweep runs in the harness: only a wake can make the dispatcher look.
    assert bot.app.job_queue is not None
    assert bot.app.job_queue.get_jobs_by_name("sweep") == ()
    await bot.say(admin, "/newevent Fællesspisning | tomorrow 18:00 | Egebæk Medborgerhus", group)
    told = await bot.api.wait_for(
        lambda c: (
            c.ok
            and c.method == "sendMessage"
            and c.chat_id == follower.id
            and "Fællesspisning" in (c.plain_text or "")
        ),
        10.0,
        description="the new event's notice to the follower",
    )
    assert "Egebæk Medborgerhus" in (told.plain_text or "")


async def test_the_waker_runs_after_commit_only_with_the_earliest_new_due_time(db_url: str) -> None:
    woken: list[datetime] = []
    engine = create_engine(db_url)
    maker = create_sessionmaker(engine, {notices.WAKER: woken.append})
    now = datetime.now(UTC).replace(microsecond=0)
    later, sooner = now + timedelta(minutes=5), now + timedelta(minutes=1)
    try:
        async with maker() as s:
            await notices.enqueue(s, kind="event_new", dedup_key="a", chat_id=1, due_at=later)
            await notices.enqueue_many(
                s,
                [
                    {"kind": "event_new", "dedup_key": "b", "chat_id": 2, "due_at": sooner},
                    {"kind": "event_new", "dedup_key": "c", "chat_id": 3, "due_at": later},
                ],
            )
            assert woken == []  # not before the rows are visible to the dispatcher
            await s.commit()
        assert [w.replace(tzinfo=UTC) if w.tzinfo is None else w for w in woken] == [sooner]

        woken.clear()
        async with maker() as s:
            await notices.enqueue(s, kind="event_new", dedup_key="d", chat_id=4, due_at=now)
            await s.rollback()
            await s.commit()  # nothing enqueued in this transaction
        assert woken == []

        async with maker() as s:
            # Already planned (same key): nothing new, nothing to wake for.
            assert not await notices.enqueue(s, kind="event_new", dedup_key="a", chat_id=1, due_at=now)
            await s.commit()
        assert woken == []
    finally:
        await engine.dispose()
