"""Published decisions: off by default (the page is 404 like an unknown network, and the calendar does
not link it); a coordinator turns it on in /settings; /n/{slug}/decisions shows the approved minutes'
text and the decisions log in da/ar/ti/en, right-to-left in Arabic (headless Chromium), with names
only as the minutes have them; turned off with the /settings button, it is 404 again."""

from __future__ import annotations

import asyncio

import httpx
from test_calendar_web import _chromium, require_chromium

from bot.testing.fake_bot_api import Call
from bot.testing.harness import BotHarness, texts
from bot.web.server import create_web_app

SLUG = "integrationsforum"
MINUTES = (
    "Referat, Integrationsforum\n"
    "1. Velkommen: Martha bød velkommen.\n"
    "2. Sprogcafé: Jamila sender notits når bekendtgørelsen kommer ud.\n"
    "3. Eventuelt: intet."
)


def last_text(calls: list[Call], chat_id: int | None = None) -> str:
    found = texts(calls, chat_id)
    assert found, calls
    return found[-1]


async def setup_with_decisions(bot: BotHarness) -> tuple[object, object, object]:
    mette = bot.user(1, "Mette Koordinator", "da", username="mette")
    yonas = bot.user(2, "Yonas Tesfay", "ti", username="yonas")
    group = bot.group("Integrationsforum", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(yonas, "/help", group)
    await bot.say(mette, "/newmeeting 24. november kl. 17 | Rådhuset", group)
    calls = await bot.say(mette, "/vote Vi afholder sprogcafé hver tirsdag", group)
    msg = next(c for c in calls if "For" in [b["text"] for b in c.buttons()])  # not a notice sent meanwhile
    await bot.press(yonas, group, msg.message_id or 0, "For")
    await bot.say(mette, "/closevote", group)
    await bot.advance(days=2)  # after the meeting
    await bot.say(mette, MINUTES, group)
    minutes_msg = max(bot.api.messages[group.id])
    await bot.say(mette, "/minutes 1", group, reply_to_message_id=minutes_msg)
    await bot.advance(days=8)  # no objection: approved
    return mette, yonas, group


async def test_published_decisions_page(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette, yonas, group = await setup_with_decisions(bot)
    app = create_web_app(bot.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        # Off by default: as unknown as a network that does not exist.
        off = await client.get(f"/n/{SLUG}/decisions")
        assert off.status_code == 404 and off.text == (await client.get("/n/nowhere/decisions")).text
        assert "/decisions" not in (await client.get(f"/n/{SLUG}")).text

        # Only a coordinator turns it on.
        refused = last_text(await bot.say(yonas, "/settings publish on", group), group.id)  # type: ignore[arg-type]
        assert refused.startswith("⚠️")
        assert (await client.get(f"/n/{SLUG}/decisions")).status_code == 404
        shown = await bot.say(mette, "/settings publish on", group)  # type: ignore[arg-type]
        settings = next(c for c in shown if c.buttons())
        assert f"/n/{SLUG}/decisions" in (settings.plain_text or "")
        assert [b["text"] for b in settings.buttons()][-1] == "Stop offentliggørelse af beslutninger"

        pages = {}
        for lang in ("da", "ar", "ti", "en"):
            page = await client.get(f"/n/{SLUG}/decisions?lang={lang}")
            assert page.status_code == 200
            pages[lang] = page.text
        da = pages["da"]
        assert "Beslutninger i Integrationsforum" in da and "Godkendte referater" in da
        assert "Vi afholder sprogcafé hver tirsdag" in da
        assert "Jamila sender notits når bekendtgørelsen kommer ud." in da
        # Names only as the minutes have them: not the coordinator who opened the vote, nor the voter.
        assert "Mette" not in da and "Yonas" not in da
        assert (
            'dir="rtl"' in pages["ar"] and "سجل القرارات" in pages["ar"] and "المحاضر المعتمدة" in pages["ar"]
        )
        assert "መዝገብ ውሳነታት" in pages["ti"] and 'dir="ltr"' in pages["ti"]
        assert "Decisions log" in pages["en"]
        # The calendar page links it now.
        assert f"/n/{SLUG}/decisions?lang=da" in (await client.get(f"/n/{SLUG}?lang=da")).text

        # Turned off with the button: 404 again.
        await bot.press(mette, group, settings.message_id or 0, "Stop offentliggørelse af beslutninger")  # type: ignore[arg-type]
        assert (await client.get(f"/n/{SLUG}/decisions")).status_code == 404


async def test_published_page_in_headless_chromium(clocked_bot: BotHarness) -> None:
    import uvicorn
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    require_chromium()
    bot = clocked_bot
    mette, _yonas, group = await setup_with_decisions(bot)
    await bot.say(mette, "/settings publish on", group)  # type: ignore[arg-type]
    app = create_web_app(bot.services)
    probe_html = """<!doctype html><html><body><iframe id=f src="/n/SLUG/decisions?lang=ar" width=800 height=600>
</iframe><pre id=out></pre><script>
document.getElementById('f').onload = function () {
  var d = this.contentDocument, s = d.defaultView.getComputedStyle(d.body);
  document.getElementById('out').textContent = 'DIR=' + d.documentElement.dir + ' ALIGN=' + s.textAlign +
    ' DIRECTION=' + s.direction + ' DECISIONS=' + d.querySelectorAll('li.decision').length +
    ' MINUTES=' + d.querySelectorAll('article.minutes').length;
};
</script></body></html>""".replace("SLUG", SLUG)

    async def probe(_request: object) -> HTMLResponse:
        return HTMLResponse(probe_html)

    app.router.routes.append(Route("/probe", probe))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    try:
        dom = await asyncio.to_thread(_chromium, f"{base}/probe", "--dump-dom")
        assert "DIR=rtl" in dom and "ALIGN=right" in dom and "DIRECTION=rtl" in dom, dom[-500:]
        # Two decisions (the vote, the approved minutes) and the one set of approved minutes.
        assert "DECISIONS=2" in dom and "MINUTES=1" in dom, dom[-500:]
        danish = await asyncio.to_thread(_chromium, f"{base}/n/{SLUG}/decisions?lang=da", "--dump-dom")
        assert 'lang="da"' in danish and "Beslutningsprotokol" in danish and "Jamila sender notits" in danish
        tigrinya = await asyncio.to_thread(_chromium, f"{base}/n/{SLUG}/decisions?lang=ti", "--dump-dom")
        assert 'lang="ti"' in tigrinya and "ዝጸደቑ ቃለ-ጉባኤታት" in tigrinya and "Vi afholder sprogcafé" in tigrinya
    finally:
        server.should_exit = True
        await task
