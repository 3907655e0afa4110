"""/setup and /settings: registering a group as a network and its settings."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from telegram.ext import Application, CommandHandler

from bot.domain import people
from bot.domain.approval import set_required
from bot.domain.errors import NotAllowed, UserError
from bot.i18n import LANGUAGE_NAMES, N_, normalize_language
from bot.render.keyboard import Button, callback
from bot.render.votes import RULE_LABELS
from handlers.approval import setting_line as approval_line
from handlers.common import Ctx, group_admins, handler
from handlers.dialogue import Form, Step, begin, register_form
from handlers.router import on_callback, parse_id
from handlers.start import language_keyboard

COMMON_ZONES = ("Europe/Copenhagen", "Europe/Stockholm", "Europe/Berlin", "Europe/London", "Africa/Asmara")


@handler
async def setup(ctx: Ctx) -> None:
    if not ctx.is_group:
        raise UserError(N_("Use /setup in the group you want to register as a network."))
    assert ctx.person is not None
    if ctx.person.tg_id not in await group_admins(ctx.services, ctx.context, ctx.chat.id):
        raise NotAllowed(N_("Only the group's admins can register it as a network."))
    name = ctx.arg_text or ctx.chat.title or ""
    settings = ctx.services.settings
    network, created = await people.setup_network(
        ctx.session,
        ctx.chat.id,
        name if (ctx.arg_text or ctx.network is None) else "",
        settings.bot_timezone,
        normalize_language(settings.bot_default_language) or "da",
    )
    await people.mark_member(ctx.session, network, ctx.person)
    ctx.network = network
    link = f"https://t.me/{ctx.context.bot.username}?start=net_{network.slug}"
    t = ctx.group_t
    if created:
        text = t._(
            "{network} is now a network. Language: {language}; time zone: {timezone}.\n"
            "Followers can join from this link: {link}\n/settings changes the details.",
            network=network.name,
            language=t.language_name(network.language),
            timezone=network.timezone,
            link=link,
        )
    else:
        text = t._(
            "{network} is already registered. Followers' link: {link}", network=network.name, link=link
        )
    await ctx.reply(text)


def _settings_text(ctx: Ctx, coordinators: list[str], translators: list[str]) -> str:
    n = ctx.network
    assert n is not None
    t = ctx.t
    lines = [
        t._("<b>Settings of {network}</b>", network=n.name),
        t._("Language: {language}", language=t.language_name(n.language)),
        t._("Time zone: {timezone}", timezone=n.timezone),
        t.n_(
            "Agenda items due {n} day before a meeting",
            "Agenda items due {n} days before a meeting",
            n.agenda_deadline_days,
        ),
        t.n_("Final agenda {n} day before", "Final agenda {n} days before", n.final_agenda_days),
        t.n_("Minutes due {n} day after", "Minutes due {n} days after", n.minutes_due_days),
        t.n_(
            "Objections to minutes within {n} day", "Objections to minutes within {n} days", n.objection_days
        ),
        # Translators: {rule} is how votes are decided, e.g. "simple majority of votes cast".
        t._("Votes: {rule}", rule=t.plain(RULE_LABELS.get(n.vote_rule, RULE_LABELS["majority"]))),
        t.n_("Quorum: at least {n} vote cast", "Quorum: at least {n} votes cast", n.vote_quorum)
        if n.vote_quorum
        else t._("Quorum: none"),
        t._("Named coordinators: {names}", names=", ".join(coordinators) or "—"),
        t._("Translators: {names}", names=", ".join(translators) or "—"),
        approval_line(n, t),
        "",
        t._(
            "Group admins are always coordinators. To change a value, press a button, or write for example:\n"
            "/settings timezone Europe/Copenhagen\n/settings rules 10 7 7 7\n"
            "/settings coordinator add @name\n/settings translator add @name ar"
        ),
        t._("/settings approval on: a coordinator approves members' events before followers are told."),
        t._(
            "/settings vote majority, /settings vote two-thirds or /settings vote quorum 5 set how votes are decided."
        ),
    ]
    return "\n".join(lines)


def _settings_keyboard(ctx: Ctx) -> list[list[Button]]:
    assert ctx.network is not None
    nid = ctx.network.id
    t = ctx.t
    return [
        [
            Button(t.plain("Language"), callback("settings", nid, "lang")),
            Button(t.plain("Time zone"), callback("settings", nid, "tz")),
        ],
        [Button(t.plain("Meeting rules"), callback("settings", nid, "rules"))],
        [
            Button(t.plain("Add coordinator"), callback("settings", nid, "coord")),
            Button(t.plain("Add translator"), callback("settings", nid, "transl")),
        ],
    ]


async def _names(ctx: Ctx) -> tuple[list[str], list[str]]:
    from sqlalchemy import select

    from bot.db import models as m

    assert ctx.network is not None
    coords = [p.display_name for p in await people.named_coordinators(ctx.session, ctx.network)]
    rows = await ctx.session.execute(
        select(m.Person, m.Translator.language)
        .join(m.Translator, m.Translator.person_id == m.Person.id)
        .where(m.Translator.network_id == ctx.network.id)
        .order_by(m.Translator.language, m.Person.first_name)
    )
    translators = [f"{p.display_name} ({lang})" for p, lang in rows]
    return coords, translators


async def _apply_setting(ctx: Ctx, words: list[str]) -> str:
    """`/settings key value…`; returns the untranslated confirmation."""
    network = ctx.network
    assert network is not None
    key = words[0].lower()
    rest = words[1:]
    if key in ("timezone", "tz"):
        if not rest:
            raise UserError(N_("Write a time zone, for example: /settings timezone Europe/Copenhagen"))
        network.timezone = parse_timezone(rest[0])
        return N_("Saved.")
    if key in ("language", "lang"):
        lang = normalize_language(rest[0] if rest else "")
        if lang is None:
            raise UserError(N_("That language is not available. Choose Dansk, العربية, ትግርኛ or English."))
        network.language = lang
        return N_("Saved.")
    if key == "vote":
        from bot.domain.vote_rules import set_network_defaults

        await set_network_defaults(network, rest)
        return N_("Saved.")
    if key == "rules":
        (
            network.agenda_deadline_days,
            network.final_agenda_days,
            network.minutes_due_days,
            network.objection_days,
        ) = parse_rules(" ".join(rest))
        return N_("Saved.")
    if key == "publish":  # published decisions (handlers/workgroups.py)
        from handlers import workgroups

        return await workgroups.apply_setting(ctx, rest)
    if key in ("coordinator", "translator") and len(rest) >= 2 and rest[0].lower() in ("add", "remove"):
        add = rest[0].lower() == "add"
        person = await people.find_person_in_network(ctx.session, network, rest[1])
        if key == "coordinator":
            await people.set_named_coordinator(ctx.session, network, person, add)
        else:
            if len(rest) < 3:
                raise UserError(N_("Name the language too, for example: /settings translator add @name ar"))
            await people.set_translator(ctx.session, network, person, rest[2], add)
        return N_("Saved.")
    if key == "approval":  # handlers/approval.py
        set_required(network, rest)
        return N_("Saved.")
    raise UserError(
        N_("I did not understand that setting. Example: {example}"), example="/settings rules 10 7 7 7"
    )


def parse_timezone(text: str) -> str:
    name = text.strip()
    zones = {z.lower(): z for z in available_timezones()}
    zone = zones.get(name.lower())
    if zone is None:
        raise UserError(N_("Unknown time zone {zone}. Example: Europe/Copenhagen"), zone=name)
    ZoneInfo(zone)
    return zone


def parse_rules(text: str) -> tuple[int, int, int, int]:
    parts = text.replace(",", " ").split()
    if len(parts) != 4 or not all(p.isdecimal() for p in parts):
        raise UserError(
            N_(
                "Write four numbers of days: agenda deadline, final agenda, minutes due, objection window. "
                "Example: 10 7 7 7"
            )
        )
    deadline, final, due, objection = (int(p) for p in parts)
    if not (1 <= final < deadline <= 90) or not (1 <= due <= 60) or not (1 <= objection <= 60):
        raise UserError(
            N_(
                "Those numbers do not fit: the agenda deadline must come before the final agenda "
                "(for example 10 and 7), and every number must be between 1 and 90."
            )
        )
    return deadline, final, due, objection


@handler
async def settings(ctx: Ctx) -> None:
    network = await ctx.require_coordinator()
    ctx.network = network
    words = ctx.arg_text.split()
    if words:
        done = await _apply_setting(ctx, words)
        await ctx.reply(ctx.t._(done))
    coords, translators = await _names(ctx)
    from handlers import workgroups  # published decisions: a line and a button

    text = _settings_text(ctx, coords, translators) + await workgroups.settings_line(ctx)
    await ctx.reply(text, [*_settings_keyboard(ctx), await workgroups.settings_row(ctx)])


async def _parse_tz_step(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    return parse_timezone(text)


async def _parse_rules_step(ctx: Ctx, text: str, data: dict[str, Any]) -> list[int]:
    return list(parse_rules(text))


async def _parse_person_step(ctx: Ctx, text: str, data: dict[str, Any]) -> int:
    network = await ctx.require_coordinator()
    person = await people.find_person_in_network(ctx.session, network, text.split()[0])
    return person.id


async def _parse_lang_step(ctx: Ctx, text: str, data: dict[str, Any]) -> str:
    lang = normalize_language(text) or {v.lower(): k for k, v in LANGUAGE_NAMES.items()}.get(text.lower())
    if lang is None:
        raise UserError(N_("That language is not available. Choose Dansk, العربية, ትግርኛ or English."))
    return lang


async def _finish_setting(ctx: Ctx, data: dict[str, Any]) -> None:
    from bot.db import models as m

    network = await ctx.require_coordinator()
    if "timezone" in data:
        network.timezone = data["timezone"]
    if "rules" in data:
        r = data["rules"]
        (
            network.agenda_deadline_days,
            network.final_agenda_days,
            network.minutes_due_days,
            network.objection_days,
        ) = r
    if "coordinator" in data:
        person = await ctx.session.get(m.Person, data["coordinator"])
        assert person is not None
        await people.set_named_coordinator(ctx.session, network, person, True)
    if "translator" in data:
        person = await ctx.session.get(m.Person, data["translator"])
        assert person is not None
        await people.set_translator(ctx.session, network, person, data["language"], True)
    await ctx.reply(ctx.t._("Saved."))


register_form(
    Form(
        "set_tz",
        [Step("timezone", N_("Which time zone? For example Europe/Copenhagen."), _parse_tz_step)],
        _finish_setting,
    )
)
register_form(
    Form(
        "set_rules",
        [
            Step(
                "rules",
                N_(
                    "Write four numbers of days: agenda deadline, final agenda, minutes due, objection window. "
                    "Example: 10 7 7 7"
                ),
                _parse_rules_step,
            )
        ],
        _finish_setting,
    )
)
register_form(
    Form(
        "set_coord",
        [
            Step(
                "coordinator",
                N_("Who? Write their @username (they must have written in the group)."),
                _parse_person_step,
            )
        ],
        _finish_setting,
    )
)
register_form(
    Form(
        "set_transl",
        [
            Step(
                "translator",
                N_("Who? Write their @username (they must have written in the group)."),
                _parse_person_step,
            ),
            Step(
                "language", N_("Which language do they translate into? da, ar, ti or en."), _parse_lang_step
            ),
        ],
        _finish_setting,
    )
)


@on_callback("settings")
async def settings_button(ctx: Ctx, obj_id: str, action: str) -> None:
    network = await ctx.require_coordinator()
    if parse_id(obj_id) != network.id:
        raise UserError(N_("This button no longer works."))
    await ctx.answer()
    if action == "lang":
        await ctx.reply(ctx.t._("Choose the group's language."), language_keyboard(ctx, "g"), quote=False)
    elif action in ("tz", "rules", "coord", "transl"):
        await begin(ctx, f"set_{action}")
    else:
        raise UserError(N_("This button no longer works."))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("setup", setup), group=0)
    app.add_handler(CommandHandler("settings", settings), group=0)
