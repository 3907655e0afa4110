"""Flood control: one person who sends commands or presses buttons faster than anyone could read
the answers is told once, then ignored for a while, without holding anyone else back.

Pure bookkeeping, no Telegram and no database: `FloodGuard.check(...)` is synchronous (no await
between reading and updating the counters), so updates handled concurrently are counted exactly.

Rules (all per person, counted in this process):
- more than `limit` commands/presses/private messages within `window` seconds, or more than
  `group_limit` commands in one group within `window` (every answer there spends the group's shared
  allowance of 20 messages a minute): the update that crosses the line gets NOTICE (tell them once),
  everything from that person for the next `mute` seconds gets IGNORE;
- the same action as the person's previous one in that chat (same command text or same button),
  within `repeat_window` seconds of it, gets DUPLICATE: a double tap or a repeated command changes
  nothing twice, even when the copies arrive together and would be handled concurrently.

The state lives in memory: with several instances behind a load balancer each counts what it
receives (a flooder spread over two instances is cut off after about twice the limit).
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


class Verdict(enum.Enum):
    PASS = "pass"
    DUPLICATE = "duplicate"
    NOTICE = "notice"
    IGNORE = "ignore"


@dataclass
class _Person:
    recent: deque[float] = field(default_factory=deque)
    in_group: dict[int, deque[float]] = field(default_factory=dict)
    muted_until: float = 0.0
    last: dict[int, tuple[str, float]] = field(default_factory=dict)
    seen: float = 0.0


@dataclass
class FloodGuard:
    limit: int = 20
    group_limit: int = 8
    window: float = 10.0
    mute: float = 60.0
    repeat_window: float = 3.0
    clock: Callable[[], float] = time.monotonic
    people: dict[int, _Person] = field(default_factory=dict)
    noticed: int = 0
    ignored: int = 0
    duplicates: int = 0
    _swept: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    def muted(self, user_id: int) -> bool:
        p = self.people.get(user_id)
        return p is not None and self.clock() < p.muted_until

    def check(
        self, user_id: int, chat_id: int, *, counted: bool, group_command: bool, action: str
    ) -> Verdict:
        """One update from `user_id` in `chat_id`. `counted`: a command, a press or a private
        message (what the bot answers); `group_command`: a command in a group; `action`: what it
        asks for, normalised (command text or callback data), '' when not comparable."""
        if not self.enabled:
            return Verdict.PASS
        now = self.clock()
        self._sweep(now)
        p = self.people.setdefault(user_id, _Person())
        p.seen = now
        if now < p.muted_until:
            self.ignored += 1
            return Verdict.IGNORE
        if not counted:
            return Verdict.PASS
        if action:
            previous = p.last.get(chat_id)
            p.last[chat_id] = (action, now)
            if previous is not None and previous[0] == action and now - previous[1] < self.repeat_window:
                self.duplicates += 1
                return Verdict.DUPLICATE
        horizon = now - self.window
        _push(p.recent, now, horizon)
        over = len(p.recent) > self.limit
        if group_command:
            in_group = p.in_group.setdefault(chat_id, deque())
            _push(in_group, now, horizon)
            over = over or len(in_group) > self.group_limit
        if over:
            p.muted_until = now + self.mute
            p.recent.clear()
            p.in_group.clear()
            self.noticed += 1
            return Verdict.NOTICE
        return Verdict.PASS

    def _sweep(self, now: float) -> None:
        """Forget people quiet for longer than any rule looks back (bounded memory)."""
        if now - self._swept < self.window:
            return
        self._swept = now
        keep = self.window + self.mute + self.repeat_window
        for uid in [u for u, p in self.people.items() if now - p.seen > keep and now >= p.muted_until]:
            del self.people[uid]


def _push(times: deque[float], now: float, horizon: float) -> None:
    times.append(now)
    while times and times[0] <= horizon:
        times.popleft()


def normalise_action(text: str) -> str:
    """A command's text with `@botname` and spacing differences removed, so copies compare equal."""
    words = text.split()
    if words and words[0].startswith("/"):
        words[0] = words[0].split("@", 1)[0].lower()
    return " ".join(words)
