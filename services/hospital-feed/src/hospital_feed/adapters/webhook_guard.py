"""Webhook connections only to addresses the rules allow, checked when each one is opened.

A practice names its endpoint by host name, and DNS can answer anything, differently each
time (rebinding). So the check is not made on the URL once but inside the HTTP client's
network layer: the name is resolved, every address it resolves to must pass
`refused_address`, and the socket is opened to the address that was checked. TLS still
verifies the certificate against the host name. A refused connection is an attempt that
failed with the reason; the delivery is retried and ends dead like any unreachable endpoint.
"""

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpcore
import httpx

from hospital_feed.domain.webhooks import Network, refused_address

Resolver = Callable[[str, int], Awaitable[list[str]]]


class AddressRefused(Exception):
    """The endpoint's host resolves to an address webhooks may not reach."""


async def resolve(host: str, port: int) -> list[str]:
    """Every address of `host`, in the resolver's order."""
    answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, allowed: Sequence[Network], resolver: Resolver = resolve) -> None:
        self._allowed = tuple(allowed)
        self._resolve = resolver
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._resolve(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve the host ({error.strerror})") from None
        for address in addresses:
            reason = refused_address(address, self._allowed)
            if reason is not None:  # one bad answer refuses all: the others may be bait
                raise AddressRefused(f"refused: {reason}")
        if not addresses:
            raise httpcore.ConnectError("the host has no address")
        return await self._backend.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("refused: webhooks do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with its connection pool on a `GuardedBackend`."""

    def __init__(self, limits: httpx.Limits, backend: GuardedBackend) -> None:
        super().__init__(limits=limits)
        # httpx has no public hook for the network backend: replace its pool by one built
        # the same way (its TLS context, these limits, HTTP/1.1) on the guarded backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
