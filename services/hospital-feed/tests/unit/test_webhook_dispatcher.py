"""The webhook dispatcher with receivers in-process: delivered once and signed, retried after
failures, in order per endpoint, a hanging endpoint holding up no one else, and an attempt
cut short by a stop sent again (same webhook-id, one effect)."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from ensemble_devkit.webhook_receiver import Receiver, receiver_app
from hospital_feed.adapters.webhook_sender import WebhookSender
from hospital_feed.adapters.webhooks import WebhookDelivery
from hospital_feed.entrypoints.webhook_dispatcher import WebhookDispatcher
from hospital_feed.service_layer.webhooks import RegisterWebhook

from ..support import FeedKit, feed_kit
from .test_alerts import encounter

WAIT = 5.0


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[FeedKit]:
    kit = feed_kit(
        f"sqlite:///{tmp_path / 'feed.db'}",
        webhook_allow_http=True,
        webhook_poll_ms=10,
        webhook_max_attempts=5,
        webhook_retry_base_seconds=1,
        webhook_retry_max_seconds=4,
    )
    yield kit
    kit.dispose()


class Hosts(httpx.AsyncBaseTransport):
    """Each receiver at its own host name, all in this process."""

    def __init__(self, receivers: dict[str, Receiver]) -> None:
        self.transports = {
            host: httpx.ASGITransport(app=receiver_app(r)) for host, r in receivers.items()
        }

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transports[request.url.host].handle_async_request(request)


@dataclass
class Receivers:
    kit: FeedKit
    tmp: Path
    by_host: dict[str, Receiver]

    def add(self, practice: str, **behaviour: Any) -> Receiver:
        host = f"{practice.lower()}.test"
        receiver = Receiver(self.tmp / f"{host}.secret", self.tmp / f"{host}.jsonl", **behaviour)
        registered = self.kit.execute(RegisterWebhook(practice, f"http://{host}/hook", "test"))
        assert registered.secret is not None
        receiver.secret_file.write_text(registered.secret)
        self.by_host[host] = receiver
        return receiver

    def dispatcher(self, total_timeout: float = 30.0) -> WebhookDispatcher:
        sender = WebhookSender(1, total_timeout, total_timeout, 8, transport=Hosts(self.by_host))
        return WebhookDispatcher(self.kit.runtime, sender)


@pytest.fixture
def receivers(kit: FeedKit, tmp_path: Path) -> Receivers:
    return Receivers(kit, tmp_path, {})


@pytest.fixture
async def running(receivers: Receivers) -> AsyncIterator[Callable[..., Any]]:
    started: list[WebhookDispatcher] = []

    async def start(**options: float) -> WebhookDispatcher:
        dispatcher = receivers.dispatcher(**options)
        await dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        await dispatcher.stop()


async def until(condition: Callable[[], Any]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - the store has no event to wait on
            await asyncio.sleep(0.01)


def effects(receiver: Receiver) -> list[dict[str, Any]]:
    if not receiver.out.exists():
        return []
    return [json.loads(line) for line in receiver.out.read_text().splitlines()]


def deliveries(kit: FeedKit, practice: str) -> list[WebhookDelivery]:
    def query(session: Session) -> list[WebhookDelivery]:
        found = select(WebhookDelivery).where(WebhookDelivery.recipient == practice)
        return list(session.exec(found.order_by(col(WebhookDelivery.id))))

    return kit.read(query)


def new_alert(kit: FeedKit, practice: str) -> None:
    assert kit.consume(encounter(practice_ods=practice)) == ["processed"]


async def test_an_alert_reaches_its_receiver_once_signed(
    kit: FeedKit, receivers: Receivers, running: Callable[..., Any]
) -> None:
    receiver = receivers.add("L85001")
    await running()
    new_alert(kit, "L85001")
    await until(lambda: [d.status for d in deliveries(kit, "L85001")] == ["delivered"])
    (effect,) = effects(receiver)
    (delivery,) = deliveries(kit, "L85001")
    assert effect["webhook_id"] == delivery.webhook_id
    assert effect["alert"] == json.loads(delivery.payload)["data"]
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    assert receiver.refused == 0


async def test_failures_are_retried_after_their_backoff_until_delivered(
    kit: FeedKit, receivers: Receivers, running: Callable[..., Any]
) -> None:
    receiver = receivers.add("L85001", fail_times=2)
    await running()
    new_alert(kit, "L85001")

    def attempts() -> list[int]:
        return [d.attempts for d in deliveries(kit, "L85001")]

    for failed in (1, 2):
        await until(lambda: attempts() == [failed])  # noqa: B023 - awaited in this iteration
        (waiting,) = deliveries(kit, "L85001")
        assert (waiting.status, waiting.last_error) == ("pending", "HTTP 500")
        kit.clock.advance(seconds=8)  # past any backoff of the policy
    await until(lambda: deliveries(kit, "L85001")[0].status == "delivered")
    assert len(effects(receiver)) == 1
    assert sum(receiver.attempts.values()) == 3


async def test_an_endpoint_gets_its_deliveries_one_at_a_time_in_order(
    kit: FeedKit, receivers: Receivers, running: Callable[..., Any]
) -> None:
    receiver = receivers.add("L85001")
    for _ in range(6):
        new_alert(kit, "L85001")
    await running()
    await until(lambda: [d.status for d in deliveries(kit, "L85001")] == ["delivered"] * 6)
    sent = [e["alert"]["alert_id"] for e in effects(receiver)]
    assert len(sent) == 6 and sent == sorted(sent)


async def test_a_hanging_endpoint_delays_no_one_else(
    kit: FeedKit, receivers: Receivers, running: Callable[..., Any]
) -> None:
    hanging = receivers.add("L85001", delay_seconds=60)
    other = receivers.add("L85002")
    await running()
    new_alert(kit, "L85001")
    await until(lambda: deliveries(kit, "L85001"))  # planned, and its attempt under way
    new_alert(kit, "L85002")
    await until(lambda: len(effects(other)) == 1)
    (stuck,) = deliveries(kit, "L85001")
    assert (stuck.status, stuck.attempts) == ("pending", 0), "still in its first attempt"
    assert effects(hanging) == []


async def test_an_attempt_cut_short_by_a_stop_is_sent_again_with_one_effect(
    kit: FeedKit, receivers: Receivers, running: Callable[..., Any]
) -> None:
    # The receiver records the alert, then is slow to answer: the sender stops meanwhile.
    receiver = receivers.add("L85001", hold_first_seconds=60)
    first = await running()
    new_alert(kit, "L85001")
    await until(lambda: len(effects(receiver)) == 1)
    await first.stop()
    (cut,) = deliveries(kit, "L85001")
    assert (cut.status, cut.attempts) == ("pending", 0)
    await running()  # as after a restart
    await until(lambda: deliveries(kit, "L85001")[0].status == "delivered")
    assert len(effects(receiver)) == 1
    assert receiver.attempts[cut.webhook_id] == 2, "sent again under the same webhook-id"


async def test_a_stopped_dispatcher_stops_cleanly_with_nothing_to_do(
    running: Callable[..., Any],
) -> None:
    dispatcher = await running()
    await until(lambda: dispatcher.running)
    await dispatcher.stop()
    assert not dispatcher.running and dispatcher.in_flight == {}
