"""Use cases on a real SQLite store; events are read back from the runtime's outbox."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlmodel import select

from ensemble_runtime.consumer import RejectedEvent
from ensemble_runtime.inbox import ProcessedEvent
from referral.adapters.orm import ReferralRecord
from referral.adapters.repository import ReferralRepository
from referral.bootstrap import Service
from referral.domain.nhs_number import InvalidNhsNumber
from referral.domain.referral import InvalidTransition, Referral
from referral.entrypoints.kafka import HOT_ONBOARDING_GROUP
from referral.service_layer.handlers import (
    Conflict,
    NotFound,
    RequestReferral,
    accept,
    decline,
    on_hot_onboarding_triggered,
    request_referral,
)

from ..support import consume, published, trigger, unit_of_work, withdrawal


def stored(service: Service) -> list[Referral]:
    with unit_of_work(service) as uow:
        return list(ReferralRepository(uow.session).find())


def gp_request(
    service: Service, nhs_number: str = "9990000026", kind: str = "health_coaching"
) -> Referral:
    with unit_of_work(service) as uow:
        return request_referral(
            uow, "L85001", RequestReferral(nhs_number, kind, "weight", preferred_language="hi")
        )


def test_a_gp_request_is_stored_with_its_deadline_and_announced(service: Service) -> None:
    before = datetime.now(UTC)
    referral = gp_request(service)
    (saved,) = stored(service)
    assert saved == referral
    assert saved.created_at.tzinfo is not None  # normalised after SQLite's naive round trip
    assert before <= saved.created_at <= datetime.now(UTC)
    assert timedelta(days=5) <= saved.due_by - saved.created_at <= timedelta(days=7)
    (event,) = published(service)
    assert (event.event_type, event.referral_id, event.status) == (
        "referral.requested",
        referral.referral_id,
        "requested",
    )
    assert (event.nhs_number, event.practice_ods, event.service, event.source) == (
        "9990000026",
        "L85001",
        "health_coaching",
        "gp",
    )
    assert (event.preferred_language, event.reason, event.producer) == ("hi", "weight", "referral")
    assert event.causation_id is None


def test_a_second_open_request_conflicts_and_names_the_first(service: Service) -> None:
    first = gp_request(service)
    with pytest.raises(Conflict) as conflict:
        gp_request(service, nhs_number="999 000 0026")  # same patient, typed with spaces
    assert conflict.value.existing_id == first.referral_id
    gp_request(service, kind="complex_care")  # another service is fine
    assert len(stored(service)) == 2
    assert len(published(service)) == 2


def test_after_a_decline_the_patient_can_be_referred_again(service: Service) -> None:
    first = gp_request(service)
    with unit_of_work(service) as uow:
        decline(uow, first.referral_id, "already under the diabetes team")
    second = gp_request(service)
    assert second.referral_id != first.referral_id


def test_an_invalid_nhs_number_stores_and_publishes_nothing(service: Service) -> None:
    for bad in ("9434765918", "9999999999"):
        with pytest.raises(InvalidNhsNumber):
            gp_request(service, nhs_number=bad)
    assert stored(service) == []
    assert published(service) == []


def test_triage_publishes_each_decision(service: Service) -> None:
    coaching = gp_request(service)
    care = gp_request(service, kind="complex_care")
    with unit_of_work(service) as uow:
        accepted = accept(uow, coaching.referral_id)
    with unit_of_work(service) as uow:
        declined = decline(uow, care.referral_id, "needs social care first")
    assert (accepted.status, declined.status) == ("accepted", "declined")
    by_id = {r.referral_id: r for r in stored(service)}
    assert by_id[care.referral_id].decline_reason == "needs social care first"
    assert by_id[coaching.referral_id].updated_at >= by_id[coaching.referral_id].created_at
    events = published(service)
    assert [e.event_type for e in events[2:]] == ["referral.accepted", "referral.declined"]
    assert events[3].reason == "needs social care first"
    assert events[2].referral_id == coaching.referral_id


def test_an_invalid_decision_changes_and_publishes_nothing(service: Service) -> None:
    referral = gp_request(service)
    with unit_of_work(service) as uow:
        accept(uow, referral.referral_id)
    with unit_of_work(service) as uow, pytest.raises(InvalidTransition):
        decline(uow, referral.referral_id, "too late")
    with unit_of_work(service) as uow, pytest.raises(NotFound):
        accept(uow, uuid4())
    (saved,) = stored(service)
    assert (saved.status, saved.decline_reason) == ("accepted", None)
    assert [e.event_type for e in published(service)] == ["referral.requested", "referral.accepted"]


def test_a_trigger_proposes_complex_care_caused_by_it(service: Service) -> None:
    event = trigger()
    assert consume(service, event) == ["processed"]
    (referral,) = stored(service)
    assert (referral.status, referral.service, referral.source) == (
        "proposed",
        "complex_care",
        "hot_onboarding",
    )
    assert (referral.source_event_id, referral.trigger_event_id) == (
        event.event_id,
        event.trigger_event_id,
    )
    assert timedelta(days=2) <= referral.due_by - referral.created_at <= timedelta(days=4)
    (proposed,) = published(service)
    assert proposed.event_type == "referral.proposed"
    assert proposed.referral_id == referral.referral_id
    assert proposed.causation_id == event.event_id
    assert proposed.correlation_id == event.correlation_id
    assert proposed.event_id != event.event_id
    assert (proposed.preferred_language, proposed.practice_ods) == ("pa", "L85001")
    assert proposed.reason is not None and "very high" in proposed.reason


def test_a_redelivered_trigger_is_dropped_by_the_inbox(service: Service) -> None:
    event = trigger()
    assert consume(service, event, event) == ["processed", "duplicate"]
    assert len(stored(service)) == 1
    assert len(published(service)) == 1
    with unit_of_work(service) as uow:
        seen = uow.session.exec(
            select(ProcessedEvent).where(ProcessedEvent.consumer == HOT_ONBOARDING_GROUP)
        ).all()
        assert [p.event_id for p in seen] == [event.event_id]


def test_the_same_trigger_handled_twice_still_proposes_once(service: Service) -> None:
    event = trigger()
    for _ in range(2):  # e.g. a replay under a new consumer group: no inbox to help
        with unit_of_work(service) as uow:
            on_hot_onboarding_triggered(uow, event)
            uow.commit()
    assert len(stored(service)) == 1
    assert len(published(service)) == 1


def test_two_triggers_for_a_patient_with_an_open_referral_make_one(service: Service) -> None:
    first, second = trigger(), trigger()
    assert consume(service, first, second) == ["processed", "processed"]
    (referral,) = stored(service)
    assert referral.source_event_id == first.event_id
    assert [e.event_type for e in published(service)] == ["referral.proposed"]


def test_no_proposal_when_the_gp_already_referred_to_complex_care(service: Service) -> None:
    gp = gp_request(service, nhs_number="9990000018", kind="complex_care")
    consume(service, trigger())
    assert [r.referral_id for r in stored(service)] == [gp.referral_id]
    assert len(published(service)) == 1


def test_a_new_trigger_after_a_declined_proposal_proposes_again(service: Service) -> None:
    consume(service, trigger())
    (first,) = stored(service)
    with unit_of_work(service) as uow:
        decline(uow, first.referral_id, "patient declined")
    consume(service, trigger())
    assert sorted(r.status for r in stored(service)) == ["declined", "proposed"]


def test_a_withdrawn_trigger_withdraws_its_untriaged_proposal(service: Service) -> None:
    event = trigger()
    withdrawn = withdrawal(event)
    assert consume(service, event, withdrawn) == ["processed", "processed"]
    (referral,) = stored(service)
    assert referral.status == "withdrawn"
    proposed, withdrawn_event = published(service)
    assert (withdrawn_event.event_type, withdrawn_event.status) == (
        "referral.withdrawn",
        "withdrawn",
    )
    assert withdrawn_event.referral_id == proposed.referral_id
    assert withdrawn_event.causation_id == withdrawn.event_id
    assert withdrawn_event.correlation_id == withdrawn.correlation_id
    assert consume(service, withdrawn) == ["duplicate"]


def test_a_withdrawal_leaves_triaged_and_unrelated_referrals_alone(service: Service) -> None:
    accepted_trigger = trigger()
    consume(service, accepted_trigger)
    (referral,) = stored(service)
    with unit_of_work(service) as uow:
        accept(uow, referral.referral_id)
    other_patient = trigger(nhs_number="9990000034")
    consume(service, other_patient, withdrawal(accepted_trigger))
    assert sorted(r.status for r in stored(service)) == ["accepted", "proposed"]
    assert [e.event_type for e in published(service)] == [
        "referral.proposed",
        "referral.accepted",
        "referral.proposed",
    ]


def test_a_late_withdrawal_of_an_old_stay_keeps_the_new_proposal(service: Service) -> None:
    old_stay = trigger()
    consume(service, old_stay)
    (old,) = stored(service)
    with unit_of_work(service) as uow:
        decline(uow, old.referral_id, "not now")
    new_stay = trigger()
    consume(service, new_stay, withdrawal(old_stay))
    by_status = {r.status: r for r in stored(service)}
    assert set(by_status) == {"declined", "proposed"}
    assert by_status["proposed"].source_event_id == new_stay.event_id


def test_a_placeholder_nhs_number_is_rejected_for_the_dead_letter_topic(service: Service) -> None:
    with pytest.raises(RejectedEvent):
        consume(service, trigger(nhs_number="9999999999"))
    with unit_of_work(service) as uow:
        assert uow.session.exec(select(ReferralRecord)).all() == []
        assert uow.session.exec(select(ProcessedEvent)).all() == []
