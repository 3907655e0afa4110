"""Put a LEFT-TO-RIGHT MARK right before every /command in the Arabic catalogue (a RIGHT-TO-LEFT MARK
there is replaced), so that commands read and tap as written. Writes the changes as a JSON file in
the format `volbot i18n apply` takes, and prints how many messages changed.

    .venv/bin/python scripts/ar_command_marks.py out.json && .venv/bin/volbot i18n apply out.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from bot.bidi import COMMAND, LRM, RLM, bare_commands

PO = Path(__file__).resolve().parent.parent / "locales" / "ar" / "LC_MESSAGES" / "messages.po"


def mark(text: str) -> str:
    """A LEFT-TO-RIGHT MARK right before each command (replacing a mark already there)."""
    return re.sub(f"[{LRM}{RLM}]?({COMMAND.pattern})", LRM + r"\1", text)


def main() -> int:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="ar")
    changes: dict[str, dict[str, str | list[str]]] = {}
    for msg in catalog:
        if not msg.id:
            continue
        forms = list(msg.string) if isinstance(msg.string, tuple | list) else [msg.string]
        if not any(bare_commands(form or "") for form in forms):
            continue
        fixed = [mark(form or "") for form in forms]
        assert not any(bare_commands(form) for form in fixed), fixed
        key = msg.id if isinstance(msg.id, str) else msg.id[0]
        changes[key] = {"ar": fixed if isinstance(msg.id, tuple) else fixed[0]}
    Path(sys.argv[1]).write_text(json.dumps(changes, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(changes)} Arabic messages changed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
