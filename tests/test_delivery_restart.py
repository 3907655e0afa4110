"""Kill -9 in the middle of a broadcast, restart: every follower gets it; only a message that was in
flight at the kill may arrive twice. The bot runs as a real subprocess against the fake in this one."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.schedule.dispatcher import Dispatcher
from bot.testing.fake_bot_api import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("volbot_bench_broadcast", ROOT / "bench" / "broadcast.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
copies, schedule_broadcast, seed_network, wait_until = (
    bench.copies,
    bench.schedule_broadcast,
    bench.seed_network,
    bench.wait_until,
)


def _spawn(db_url: str, api: FakeBotAPI) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "broadcast.py"),
            "--child",
            "--db-url",
            db_url,
            "--api",
            api.base_url,
        ],
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return proc


async def test_kill_and_restart_mid_broadcast(db_url: str) -> None:
    n = 200
    async with FakeBotAPI(enforce_limits=True, latency=0.03) as api:
        net_id = await seed_network(db_url, n)
        text = "Spilledag uden skærme lørdag"
        await schedule_broadcast(db_url, net_id, text)
        first = _spawn(db_url, api)
        try:
            assert await wait_until(lambda: len(copies(api, text)) >= 40, timeout=60)
            os.kill(first.pid, signal.SIGKILL)
            await asyncio.to_thread(first.wait, 10)
            at_kill = len(copies(api, text))
            assert at_kill < n, "the broadcast finished before the kill; nothing was tested"
            # Whatever the killed process had in flight is answered now; then it is quiet. A real
            # restart takes longer than Telegram's one-second window, so the two processes' sends
            # never share it (SQLite has no budget shared between processes): wait until the fake
            # has heard nothing for longer than that window, however long that takes on this machine.
            await api.wait_quiet(quiet=1.2, timeout=60)
            second = _spawn(db_url, api)
            try:
                assert await wait_until(lambda: len(copies(api, text)) >= n, timeout=90)
            finally:
                # SIGTERM: the second instance finishes what it has in hand and exits; once it has
                # exited, every message it sent has been received and recorded (no sleep needed).
                second.send_signal(signal.SIGTERM)
                await asyncio.to_thread(second.wait, 30)
        finally:
            if first.poll() is None:
                first.kill()
        per_follower = copies(api, text)
        assert len(per_follower) == n  # no follower missed it
        doubled = {chat: k for chat, k in per_follower.items() if k > 1}
        assert all(k == 2 for k in doubled.values())
        # Only messages in flight at the kill can repeat: bounded by the sending concurrency.
        assert len(doubled) <= Dispatcher.concurrency
        print(f"killed after {at_kill}/{n}; followers with two copies: {len(doubled)}")
        # Two processes besides the test's: when the machine is starved of CPU, the fake's clock and
        # the bot's drift apart by tens of milliseconds and a second may count 31 arrivals of the
        # pacer's 29 (2 such 429s seen in the soak, scripts/soak-tests). Each is honoured and retried
        # in place (no follower missed it, above); with the child's limits lifted (an unpaced bot)
        # this test counted 203. The exact 0 at the limit is asserted in-process by test_delivery
        # and test_delivery_budget.
        assert api.count_429 <= 5
