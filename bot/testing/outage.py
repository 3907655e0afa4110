"""A link between the bot and the Bot API fake that tests and drills can cut: Telegram unreachable.

    link = await TelegramLink(api).start()      # the bot talks to link.base_url
    await link.cut("refuse")                     # connection refused (the listener is closed)
    await link.cut("502")                        # every request answered 502 Bad Gateway
    await link.cut("blackhole")                  # connections accepted, never answered (timeouts)
    await link.restore()

Cutting also drops the connections that are open (their requests fail as on a real outage).
`attempts` counts the connections and requests that reached the link while it was cut.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bot.testing.fake_bot_api import FakeBotAPI

_BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Gateway"


class TelegramLink:
    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api
        self.port = 0
        self.mode = "up"
        self.attempts = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> TelegramLink:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        await self._close_listener()
        self._drop_all()
        for task in list(self._tasks):
            task.cancel()

    async def cut(self, mode: str = "refuse") -> None:
        assert mode in ("refuse", "502", "blackhole")
        self.mode = mode
        self._drop_all()
        if mode == "refuse":
            await self._close_listener()

    async def restore(self) -> None:
        self.mode = "up"
        if self._server is None:
            await self.start()

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def _drop_all(self) -> None:
        for w in list(self._conns):
            w.transport.abort()
        self._conns.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._conns.add(writer)
        try:
            if self.mode != "up":
                await self._refuse(reader, writer)
                return
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.api.port)
            try:
                await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))
            finally:
                up_w.transport.abort()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._conns.discard(writer)
            writer.transport.abort()
            self._tasks.discard(task)

    async def _refuse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts += 1
        if self.mode == "blackhole":
            await reader.read(65536)
            await asyncio.sleep(3600)
            return
        await reader.read(65536)
        writer.write(_BAD_GATEWAY)
        await writer.drain()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            if self.mode != "up":
                self.attempts += 1
                break
            writer.write(data)
            await writer.drain()
        writer.transport.abort()
