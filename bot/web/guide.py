"""The guides on the web: /guide (for followers, in da/ar/ti/en) and /guide/coordinators (da/en), in the
reader's language (`?lang=`, else the browser's Accept-Language, else the bot's default language);
Arabic right to left; a phone 320-360 px wide never scrolls sideways (the calendar page's approach)."""

from __future__ import annotations

import asyncio
import html
from functools import cache

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.i18n import LANGUAGE_NAMES, LANGUAGES, get_translator, normalize_language
from bot.render import guide as guides
from bot.render.invitation import follow_link, invitation_png
from bot.services import Services
from bot.web.server import ROUTE_FACTORIES

CSS = """
body { font-family: system-ui, "Noto Sans", "Noto Sans Arabic", "Noto Sans Ethiopic", "Abyssinica SIL",
  sans-serif; max-width: 44rem; margin: 1rem auto; padding: 0 1rem; line-height: 1.5; }
/* A phone 320-360 px wide never scrolls sideways: long names, words, links and chats wrap. */
body, h1, h2, h3, p, li, a, code, pre, bdi { overflow-wrap: anywhere; word-break: break-word; min-width: 0; }
h1 { font-size: 1.6rem; hyphens: auto; } h2 { font-size: 1.25rem; margin-top: 1.6rem; }
nav { display: flex; flex-wrap: wrap; gap: .2rem .8rem; margin-bottom: .6rem; }
div.chat { background: #eef5fb; border-radius: .5rem; padding: .6rem .8rem; margin: .8rem 0;
  font-size: .92rem; max-width: 100%; box-sizing: border-box; }
div.chat div { white-space: pre-wrap; text-align: start; }
code { background: #f3f3f3; padding: 0 .2rem; border-radius: .2rem; }
.note { color: #555; font-style: italic; }
"""


def pick_language(request: Request, offered: tuple[str, ...], default: str) -> str:
    """?lang= if offered, else the first offered language in Accept-Language (by q), else the default."""
    asked = normalize_language(request.query_params.get("lang"))
    if asked in offered:
        return asked
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(request.headers.get("accept-language", "").split(",")):
        code, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = normalize_language(code.strip())
        if lang in offered and q > 0:
            ranked.append((-q, i, lang))
    if ranked:
        return sorted(ranked)[0][2]
    return default if default in offered else offered[-1]


def page(guide: str, lang: str, reader: str) -> str:
    """The guide `guide` in `lang`, for a reader of `reader` (the same, unless the guide is not written
    in the reader's language: then a note in theirs says so)."""
    t = get_translator(lang)
    rt = get_translator(reader)
    source = guides.source(guide, lang)
    body = guides.to_html(source, lang)
    rtl = t.rtl
    esc = html.escape
    path = "/guide" if guide == "follower" else "/guide/coordinators"
    switch = " ".join(
        f'<a class="lang" hreflang="{code}" href="{path}?lang={code}"><bdi>{esc(LANGUAGE_NAMES[code])}</bdi></a>'
        for code in guides.GUIDES[guide]
    )
    # Translated labels are looked up outside the f-strings, where pybabel can extract them.
    if guide == "follower":
        label = t._("For coordinators")
        other = f'<a href="/guide/coordinators?lang={"da" if lang == "da" else "en"}">{label}</a>'
    else:
        label = t._("For followers")
        other = f'<a href="/guide?lang={lang}">{label}</a>'
    note = ""
    if reader != lang:
        text = rt._("This guide is written in Danish and English.")
        note = f'<p class="note" lang="{reader}" dir="{"rtl" if rt.rtl else "ltr"}">{text}</p>'
    return f"""<!doctype html>
<html lang="{lang}" dir="{"rtl" if rtl else "ltr"}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(guides.title_of(source))}</title>
<link rel="icon" href="data:,">
<style>{CSS} body {{ text-align: {"right" if rtl else "left"}; }}</style></head>
<body>
<nav class="languages">{switch}</nav>
<nav class="guides">{other}</nav>
{note}
<main>
{body}
</main>
</body></html>"""


def routes(services: Services) -> list[BaseRoute]:
    default = services.settings.bot_default_language

    async def follower(request: Request) -> Response:
        lang = pick_language(request, guides.GUIDES["follower"], default)
        return HTMLResponse(page("follower", lang, lang))

    async def coordinators(request: Request) -> Response:
        reader = pick_language(request, LANGUAGES, default)
        lang = reader if reader in guides.GUIDES["coordinators"] else "en"
        return HTMLResponse(page("coordinators", lang, reader))

    async def example(_request: Request) -> Response:
        return Response(await asyncio.to_thread(example_invitation), media_type="image/png")

    return [
        Route("/guide", follower),
        Route("/guide/coordinators", coordinators),
        Route("/guide/invitation.png", example),
    ]


@cache
def example_invitation() -> bytes:
    """The invitation /invite sends, for an example network (shown from the coordinators' guide)."""
    return invitation_png("Rudersdal Netværk", follow_link("volbot", "rudersdal-netvaerk"))


ROUTE_FACTORIES.append(routes)
