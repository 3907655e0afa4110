"""The database going away while the bot works: PostgreSQL cut off by a TCP proxy in the test (the
shared PostgreSQL service is never stopped), SQLite locked by a long writer. The bot stays up,
/healthz says 503 with the database as the cause, updates that arrive meanwhile are handled once it
is back, delivery resumes by itself, nothing is lost."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.db import models as m
from bot.db.outage import monitor_of
from bot.testing.fake_bot_api import FakeBotAPI, FakeUser
from bot.testing.harness import BotHarness, texts
from bot.testing.tcp_proxy import TcpProxy
from bot.web.server import create_web_app


async def until(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait for a condition the bot's own tasks make true (checked every few milliseconds)."""
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)


def need_pg(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a TCP proxy between the bot and PostgreSQL; SQLite has its own test below")


def need_sqlite(db_url: str) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("SQLite's lock")


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.services.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def _inject(bot: BotHarness, user: FakeUser, text: str, chat: object = None) -> int:
    bot._injected += 1
    return int(bot.api.inject_message(user, chat, text)["message_id"])  # type: ignore[arg-type]


async def test_updates_during_a_postgresql_outage_are_handled_when_it_is_back(db_url: str) -> None:
    need_pg(db_url)
    async with TcpProxy() as proxy, BotHarness(proxy.url_for(db_url)) as bot:
        admin = bot.user(1, "Mette", "da")
        group = bot.group("Netværket", admins=[admin])
        await bot.say(admin, "/setup", group)
        others = [bot.user(10 + i, f"Frivillig{i}", "da") for i in range(3)]
        monitor = monitor_of(bot.services)
        web = create_web_app(bot.services)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web), base_url="http://volbot"
        ) as web_client:
            ok = await web_client.get("/healthz")
            assert ok.status_code == 200 and ok.json()["database"] == "ok"

            proxy.cut()
            first = len(bot.api.all_calls)
            _inject(bot, admin, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk", group)
            for other in others:
                _inject(bot, other, "/help")
            assert await monitor.wait_down(30)
            down = await web_client.get("/healthz")
            assert down.status_code == 503
            assert down.json()["database"] != "ok" and down.json()["status"] == "degraded"
            # Wait for the probe to fail once more: still nothing answered, nothing apologised.
            failures = monitor.failures
            await until(lambda: monitor.failures > failures + 1)
            assert [c for c in bot.api.all_calls[first:] if c.method == "sendMessage"] == []

            proxy.restore()
            await bot.settle(timeout=60)
            assert not monitor.down
            again = await web_client.get("/healthz")
            assert again.status_code == 200
        replies = [c for c in bot.api.all_calls[first:] if c.method == "sendMessage"]
        assert not any("Sorry, something went wrong" in (c.plain_text or "") for c in replies)
        for other in others:
            assert len([c for c in replies if c.chat_id == other.id]) == 1
        assert any("Fællesspisning" in (c.plain_text or "") for c in replies if c.chat_id == group.id)
        assert await _count(bot, m.Event) == 1


async def test_a_broadcast_cut_off_from_postgresql_resumes_by_itself(db_url: str) -> None:
    need_pg(db_url)
    followers_n = 120
    api = FakeBotAPI(latency=0.02)
    await api.start()
    try:
        async with TcpProxy() as proxy, BotHarness(proxy.url_for(db_url), api=api, dispatch=True) as bot:
            admin = bot.user(1, "Mette", "da")
            group = bot.group("Netværket", admins=[admin])
            await bot.say(admin, "/setup", group)
            followers = [bot.user(1000 + i, f"F{i}", "da") for i in range(followers_n)]
            for f in followers:
                await bot.say(f, "/start net_netvaerket")
            ids = {f.id for f in followers}
            monitor = monitor_of(bot.services)
            # Claims go stale sooner than in production, so that the outage below outlasts them.
            dispatcher = bot.services.dispatcher
            assert dispatcher is not None
            dispatcher.stale_after = timedelta(seconds=3)
            dispatcher.heartbeat_every = 0.5
            dispatcher.claim_margin = 1.0

            def delivered() -> list[int]:
                return [
                    c.chat_id or 0
                    for c in api.all_calls
                    if c.method == "sendMessage"
                    and c.ok
                    and c.chat_id in ids
                    and "Kaffe" in (c.plain_text or "")
                ]

            _inject(bot, admin, "/broadcast Kaffe og kage i aften kl. 19", group)
            await until(lambda: len(delivered()) >= 10)
            proxy.cut()
            at_cut = len(delivered())
            assert await monitor.wait_down(30)
            failures = monitor.failures
            await until(lambda: monitor.failures > failures + 1)
            # The outage lasts longer than a claim stays fresh: what was sent meanwhile is recorded
            # when the database is back, not taken back as a dead instance's and sent again.
            await asyncio.sleep(2 * dispatcher.stale_after.total_seconds())
            during = len(delivered())
            proxy.restore()
            await until(lambda: len(set(delivered())) == followers_n, timeout=90)
            got = delivered()
            lost = ids - set(got)
            duplicated = len(got) - len(set(got))
            assert lost == set()
            # Only a message in flight when the database went away may go out twice: the ones sent
            # while it was away are recorded when it is back, never taken back and sent again.
            assert duplicated <= during - at_cut
            assert during < followers_n
            await bot.settle()
    finally:
        await api.stop()


async def test_sqlite_locked_by_a_long_writer(db_url: str, tmp_path: Path) -> None:
    need_sqlite(db_url)
    path = make_url(db_url).database
    assert path
    async with BotHarness(db_url, settings={"sqlite_busy_timeout": 0.2}) as bot:
        admin = bot.user(1, "Mette", "da")
        group = bot.group("Netværket", admins=[admin])
        await bot.say(admin, "/setup", group)
        monitor = monitor_of(bot.services)
        writer = sqlite3.connect(path, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")  # a long writer holds the lock
            first = len(bot.api.all_calls)
            _inject(bot, admin, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk", group)
            _inject(bot, bot.user(2, "Sara", "da"), "/help")
            await until(lambda: monitor.retries >= 2)
            assert monitor.down and monitor.cause == "locked"
            assert [c for c in bot.api.all_calls[first:] if c.method == "sendMessage"] == []
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        await bot.settle(timeout=60)
        replies = texts([c for c in bot.api.all_calls[first:] if c.method == "sendMessage"])
        assert any("Fællesspisning" in r for r in replies)
        assert not any("Sorry, something went wrong" in r for r in replies)
        assert (
            len([c for c in bot.api.all_calls[first:] if c.method == "sendMessage" and c.chat_id == 2]) == 1
        )
        assert await _count(bot, m.Event) == 1
        await until(lambda: not monitor.down)


async def test_webhook_answers_503_while_postgresql_is_away_so_telegram_resends(db_url: str) -> None:
    need_pg(db_url)
    import socket

    from bot.config import Settings
    from bot.web.webhook import SECRET_HEADER, serve_webhook

    secret = "s3cret-Token_for-tests-0123456789"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    async with FakeBotAPI() as api, TcpProxy() as proxy:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            bot_token="123456:TEST-TOKEN",
            database_url=proxy.url_for(db_url),
            bot_api_base_url=api.base_url,
            bot_api_base_file_url=api.base_file_url,
            webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
            webhook_secret=secret,
            port=port,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(serve_webhook(settings, stop=stop, register_commands=False))
        base = f"http://127.0.0.1:{port}"
        update = {
            "update_id": 777,
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "chat": {"id": 5150, "type": "private", "first_name": "Eve"},
                "from": {"id": 5150, "is_bot": False, "first_name": "Eve", "language_code": "en"},
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            },
        }
        try:
            async with httpx.AsyncClient(timeout=30) as client:

                async def healthy() -> bool:
                    try:
                        return (await client.get(f"{base}/healthz")).status_code == 200
                    except httpx.HTTPError:
                        return False

                async with asyncio.timeout(30):
                    while not await healthy():
                        assert not task.done()
                        await asyncio.sleep(0.05)
                proxy.cut()
                post = {"json": update, "headers": {SECRET_HEADER: secret}}
                first = await client.post(f"{base}/telegram/webhook", **post)  # type: ignore[arg-type]
                assert first.status_code == 503
                again = await client.post(f"{base}/telegram/webhook", **post)  # type: ignore[arg-type]
                assert again.status_code == 503  # known down: answered at once
                assert api.sent_messages(5150) == []
                proxy.restore()
                async with asyncio.timeout(30):
                    while not await healthy():
                        await asyncio.sleep(0.05)
                retried = await client.post(f"{base}/telegram/webhook", **post)  # type: ignore[arg-type]
                assert retried.status_code == 200
            assert len(api.sent_messages(5150)) == 1
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
