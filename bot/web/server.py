"""The HTTP side of `volbot run`: /healthz, the calendar pages, and (webhook mode) the webhook.

Features add routes through `ROUTE_FACTORIES`; each factory gets the Services and returns Starlette
routes, so the web layer stays independent of Telegram handlers.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.db.outage import monitor_of
from bot.services import Services

ROUTE_FACTORIES: list[Callable[[Services], list[BaseRoute]]] = []


# How long a Bot API probe (getMe) is trusted: health checks from Docker and load balancers come
# every few seconds and must not turn into a stream of requests to Telegram.
BOT_API_PROBE_SECONDS = 5.0
PROBE_TIMEOUT = 3.0


class BotApiProbe:
    """getMe, cached for a few seconds; concurrent checks share one request."""

    def __init__(self, services: Services, ttl: float = BOT_API_PROBE_SECONDS) -> None:
        self.services = services
        self.ttl = ttl
        self._at = -math.inf
        self._result = "unknown"
        self._lock = asyncio.Lock()

    def _bot(self) -> Any:
        return self.services.dispatcher.bot if self.services.dispatcher is not None else None

    async def check(self) -> str:
        outbox = self.services.outbox
        if outbox is not None and outbox.gate.down:
            # Sends already found Telegram unreachable: say so without asking it again.
            return "bot_api " + outbox.gate.state()
        async with self._lock:
            if time.monotonic() - self._at < self.ttl:
                return self._result
            bot = self._bot()
            if bot is None:
                return "not started"
            try:
                await asyncio.wait_for(bot.get_me(), PROBE_TIMEOUT)
                self._result = "ok"
            except Exception as err:  # the error's kind only: messages may contain URLs
                self._result = type(err).__name__
            self._at = time.monotonic()
            return self._result


def create_web_app(services: Services, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    probe = BotApiProbe(services)

    async def healthz(_request: Request) -> JSONResponse:
        checks: dict[str, Any] = {}
        monitor = monitor_of(services)
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                async with services.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as err:
            checks["database"] = type(err).__name__
        if checks["database"] == "ok" and monitor.down:
            # Answered this time, but not yet seen back by the monitor's own probe.
            checks["database"] = f"unreachable ({monitor.cause})"
        checks["bot_api"] = await probe.check()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)

    routes: list[BaseRoute] = [Route("/healthz", healthz)]
    # Import the web features so their factories register (they live under bot/web/).
    import importlib
    import pkgutil

    import bot.web as web_pkg

    for info in pkgutil.iter_modules(web_pkg.__path__):
        if info.name != "server":
            importlib.import_module(f"bot.web.{info.name}")
    for factory in ROUTE_FACTORIES:
        routes.extend(factory(services))
    routes.extend(extra_routes or [])
    return Starlette(routes=routes)
