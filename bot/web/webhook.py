"""Webhook mode: Telegram POSTs updates to `WEBHOOK_URL`; the same Starlette app serves the calendar
pages and /healthz on `PORT`.

Several instances can run behind one URL (a load balancer or a reverse proxy): each one registers
the same webhook at start-up (idempotent), none deletes it on the way out, dialogue state lives in
the database and scheduled notices are claimed atomically, so any instance can take any update.

An update is handled *before* the request is answered. If the instance dies mid-update, Telegram
gets no 200 and delivers the update again (to whichever instance answers), instead of it being lost
in a queue in memory. Telegram keeps up to `max_connections` requests open at once, so updates are
still handled concurrently.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.db.outage import monitor_of, webhook_outage
from bot.runner import ALLOWED_UPDATES, WebServer, _stop_on_signals, finish_dispatch, uvicorn_config

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram allows 1–256 characters of A-Z, a-z, 0-9, _ and -.
_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# Telegram's own limit on an update is far below this; anything bigger is not from Telegram.
MAX_BODY = 1_000_000

NO_SECRET = (
    "Webhook mode needs WEBHOOK_SECRET: without it anyone who finds WEBHOOK_URL could post fake "
    "updates. Set WEBHOOK_SECRET to a random string of 16-256 letters, digits, _ or - "
    "(for example the output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) "
    "and start again; every instance must use the same value."
)


def check_webhook_settings(settings: Settings) -> str | None:
    """None when the webhook settings are usable, else what is wrong (for the operator)."""
    secret = settings.webhook_secret or ""
    if not secret:
        return NO_SECRET
    if not (16 <= len(secret) <= 256) or not set(secret) <= _SECRET_CHARS:
        return (
            "WEBHOOK_SECRET must be 16-256 characters of letters, digits, _ and - (Telegram's rule). "
            + NO_SECRET.split(": ", 1)[0]
            + "."
        )
    url = settings.webhook_url or ""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"WEBHOOK_URL must be a full URL such as https://bot.example.org{webhook_path(settings)}"
    return None


def webhook_path(settings: Settings) -> str:
    """The path the webhook is served on: the path of WEBHOOK_URL, or /telegram/webhook."""
    path = urlsplit(settings.webhook_url or "").path
    return path if path and path != "/" else "/telegram/webhook"


def webhook_routes(app: Application, secret: str, path: str) -> list[BaseRoute]:  # type: ignore[type-arg]
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        # Constant-time comparison: the secret must not leak through response timing.
        if not hmac.compare_digest(given, expected):
            log.warning("webhook: refused a request with a wrong or missing secret token")
            return JSONResponse({"ok": False}, status_code=403)
        if app.bot_data["services"].webhook_stopping:
            # Shutting down: let Telegram deliver this one again, probably to another instance.
            return JSONResponse({"ok": False}, status_code=503)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"ok": False}, status_code=413)
        try:
            data = json.loads(body)
            update = Update.de_json(data, app.bot)
        except Exception as err:
            log.warning("webhook: unreadable update (%s)", type(err).__name__)
            return JSONResponse({"ok": False}, status_code=400)
        if update is None:
            return JSONResponse({"ok": False}, status_code=400)
        # The database away: Telegram keeps the update and sends it again (bot/db/outage.py).
        if monitor_of(app.bot_data["services"]).down:
            return JSONResponse({"ok": False, "error": "database unavailable"}, status_code=503)
        # process_update reports handler failures to the error handler; it raises only on a bug in
        # the framework, and then a 500 makes Telegram try again.
        gave_up: list[BaseException] = []
        token = webhook_outage.set(gave_up)
        try:
            await app.process_update(update)
        finally:
            webhook_outage.reset(token)
        if gave_up:
            return JSONResponse({"ok": False, "error": "database unavailable"}, status_code=503)
        return Response(status_code=200)

    return [Route(path, receive, methods=["POST"])]


async def serve_webhook(settings: Settings, *, stop: asyncio.Event | None = None, **options: Any) -> None:
    """Run the bot in webhook mode until SIGTERM/SIGINT (or `stop` is set).

    Shutdown order: stop accepting requests (uvicorn finishes the ones in flight, which are updates
    being handled), let the dispatcher finish the batch it is sending, then close everything.
    """
    problem = check_webhook_settings(settings)
    if problem:
        raise SystemExit(problem)
    from bot.app import build_application
    from bot.web.server import create_web_app

    app = build_application(settings, **options)
    services = app.bot_data["services"]
    path = webhook_path(settings)
    assert settings.webhook_secret is not None
    web = create_web_app(services, extra_routes=webhook_routes(app, settings.webhook_secret, path))
    server = WebServer(uvicorn_config(web, settings.port))

    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    await app.initialize()
    # PTB runs post_init/post_shutdown only inside run_polling/run_webhook; this loop is our own.
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    web_task = asyncio.create_task(server.serve())
    try:
        # Serve before registering, so Telegram's first POST finds us listening.
        while not server.started:
            if web_task.done():
                await web_task  # raises what stopped it (a port in use, …)
                raise SystemExit(f"the web server could not start on port {settings.port}")
            await asyncio.sleep(0.05)
        await app.bot.set_webhook(
            url=str(settings.webhook_url),
            secret_token=settings.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
            max_connections=40,
        )
        log.info("volbot is running (webhook on path %s); web on port %s", path, settings.port)
        await stop.wait()
    finally:
        log.info("stopping: no new updates; finishing in-flight work")
        # The webhook stays registered: other instances keep serving it.
        services.webhook_stopping = True
        server.should_exit = True
        await web_task
        await finish_dispatch(services)
        if app.running:
            await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        log.info("stopped")
