"""Fixtures: a fresh database per test (SQLite, and PostgreSQL when reachable — required in CI),
and the real bot against a local Bot API fake (`bot`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

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


def require_postgresql(reachable: bool, in_ci: bool = IN_CI) -> None:
    """Skip the PostgreSQL half of a test on a developer's machine without the server; in CI
    (CI=true) that is a failure, never a skip."""
    if reachable:
        return
    if in_ci:
        pytest.fail(
            f"CI=true but PostgreSQL at {testdb.PG_ADMIN_URL.rsplit('@', 1)[-1]} is not reachable: CI must run the PostgreSQL tests",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL not reachable at {testdb.PG_ADMIN_URL.rsplit('@', 1)[-1]} (outside CI)")


@pytest.fixture(params=_BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[str]:
    """A migrated, empty database: every test runs once per backend."""
    if request.param == "postgresql":
        require_postgresql(await testdb.pg_available())
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


# --- skipped tests, said loudly (scripts/test prints this list again at its very end) ---------------
_SKIPPED: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _SKIPPED:
        return
    by_reason: dict[str, list[str]] = {}
    for nodeid, reason in _SKIPPED:
        by_reason.setdefault(reason, []).append(nodeid)
    tr = terminalreporter
    tr.write_sep("!", f"{len(_SKIPPED)} TESTS SKIPPED: this run proves less than CI's", red=True, bold=True)
    for reason, nodeids in sorted(by_reason.items()):
        tr.write_line(f"{len(nodeids)} skipped: {reason}", red=True, bold=True)
        for nodeid in nodeids:
            tr.write_line(f"    {nodeid}")
    report = os.environ.get("VOLBOT_SKIP_REPORT")
    if report:
        with open(report, "w", encoding="utf-8") as f:
            for nodeid, reason in _SKIPPED:
                f.write(f"{nodeid}\t{reason}\n")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    try:
        if testdb._pg_template is not None:
            asyncio.run(testdb.drop_templates())
    except Exception:
        pass
