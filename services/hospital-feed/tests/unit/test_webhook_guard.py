"""Webhook connections reach only public or allowed addresses, checked on every connect
(adapters/webhook_guard.py), against a real socket on this machine."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from hospital_feed.adapters.webhook_guard import AddressRefused, GuardedBackend, GuardedTransport
from hospital_feed.adapters.webhook_sender import WebhookSender
from hospital_feed.adapters.webhook_views import Due
from hospital_feed.domain.webhooks import (
    Network,
    alert_payload,
    new_secret,
    new_webhook_id,
    parse_networks,
)

LOOPBACK = parse_networks("127.0.0.0/8")
LIMITS = httpx.Limits(max_connections=2, max_keepalive_connections=2)


class Endpoint:
    """A bare HTTP/1.1 server on loopback answering 204, counting its connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    listening = Endpoint()
    server = await asyncio.start_server(listening._answer, "127.0.0.1", 0)
    listening.port = server.sockets[0].getsockname()[1]
    async with server:
        yield listening


def delivery(url: str) -> Due:
    payload = alert_payload({"alert_id": 1, "kind": "admitted"}, datetime.now(UTC))
    return Due(
        1, "L85001", new_webhook_id(), "alert.created", payload, 0, url, (new_secret(),), None
    )


async def send(url: str, allowed: tuple[Network, ...]) -> tuple[int | None, str | None]:
    sender = WebhookSender(1, 1, 2, 2, allowed=allowed)
    try:
        attempt = await sender.send(delivery(url))
    finally:
        await sender.close()
    return attempt.status_code, attempt.error


async def test_a_loopback_endpoint_is_refused_before_a_byte_is_sent(endpoint: Endpoint) -> None:
    status, error = await send(f"http://127.0.0.1:{endpoint.port}/hook", ())
    assert status is None
    assert error is not None and error.startswith("refused: 127.0.0.1 is not a public address")
    assert endpoint.connections == 0


async def test_an_allowed_network_is_reached(endpoint: Endpoint) -> None:
    status, error = await send(f"http://127.0.0.1:{endpoint.port}/hook", LOOPBACK)
    assert (status, error) == (204, None)
    assert endpoint.connections == 1


def resolving_to(*addresses: str) -> GuardedBackend:
    async def resolver(host: str, port: int) -> list[str]:
        assert host == "partner.example"
        return list(addresses)

    return GuardedBackend(LOOPBACK, resolver)


async def test_a_name_is_checked_by_what_it_resolves_to_at_connect(endpoint: Endpoint) -> None:
    url = f"http://partner.example:{endpoint.port}/hook"
    async with httpx.AsyncClient(
        transport=GuardedTransport(LIMITS, resolving_to("127.0.0.1"))
    ) as ok:
        assert (await ok.post(url)).status_code == 204
    metadata = resolving_to("169.254.169.254")
    async with httpx.AsyncClient(transport=GuardedTransport(LIMITS, metadata)) as client:
        with pytest.raises(AddressRefused, match=r"169\.254\.169\.254 is not a public address"):
            await client.post(url)
    assert endpoint.connections == 1


async def test_one_refused_answer_refuses_the_name(endpoint: Endpoint) -> None:
    mixed = resolving_to("127.0.0.1", "10.0.0.7")
    async with httpx.AsyncClient(transport=GuardedTransport(LIMITS, mixed)) as client:
        with pytest.raises(AddressRefused, match=r"10\.0\.0\.7"):
            await client.post(f"http://partner.example:{endpoint.port}/hook")
    assert endpoint.connections == 0
