"""What the store itself guarantees, on SQLite and PostgreSQL (fixture `database_url`)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from sqlalchemy.exc import IntegrityError

from referral.adapters.repository import ReferralRepository
from referral.bootstrap import Service
from referral.domain.referral import Referral
from referral.service_layer import handlers
from referral.service_layer.handlers import Conflict, RequestReferral

from ..support import consume, published, service_on, trigger, unit_of_work


@pytest.fixture
def service(database_url: str) -> Iterator[Service]:
    service = service_on(database_url)
    yield service
    service.engine.dispose()


def request(now: datetime, service: str = "complex_care") -> Referral:
    return Referral.request(
        nhs_number="9990000018", practice_ods="L85001", service=service, now=now
    )


def test_round_trip_keeps_every_field_and_utc(service: Service) -> None:
    consume(service, trigger())
    with unit_of_work(service) as uow:
        (referral,) = ReferralRepository(uow.session).find()
        again = ReferralRepository(uow.session).get(referral.referral_id)
    assert again == referral
    assert referral.created_at.utcoffset() == referral.due_by.utcoffset() == UTC.utcoffset(None)
    assert referral.source_event_id is not None and referral.trigger_event_id is not None


def test_one_proposal_per_trigger_even_past_the_handler(service: Service) -> None:
    consume(service, trigger())
    with unit_of_work(service) as uow:
        (existing,) = ReferralRepository(uow.session).find()
        existing.status = "declined"  # so only the source_event_id can collide
        ReferralRepository(uow.session).save(existing)
        uow.commit()
        twin = Referral(**{**vars(existing), "referral_id": uuid4(), "status": "proposed"})
        ReferralRepository(uow.session).add(twin)
        with pytest.raises(IntegrityError):
            uow.commit()
    assert len(published(service)) == 1


def test_one_open_referral_per_patient_and_service(service: Service) -> None:
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    first = request(now)
    with unit_of_work(service) as uow:
        ReferralRepository(uow.session).add(first)
        ReferralRepository(uow.session).add(request(now, service="health_coaching"))
        uow.commit()
    with unit_of_work(service) as uow:
        ReferralRepository(uow.session).add(request(now))
        with pytest.raises(IntegrityError):
            uow.commit()
    with unit_of_work(service) as uow:  # once closed, a new one may open
        first.decline("no", now)
        ReferralRepository(uow.session).save(first)
        ReferralRepository(uow.session).add(request(now))
        uow.commit()
    with unit_of_work(service) as uow:
        statuses = sorted(r.status for r in ReferralRepository(uow.session).find())
    assert statuses == ["declined", "requested", "requested"]


def test_a_request_that_loses_a_race_is_a_conflict(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = request(datetime.now(UTC))
    with unit_of_work(service) as uow:
        ReferralRepository(uow.session).add(winner)
        uow.commit()
    looked = []
    real_open_for = ReferralRepository.open_for

    def blind_first_time(self: ReferralRepository, nhs: str, kind: str) -> Referral | None:
        # The loser checked before the winner committed, so it saw nothing.
        looked.append(kind)
        return None if len(looked) == 1 else real_open_for(self, nhs, kind)

    monkeypatch.setattr(ReferralRepository, "open_for", blind_first_time)
    command = RequestReferral(nhs_number="9990000018", service="complex_care")
    with unit_of_work(service) as uow, pytest.raises(Conflict) as conflict:
        handlers.request_referral(uow, "L85001", command)
    assert conflict.value.existing_id == winner.referral_id
    assert published(service) == []
