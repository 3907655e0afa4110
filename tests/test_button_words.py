"""A message that tells the reader to press a button names it with the button's own words, in every
language: "press Not going" must say what the "Not going" button says, not a synonym of it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import get_translator

ROOT = Path(__file__).resolve().parent.parent
_PRESS = re.compile(r"\b[Pp]ress ([A-Z][a-z]+(?: [a-z]+)?)")


def _pairs() -> list[tuple[str, str]]:
    """(button label, message) for every message whose English says "press <a label we have>"."""
    with open(ROOT / "locales" / "messages.pot", "rb") as f:
        ids = {m.id for m in read_po(f) if isinstance(m.id, str) and m.id}
    pairs = []
    for msgid in sorted(ids):
        for match in _PRESS.finditer(msgid):
            words = match.group(1).split()
            # the longest run of words that is itself a message (a button label)
            for n in range(len(words), 0, -1):
                label = " ".join(words[:n])
                if label in ids:
                    pairs.append((label, msgid))
                    break
    return pairs


def test_the_messages_that_name_buttons_are_found() -> None:
    labels = {label for label, _ in _pairs()}
    assert {"Not going", "Object", "Done"} <= labels


@pytest.mark.parametrize("lang", ["da", "ar", "ti"])
def test_a_button_is_named_with_its_own_words(lang: str) -> None:
    t = get_translator(lang)
    wrong = [(label, t._(label), t._(msgid)) for label, msgid in _pairs() if t._(label) not in t._(msgid)]
    assert wrong == []
