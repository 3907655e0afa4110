"""Fresh databases for tests and benchmarks: SQLite files copied from a migrated template, and
PostgreSQL databases created (from a migrated template database) on the local server."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import text

from bot.db.engine import create_engine
from bot.db.migrate import upgrade

PG_ADMIN_URL = os.environ.get("VOLBOT_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

_sqlite_template: Path | None = None
_pg_template: str | None = None
_lock = asyncio.Lock()


async def sqlite_url(directory: Path) -> str:
    """A migrated SQLite database file in `directory` (copied from a template migrated once)."""
    global _sqlite_template
    async with _lock:
        if _sqlite_template is None:
            tmpl = Path(tempfile.mkdtemp(prefix="volbot-tmpl-")) / "template.db"
            engine = create_engine(f"sqlite+aiosqlite:///{tmpl}")
            await upgrade(engine)
            # Closing the last connection checkpoints the WAL into the file, so a plain copy is complete.
            await engine.dispose()
            _sqlite_template = tmpl
    target = directory / f"volbot-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(_sqlite_template, target)
    return f"sqlite+aiosqlite:///{target}"


async def pg_available() -> bool:
    engine = create_engine(PG_ADMIN_URL, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), 5)
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


def _pg_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin_exec(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def pg_url() -> str:
    """A new, migrated PostgreSQL database (created from a template migrated once per process)."""
    global _pg_template
    async with _lock:
        if _pg_template is None:
            name = f"volbot_tmpl_{uuid.uuid4().hex[:10]}"
            await _admin_exec(f'CREATE DATABASE "{name}"')
            engine = create_engine(_pg_url(name))
            await upgrade(engine)
            await engine.dispose()
            _pg_template = name
    name = f"volbot_t_{uuid.uuid4().hex[:12]}"
    await _admin_exec(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template}"')
    return _pg_url(name)


async def drop_pg(url: str) -> None:
    name = url.rpartition("/")[2]
    await _admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def drop_templates() -> None:
    global _pg_template
    if _pg_template is not None:
        await _admin_exec(f'DROP DATABASE IF EXISTS "{_pg_template}" WITH (FORCE)')
        _pg_template = None
