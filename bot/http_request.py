"""A lean HTTP/1.1 transport for the Bot API calls the bot makes (python-telegram-bot's `BaseRequest`).

PTB's default transport is httpx. Profiling the delivery engine with the limits lifted showed httpx's
connection pool and client layers taking more than half of the bot's CPU per message (the pool scans
every connection and polls idle sockets on each request). A Bot API call is one small form POST and
one JSON answer over a kept-alive connection, so this class does exactly that on asyncio streams;
PTB keeps doing everything else (parameters, answers, errors: 429 → RetryAfter, 403 → Forbidden, …).
Uploads (multipart) go through httpx, as before.

Failures map as in PTB's httpx transport: a timeout is `TimedOut`, anything else on the wire is
`NetworkError`; "all connections busy for pool_timeout" is `TimedOut` and the request was not sent.
A request is never retried here: a POST that may have reached Telegram is the caller's decision
(the dispatcher records it and retries with backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import deque
from urllib.parse import urlencode, urlsplit

from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest, RequestData
from telegram.request._baserequest import BaseRequest

# Idle connections older than this are not reused (httpx's default keep-alive expiry).
KEEPALIVE_EXPIRY = 5.0


class _Conn:
    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float) -> bool:
        return (
            now - self.idle_since < KEEPALIVE_EXPIRY
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class LeanRequest(HTTPXRequest):
    """`HTTPXRequest` whose form-encoded calls (all but uploads) use kept-alive asyncio streams."""

    def __init__(self, connection_pool_size: int = 64, **kwargs: object) -> None:
        super().__init__(connection_pool_size=connection_pool_size, **kwargs)  # type: ignore[arg-type]
        self._pool_size = connection_pool_size
        self._slots = asyncio.Semaphore(connection_pool_size)
        self._idle: dict[tuple[str, int, bool], deque[_Conn]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def shutdown(self) -> None:
        for conns in self._idle.values():
            while conns:
                conns.pop().close()
        await super().shutdown()

    def _timeouts(
        self, read: object, write: object, connect: object, pool: object
    ) -> tuple[float | None, float | None, float | None, float | None]:
        t = self._client.timeout

        def pick(value: object, default: float | None) -> float | None:
            return default if isinstance(value, DefaultValue) else value  # type: ignore[return-value]

        return pick(read, t.read), pick(write, t.write), pick(connect, t.connect), pick(pool, t.pool)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is not None and request_data.contains_files:
            return await super().do_request(
                url,
                method,
                request_data,
                read_timeout,  # type: ignore[arg-type]
                write_timeout,  # type: ignore[arg-type]
                connect_timeout,  # type: ignore[arg-type]
                pool_timeout,  # type: ignore[arg-type]
            )
        if self._client.is_closed:
            raise RuntimeError("This LeanRequest is not initialized!")
        read, write, connect, pool = self._timeouts(
            read_timeout, write_timeout, connect_timeout, pool_timeout
        )
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if tls else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = urlencode(request_data.json_parameters).encode() if request_data is not None else b""
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: {self.USER_AGENT}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            "Connection: keep-alive\r\n\r\n"
        ).encode("latin-1")
        try:
            await asyncio.wait_for(self._slots.acquire(), pool)
        except TimeoutError as err:
            raise TimedOut(
                "Pool timeout: All connections in the connection pool are occupied. "
                "Request was *not* sent to Telegram."
            ) from err
        conn: _Conn | None = None
        try:
            conn = await self._connection(host, port, tls, connect)
            conn.writer.write(head + body)
            await asyncio.wait_for(conn.writer.drain(), write)
            status, payload, keep = await asyncio.wait_for(self._response(conn.reader), read)
        except TimeoutError as err:
            if conn is not None:
                conn.close()
            raise TimedOut from err
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as err:
            if conn is not None:
                conn.close()
            raise NetworkError(f"{type(err).__name__}: {err}") from err
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        else:
            if keep:
                conn.idle_since = time.monotonic()
                self._idle.setdefault((host, port, tls), deque()).append(conn)
            else:
                conn.close()
        finally:
            self._slots.release()
        return status, payload

    async def _connection(self, host: str, port: int, tls: bool, timeout: float | None) -> _Conn:
        idle = self._idle.get((host, port, tls))
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now):
                return conn
            conn.close()
        context: ssl.SSLContext | None = None
        if tls:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            context = self._ssl
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, limit=1 << 20), timeout
        )
        sock = writer.get_extra_info("socket")
        if sock is not None:
            import socket

            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(reader, writer)

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        version, code = lines[0].split(" ", 2)[:2]
        status = int(code)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        keep = headers.get("connection", "").lower() != "close" and version != "HTTP/1.0"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                if size == 0:
                    # Trailers (if any) end with an empty line.
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            return status, b"".join(chunks), keep
        length = headers.get("content-length")
        if length is not None:
            return status, await reader.readexactly(int(length)), keep
        # No length: the body runs to the end of the connection.
        return status, await reader.read(), False
