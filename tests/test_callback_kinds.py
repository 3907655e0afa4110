"""Callback kinds are readable names; the short kinds of earlier versions, still on buttons in chats,
reach the handler they were renamed to."""

from __future__ import annotations

from bot.app import feature_modules
from bot.render.keyboard import MAX_CALLBACK_BYTES
from handlers.router import CALLBACKS, OLD_KINDS


def test_every_old_kind_reaches_a_registered_handler_and_new_kinds_fit() -> None:
    feature_modules()  # imports every handler module, so every kind is registered
    for old, new in OLD_KINDS.items():
        assert new in CALLBACKS, (old, new)
        assert old not in CALLBACKS, old  # an old kind never names a different handler
    assert {"ev", "aimv", "dlvnet"} <= set(OLD_KINDS)
    for kind in CALLBACKS:
        assert len(kind) > 3 or kind == "vote", kind
        assert len(f"{kind}:{10**12 - 1}:yes".encode()) <= MAX_CALLBACK_BYTES, kind
