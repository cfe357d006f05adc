"""Signed deliveries and the receiver example: what the sender signs, the receiver verifies;
forged, tampered and replayed-old requests are refused; a resend has no second effect."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ensemble_devkit.webhook_receiver import Receiver, receiver_app
from hospital_feed.adapters.webhook_sender import WebhookSender, signed_headers
from hospital_feed.adapters.webhook_views import Due
from hospital_feed.domain.webhooks import alert_payload, new_secret, new_webhook_id

ALERT = {"alert_id": 41, "kind": "admitted", "nhs_number": "9990000018", "risk_band": "high"}


def due(secrets: tuple[str, ...], payload: str | None = None, webhook_id: str = "") -> Due:
    return Due(
        delivery_id=1,
        recipient="L85001",
        webhook_id=webhook_id or new_webhook_id(),
        type="alert.created",
        payload=payload or alert_payload(ALERT, datetime.now(UTC)),
        attempts=0,
        url="http://receiver/hook",
        secrets=secrets,
        alert_created_at=None,
    )


@pytest.fixture
def secret(tmp_path: Path) -> str:
    value = new_secret()
    (tmp_path / "secret").write_text(value + "\n")
    return value


@pytest.fixture
def receiver(tmp_path: Path, secret: str) -> Receiver:
    return Receiver(tmp_path / "secret", tmp_path / "alerts.jsonl")


def client(receiver: Receiver) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=receiver_app(receiver))
    return httpx.AsyncClient(transport=transport, base_url="http://receiver")


def effects(receiver: Receiver) -> list[dict[str, object]]:
    if not receiver.out.exists():
        return []
    return [json.loads(line) for line in receiver.out.read_text().splitlines()]


async def post(receiver: Receiver, body: str, headers: dict[str, str]) -> httpx.Response:
    async with client(receiver) as http:
        return await http.post("/hook", content=body.encode(), headers=headers)


async def test_what_the_sender_signs_the_receiver_takes_once(
    receiver: Receiver, secret: str
) -> None:
    sender = WebhookSender(1, 1, 2, 4, transport=httpx.ASGITransport(app=receiver_app(receiver)))
    delivery = due((secret,))
    try:
        first = await sender.send(delivery)
        again = await sender.send(delivery)  # a retry: same webhook-id, newly signed
    finally:
        await sender.close()
    assert (first.status_code, first.error) == (200, None)
    assert (again.status_code, again.error) == (200, None)
    assert effects(receiver) == [
        {"webhook_id": delivery.webhook_id, "type": "alert.created", "alert": ALERT}
    ]
    assert receiver.attempts[delivery.webhook_id] == 2


async def test_headers_follow_standard_webhooks(secret: str) -> None:
    delivery = due((secret,))
    at = datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC)
    headers = signed_headers(delivery, at)
    assert headers["webhook-id"] == delivery.webhook_id
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"


async def test_forged_tampered_and_unsigned_requests_are_refused(
    receiver: Receiver, secret: str
) -> None:
    delivery = due((secret,))
    good = signed_headers(delivery, datetime.now(UTC))
    forged = signed_headers(
        due((new_secret(),), delivery.payload, delivery.webhook_id), datetime.now(UTC)
    )
    tampered_body = delivery.payload.replace('"high"', '"low"')
    cases = [
        (delivery.payload, forged),  # another secret
        (tampered_body, good),  # the body changed after signing
        (delivery.payload, good | {"webhook-id": new_webhook_id()}),  # another id
        (delivery.payload, {k: v for k, v in good.items() if k != "webhook-signature"}),
        (delivery.payload, good | {"webhook-signature": "v1,not-base64!"}),
        (delivery.payload, good | {"webhook-signature": "garbage"}),
        (delivery.payload, good | {"webhook-timestamp": "soon"}),
    ]
    for body, headers in cases:
        response = await post(receiver, body, headers)
        assert response.status_code == 401, headers
    assert effects(receiver) == []
    assert receiver.refused == len(cases)


async def test_an_old_capture_replayed_is_refused_and_a_fresh_one_has_no_second_effect(
    receiver: Receiver, secret: str
) -> None:
    delivery = due((secret,))
    old = signed_headers(delivery, datetime.now(UTC) - timedelta(minutes=10))
    assert (await post(receiver, delivery.payload, old)).status_code == 401
    future = signed_headers(delivery, datetime.now(UTC) + timedelta(minutes=10))
    assert (await post(receiver, delivery.payload, future)).status_code == 401
    fresh = signed_headers(delivery, datetime.now(UTC))
    assert (await post(receiver, delivery.payload, fresh)).json() == {
        "duplicate": False,
        "alerts": 1,
    }
    assert (await post(receiver, delivery.payload, fresh)).json() == {"duplicate": True}
    assert len(effects(receiver)) == 1


async def test_during_a_rotation_both_secrets_sign_and_either_verifies(
    tmp_path: Path, receiver: Receiver, secret: str
) -> None:
    rotated = new_secret()
    delivery = due((rotated, secret))
    assert len(signed_headers(delivery, datetime.now(UTC))["webhook-signature"].split()) == 2
    assert (
        await post(receiver, delivery.payload, signed_headers(delivery, datetime.now(UTC)))
    ).status_code == 200
    (tmp_path / "secret").write_text(rotated)  # the receiver switched over
    second = due((rotated, secret))
    response = await post(receiver, second.payload, signed_headers(second, datetime.now(UTC)))
    assert response.status_code == 200
    assert len(effects(receiver)) == 2


async def test_a_receiver_remembers_what_it_had_across_a_restart(
    tmp_path: Path, receiver: Receiver, secret: str
) -> None:
    delivery = due((secret,))
    headers = signed_headers(delivery, datetime.now(UTC))
    assert (await post(receiver, delivery.payload, headers)).status_code == 200
    restarted = Receiver(tmp_path / "secret", tmp_path / "alerts.jsonl")
    assert (await post(restarted, delivery.payload, headers)).json() == {"duplicate": True}
    assert len(effects(restarted)) == 1


async def test_a_failing_receiver_answers_its_status_then_takes_the_delivery(
    tmp_path: Path, secret: str
) -> None:
    flaky = Receiver(tmp_path / "secret", tmp_path / "flaky.jsonl", fail_times=2)
    delivery = due((secret,))
    codes = []
    for _ in range(3):
        response = await post(flaky, delivery.payload, signed_headers(delivery, datetime.now(UTC)))
        codes.append(response.status_code)
    assert codes == [500, 500, 200]
    assert len(effects(flaky)) == 1


async def test_no_answer_is_an_attempt_with_the_error_class_only() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused: secret detail", request=request)

    sender = WebhookSender(1, 1, 2, 4, transport=httpx.MockTransport(refuse))
    try:
        attempt = await sender.send(due((new_secret(),)))
    finally:
        await sender.close()
    assert (attempt.status_code, attempt.error) == (None, "no answer (ConnectError)")
