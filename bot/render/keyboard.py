"""A neutral keyboard description, so rendering stays testable without Telegram objects."""

from __future__ import annotations

from dataclasses import dataclass

MAX_CALLBACK_BYTES = 64


@dataclass(frozen=True)
class Button:
    label: str
    data: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.data is not None and len(self.data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {self.data!r}")


Keyboard = list[list[Button]]


def callback(kind: str, obj_id: int | str, value: str = "") -> str:
    """Callback data is a key (`kind:id:value`), never a fact: handlers look the object up."""
    return f"{kind}:{obj_id}:{value}"


def parse_callback(data: str) -> tuple[str, str, str]:
    parts = data.replace("\x00", "").split(":", 2)
    while len(parts) < 3:
        parts.append("")
    return parts[0], parts[1], parts[2]
