"""Webhook mode end to end: the real `serve_webhook` on a free port, the local Bot API fake posting
updates to it like Telegram does, the secret token checked, /healthz on the same port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.db import models as m
from bot.testing.fake_bot_api import FakeBotAPI, FakeUser, private_chat
from bot.web.webhook import SECRET_HEADER, check_webhook_settings, serve_webhook

SECRET = "s3cret-Token_for-tests-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def webhook_settings(api: FakeBotAPI, db_url: str, port: int, **over: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": "123456:TEST-TOKEN",
        "database_url": db_url,
        "bot_api_base_url": api.base_url,
        "bot_api_base_file_url": api.base_file_url,
        "webhook_url": f"http://127.0.0.1:{port}/telegram/webhook",
        "webhook_secret": SECRET,
        "port": port,
        **over,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Running:
    api: FakeBotAPI
    base: str
    task: asyncio.Task[None]
    stop: asyncio.Event


async def wait_healthy(base: str, task: asyncio.Task[None], timeout: float = 20.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            if task.done():
                task.result()
            with contextlib.suppress(httpx.HTTPError):
                r = await client.get(f"{base}/healthz")
                if r.status_code == 200:
                    return dict(r.json())
            assert asyncio.get_running_loop().time() < deadline, "webhook server did not become healthy"
            await asyncio.sleep(0.05)


@pytest.fixture
async def webhook_bot(db_url: str) -> AsyncIterator[Running]:
    async with FakeBotAPI() as api:
        port = free_port()
        stop = asyncio.Event()
        task = asyncio.create_task(
            serve_webhook(webhook_settings(api, db_url, port), stop=stop, register_commands=False)
        )
        base = f"http://127.0.0.1:{port}"
        await wait_healthy(base, task)
        # healthy means serving; the webhook is registered right after the server started
        for _ in range(100):
            if api.webhook.get("url"):
                break
            await asyncio.sleep(0.05)
        try:
            yield Running(api, base, task, stop)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)


async def committed(db_url: str, model: Any, n: int, timeout: float = 10.0) -> int:
    """The row count once it reaches `n` (the bot replies before its transaction commits, so a count
    read right after the reply can still see the old state); the last count seen after `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await count(db_url, model)) != n and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    return found


async def count(db_url: str, model: Any) -> int:
    from bot.db.engine import create_engine

    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await engine.dispose()


async def test_registers_webhook_with_secret_and_handles_updates(webhook_bot: Running, db_url: str) -> None:
    api = webhook_bot.api
    hook = api.webhook
    assert hook["url"] == f"{webhook_bot.base}/telegram/webhook"
    assert hook["secret_token"] == SECRET
    assert set(hook["allowed_updates"]) == {"message", "callback_query", "my_chat_member"}
    # Telegram (the fake) posts the update with the secret header; the bot answers through the API.
    user = FakeUser(id=4711, first_name="Amina", language_code="en")
    api.inject_message(user, private_chat(user), "/start")
    reply = await api.next_message(user.id, timeout=10)
    assert "Welcome" in (reply.plain_text or "")
    assert await committed(db_url, m.Person, 1) == 1
    # polling is impossible while the webhook is set (Telegram's rule, kept by the fake)
    assert not api.calls("getUpdates")


async def test_wrong_or_missing_secret_is_refused_and_nothing_processed(
    webhook_bot: Running, db_url: str
) -> None:
    api = webhook_bot.api
    update = {
        "update_id": 90001,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 5150, "type": "private", "first_name": "Eve"},
            "from": {"id": 5150, "is_bot": False, "first_name": "Eve", "language_code": "en"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    url = f"{webhook_bot.base}/telegram/webhook"
    before = len(api.all_calls)
    async with httpx.AsyncClient() as client:
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET[:-1]}, {SECRET_HEADER: ""}):
            r = await client.post(url, json=update, headers=headers)
            assert r.status_code == 403, headers
        # not JSON, with the right secret: a 400, not a crash
        r = await client.post(url, content=b"{not json", headers={SECRET_HEADER: SECRET})
        assert r.status_code == 400
        # GET is not the webhook
        assert (await client.get(url)).status_code == 405
    # A barrier instead of a sleep: another person's update with the right secret, posted after the
    # refused ones; once it is answered, a refused update that had been let in would have been too.
    barrier = json.loads(json.dumps(update).replace("5150", "5151"))
    barrier["update_id"] = 90000
    async with httpx.AsyncClient() as client:
        r = await client.post(url, json=barrier, headers={SECRET_HEADER: SECRET})
    assert r.status_code == 200
    await api.next_message(5151, timeout=10)
    assert [c for c in api.all_calls[before:] if c.chat_id == 5150] == []
    assert await committed(db_url, m.Person, 1) == 1
    # the same update with the right secret is handled
    async with httpx.AsyncClient() as client:
        r = await client.post(url, json=update, headers={SECRET_HEADER: SECRET})
    assert r.status_code == 200
    reply = await api.next_message(5150, timeout=10)
    assert "Welcome" in (reply.plain_text or "")
    assert await committed(db_url, m.Person, 2) == 2


async def test_healthz_reports_database_and_bot_api(webhook_bot: Running) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.get(f"{webhook_bot.base}/healthz")
        assert r.status_code == 200
        assert r.json() == {"status": "ok", "database": "ok", "bot_api": "ok"}
        # getMe is cached: a burst of health checks makes at most one request
        before = len(webhook_bot.api.calls("getMe"))
        for _ in range(10):
            assert (await client.get(f"{webhook_bot.base}/healthz")).status_code == 200
        assert len(webhook_bot.api.calls("getMe")) - before <= 1
        # Bot API unreachable (the fake stops answering): degraded, 503, once the cache expires
        from bot.web import server

        await webhook_bot.api.stop()
        await asyncio.sleep(server.BOT_API_PROBE_SECONDS + 0.2)
        r = await client.get(f"{webhook_bot.base}/healthz", timeout=15)
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "degraded" and body["database"] == "ok" and body["bot_api"] != "ok"
        assert "TEST-TOKEN" not in r.text


async def test_refuses_to_start_without_secret(db_url: str) -> None:
    async with FakeBotAPI() as api:
        port = free_port()
        settings = webhook_settings(api, db_url, port, webhook_secret=None)
        problem = check_webhook_settings(settings)
        assert problem is not None and "WEBHOOK_SECRET" in problem
        with pytest.raises(SystemExit) as exc:
            await serve_webhook(settings)
        assert "WEBHOOK_SECRET" in str(exc.value)
        # too short or with characters Telegram does not allow
        for bad in ("short", "has spaces in it, 0123456789"):
            problem = check_webhook_settings(webhook_settings(api, db_url, port, webhook_secret=bad))
            assert problem is not None and "WEBHOOK_SECRET" in problem
        assert not api.webhook and not api.all_calls
