"""Recording a batch of button presses (bot.domain.votes.record_presses) on its own, against the
database: what is refused and why (gone, closed, not named), what is written (ballots, the vote's
revision, new persons, memberships) and what is left alone, the last press of a person winning, a
vote closed while the batch runs, and the language of each answer. No bot is started."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db import models as m
from bot.db.engine import create_engine, create_sessionmaker
from bot.domain.votes import PressIn, PressOut, record_presses

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
LATEST = datetime(2026, 11, 23, 9, 7, tzinfo=UTC)
EARLIER = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
HOME, AWAY, STRANGER = -1001, -1002, -1003  # two networks' groups, and a chat of no network

GONE = "This button no longer works."
CLOSED = "This vote is closed. Presses no longer count."
NOT_NAMED = "Only the named voters can vote on this question."
VOTED = "You voted: {choice}."
CHANGED = "Your vote is changed to: {choice}."
KEPT = "You already voted: {choice}. Nothing changed."


@dataclass
class World:
    sm: async_sessionmaker[AsyncSession]
    home: int  # network ids
    away: int


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    engine = create_engine(db_url)
    try:
        sm = create_sessionmaker(engine)
        async with sm() as s:
            home = m.Network(chat_id=HOME, name="Hjem", slug="hjem", language="ti")
            away = m.Network(chat_id=AWAY, name="Ude", slug="ude", language="da")
            s.add_all([home, away])
            await s.commit()
            yield World(sm, home.id, away.id)
    finally:
        await engine.dispose()


async def new_vote(
    w: World,
    network_id: int,
    chat_id: int,
    *,
    status: str = "open",
    deadline: datetime | None = None,
    voters: Sequence[int] = (),
) -> int:
    async with w.sm() as s:
        vote = m.Vote(
            network_id=network_id,
            question="Madklub hver torsdag?",
            chat_id=chat_id,
            message_id=500,
            deadline=deadline,
            status=status,
            restricted=bool(voters),
            revision=0,
            shown_revision=0,
            created_at=EARLIER,
        )
        s.add(vote)
        await s.flush()
        for tg in voters:
            person = m.Person(tg_id=tg, first_name=f"P{tg}", reminder_minutes="1440", created_at=EARLIER)
            s.add(person)
            await s.flush()
            s.add(m.VoteVoter(vote_id=vote.id, person_id=person.id))
        await s.commit()
        return vote.id


def press(
    tg: int,
    vote_id: int | None,
    code: str = "f",
    *,
    chat: int = HOME,
    first: str = "Ann",
    last: str | None = None,
    username: str | None = None,
    lang: str | None = "da",
) -> PressIn:
    return PressIn(tg, first, last, username, lang, chat, vote_id, code)


async def record(w: World, presses: Sequence[PressIn], now: datetime = NOW) -> list[PressOut]:
    async with w.sm() as s:
        out = await record_presses(s, presses, now)
        await s.commit()
    return out


def view(out: Sequence[PressOut]) -> list[tuple[Any, ...]]:
    return [(r.ok, r.message, r.lang, r.vote_id, r.chat_id, r.choice, r.changed) for r in out]


async def ballots(w: World, vote_id: int) -> dict[int, tuple[str, datetime]]:
    async with w.sm() as s:
        rows = await s.execute(
            select(m.Person.tg_id, m.Ballot.choice, m.Ballot.updated_at)
            .join(m.Person, m.Person.id == m.Ballot.person_id)
            .where(m.Ballot.vote_id == vote_id)
        )
        return {tg: (choice, at) for tg, choice, at in rows}


async def revision(w: World, vote_id: int) -> int:
    async with w.sm() as s:
        return int(await s.scalar(select(m.Vote.revision).where(m.Vote.id == vote_id)) or 0)


async def count(w: World, model: Any) -> int:
    async with w.sm() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_empty_batch_answers_nothing_and_writes_nothing(world: World) -> None:
    assert await record(world, []) == []
    assert (await count(world, m.Person), await count(world, m.Membership)) == (0, 0)


async def test_a_batch_of_200_is_recorded_and_201_are_refused(world: World) -> None:
    vid = await new_vote(world, world.home, HOME)
    out = await record(world, [press(30_000 + i, vid, "a") for i in range(200)])
    assert view(out) == [(True, VOTED, "da", vid, HOME, "against", True)] * 200
    assert await revision(world, vid) == 200
    with pytest.raises(ValueError, match=r"^batch too large$"):
        await record(world, [press(40_000 + i, vid, "f") for i in range(201)])
    assert await count(world, m.Person) == 200
    assert await revision(world, vid) == 200


async def test_a_press_that_matches_nothing_is_gone_and_the_rest_still_count(world: World) -> None:
    vid = await new_vote(world, world.home, HOME)
    away_vid = await new_vote(world, world.away, AWAY)
    out = await record(
        world,
        [
            press(1, vid, chat=STRANGER),  # a chat of no network
            press(2, 99_999),  # no such vote
            press(3, away_vid),  # another network's vote pressed in this group
            press(4, vid, "z"),  # no such choice
            press(5, None),  # no vote in the button at all
            press(6, vid, "x"),
            press(7, vid, "F"),  # the codes are lower case
        ],
    )
    gone = (False, GONE, "da", None, None, None, False)
    assert view(out) == [gone] * 5 + [(True, VOTED, "da", vid, HOME, "abstain", True), gone]
    assert await ballots(world, vid) == {6: ("abstain", NOW)}
    assert await ballots(world, away_vid) == {}
    assert (await revision(world, vid), await revision(world, away_vid)) == (1, 0)


async def test_a_closed_vote_refuses_presses(world: World) -> None:
    closed = await new_vote(world, world.home, HOME, status="closed")
    other = await new_vote(world, world.home, HOME)
    out = await record(world, [press(1, closed), press(1, other, "a")])
    assert view(out) == [
        (False, CLOSED, "da", None, None, None, False),
        (True, VOTED, "da", other, HOME, "against", True),
    ]
    assert await ballots(world, closed) == {}
    assert await revision(world, closed) == 0


async def test_a_vote_is_open_until_its_deadline_and_closed_at_it(world: World) -> None:
    deadline = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    vid = await new_vote(world, world.home, HOME, deadline=deadline)
    before = await record(world, [press(1, vid, "f")], now=deadline - timedelta(seconds=1))
    at = await record(world, [press(2, vid, "f"), press(1, vid, "a")], now=deadline)
    assert view(before) == [(True, VOTED, "da", vid, HOME, "for", True)]
    closed = (False, CLOSED, "da", None, None, None, False)
    assert view(at) == [closed, closed]
    assert await ballots(world, vid) == {1: ("for", deadline - timedelta(seconds=1))}
    assert await revision(world, vid) == 1


async def test_a_restricted_vote_takes_only_its_named_voters(world: World) -> None:
    restricted = await new_vote(world, world.home, HOME, voters=[11])
    # 12 is named on another vote, not on this one
    await new_vote(world, world.home, HOME, voters=[12])
    free = await new_vote(world, world.home, HOME)
    out = await record(
        world,
        [press(12, restricted, "a"), press(13, restricted), press(11, restricted, "x"), press(13, free)],
    )
    # 11 and 12 were made without a language: the network's (Tigrinya)
    assert view(out) == [
        (False, NOT_NAMED, "ti", None, None, None, False),
        (False, NOT_NAMED, "da", None, None, None, False),
        (True, VOTED, "ti", restricted, HOME, "abstain", True),
        (True, VOTED, "da", free, HOME, "for", True),
    ]
    assert await ballots(world, restricted) == {11: ("abstain", NOW)}
    assert await ballots(world, free) == {13: ("for", NOW)}
    assert (await revision(world, restricted), await revision(world, free)) == (1, 1)


async def test_voted_then_kept_writes_nothing_then_changed(world: World) -> None:
    vid = await new_vote(world, world.home, HOME)
    assert view(await record(world, [press(1, vid, "f")])) == [(True, VOTED, "da", vid, HOME, "for", True)]
    assert view(await record(world, [press(1, vid, "f")], now=LATER)) == [
        (True, KEPT, "da", vid, HOME, "for", False)
    ]
    assert await ballots(world, vid) == {1: ("for", NOW)}  # not even its time is touched
    assert await revision(world, vid) == 1
    assert view(await record(world, [press(1, vid, "a")], now=LATEST)) == [
        (True, CHANGED, "da", vid, HOME, "against", True)
    ]
    assert await ballots(world, vid) == {1: ("against", LATEST)}
    assert await revision(world, vid) == 2


async def test_the_last_press_of_a_person_in_one_batch_wins(world: World) -> None:
    vid = await new_vote(world, world.home, HOME)
    second = await new_vote(world, world.home, HOME)
    untouched = await new_vote(world, world.home, HOME)
    await record(world, [press(4, vid, "x")])  # an earlier batch: 4 abstained
    out = await record(
        world,
        [
            press(1, vid, "a"),
            press(2, vid, "x"),
            press(1, vid, "x"),
            press(3, vid, "f"),
            press(3, vid, "f"),  # the same again inside the batch: kept
            press(1, vid, "f"),  # 1: against, abstain, for -> for
            press(2, vid, "a"),  # 2: abstain, against -> against
            press(4, vid, "x"),  # as before: kept
            press(5, second, "x"),
        ],
        now=LATER,
    )
    assert [(r.ok, r.message, r.choice, r.changed) for r in out] == [
        (True, VOTED, "against", True),
        (True, VOTED, "abstain", True),
        (True, CHANGED, "abstain", True),
        (True, VOTED, "for", True),
        (True, KEPT, "for", False),
        (True, CHANGED, "for", True),
        (True, CHANGED, "against", True),
        (True, KEPT, "abstain", False),
        (True, VOTED, "abstain", True),
    ]
    assert await ballots(world, vid) == {
        1: ("for", LATER),
        2: ("against", LATER),
        3: ("for", LATER),
        4: ("abstain", NOW),
    }
    assert await ballots(world, second) == {5: ("abstain", LATER)}
    # one step per (vote, person) changed, not per press: 1 (earlier) + 3; the second vote 1; others 0
    assert [await revision(world, v) for v in (vid, second, untouched)] == [4, 1, 0]


async def test_a_vote_closed_while_the_batch_runs_takes_no_ballot(world: World) -> None:
    closing = await new_vote(world, world.home, HOME)
    other = await new_vote(world, world.home, HOME)
    await record(world, [press(1, closing, "f")])
    async with world.sm() as s:
        # The batch's session holds the vote as open; a close commits before the batch writes.
        held = await s.get(m.Vote, closing)
        await s.execute(
            update(m.Vote)
            .where(m.Vote.id == closing)
            .values(status="closed")
            .execution_options(synchronize_session=False)
        )
        out = await record_presses(
            s, [press(2, closing, "a"), press(1, closing, "f"), press(3, other, "x")], LATER
        )
        await s.commit()
    assert held is not None and held.status == "open"
    assert view(out) == [
        (False, CLOSED, "da", closing, HOME, "against", False),
        (True, KEPT, "da", closing, HOME, "for", False),
        (True, VOTED, "da", other, HOME, "abstain", True),
    ]
    assert await ballots(world, closing) == {1: ("for", NOW)}
    assert await ballots(world, other) == {3: ("abstain", LATER)}
    assert (await revision(world, closing), await revision(world, other)) == (1, 1)


async def persons(w: World) -> dict[int, tuple[Any, ...]]:
    async with w.sm() as s:
        rows = (await s.scalars(select(m.Person))).all()
    return {
        p.tg_id: (
            p.first_name,
            p.last_name,
            p.username,
            p.language,
            p.tg_language,
            p.reminder_minutes,
            p.reachable,
            p.created_at,
        )
        for p in rows
    }


async def test_a_new_presser_gets_a_clean_person_row(world: World) -> None:
    vid = await new_vote(world, world.home, HOME)
    await record(
        world,
        [
            press(1, vid, first="\x00" + "x" * 130, last="Ø\x00" + "y" * 140, username="ann_k", lang="da-DK"),
            press(2, vid, first="", last="", lang="xx"),
            press(3, vid, first="Bo\x00", last=None, lang=None),
            press(4, vid, first="Eva", last="Holm\x00", lang="AR"),
        ],
    )
    assert await persons(world) == {
        1: ("x" * 128, "Ø" + "y" * 127, "ann_k", None, "da", "1440", True, NOW),
        2: ("", None, None, None, None, "1440", True, NOW),
        3: ("Bo", None, None, None, None, "1440", True, NOW),
        4: ("Eva", "Holm", None, None, "ar", "1440", True, NOW),
    }


async def test_an_existing_person_is_not_overwritten(world: World) -> None:
    vid = await new_vote(world, world.home, HOME)
    async with world.sm() as s:
        s.add(
            m.Person(
                tg_id=1,
                first_name="Gammel",
                last_name="Navn",
                username="gammel",
                language="ar",
                tg_language="ti",
                reminder_minutes="60",
                reachable=False,
                created_at=EARLIER,
            )
        )
        await s.commit()
    out = await record(world, [press(1, vid, first="Ny", last="Andet", username="ny", lang="da")])
    assert view(out) == [(True, VOTED, "ar", vid, HOME, "for", True)]
    assert await persons(world) == {1: ("Gammel", "Navn", "gammel", "ar", "ti", "60", False, EARLIER)}


async def test_pressing_in_a_group_makes_one_a_member_and_keeps_other_roles(world: World) -> None:
    vid = await new_vote(world, world.home, HOME)
    async with world.sm() as s:
        old = m.Person(tg_id=1, first_name="Gammel", reminder_minutes="1440", created_at=EARLIER)
        s.add(old)
        await s.flush()
        s.add(
            m.Membership(
                network_id=world.home,
                person_id=old.id,
                is_member=False,
                is_coordinator=True,
                is_follower=True,
                created_at=EARLIER,
            )
        )
        await s.commit()
    await record(
        world,
        [
            press(1, vid),
            press(2, vid),
            press(2, vid, "a"),  # twice in one batch: one membership
            press(3, vid, chat=STRANGER),  # no network: no membership
            press(4, vid, chat=AWAY),  # the home vote pressed in the away group: gone, but a member there
        ],
    )
    async with world.sm() as s:
        rows = await s.execute(
            select(
                m.Person.tg_id,
                m.Membership.network_id,
                m.Membership.is_member,
                m.Membership.is_coordinator,
                m.Membership.is_follower,
                m.Membership.created_at,
            ).join(m.Person, m.Person.id == m.Membership.person_id)
        )
        got = sorted(tuple(r) for r in rows)
    assert got == [
        (1, world.home, True, True, True, EARLIER),
        (2, world.home, True, False, False, NOW),
        (4, world.away, True, False, False, NOW),
    ]


async def test_each_answer_is_in_the_presser_s_language(world: World) -> None:
    vid = await new_vote(world, world.home, HOME)  # the home network speaks Tigrinya
    async with world.sm() as s:
        s.add_all(
            [
                m.Person(tg_id=1, first_name="A", language="ar", tg_language="da", created_at=EARLIER),
                m.Person(tg_id=2, first_name="B", language=None, tg_language="ar", created_at=EARLIER),
                m.Person(tg_id=3, first_name="C", language="en", tg_language="da", created_at=EARLIER),
            ]
        )
        await s.commit()
    out = await record(
        world,
        [
            press(1, vid, lang="da"),  # chosen language first
            press(2, vid, lang="da"),  # then Telegram's as stored (this press's code is not stored)
            press(3, 99_999, lang="da"),  # chosen, even on a refusal
            press(4, vid, lang="da-DK"),  # a new person: Telegram's
            press(5, vid, lang="de"),  # unsupported: the network's
            press(6, vid, lang=None),
            press(7, vid, lang=None, chat=STRANGER),  # no language anywhere: English
            press(8, vid, lang="de", chat=AWAY),  # the network of the chat, not of the vote
        ],
    )
    assert [r.lang for r in out] == ["ar", "ar", "en", "da", "ti", "ti", "en", "da"]
    assert [r.ok for r in out] == [True, True, False, True, True, True, False, False]
