"""Telegram's limits as the receiver counts them: sliding windows over the times requests arrived."""

from __future__ import annotations

from collections.abc import Iterable


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
