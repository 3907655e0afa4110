"""Telegram unreachable in the middle of a delivery run: nothing crashes, nothing busy-loops, no
message uses up its tries or is lost; after recovery the rest goes out in due order; the log says
it once and /healthz names the Bot API. The outage is made by a link between the bot and the fake
that is cut (connections refused, or every request answered 502) and then restored."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import POOL_SIZE
from bot.db import models as m
from bot.schedule.notices import Rendered, enqueue_many, renderer
from bot.schedule.pacing import Limits
from bot.testing.fake_bot_api import FakeBotAPI
from bot.testing.harness import BotHarness
from bot.testing.outage import TelegramLink
from bot.web.server import BotApiProbe

KIND = "test_outage"
# How long Telegram stays away: long enough for several probes, short for a test.
OUTAGE = 3.0


@renderer(KIND)
async def _render(session: Any, notice: m.Notice, t: Any) -> Rendered:
    return Rendered(f"outage {notice.payload['n']:03d}")


# 502: every request answered Bad Gateway; refuse: connections refused; blackhole: nothing answers
# (requests time out), and a request that hung through the outage goes first again after it.
@pytest.mark.parametrize("mode", ["502", "refuse", "blackhole"])
async def test_telegram_away_nothing_lost_no_try_used_in_due_order(
    db_url: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.schedule.gate")
    async with FakeBotAPI(enforce_limits=True) as api:
        link = await TelegramLink(api).start()
        try:
            async with BotHarness(db_url, api=api, via=link, limits=Limits()) as h:
                n = 60
                async with h.services.sessionmaker() as s:
                    await enqueue_many(
                        s,
                        [
                            {
                                "kind": KIND,
                                "dedup_key": f"o:{i}",
                                "chat_id": 60_000 + i,
                                "due_at": h.clock() - timedelta(seconds=n - i),
                                "payload": {"n": i},
                            }
                            for i in range(n)
                        ],
                    )
                    await s.commit()
                run = asyncio.create_task(h.run_due())
                while len(api.sent_messages()) < 15:
                    await api.wait_change(1.0)
                await link.cut(mode)
                gate = h.services.outbox.gate if h.services.outbox else None
                assert gate is not None
                while not gate.down:
                    await asyncio.sleep(0.05)
                health = await BotApiProbe(h.services).check()
                assert health.startswith("bot_api unreachable"), health
                await asyncio.sleep(OUTAGE)  # the outage itself, not a synchronisation
                during = link.attempts
                await link.restore()
                await asyncio.wait_for(run, 60)

                sent = [c.text for c in api.sent_messages()]
                assert Counter(sent) == Counter(f"outage {i:03d}" for i in range(n))  # all, once each
                assert sent == sorted(sent)  # in due order, before and after the outage
                assert api.count_429 == 0
                async with h.services.sessionmaker() as s:
                    rows = (await s.scalars(select(m.Notice).where(m.Notice.kind == KIND))).all()
                assert Counter(r.state for r in rows) == Counter({"sent": n})
                assert {r.attempts for r in rows} == {1}  # the outage used up no message's tries
                # No busy loop: the requests cut off in flight plus a probe every ~0.5-4 s. A link that
                # drops everything ("blackhole") holds each request until its read timeout: at most the
                # pool's connections hang, then requests wait for the probe's verdict, not the wire.
                assert during <= (12 if mode != "blackhole" else POOL_SIZE + 8), during
                assert gate.outages == 1 and not gate.down
                warnings = [r.getMessage() for r in caplog.records if r.name == "bot.schedule.gate"]
                assert len([w for w in warnings if "unreachable" in w]) == 1
                assert len([w for w in warnings if "again" in w]) == 1
                assert await BotApiProbe(h.services).check() == "ok"
        finally:
            await link.stop()


async def test_broadcast_through_an_outage_ends_with_the_right_progress(db_url: str) -> None:
    from bot.domain import broadcasts

    async with FakeBotAPI(enforce_limits=True) as api:
        link = await TelegramLink(api).start()
        try:
            async with BotHarness(db_url, api=api, via=link, limits=Limits()) as h:
                n = 50
                async with h.services.sessionmaker() as s:
                    net = m.Network(chat_id=-7001, name="Netværket", slug="netv", language="en")
                    coord = m.Person(tg_id=7, first_name="Koordinator", language="en")
                    followers = [
                        m.Person(tg_id=70_000 + i, first_name=f"F{i}", language="en") for i in range(n)
                    ]
                    s.add_all([net, coord, *followers])
                    await s.flush()
                    s.add_all(
                        [m.Membership(network_id=net.id, person_id=p.id, is_follower=True) for p in followers]
                    )
                    await broadcasts.schedule(
                        s,
                        network=net,
                        author=coord,
                        text="Husk mødet",
                        language="en",
                        due_at=h.clock(),
                        progress_chat_id=7,
                    )
                    await s.commit()
                run = asyncio.create_task(h.run_due())
                while len([c for c in api.sent_messages() if (c.chat_id or 0) >= 70_000]) < 12:
                    await api.wait_change(1.0)
                await link.cut("502")
                await asyncio.sleep(OUTAGE)  # the outage itself
                await link.restore()
                await asyncio.wait_for(run, 60)
                copies = Counter(c.chat_id for c in api.sent_messages() if (c.chat_id or 0) >= 70_000)
                assert copies == Counter({70_000 + i: 1 for i in range(n)})
                progress = [
                    m for m in api.messages.get(7, {}).values() if "Broadcast" in (m.get("text") or "")
                ]
                assert len(progress) == 1
                assert f"Done: sent to {n} of {n} followers." in progress[0]["text"]
        finally:
            await link.stop()
