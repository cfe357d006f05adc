"""Use cases on a real SQLite store; events are read back from the runtime's outbox."""

from datetime import timedelta
from uuid import uuid4

import pytest
from sqlmodel import select

from ensemble_runtime.consumer import RejectedEvent
from ensemble_runtime.inbox import ProcessedEvent
from referral.adapters.orm import ReferralRecord
from referral.domain.nhs_number import InvalidNhsNumber
from referral.domain.referral import InvalidTransition, Referral
from referral.service_layer.commands import AcceptReferral, DeclineReferral, RequestReferral
from referral.service_layer.handlers import NotFound, on_hot_onboarding_triggered

from ..support import Kit, published, ready_to_accept, stored, trigger, withdrawal

HOT_ONBOARDING_GROUP = "referral.hot-onboarding"  # consumer offsets depend on this name


def gp_request(kit: Kit, nhs_number: str = "9990000026", kind: str = "health_coaching") -> Referral:
    requested = kit.execute(
        RequestReferral("L85001", nhs_number, kind, "weight", preferred_language="hi")
    )
    return requested.referral


def test_a_gp_request_is_stored_with_its_deadline_and_announced(kit: Kit) -> None:
    before = kit.clock()
    referral = gp_request(kit)
    (saved,) = stored(kit)
    assert saved == referral
    assert saved.created_at.tzinfo is not None  # aware UTC, even after SQLite's round trip
    assert before <= saved.created_at <= kit.clock()
    assert saved.created_at == saved.updated_at == kit.clock()  # the service's clock
    assert timedelta(days=5) <= saved.due_by - saved.created_at <= timedelta(days=7)
    (event,) = published(kit)
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


def test_a_second_open_request_is_merged_into_the_first_and_kept_as_a_note(kit: Kit) -> None:
    first = gp_request(kit)
    again = kit.execute(
        RequestReferral(
            "L85001", "999 000 0026", "health_coaching", "still struggling", None, "dr b"
        )
    )  # same patient, typed with spaces
    assert (again.merged, again.referral.referral_id) == (True, first.referral_id)
    (note,) = kit.run(lambda uow: uow.notes.of(first.referral_id))
    assert (note["kind"], note["author"], note["practice_ods"], note["text"]) == (
        "merged_request",
        "dr b",
        "L85001",
        "still struggling",
    )
    gp_request(kit, kind="complex_care")  # another service is a referral of its own
    assert len(stored(kit)) == 2
    assert len(published(kit)) == 2  # the merge announced nothing


def test_after_a_decline_the_patient_can_be_referred_again(kit: Kit) -> None:
    first = gp_request(kit)
    kit.execute(DeclineReferral(first.referral_id, "already under the diabetes team"))
    second = gp_request(kit)
    assert second.referral_id != first.referral_id


def test_an_invalid_nhs_number_stores_and_publishes_nothing(kit: Kit) -> None:
    for bad in ("9434765918", "9999999999"):
        with pytest.raises(InvalidNhsNumber):
            gp_request(kit, nhs_number=bad)
    assert stored(kit) == []
    assert published(kit) == []


def test_triage_publishes_each_decision(kit: Kit) -> None:
    coaching = gp_request(kit)
    care = gp_request(kit, kind="complex_care")
    ready_to_accept(kit, coaching.referral_id)
    kit.clock.advance(hours=1)
    accepted = kit.execute(AcceptReferral(coaching.referral_id))
    declined = kit.execute(DeclineReferral(care.referral_id, "needs social care first"))
    assert (accepted.status, declined.status) == ("accepted", "declined")
    by_id = {r.referral_id: r for r in stored(kit)}
    assert by_id[care.referral_id].decline_reason == "needs social care first"
    assert by_id[coaching.referral_id].updated_at >= by_id[coaching.referral_id].created_at
    assert by_id[coaching.referral_id].updated_at == kit.clock()  # decided an hour later
    events = published(kit)
    assert [e.event_type for e in events[4:]] == ["referral.accepted", "referral.declined"]
    assert events[5].reason == "needs social care first"
    assert events[4].referral_id == coaching.referral_id


def test_an_invalid_decision_changes_and_publishes_nothing(kit: Kit) -> None:
    referral = gp_request(kit)
    with pytest.raises(InvalidTransition):  # not triaged, no consent
        kit.execute(AcceptReferral(referral.referral_id))
    ready_to_accept(kit, referral.referral_id)
    kit.execute(AcceptReferral(referral.referral_id))
    with pytest.raises(InvalidTransition):
        kit.execute(DeclineReferral(referral.referral_id, "too late"))
    with pytest.raises(NotFound):
        kit.execute(AcceptReferral(uuid4()))
    (saved,) = stored(kit)
    assert (saved.status, saved.decline_reason) == ("accepted", None)
    assert [e.event_type for e in published(kit)] == [
        "referral.requested",
        "referral.triaged",
        "referral.consent_recorded",
        "referral.accepted",
    ]


def test_a_trigger_proposes_complex_care_caused_by_it(kit: Kit) -> None:
    event = trigger()
    assert kit.consume(event) == ["processed"]
    (referral,) = stored(kit)
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
    (proposed,) = published(kit)
    assert proposed.event_type == "referral.proposed"
    assert proposed.referral_id == referral.referral_id
    assert proposed.causation_id == event.event_id
    assert proposed.correlation_id == event.correlation_id
    assert proposed.event_id != event.event_id
    assert (proposed.preferred_language, proposed.practice_ods) == ("pa", "L85001")
    assert proposed.reason is not None and "very high" in proposed.reason


def test_a_redelivered_trigger_is_dropped_by_the_inbox(kit: Kit) -> None:
    event = trigger()
    assert kit.consume(event, event) == ["processed", "duplicate"]
    assert len(stored(kit)) == 1
    assert len(published(kit)) == 1
    seen = kit.read(
        lambda session: session.exec(
            select(ProcessedEvent).where(ProcessedEvent.consumer == HOT_ONBOARDING_GROUP)
        ).all()
    )
    assert [p.event_id for p in seen] == [event.event_id]


def test_the_same_trigger_handled_twice_still_proposes_once(kit: Kit) -> None:
    event = trigger()
    for _ in range(2):  # e.g. a replay under a new consumer group: no inbox to help
        with kit.unit_of_work() as uow:
            on_hot_onboarding_triggered(uow, event)
            uow.commit()
    assert len(stored(kit)) == 1
    assert len(published(kit)) == 1


def test_two_triggers_for_a_patient_with_an_open_referral_make_one(kit: Kit) -> None:
    first, second = trigger(), trigger()
    assert kit.consume(first, second) == ["processed", "processed"]
    (referral,) = stored(kit)
    assert referral.source_event_id == first.event_id
    assert [e.event_type for e in published(kit)] == ["referral.proposed"]


def test_no_proposal_when_the_gp_already_referred_to_complex_care(kit: Kit) -> None:
    gp = gp_request(kit, nhs_number="9990000018", kind="complex_care")
    kit.consume(trigger())
    assert [r.referral_id for r in stored(kit)] == [gp.referral_id]
    assert len(published(kit)) == 1


def test_a_new_trigger_after_a_declined_proposal_proposes_again(kit: Kit) -> None:
    kit.consume(trigger())
    (first,) = stored(kit)
    kit.execute(DeclineReferral(first.referral_id, "patient declined"))
    kit.consume(trigger())
    assert sorted(r.status for r in stored(kit)) == ["declined", "proposed"]


def test_a_withdrawn_trigger_withdraws_its_untriaged_proposal(kit: Kit) -> None:
    event = trigger()
    withdrawn = withdrawal(event)
    assert kit.consume(event, withdrawn) == ["processed", "processed"]
    (referral,) = stored(kit)
    assert referral.status == "withdrawn"
    proposed, withdrawn_event = published(kit)
    assert (withdrawn_event.event_type, withdrawn_event.status) == (
        "referral.withdrawn",
        "withdrawn",
    )
    assert withdrawn_event.referral_id == proposed.referral_id
    assert withdrawn_event.causation_id == withdrawn.event_id
    assert withdrawn_event.correlation_id == withdrawn.correlation_id
    assert kit.consume(withdrawn) == ["duplicate"]


def test_a_withdrawal_leaves_triaged_and_unrelated_referrals_alone(kit: Kit) -> None:
    accepted_trigger = trigger()
    kit.consume(accepted_trigger)
    (referral,) = stored(kit)
    ready_to_accept(kit, referral.referral_id)
    kit.execute(AcceptReferral(referral.referral_id))
    other_patient = trigger(nhs_number="9990000034")
    kit.consume(other_patient, withdrawal(accepted_trigger))
    assert sorted(r.status for r in stored(kit)) == ["accepted", "proposed"]
    assert [e.event_type for e in published(kit)] == [
        "referral.proposed",
        "referral.triaged",
        "referral.consent_recorded",
        "referral.accepted",
        "referral.proposed",
    ]


def test_a_late_withdrawal_of_an_old_stay_keeps_the_new_proposal(kit: Kit) -> None:
    old_stay = trigger()
    kit.consume(old_stay)
    (old,) = stored(kit)
    kit.execute(DeclineReferral(old.referral_id, "not now"))
    new_stay = trigger()
    kit.consume(new_stay, withdrawal(old_stay))
    by_status = {r.status: r for r in stored(kit)}
    assert set(by_status) == {"declined", "proposed"}
    assert by_status["proposed"].source_event_id == new_stay.event_id


def test_a_placeholder_nhs_number_is_rejected_for_the_dead_letter_topic(kit: Kit) -> None:
    with pytest.raises(RejectedEvent):
        kit.consume(trigger(nhs_number="9999999999"))
    assert kit.read(lambda session: session.exec(select(ReferralRecord)).all()) == []
    assert kit.read(lambda session: session.exec(select(ProcessedEvent)).all()) == []
