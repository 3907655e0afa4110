"""Meetings, agendas, attendance and minutes as text + keyboard, and the renderers of their notices.

Text builders are pure (model -> text, given a Translator). The notice renderers at the bottom look the
current state up when a notice is sent, so every reader gets it in their language, as it is now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import agenda as ag
from bot.domain import attachments
from bot.domain import meetings as mt
from bot.domain.people import DEFAULT_STANDING_ITEMS
from bot.i18n import Raw, Translator, isolate
from bot.render import between
from bot.render.help import interpreter_button  # issue 13
from bot.render.keyboard import Button, Keyboard, callback
from bot.render.text import esc
from bot.schedule.notices import Rendered, memo, renderer

DEFAULT_TITLES = {title for title, _ in DEFAULT_STANDING_ITEMS}
RLM = "\u200f"


def standing_title(t: Translator, item: m.StandingItem) -> str:
    """The default standing items read in each reader's language; others as the coordinators wrote them."""
    return t._(item.title) if item.title in DEFAULT_TITLES else t.own(item.title)


def when(t: Translator, network: m.Network, moment: datetime) -> str:
    return t.when(moment, network.timezone)


def meeting_line(t: Translator, network: m.Network, meeting: m.Meeting) -> Raw:
    """Safe HTML (Raw): used as a placeholder value in other messages, it is not escaped twice."""
    if meeting.place:
        return Raw(
            t._(
                "{when}, {place} (meeting {id})",
                when=when(t, network, meeting.starts_at),
                place=meeting.place,
                id=meeting.id,
            )
        )
    return Raw(t._("{when} (meeting {id})", when=when(t, network, meeting.starts_at), id=meeting.id))


def next_dates(t: Translator, network: m.Network, meetings: Sequence[m.Meeting]) -> str:
    """'Next meetings: …' — the networks want future dates on every notice."""
    if not meetings:
        return t._("No further meetings are planned yet.")
    dates = ("؛ " if t.lang == "ar" else "; ").join(t.when(x.starts_at, network.timezone) for x in meetings)
    # Translators: {dates} is a list of dates and times, separated by semicolons.
    return t._("Next meetings: {dates}", dates=dates)


def attendance_keyboard(t: Translator, meeting: m.Meeting) -> Keyboard:
    return [
        [
            # Translators: meeting answer button: "I will attend the meeting".
            Button(t.plain("Attending"), callback("attendance", meeting.id, "a")),
            # Translators: meeting answer button: "I cannot come (and send my apologies)"; not "sorry".
            Button(t.plain("Regrets"), callback("attendance", meeting.id, "r")),
            # Translators: meeting answer button: "I cannot come; a substitute (stand-in) comes in my place".
            Button(t.plain("Substitute"), callback("attendance", meeting.id, "s")),
        ],
        [interpreter_button(t, "m", meeting.id)],  # issue 13
    ]


def objection_keyboard(t: Translator, meeting: m.Meeting) -> Keyboard:
    # Translators: button under a meeting's minutes: "I object to these minutes" (a verb, not "thing").
    return [[Button(t.plain("Object"), callback("minutes_object", meeting.id, ""))]]


def agenda_lines(
    t: Translator,
    standing: Sequence[m.StandingItem],
    items: Sequence[m.AgendaItem],
    names: dict[int, str],
    files: dict[int, list[str]] | None = None,
) -> list[str]:
    """Standing items in their place, accepted items numbered, late ones marked, undecided ones apart;
    an item's files (bot.domain.attachments) marked 📎 with their names."""
    accepted = [i for i in items if i.status == "accepted"]
    pending = [i for i in items if i.status == "pending"]
    entries: list[str] = []
    for s in standing:
        if s.placement == "start":
            entries.append(standing_title(t, s))
    for item in accepted:
        entries.append(item_text(t, item, names, files))
    for s in standing:
        if s.placement != "start":
            entries.append(standing_title(t, s))
    lines = [f"{t.number(n)}. {text}" for n, text in enumerate(entries, start=1)]
    if pending:
        lines.append("")
        lines.append(t._("<i>Late items waiting for the coordinators:</i>"))
        lines.extend(f"• {item_text(t, item, names, files)}" for item in pending)
    return lines


def item_text(
    t: Translator, item: m.AgendaItem, names: dict[int, str], files: dict[int, list[str]] | None = None
) -> str:
    who = names.get(item.submitter_id or 0)
    text = t._("{title} — presented by {name}", title=item.title, name=who) if who else t.own(item.title)
    if item.late:
        # Translators: after an agenda item's title: it was sent in after the deadline.
        text += " " + t._("(late)")
    if item.description:
        text += "\n    <i>" + t.own(item.description) + "</i>"
    if files and files.get(item.id):
        names_ = ", ".join(esc(name) for name in files[item.id])
        # Right-to-left readers: the line starts right-to-left, the (Latin) names keep their order.
        text += "\n    " + (f"{RLM}📎 {isolate(names_)}" if t.rtl else f"📎 {names_}")
    return text


def agenda_text(
    t: Translator,
    network: m.Network,
    meeting: m.Meeting,
    standing: Sequence[m.StandingItem],
    items: Sequence[m.AgendaItem],
    names: dict[int, str],
    files: dict[int, list[str]] | None = None,
) -> str:
    lines = [
        t._("<b>Agenda of {network}</b>", network=network.name),
        meeting_line(t, network, meeting),
        "",
        *agenda_lines(t, standing, items, names, files),
    ]
    return t.lines("\n".join(lines))


def attendance_text(
    t: Translator, network: m.Network, meeting: m.Meeting, who: dict[str, list[m.Person]]
) -> str:
    def names(status: str) -> str:
        return ", ".join(p.display_name for p in who.get(status, [])) or "—"

    return t.lines(
        "\n".join(
            [
                t._("<b>Attendance</b> — {meeting}", meeting=meeting_line(t, network, meeting)),
                t.n_(
                    "{n} attending: {names}",
                    "{n} attending: {names}",
                    len(who["attending"]),
                    names=names("attending"),
                ),
                t.n_(
                    "{n} sent regrets: {names}",
                    "{n} sent regrets: {names}",
                    len(who["regrets"]),
                    names=names("regrets"),
                ),
                t.n_(
                    "{n} substitute: {names}",
                    "{n} substitutes: {names}",
                    len(who["substitute"]),
                    names=names("substitute"),
                ),
            ]
        )
    )


# --- notice renderers ---------------------------------------------------------------------------


async def _names(session: AsyncSession, items: Sequence[m.AgendaItem]) -> dict[int, str]:
    out: dict[int, str] = {}
    for item in items:
        if item.submitter_id and item.submitter_id not in out:
            person = await session.get(m.Person, item.submitter_id)
            if person is not None:
                out[person.id] = person.display_name
    return out


async def full_agenda(
    session: AsyncSession, t: Translator, network: m.Network, meeting: m.Meeting
) -> list[str]:
    standing = await ag.standing_items(session, network.id)
    items = await ag.items_of(session, meeting.id)
    # Once per rendering batch (bot.schedule.notices.memo): the same for every reader.
    files = await memo(
        session, ("agenda_files", meeting.id), lambda: attachments.file_names(session, [i.id for i in items])
    )
    return agenda_lines(t, standing, items, await _names(session, items), files)


async def _live_meeting(session: AsyncSession, notice: m.Notice) -> tuple[m.Meeting, m.Network] | None:
    meeting = await session.get(m.Meeting, notice.ref_id) if notice.ref_id else None
    if meeting is None or meeting.status != "scheduled":
        return None
    network = await session.get(m.Network, meeting.network_id)
    if network is None:
        return None
    return meeting, network


@renderer(mt.KIND_STAGE)
async def render_stage(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _live_meeting(session, notice)
    if found is None:
        return None
    meeting, network = found
    if notice.payload.get("ts") != mt.stamp(meeting):
        return None  # planned for a time the meeting no longer has
    stage = str(notice.payload.get("stage"))
    # When it is being sent (the claim's time): after downtime a stage may be overtaken by the next.
    at = notice.claimed_at or notice.due_at
    if mt.stage_over(meeting, network, stage, at):
        return None
    deadline = mt.deadline_of(meeting, network)
    head = meeting_line(t, network, meeting)
    lines: list[str]
    if stage == "call" and deadline <= at:
        # Planned after its deadline: items are closed already, so the call carries the agenda.
        lines = [
            t._("<b>Meeting of {network}</b>", network=network.name),
            head,
            "",
            t._("Items sent from now on go to the coordinators, who accept or decline them."),
            "",
            *await full_agenda(session, t, network, meeting),
        ]
    elif stage == "call":
        lines = [
            t._("<b>Meeting of {network}</b>", network=network.name),
            head,
            "",
            t._(
                "Send items for the agenda with /additem by {deadline}. Later items go to the coordinators.",
                deadline=when(t, network, deadline),
            ),
        ]
    elif stage == "callrem":
        lines = [
            t._("<b>Reminder: agenda items for {network}</b>", network=network.name),
            head,
            "",
            t._(
                "Items for the agenda are due by {deadline}. Send them with /additem.",
                deadline=when(t, network, deadline),
            ),
        ]
    elif stage == "closed":
        lines = [
            t._("<b>Agenda items are closed</b> — {network}", network=network.name),
            head,
            "",
            t._("Items sent from now on go to the coordinators, who accept or decline them."),
            "",
            *await full_agenda(session, t, network, meeting),
        ]
    elif stage == "final":
        lines = [
            t._("<b>Final agenda of {network}</b>", network=network.name),
            head,
            "",
            *await full_agenda(session, t, network, meeting),
            # Open action items and the working groups' decisions (bot/render/between.py).
            *await between.final_agenda_sections(session, t, network, meeting, at),
        ]
    elif stage == "daybefore":
        lines = [
            t._("<b>Tomorrow: meeting of {network}</b>", network=network.name),
            head,
            "",
            *await full_agenda(session, t, network, meeting),
        ]
    else:
        return None
    upcoming = await mt.upcoming(session, [network.id], notice.due_at, 4)
    lines += ["", next_dates(t, network, upcoming), t._("Will you come? Answer with the buttons.")]
    return Rendered("\n".join(lines), attendance_keyboard(t, meeting))


@renderer(mt.KIND_MOVED)
async def render_moved(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _live_meeting(session, notice)
    if found is None:
        return None  # cancelled since: the cancellation is told instead
    meeting, network = found
    if notice.payload.get("ts") != mt.stamp(meeting) or meeting.starts_at <= (
        notice.claimed_at or notice.due_at
    ):
        return None  # moved again since (that move is told instead), or already past
    old = datetime.fromisoformat(str(notice.payload["from"]))
    lines = [
        t._("<b>The meeting of {network} has moved</b>", network=network.name),
        meeting_line(t, network, meeting),
        t._("It was planned for {when}.", when=when(t, network, old)),
        "",
    ]
    deadline = mt.deadline_of(meeting, network)
    if deadline > notice.due_at:
        lines.append(
            t._(
                "Send items for the agenda with /additem by {deadline}. Later items go to the coordinators.",
                deadline=when(t, network, deadline),
            )
        )
    else:
        # Too close for the call (and perhaps the final agenda) to go out on time: the agenda now.
        lines += [
            t._("<b>Agenda of {network}</b>", network=network.name),
            *await full_agenda(session, t, network, meeting),
        ]
    upcoming = await mt.upcoming(session, [network.id], notice.due_at, 4)
    lines += ["", next_dates(t, network, upcoming), t._("Will you come? Answer with the buttons.")]
    return Rendered("\n".join(lines), attendance_keyboard(t, meeting))


@renderer(mt.KIND_CANCELLED)
async def render_cancelled(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    meeting = await session.get(m.Meeting, notice.ref_id) if notice.ref_id else None
    if meeting is None or meeting.status != "cancelled":
        return None
    network = await session.get(m.Network, meeting.network_id)
    if network is None:
        return None
    upcoming = await mt.upcoming(session, [network.id], notice.due_at, 4)
    lines = [
        t._("<b>The meeting of {network} is cancelled</b>", network=network.name),
        meeting_line(t, network, meeting),
        "",
        next_dates(t, network, upcoming),
    ]
    return Rendered(t.lines("\n".join(lines)))


@renderer(mt.KIND_LATE)
async def render_late(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    item = await session.get(m.AgendaItem, notice.ref_id) if notice.ref_id else None
    if item is None or item.status != "pending":
        return None
    meeting = await session.get(m.Meeting, item.meeting_id)
    network = await session.get(m.Network, meeting.network_id) if meeting else None
    if meeting is None or network is None or meeting.status != "scheduled":
        return None
    names = await _names(session, [item])
    text = "\n".join(
        [
            t._("<b>A late agenda item</b> for {meeting}", meeting=meeting_line(t, network, meeting)),
            item_text(t, item, names),
            "",
            t._("It came after the deadline. Accept it onto the agenda?"),
        ]
    )
    keyboard = [
        [
            # Translators: button for coordinators: accept an agenda item that came in after the deadline.
            Button(t.plain("Accept"), callback("late_item_decide", item.id, "a")),
            # Translators: button for coordinators: refuse an agenda item that came in after the deadline.
            Button(t.plain("Decline"), callback("late_item_decide", item.id, "d")),
        ]
    ]
    return Rendered(text, keyboard)


@renderer(mt.KIND_ITEM_DECIDED)
async def render_item_decided(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    item = await session.get(m.AgendaItem, notice.ref_id) if notice.ref_id else None
    if item is None or item.status not in ("accepted", "declined"):
        return None
    meeting = await session.get(m.Meeting, item.meeting_id)
    network = await session.get(m.Network, meeting.network_id) if meeting else None
    if meeting is None or network is None:
        return None
    if item.status == "accepted":
        text = t._(
            "Your late item “{title}” was accepted onto the agenda of {meeting}.",
            title=item.title,
            meeting=meeting_line(t, network, meeting),
        )
    else:
        text = t._(
            "Your late item “{title}” was not taken onto the agenda of {meeting}. You can send it for the next meeting.",
            title=item.title,
            meeting=meeting_line(t, network, meeting),
        )
    return Rendered(text)
