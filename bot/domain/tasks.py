"""Help asked for an event: tasks (`/addtask`) and the people who signed up for them.

A sign-up is a row in `task_helpers`; the count and the check that a task is full happen in one
transaction under the event's lock (bot.domain.places.lock_event), so a task never gets more helpers
than it asked for, however many press at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain.errors import NotFound, UserError
from bot.domain.events import require_open
from bot.domain.places import lock_event
from bot.i18n import N_

MAX_TITLE = 40  # the button reads `🙋 {title} {taken}/{n}`: it must stay short
MAX_NEEDED = 1000
MAX_TASKS = 8
EXAMPLE = "/addtask 12 Smagsprøver | 4"


def check_title(text: str) -> str:
    title = " ".join(text.split())
    if not title:
        raise UserError(N_("Missing: {field}. Example: {example}"), field="what", example=EXAMPLE)
    if len(title) > MAX_TITLE:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."), length=len(title), limit=MAX_TITLE
        )
    return title


def parse_needed(text: str | None) -> int:
    raw = (text or "").strip()
    if not raw:
        return 1
    if not raw.isdecimal() or len(raw) > 4 or not 1 <= int(raw) <= MAX_NEEDED:
        raise UserError(
            N_("How many helpers? Write a number from 1 to {limit}. Example: {example}"),
            limit=MAX_NEEDED,
            example=EXAMPLE,
        )
    return int(raw)


async def add_task(
    session: AsyncSession, event: m.Event, title: str, needed: int, by: m.Person | None, now: datetime
) -> m.EventTask:
    require_open(event, now)
    count = await session.scalar(
        select(func.count()).select_from(m.EventTask).where(m.EventTask.event_id == event.id)
    )
    if int(count or 0) >= MAX_TASKS:
        raise UserError(N_("An event can have at most {limit} tasks."), limit=MAX_TASKS)
    task = m.EventTask(
        event_id=event.id,
        title=check_title(title),
        needed=needed,
        created_by=by.id if by else None,
        created_at=now,
    )
    session.add(task)
    await session.flush()
    return task


async def get_task(session: AsyncSession, task_id: int) -> m.EventTask:
    task = await session.get(m.EventTask, task_id)
    if task is None:
        raise NotFound(
            N_("There is no task with that number. /tasks with the event's number lists its tasks.")
        )
    return task


async def remove_task(session: AsyncSession, task: m.EventTask) -> list[m.Person]:
    """Deletes the task; returns its helpers (to tell them)."""
    helpers = list(await helpers_of(session, task.id))
    await session.execute(delete(m.TaskHelper).where(m.TaskHelper.task_id == task.id))
    await session.delete(task)
    await session.flush()
    return helpers


@dataclass
class TaskView:
    task: m.EventTask
    taken: int


async def tasks_of(session: AsyncSession, event_id: int) -> list[TaskView]:
    counts = select(m.TaskHelper.task_id, func.count().label("n")).group_by(m.TaskHelper.task_id).subquery()
    rows = (
        await session.execute(
            select(m.EventTask, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.task_id == m.EventTask.id)
            .where(m.EventTask.event_id == event_id)
            .order_by(m.EventTask.id)
        )
    ).all()
    return [TaskView(task, int(n)) for task, n in rows]


async def helpers_of(session: AsyncSession, task_id: int) -> Sequence[m.Person]:
    rows = await session.scalars(
        select(m.Person)
        .join(m.TaskHelper, m.TaskHelper.person_id == m.Person.id)
        .where(m.TaskHelper.task_id == task_id)
        .order_by(m.TaskHelper.id)
    )
    return rows.all()


async def event_helpers(session: AsyncSession, event_id: int) -> Sequence[m.Person]:
    """Everyone who signed up for any of the event's tasks (each once)."""
    rows = await session.scalars(
        select(m.Person)
        .where(
            m.Person.id.in_(
                select(m.TaskHelper.person_id)
                .join(m.EventTask, m.EventTask.id == m.TaskHelper.task_id)
                .where(m.EventTask.event_id == event_id)
            )
        )
        .order_by(m.Person.id)
    )
    return rows.all()


@dataclass
class TaskPress:
    state: str  # signed_up | withdrawn | full
    taken: int
    needed: int


async def toggle(
    session: AsyncSession, task: m.EventTask, event: m.Event, person: m.Person, now: datetime
) -> TaskPress:
    """A press on a task's button: sign up, or withdraw when already signed up; a full task refuses."""
    require_open(event, now)
    await lock_event(session, event.id)
    mine = await session.scalar(
        select(m.TaskHelper).where(m.TaskHelper.task_id == task.id, m.TaskHelper.person_id == person.id)
    )
    count = int(
        await session.scalar(
            select(func.count()).select_from(m.TaskHelper).where(m.TaskHelper.task_id == task.id)
        )
        or 0
    )
    if mine is not None:
        await session.delete(mine)
        await session.flush()
        return TaskPress("withdrawn", count - 1, task.needed)
    if count >= task.needed:
        return TaskPress("full", count, task.needed)
    session.add(m.TaskHelper(task_id=task.id, person_id=person.id, created_at=now))
    await session.flush()
    return TaskPress("signed_up", count + 1, task.needed)
