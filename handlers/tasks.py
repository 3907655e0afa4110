"""/addtask, /tasks, /removetask and the `🙋 {what} {taken}/{n}` buttons on an event's card."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import Application, CommandHandler

from bot.db import models as m
from bot.domain import events as ev
from bot.domain import tasks as tk
from bot.domain import translations as tr
from bot.domain.errors import NotFound, UserError
from bot.domain.reminders import plan_event_reminders
from bot.i18n import N_, Translator
from bot.render import help as rh
from bot.schedule.notices import Rendered, enqueue_to_people, renderer
from handlers.common import Ctx, handler, split_fields
from handlers.dialogue import Form, Step, begin, register_form, run_oneline
from handlers.places import parse_managed_event, refresh_group_card
from handlers.router import on_callback, parse_id

KIND_REMOVED = "task_removed"


def _events() -> Any:
    import handlers.events_cards as he

    return he


def _commands() -> Any:
    import handlers.events as hc  # late: the event commands module imports the card module

    return hc



# --- /addtask ----------------------------------------------------------------------------------


async def parse_what(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return tk.check_title(text)


async def parse_needed(ctx: Ctx, text: str, data: dict[str, Any]) -> int:
    return tk.parse_needed(text)


async def finish_addtask(ctx: Ctx, data: dict[str, Any]) -> None:
    event, _network = await _commands()._managed_event(ctx, str(data["event"]))
    needed = int(data.get("needed") or 1)
    task = await tk.add_task(ctx.session, event, str(data["what"]), needed, ctx.person, ctx.now)
    await ctx.reply(
        ctx.t.n_(
            "Added task {id} to {title}: {what}, {n} helper. The card has a button to sign up.",
            "Added task {id} to {title}: {what}, {n} helpers. The card has a button to sign up.",
            needed,
            id=task.id,
            title=event.title,
            what=task.title,
        )
    )
    await refresh_group_card(ctx, event)


ADDTASK_FORM = register_form(
    Form(
        "addtask",
        [
            Step("event", N_("Which event? Give its number."), parse_managed_event, max_length=20),
            Step("what", N_("What do you need help with?"), parse_what, max_length=200),
            Step(
                "needed", N_("How many helpers? (1 if you skip)"), parse_needed, optional=True, max_length=10
            ),
        ],
        finish_addtask,
        example=N_("/addtask 12 Smagsprøver | 4"),
    )
)


@handler
async def addtask_command(ctx: Ctx) -> None:
    if not ctx.arg_text:
        await begin(ctx, "addtask")
        return
    parts = ctx.arg_text.split(maxsplit=1)
    rest = split_fields(parts[1], 2) if len(parts) > 1 else []
    await run_oneline(ctx, "addtask", [parts[0], *rest])


# --- /tasks, /removetask -----------------------------------------------------------------------


@handler
async def tasks_command(ctx: Ctx) -> None:
    if not ctx.arg_text:
        await begin(ctx, "tasks")
        return
    await show_tasks(ctx, ctx.arg_text)


async def parse_event_number(ctx: Ctx, text: str, data: dict[str, Any]) -> int:
    return ev.parse_event_id(text)


async def parse_task_number(ctx: Ctx, text: str, data: dict[str, Any]) -> int:
    raw = text.strip().lstrip("#")
    if not raw.isdecimal() or len(raw) > 12:
        raise UserError(N_("Give the task's number, for example: {example}"), example="/removetask 3")
    return int(raw)


TASKS_FORM = register_form(
    Form(
        "tasks",
        [Step("event", N_("Which event? Give its number."), parse_event_number, max_length=20)],
        lambda ctx, data: show_tasks(ctx, str(data["event"])),
        example=N_("/tasks 12"),
    )
)
REMOVETASK_FORM = register_form(
    Form(
        "removetask",
        [
            Step(
                "task",
                N_("Which task? Give its number; /tasks shows them."),
                parse_task_number,
                max_length=20,
            )
        ],
        lambda ctx, data: remove_task(ctx, str(data["task"])),
        example=N_("/removetask 3"),
    )
)


async def show_tasks(ctx: Ctx, raw: str) -> None:
    event = await ev.get_event(ctx.session, ev.parse_event_id(raw))
    if ctx.is_group and (ctx.network is None or ctx.network.id != event.network_id):
        raise NotFound(N_("There is no event with that number. /events lists the upcoming ones."))
    views = await tk.tasks_of(ctx.session, event.id)
    helpers = {v.task.id: await tk.helpers_of(ctx.session, v.task.id) for v in views}
    t = ctx.group_t if ctx.is_group else ctx.t
    texts = await tr.event_texts(ctx.session, event, t.lang)
    await ctx.reply(rh.tasks_text(texts.fields["title"], views, helpers, t))


@handler
async def removetask_command(ctx: Ctx) -> None:
    if not ctx.arg_text:
        await begin(ctx, "removetask")
        return
    await remove_task(ctx, ctx.arg_text)


async def remove_task(ctx: Ctx, raw: str) -> None:
    task = await tk.get_task(ctx.session, await parse_task_number(ctx, raw, {}))
    event, network = await _commands()._managed_event(ctx, str(task.event_id))
    title = task.title
    helpers = await tk.remove_task(ctx.session, task)
    await enqueue_to_people(
        ctx.session,
        [p for p in helpers if ctx.person is None or p.id != ctx.person.id],
        kind=KIND_REMOVED,
        key=lambda p: f"{KIND_REMOVED}:{task.id}:p{p.id}",
        due_at=ctx.now,
        network_id=network.id,
        ref_id=event.id,
        payload={"what": title},
    )
    await plan_event_reminders(ctx.session, event.id, ctx.now)
    await ctx.reply(ctx.t._("Removed the task {what}. I am telling its helpers.", what=title))
    await refresh_group_card(ctx, event)


# --- the task buttons --------------------------------------------------------------------------


@on_callback(rh.TASK_KIND)
async def task_button(ctx: Ctx, obj_id: str, value: str) -> None:
    assert ctx.person is not None
    task = await ctx.session.get(m.EventTask, parse_id(obj_id))
    if task is None:
        raise UserError(N_("This button no longer works."))
    # The same checks as the card's other buttons: the event exists and the presser may act on it here.
    event = await _events()._event_for_press(ctx, str(task.event_id))
    res = await tk.toggle(ctx.session, task, event, ctx.person, ctx.now)
    t = ctx.t
    if res.state == "full":
        await ctx.answer(
            t.plain(
                "{what} has all the helpers it needs ({taken}/{n}).",
                what=task.title,
                taken=str(res.taken),
                n=str(res.needed),
            ),
            alert=True,
        )
        return
    await plan_event_reminders(ctx.session, event.id, ctx.now)
    if res.state == "signed_up":
        await ctx.answer(
            t.plain(
                "Thank you! You are helping with: {what}. I will remind you before the event.",
                what=task.title,
            )
        )
    else:
        await ctx.answer(t.plain("You are no longer helping with: {what}.", what=task.title))
    await _events().refresh_all_cards(ctx, event)


@renderer(KIND_REMOVED)
async def render_removed(session: AsyncSession, notice: m.Notice, t: Translator) -> Rendered | None:
    event = await session.get(m.Event, notice.ref_id) if notice.ref_id else None
    if event is None or event.status != "scheduled":
        return None
    texts = await tr.event_texts(session, event, t.lang)
    return Rendered(
        t._(
            "The task {what} for <b>{title}</b> was removed: you are no longer signed up for it. Thank you!",
            what=str(notice.payload.get("what") or ""),
            title=texts.fields["title"],
        )
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("addtask", addtask_command), group=0)
    app.add_handler(CommandHandler("tasks", tasks_command), group=0)
    app.add_handler(CommandHandler("removetask", removetask_command), group=0)
