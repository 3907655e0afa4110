"""`volbot run` with a bad configuration, as an operator meets it: one clear sentence on stderr, a
non-zero exit, no traceback. Each test starts the real command in a subprocess."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.testing.fake_bot_api import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:TEST-TOKEN"
NOBODY = 65534


def _env(**over: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("BOT_TOKEN", "DATABASE_URL", "WEBHOOK_URL", "WEBHOOK_SECRET", "PORT", "BOT_API_BASE_URL")
    }
    env.update({"PYTHONPATH": str(ROOT), "LOG_FORMAT": "text", **over})
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def volbot_run(cwd: Path, env: dict[str, str], *, user: int | None = None) -> tuple[int, str]:
    """`volbot run` until it exits (a fault must stop it within the timeout): (exit status, stderr)."""
    # setpriv rather than Popen(user=): the interpreter may live under a folder only root may enter.
    drop = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] if user is not None else []
    proc = await asyncio.create_subprocess_exec(
        *drop,
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail("volbot run kept running with a bad configuration")
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def assert_one_sentence(stderr: str, *needles: str) -> None:
    """No traceback; the last line is the explanation (log lines of the start may come before it)."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines, stderr
    for needle in needles:
        assert needle in lines[-1], stderr
    assert sum(needles[0] in line for line in lines) == 1, stderr


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder owned by root (mode 755) that other users can enter but not write: what
    `docker run -v ./data:/data` gives a container whose bot runs as another uid."""
    path = Path(tempfile.mkdtemp(prefix="volbot-data-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        path.chmod(0o755)
        shutil.rmtree(path, ignore_errors=True)


async def test_data_folder_the_bot_cannot_write_names_the_owner_needed(shared_dir: Path) -> None:
    env = _env(
        BOT_TOKEN=TOKEN,
        DATABASE_URL=f"sqlite+aiosqlite:///{shared_dir}/volbot.db",
        PORT=str(free_port()),
    )
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot run the bot as another user")
        # Run as another user, like the image's volbot user on a root-owned bind mount.
        code, err = await volbot_run(shared_dir, env, user=NOBODY)
        uid = NOBODY
    else:
        os.chmod(shared_dir, 0o555)
        code, err = await volbot_run(shared_dir, env)
        uid = os.geteuid()
    assert code == 2
    assert_one_sentence(err, str(shared_dir), f"user id {uid}", f"chown {uid}")
    assert not (shared_dir / "volbot.db").exists()


async def test_missing_data_folder(tmp_path: Path) -> None:
    env = _env(BOT_TOKEN=TOKEN, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/nowhere/volbot.db")
    code, err = await volbot_run(tmp_path, env)
    assert code == 2
    assert_one_sentence(err, f"{tmp_path}/nowhere", "does not exist")


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("not a database url", "DATABASE_URL cannot be read"),
        ("postgresql://volbot@127.0.0.1/volbot", "driver postgresql+psycopg2"),
        ("mysql+aiomysql://volbot@127.0.0.1/volbot", "driver mysql+aiomysql"),
    ],
)
async def test_database_url_that_cannot_be_parsed_or_used(tmp_path: Path, url: str, needle: str) -> None:
    code, err = await volbot_run(tmp_path, _env(BOT_TOKEN=TOKEN, DATABASE_URL=url, PORT=str(free_port())))
    assert code == 2
    assert_one_sentence(err, needle, "postgresql+asyncpg://")


async def test_database_that_cannot_be_reached(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    url = f"postgresql+asyncpg://volbot:s3cret-pw@127.0.0.1:{closed}/volbot"
    code, err = await volbot_run(tmp_path, _env(BOT_TOKEN=TOKEN, DATABASE_URL=url, PORT=str(free_port())))
    assert code == 2
    assert_one_sentence(err, f"cannot reach PostgreSQL at 127.0.0.1:{closed}/volbot")
    assert "s3cret-pw" not in err


async def test_token_telegram_refuses(tmp_path: Path) -> None:
    async with FakeBotAPI() as api:
        api.fail_next("getMe", kind="401", count=5)
        env = _env(
            BOT_TOKEN=TOKEN,
            DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/volbot.db",
            BOT_API_BASE_URL=api.base_url,
            PORT=str(free_port()),
        )
        code, err = await volbot_run(tmp_path, env)
        assert [c.status for c in api.calls("getMe")] == [401]
        assert api.calls("getUpdates") == []
    assert code == 2
    assert_one_sentence(err, "Telegram refused BOT_TOKEN", "@BotFather")
    assert TOKEN not in err


async def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = _env(BOT_TOKEN=TOKEN, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/v.db", PORT=str(port))
        code, err = await volbot_run(tmp_path, env)
    assert code == 2
    assert_one_sentence(err, f"Port {port} is already in use", "PORT")


async def test_webhook_url_that_is_not_https(tmp_path: Path) -> None:
    env = _env(
        BOT_TOKEN=TOKEN,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/v.db",
        WEBHOOK_URL="http://bot.example.org/telegram/webhook",
        WEBHOOK_SECRET="a" * 32,
        PORT=str(free_port()),
    )
    code, err = await volbot_run(tmp_path, env)
    assert code == 2
    assert_one_sentence(err, "WEBHOOK_URL must be an https address")


async def test_setting_of_the_wrong_kind(tmp_path: Path) -> None:
    code, err = await volbot_run(tmp_path, _env(BOT_TOKEN=TOKEN, PORT="eighty"))
    assert code == 2
    assert_one_sentence(err, "PORT")
    assert "eighty" not in err
