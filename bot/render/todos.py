"""Action items as text + `Done` buttons, and the renderers of their notices (told, reminded)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import todos as td
from bot.i18n import N_, Translator
from bot.render.keyboard import Button, Keyboard, callback
from bot.render.text import esc
from bot.schedule.notices import Rendered, renderer

MAX_BUTTONS = 20
TODO_EXAMPLE = N_("/todo me | Call the municipality about the hall | 15 December")


def owner_label(t: Translator, item: m.ActionItem, names: dict[int, str]) -> str:
    if item.owner_id and item.owner_id in names:
        return esc(names[item.owner_id])
    if item.owner_name:
        return esc(item.owner_name)
    return t._("(nobody named)")


def item_line(
    t: Translator,
    item: m.ActionItem,
    network: m.Network,
    names: dict[int, str],
    now: datetime,
    *,
    short: bool = False,
) -> str:
    """`short`: the text cut to one line (in the final agenda)."""
    what = item.text if not short or len(item.text) <= 120 else item.text[:119].rstrip() + "…"
    text = t._("{text} — {who}", text=what, who=owner_label(t, item, names))
    if item.due_at is not None:
        text += " · " + t._("due {day}", day=t.day(item.due_at, network.timezone))
        if td.overdue(item, network, now):
            text += " " + t._("⚠️ overdue")
    return text


def todos_text(
    t: Translator,
    items: Sequence[m.ActionItem],
    networks: dict[int, m.Network],
    names: dict[int, str],
    now: datetime,
    *,
    several: bool = False,
) -> str:
    if not items:
        return t._("No open action items. Add one like this: {example}", example=t.plain(TODO_EXAMPLE))
    lines = [t._("<b>Open action items</b>")]
    for n, item in enumerate(items, start=1):
        network = networks[item.network_id]
        line = f"{t.number(n)}. {item_line(t, item, network, names, now)}"
        if several:
            line += f" ({esc(network.name)})"
        lines.append(line)
    return "\n".join(lines)


def done_keyboard(t: Translator, items: Sequence[m.ActionItem], allowed: set[int]) -> Keyboard | None:
    """A `Done` button for each listed item in `allowed`, numbered as listed (who may press is
    checked again when pressed)."""
    buttons = [
        Button(t.plain("✓ Done {n}", n=t.number(n)), callback("todo_done", item.id, ""))
        for n, item in enumerate(items[:MAX_BUTTONS], start=1)
        if item.id in allowed
    ]
    if not buttons:
        return None
    return [buttons[i : i + 4] for i in range(0, len(buttons), 4)]


def follow_up_lines(
    t: Translator, items: Sequence[m.ActionItem], network: m.Network, names: dict[int, str], now: datetime
) -> list[str]:
    """The final agenda's follow-up section (empty without open items)."""
    if not items:
        return []
    return [
        "",
        t._("<b>Follow-up: open action items</b>"),
        *(f"• {item_line(t, item, network, names, now, short=True)}" for item in items),
    ]


async def _live(session: AsyncSession, notice: m.Notice) -> tuple[m.ActionItem, m.Network] | None:
    item = await session.get(m.ActionItem, notice.ref_id) if notice.ref_id else None
    if item is None or item.status != "open" or item.owner_id != notice.person_id:
        return None  # done, or given to somebody else since
    network = await session.get(m.Network, item.network_id)
    return (item, network) if network is not None else None


def _single_done(t: Translator, item: m.ActionItem) -> Keyboard:
    return [[Button(t.plain("Done"), callback("todo_done", item.id, ""))]]


@renderer(td.KIND_ASSIGNED)
async def render_assigned(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _live(session, notice)
    if found is None:
        return None
    item, network = found
    creator = await session.get(m.Person, item.creator_id) if item.creator_id else None
    lines = [
        t._("<b>An action item for you</b> — {network}", network=network.name),
        esc(item.text),
    ]
    if item.due_at is not None:
        lines.append(
            t._("Due {day}. I will remind you the day before.", day=t.day(item.due_at, network.timezone))
        )
    if creator is not None and creator.id != item.owner_id:
        lines.append(t._("Noted by {name}.", name=creator.display_name))
    lines.append(t._("Press Done when it is done. /todos lists the network's open items."))
    return Rendered("\n".join(lines), _single_done(t, item))


@renderer(td.KIND_DUE)
async def render_due(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    found = await _live(session, notice)
    if found is None:
        return None
    item, network = found
    if item.due_at is None:
        return None
    text = "\n".join(
        [
            t._(
                "⏰ <b>Reminder</b>: due tomorrow, {day} — {network}",
                day=t.day(item.due_at, network.timezone),
                network=network.name,
            ),
            esc(item.text),
            t._("Press Done when it is done."),
        ]
    )
    return Rendered(text, _single_done(t, item))
