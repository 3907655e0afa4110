"""Event card and lists: model -> text + keyboard, for one reader (their Translator). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.db import models as m
from bot.domain.translations import Texts
from bot.i18n import Translator
from bot.render.keyboard import Button, Keyboard, callback

if TYPE_CHECKING:  # issue 13: places, waiting list, tasks, interpreters
    from bot.domain.card_extras import CardExtras

KIND = "event_card"


def language_name(code: str, t: Translator) -> str:
    return t.language_name(code)


def value(t: Translator, text: str) -> str:
    """A user's text inside a message: escaped, and isolated line by line in right-to-left languages."""
    return t.own(text)


def untranslated_note(texts: Texts, t: Translator) -> str:
    if texts.translated:
        return ""
    return t._("Written in {language}; no translation yet.", language=language_name(texts.language, t))


def when_line(event: m.Event, tz: str, t: Translator) -> str:
    text = t.when(event.starts_at, tz)
    if event.ends_at is not None:
        text = f"{text}–{t.clock(event.ends_at, tz)}"
    return text


def card_text(
    event: m.Event,
    network: m.Network,
    texts: Texts,
    going: int,
    t: Translator,
    extras: CardExtras | None = None,
    *,
    rhythm: str | None = None,
) -> str:
    f = texts.fields
    lines = []
    if event.status == "cancelled":
        lines.append(t._("❌ <b>Cancelled</b>"))
    lines.append(f"📅 <b>{value(t, f['title'])}</b>")
    lines.append(f"🕔 {value(t, when_line(event, network.timezone, t))}")
    if rhythm:  # a series' rhythm (bot/render/series.py)
        lines.append(f"🔁 {value(t, rhythm)}")
    if f.get("place"):
        lines.append(f"📍 {value(t, f['place'])}")
    if f.get("description"):
        lines.append("")
        lines.append(value(t, f["description"]))
    lines.append("")
    if extras is None:
        # Translators: on an event card: how many people said they will come.
        lines.append(t.n_("✅ {n} going", "✅ {n} going", going))
    else:  # issue 13: `{going}/{n}`, the waiting list, confirmed interpreters
        from bot.render import help as rh

        lines.extend(rh.status_lines(extras, going, t))
    note = untranslated_note(texts, t)
    if note:
        lines.append(f"<i>{note}</i>")
    lines.append(t._("{network} · event {id}", network=network.name, id=str(event.id)))
    # 📅 / 🕔 / 📍 lines and the description start with an emoji or an isolate: made to read
    # right-to-left for an Arabic reader.
    return t.lines("\n".join(lines))


def card_keyboard(event: m.Event, t: Translator, extras: CardExtras | None = None) -> Keyboard | None:
    if event.status == "cancelled":
        return None
    rows = [
        [
            # Translators: event button: "I will come to this event".
            Button(t.plain("Going"), callback(KIND, event.id, "go")),
            # Translators: event button: "I will not come to this event".
            Button(t.plain("Not going"), callback(KIND, event.id, "no")),
        ],
        [
            # Translators: event button: "send me a reminder before this event".
            Button(t.plain("Remind me"), callback(KIND, event.id, "rem")),
            Button(t.plain("Add to calendar"), callback(KIND, event.id, "ics")),
        ],
    ]
    if extras is not None:  # issue 13: one row per task, then `🗣 Interpreter`
        from bot.render import help as rh

        rows += rh.card_rows(extras, event, t)
    return rows


def list_text(
    events: Sequence[m.Event],
    networks: dict[int, m.Network],
    texts: dict[int, Texts],
    t: Translator,
    *,
    show_network: bool,
    more: bool,
    rhythms: dict[int, str] | None = None,
) -> str:
    if not events:
        return t._("No upcoming events.")
    lines = [t._("<b>Upcoming events</b>")]
    for e in events:
        net = networks[e.network_id]
        f = texts[e.id].fields
        line = t._(
            "• {when} — <b>{title}</b>, {place} (/event_{id})",
            when=t.when(e.starts_at, net.timezone, "medium"),
            title=f["title"],
            place=f["place"],
            id=str(e.id),
        )
        if rhythms and e.id in rhythms:  # a series, shown once at its next occurrence
            line += f" · 🔁 {value(t, rhythms[e.id])}"
        if show_network:
            line += f" · {value(t, net.name)}"
        lines.append(line)
    if more:
        lines.append("")
        lines.append(t._("More events: use the button below, or see the calendar page."))
    return t.lines("\n".join(lines))


def list_keyboard(offset: int, more: bool, t: Translator) -> Keyboard | None:
    if not more:
        return None
    # Translators: button under a list of events: show the next page of events.
    return [[Button(t.plain("More"), callback("events_more", offset, ""))]]
