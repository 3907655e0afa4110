"""Settings from the environment or a `.env` file (names as in SPEC.md)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SUPPORTED_LANGUAGES = ("da", "ar", "ti", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: str | None = Field(default=None, repr=False)
    database_url: str = "sqlite+aiosqlite:///volbot.db"
    bot_api_base_url: str = "https://api.telegram.org/bot"
    bot_api_base_file_url: str | None = None
    bot_timezone: str = "Europe/Copenhagen"
    bot_default_language: str = "da"
    webhook_url: str | None = None
    webhook_secret: str | None = Field(default=None, repr=False)
    port: int = 8080
    public_url: str | None = None
    # Seconds between the dispatcher's catch-up sweeps (the JobQueue also wakes it at the next due time).
    sweep_interval: float = 30.0
    # How long a cached list of group admins is trusted.
    admin_cache_seconds: float = 120.0
    # SQLite: how long a write waits for another writer's lock before "database is locked" (then the
    # update is tried again, bot/db/outage.py).
    sqlite_busy_timeout: float = 30.0
    # Flood control (bot/domain/flood.py): more than FLOOD_LIMIT commands/presses in FLOOD_WINDOW s
    # (or FLOOD_GROUP_LIMIT commands in one group) -> one notice, then ignored FLOOD_MUTE s. 0: off.
    flood_limit: int = 20
    flood_group_limit: int = 8
    flood_window: float = 10.0
    flood_mute: float = 60.0

    @property
    def file_base_url(self) -> str:
        if self.bot_api_base_file_url:
            return self.bot_api_base_file_url
        return self.bot_api_base_url.replace("/bot", "/file/bot", 1)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
