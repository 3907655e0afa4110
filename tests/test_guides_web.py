"""The guides on the web (/guide, /guide/coordinators): the reader's language, Arabic right to left,
linked from /help, /start and the calendar page, and in headless Chromium at phone width in every
language: no sideways scrolling at 360 px, and every link on a guide page answers 200."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import httpx
from test_calendar_web import ARTIFACTS, _chromium, require_chromium

from bot.render import guide as guides
from bot.testing.harness import BotHarness
from bot.web.server import create_web_app

PUBLIC = "https://volbot.example.org"
ROOT = Path(__file__).resolve().parent.parent


async def test_language_from_query_then_accept_language(bot: BotHarness) -> None:
    app = create_web_app(bot.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        ar = await client.get("/guide?lang=ar")
        assert ar.status_code == 200 and 'lang="ar" dir="rtl"' in ar.text
        assert "كيف تتابع شبكة" in ar.text and "text-align: right" in ar.text
        ti = await client.get("/guide", headers={"Accept-Language": "ti-ER,ti;q=0.9,en;q=0.5"})
        assert 'lang="ti" dir="ltr"' in ti.text and "ንሓደ መርበብ ከመይ ጌርኩም ትስዕብዎ" in ti.text
        weighted = await client.get("/guide", headers={"Accept-Language": "de;q=1, en;q=0.4, ar;q=0.8"})
        assert 'lang="ar"' in weighted.text
        # Nothing to go by: the bot's default language (Danish).
        assert 'lang="da"' in (await client.get("/guide")).text
        en = await client.get("/guide?lang=en", headers={"Accept-Language": "ar"})
        assert 'lang="en"' in en.text and "How to follow a network" in en.text
        # Commands keep their own direction inside Arabic text.
        assert '<code dir="ltr">/forgetme</code>' in ar.text
        # The coordinators' guide exists in Danish and English; an Arabic reader gets English with a
        # note in Arabic that says so.
        coord_ar = await client.get("/guide/coordinators?lang=ar")
        assert 'lang="en" dir="ltr"' in coord_ar.text and "A guide for coordinators" in coord_ar.text
        assert '<p class="note" lang="ar" dir="rtl">' in coord_ar.text and "بالدنماركية" in coord_ar.text
        coord_da = await client.get("/guide/coordinators", headers={"Accept-Language": "da-DK"})
        assert "Vejledning for koordinatorer" in coord_da.text and 'class="note"' not in coord_da.text
        assert '<a href="/guide/invitation.png">et eksempel</a>' in coord_da.text
        example = await client.get("/guide/invitation.png")
        assert example.headers["content-type"] == "image/png" and example.content.startswith(b"\x89PNG")


def test_transcripts_are_the_bots_own_words_and_embedded() -> None:
    """The coordinators' guide embeds what the bot really said (captured by scripts/capture-guide), in
    the guide's language, HTML-escaped."""
    html_da = guides.to_html(guides.source("coordinators", "da"), "da")
    assert "Rudersdal Netværk er nu et netværk" in html_da  # the /setup answer, in Danish
    assert "[1] Deltager  [2] Deltager ikke" in html_da
    html_en = guides.to_html(guides.source("coordinators", "en"), "en")
    assert "Rudersdal Network is now a network" in html_en and "[1] Going  [2] Not going" in html_en
    # Every transcript a guide names either exists or belongs to a step this version cannot show.
    for lang in ("da", "en"):
        named = re.findall(r"\{\{transcript ([a-z0-9_-]+)\}\}", guides.source("coordinators", lang))
        present = {n for n in named if guides.transcript(lang, n) is not None}
        assert {"setup", "invite", "event", "meeting", "minutes", "vote", "handcount", "broadcast"} <= present


def test_the_renderer_is_safe() -> None:
    html = guides.to_html(
        "# T <script>\n\n[x](javascript:alert(1)) [ok](/guide?lang=da) **b** `c`\n\n- a\n- b\n\n1. one\n",
        "en",
        transcript_of=lambda _lang, _name: None,
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html and '<a href="/guide?lang=da">ok</a>' in html
    assert "<strong>b</strong>" in html and '<code dir="ltr">c</code>' in html
    assert "<ul><li>a</li><li>b</li></ul>" in html and "<ol><li>one</li></ol>" in html
    chat = guides.to_html("{{transcript x}}", "en", transcript_of=lambda _l, _n: "Mette › <b>&")
    assert chat == '<div class="chat"><div dir="auto">Mette › &lt;b&gt;&amp;</div></div>'


async def test_help_start_and_calendar_link_to_the_guides(db_url: str) -> None:
    async with BotHarness(db_url, settings={"public_url": PUBLIC}) as bot:
        amina = bot.user(1, "Amina", "ar")
        mette = bot.user(2, "Mette", "da")
        start = (await bot.say(amina, "/start"))[-1].plain_text or ""
        assert f"{PUBLIC}/guide?lang=ar" in start and "دليل قصير" in start
        helped = (await bot.say(amina, "/help"))[-1].plain_text or ""
        assert f"{PUBLIC}/guide?lang=ar" in helped and "/guide/coordinators" not in helped
        group = bot.group("Rudersdal Netværk", admins=[mette])
        await bot.say(mette, "/setup", group)
        coord = (await bot.say(mette, "/help", group))[-1].plain_text or ""
        assert f"{PUBLIC}/guide?lang=da" in coord and f"{PUBLIC}/guide/coordinators?lang=da" in coord
        app = create_web_app(bot.services)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            page = await client.get("/n/rudersdal-netvaerk?lang=ti")
        assert f'<a href="{PUBLIC}/guide?lang=ti">' in page.text


async def test_no_guide_links_without_public_url(bot: BotHarness) -> None:
    amina = bot.user(1, "Amina", "en")
    text = (await bot.say(amina, "/help"))[-1].plain_text or ""
    assert "/guide" not in text


async def test_guides_in_headless_chromium_at_phone_width(bot: BotHarness) -> None:
    """Every guide in every language at 360 px: no sideways scrolling, Arabic laid out right to left,
    and every link found on the pages (language switches, the other guide) answers 200."""
    import uvicorn
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    require_chromium()
    app = create_web_app(bot.services)
    pages = [f"/guide?lang={lang}" for lang in guides.GUIDES["follower"]]
    pages += [f"/guide/coordinators?lang={lang}" for lang in guides.GUIDES["coordinators"]]
    frames = "".join(f'<iframe data-src="{p}" src="{p}" width=360 height=640></iframe>' for p in pages)
    probe_html = (
        "<!doctype html><html><body>"
        + frames
        + """<pre id=out></pre><script>
window.onload = function () {
  var lines = [];
  document.querySelectorAll('iframe').forEach(function (f) {
    var d = f.contentDocument, e = d.documentElement;
    var links = Array.prototype.map.call(d.querySelectorAll('a[href]'), function (a) {
      return a.getAttribute('href'); });
    lines.push(f.dataset.src + ' scroll=' + e.scrollWidth + ' client=' + e.clientWidth + ' dir=' + e.dir +
      ' align=' + d.defaultView.getComputedStyle(d.body).textAlign + ' links=' + links.join(','));
  });
  document.getElementById('out').textContent = lines.join('\\n');
};
</script></body></html>"""
    )

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
        found = re.findall(r"(/guide\S*) scroll=(\d+) client=(\d+) dir=(\w+) align=(\w+) links=(\S*)", dom)
        assert sorted(f[0].replace("&amp;", "&") for f in found) == sorted(pages), dom[-800:]
        links: set[str] = set()
        for src, scroll, client, direction, align, hrefs in found:
            assert int(client) <= 360 and int(scroll) <= 360, (src, scroll, client)
            rtl = src.endswith("lang=ar") and "coordinators" not in src
            assert direction == ("rtl" if rtl else "ltr") and align == ("right" if rtl else "left"), src
            links.update(h.replace("&amp;", "&") for h in hrefs.split(",") if h)
        # Language switches of both guides and the links between them, at least.
        assert {"/guide?lang=ar", "/guide?lang=ti", "/guide/coordinators?lang=da", "/guide?lang=en"} <= links
        # A picture for people to look at (tests/artifacts, not committed).
        ARTIFACTS.mkdir(exist_ok=True)
        for name in ("guide-ar", "guide-ti"):
            shot = ARTIFACTS / f"{name}.png"
            shot.unlink(missing_ok=True)
            url = f"{base}/guide?lang={name[-2:]}"
            await asyncio.to_thread(_chromium, url, f"--screenshot={shot}", "--window-size=360,1400")
            assert shot.exists() and shot.stat().st_size > 1000
        async with httpx.AsyncClient(base_url=base) as client:
            for href in sorted(links):
                assert href.startswith("/"), href  # the guides link only within the site
                assert (await client.get(href)).status_code == 200, href
    finally:
        server.should_exit = True
        await task


def test_capture_guide_records_the_real_bot(tmp_path: Path) -> None:
    """scripts/capture-guide still plays its story against this version of the bot and records what the
    group and the followers see (the committed transcripts are refreshed with the same command)."""
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "capture-guide"),
            "--lang",
            "en",
            "--followers",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    english = {p.stem for p in (tmp_path / "en").glob("*.txt")}
    assert {
        "setup",
        "invite",
        "event",
        "meeting",
        "minutes",
        "vote",
        "handcount",
        "broadcast",
        "privacy",
    } <= english
    assert {"follower-start", "follower-event"} <= {p.stem for p in (tmp_path / "ar").glob("*.txt")}
    setup = (tmp_path / "en" / "setup.txt").read_text(encoding="utf-8")
    assert setup.startswith("Mette › /setup Rudersdal Network\n\nRudersdal Network is now a network.")
    final = (tmp_path / "en" / "meeting.txt").read_text(encoding="utf-8")
    assert "Final agenda of Rudersdal Network" in final and "جدول الأعمال النهائي" in final
    # The same story gives the same transcripts as the ones the guide embeds, where the bot's words
    # did not change since they were captured (the invitation step at least: it is this issue's own).
    committed = (ROOT / "bot" / "guides" / "transcripts" / "en" / "invite.txt").read_text(encoding="utf-8")
    assert (tmp_path / "en" / "invite.txt").read_text(encoding="utf-8") == committed
