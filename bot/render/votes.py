"""Votes and decisions -> text and keyboard, given a translator. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from bot.db import models as m
from bot.domain.vote_rules import CHOICES, CODE_OF, Result, Tally
from bot.i18n import N_, Raw, Translator
from bot.render.keyboard import Button, Keyboard, callback

LIMIT = 4000  # Telegram allows 4096; keep room for direction marks

CHOICE_LABELS = {
    # Translators: a voting button and a voter's choice: "I vote in favour".
    "for": N_("For"),
    # Translators: a voting button and a voter's choice: "I vote against".
    "against": N_("Against"),
    # Translators: a voting button and a voter's choice: "I neither vote for nor against".
    "abstain": N_("Abstain"),
}
CHOICE_ICONS = {"for": "✅", "against": "❌", "abstain": "⚪"}
RULE_LABELS = {
    "majority": N_("simple majority of votes cast"),
    "two_thirds": N_("two-thirds majority of votes for and against"),
}
OUTCOME_LABELS = {
    # Translators: result of a vote: the proposal was adopted (passed).
    "adopted": N_("Adopted"),
    # Translators: result of a vote: the proposal was not adopted (failed).
    "rejected": N_("Not adopted"),
    "tie": N_("Not adopted: a tie"),
    "no_quorum": N_("Not adopted: no quorum"),
    # Translators: status of a meeting's minutes: nobody objected in time, so they are approved.
    "approved": N_("Approved"),
    # Translators: status of a meeting's minutes: someone raised an objection to them (not "controversial").
    "disputed": N_("Disputed"),
}


def choice_label(t: Translator, choice: str) -> str:
    return t.plain(CHOICE_LABELS[choice])


def keyboard(vote: m.Vote, t: Translator) -> Keyboard | None:
    """For · Against · Abstain (in that order) while the vote is open; no buttons once closed."""
    if vote.status != "open":
        return None
    return [[Button(choice_label(t, c), callback("vote", vote.id, CODE_OF[c])) for c in CHOICES]]


def _rule_line(t: Translator, vote: m.Vote, quorum: int | None, attending: int | None) -> str:
    # Translators: {rule} is how a vote is decided, e.g. "simple majority of votes cast".
    line = t._("Rule: {rule}", rule=t.plain(RULE_LABELS.get(vote.rule, RULE_LABELS["majority"])))
    if attending is not None and quorum is not None:
        # Translators: {n} is the quorum in votes, {attending} how many people attend the meeting.
        line += " · " + t.n_(
            "quorum: {n} vote (more than half of {attending} attending)",
            "quorum: {n} votes (more than half of {attending} attending)",
            quorum,
            attending=attending,
        )
    elif quorum is not None:
        line += " · " + t.n_("quorum: {n} vote", "quorum: {n} votes", quorum)
    return line


def _names_lines(t: Translator, counts: Tally, cap: int | None) -> list[str]:
    lines = []
    for choice in CHOICES:
        names = counts.names.get(choice, [])
        count = {"for": counts.for_, "against": counts.against, "abstain": counts.abstain}[choice]
        shown = names if cap is None else names[:cap]
        listed = ", ".join(shown) or "—"
        # Translators: one line of a vote: {icon} is ✅/❌/⚪, {choice} "For"/"Against"/"Abstain", {count} a number.
        line = t._(
            "{icon} {choice} ({count}): {names}",
            icon=Raw(CHOICE_ICONS[choice]),
            choice=choice_label(t, choice),
            count=count,
            names=listed,
        )
        if len(names) > len(shown):
            # Translators: after a list of voters' names: "Amina, Yonas and 4 more" (more people).
            line += " " + t.n_("and {n} more", "and {n} more", len(names) - len(shown))
        lines.append(line)
    if counts.by_hand:
        lines.append(t._("Counted by show of hands in the room."))
    return lines


def _fit(head: list[str], t: Translator, counts: Tally, tail: list[str]) -> str:
    """The whole text within Telegram's length; long lists of names are cut with "and N more"."""
    cap: int | None = None
    while True:
        text = t.lines("\n".join([*head, *_names_lines(t, counts, cap), *tail]))
        if len(text) <= LIMIT or cap == 0:
            return text[:LIMIT]
        longest = max(len(v) for v in counts.names.values()) if counts.names else 0
        cap = longest // 2 if cap is None else cap // 2


def vote_text(
    vote: m.Vote,
    counts: Tally,
    t: Translator,
    tz: str,
    *,
    quorum: int | None = None,
    attending: int | None = None,
) -> str:
    head = [
        t._("🗳 <b>Vote {id}</b>: {question}", id=vote.id, question=vote.question),
        _rule_line(t, vote, quorum, attending),
    ]
    if vote.restricted:
        head.append(t._("Only the named voters can vote."))
    if vote.status == "open" and vote.deadline is not None:
        # Translators: {when} is the date and time when voting ends, e.g. "Thursday 3 December 2026 17:00".
        head.append(t._("Closes {when}.", when=t.when(vote.deadline, tz)))
    head.append("")
    tail = [""]
    if vote.status == "open":
        tail.append(t._("Open vote: everyone sees whose hand is up. Press again to change your vote."))
    else:
        outcome = t.plain(OUTCOME_LABELS.get(vote.outcome or "", OUTCOME_LABELS["rejected"]))
        # Translators: {outcome} is a vote's result, e.g. "Adopted".
        tail.append(t._("<b>Closed.</b> Result: {outcome}", outcome=outcome))
    return _fit(head, t, counts, tail)


def decided_by_text(t: Translator, result: Result, attending: int | None) -> str:
    if result.decided_by == "quorum":
        if attending is not None:
            # Translators: {n} is the quorum in votes, {attending} how many people attend the meeting.
            return t.n_(
                "Decided by the quorum: fewer than {n} vote was cast (more than half of {attending} attending).",
                "Decided by the quorum: fewer than {n} votes were cast (more than half of {attending} attending).",
                result.quorum_needed or 0,
                attending=attending,
            )
        return t.n_(
            "Decided by the quorum: fewer than {n} vote was cast.",
            "Decided by the quorum: fewer than {n} votes were cast.",
            result.quorum_needed or 0,
        )
    if result.decided_by == "two_thirds":
        return t._("Decided by the rule of a two-thirds majority of votes for and against.")
    return t._("Decided by the rule of a simple majority of votes cast (abstentions do not count).")


def result_text(
    vote: m.Vote, result: Result, counts: Tally, t: Translator, *, attending: int | None = None
) -> str:
    outcome = t.plain(OUTCOME_LABELS.get(result.outcome, OUTCOME_LABELS["rejected"]))
    lines = [
        t._("🗳 <b>Result of vote {id}</b>: {question}", id=vote.id, question=vote.question),
        # Translators: {outcome} is a vote's result, e.g. "Adopted" or "Not adopted: no quorum".
        t._("<b>{outcome}</b>", outcome=outcome),
        # Translators: vote counts: {for_}, {against} and {abstain} are numbers of votes.
        t._(
            "For {for_} · Against {against} · Abstain {abstain}",
            for_=counts.for_,
            against=counts.against,
            abstain=counts.abstain,
        ),
        decided_by_text(t, result, attending),
    ]
    if counts.by_hand:
        lines.append(t._("Counted by show of hands in the room."))
    lines.append(t._("Recorded in the decisions log: /decisions"))
    return t.lines("\n".join(lines))


def decision_line(d: m.Decision, t: Translator, tz: str, network_name: str | None = None) -> str:
    outcome = t.plain(OUTCOME_LABELS.get(d.outcome, d.outcome))
    when = t.day(d.decided_at, tz)
    details = d.details or {}
    if d.kind == "vote":
        # Translators: a decision in the list: {outcome} is "Adopted" or "Not adopted", {text} the question.
        line = t._("<b>{date}</b> · {outcome}: {text}", date=when, outcome=outcome, text=d.text)
        if "for" in details:
            # Translators: vote counts: {for_}, {against} and {abstain} are numbers of votes.
            line += "\n    " + t._(
                "For {for_} · Against {against} · Abstain {abstain}",
                for_=int(details.get("for") or 0),
                against=int(details.get("against") or 0),
                abstain=int(details.get("abstain") or 0),
            )
    else:
        # Translators: minutes in the list of decisions: {outcome} is "Approved" or "Disputed".
        line = t._("<b>{date}</b> · Minutes {outcome}: {text}", date=when, outcome=outcome, text=d.text)
    if d.meeting_id is not None:
        line += " " + t._("(meeting {id})", id=d.meeting_id)
    if network_name:
        line += " — " + t.own(network_name)
    return line


def decisions_text(
    decisions: Sequence[m.Decision],
    t: Translator,
    tz_of: dict[int, str],
    name_of: dict[int, str] | None,
    *,
    words: str,
    page: int,
) -> str:
    if not decisions:
        if words:
            return t._("No decisions match “{words}”.", words=words)
        return t._("No decisions have been recorded yet.")
    head = (
        t._("<b>Decisions matching “{words}”</b> (page {page})", words=words, page=page)
        if words
        else t._("<b>Decisions</b>, newest first (page {page})", page=page)
    )
    lines = [head, ""]
    for d in decisions:
        lines.append(
            decision_line(
                d, t, tz_of.get(d.network_id, "Europe/Copenhagen"), (name_of or {}).get(d.network_id)
            )
        )
    return t.lines("\n".join(lines))[:LIMIT]
