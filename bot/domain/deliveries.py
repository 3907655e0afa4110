"""Messages that could not be delivered, shown to the network's coordinators.

A notice ends `failed` when Telegram kept failing (5xx, timeouts: after the dispatcher's bounded
retries), refused it (400), or the person blocked the bot (403: the person is marked unreachable and
not written to again). Coordinators see the latest failures with `/deliveries`; and when a network
had failures on a day, the next morning one summary goes to the network's group (counts only, no
names: the group is read by members too) through the delivery engine, once per network and day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.i18n import N_, Translator
from bot.schedule.notices import Rendered, enqueue, renderer

SUMMARY = "delivery_summary"
# The summary of a day goes out the next morning at this local time.
SUMMARY_AT = time(9, 0)
# Failures that are not news: the person was already known to have blocked the bot.
_QUIET_ERRORS = ("unreachable",)

_KIND_LABELS: dict[str, str] = {
    # Translators: kind of message in a delivery report: a message sent to all followers of a network.
    "broadcast": N_("Broadcast"),
    "broadcast_progress": N_("Broadcast progress"),
    "event_reminder": N_("Event reminder"),
    "event_new": N_("New event"),
    "event_card": N_("Event card"),
    "event_cancelled": N_("Event cancelled"),
    "event_changed": N_("Event changed"),
    SUMMARY: N_("Delivery report"),
}


def kind_label(t: Translator, kind: str) -> str:
    label = _KIND_LABELS.get(kind)
    if label is None:
        if kind.startswith("mtg_"):
            # Translators: kind of message in a delivery report: a notice (not an invitation) about a meeting.
            label = N_("Meeting notice")
        elif kind.startswith("vote"):
            # Translators: kind of message in a delivery report: a message about a vote (noun).
            label = N_("Vote")
        else:
            # Translators: kind of message in a delivery report: any other notice.
            label = N_("Notice")
    return t.plain(label)


def reason(t: Translator, error: str | None, attempts: int) -> str:
    err = error or ""
    if err in ("forbidden", "unreachable"):
        return t.plain("they blocked the bot")
    if err.startswith("bad request"):
        return t.plain("Telegram refused the message")
    if err in ("render error", "action error"):
        return t.plain("the bot could not prepare the message")
    return t.nplain(
        "Telegram kept failing ({n} attempt)",
        "Telegram kept failing ({n} attempts)",
        attempts,
    )


@dataclass
class Failure:
    kind: str
    at: datetime | None
    recipient: str
    error: str | None
    attempts: int


async def note_failures(session: AsyncSession, network_ids: Iterable[int], now: datetime) -> None:
    """Plan the summary of the day of `now` (network's local day) for each network (idempotent)."""
    ids = sorted(set(network_ids))
    if not ids:
        return
    rows = (
        await session.execute(
            select(m.Network.id, m.Network.chat_id, m.Network.timezone).where(m.Network.id.in_(ids))
        )
    ).all()
    for network_id, chat_id, tz_name in rows:
        tz = ZoneInfo(tz_name)
        day = now.astimezone(tz).date()
        due = datetime.combine(day + timedelta(days=1), SUMMARY_AT, tzinfo=tz)
        await enqueue(
            session,
            kind=SUMMARY,
            dedup_key=f"dlvsum:{network_id}:{day.isoformat()}",
            chat_id=chat_id,
            due_at=due,
            network_id=network_id,
            payload={"day": day.isoformat()},
        )


def _failed(network_id: int) -> list[object]:
    return [
        m.Notice.network_id == network_id,
        m.Notice.state == "failed",
        m.Notice.kind != SUMMARY,
        m.Notice.last_error.is_(None) | m.Notice.last_error.not_in(_QUIET_ERRORS),
    ]


async def recent_failures(session: AsyncSession, network_id: int, limit: int = 10) -> Sequence[Failure]:
    rows = (
        await session.execute(
            select(m.Notice, m.Person)
            .outerjoin(m.Person, m.Person.id == m.Notice.person_id)
            .where(*_failed(network_id))  # type: ignore[arg-type]
            .order_by(m.Notice.claimed_at.desc(), m.Notice.id.desc())
            .limit(limit)
        )
    ).all()
    out = []
    for notice, person in rows:
        recipient = person.display_name if person is not None else str(notice.chat_id)
        out.append(Failure(notice.kind, notice.claimed_at, recipient, notice.last_error, notice.attempts))
    return out


async def count_failures(
    session: AsyncSession, network_id: int, start: datetime, end: datetime
) -> dict[str, int]:
    rows = await session.execute(
        select(m.Notice.kind, func.count())
        .where(*_failed(network_id), m.Notice.claimed_at >= start, m.Notice.claimed_at < end)  # type: ignore[arg-type]
        .group_by(m.Notice.kind)
    )
    return {kind: int(n) for kind, n in rows}


async def unreachable_followers(session: AsyncSession, network_id: int) -> int:
    n = await session.scalar(
        select(func.count())
        .select_from(m.Membership)
        .join(m.Person, m.Person.id == m.Membership.person_id)
        .where(
            m.Membership.network_id == network_id,
            m.Membership.is_follower.is_(True),
            m.Person.reachable.is_(False),
        )
    )
    return int(n or 0)


def report_text(t: Translator, network: m.Network, failures: Sequence[Failure], unreachable: int) -> str:
    """What `/deliveries` shows a coordinator."""
    lines = [t._("📮 <b>Deliveries of {network}</b>", network=network.name)]
    if not failures:
        lines.append(t._("No message has failed lately."))
    else:
        lines.append(t._("Latest messages that could not be delivered:"))
        for f in failures:
            when = t.when(f.at, network.timezone) if f.at is not None else "—"
            lines.append(
                # Translators: one failed message: {kind} is its kind ("Event reminder"), {name} the person,
                # {reason} why Telegram refused it (e.g. "blocked the bot").
                t._(
                    "• {kind}, {when}, to {name}: {reason}",
                    kind=kind_label(t, f.kind),
                    when=when,
                    name=f.recipient,
                    reason=reason(t, f.error, f.attempts),
                )
            )
    lines.append(
        t.n_(
            "{n} follower has blocked the bot and gets nothing until they write to it again.",
            "{n} followers have blocked the bot and get nothing until they write to it again.",
            unreachable,
        )
    )
    return "\n".join(lines)


@renderer(SUMMARY)
async def render_summary(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    network = await session.get(m.Network, notice.network_id) if notice.network_id else None
    if network is None:
        return None
    tz = ZoneInfo(network.timezone)
    day = date.fromisoformat(str(notice.payload.get("day")))
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    counts = await count_failures(session, network.id, start, end)
    total = sum(counts.values())
    if not total:
        return None
    lines = [
        # Translators: to coordinators; {day} is a date, {n} the number of messages that failed.
        t.n_(
            "📮 Delivery report for {day}: {n} message could not be delivered.",
            "📮 Delivery report for {day}: {n} messages could not be delivered.",
            total,
            day=t.day(day),
        )
    ]
    for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        # Translators: {kind} is a kind of message ("Broadcast", "Event reminder"), {n} how many were sent.
        lines.append(t._("• {kind}: {n}", kind=kind_label(t, kind), n=n))
    unreachable = await unreachable_followers(session, network.id)
    if unreachable:
        lines.append(
            t.n_(
                "{n} follower has blocked the bot.",
                "{n} followers have blocked the bot.",
                unreachable,
            )
        )
    lines.append(t._("Coordinators: /deliveries shows the details."))
    return Rendered("\n".join(lines))
