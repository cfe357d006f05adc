from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from ensemble_contracts.topics import HOT_ONBOARDING
from ensemble_runtime.consumer import Subscription
from referral.bootstrap import Service
from referral.domain.referral import InvalidTransition, add_working_days, transition
from referral.service_layer.handlers import HOT_ONBOARDING_HANDLERS

from ..support import published, service_on, trigger


@pytest.fixture
def service(tmp_path: Path) -> Service:
    return service_on(f"sqlite:///{tmp_path / 'referral.db'}")


def client(service: Service, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app), base_url="http://r", headers=headers
    )


def consume(service: Service, *events: object) -> list[str]:
    subscription = Subscription(
        topic=HOT_ONBOARDING, group="referral.hot-onboarding", handlers=HOT_ONBOARDING_HANDLERS
    )
    return [service.runtime.consumers.apply(subscription, e) for e in events]  # type: ignore[arg-type]


def test_lifecycle_rules() -> None:
    assert transition("proposed", "accepted") == "accepted"
    assert transition("requested", "declined") == "declined"
    for current, target in [
        ("accepted", "declined"),
        ("declined", "accepted"),
        ("requested", "withdrawn"),
    ]:
        with pytest.raises(InvalidTransition):
            transition(current, target)


def test_triage_deadlines_count_working_days() -> None:
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert add_working_days(friday, 2) == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    assert add_working_days(friday, 5) == datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


def test_a_trigger_delivered_again_and_again_proposes_one_referral(service: Service) -> None:
    event = trigger()
    assert consume(service, event, event) == ["processed", "duplicate"]
    consume(service, event.model_copy(update={"event_id": uuid4()}))  # a second trigger
    (proposed,) = published(service)
    assert (proposed.event_type, proposed.service, proposed.source) == (
        "referral.proposed",
        "complex_care",
        "hot_onboarding",
    )
    assert proposed.causation_id == event.event_id
    assert proposed.correlation_id == event.correlation_id
    assert proposed.preferred_language == "pa"


def test_a_withdrawn_trigger_withdraws_an_untriaged_proposal(service: Service) -> None:
    consume(service, trigger(), trigger(event_type="hot_onboarding.withdrawn"))
    assert [e.event_type for e in published(service)] == ["referral.proposed", "referral.withdrawn"]


async def test_gp_request_then_staff_triage(service: Service) -> None:
    body = {"nhs_number": "9990000026", "service": "health_coaching", "reason": "weight"}
    async with client(service, "p1-token") as practice:
        created = await practice.post("/v1/referrals", json=body)
        assert created.status_code == 201
        assert created.json()["practice_ods"] == "L85001"
        again = await practice.post("/v1/referrals", json=body)
        assert again.status_code == 409
        assert again.json()["detail"]["referral_id"] == created.json()["referral_id"]
        bad = await practice.post("/v1/referrals", json=body | {"nhs_number": "9434765918"})
        assert bad.status_code == 422
        assert (await practice.get("/v1/practices/L85002/referrals")).status_code == 403
    referral_id = created.json()["referral_id"]
    async with client(service, "staff-token") as staff:
        accepted = await staff.post(f"/v1/referrals/{referral_id}/accept")
        assert accepted.json()["status"] == "accepted"
        assert (
            await staff.post(f"/v1/referrals/{referral_id}/decline", json={"reason": "x"})
        ).status_code == 409
        assert (await staff.post(f"/v1/referrals/{uuid4()}/accept")).status_code == 404
        listing = await staff.get("/v1/referrals", params={"nhs_number": "9990000026"})
        assert [r["status"] for r in listing.json()["referrals"]] == ["accepted"]
    async with client(service, None) as anonymous:
        assert (await anonymous.get("/v1/referrals")).status_code == 401
    assert [e.event_type for e in published(service)] == ["referral.requested", "referral.accepted"]
