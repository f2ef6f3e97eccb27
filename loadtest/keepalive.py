"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the catalogue benchmark.

One coroutine sends thousands of requests a second this way at a few microseconds of parsing
each, where a general client (httpx) spends most of a core on itself: on two shared cores the
load generator must cost little, or it measures itself. It speaks only what uvicorn answers
(a status line, headers, a Content-Length body) and nothing else.
"""

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any


class ProtocolError(Exception):
    """The server's answer is not an HTTP/1.1 response with a Content-Length body."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection; one request at a time."""

    __slots__ = ("_host", "_reader", "_writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader = reader
        self._writer = writer
        self._host = host

    @classmethod
    async def open(cls, host: str, port: int) -> "Connection":
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
        return cls(reader, writer, f"{host}:{port}")

    async def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> Reply:
        # bytes go as they are: a caller that sends big bodies encodes them before it times
        payload = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        head = f"{method} {path} HTTP/1.1\r\nhost: {self._host}\r\n"
        if body is not None:
            head += f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
        if token is not None:
            head += f"authorization: Bearer {token}\r\n"
        self._writer.write(head.encode() + b"\r\n" + payload)
        status_line = await self._reader.readline()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"not an HTTP status line: {status_line[:80]!r}")
        length = None
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ProtocolError("the response has no content-length")
        return Reply(int(parts[1]), await self._reader.readexactly(length))

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()


IDLE_S = 4.0  # uvicorn closes a connection idle for 5 s (--timeout-keep-alive): never reuse one


class Pool:
    """Connections handed out one request at a time; a new one opens when all are busy."""

    __slots__ = ("_host", "_idle", "_port")

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._idle: list[tuple[Connection, float]] = []  # with the time each was last used

    async def request(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> Reply:
        connection = await self._take()
        try:
            reply = await connection.request(method, path, body, token)
        except BaseException:
            await _close_quietly(connection)
            raise
        self._idle.append((connection, time.monotonic()))
        return reply

    async def _take(self) -> Connection:
        while self._idle:
            connection, used_at = self._idle.pop()
            if time.monotonic() - used_at < IDLE_S:
                return connection
            await _close_quietly(connection)
        return await Connection.open(self._host, self._port)

    async def close(self) -> None:
        while self._idle:
            await _close_quietly(self._idle.pop()[0])


async def _close_quietly(connection: Connection) -> None:
    try:
        await connection.close()
    except OSError:
        pass  # already reset by the other side
