"""Minimal clients for the bench: HTTP/1.1 with keep-alive, and MLLP, on raw asyncio streams.

A load generator has to cost far less than what it loads. A full HTTP client library spends
about as much CPU per request as the service it calls, so these do only what the bench needs:
fixed headers, a Content-Length body, one request in flight per connection.
"""

import asyncio
from dataclasses import dataclass

MLLP_START = b"\x0b"
MLLP_END = b"\x1c\r"
BROKEN = (ConnectionError, asyncio.IncompleteReadError)


class ProtocolError(Exception):
    """The server answered something these minimal clients do not read."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    retry_after: float | None  # seconds, from a 503's Retry-After

    def ack_code(self) -> str:
        """The HL7 ACK code (AA, AE, AR) of a 200, else `HTTP <status>`."""
        return ack_code(self.body) if self.status == 200 else f"HTTP {self.status}"


def ack_code(ack: bytes) -> str:
    _, found, rest = ack.partition(b"MSA|")
    return rest[:2].decode("ascii", "replace") if found else "no MSA"


class _Connection:
    """A TCP connection opened on demand."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = self._reader = None


class HttpConnection(_Connection):
    """One keep-alive connection; reconnects once when the server has closed it."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        super().__init__(host, port)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self._fixed = f"Host: {host}:{port}\r\n{auth}"
        self.reconnects = 0

    async def get(self, path: str) -> HttpResponse:
        return await self.request(f"GET {path} HTTP/1.1\r\n{self._fixed}\r\n".encode("latin-1"))

    async def post(self, path: str, body: bytes, content_type: str) -> HttpResponse:
        return await self.send_body("POST", path, body, content_type)

    async def put(self, path: str, body: bytes, content_type: str) -> HttpResponse:
        return await self.send_body("PUT", path, body, content_type)

    async def delete(self, path: str) -> HttpResponse:
        head = f"DELETE {path} HTTP/1.1\r\n{self._fixed}Content-Length: 0\r\n\r\n"
        return await self.request(head.encode("latin-1"))

    async def send_body(
        self, method: str, path: str, body: bytes, content_type: str
    ) -> HttpResponse:
        head = (
            f"{method} {path} HTTP/1.1\r\n{self._fixed}Content-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return await self.request(head.encode("latin-1") + body)

    async def request(self, raw: bytes) -> HttpResponse:
        """Send a whole request; a connection the server closed while idle is opened again
        and the request resent once (HL7 resends are answered with the same ACK)."""
        for attempt in (1, 2):
            if self._writer is None:
                await self.open()
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(raw)
                await self._writer.drain()
                return await self._response(self._reader)
            except BROKEN:
                await self.close()
                if attempt == 2:
                    raise
                self.reconnects += 1
        raise AssertionError("unreachable")

    async def _response(self, reader: asyncio.StreamReader) -> HttpResponse:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *lines = head.split("\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise ProtocolError(f"no Content-Length in {status_line!r}")
        body = await reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        retry_after = headers.get("retry-after")
        return HttpResponse(
            int(status_line.split(" ", 2)[1]),
            body,
            float(retry_after) if retry_after and retry_after.isdigit() else None,
        )


class MllpConnection(_Connection):
    """One MLLP connection: frames out, ACK frames back in the order sent."""

    async def send(self, message: bytes) -> None:
        assert self._writer is not None, "open() first"
        self._writer.write(MLLP_START + message + MLLP_END)
        await self._writer.drain()

    async def read_ack(self) -> bytes:
        assert self._reader is not None, "open() first"
        framed = await self._reader.readuntil(MLLP_END)
        return framed[framed.rfind(MLLP_START) + 1 : -len(MLLP_END)]
