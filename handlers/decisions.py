"""/decisions [{words}]: the decisions log, newest first, searchable, a page at a time."""

from __future__ import annotations

from telegram.ext import Application, CommandHandler

from bot.domain import decisions, people, workgroups
from bot.domain.errors import UserError
from bot.i18n import N_
from bot.render import votes as render
from bot.render.keyboard import MAX_CALLBACK_BYTES, Button, Keyboard, callback
from handlers.common import Ctx, handler, markup
from handlers.router import on_callback

PAGE = 10
KIND = "decisions"


def _page_data(offset: int, words: str) -> str | None:
    data = callback(KIND, offset, words)
    return data if len(data.encode()) <= MAX_CALLBACK_BYTES else None


async def _show(ctx: Ctx, words: str, offset: int, *, edit: bool) -> None:
    # The scope is recomputed from where and by whom the button is pressed: never from callback data.
    if ctx.is_private:
        if ctx.person is None:
            return
        networks = list(await people.person_networks(ctx.session, ctx.person))
    else:
        networks = [await ctx.require_network()]
    # "/decisions all …" in a parent's group includes its working groups (bot/domain/workgroups.py).
    networks, search = await workgroups.decision_scope(ctx.session, networks, words, ctx.is_group)
    ids = [n.id for n in networks]
    rows = await decisions.search_decisions(ctx.session, ids, search, PAGE + 1, offset)
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    tz_of = {n.id: n.timezone for n in networks}
    name_of = {n.id: n.name for n in networks} if len(networks) > 1 else None
    text = render.decisions_text(rows, ctx.t, tz_of, name_of, words=search, page=offset // PAGE + 1)
    if ctx.is_private and not networks:
        text = ctx.t._("You do not belong to any network yet. Follow one with /subscribe.")
    nav: list[Button] = []
    newer = _page_data(max(offset - PAGE, 0), words) if offset > 0 else None
    older = _page_data(offset + PAGE, words) if more else None
    if newer:
        # Translators: page button in the list of decisions: show newer decisions.
        nav.append(Button(ctx.t.plain("‹ Newer"), newer))
    if older:
        # Translators: page button in the list of decisions: show older decisions.
        nav.append(Button(ctx.t.plain("Older ›"), older))
    keyboard: Keyboard | None = [nav] if nav else None
    if more and older is None:
        text += "\n\n" + ctx.t._(
            "There are more. Search with fewer or shorter words to see them page by page."
        )
    query = ctx.update.callback_query
    if edit and query is not None:
        await ctx.answer()
        await query.edit_message_text(text, reply_markup=markup(keyboard))
    else:
        await ctx.reply(text, keyboard)


@handler
async def decisions_command(ctx: Ctx) -> None:
    words = " ".join(ctx.arg_text.split())
    decisions.search_words(words)  # explains a too long search before anything is read
    await _show(ctx, words, 0, edit=False)


@on_callback(KIND)
async def page(ctx: Ctx, obj_id: str, value: str) -> None:
    if not obj_id.isdecimal() or len(obj_id) > 6:
        raise UserError(N_("This button no longer works."))
    await _show(ctx, value, int(obj_id), edit=True)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("decisions", decisions_command), group=0)
