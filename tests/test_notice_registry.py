"""One registry of notice kinds (bot/schedule/registry.py): every declared kind is handled, an unknown
kind is refused when enqueued and stops the start-up when found pending in the database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.db import models as m
from bot.db.engine import create_engine
from bot.schedule import notices, registry
from bot.testing.harness import BotHarness


def test_every_declared_kind_is_handled_by_the_module_named() -> None:
    registry.load()
    for kind, (what, module) in registry.KINDS.items():
        fn = notices.ACTIONS[kind] if what == "action" else notices.RENDERERS[kind]
        assert fn.__module__ == module, kind
    assert "event_card" in notices.AFTER_SEND
    assert "broadcast_progress" in notices.AFTER_SEND
    assert registry.known("vote_close") and not registry.known("vote_closed")


def test_unknown_kind_is_named_in_the_error() -> None:
    with pytest.raises(registry.UnknownNoticeKind, match="evnet_new"):
        registry.require_known(["event_new", "evnet_new"])


async def test_enqueue_refuses_an_unknown_kind(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with async_sessionmaker(engine)() as s:
            with pytest.raises(registry.UnknownNoticeKind):
                await notices.enqueue(s, kind="event_nwe", dedup_key="x", chat_id=1, due_at=datetime.now(UTC))
            with pytest.raises(registry.UnknownNoticeKind):
                await notices.enqueue_many(
                    s,
                    [{"kind": "nope", "dedup_key": "y", "chat_id": 1, "due_at": datetime.now(UTC)}],
                )
            assert await notices.enqueue(
                s, kind="event_new", dedup_key="z", chat_id=1, due_at=datetime.now(UTC)
            )
    finally:
        await engine.dispose()


async def test_start_up_stops_on_a_pending_notice_nobody_can_deliver(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with async_sessionmaker(engine)() as s:
            # Written by hand, as an older or newer version of the bot could have left it.
            s.add(
                m.Notice(
                    kind="retired_kind",
                    dedup_key="old:1",
                    chat_id=5,
                    due_at=datetime.now(UTC),
                    payload={},
                    state="pending",
                    attempts=0,
                    created_at=m.utcnow(),
                )
            )
            await s.commit()
    finally:
        await engine.dispose()
    h = BotHarness(db_url)
    with pytest.raises(registry.UnknownNoticeKind, match="retired_kind"):
        await h.start()
    await h.app.shutdown()
    await h.api.stop()
