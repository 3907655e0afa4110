"""Several instances on one PostgreSQL: two real Applications share the database and the Bot API;
updates go to them alternately, and a dialogue started on one continues on the other. Two
dispatchers deliver the same due notices: each is sent exactly once.

PostgreSQL only (several instances need it); in CI an unreachable PostgreSQL fails the test
(the `db_url` fixture), it is never skipped there.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.db import models as m
from bot.schedule import notices
from bot.schedule.notices import Rendered, enqueue_many, renderer
from bot.services import Services
from bot.testing.fake_bot_api import FakeBotAPI, FakeChat, FakeUser, group_chat, private_chat
from bot.testing.harness import FakeClock

KIND = "instances_test"


@renderer(KIND)
async def _render(session: Any, notice: m.Notice, t: Any) -> Rendered:
    return Rendered(text=f"notice {notice.id}")


class Instance:
    def __init__(self, name: str, app: Application) -> None:  # type: ignore[type-arg]
        self.name = name
        self.app = app
        self.handled = 0

    @property
    def services(self) -> Services:
        return self.app.bot_data["services"]  # type: ignore[no-any-return]


class Cluster:
    """Two instances; `send` hands each update to the next instance in turn, like a load balancer."""

    def __init__(self, api: FakeBotAPI, instances: list[Instance]) -> None:
        self.api = api
        self.instances = instances
        self._turn = itertools.cycle(instances)

    def _queued(self) -> dict[str, Any]:
        # The fake queued the update for getUpdates; nobody polls here, so take it off the queue.
        return dict(self.api._updates.pop())

    async def deliver(self, update: dict[str, Any], to: Instance | None = None) -> Instance:
        inst = to or next(self._turn)
        await inst.app.process_update(Update.de_json(update, inst.app.bot))
        inst.handled += 1
        return inst

    async def say(self, user: FakeUser, text: str, chat: FakeChat | None = None) -> Instance:
        self.api.inject_message(user, chat or private_chat(user), text)
        return await self.deliver(self._queued())

    async def press(self, user: FakeUser, chat: FakeChat, message_id: int, label: str) -> Instance:
        self.api.press(user, chat, message_id, label)
        return await self.deliver(self._queued())


@pytest.fixture
async def cluster(db_url: str) -> AsyncIterator[Cluster]:
    if not db_url.startswith("postgresql"):
        pytest.skip("several instances share a PostgreSQL database")
    clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    async with FakeBotAPI(latency=0.01) as api:
        instances = []
        for i, name in enumerate(("A", "B")):
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                bot_token="123456:TEST-TOKEN",
                database_url=db_url,
                bot_api_base_url=api.base_url,
                bot_api_base_file_url=api.base_file_url,
            )
            app = build_application(
                settings, clock=clock, dispatch=False, register_commands=False, migrate=i == 0
            )
            await app.initialize()
            if app.post_init is not None:
                await app.post_init(app)
            await app.start()
            instances.append(Instance(name, app))
        try:
            yield Cluster(api, instances)
        finally:
            for inst in instances:
                await inst.app.stop()
                await inst.app.shutdown()
                if inst.app.post_shutdown is not None:
                    await inst.app.post_shutdown(inst.app)


async def test_any_instance_takes_any_update_dialogue_moves_between_them(cluster: Cluster) -> None:
    api = cluster.api
    a, b = cluster.instances
    admin = FakeUser(id=1, first_name="Mette", language_code="en", username="mette")
    yonas = FakeUser(id=2, first_name="Yonas", language_code="en", username="yonas")
    group = group_chat(-100777, "Network")
    api.set_admins(group.id, [admin.id])

    assert await cluster.say(admin, "/setup Network", group) is a
    assert await cluster.say(yonas, "hello everyone", group) is b  # Yonas becomes known as a member
    # /settings on A (A asks Telegram who the admins are), the button pressed on B (B asks again:
    # the admin cache is per instance and safe to lose)
    assert await cluster.say(admin, "/settings", group) is a
    card = api.sent_messages(group.id)[-1]
    assert await cluster.press(admin, group, card.message_id, "Add translator") is b
    assert "Who?" in (api.sent_messages(group.id)[-1].plain_text or "")
    # the guided dialogue: step 1 answered on A, step 2 on B — the state is in the database
    assert await cluster.say(admin, "@yonas", group) is a
    assert "Which language" in (api.sent_messages(group.id)[-1].plain_text or "")
    assert await cluster.say(admin, "ar", group) is b
    assert api.sent_messages(group.id)[-1].plain_text == "Saved."

    async with a.services.sessionmaker() as s:
        rows = (await s.execute(select(m.Translator.language, m.Person.username).join(m.Person))).all()
        assert [tuple(r) for r in rows] == [("ar", "yonas")]
        assert await s.scalar(select(func.count()).select_from(m.Dialogue)) == 0
        assert await s.scalar(select(func.count()).select_from(m.Network)) == 1
    # both asked Telegram for the admins (each cache was cold), and both served updates
    assert a.handled == b.handled == 3


async def test_scheduled_notices_are_sent_exactly_once_by_two_dispatchers(cluster: Cluster) -> None:
    api = cluster.api
    a, b = cluster.instances
    total = 300
    now = a.services.clock()
    # Not woken by the commit: the test runs both dispatchers itself (bot.schedule.notices).
    async with a.services.sessionmaker(info={notices.WAKER: None}) as s:
        await enqueue_many(
            s,
            [
                {
                    "kind": KIND,
                    "dedup_key": f"inst:{i}",
                    "chat_id": 50_000 + i,
                    "due_at": now - timedelta(seconds=1),
                }
                for i in range(total)
            ],
        )
        # planned twice (a restart, the other instance): still one row each
        await enqueue_many(
            s,
            [
                {"kind": KIND, "dedup_key": f"inst:{i}", "chat_id": 50_000 + i, "due_at": now}
                for i in range(total)
            ],
        )
        await s.commit()
    assert a.services.dispatcher is not None and b.services.dispatcher is not None
    sent = await asyncio.gather(a.services.dispatcher.run_due(), b.services.dispatcher.run_due())
    assert sum(sent) == total
    per_chat = Counter(
        c.chat_id for c in api.sent_messages() if c.chat_id is not None and c.chat_id >= 50_000
    )
    assert len(per_chat) == total and set(per_chat.values()) == {1}
    async with a.services.sessionmaker() as s:
        states = dict((await s.execute(select(m.Notice.state, func.count()).group_by(m.Notice.state))).all())
        by = dict(
            (await s.execute(select(m.Notice.claimed_by, func.count()).group_by(m.Notice.claimed_by))).all()
        )
    assert states == {"sent": total}
    # the work really was shared between the two instances
    assert set(by) == {a.services.dispatcher.instance, b.services.dispatcher.instance}, by
    # a second round finds nothing to do on either
    assert await a.services.dispatcher.run_due() == 0 and await b.services.dispatcher.run_due() == 0
