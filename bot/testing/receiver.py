"""Telegram's limits as the receiver counts them: sliding windows over the times requests arrived."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def busiest(times: Iterable[float], window: float = 1.0) -> int:
    """The most requests that arrived within any `window` seconds (a sliding window)."""
    ts = sorted(times)
    most = 0
    j = 0
    for i, t in enumerate(ts):
        while ts[j] <= t - window:
            j += 1
        most = max(most, i - j + 1)
    return most


def replied_to(call: Any) -> int | None:
    """The message a sent message answers (reply_to_message_id, or PTB's reply_parameters)."""
    mid = call.params.get("reply_to_message_id")
    if mid is None:
        params = call.params.get("reply_parameters")
        if isinstance(params, str):
            params = json.loads(params)
        mid = params.get("message_id") if isinstance(params, dict) else None
    return int(mid) if mid is not None else None
