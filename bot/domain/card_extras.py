"""What issue 13 adds to an event's card (places, waiting list, tasks, interpreters), loaded once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import interpreters, places, tasks


@dataclass
class CardExtras:
    places: int | None
    guests: int
    waiting: int
    tasks: list[tasks.TaskView]
    confirmed_languages: list[str]


async def load(session: AsyncSession, event: m.Event) -> CardExtras:
    return CardExtras(
        places=await places.limit_of(session, event.id),
        guests=len(await places.guests(session, event.id)),
        waiting=await places.waiting_count(session, event.id),
        tasks=await tasks.tasks_of(session, event.id),
        confirmed_languages=await interpreters.confirmed(session, "event", event.id),
    )


async def also_told(session: AsyncSession, event_id: int, people: Sequence[m.Person]) -> list[m.Person]:
    """`people` plus the event's task helpers and those on its waiting list (reachable ones), each
    once: they are told of changes and of the cancellation too."""
    found = {p.id: p for p in people}
    for p in [*await tasks.event_helpers(session, event_id), *await places.waiting_people(session, event_id)]:
        if p.reachable:
            found.setdefault(p.id, p)
    return sorted(found.values(), key=lambda p: p.id)
