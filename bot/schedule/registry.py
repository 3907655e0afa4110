"""Every notice kind the bot knows, in one place: which module renders it (a message), or does it (an
action: database work done once when due), and which ones have an after-send hook.

The modules below define their renderers with `@renderer(kind)`, `@action(kind)`, `@after_send(kind)`
(bot.schedule.notices); `load()` imports exactly these modules and checks that what they registered is
what `KINDS` declares, so a kind can neither go missing nor appear unannounced. A notice of a kind
nobody handles is refused when it is enqueued (`require_known`) and stops the start-up when one is
found pending in the database (`check_database`), instead of being skipped at send time.

To add a kind: declare it in `KINDS` (with the module that handles it) and import that module in
`_import_handlers`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.schedule import notices

# kind -> (what it is, the module that registers it)
KINDS: dict[str, tuple[str, str]] = {
    # events (handlers/events_notices.py)
    "event_card": ("renderer+after_send", "handlers.events_notices"),
    "event_new": ("renderer", "handlers.events_notices"),
    "event_reminder": ("renderer", "handlers.events_notices"),
    "event_cancelled": ("renderer", "handlers.events_notices"),
    "event_changed": ("renderer", "handlers.events_notices"),
    # series of events (bot/domain/series.py extends the horizon; handlers/series.py renders)
    "series_extend": ("action", "bot.domain.series"),
    "series_cancelled": ("renderer", "handlers.series"),
    # broadcasts (bot/domain/broadcasts.py)
    "broadcast_start": ("action", "bot.domain.broadcasts"),
    "broadcast_progress": ("renderer+after_send", "bot.domain.broadcasts"),
    "broadcast": ("renderer", "bot.domain.broadcasts"),
    # the coordinators' delivery summary (bot/domain/deliveries.py)
    "delivery_summary": ("renderer", "bot.domain.deliveries"),
    # meetings (bot/domain/meetings.py does, bot/render/meetings.py renders)
    "mtg_fanout": ("action", "bot.domain.meetings"),
    "mtg_stage": ("renderer+after_send", "bot.render.meetings"),  # after_send: bot.render.attachments
    "mtg_moved": ("renderer", "bot.render.meetings"),
    "mtg_cancelled": ("renderer", "bot.render.meetings"),
    "mtg_late": ("renderer", "bot.render.meetings"),
    "mtg_itemdec": ("renderer", "bot.render.meetings"),
    "mtg_mindue": ("renderer", "bot.render.minutes"),
    # minutes (bot/domain/minutes.py does, bot/render/minutes.py renders)
    "mtg_mclose": ("action", "bot.domain.minutes"),
    "mtg_minutes": ("renderer", "bot.render.minutes"),
    "mtg_mresult": ("renderer", "bot.render.minutes"),
    "mtg_disputed": ("renderer", "bot.render.minutes"),
    # between meetings: agenda files (bot/render/attachments.py), action items (bot/render/todos.py)
    "mtg_files": ("renderer", "bot.render.attachments"),
    "todo_assigned": ("renderer", "bot.render.todos"),
    "todo_due": ("renderer", "bot.render.todos"),
    # votes (handlers/votes.py)
    "vote_close": ("action", "handlers.votes"),
    "vote_result": ("renderer", "handlers.votes"),
    # help, places and interpreters (handlers/places.py, tasks.py, interpreters.py)
    "place_promoted": ("renderer", "handlers.places"),
    "guest_promoted": ("renderer", "handlers.places"),
    "task_removed": ("renderer", "handlers.tasks"),
    "interp_counts": ("renderer", "handlers.interpreters"),
    "interp_confirmed": ("renderer", "handlers.interpreters"),
    # members' events waiting for a coordinator (handlers/approval.py)
    "approval_outcome": ("renderer", "handlers.approval"),
}


class UnknownNoticeKind(RuntimeError):
    """A notice of a kind that no module renders or does."""


_loaded = False


def _import_handlers() -> None:
    # The modules that register notice kinds, imported here and only for that reason.
    import bot.domain.broadcasts
    import bot.domain.deliveries
    import bot.domain.meetings
    import bot.domain.minutes
    import bot.domain.series
    import bot.render.attachments
    import bot.render.meetings
    import bot.render.minutes
    import bot.render.todos  # noqa: F401
    import handlers.approval
    import handlers.events_notices
    import handlers.interpreters
    import handlers.places
    import handlers.series
    import handlers.tasks
    import handlers.votes  # noqa: F401


def load() -> None:
    """Import the modules of every kind and check them against `KINDS` (once)."""
    global _loaded
    if _loaded:
        return
    _import_handlers()
    registered = set(notices.RENDERERS) | set(notices.ACTIONS)
    missing = sorted(k for k in KINDS if k not in registered)
    if missing:
        raise UnknownNoticeKind(f"declared in the registry but not registered: {', '.join(missing)}")
    modules = {module for _what, module in KINDS.values()}
    handlers_ = {**notices.RENDERERS, **notices.ACTIONS}
    undeclared = sorted(k for k, fn in handlers_.items() if fn.__module__ in modules and k not in KINDS)
    if undeclared:
        raise UnknownNoticeKind(f"registered but not declared in the registry: {', '.join(undeclared)}")
    for kind, (what, _module) in KINDS.items():
        if ("after_send" in what) != (kind in notices.AFTER_SEND):
            raise UnknownNoticeKind(f"after_send of {kind} does not match the registry")
    _loaded = True


def known(kind: str) -> bool:
    """Declared here, or registered at run time by a test or a tool (`@renderer("test_ping")`)."""
    load()
    return kind in notices.RENDERERS or kind in notices.ACTIONS


def require_known(kinds: Iterable[str]) -> None:
    unknown = sorted({k for k in kinds if not known(k)})
    if unknown:
        raise UnknownNoticeKind(f"no renderer or action for notice kind(s): {', '.join(unknown)}")


async def check_database(session: AsyncSession) -> None:
    """Start-up check: every pending notice is of a kind this code can deliver."""
    kinds = (await session.scalars(select(m.Notice.kind).where(m.Notice.state == "pending").distinct())).all()
    require_known(kinds)
