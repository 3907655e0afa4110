"""Agenda files benchmark: a final agenda with 5 attached documents to 200 followers and the group,
against the local Bot API fake with Telegram's limits enforced (50 ms latency). Prints whether every
file reached every chat exactly once, the 429s, and the whole delivery time next to the time the
limits allow.

    .venv/bin/python bench/attachments.py [--db sqlite|postgresql] [--followers 200] [--files 5]

What the limits allow: each chat gets the agenda and then one media group of the documents (2
requests; 2-10 documents go in one sendMediaGroup). With Telegram's 30 requests/s overall that is
(requests - 1) / 30 s from the first send to the last; 1/s per private chat and 20/min per group do
not bind here (2 requests per chat). If Telegram counted every document of a media group as one
message towards 30/s, the bound would be higher; that figure is printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db import models as m
from bot.domain import meetings as mt
from bot.schedule.notices import enqueue
from bot.testing import db as testdb
from bot.testing.fake_bot_api import FakeBotAPI, UploadedFile
from bot.testing.harness import BotHarness

GROUP_CHAT = -1009999


async def seed(bot: BotHarness, followers: int, files: int) -> list[str]:
    """A network, its followers, a meeting 3 days ahead with `files` documents on its items, and its
    final agenda due now; returns the file ids."""
    now = datetime.now(UTC)
    file_ids = []
    for i in range(files):
        fid = f"BENCHDOC{i}"
        bot.api.files[fid] = UploadedFile(f"bilag-{i + 1}.pdf", b"%PDF-1.4 " + bytes(200))
        file_ids.append(fid)
    async with bot.quiet_session() as s:
        net = m.Network(chat_id=GROUP_CHAT, name="Bench", slug="bench-files", timezone="Europe/Copenhagen")
        s.add(net)
        await s.flush()
        langs = ["da", "ar", "ti", "en"]
        people = [
            m.Person(tg_id=10_000 + i, first_name=f"F{i}", language=langs[i % 4]) for i in range(followers)
        ]
        s.add_all(people)
        await s.flush()
        s.add_all([m.Membership(network_id=net.id, person_id=p.id, is_follower=True) for p in people])
        meeting = m.Meeting(network_id=net.id, starts_at=now + timedelta(days=3), place="Rådhuset")
        s.add(meeting)
        await s.flush()
        for i, fid in enumerate(file_ids):
            item = m.AgendaItem(meeting_id=meeting.id, title=f"Punkt {i + 1}", position=i, status="accepted")
            s.add(item)
            await s.flush()
            s.add(
                m.AgendaAttachment(
                    item_id=item.id,
                    kind="document",
                    file_id=fid,
                    file_unique_id="U" + fid,
                    file_name=f"bilag-{i + 1}.pdf",
                )
            )
        payload = {"stage": "final", "ts": mt.stamp(meeting)}
        for kind, key in (
            (mt.KIND_STAGE, mt.stage_key(meeting, "final")),
            (mt.KIND_FANOUT, mt.stage_key(meeting, "final") + ":fan"),
        ):
            await enqueue(
                s,
                kind=kind,
                dedup_key=key,
                chat_id=GROUP_CHAT,
                due_at=now,
                network_id=net.id,
                ref_id=meeting.id,
                payload=payload,
            )
        await s.commit()
    return file_ids


def files_per_chat(api: FakeBotAPI) -> dict[int, Counter[str]]:
    out: dict[int, Counter[str]] = {}
    for c in api.calls("sendMediaGroup"):
        if c.ok and c.chat_id is not None:
            out.setdefault(c.chat_id, Counter()).update(str(x["media"]) for x in c.params["media"])
    for c in api.calls("sendDocument"):
        if c.ok and c.chat_id is not None and isinstance(c.params.get("document"), str):
            out.setdefault(c.chat_id, Counter())[str(c.params["document"])] += 1
    return out


async def run(db_url: str, followers: int, files: int) -> None:
    api = FakeBotAPI(enforce_limits=True, latency=0.05)
    async with api, BotHarness(db_url, api=api, dispatch=True) as bot:
        file_ids = await seed(bot, followers, files)
        chats = followers + 1
        t0 = time.monotonic()
        bot.services.dispatcher.wake(0)  # type: ignore[union-attr]
        deadline = t0 + 60 + chats
        while time.monotonic() < deadline:
            got = files_per_chat(api)
            if len(got) >= chats and all(sum(v.values()) >= files for v in got.values()):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # anything sent twice would show by now
        got = files_per_chat(api)
        sends = sorted(
            c.time
            for c in api.all_calls
            if c.ok and c.method in ("sendMessage", "sendMediaGroup", "sendDocument")
        )
        requests = len(sends)
        elapsed = sends[-1] - sends[0] if len(sends) > 1 else float("nan")
        exact = sum(1 for v in got.values() if v == Counter(dict.fromkeys(file_ids, 1)))
        allowed = (requests - 1) / 30
        per_document = (chats * (1 + files) - 1) / 30
        agendas_first = all(
            min(c.index for c in api.calls("sendMessage", chat_id=chat) if c.ok)
            < min(c.index for c in api.calls("sendMediaGroup", chat_id=chat) if c.ok)
            for chat in got
        )
        print(
            f"final agenda with {files} attached documents to {followers} followers and 1 group (limits enforced, 50 ms latency):"
        )
        print(f"  chats with every file exactly once  {exact}/{chats}")
        print(f"  agenda before its files everywhere   {agendas_first}")
        print(f"  429s received                        {api.count_429}")
        print(
            f"  requests sent                        {requests} ({len(api.calls('sendMediaGroup'))} media groups)"
        )
        print(f"  delivery, first send to last         {elapsed:.2f} s")
        print(f"  the limits allow (30 requests/s)     {allowed:.2f} s  -> {elapsed / allowed:.3f} of it")
        print(f"  (if each document counted as a message: {per_document:.2f} s)")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    ap.add_argument("--followers", type=int, default=200)
    ap.add_argument("--files", type=int, default=5)
    args = ap.parse_args()
    if args.db == "postgresql":
        url = await testdb.pg_url()
    else:
        url = await testdb.sqlite_url(Path(tempfile.mkdtemp(prefix="volbot-bench-")))
    try:
        await run(url, args.followers, args.files)
    finally:
        if args.db == "postgresql":
            await testdb.drop_pg(url)


if __name__ == "__main__":
    asyncio.run(main())
