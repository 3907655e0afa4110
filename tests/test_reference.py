"""docs/REFERENCE.md is kept in step with the code: every registered command (CommandHandlers and the
setMyCommands list), every button kind and every notice kind appears there; every command its tables
list exists; and docs/DEVELOPING.md points at it and at nothing outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from bot.app import command_lists
from bot.commands import COMMANDS
from bot.schedule.registry import KINDS

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = (ROOT / "docs" / "REFERENCE.md").read_text(encoding="utf-8")
DEVELOPING = (ROOT / "docs" / "DEVELOPING.md").read_text(encoding="utf-8")


def registered_commands() -> set[str]:
    """The commands of every CommandHandler the real application registers."""
    from telegram.ext import CommandHandler

    from bot.app import build_application
    from bot.config import Settings

    settings = Settings(_env_file=None, bot_token="1:reference", database_url="sqlite+aiosqlite://")  # type: ignore[call-arg]
    app = build_application(settings)
    return {
        command
        for handlers in app.handlers.values()
        for handler in handlers
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }


def documented_commands() -> set[str]:
    """The commands in the first column of the reference's command tables."""
    return set(re.findall(r"^\| `/([a-z_]+)", REFERENCE, flags=re.MULTILINE))


def test_every_registered_command_is_in_the_reference() -> None:
    registered = registered_commands()
    assert {"start", "help", "newevent", "invite", "forgetme"} <= registered  # the recorder sees them
    listed = {c.name for c in COMMANDS}
    menus = {
        cmd.command
        for lang in ("da", "ar", "ti", "en")
        for cmds in command_lists(lang).values()
        for cmd in cmds
    }
    missing = sorted((registered | listed | menus) - documented_commands())
    assert missing == [], f"commands missing from docs/REFERENCE.md: {missing}"


def test_the_reference_lists_no_command_that_does_not_exist() -> None:
    extra = sorted(documented_commands() - registered_commands())
    assert extra == [], f"docs/REFERENCE.md lists commands the bot does not have: {extra}"


def test_every_notice_kind_is_in_the_reference() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \| (?:renderer|action)", REFERENCE, flags=re.MULTILINE))
    assert sorted(set(KINDS) - documented) == []
    assert sorted(documented - set(KINDS)) == []


def test_developing_points_at_the_reference_and_nothing_outside_the_repository() -> None:
    assert "docs/REFERENCE.md" in DEVELOPING or "(REFERENCE.md)" in DEVELOPING
    for text in (DEVELOPING, REFERENCE):
        assert not re.search(r"https?://(?!t\.me/\{)", text.replace("`https://t.me/{bot}", "")), re.findall(
            r"https?://\S+", text
        )
        assert "/work/" not in text and "SPEC.md" not in text and "../" not in text
    # Every file DEVELOPING.md names exists in the repository.
    for path in re.findall(
        r"`((?:bot|handlers|tests|docs|scripts|locales)/[\w./-]+\.(?:py|md|txt))`", DEVELOPING
    ):
        assert (ROOT / path).exists(), path


def test_every_button_kind_is_in_the_reference() -> None:
    from bot.app import feature_modules
    from handlers.router import CALLBACKS

    feature_modules()  # every handler module registers its button kinds
    buttons = REFERENCE.split("## Buttons", 1)[1].split("\n## ", 1)[0]
    kinds = set(CALLBACKS) | {"vote"}  # votes have their own fast handler (handlers/votes.py)
    assert sorted(k for k in kinds if f"`{k}`" not in buttons) == []
