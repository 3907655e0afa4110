"""Minutes: the coordinators' reminder when none are posted, the minutes sent to attendees (with the
Object button), and the outcome (approved by silence, or disputed). Meeting notices: bot.render.meetings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.bidi import isolate_lines
from bot.db import models as m
from bot.domain import meetings as mt
from bot.domain import minutes as mn
from bot.i18n import Translator
from bot.render import between
from bot.render.meetings import _live_meeting, objection_keyboard, when
from bot.render.text import esc
from bot.schedule.notices import Rendered, renderer


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
    text += await between.open_todos_note(session, t, network)  # bot/render/between.py
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
