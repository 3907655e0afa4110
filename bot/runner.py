"""`volbot run`: polling (or webhook mode) plus the web server, in one event loop, until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Generator
from typing import Any

import uvicorn

from bot.app import build_application
from bot.config import Settings
from bot.services import Services
from bot.web.server import create_web_app

log = logging.getLogger(__name__)

# The update kinds the bot handles (webhook mode registers the same list).
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]


class WebServer(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` decides the shutdown order on SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass


def uvicorn_config(web: Any, port: int) -> uvicorn.Config:
    # log_config=None: uvicorn's records go through our handler (formatted, secrets redacted);
    # no access log: it would record people's IP addresses and nothing we need.
    return uvicorn.Config(
        web,
        host="0.0.0.0",
        port=port,
        log_level="warning",
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=20,
    )


async def finish_dispatch(services: Services, timeout: float = 25.0) -> None:
    """Let the dispatcher finish the sends it has claimed, but claim no more, and wait for it.

    What is still pending stays pending in the database for the next start or another instance.
    """
    dispatcher = services.dispatcher
    if dispatcher is None:
        return
    request_stop = getattr(dispatcher, "request_stop", None)
    if callable(request_stop):
        request_stop()
    else:

        async def claim_nothing(*_args: Any, **_kwargs: Any) -> list[Any]:
            return []

        dispatcher.claim = claim_nothing  # type: ignore[method-assign]
    stop = getattr(dispatcher, "stop", None)
    if callable(stop):
        try:
            await asyncio.wait_for(stop(), timeout)
        except TimeoutError:
            # What is left `sending` is taken back by another instance once its claim goes stale.
            log.warning("dispatcher did not finish within %ss; leaving the rest to the next run", timeout)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # pragma: no cover - non-Unix
            pass


async def serve(settings: Settings, *, stop: asyncio.Event | None = None, **options: Any) -> None:
    """Polling until SIGTERM/SIGINT (or `stop`): then stop fetching updates, finish the updates being
    handled and the dispatcher's current batch, close the web server and the database."""
    app = build_application(settings, **options)
    services: Services = app.bot_data["services"]
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    await app.initialize()
    # PTB runs post_init/post_shutdown only inside run_polling/run_webhook; this loop is our own.
    if app.post_init is not None:
        await app.post_init(app)
    web = create_web_app(services)
    server = WebServer(uvicorn_config(web, settings.port))
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(drop_pending_updates=False, allowed_updates=ALLOWED_UPDATES)
    log.info("volbot is running (polling); web on port %s", settings.port)
    web_task = asyncio.create_task(server.serve())
    try:
        await stop.wait()
    finally:
        log.info("stopping: no new updates; finishing in-flight work")
        if app.updater.running:
            await app.updater.stop()
        await finish_dispatch(services)
        if app.running:
            await app.stop()  # waits for the updates being handled and the running dispatcher job
        server.should_exit = True
        await web_task
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
        log.info("stopped")
