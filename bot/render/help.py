"""Places, waiting list, tasks and interpreters as text and buttons, for one reader. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from bot.db import models as m
from bot.domain.card_extras import CardExtras
from bot.domain.tasks import TaskView
from bot.i18n import Translator
from bot.render.keyboard import Button, Keyboard, callback

TASK_KIND = "task"
INTERPRETER_KIND = "interp"


def language_label(code: str, t: Translator) -> str:
    from bot.render.events import language_name

    name = language_name(code, t)
    return name[:1].upper() + name[1:]


def languages_text(codes: Sequence[str], t: Translator) -> str:
    sep = "، " if t.lang == "ar" else ", "
    return sep.join(language_label(c, t) for c in codes)


def status_lines(extras: CardExtras, going_people: int, t: Translator) -> list[str]:
    """The card's going line: `{going}/{n}` with a limit, the waiting list, confirmed interpreters."""
    going = going_people + extras.guests
    lines = []
    if extras.places is None:
        lines.append(t.n_("✅ {n} going", "✅ {n} going", going))
    else:
        lines.append(
            t.n_("✅ {going}/{n} place taken", "✅ {going}/{n} places taken", extras.places, going=going)
        )
    if extras.waiting:
        lines.append(t.n_("⏳ {n} on the waiting list", "⏳ {n} on the waiting list", extras.waiting))
    if extras.confirmed_languages:
        lines.append(
            t._(
                "🗣 Interpreting into: {languages}",
                languages=languages_text(extras.confirmed_languages, t),
            )
        )
    return lines


def task_label(view: TaskView) -> str:
    return f"🙋 {view.task.title} {view.taken}/{view.task.needed}"


def card_rows(extras: CardExtras, event: m.Event, t: Translator) -> Keyboard:
    """Below the card's fixed rows: one button per task, then `🗣 Interpreter` on a row of its own."""
    rows: Keyboard = [[Button(task_label(v), callback(TASK_KIND, v.task.id, ""))] for v in extras.tasks]
    rows.append([interpreter_button(t, "e", event.id)])
    return rows


def interpreter_button(t: Translator, subject: str, subject_id: int) -> Button:
    """subject: "e" (event) or "m" (meeting)."""
    # TRANSLATORS: button label (keep it short): the presser needs an interpreter into their language.
    return Button(t.plain("🗣 Interpreter"), callback(INTERPRETER_KIND, subject_id, subject))


def language_choice(t: Translator, subject: str, subject_id: int, codes: Sequence[str]) -> Keyboard:
    buttons = [
        Button(language_label(code, t), callback(INTERPRETER_KIND, subject_id, f"{subject}-{code}"))
        for code in codes
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def tasks_text(
    title: str, views: Sequence[TaskView], helpers: dict[int, Sequence[m.Person]], t: Translator
) -> str:
    if not views:
        return t._("No tasks for {title} yet. /addtask asks for help.", title=title)
    lines = [t._("<b>Help wanted: {title}</b>", title=title)]
    for v in views:
        names = ", ".join(p.display_name for p in helpers.get(v.task.id, []))
        line = t._(
            "• {what} — {taken}/{n} (task {id})",
            what=v.task.title,
            taken=str(v.taken),
            n=str(v.task.needed),
            id=v.task.id,
        )
        if names:
            line += "\n  " + t._("Helpers: {names}", names=names)
        lines.append(line)
    return "\n".join(lines)


def counts_text(
    title: str, counts: Sequence[tuple[str, int]], confirmed: Sequence[str], t: Translator
) -> str:
    if not counts:
        return t._("Nobody has asked for an interpreter for {title} yet.", title=title)
    lines = [t._("<b>Interpreters needed: {title}</b>", title=title)]
    for code, n in counts:
        mark = " ✅" if code in confirmed else ""
        lines.append(
            t.n_("• {language}: {n} person", "• {language}: {n} people", n, language=language_label(code, t))
            + mark
        )
    return "\n".join(lines)
