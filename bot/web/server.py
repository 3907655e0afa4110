"""The HTTP side of `volbot run`: /healthz, the calendar pages, and (webhook mode) the webhook.

Features add routes through `ROUTE_FACTORIES`; each factory gets the Services and returns Starlette
routes, so the web layer stays independent of Telegram handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.services import Services

ROUTE_FACTORIES: list[Callable[[Services], list[BaseRoute]]] = []


def create_web_app(services: Services, extra_routes: list[BaseRoute] | None = None) -> Starlette:
    async def healthz(_request: Request) -> JSONResponse:
        checks: dict[str, Any] = {}
        try:
            async with services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as err:
            checks["database"] = type(err).__name__
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
