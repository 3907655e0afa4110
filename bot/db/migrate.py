"""Programmatic Alembic: `volbot migrate`, `volbot run` and the tests all come through here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


async def upgrade(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema, using the engine's own connection."""

    def _do(sync_conn: object) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, "heads")

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several instances starting at once against a new database: one migrates, the others wait
            # (the lock is released with the transaction) and then find nothing to do.
            await conn.execute(text("SELECT pg_advisory_xact_lock(774411)"))
        await conn.run_sync(_do)
