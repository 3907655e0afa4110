"""Start-up checks for `volbot run`: every configuration fault becomes one clear sentence for the
operator and a non-zero exit, instead of a traceback and a restart loop.

`preflight(settings)` runs before anything is built (settings that cannot work, a data folder the bot
cannot write, a port in use); `check_database(url)` tries the database once; `explain(err)` turns the
errors the start itself may raise (Telegram refusing the token, an unreachable database during the
migration) into a sentence, or None for anything else (a bug: that keeps its traceback).
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from bot.config import Settings

# Exit status of `volbot run` for a configuration fault (2: no token, the same family).
EXIT_CONFIG = 2
DB_CONNECT_TIMEOUT = 10.0
URL_EXAMPLES = (
    "sqlite+aiosqlite:////data/volbot.db or postgresql+asyncpg://volbot:PASSWORD@db-host:5432/volbot"
)


class StartupError(Exception):
    """A start-up fault the operator can fix; str() is the one sentence to print."""


def _uid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return getuid() if getuid else None


def parse_database_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError) as err:
        raise StartupError(
            f"DATABASE_URL cannot be read ({type(err).__name__}); it must look like {URL_EXAMPLES}."
        ) from None
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if (backend, driver) not in (("sqlite", "aiosqlite"), ("postgresql", "asyncpg")):
        raise StartupError(
            f"DATABASE_URL names the driver {backend}+{driver}, which volbot cannot use; "
            f"write it as {URL_EXAMPLES}."
        )
    if backend == "postgresql" and not url.host:
        raise StartupError(f"DATABASE_URL has no host name; it must look like {URL_EXAMPLES}.")
    return url


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(database)


def _owner(path: Path) -> str:
    try:
        return f"user id {path.stat().st_uid}"
    except OSError:
        return "another user"


def check_sqlite_folder(path: Path) -> None:
    """The folder of the database file must exist and be writable by this process (SQLite writes its
    journal files next to the database), and an existing file must be writable."""
    path = path if path.is_absolute() else Path.cwd() / path
    folder = path.parent
    uid = _uid()
    who = f"user id {uid}" if uid is not None else "the user volbot runs as"
    fix = f"`sudo chown {uid} {folder}` on the host folder mounted there" if uid is not None else ""
    if not folder.is_dir():
        raise StartupError(
            f"The data folder {folder} for the database {path.name} does not exist; create it "
            f"and make {who} its owner, or point DATABASE_URL at a folder volbot can write."
        )
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".volbot-write-test-"):
            pass
        writable_folder = True
    except OSError:
        writable_folder = False
    if not writable_folder:
        raise StartupError(
            f"volbot cannot write to the data folder {folder} (owned by {_owner(folder)}), where its "
            f"database {path.name} lives: volbot runs as {who}, so {who} must own that folder"
            + (f" (for a Docker bind mount: {fix})." if fix else ".")
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StartupError(
            f"volbot cannot write to its database file {path} (owned by {_owner(path)}): volbot runs "
            f"as {who}, so {who} must own that file and its folder"
            + (f" (`sudo chown -R {uid} {folder}` on the host)." if uid is not None else ".")
        )


def check_webhook_url(settings: Settings) -> None:
    if not settings.webhook_url:
        return
    parts = urlsplit(settings.webhook_url)
    # Telegram only posts to https; a local Bot API server (--local) also accepts http.
    official = urlsplit(settings.bot_api_base_url).hostname == "api.telegram.org"
    allowed = ("https",) if official else ("https", "http")
    if parts.scheme not in allowed or not parts.hostname:
        raise StartupError(
            f"WEBHOOK_URL must be an https address such as https://bot.example.org/telegram/webhook "
            f"(Telegram posts updates only over https), not {parts.scheme or 'a bare'}://…; "
            "leave WEBHOOK_URL empty to use polling instead."
        )


def check_port(port: int) -> None:
    if not 0 < port < 65536:
        raise StartupError(f"PORT must be a number from 1 to 65535, not {port}.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"Port {port} is already in use by another program (or another volbot); stop that "
                    "program or set PORT to a free port."
                ) from None
            if err.errno == errno.EACCES:
                raise StartupError(
                    f"volbot may not listen on port {port} (ports below 1024 need extra rights); "
                    "set PORT to 1024 or above, e.g. 8080."
                ) from None
            raise StartupError(f"volbot cannot listen on port {port} ({err.strerror}).") from None


def preflight(settings: Settings) -> URL:
    """The checks that need no network: raise StartupError with the first fault found."""
    check_webhook_url(settings)
    url = parse_database_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            check_sqlite_folder(path)
    check_port(settings.port)
    return url


def _where(url: URL) -> str:
    return f"{url.host}:{url.port or 5432}/{url.database or ''}"


def describe_database_error(url: URL, err: BaseException) -> str:
    """One sentence for a failed connection attempt, without the password or the driver's text."""
    name = type(err).__name__
    where = _where(url)
    if url.get_backend_name() == "sqlite":
        return (
            f"volbot cannot open its SQLite database {url.database} ({name}); check that the file and "
            "its folder exist and belong to the user volbot runs as."
        )
    if name == "InvalidPasswordError" or "Authorization" in name:
        return f"PostgreSQL at {where} refused the user name or password in DATABASE_URL."
    if name == "InvalidCatalogNameError":
        return f"The database named in DATABASE_URL does not exist on PostgreSQL at {where}; create it first."
    if isinstance(err, socket.gaierror):
        return f"The database host {url.host} in DATABASE_URL cannot be found (no such name in DNS)."
    if isinstance(err, TimeoutError | OSError):
        return (
            f"volbot cannot reach PostgreSQL at {where} ({name}); check that it is running, that the "
            "host and port in DATABASE_URL are right, and that this machine may connect to it."
        )
    return f"volbot cannot use the database at {where} ({name}); check DATABASE_URL."


async def check_database(url: URL) -> None:
    """Open one connection (PostgreSQL: within DB_CONNECT_TIMEOUT s) and close it."""
    from sqlalchemy import text

    from bot.db.engine import create_engine

    raw = url.render_as_string(hide_password=False)
    engine = create_engine(raw, **({} if url.get_backend_name() == "sqlite" else {"pool_pre_ping": False}))
    try:
        async with asyncio.timeout(DB_CONNECT_TIMEOUT):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as err:
        raise StartupError(describe_database_error(url, _root(err))) from None
    finally:
        await engine.dispose()


def _root(err: BaseException) -> BaseException:
    """The driver's own error under SQLAlchemy's wrapper."""
    orig = getattr(err, "orig", None)
    if isinstance(orig, BaseException):
        inner = getattr(orig, "__cause__", None)
        return inner if isinstance(inner, BaseException) else orig
    return err


def explain(err: BaseException, settings: Settings) -> str | None:
    """A sentence for an error raised while the bot starts, or None (then it is a bug)."""
    from telegram.error import InvalidToken, NetworkError, TimedOut

    if isinstance(err, StartupError):
        return str(err)
    if isinstance(err, InvalidToken):
        return (
            "Telegram refused BOT_TOKEN (401 Unauthorized): it is wrong or was revoked. Copy the token "
            "again from @BotFather (/mybots → your bot → API Token) into BOT_TOKEN and start again."
        )
    if isinstance(err, TimedOut | NetworkError):
        host = urlsplit(settings.bot_api_base_url).hostname or settings.bot_api_base_url
        return (
            f"volbot cannot reach the Telegram Bot API at {host} ({type(err).__name__}); check this "
            "machine's internet connection (and BOT_API_BASE_URL, if set)."
        )
    if isinstance(err, NoSuchModuleError | ArgumentError):
        return f"DATABASE_URL cannot be used ({type(err).__name__}); it must look like {URL_EXAMPLES}."
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(err, OperationalError | DBAPIError | OSError):
        try:
            url = make_url(settings.database_url)
        except Exception:
            return None
        return describe_database_error(url, _root(err))
    return None


def settings_error(err: BaseException) -> str | None:
    """A sentence for settings that cannot be read (e.g. PORT=abc), naming the variables only: their
    values may be secrets."""
    from pydantic import ValidationError

    if not isinstance(err, ValidationError):
        return None
    names = sorted({str(e["loc"][0]).upper() for e in err.errors() if e.get("loc")})
    return (
        f"volbot cannot read its settings: {', '.join(names) or 'a setting'} has a value of the wrong "
        "kind (for example PORT must be a number); fix it in the environment or the .env file."
    )
