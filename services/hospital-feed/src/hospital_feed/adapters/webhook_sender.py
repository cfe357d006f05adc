"""Sending one webhook attempt: signed per Standard Webhooks, bounded in time, body unread.

Headers: `webhook-id` (the delivery's, the same on every attempt), `webhook-timestamp` (this
attempt's, in Unix seconds from the system clock, as receivers check it against theirs) and
`webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per valid secret,
space-separated, so a receiver keeps working through a secret rotation).
"""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from hospital_feed.adapters.webhook_guard import AddressRefused, GuardedBackend, GuardedTransport
from hospital_feed.adapters.webhook_views import Due
from hospital_feed.domain.webhooks import Attempt, Network, short_error

USER_AGENT = "ensemble-hospital-feed-webhooks/1"


def signed_headers(due: Due, now: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt of `due`, signed at `now`."""
    moment = now.astimezone(UTC)
    signatures = " ".join(
        Webhook(secret).sign(due.webhook_id, moment, due.payload) for secret in due.secrets
    )
    return {
        "webhook-id": due.webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


class WebhookSender:
    """One HTTP client for every endpoint: connection reuse, no redirects, bounded timeouts,
    connections only to the addresses `allowed` adds to the public ones (webhook_guard.py).

    `transport` is for tests (an in-process receiver, no guard)."""

    def __init__(
        self,
        connect_seconds: float,
        read_seconds: float,
        total_seconds: float,
        connections: int,
        allowed: Sequence[Network] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if min(connect_seconds, read_seconds, total_seconds) <= 0 or connections < 1:
            raise ValueError("HOSPITAL_FEED_WEBHOOK_*_TIMEOUT_SECONDS must be positive")
        self.total_seconds = total_seconds
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(read_seconds, connect=connect_seconds),
            follow_redirects=False,
            transport=transport or GuardedTransport(limits, GuardedBackend(allowed)),
        )

    async def send(self, due: Due) -> Attempt:
        """POST the delivery once. Any answer is an `Attempt` with its status; no answer
        (timeout, refused, TLS, ...) one with the error class. The body is never read."""
        try:
            async with asyncio.timeout(self.total_seconds):
                headers = signed_headers(due, datetime.now(UTC))
                request = self._client.build_request(
                    "POST", due.url, content=due.payload.encode("ascii"), headers=headers
                )
                response = await self._client.send(request, stream=True)
                await response.aclose()  # a huge or endless body costs us nothing
        except TimeoutError:
            return Attempt(due.delivery_id, None, "timed out (total)")
        except AddressRefused as refused:
            return Attempt(due.delivery_id, None, short_error(str(refused)))
        except httpx.TimeoutException as error:
            return Attempt(due.delivery_id, None, f"timed out ({type(error).__name__})")
        except httpx.HTTPError as error:
            return Attempt(due.delivery_id, None, f"no answer ({type(error).__name__})")
        code = response.status_code
        failure = None if 200 <= code < 300 else short_error(f"HTTP {code}")
        return Attempt(due.delivery_id, code, failure)

    async def close(self) -> None:
        await self._client.aclose()
