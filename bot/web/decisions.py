"""Published decisions: /n/{slug}/decisions — a network's approved minutes (their text) and its
decisions log, in da/ar/ti/en (?lang=), right-to-left in Arabic. Only for a network that turned
"publish decisions" on in /settings; anything else is 404, exactly as an unknown network. People's
names appear only as the approved minutes' text has them (the page never looks a person up)."""

from __future__ import annotations

import html

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.db import models as m
from bot.domain import people
from bot.domain import workgroups as wg
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, get_translator, normalize_language
from bot.render.between import short_decision
from bot.render.votes import decision_line
from bot.services import Services
from bot.web.server import ROUTE_FACTORIES

MAX_DECISIONS = 200
NOT_FOUND = "<!doctype html><title>404</title><p>Not found</p>"


def routes(services: Services) -> list[BaseRoute]:
    async def page(request: Request) -> Response:
        slug = request.path_params["slug"]
        async with services.sessionmaker() as session:
            network = await people.network_by_slug(session, slug)
            if network is None or not await wg.is_published(session, network.id):
                return HTMLResponse(NOT_FOUND, status_code=404)
            lang = normalize_language(request.query_params.get("lang")) or network.language
            t = get_translator(lang)
            minutes = await wg.published_minutes(session, network.id)
            decisions = list(
                (
                    await session.scalars(
                        select(m.Decision)
                        .where(m.Decision.network_id == network.id)
                        .order_by(m.Decision.decided_at.desc(), m.Decision.id.desc())
                        .limit(MAX_DECISIONS)
                    )
                ).all()
            )
        esc = html.escape
        rtl = t.rtl

        def own(text: str) -> str:
            return f"<bdi>{esc(text)}</bdi>"

        title = t._("Decisions of {network}", network=network.name)
        log_label = t._("Decisions log")
        minutes_label = t._("Approved minutes")
        calendar_label = t._("Upcoming events")
        none_decisions = t._("No decisions have been recorded yet.")
        none_minutes = t._("No approved minutes yet.")
        rows = "".join(
            f'<li class="decision" id="decision-{d.id}">{decision_line(short_decision(d), t, network.timezone)}</li>'
            for d in decisions
        )
        blocks = "".join(
            f'<article class="minutes" id="minutes-{x.id}"><h3>'
            + esc(t.plain("Meeting of {when}", when=t.when(x.starts_at, network.timezone)))
            + f'</h3><div class="text" dir="auto">{esc(x.minutes_text or "")}</div></article>'
            for x in minutes
        )
        switch = " · ".join(
            f'<a class="lang" hreflang="{code}" href="?lang={code}">{own(LANGUAGE_NAMES[code])}</a>'
            for code in LANGUAGES
        )
        body = f"""<!doctype html>
<html lang="{lang}" dir="{"rtl" if rtl else "ltr"}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 44rem; margin: 1rem auto; padding: 0 1rem;
  text-align: {"right" if rtl else "left"}; }}
ul {{ list-style: none; padding: 0; }} li.decision {{ border-bottom: 1px solid #ddd; padding: .4rem 0; }}
.minutes .text {{ white-space: pre-wrap; border-inline-start: 3px solid #ccc; padding-inline-start: .6rem; }}
</style></head>
<body>
<nav class="languages">{switch}</nav>
<h1>{title}</h1>
<p><a href="/n/{esc(network.slug)}?lang={lang}">{calendar_label}</a></p>
<h2>{log_label}</h2>
{"" if decisions else f'<p class="empty">{none_decisions}</p>'}<ul id="decisions">{rows}</ul>
<h2>{minutes_label}</h2>
{"" if minutes else f'<p class="empty">{none_minutes}</p>'}<section id="minutes">{blocks}</section>
</body></html>"""
        return HTMLResponse(body)

    return [Route("/n/{slug}/decisions", page)]


async def calendar_link(session: AsyncSession, network: m.Network, t: Translator) -> str:
    """The calendar page's link here, for a network that publishes (else nothing)."""
    if not await wg.is_published(session, network.id):
        return ""
    label = t._("Decisions and minutes")
    return (
        f' · <a class="decisions" href="/n/{html.escape(network.slug)}/decisions?lang={t.lang}">{label}</a>'
    )


ROUTE_FACTORIES.append(routes)
