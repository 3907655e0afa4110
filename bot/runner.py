"""`volbot run`: polling (or webhook mode) plus the web server, in one event loop, until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn

from bot.app import build_application
from bot.config import Settings
from bot.services import Services
from bot.web.server import create_web_app

log = logging.getLogger(__name__)


async def serve(settings: Settings) -> None:
    app = build_application(settings)
    services: Services = app.bot_data["services"]
    await app.initialize()
    # PTB runs post_init/post_shutdown only inside run_polling/run_webhook; this loop is our own.
    if app.post_init is not None:
        await app.post_init(app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # pragma: no cover - non-Unix
            pass
    web = create_web_app(services)
    config = uvicorn.Config(web, host="0.0.0.0", port=settings.port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[attr-defined,method-assign]
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(
        drop_pending_updates=False, allowed_updates=["message", "callback_query", "my_chat_member"]
    )
    log.info("volbot is running (polling); web on port %s", settings.port)
    web_task = asyncio.create_task(server.serve())
    await stop.wait()
    log.info("stopping: finishing in-flight work")
    server.should_exit = True
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)
    await web_task
