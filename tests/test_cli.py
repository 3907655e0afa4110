"""The `volbot` command line as a new user meets it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "DATABASE_URL", "WEBHOOK_URL")}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_without_token_explains_how_to_get_one(tmp_path: Path) -> None:
    result = _run("run", cwd=tmp_path)
    assert result.returncode == 2
    assert "@BotFather" in result.stderr and "BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    result = _run("migrate", cwd=tmp_path, env={"DATABASE_URL": f"sqlite+aiosqlite:///{db}"})
    assert result.returncode == 0, result.stderr
    import sqlite3

    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"persons", "networks", "memberships", "events", "notices", "alembic_version"} <= tables


async def test_concurrent_migrations_on_postgresql_do_not_collide(db_url: str) -> None:
    """Two instances starting together against a new database: both succeed, one schema."""
    import asyncio

    from bot.db.engine import create_engine
    from bot.db.migrate import upgrade
    from bot.testing import db as testdb

    if not db_url.startswith("postgresql"):
        import pytest

        pytest.skip("advisory locks are PostgreSQL's; SQLite has one writer")
    name = "volbot_fresh_" + db_url.rpartition("/")[2][-8:]
    await testdb._admin_exec(f'CREATE DATABASE "{name}"')
    url = db_url.rpartition("/")[0] + "/" + name
    engines = [create_engine(url) for _ in range(2)]
    try:
        await asyncio.gather(*(upgrade(e) for e in engines))
        async with engines[0].connect() as conn:
            from sqlalchemy import text

            version = (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar()
        assert version == 1
    finally:
        for e in engines:
            await e.dispose()
        await testdb.drop_pg(url)
