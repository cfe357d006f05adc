"""The bench's webhook receiver: each practice registers an endpoint on it, as a practice
system would, and an alert counts as delivered when its signed POST has arrived and its
signature verified (Standard Webhooks, with the secret hospital-feed gave the practice).

A raw asyncio HTTP/1.1 server (keep-alive, Content-Length bodies): an ASGI server in the bench
process would take the CPU the load generator and the readers need.
"""

import asyncio
import contextlib
import json
import time
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from ensemble_devkit.bench_wire import HttpConnection

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
REFUSED = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"


class WebhookProbe:
    def __init__(self, host: str, port: int, practices: dict[str, str]) -> None:
        self.feed = (host, port)
        self.practices = practices
        self.seen: dict[str, float] = {}  # NHS number -> delivered (monotonic)
        self.deliveries = 0
        self.refused = 0
        self._verifiers: dict[str, Webhook] = {}
        self._server: asyncio.Server | None = None
        self._remaining: set[str] = set()
        self._done = asyncio.Event()

    async def open(self) -> None:
        """Listen on a free loopback port; register it as every practice's webhook."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        for ods, token in self.practices.items():
            feed = HttpConnection(*self.feed, token)
            body = json.dumps({"url": f"http://127.0.0.1:{port}/{ods}"}).encode()
            response = await feed.put(f"/v1/practices/{ods}/webhook", body, "application/json")
            await feed.close()
            if response.status not in (200, 201):
                raise RuntimeError(f"webhook of {ods}: HTTP {response.status} {response.body!r}")
            self._verifiers[ods] = Webhook(json.loads(response.body)["secret"])

    async def watch(self, remaining: set[str]) -> None:
        """Until every NHS number in `remaining` has been delivered (or cancelled)."""
        self._remaining = remaining
        if remaining:
            self._done.clear()
            await self._done.wait()

    async def close(self) -> None:
        """Stop listening and remove the practices' webhooks again."""
        if self._server is not None:
            self._server.close()
        for ods, token in self.practices.items():
            feed = HttpConnection(*self.feed, token)
            with contextlib.suppress(Exception):
                await feed.delete(f"/v1/practices/{ods}/webhook")
            await feed.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in head[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.monotonic()
                writer.write(OK if self._take(head[0], headers, body, arrived) else REFUSED)
                await writer.drain()
        writer.close()

    def _take(self, line: str, headers: dict[str, str], body: bytes, arrived: float) -> bool:
        ods = line.split(" ")[1].strip("/")
        verifier = self._verifiers.get(ods)
        try:
            payload: dict[str, Any] = verifier.verify(body, headers) if verifier else {}
        except WebhookVerificationError:
            payload = {}
        if not payload:
            self.refused += 1
            return False
        self.deliveries += 1
        data = payload.get("data") or {}
        alerts = data.get("alerts", []) if payload.get("type") == "alert.digest" else [data]
        for alert in alerts:
            nhs = str(alert.get("nhs_number"))
            self.seen.setdefault(nhs, arrived)
            self._remaining.discard(nhs)
        if not self._remaining:
            self._done.set()
        return True
