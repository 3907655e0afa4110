"""The Bot API fake's limits and failures: Telegram's rate limits (30/s overall, per private chat,
20/min per group) when enforced, injected failures (429, 403, 400, 5xx, timeouts) and blocked chats."""

from __future__ import annotations

import asyncio
import math
from collections import deque

from bot.testing.fake_state import BLOCKABLE_METHODS, FailureKind, FakeState, _ApiError, _Bucket, _Failure


class FakeLimits(FakeState):
    async def _hold(self) -> None:
        await asyncio.sleep(self.timeout_delay)

    def _take_failure(self, method: str, chat_id: int | None) -> _Failure | None:
        for f in self._failures:
            matches = (f.method == "*" and method in BLOCKABLE_METHODS) or f.method == method
            if matches and (f.chat_id is None or f.chat_id == chat_id):
                f.count -= 1
                if f.count <= 0:
                    self._failures.remove(f)
                return f
        return None

    @staticmethod
    def _failure_error(f: _Failure) -> _ApiError:
        if f.kind == "429":
            return _ApiError(429, f"Too Many Requests: retry after {f.retry_after}", f.retry_after)
        if f.kind == "401":
            return _ApiError(401, f.description or "Unauthorized")
        if f.kind == "403":
            return _ApiError(403, f.description or "Forbidden: bot was blocked by the user")
        if f.kind == "400":
            return _ApiError(400, f.description or "Bad Request: chat not found")
        if f.kind == "500":
            return _ApiError(500, f.description or "Internal Server Error")
        if f.kind == "502":
            return _ApiError(502, f.description or "Bad Gateway")
        raise ValueError(f"unknown failure kind {f.kind!r}")

    def _check_limits(self, chat_id: int | None, now: float) -> int | None:
        """Return retry_after (seconds) if the call exceeds a limit, else consume and return None."""
        gw = self._global_window
        while gw and gw[0] <= now - 1.0:
            gw.popleft()
        if len(gw) >= self.global_rate:
            return max(1, math.ceil(gw[0] + 1.0 - now))
        bucket: _Bucket | None = None
        window: deque[float] | None = None
        if chat_id is not None and chat_id > 0:
            bucket = self._private_buckets.get(chat_id)
            if bucket is None:
                bucket = self._private_buckets[chat_id] = _Bucket(float(self.private_burst), now)
            bucket.tokens = min(
                float(self.private_burst), bucket.tokens + (now - bucket.stamp) * self.private_rate
            )
            bucket.stamp = now
            if bucket.tokens < 1.0:
                return max(1, math.ceil((1.0 - bucket.tokens) / self.private_rate))
        elif chat_id is not None and chat_id < 0:
            window = self._group_windows.setdefault(chat_id, deque())
            while window and window[0] <= now - self.group_window:
                window.popleft()
            if len(window) >= self.group_per_minute:
                return max(1, math.ceil(window[0] + self.group_window - now))
        gw.append(now)
        if bucket is not None:
            bucket.tokens -= 1.0
        if window is not None:
            window.append(now)
        return None

    def block(self, chat_id: int) -> None:
        """Every send to ``chat_id`` answers 403 'Forbidden: bot was blocked by the user'."""
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked.discard(chat_id)

    def fail_next(
        self,
        method: str,
        *,
        chat_id: int | None = None,
        kind: FailureKind = "429",
        count: int = 1,
        retry_after: int = 1,
        description: str | None = None,
        deliver: bool = False,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (``"*"``: any sending method), optionally only
        to ``chat_id``, fail. kind: "429" (with retry_after), "403", "400", "500", "502" or
        "timeout" (hold ``timeout_delay`` s, then close the connection without an answer; with
        ``deliver=True`` the call takes effect before that)."""
        if kind not in ("429", "401", "403", "400", "500", "502", "timeout"):
            raise ValueError(f"unknown failure kind {kind!r}")
        method = self._canonical.get(method.lower(), method)
        self._failures.append(_Failure(method, chat_id, kind, count, retry_after, description, deliver))

    def reset_limits(self) -> None:
        self._global_window.clear()
        self._group_windows.clear()
        self._private_buckets.clear()
