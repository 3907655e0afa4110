"""The delivery contract (bot/schedule/notices.py) on its own: enqueueing is idempotent by dedup key,
bulk enqueueing counts only what is new (also past SQLite's parameter limit), cancelling touches only
pending rows that match every filter given, and memo loads once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import models as m
from bot.db.engine import create_engine, create_sessionmaker
from bot.schedule import notices
from bot.schedule.notices import cancel_pending, enqueue, enqueue_many, enqueue_to_people, memo

DUE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

# Enqueue refuses kinds nobody renders (bot/schedule/registry.py): the kinds these tests use are
# registered here, as a tool or a test may do at run time.


async def _nothing(session: Any, notice: m.Notice, t: Any) -> None:
    return None


for _kind in ("k", "j", "other", "p", "ev", "mtg"):
    if _kind not in notices.RENDERERS:
        notices.renderer(_kind)(_nothing)


@pytest.fixture
async def session(db_url: str) -> AsyncIterator[Any]:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as s:
            yield s
    finally:
        await engine.dispose()


async def rows(session: Any) -> list[tuple[Any, ...]]:
    found = await session.execute(
        select(
            m.Notice.kind,
            m.Notice.dedup_key,
            m.Notice.chat_id,
            m.Notice.due_at,
            m.Notice.person_id,
            m.Notice.network_id,
            m.Notice.ref_id,
            m.Notice.payload,
            m.Notice.state,
            m.Notice.attempts,
        ).order_by(m.Notice.id)
    )
    return [tuple(r) for r in found]


async def _owner(session: Any) -> tuple[int, int]:
    net = m.Network(chat_id=-1001, name="Netværk", slug="netvaerk")
    person = m.Person(tg_id=4242, first_name="Amal", reminder_minutes="1440")
    session.add_all([net, person])
    await session.flush()
    return net.id, person.id


async def test_enqueue_stores_every_field(session: Any) -> None:
    nid, pid = await _owner(session)
    assert await enqueue(
        session, kind="k", dedup_key="o:1", chat_id=4242, due_at=DUE, person_id=pid, network_id=nid, ref_id=3
    )
    n = await enqueue_many(
        session,
        [
            {
                "kind": "j",
                "dedup_key": "o:2",
                "chat_id": 4242,
                "due_at": DUE,
                "person_id": pid,
                "network_id": nid,
            }
        ],
    )
    assert n == 1
    await session.commit()
    assert await rows(session) == [
        ("k", "o:1", 4242, DUE, pid, nid, 3, {}, "pending", 0),
        ("j", "o:2", 4242, DUE, pid, nid, None, {}, "pending", 0),
    ]


async def test_enqueue_is_idempotent_by_dedup_key(session: Any) -> None:
    assert await enqueue(session, kind="k", dedup_key="a:1", chat_id=11, due_at=DUE, payload={"x": 1}) is True
    # the same key again changes nothing, even with other values
    again = await enqueue(session, kind="other", dedup_key="a:1", chat_id=99, due_at=DUE + timedelta(days=1))
    assert again is False
    assert await enqueue(
        session, kind="k", dedup_key="a:2", chat_id=12, due_at=DUE, ref_id=7, network_id=None
    )
    await session.commit()
    assert await rows(session) == [
        ("k", "a:1", 11, DUE, None, None, None, {"x": 1}, "pending", 0),
        ("k", "a:2", 12, DUE, None, None, 7, {}, "pending", 0),
    ]


async def test_long_keys_are_cut_to_160_characters_and_still_deduplicated(session: Any) -> None:
    key = "b" * 200
    assert await enqueue(session, kind="k", dedup_key=key, chat_id=1, due_at=DUE)
    assert not await enqueue(session, kind="k", dedup_key=key + "different tail", chat_id=1, due_at=DUE)
    assert (
        await enqueue_many(session, [{"kind": "k", "dedup_key": "b" * 170, "chat_id": 2, "due_at": DUE}]) == 0
    )
    await session.commit()
    assert [r[1] for r in await rows(session)] == ["b" * 160]


async def test_enqueue_many_counts_only_new_rows_past_the_parameter_limit(session: Any) -> None:
    assert await enqueue_many(session, []) == 0
    batch = [
        {
            "kind": "k",
            "dedup_key": f"c:{i}",
            "chat_id": 1000 + i,
            "due_at": DUE,
            "ref_id": 5,
            "payload": {"i": i},
        }
        for i in range(1203)
    ]
    assert await enqueue_many(session, batch[:700]) == 700
    assert await enqueue_many(session, batch) == 503  # 700 were there already
    await session.commit()
    stored = await rows(session)
    assert len(stored) == 1203
    assert stored[0] == ("k", "c:0", 1000, DUE, None, None, 5, {"i": 0}, "pending", 0)
    assert stored[-1] == ("k", "c:1202", 2202, DUE, None, None, 5, {"i": 1202}, "pending", 0)


async def test_enqueue_to_people_uses_their_private_chats(session: Any) -> None:
    people = [m.Person(tg_id=500 + i, first_name=f"P{i}", reminder_minutes="1440") for i in range(3)]
    session.add_all(people)
    await session.flush()
    payload = {"stage": "final"}
    nid, _ = await _owner(session)
    n = await enqueue_to_people(
        session,
        people,
        kind="p",
        key=lambda p: f"p:{p.id}",
        due_at=DUE,
        network_id=nid,
        ref_id=9,
        payload=payload,
    )
    assert n == 3
    assert (
        await enqueue_to_people(
            session, people, kind="p", key=lambda p: f"p:{p.id}", due_at=DUE, network_id=None
        )
        == 0
    )
    await session.commit()
    assert await rows(session) == [
        ("p", f"p:{p.id}", p.tg_id, DUE, p.id, nid, 9, {"stage": "final"}, "pending", 0) for p in people
    ]


async def test_cancel_pending_matches_every_filter_and_only_pending(session: Any) -> None:
    specs = [
        ("ev", "ev:1:a", 1),
        ("ev", "ev:1:b", 1),
        ("ev", "ev:2:a", 2),
        ("mtg", "mtg:1:a", 1),
        ("mtg", "mtg:10:a", 10),
    ]
    for kind, key, ref in specs:
        await enqueue(session, kind=kind, dedup_key=key, chat_id=1, due_at=DUE, ref_id=ref)
    await session.flush()
    sent = await session.scalar(select(m.Notice).where(m.Notice.dedup_key == "ev:1:b"))
    sent.state = "sent"
    await session.flush()

    async def states() -> dict[str, str]:
        return dict((await session.execute(select(m.Notice.dedup_key, m.Notice.state))).all())

    assert await cancel_pending(session, kind="ev", ref_id=1) == 1  # ev:1:b was sent already
    assert await states() == {
        "ev:1:a": "cancelled",
        "ev:1:b": "sent",
        "ev:2:a": "pending",
        "mtg:1:a": "pending",
        "mtg:10:a": "pending",
    }
    assert await cancel_pending(session, key_prefix="mtg:1:") == 1  # not mtg:10:
    assert (await states())["mtg:10:a"] == "pending"
    assert await cancel_pending(session, kind="mtg", ref_id=2) == 0
    assert await cancel_pending(session, ref_id=2) == 1
    assert await cancel_pending(session) == 1  # no filter: every pending row (mtg:10:a)
    assert await states() == {
        "ev:1:a": "cancelled",
        "ev:1:b": "sent",
        "ev:2:a": "cancelled",
        "mtg:1:a": "cancelled",
        "mtg:10:a": "cancelled",
    }


async def test_memo_loads_once_per_session(db_url: str) -> None:
    calls: list[str] = []

    async def load() -> str:
        calls.append("x")
        return f"value {len(calls)}"

    engine = create_engine(db_url)
    try:
        maker = create_sessionmaker(engine)
        async with maker() as s:
            assert await memo(s, ("k", 1), load) == "value 1"
            assert await memo(s, ("k", 1), load) == "value 1"
            assert await memo(s, ("k", 2), load) == "value 2"
        async with maker() as s:  # a new batch loads again
            assert await memo(s, ("k", 1), load) == "value 3"
    finally:
        await engine.dispose()
    assert calls == ["x", "x", "x"]


def test_decorators_register_by_kind() -> None:
    async def render(session: Any, notice: Any, t: Any) -> None:
        return None

    async def act(session: Any, notice: Any, now: Any) -> None:
        return None

    async def after(session: Any, notice: Any, message_id: int) -> None:
        return None

    assert notices.renderer("unit_kind")(render) is render
    assert notices.action("unit_kind")(act) is act
    assert notices.after_send("unit_kind")(after) is after
    try:
        assert notices.RENDERERS["unit_kind"] is render
        assert notices.ACTIONS["unit_kind"] is act
        assert notices.AFTER_SEND["unit_kind"] is after
    finally:
        for registry in (notices.RENDERERS, notices.ACTIONS, notices.AFTER_SEND):
            registry.pop("unit_kind", None)
