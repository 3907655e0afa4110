"""An event loop on virtual time, for unit tests of code that waits (the pacer): whenever every task
is waiting for a timer, the clock jumps to the earliest timer instead of sleeping, so a test that
waits minutes of loop time takes milliseconds and its times are exact.

Code that would wait forever makes the loop raise `Stuck` instead of hanging the test: when nothing
is ready and no timer is set, when the clock is read over and over without moving (a busy loop, in
the loop's rounds or inside one callback that reads `time()`), or when the clock passes `horizon`
seconds (something retrying for ever)."""

from __future__ import annotations

import asyncio
import selectors


class Stuck(RuntimeError):
    """The code under test would wait (or spin) for ever."""


# Reads of the clock at one instant before it counts as a busy loop.
SPIN_LIMIT = 50_000


class _Selector(selectors.SelectSelector):
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        assert self.loop is not None
        ready = super().select(0)  # the loop's own wake-up pipe, never a real wait
        if not ready and timeout != 0:
            if timeout is None:
                raise Stuck("every task waits and no timer is set")
            self.loop.advance(timeout)
        return ready


class VirtualLoop(asyncio.SelectorEventLoop):
    """`time()` starts at `start` and moves only when every task waits for a timer."""

    def __init__(self, start: float = 0.0, horizon: float = 3600.0) -> None:
        selector = _Selector()
        super().__init__(selector)
        selector.loop = self
        self._now = start
        self._end = start + horizon
        self._reads = 0  # at the current instant

    def time(self) -> float:
        self._reads += 1
        if self._reads > SPIN_LIMIT:
            raise Stuck(f"the clock read {SPIN_LIMIT} times at {self._now} s: a busy loop")
        return self._now

    def advance(self, seconds: float) -> None:
        # To the earliest timer exactly (now + its delay could round a hair short of it).
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        target = scheduled[0].when() if scheduled else self._now + seconds
        if target > self._end:
            raise Stuck(f"still waiting at {target} s, past the test's horizon ({self._end} s)")
        if target > self._now:
            self._now = target
            self._reads = 0


class VirtualLoopPolicy(asyncio.DefaultEventLoopPolicy):
    """For pytest-asyncio's `event_loop_policy` fixture: every test of a module on virtual time."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        return VirtualLoop()
