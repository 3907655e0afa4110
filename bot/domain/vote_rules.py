"""What a vote is and how its one-line form is read: the choices, the rules (majority, two-thirds,
quorum) and deciding by them, parsing `/vote … | until … | rule | quorum`, hand counts and the network's
defaults. Opening, ballots and closing: bot.domain.votes."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import people, vote_words
from bot.domain.errors import NotFound, UserError
from bot.i18n import N_, Phrase

CHOICES = ("for", "against", "abstain")
# One letter in callback data keeps it short: `vote:{id}:f`.
CHOICE_CODES = {"f": "for", "a": "against", "x": "abstain"}
CODE_OF = {v: k for k, v in CHOICE_CODES.items()}
RULES = ("majority", "two_thirds")
CLOSE_KIND = "vote_close"
MAX_QUESTION = 300
MAX_VOTERS = 200
MAX_HANDS = 100_000

EXAMPLE = N_("/vote Shall we hold the summer party on 21 June? | until Friday 18:00 | two-thirds | quorum 5")


@dataclass
class VoteOptions:
    """What a coordinator may add after the question, each in its own `| …` field."""

    deadline: datetime | None = None
    rule: str | None = None  # None: the network's default
    quorum: int | None = None
    quorum_attending: bool = False
    voters: list[int] = field(default_factory=list)  # person ids; empty: every member
    agenda_item_id: int | None = None
    meeting_id: int | None = None


@dataclass(frozen=True)
class Tally:
    for_: int
    against: int
    abstain: int
    names: dict[str, list[str]] = field(default_factory=dict)
    by_hand: bool = False

    @property
    def cast(self) -> int:
        return self.for_ + self.against + self.abstain


@dataclass(frozen=True)
class Result:
    outcome: str  # adopted | rejected | tie | no_quorum
    decided_by: str  # majority | two_thirds | quorum
    quorum_needed: int | None


# --- the rules (pure) ------------------------------------------------------------------------


def decide(rule: str, for_: int, against: int, abstain: int, quorum_needed: int | None = None) -> Result:
    """Apply a rule to counts. Abstentions count towards the quorum but not towards the majority.

    majority: adopted when more vote for than against; two_thirds: adopted when those for are at least
    two thirds of those for and against. Equal for and against is a tie, which is never adopted."""
    cast = for_ + against + abstain
    if quorum_needed is not None and cast < quorum_needed:
        return Result("no_quorum", "quorum", quorum_needed)
    if for_ == against:
        return Result("tie", rule, quorum_needed)
    adopted = 3 * for_ >= 2 * (for_ + against) if rule == "two_thirds" else for_ > against
    return Result("adopted" if adopted else "rejected", rule, quorum_needed)


# --- parsing the one-line form ----------------------------------------------------------------


def parse_rule(text: str) -> str | None:
    return vote_words.rule(text)


def parse_quorum_number(text: str) -> int:
    text = text.strip()
    if not text.isdecimal() or not 1 <= int(text) <= 10_000:
        raise UserError(
            N_(
                "The quorum must be a whole number of votes from 1 to 10000, or “attending”. Example: {example}"
            ),
            example=Phrase(N_("| quorum 5")),
        )
    return int(text)


async def parse_options(
    session: AsyncSession,
    network: m.Network,
    fields: Sequence[str],
    now: datetime,
    lang: str | None,
) -> VoteOptions:
    """Parse `until …`, `two-thirds`, `quorum 5`, `quorum attending`, `voters @a @b`, `item 7`."""
    from bot.domain.when import parse_when

    opts = VoteOptions()
    for raw in fields:
        text = " ".join(raw.split())
        if not text:
            continue
        found = vote_words.keyword(text)
        key, rest = found if found is not None else ("", "")
        if key == "until":
            if not rest:
                raise UserError(
                    N_("Write when the vote closes. Example: {example}"),
                    example=Phrase(N_("| until Friday 18:00")),
                )
            opts.deadline = parse_when(rest, network.timezone, now, lang)
        elif parse_rule(text) is not None:
            opts.rule = parse_rule(text)
        elif key == "quorum":
            if vote_words.is_attending(rest):
                opts.quorum_attending = True
                opts.quorum = None
            else:
                opts.quorum = parse_quorum_number(rest)
                opts.quorum_attending = False
        elif key == "voters":
            refs = rest.replace(",", " ").replace("،", " ").split()
            if not refs:
                raise UserError(
                    N_("Name the voters. Example: {example}"),
                    example=Phrase(N_("| voters @mette @yonas @amal")),
                )
            if len(refs) > MAX_VOTERS:
                raise UserError(N_("At most {limit} named voters."), limit=MAX_VOTERS)
            ids: list[int] = []
            for ref in refs:
                person = await people.find_person_in_network(session, network, ref)
                if person.id not in ids:
                    ids.append(person.id)
            opts.voters = ids
        elif key == "item":
            opts.agenda_item_id, opts.meeting_id = await _agenda_item(session, network, rest)
        elif key == "meeting":
            opts.meeting_id = await _meeting(session, network, rest)
        else:
            raise UserError(
                N_("I did not understand “{text}”. Example: {example}"),
                text=text[:60],
                example=Phrase(EXAMPLE),
            )
    if opts.quorum_attending and opts.meeting_id is None:
        raise UserError(
            N_("“quorum attending” needs a meeting: add the agenda item, for example: {example}"),
            example=Phrase(N_("| item 12 | quorum attending")),
        )
    return opts


async def _agenda_item(session: AsyncSession, network: m.Network, text: str) -> tuple[int, int]:
    ref = text.strip().lstrip("#")
    if not ref.isdecimal() or len(ref) > 12:
        raise UserError(
            N_("Write the agenda item's number. Example: {example}"), example=Phrase(N_("| item 12"))
        )
    row = (
        await session.execute(
            select(m.AgendaItem.id, m.AgendaItem.meeting_id)
            .join(m.Meeting, m.Meeting.id == m.AgendaItem.meeting_id)
            .where(m.AgendaItem.id == int(ref), m.Meeting.network_id == network.id)
        )
    ).first()
    if row is None:
        raise NotFound(N_("There is no agenda item {id} in this network. /agenda shows them."), id=ref)
    return int(row[0]), int(row[1])


async def _meeting(session: AsyncSession, network: m.Network, text: str) -> int:
    ref = text.strip().lstrip("#")
    if not ref.isdecimal() or len(ref) > 12:
        raise UserError(
            N_("Write the meeting's number. Example: {example}"), example=Phrase(N_("| meeting 3"))
        )
    meeting_id = await session.scalar(
        select(m.Meeting.id).where(m.Meeting.id == int(ref), m.Meeting.network_id == network.id)
    )
    if meeting_id is None:
        raise NotFound(N_("There is no meeting {id} in this network. /meetings shows them."), id=ref)
    return int(meeting_id)


def parse_hands(words: Sequence[str]) -> tuple[str, int, int, int]:
    """`{id} {for} {against} {abstain}` with whole numbers."""
    if len(words) != 4 or not all(w.isdecimal() and len(w) <= 6 for w in words):
        raise UserError(
            N_("Write the vote's number and three counts: for, against, abstain. Example: {example}"),
            example="/handcount 12 14 3 1",
        )
    vote_ref, *counts = words
    for_, against, abstain = (int(c) for c in counts)
    if max(for_, against, abstain) > MAX_HANDS:
        raise UserError(N_("Those numbers are too large. Example: {example}"), example="/handcount 12 14 3 1")
    return vote_ref, for_, against, abstain


async def set_network_defaults(network: m.Network, words: Sequence[str]) -> None:
    """`/settings vote two-thirds`, `/settings vote majority`, `/settings vote quorum 5|none`."""
    text = " ".join(words).strip().lower()
    rule = parse_rule(text)
    if rule is not None:
        network.vote_rule = rule
        return
    match = re.fullmatch(r"quorum\s+(\S+)", text)
    if match:
        value = match.group(1)
        if value in ("none", "off", "ingen", "-", "0"):
            network.vote_quorum = None
        else:
            network.vote_quorum = parse_quorum_number(value)
        return
    raise UserError(
        N_("Write a rule or a quorum. Examples: {example}"),
        example="/settings vote two-thirds · /settings vote majority · /settings vote quorum 5",
    )
