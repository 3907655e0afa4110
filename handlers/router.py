"""Callback data routing: `kind:id:value` looked up in one table; every handler re-checks the object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram.ext import Application, CallbackQueryHandler

from bot.domain.errors import UserError
from bot.i18n import N_
from bot.render.keyboard import parse_callback
from handlers.common import Ctx, handler

CallbackFn = Callable[[Ctx, str, str], Awaitable[None]]
CALLBACKS: dict[str, CallbackFn] = {}

# The short kinds of earlier versions, still on buttons in people's chats: pressed, they reach the
# handler of the kind they were renamed to (callback data is `kind:id:value`, at most 64 bytes).
OLD_KINDS = {
    "aipick": "additem_network",
    "aimv": "agenda_item_move",
    "late": "late_item_decide",
    "forget": "forget_me",
    "lang": "language",
    "sub": "follow_toggle",
    "unsub": "unfollow",
    "rem": "reminder_lead",
    "mobj": "minutes_object",
    "dlvnet": "deliveries_network",
    "ev": "event_card",
    "dec": "decisions",
    "att": "attendance",
    "bccancel": "broadcast_cancel",
    "bcnet": "broadcast_network",
    "evnet": "newevent_network",
    "evlist": "events_more",
    "set": "settings",
}


def on_callback(kind: str) -> Callable[[CallbackFn], CallbackFn]:
    def deco(fn: CallbackFn) -> CallbackFn:
        if kind in CALLBACKS and CALLBACKS[kind] is not fn:
            raise RuntimeError(f"callback kind {kind!r} registered twice")
        CALLBACKS[kind] = fn
        return fn

    return deco


@handler
async def route(ctx: Ctx) -> None:
    query = ctx.update.callback_query
    assert query is not None
    kind, obj_id, value = parse_callback(query.data or "")
    fn = CALLBACKS.get(OLD_KINDS.get(kind, kind))
    if fn is None:
        raise UserError(N_("This button no longer works."))
    await fn(ctx, obj_id, value)
    # Every press gets an answer so the client stops its spinner; handlers usually answer first.
    await ctx.answer()


def parse_id(obj_id: str) -> int:
    if not obj_id.isdecimal() or len(obj_id) > 12:
        raise UserError(N_("This button no longer works."))
    return int(obj_id)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CallbackQueryHandler(route), group=0)
