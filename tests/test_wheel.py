"""An installed wheel speaks every language, run from any folder (issue 10).

The wheel is built from this checkout without build isolation (no network: setuptools, wheel and
Babel come from the test venv), installed without dependencies into a fresh venv whose dependencies
are borrowed from the test venv through a `.pth` line, and `volbot console` runs from an empty
folder. Nothing of the checkout is on that venv's path, so the answers can only come from the
catalogues compiled into the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path to the fresh venv's `volbot` script."""
    base = tmp_path_factory.mktemp("wheel")
    # Build from a copy of the sources: an in-tree build would leave build/ in the checkout, and a stale
    # build/lib could carry files that no longer exist into the wheel.
    src = base / "src"
    shutil.copytree(
        ROOT, src,
        ignore=shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__", "*.db*", "*.mo",
                                      "tests", "bench", "scripts"),
    )  # fmt: skip
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(dist), str(src)],
        check=True, cwd=base,
    )  # fmt: skip
    wheels = list(dist.glob("volbot-*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    for lang in ("da", "ar", "ti"):
        assert f"bot/locales/{lang}/LC_MESSAGES/messages.mo" in names, names
    assert not any(n.startswith("locales/") for n in names)
    # The guides, their transcripts and the invitation's Ge'ez font travel in the wheel (/guide, /invite).
    for guide in ("follower.da", "follower.ar", "follower.ti", "follower.en", "coordinators.da", "coordinators.en"):
        assert f"bot/guides/{guide}.md" in names, names
    assert "bot/guides/transcripts/da/setup.txt" in names and "bot/guides/transcripts/en/setup.txt" in names
    assert {"bot/assets/fonts/AbyssinicaSIL-Regular.ttf", "bot/assets/fonts/OFL-AbyssinicaSIL.txt"} <= set(names)

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    # Dependencies from the test venv, after the fresh venv's own site-packages on sys.path. A plain
    # path line does not run that folder's .pth files, so this checkout's editable install stays off.
    (Path(site) / "_deps_from_test_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
         "-q", str(wheels[0])],
        check=True,
    )  # fmt: skip
    return venv / "bin" / "volbot"


def _console(volbot: Path, lang: str, folder: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLBOT", "DATABASE", "BOT_", "PYTHON"))}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{folder / 'volbot.db'}"
    done = subprocess.run(
        [str(volbot), "console", "--lang", lang, "--name", "Amina"],
        input="/start\n/help\n/events\n:quit\n",
        capture_output=True, text=True, cwd=folder, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no catalogue" not in done.stderr, done.stderr
    return done.stdout


def test_wheel_is_installed_apart_from_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed.with_name("python")), "-c", "import bot.i18n as m; print(m.__file__)"],
        check=True, capture_output=True, text=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    assert str(installed.parent.parent) in where and str(ROOT) not in where, where


# /start (welcome, what the bot does), /help (its heading) and /events (no network followed yet).
ENGLISH = ["Welcome", "I help volunteer networks", "What you can do here", "You do not follow any network"]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("ar", ["أهلًا بك", "أساعد شبكات المتطوعين", "ما يمكنك فعله هنا", "لا تتابع أي شبكة"]),
        ("ti", ["እንቋዕ ብደሓን መጻእኩም", "ንመርበባት ወለንተኛታት", "ኣብዚ ክትገብርዎ እትኽእሉ", "ዝኾነ መርበብ"]),
    ],
)
def test_installed_console_answers_in_the_users_language(
    installed: Path, tmp_path: Path, lang: str, expected: list[str]
) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    out = _console(installed, lang, folder)
    for fragment in expected:
        assert fragment in out, out
    for fragment in ENGLISH:
        assert fragment not in out, out
