"""Public calendar: /n/{slug} (upcoming events as a page in da/ar/ti/en), /n/{slug}.ics (a feed
phone calendars subscribe to) and /e/{id}.ics (one event)."""

from __future__ import annotations

import html
import logging
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.db import models as m
from bot.domain import calendar, people
from bot.domain import translations as tr
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, get_translator, normalize_language
from bot.render.events import untranslated_note, when_line
from bot.render.ics import build_calendar
from bot.services import Services
from bot.web import decisions as published
from bot.web.server import ROUTE_FACTORIES

log = logging.getLogger(__name__)

PAGE_LIMIT = 200


def routes(services: Services) -> list[BaseRoute]:
    def public(path: str) -> str:
        return calendar.public_link(services.settings.public_url, path)

    async def page(request: Request) -> Response:
        slug = request.path_params["slug"]
        if slug.endswith(".ics"):
            return await feed(request, slug[:-4])
        async with services.sessionmaker() as session:
            network = await people.network_by_slug(session, slug)
            if network is None:
                return HTMLResponse("<!doctype html><title>404</title><p>Not found</p>", status_code=404)
            lang = normalize_language(request.query_params.get("lang")) or network.language
            t = get_translator(lang)
            now = services.clock()
            events = list(
                (
                    await session.scalars(
                        select(m.Event)
                        .where(
                            m.Event.network_id == network.id,
                            m.Event.status == "scheduled",
                            m.Event.starts_at > now,
                        )
                        .order_by(m.Event.starts_at, m.Event.id)
                        .limit(PAGE_LIMIT)
                    )
                ).all()
            )
            texts = await tr.many_event_texts(session, events, lang)
            # series hook: each occurrence of a series shows its rhythm
            from bot.domain.series import of_events
            from bot.render.series import rhythms as series_rhythms

            rhythms = series_rhythms(events, await of_events(session, events), t)
            decisions_link = await published.calendar_link(session, network, t)  # bot/web/decisions.py
        rtl = t.rtl
        esc = html.escape

        def own(text: str) -> str:
            # People's own words (names, titles, places) keep their own direction inside an RTL page.
            return f"<bdi>{esc(text)}</bdi>"

        # Translated labels are looked up outside the f-strings, where pybabel can extract them.
        add_label = t._("Add to calendar")
        upcoming_label = t._("Upcoming events")
        subscribe_label = t._("Subscribe in your calendar")
        guide_label = t._("How to follow this network")
        items = []
        for e in events:
            f = texts[e.id].fields
            note = untranslated_note(texts[e.id], t)
            items.append(
                f'<li class="event" id="event-{e.id}"><h2>{own(f["title"])}</h2>'
                f'<p class="when">{esc(when_line(e, network.timezone, t))}</p>'
                + (f'<p class="rhythm">🔁 {own(rhythms[e.id])}</p>' if e.id in rhythms else "")  # series hook
                + f'<p class="place">{own(f["place"])}</p>'
                + (f'<p class="description">{own(f["description"])}</p>' if f["description"] else "")
                + (f'<p class="note">{note}</p>' if note else "")
                + f'<p><a href="{esc(public(f"/e/{e.id}.ics"))}">{add_label}</a></p></li>'
            )
        switch = " ".join(
            f'<a class="lang" hreflang="{code}" href="?lang={code}">{own(LANGUAGE_NAMES[code])}</a>'
            for code in LANGUAGES
        )
        description = t.plain(
            "Upcoming events of {network}. You can subscribe to them in your phone's calendar.",
            network=network.name,
        )
        none_label = t._("No upcoming events.")
        empty = f'<p class="empty">{none_label}</p>' if not events else ""
        feed_url = public(f"/n/{quote(network.slug)}.ics")
        body = f"""<!doctype html>
<html lang="{lang}" dir="{"rtl" if rtl else "ltr"}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(network.name)}</title>
<meta name="description" content="{esc(description)}">
<link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; max-width: 44rem; margin: 1rem auto; padding: 0 1rem;
  text-align: {"right" if rtl else "left"}; }}
/* A phone 320-360 px wide never scrolls sideways: long names, words and links wrap. */
body, h1, h2, p, li, a, bdi {{ overflow-wrap: anywhere; word-break: break-word; min-width: 0; }}
h1 {{ font-size: 1.6rem; hyphens: auto; }}
nav.languages {{ display: flex; flex-wrap: wrap; gap: .2rem .6rem; }}
ul {{ list-style: none; padding: 0; }} li.event {{ border-bottom: 1px solid #ddd; padding: .5rem 0; }}
h2 {{ margin: .2rem 0; font-size: 1.2rem; }} .note {{ color: #666; font-style: italic; }}
</style></head>
<body>
<nav class="languages">{switch}</nav>
<h1>{own(network.name)}</h1>
<p>{upcoming_label} · <a href="{esc(feed_url)}">{subscribe_label}</a>{decisions_link}</p>
<p><a href="{esc(public(f"/guide?lang={lang}"))}">{guide_label}</a></p>
{empty}<ul id="events">{"".join(items)}</ul>
</body></html>"""
        return HTMLResponse(body)

    async def feed(request: Request, slug: str) -> Response:
        async with services.sessionmaker() as session:
            network = await people.network_by_slug(session, slug)
            if network is None:
                return Response("not found", status_code=404)
            built = await calendar.network_feed(
                session, network, services.clock(), services.settings.public_url
            )
            if built.stale:
                # Store what had to be serialized, so the next fresh process reads it instead.
                try:
                    await calendar.store_vevents(session, built.stale)
                    await session.commit()
                except SQLAlchemyError:
                    await session.rollback()
                    log.warning(
                        "could not store %d VEVENTs for feed %s", len(built.stale), slug, exc_info=True
                    )
        return Response(built.data, media_type="text/calendar; charset=utf-8")

    async def one(request: Request) -> Response:
        raw = request.path_params["event_id"]
        if not raw.isdecimal() or len(raw) > 12:
            return Response("not found", status_code=404)
        async with services.sessionmaker() as session:
            event = await session.get(m.Event, int(raw))
            network = await session.get(m.Network, event.network_id) if event else None
            if event is None or network is None:
                return Response("not found", status_code=404)
            data = build_calendar([(event, network)], name=network.name, now=services.clock())
        return Response(
            data,
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="event-{event.id}.ics"'},
        )

    return [
        Route("/n/{slug}", page),
        Route("/e/{event_id}.ics", one),
    ]


ROUTE_FACTORIES.append(routes)
