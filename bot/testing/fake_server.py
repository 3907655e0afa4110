"""The Bot API fake's HTTP server: a small HTTP/1.1 implementation on raw asyncio streams (see
fake_bot_api's docstring), request decoding (query, JSON, form, multipart) and the dispatch of one call
through failures, limits and the method."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.testing.fake_methods import FakeMethods
from bot.testing.fake_state import (
    BLOCKABLE_METHODS,
    MESSAGE_METHODS,
    Call,
    UploadedFile,
    _ApiError,
    _as_int,
    _Drop,
)

_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "parse_mode",
        "language_code",
        "url",
        "secret_token",
        "ip_address",
        "action",
        "title",
        "description",
        "short_description",
        "name",
        "custom_title",
        "file_id",
        "emoji",
        "data",
        "query",
        "business_connection_id",
        "message_effect_id",
    }
)

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def _decode_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS or not value:
        return value
    first = value[0]
    if first in "{[" or first in "-0123456789" or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for m in re.finditer(r'([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))', rest):
        raw = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = raw
    return main.strip().lower(), params


def _unescape_form_name(value: str) -> str:
    # httpx encodes multipart names the HTML5 way: '"' -> %22, controls -> %XX, '\' -> '\\'.
    return unquote(value.replace("\\\\", "\\"))


def _parse_multipart(body: bytes, boundary: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, _, content = part.partition(b"\r\n\r\n")
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        _, disp = _header_params(headers.get("content-disposition", ""))
        name = _unescape_form_name(disp.get("name", ""))
        if "filename" in disp:
            params[name] = UploadedFile(
                filename=_unescape_form_name(disp["filename"]),
                content=content,
                content_type=headers.get("content-type", "application/octet-stream"),
            )
        else:
            params[name] = _decode_value(name, content.decode("utf-8"))
    return params


class FakeServer(FakeMethods):
    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self._running = True
        return self

    async def stop(self) -> None:
        self._running = False
        self._updates_event.set()
        if self._server is not None:
            self._server.close()
        tasks = [t for t in self._conn_tasks if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(BaseException):
                await self._webhook_task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends ``{token}/{method}``."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ------------------------------------------------------------------ HTTP

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conn_tasks.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self.tcp_nodelay else 0)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    verb, target, version = lines[0].split(" ", 2)
                except ValueError:
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    body = await self._read_chunked(reader)
                else:
                    length = int(headers.get("content-length") or 0)
                    body = await reader.readexactly(length) if length else b""
                try:
                    status, ctype, payload = await self._route(verb, target, headers, body)
                except _Drop:
                    return
                keep_alive = (
                    version.upper() == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                )
                writer.write(
                    b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
                    % (
                        status,
                        _REASONS.get(status, "Unknown").encode(),
                        ctype.encode(),
                        len(payload),
                        b"" if keep_alive else b"Connection: close\r\n",
                    )
                    + payload
                )
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
                if not keep_alive:
                    await writer.drain()
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            # Only stop() cancels these tasks; finishing quietly keeps asyncio's stream
            # callback from logging the cancellation as an error.
            return
        finally:
            if task is not None:
                self._conn_tasks.discard(task)
            writer.close()

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readline()

    async def _route(
        self, verb: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/file/bot"):
            _, _, file_path = path[len("/file/bot") :].partition("/")
            file_id = unquote(file_path).rpartition("/")[2]
            f = self.files.get(file_id)
            if f is None:
                return 404, "application/json", b'{"ok":false,"error_code":404,"description":"Not Found"}'
            return 200, f.content_type, f.content
        if not path.startswith("/bot") or "/" not in path[4:]:
            return 404, "application/json", b'{"ok":false,"error_code":404,"description":"Not Found"}'
        token, _, method = path[4:].partition("/")
        params: dict[str, Any] = {
            k: _decode_value(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        }
        if body:
            ctype, cparams = _header_params(headers.get("content-type", ""))
            if ctype == "application/json":
                data = json.loads(body)
                if isinstance(data, dict):
                    params.update(
                        {k: _decode_value(k, v) if isinstance(v, str) else v for k, v in data.items()}
                    )
            elif ctype == "multipart/form-data":
                params.update(_parse_multipart(body, cparams.get("boundary", "")))
            else:
                params.update(
                    {
                        k: _decode_value(k, v)
                        for k, v in parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                    }
                )
        status, payload = await self._api_call(token, method, params)
        return status, "application/json", payload

    # ------------------------------------------------------------------ dispatch

    async def _api_call(self, token: str, method_name: str, params: dict[str, Any]) -> tuple[int, bytes]:
        method = self._canonical.get(method_name.lower(), method_name)
        chat_id = _as_int(params.get("chat_id"))
        now = time.monotonic()
        call = Call(index=-1, method=method, params=params, chat_id=chat_id, time=now)
        is_poll = method == "getUpdates"
        if not is_poll:
            self._last_activity = now
        result: Any = True
        drop = False
        deliver_then_drop = False
        try:
            failure = self._take_failure(method, chat_id)
            if failure is not None:
                if failure.kind == "timeout":
                    drop = True
                    deliver_then_drop = failure.deliver
                    if not deliver_then_drop:
                        raise _Drop
                else:
                    raise self._failure_error(failure)
            if chat_id is not None and chat_id in self.blocked and method in BLOCKABLE_METHODS:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            if self.enforce_limits and method in MESSAGE_METHODS:
                retry_after = self._check_limits(chat_id, now)
                if retry_after is not None:
                    self.count_429 += 1
                    raise _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
            handler = self._handlers.get(method.lower())
            if handler is not None:
                result = handler(params)
                if asyncio.iscoroutine(result):
                    result = await result
            call.response = result
        except _Drop:
            call.status, call.ok = 0, False
            self._record(call)
            await self._hold()
            raise
        except _ApiError as e:
            call.status, call.ok, call.description = e.status, False, e.description
            self._record(call)
            body: dict[str, Any] = {"ok": False, "error_code": e.status, "description": e.description}
            if e.retry_after is not None:
                body["parameters"] = {"retry_after": e.retry_after}
            if self.latency and not is_poll:
                await asyncio.sleep(self.latency)
            return e.status, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        if drop:
            call.status = 0
            self._record(call)
            await self._hold()
            raise _Drop
        self._record(call)
        if self.latency and not is_poll:
            await asyncio.sleep(self.latency)
        payload = {"ok": True, "result": result}
        return 200, json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
