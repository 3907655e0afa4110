"""Logging for `volbot run`: plain text or structured (JSON / key=value) lines, secrets redacted.

The Bot API token is part of every request URL (`…/bot<token>/sendMessage`), and PTB, httpx and
tracebacks may all print URLs. The `Redactor` sits on the root handler, so every record from any
logger passes through it; it replaces the configured secrets and anything shaped like a bot token
before the line is formatted. Our own log calls carry ids and kinds only, never message texts.

`LOG_FORMAT`: `text` (default), `json` (one JSON object per line) or `kv` (key=value pairs).
`LOG_LEVEL`: a level name (default INFO; `volbot run -v` means DEBUG).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

# A Telegram bot token: the bot's numeric id, a colon, 35 url-safe characters.
TOKEN_RE = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}")
REDACTED = "<redacted>"

# Attributes every LogRecord has; anything else was passed with `extra=` and is emitted as a field.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


class Redactor(logging.Filter):
    """Replaces secrets in the record's message, arguments and exception text (in place)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return TOKEN_RE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what we have
            message = str(record.msg)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            # Format the traceback now so it can be redacted, then drop the live exception.
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            out[key] = value if isinstance(value, (int, float, bool, type(None))) else str(value)
    if record.exc_text:
        out["exc"] = record.exc_text
    if record.stack_info:
        out["stack"] = record.stack_info
    return out


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), ensure_ascii=False, default=str)


class KeyValueFormatter(logging.Formatter):
    @staticmethod
    def _quote(value: Any) -> str:
        text = str(value)
        if not text or any(ch in text for ch in ' "=\n\t'):
            return json.dumps(text, ensure_ascii=False)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={self._quote(v)}" for k, v in _fields(record).items())


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def make_formatter(fmt: str) -> logging.Formatter:
    fmt = (fmt or "text").strip().lower()
    if fmt == "json":
        return JsonFormatter()
    if fmt in ("kv", "logfmt", "keyvalue"):
        return KeyValueFormatter()
    if fmt != "text":
        raise ValueError(f"LOG_FORMAT must be text, json or kv (not {fmt!r})")
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(
    *,
    verbose: bool = False,
    fmt: str | None = None,
    level: str | None = None,
    secrets: Iterable[str | None] = (),
    stream: Any = None,
) -> logging.Handler:
    """Install one root handler (replacing earlier ones) with the redactor; returns the handler."""
    fmt = fmt if fmt is not None else os.environ.get("LOG_FORMAT", "text")
    level_name = (level or os.environ.get("LOG_LEVEL") or ("DEBUG" if verbose else "INFO")).upper()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(make_formatter(fmt))
    handler.addFilter(Redactor(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level_name, logging.INFO))
    # httpx logs every request URL at INFO; the redactor would hide the token, but the lines are noise.
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn installs its own handlers; route its records through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    return handler
