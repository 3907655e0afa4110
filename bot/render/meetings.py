"""Meetings, agendas, attendance and minutes as text + keyboard, and the renderers of their notices.

Text builders are pure (model -> text, given a Translator). The notice renderers at the bottom look the
current state up when a notice is sent, so every reader gets it in their language, as it is now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.bidi import isolate_lines
from bot.db import models as m
from bot.domain import agenda as ag
from bot.domain import meetings as mt
from bot.domain import minutes as mn
from bot.domain.people import DEFAULT_STANDING_ITEMS
from bot.i18n import Raw, Translator
from bot.render.help import interpreter_button  # issue 13
from bot.render.keyboard import Button, Keyboard, callback
from bot.render.text import esc
from bot.schedule.notices import Rendered, renderer

DEFAULT_TITLES = {title for title, _ in DEFAULT_STANDING_ITEMS}


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
) -> list[str]:
    """Standing items in their place, accepted items numbered, late ones marked, undecided ones apart."""
    accepted = [i for i in items if i.status == "accepted"]
    pending = [i for i in items if i.status == "pending"]
    entries: list[str] = []
    for s in standing:
        if s.placement == "start":
            entries.append(standing_title(t, s))
    for item in accepted:
        entries.append(item_text(t, item, names))
    for s in standing:
        if s.placement != "start":
            entries.append(standing_title(t, s))
    lines = [f"{t.number(n)}. {text}" for n, text in enumerate(entries, start=1)]
    if pending:
        lines.append("")
        lines.append(t._("<i>Late items waiting for the coordinators:</i>"))
        lines.extend(f"• {item_text(t, item, names)}" for item in pending)
    return lines


def item_text(t: Translator, item: m.AgendaItem, names: dict[int, str]) -> str:
    who = names.get(item.submitter_id or 0)
    text = t._("{title} — presented by {name}", title=item.title, name=who) if who else t.own(item.title)
    if item.late:
        # Translators: after an agenda item's title: it was sent in after the deadline.
        text += " " + t._("(late)")
    if item.description:
        text += "\n    <i>" + t.own(item.description) + "</i>"
    return text


def agenda_text(
    t: Translator,
    network: m.Network,
    meeting: m.Meeting,
    standing: Sequence[m.StandingItem],
    items: Sequence[m.AgendaItem],
    names: dict[int, str],
) -> str:
    lines = [
        t._("<b>Agenda of {network}</b>", network=network.name),
        meeting_line(t, network, meeting),
        "",
        *agenda_lines(t, standing, items, names),
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
    return agenda_lines(t, standing, items, await _names(session, items))


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


@renderer(mt.KIND_MINUTES_DUE)
async def render_minutes_due(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _live_meeting(session, notice)
    if found is None:
        return None
    meeting, network = found
    if meeting.minutes_state != "none" or notice.payload.get("ts") != mt.stamp(meeting):
        return None
    text = t._(
        "No minutes have been posted for the meeting of {network} on {when}. "
        "Reply to the minutes in the group with /minutes {id}.",
        network=network.name,
        when=when(t, network, meeting.starts_at),
        id=meeting.id,
    )
    return Rendered(text)


def fit(text: str, budget: int) -> str:
    """`text` escaped for HTML, cut (with …) so the escaped form is at most `budget` characters: the
    dispatcher cuts a message at 4096 and a caption at 1024, and a cut must not split a tag or entity."""
    out = esc(text)
    if len(out) <= budget:
        return out
    cut = text[: max(budget - 1, 0)]
    while cut and len(esc(cut)) > budget - 1:
        cut = cut[: len(cut) - max(1, (len(esc(cut)) - budget + 1) // 5)]
    return esc(cut.rstrip()) + "…"


def minutes_text(
    t: Translator,
    network: m.Network,
    meeting: m.Meeting,
    *,
    attached: bool = False,
    cut_note: bool = True,
    limit: int = 4096,
) -> str:
    """The minutes as circulated: their text (or, for a file, the file's caption) between a heading
    and the objection deadline. `attached`: sent as the caption of the file itself (private copies);
    `cut_note`: say that a text too long to fit whole is in the group (not in the group itself)."""
    end = mn.window_end(meeting, network)
    head = t._(
        "<b>Minutes</b> of the meeting of {network}, {when}",
        network=network.name,
        when=when(t, network, meeting.starts_at),
    )
    foot = t._(
        "They count as approved if nobody objects by {deadline}. Press Object to raise an objection.",
        deadline=when(t, network, end),
    )
    if meeting.minutes_file_id and not attached and not meeting.minutes_text:
        foot = t._("The minutes are the file posted in the group.") + "\n\n" + foot
    body = ""
    if meeting.minutes_text:
        # Too long to fit whole (a text at Telegram's limit, or a long caption): cut, and say where it is.
        note = "" if attached or not cut_note else t._("<i>The full text is in the group.</i>")
        # In right-to-left languages each line of the text is isolated and starts with a
        # right-to-left mark: three characters a line.
        marks = 3 * (meeting.minutes_text.count("\n") + 1) if t.rtl else 0
        body = fit(meeting.minutes_text, limit - len(head) - len(foot) - len(note) - 8 - marks)
        whole = body == esc(meeting.minutes_text)
        body = isolate_lines(body) if t.rtl else body
        if note and not whole:
            body += "\n" + note
    return t.lines("\n\n".join(x for x in (head, body, foot) if x))


@renderer(mn.KIND_MINUTES)
async def render_minutes(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _live_meeting(session, notice)
    if found is None:
        return None
    meeting, network = found
    if meeting.minutes_state != "circulated":
        return None
    if meeting.minutes_file_id:
        # The file itself, by its Telegram file_id, with the heading and the deadline as its caption.
        return Rendered(
            minutes_text(t, network, meeting, attached=True, limit=1024),
            objection_keyboard(t, meeting),
            document_id=meeting.minutes_file_id,
        )
    return Rendered(minutes_text(t, network, meeting), objection_keyboard(t, meeting))


@renderer(mn.KIND_RESULT)
async def render_result(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _live_meeting(session, notice)
    if found is None:
        return None
    meeting, network = found
    state = meeting.minutes_state
    on = when(t, network, meeting.starts_at)
    if state == "approved":
        return Rendered(
            t._(
                "✅ The minutes of the meeting on {when} are approved: nobody objected. They are in /decisions.",
                when=on,
            )
        )
    if state == "disputed":
        n = await mn.objection_count(session, meeting.id)
        return Rendered(
            t.n_(
                "⚠️ The minutes of the meeting on {when} are disputed ({n} objection). The coordinators will take it up.",
                "⚠️ The minutes of the meeting on {when} are disputed ({n} objections). The coordinators will take it up.",
                n,
                when=on,
            )
        )
    return None


@renderer(mn.KIND_DISPUTED)
async def render_disputed(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    meeting = await session.get(m.Meeting, notice.ref_id) if notice.ref_id else None
    if meeting is None or meeting.minutes_state != "disputed":
        return None
    network = await session.get(m.Network, meeting.network_id)
    assert network is not None
    from sqlalchemy import select

    rows = await session.execute(
        select(m.Objection.reason, m.Person)
        .outerjoin(m.Person, m.Person.id == m.Objection.person_id)
        .where(m.Objection.meeting_id == meeting.id)
        .order_by(m.Objection.id)
    )
    lines = [
        t._(
            "The minutes of the meeting of {network} on {when} are disputed. Objections:",
            network=network.name,
            when=when(t, network, meeting.starts_at),
        )
    ]
    for reason, person in rows:
        lines.append(f"• {t.own(person.display_name if person else '?')}: {t.own(reason)}")
    return Rendered(t.lines("\n".join(lines)))
