"""One private chat gets at most one message a second (Telegram's limit), measured where it counts:
at the receiver, from the times the Bot API fake recorded each message arriving."""

from __future__ import annotations

import itertools
from typing import Any

from bot.db import models as m
from bot.schedule.notices import Rendered, enqueue_many, renderer
from bot.schedule.pacing import Limits
from bot.testing.harness import BotHarness

# The product spaces messages to one private chat by 1 s (pacing.Limits.private_interval) when each
# request starts; what arrives can be bunched a little by the HTTP round trip on a loaded machine.
# 0.75 s leaves that margin and is still far from a broken pacer (1/30 s apart, or a burst at once).
MIN_GAP = 0.75


@renderer("test_private_pace")
async def _render(session: Any, notice: m.Notice, t: Any) -> Rendered | None:
    return Rendered(f"besked {notice.payload['n']}")


async def test_messages_to_one_private_chat_arrive_a_second_apart(db_url: str) -> None:
    # Telegram's real limits (the harness lifts them unless the fake enforces them), and the test's
    # own run of the dispatcher (the quiet session does not wake it after the commit).
    async with BotHarness(db_url, limits=Limits()) as h:
        async with h.quiet_session() as s:
            person = m.Person(tg_id=4242, first_name="Yonas", reminder_minutes="1440")
            other = m.Person(tg_id=4343, first_name="Amal", reminder_minutes="1440")
            s.add_all([person, other])
            await s.flush()
            rows = [
                {
                    "kind": "test_private_pace",
                    "dedup_key": f"pace:{p.id}:{n}",
                    "chat_id": p.tg_id,
                    "due_at": h.clock(),
                    "person_id": p.id,
                    "payload": {"n": n},
                }
                for n in range(5)
                for p in (person, other)
            ]
            await enqueue_many(s, rows)
            await s.commit()
        assert await h.run_due() == 10
        for tg in (4242, 4343):
            got = h.api.sent_messages(tg)
            assert sorted(c.plain_text for c in got) == [f"besked {n}" for n in range(5)]
            gaps = [b - a for a, b in itertools.pairwise(c.time for c in got)]
            assert all(gap >= MIN_GAP for gap in gaps), (tg, gaps)
        # the two chats are paced independently: the second chat did not wait for the first
        first = {tg: h.api.sent_messages(tg)[0].time for tg in (4242, 4343)}
        assert abs(first[4242] - first[4343]) < MIN_GAP, first
        assert h.api.count_429 == 0
