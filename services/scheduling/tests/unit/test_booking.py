from itertools import combinations
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from sqlmodel import Session, select

from ensemble_contracts.topics import REFERRALS
from ensemble_runtime.consumer import Subscription
from scheduling.adapters.orm import WaitingListEntry
from scheduling.bootstrap import Service
from scheduling.service_layer.handlers import REFERRAL_HANDLERS

from ..support import accepted, coach, published, service_on


def consume(service: Service, *events: object) -> list[str]:
    subscription = Subscription(
        topic=REFERRALS, group="scheduling.referrals", handlers=REFERRAL_HANDLERS
    )
    return [service.runtime.consumers.apply(subscription, e) for e in events]  # type: ignore[arg-type]


@pytest.fixture
def service(tmp_path: Path) -> Service:
    coaches = [coach("C01", ["en", "pa"]), coach("C02", ["en"], "Europe/London")]
    return service_on(f"sqlite:///{tmp_path / 'scheduling.db'}", coaches)


def test_an_accepted_referral_gets_one_first_appointment_in_the_patients_language(
    service: Service,
) -> None:
    event = accepted("pa")
    assert consume(service, event, event) == ["processed", "duplicate"]
    consume(service, event.model_copy(update={"event_id": uuid4()}))
    (booked,) = published(service)
    assert (booked.event_type, booked.coach_id, booked.language) == (
        "appointment.booked",
        "C01",
        "pa",
    )
    assert booked.causation_id == event.event_id


def test_many_acceptances_never_double_book_a_coach(service: Service) -> None:
    consume(service, *[accepted("en") for _ in range(50)])
    bookings = published(service)
    assert len(bookings) == 50
    for a, b in combinations(bookings, 2):
        if a.coach_id == b.coach_id:
            assert a.ends_at <= b.starts_at or b.ends_at <= a.starts_at


def test_a_withdrawn_referral_cancels_its_appointment(service: Service) -> None:
    event = accepted("en")
    withdrawn = event.model_copy(
        update={"event_id": uuid4(), "event_type": "referral.withdrawn", "status": "withdrawn"}
    )
    consume(service, event, withdrawn)
    assert [e.event_type for e in published(service)] == [
        "appointment.booked",
        "appointment.cancelled",
    ]


def test_nobody_to_book_means_the_waiting_list(tmp_path: Path) -> None:
    service = service_on(f"sqlite:///{tmp_path / 'empty.db'}")
    consume(service, accepted("pa"))
    assert published(service) == []
    with Session(service.engine) as session:
        (entry,) = session.exec(select(WaitingListEntry)).all()
    assert (entry.language, entry.reason) == ("pa", "no coach")


async def test_staff_only_and_outcomes(service: Service) -> None:
    consume(service, accepted("en"))
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://s") as anonymous:
        assert (await anonymous.get("/v1/appointments")).status_code == 401
    headers = {"Authorization": "Bearer staff-token"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://s", headers=headers
    ) as staff:
        (appointment,) = (
            await staff.get("/v1/appointments", params={"nhs_number": "9990000018"})
        ).json()["appointments"]
        attended = await staff.post(f"/v1/appointments/{appointment['appointment_id']}/attended")
        assert attended.json()["status"] == "attended"
        assert (
            await staff.post(f"/v1/appointments/{appointment['appointment_id']}/cancel")
        ).status_code == 409
        bad_zone = [coach("X", ["en"], "Mars/Base")]
        assert (await staff.post("/v1/coaches", json=bad_zone)).status_code == 422
        assert (await staff.get("/v1/waiting-list")).json() == {"waiting": []}
    assert [e.event_type for e in published(service)] == [
        "appointment.booked",
        "appointment.attended",
    ]
