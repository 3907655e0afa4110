"""The lean Bot API transport: kept-alive connections, chunked and closing answers, failures mapped to
PTB's errors, uploads through httpx. Against tiny local servers (and the Bot API fake)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from telegram import Bot
from telegram.error import Forbidden, NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.http_request import LeanRequest
from bot.testing.fake_bot_api import FakeBotAPI

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    conns: list[int] = []

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/bot1:x/sendMessage", conns


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


def _data(**params: Any) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])


async def test_keep_alive_chunked_and_close() -> None:
    bodies: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for i in range(3):
            bodies.append(await _read_request(reader))
            if i == 0:
                writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{"ok":true}')
            elif i == 1:
                writer.write(
                    b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"ok"\r\n6\r\n:true}\r\n0\r\n\r\n'
                )
            else:
                writer.write(b'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n{"ok":true}')
            await writer.drain()

    server, url, conns = await _serve(handler)
    req = LeanRequest(connection_pool_size=4)
    await req.initialize()
    try:
        for n in range(4):
            status, payload = await req.do_request(url, "POST", _data(chat_id=n, text="hé & co"))
            assert (status, payload) == (200, b'{"ok":true}')
        # three answers on one kept-alive connection; after "Connection: close", a new one
        assert len(conns) == 2
        assert bodies[0] == b"chat_id=0&text=h%C3%A9+%26+co"
    finally:
        await req.shutdown()
        server.close()


async def test_silence_is_a_timeout_and_a_drop_is_a_network_error() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(2)

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)

    req = LeanRequest(connection_pool_size=2)
    await req.initialize()
    try:
        server, url, _ = await _serve(silent)
        with pytest.raises(TimedOut):
            await req.do_request(url, "POST", _data(chat_id=1), read_timeout=0.2)
        server.close()
        server, url, _ = await _serve(drop)
        with pytest.raises(NetworkError):
            await req.do_request(url, "POST", _data(chat_id=1))
        server.close()
        # every slot was given back
        assert req._slots._value == 2
    finally:
        await req.shutdown()


async def test_against_the_bot_api_fake_errors_and_uploads() -> None:
    async with FakeBotAPI() as api:
        bot = Bot("1:x", base_url=api.base_url, request=LeanRequest(connection_pool_size=8))
        async with bot:
            msg = await bot.send_message(42, "hello")
            assert msg.message_id and api.sent_messages(42)[0].text == "hello"
            api.block(43)
            with pytest.raises(Forbidden):
                await bot.send_message(43, "blocked")
            # multipart goes through httpx
            await bot.send_document(42, document=b"BEGIN:VCALENDAR", filename="e.ics")
            assert api.calls("sendDocument", 42)[0].ok


def test_proxy_in_environment_falls_back_to_httpx(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from telegram.request import HTTPXRequest

    from bot.app import _request
    from bot.http_request import LeanRequest

    for key in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(key, raising=False)
    assert isinstance(_request(), LeanRequest)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    chosen = _request()
    assert isinstance(chosen, HTTPXRequest) and not isinstance(chosen, LeanRequest)
