"""Operations: logs never carry the token (or the webhook secret) and can be structured; `volbot run`
stops cleanly on SIGTERM, finishing the update and the sends in flight."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import signal
import socket
import sys
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.db import models as m
from bot.db.engine import create_engine, create_sessionmaker
from bot.logging_setup import REDACTED, JsonFormatter, KeyValueFormatter, Redactor, configure_logging
from bot.schedule.notices import Rendered, enqueue_many, renderer
from bot.testing.fake_bot_api import FakeBotAPI, FakeUser, private_chat

TOKEN = "7654321098:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw4"
SECRET = "webhook-Secret_0123456789abcdef"


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_token_redacted_from_every_logger_and_traceback(restore_logging: object) -> None:
    out = io.StringIO()
    configure_logging(fmt="text", secrets=(TOKEN, SECRET), stream=out)
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    # the ways a token reaches a log: httpx/PTB request lines (as arguments), messages, tracebacks
    logging.getLogger("httpx").warning('HTTP Request: POST %s "HTTP/1.1 200 OK"', url)
    logging.getLogger("telegram.ext.Updater").error("Network error on %s", url)
    logging.getLogger("bot.x").info(f"webhook secret is {SECRET}")
    try:
        raise RuntimeError(f"failed: {url}")
    except RuntimeError:
        logging.getLogger("telegram.ext.Application").exception("no luck")
    # a token we were not told about is still recognised by its shape
    logging.getLogger("other").warning("other bot 1111111111:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw4 here")
    text = out.getvalue()
    assert TOKEN not in text and SECRET not in text
    assert "BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw4" not in text
    assert text.count(REDACTED) == 5
    assert "sendMessage" in text and "RuntimeError" in text  # the rest of the line stays useful


def test_json_and_kv_lines_are_parseable_and_redacted(restore_logging: object) -> None:
    out = io.StringIO()
    configure_logging(fmt="json", secrets=(TOKEN,), stream=out)
    log = logging.getLogger("bot.dispatch")
    log.info("sent %s notices", 3, extra={"chat_id": -100123, "kind": "broadcast"})
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("failed at bot%s/getMe", TOKEN)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["msg"] == "sent 3 notices" and lines[0]["level"] == "info"
    assert lines[0]["chat_id"] == -100123 and lines[0]["kind"] == "broadcast"
    assert lines[0]["logger"] == "bot.dispatch" and lines[0]["ts"].endswith("+00:00")
    assert "ZeroDivisionError" in lines[1]["exc"] and TOKEN not in json.dumps(lines)

    record = logging.LogRecord("x", logging.WARNING, "f", 1, "a b=%s", ("c d",), None)
    Redactor().filter(record)
    kv = KeyValueFormatter().format(record)
    assert 'msg="a b=c d"' in kv and "level=warning" in kv
    assert json.loads(JsonFormatter().format(record))["msg"] == "a b=c d"


def test_unknown_log_format_is_refused(restore_logging: object) -> None:
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        configure_logging(fmt="xml")


# --- SIGTERM on a real `volbot run` process -------------------------------------------------------

# The child registers a renderer for the test notices, then runs the real CLI.
LAUNCHER = """
import sys
from bot.schedule.notices import Rendered, renderer

@renderer("ops_test")
async def _render(session, notice, t):
    return Rendered(text="ops notice %d" % notice.id)

from bot.cli import main
sys.exit(main(["run"]))
"""


# Enqueuing checks the kind against the registry of this process too (bot.schedule.registry).
@renderer("ops_test")
async def _render_ops_test(session: Any, notice: m.Notice, t: Any) -> Rendered | None:
    return Rendered(text=f"ops notice {notice.id}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sigterm_finishes_in_flight_work_and_exits_cleanly(db_url: str) -> None:
    total = 200
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            now = m.utcnow() - timedelta(seconds=1)
            await enqueue_many(
                session,
                [
                    {"kind": "ops_test", "dedup_key": f"ops:{i}", "chat_id": 10_000 + i, "due_at": now}
                    for i in range(total)
                ],
            )
            await session.commit()
    finally:
        await engine.dispose()

    async with FakeBotAPI(latency=0.4) as api:
        port = free_port()
        env = {
            **os.environ,
            "BOT_TOKEN": TOKEN,
            "DATABASE_URL": db_url,
            "BOT_API_BASE_URL": api.base_url,
            "BOT_API_BASE_FILE_URL": api.base_file_url,
            "PORT": str(port),
            "LOG_FORMAT": "json",
            "SWEEP_INTERVAL": "0.5",
        }
        env.pop("WEBHOOK_URL", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            LAUNCHER,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            # running: /healthz answers on PORT
            # (a deadline, not a number of tries: starting Python on a busy machine can take long)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            async with httpx.AsyncClient() as client:
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                            break
                    assert proc.returncode is None, (await proc.stderr.read()).decode()  # type: ignore[union-attr]
                    assert loop.time() < deadline, "volbot run did not become healthy"
                    await asyncio.sleep(0.05)
            # an update whose reply is in flight when SIGTERM arrives
            user = FakeUser(id=4242, first_name="Amina", language_code="en")
            api.inject_message(user, private_chat(user), "/start")
            await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == user.id, timeout=60)
            await api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id >= 10_000, timeout=60)
            proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        log = err.decode()
        assert proc.returncode == 0, log
        # structured lines only, without the token
        assert TOKEN not in log and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw4" not in log
        events = [json.loads(line) for line in log.splitlines() if line.strip()]
        messages = [e["msg"] for e in events]
        assert any("stopping" in msg for msg in messages) and messages[-1] == "stopped", messages

        delivered = api.deliveries()
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            states = dict(
                (await conn.execute(select(m.Notice.state, func.count()).group_by(m.Notice.state))).all()
            )
            # the /start handled during shutdown was committed: the person exists
            assert await conn.scalar(select(func.count()).select_from(m.Person).where(m.Person.tg_id == 4242))
    finally:
        await engine.dispose()
    sent_to = [chat for chat, _text in delivered if chat is not None and chat >= 10_000]
    # every send that started was finished and recorded; the rest waits in the database; none twice
    assert states.get("sending", 0) == 0, states
    assert states.get("sent", 0) == len(sent_to) > 0, (states, len(sent_to))
    assert states.get("sent", 0) + states.get("pending", 0) == total, states
    assert all(n == 1 for n in delivered.values())
    # it stopped taking new work instead of draining the whole queue
    assert states.get("pending", 0) > 0, states
