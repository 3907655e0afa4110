"""Show-of-hands votes: opening, ballots, closing, hand counts. Pure database logic (the rules and
parsing: bot.domain.vote_rules).

A vote is open until a coordinator closes it, its deadline passes (a `vote_close` notice, so the
database decides and a restart loses nothing) or a hand count from the room is recorded. One ballot
per voter is enforced by the database (unique vote+person, INSERT … ON CONFLICT DO UPDATE), so
hundreds of simultaneous presses each count exactly once, and the last press of a person wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import people
from bot.domain.decisions import record_decision
from bot.domain.errors import NotFound, UserError
from bot.domain.vote_rules import (
    CHOICE_CODES,
    CHOICES,
    CLOSE_KIND,
    EXAMPLE,
    MAX_QUESTION,
    Result,
    Tally,
    VoteOptions,
    decide,
)
from bot.i18n import N_, Phrase, negotiate, normalize_language
from bot.schedule import notices

# --- opening ---------------------------------------------------------------------------------


def check_question(text: str) -> str:
    question = " ".join(text.split())
    if not question:
        raise UserError(N_("Write the question to vote on. Example: {example}"), example=Phrase(EXAMPLE))
    if len(question) > MAX_QUESTION:
        raise UserError(
            N_("The question is too long ({length} characters; at most {limit})."),
            length=len(question),
            limit=MAX_QUESTION,
        )
    return question


async def open_vote(
    session: AsyncSession,
    network: m.Network,
    creator: m.Person | None,
    question: str,
    options: VoteOptions,
    now: datetime,
) -> m.Vote:
    question = check_question(question)
    if options.deadline is not None and options.deadline <= now:
        raise UserError(
            N_("The deadline has already passed. Example: {example}"),
            example=Phrase(N_("| until Friday 18:00")),
        )
    vote = m.Vote(
        network_id=network.id,
        meeting_id=options.meeting_id,
        agenda_item_id=options.agenda_item_id,
        question=question,
        created_by=creator.id if creator else None,
        chat_id=network.chat_id,
        deadline=options.deadline,
        status="open",
        rule=options.rule or network.vote_rule or "majority",
        quorum=options.quorum if (options.quorum or options.quorum_attending) else network.vote_quorum,
        quorum_attending=options.quorum_attending,
        restricted=bool(options.voters),
        revision=0,
        shown_revision=0,
        created_at=now,
    )
    if options.quorum_attending:
        vote.quorum = None
    session.add(vote)
    await session.flush()
    for person_id in options.voters:
        session.add(m.VoteVoter(vote_id=vote.id, person_id=person_id))
    if options.deadline is not None:
        await notices.enqueue(
            session,
            kind=CLOSE_KIND,
            dedup_key=f"{CLOSE_KIND}:{vote.id}",
            chat_id=network.chat_id,
            due_at=options.deadline,
            network_id=network.id,
            ref_id=vote.id,
        )
    return vote


async def set_message(session: AsyncSession, vote: m.Vote, chat_id: int, message_id: int) -> None:
    vote.chat_id = chat_id
    vote.message_id = message_id


# --- ballots ---------------------------------------------------------------------------------


async def vote_in_network(session: AsyncSession, vote_id: int, network: m.Network | None) -> m.Vote:
    """The vote, if it belongs to this network; a forged or stale button changes nothing."""
    vote = await session.get(m.Vote, vote_id)
    if vote is None or network is None or vote.network_id != network.id:
        raise NotFound(N_("This button no longer works."))
    return vote


@dataclass(frozen=True)
class PressIn:
    """One button press as Telegram reported it (nothing in it is trusted)."""

    tg_id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    chat_id: int
    vote_id: int | None
    code: str


@dataclass
class PressOut:
    ok: bool
    message: str  # untranslated; {choice} is the translated choice label
    lang: str
    vote_id: int | None = None
    chat_id: int | None = None
    choice: str | None = None
    changed: bool = False


_GONE = N_("This button no longer works.")
_CLOSED = N_("This vote is closed. Presses no longer count.")
_NOT_NAMED = N_("Only the named voters can vote on this question.")
# Translators: {choice} is "For", "Against" or "Abstain".
VOTED = N_("You voted: {choice}.")
CHANGED = N_("Your vote is changed to: {choice}.")
KEPT = N_("You already voted: {choice}. Nothing changed.")
MAX_BATCH = 200


async def record_presses(session: AsyncSession, presses: Sequence[PressIn], now: datetime) -> list[PressOut]:
    """Record a batch of presses in one transaction (the caller commits); one result per press, in order.

    Every press is checked against the database: the vote must exist, belong to the network of the
    chat it was pressed in, be open, and (when restricted) name the presser. One ballot per voter is
    kept by the unique (vote, person) key with INSERT … ON CONFLICT DO UPDATE; presses of one person
    within the batch apply in order, so the last one wins. Pressing the same choice again writes
    nothing. A handful of statements serve the whole batch, which is what keeps a storm of presses
    cheap."""
    if not presses:
        return []
    if len(presses) > MAX_BATCH:
        raise ValueError("batch too large")
    chat_ids = {p.chat_id for p in presses}
    networks = {
        n.chat_id: n
        for n in (await session.scalars(select(m.Network).where(m.Network.chat_id.in_(chat_ids))))
    }
    person_rows: dict[int, dict[str, Any]] = {}
    for p in presses:
        person_rows[p.tg_id] = {
            "tg_id": p.tg_id,
            "first_name": (p.first_name or "").replace("\x00", "")[:128],
            "last_name": (p.last_name or None) and p.last_name.replace("\x00", "")[:128],
            "username": p.username,
            "tg_language": normalize_language(p.language_code),
            "reminder_minutes": "1440",
            "reachable": True,
            "created_at": now,
        }
    await session.execute(
        people.insert_for(session, m.Person.__table__)
        .values(list(person_rows.values()))
        .on_conflict_do_nothing(index_elements=["tg_id"])
    )
    persons = {
        p.tg_id: p for p in (await session.scalars(select(m.Person).where(m.Person.tg_id.in_(person_rows))))
    }
    # Pressing in a network's group makes one a member of it (as any update in the group does).
    member_rows = {
        (networks[p.chat_id].id, persons[p.tg_id].id)
        for p in presses
        if p.chat_id in networks and p.tg_id in persons
    }
    if member_rows:
        stmt = people.insert_for(session, m.Membership.__table__).values(
            [
                {
                    "network_id": nid,
                    "person_id": pid,
                    "is_member": True,
                    "is_coordinator": False,
                    "is_follower": False,
                    "created_at": now,
                }
                for nid, pid in sorted(member_rows)
            ]
        )
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["network_id", "person_id"], set_={"is_member": True})
        )
    vote_ids = {p.vote_id for p in presses if p.vote_id is not None}
    found = (
        {v.id: v for v in (await session.scalars(select(m.Vote).where(m.Vote.id.in_(vote_ids))))}
        if vote_ids
        else {}
    )
    person_ids = {pp.id for pp in persons.values()}
    restricted = [v.id for v in found.values() if v.restricted]
    named: set[tuple[int, int]] = set()
    if restricted:
        named = {
            (int(a), int(b))
            for a, b in await session.execute(
                select(m.VoteVoter.vote_id, m.VoteVoter.person_id).where(
                    m.VoteVoter.vote_id.in_(restricted), m.VoteVoter.person_id.in_(person_ids)
                )
            )
        }
    state: dict[tuple[int, int], str] = {}
    if found:
        for vid, pid, choice in await session.execute(
            select(m.Ballot.vote_id, m.Ballot.person_id, m.Ballot.choice).where(
                m.Ballot.vote_id.in_(list(found)), m.Ballot.person_id.in_(person_ids)
            )
        ):
            state[(int(vid), int(pid))] = str(choice)
    out: list[PressOut] = []
    changed_keys: dict[int, set[tuple[int, int]]] = {}
    for p in presses:
        network = networks.get(p.chat_id)
        person = persons.get(p.tg_id)
        lang = negotiate(
            person.language if person else None,
            person.tg_language if person else p.language_code,
            network.language if network else None,
        )
        vote = found.get(p.vote_id) if p.vote_id is not None else None
        choice = CHOICE_CODES.get(p.code)
        if vote is None or network is None or person is None or vote.network_id != network.id or not choice:
            out.append(PressOut(False, _GONE, lang))
            continue
        if vote.status != "open" or (vote.deadline is not None and now >= vote.deadline):
            out.append(PressOut(False, _CLOSED, lang))
            continue
        key = (vote.id, person.id)
        if vote.restricted and key not in named:
            out.append(PressOut(False, _NOT_NAMED, lang))
            continue
        previous = state.get(key)
        if previous == choice:
            out.append(PressOut(True, KEPT, lang, vote.id, vote.chat_id, choice, changed=False))
            continue
        state[key] = choice
        changed_keys.setdefault(vote.id, set()).add(key)
        out.append(
            PressOut(True, VOTED if previous is None else CHANGED, lang, vote.id, vote.chat_id, choice, True)
        )
    rows: list[dict[str, Any]] = []
    for vid, keys in changed_keys.items():
        # Bumping the revision of an open vote takes its row lock (PostgreSQL): a close running at the
        # same moment waits for these ballots and counts them, or this batch sees the vote closed.
        bumped = await session.execute(
            update(m.Vote)
            .where(m.Vote.id == vid, m.Vote.status == "open")
            .values(revision=m.Vote.revision + len(keys))
            .execution_options(synchronize_session=False)
        )
        if not bumped.rowcount:  # type: ignore[attr-defined]
            for r in out:
                if r.vote_id == vid and r.changed:
                    r.ok, r.message, r.changed = False, _CLOSED, False
            continue
        rows.extend(
            {"vote_id": v, "person_id": pid, "choice": state[(v, pid)], "updated_at": now}
            for v, pid in sorted(keys)
        )
    if rows:
        stmt = people.insert_for(session, m.Ballot.__table__).values(rows)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["vote_id", "person_id"],
                set_={"choice": stmt.excluded.choice, "updated_at": stmt.excluded.updated_at},
            )
        )
    return out


async def tally(session: AsyncSession, vote: m.Vote) -> Tally:
    """Counts and names per choice; a recorded hand count replaces the buttons' counts."""
    rows = await session.execute(
        select(m.Ballot.choice, m.Person)
        .join(m.Person, m.Person.id == m.Ballot.person_id)
        .where(m.Ballot.vote_id == vote.id)
        .order_by(m.Ballot.updated_at, m.Ballot.id)
    )
    names: dict[str, list[str]] = {c: [] for c in CHOICES}
    for choice, person in rows:
        if choice in names:
            names[choice].append(person.display_name)
    if vote.hand_for is not None:
        return Tally(vote.hand_for, vote.hand_against or 0, vote.hand_abstain or 0, names=names, by_hand=True)
    return Tally(len(names["for"]), len(names["against"]), len(names["abstain"]), names=names)


async def quorum_needed(session: AsyncSession, vote: m.Vote) -> int | None:
    """The votes needed: a number, or more than half of those recorded attending the meeting."""
    if vote.quorum_attending and vote.meeting_id is not None:
        attending = await session.scalar(
            select(func.count())
            .select_from(m.Attendance)
            .where(m.Attendance.meeting_id == vote.meeting_id, m.Attendance.status == "attending")
        )
        return int(attending or 0) // 2 + 1
    return vote.quorum


async def attending_count(session: AsyncSession, vote: m.Vote) -> int | None:
    if not vote.quorum_attending or vote.meeting_id is None:
        return None
    n = await session.scalar(
        select(func.count())
        .select_from(m.Attendance)
        .where(m.Attendance.meeting_id == vote.meeting_id, m.Attendance.status == "attending")
    )
    return int(n or 0)


# --- closing ---------------------------------------------------------------------------------


async def latest_open(session: AsyncSession, network: m.Network) -> m.Vote:
    vote = await session.scalar(
        select(m.Vote)
        .where(m.Vote.network_id == network.id, m.Vote.status == "open")
        .order_by(m.Vote.created_at.desc(), m.Vote.id.desc())
        .limit(1)
    )
    if vote is None:
        raise NotFound(N_("There is no open vote in this network."))
    return vote


async def find_vote(session: AsyncSession, network: m.Network, ref: str) -> m.Vote:
    ref = ref.strip().lstrip("#")
    if not ref.isdecimal() or len(ref) > 12:
        raise UserError(N_("Write the vote's number. Example: {example}"), example="/closevote 12")
    vote = await session.get(m.Vote, int(ref))
    if vote is None or vote.network_id != network.id:
        raise NotFound(N_("There is no vote {id} in this network."), id=ref)
    return vote


async def close_vote(
    session: AsyncSession, vote: m.Vote, now: datetime, *, closed_by: str
) -> tuple[Result, Tally, m.Decision]:
    """Close an open vote, apply its rule and write the decision. `closed_by`: coordinator | deadline |
    handcount."""
    # Only one closer wins (a coordinator and the deadline at the same moment); on PostgreSQL this
    # waits for presses holding the row, so every ballot committed before the close is counted.
    closed = await session.execute(
        update(m.Vote)
        .where(m.Vote.id == vote.id, m.Vote.status == "open")
        .values(status="closed", closed_at=now, revision=m.Vote.revision + 1)
        .execution_options(synchronize_session=False)
    )
    if not closed.rowcount:  # type: ignore[attr-defined]
        raise UserError(N_("Vote {id} is already closed."), id=vote.id)
    await session.refresh(vote)
    counts = await tally(session, vote)
    needed = await quorum_needed(session, vote)
    result = decide(vote.rule, counts.for_, counts.against, counts.abstain, needed)
    vote.outcome = result.outcome
    details: dict[str, Any] = {
        "for": counts.for_,
        "against": counts.against,
        "abstain": counts.abstain,
        "rule": vote.rule,
        "decided_by": result.decided_by,
        "quorum": needed,
        "attending": await attending_count(session, vote),
        "by_hand": counts.by_hand,
        "closed_by": closed_by,
    }
    decision = await record_decision(
        session,
        network_id=vote.network_id,
        kind="vote",
        text=vote.question,
        outcome=result.outcome,
        decided_at=now,
        meeting_id=vote.meeting_id,
        agenda_item_id=vote.agenda_item_id,
        vote_id=vote.id,
        details=details,
    )
    if closed_by != "deadline":
        await notices.cancel_pending(session, kind=CLOSE_KIND, ref_id=vote.id)
    return result, counts, decision


async def record_hand_count(
    session: AsyncSession, vote: m.Vote, for_: int, against: int, abstain: int, now: datetime
) -> tuple[Result, Tally, m.Decision]:
    """An in-room show of hands: its counts replace the buttons' and the vote closes."""
    if vote.status != "open":
        raise UserError(N_("Vote {id} is already closed."), id=vote.id)
    if for_ + against + abstain == 0:
        raise UserError(N_("No hands were counted. Example: {example}"), example="/handcount 12 14 3 1")
    vote.hand_for, vote.hand_against, vote.hand_abstain = for_, against, abstain
    await session.flush()
    return await close_vote(session, vote, now, closed_by="handcount")


async def decision_of(session: AsyncSession, vote: m.Vote) -> m.Decision | None:
    return await session.scalar(
        select(m.Decision)
        .where(m.Decision.vote_id == vote.id, m.Decision.kind == "vote")
        .order_by(m.Decision.id.desc())
        .limit(1)
    )


async def close_due(session: AsyncSession, vote_id: int, now: datetime) -> m.Vote | None:
    """The deadline notice: close the vote if it is still open. Returns the vote when its result is
    to be announced by this notice (also on a retry after a failed send), else None."""
    vote = await session.get(m.Vote, vote_id)
    if vote is None:
        return None
    if vote.status == "open":
        await close_vote(session, vote, now, closed_by="deadline")
        return vote
    decision = await decision_of(session, vote)
    if decision is not None and decision.details.get("closed_by") == "deadline":
        return vote
    return None
