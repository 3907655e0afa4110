"""Fixtures: a fresh database per test (SQLite, and PostgreSQL when reachable — required in CI),
and the real bot against a local Bot API fake (`bot`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.testing import db as testdb
from bot.testing.harness import BotHarness

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_BACKENDS = [
    b.strip() for b in os.environ.get("VOLBOT_TEST_BACKENDS", "sqlite,postgresql").split(",") if b.strip()
]
_pg_ok: bool | None = None


def _pg_reachable() -> bool:
    global _pg_ok
    if _pg_ok is None:
        _pg_ok = asyncio.run(testdb.pg_available())
    return _pg_ok


@pytest.fixture(params=_BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[str]:
    """A migrated, empty database: every test runs once per backend."""
    if request.param == "postgresql":
        if not await testdb.pg_available():
            if IN_CI:
                pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable; CI must run the PostgreSQL tests")
            pytest.skip("PostgreSQL not reachable (outside CI)")
        url = await testdb.pg_url()
        try:
            yield url
        finally:
            await testdb.drop_pg(url)
    else:
        from pathlib import Path

        assert isinstance(tmp_path, Path)
        yield await testdb.sqlite_url(tmp_path)


@pytest.fixture
def start_time() -> datetime:
    """A fixed 'now' for tests on a controlled clock (a Monday in winter, Copenhagen time)."""
    return datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def bot(db_url: str) -> AsyncIterator[BotHarness]:
    """The real Application polling a local Bot API fake; the clock runs in real time."""
    async with BotHarness(db_url) as harness:
        yield harness


@pytest.fixture
async def clocked_bot(db_url: str, start_time: datetime) -> AsyncIterator[BotHarness]:
    """The bot on a frozen clock; `await bot.advance(days=1)` moves time and delivers what is due."""
    async with BotHarness(db_url, now=start_time) as harness:
        yield harness


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    try:
        if testdb._pg_template is not None:
            asyncio.run(testdb.drop_templates())
    except Exception:
        pass
