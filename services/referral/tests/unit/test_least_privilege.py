"""Least privilege between practices, at the use cases (ServiceKit, SQLite store).

referral learns where each patient is registered from encounters and hot-onboarding
triggers; a practice acts only for its own patients (or patients nobody is known to hold),
and another practice's open referral never blocks the patient's own GP.
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from ensemble_contracts.hospital import EncounterEventType
from ensemble_devkit import synthetic
from ensemble_runtime.inbox import ProcessedEvent
from referral.domain.referral import Referral
from referral.domain.registration import as_of, may_act_for, practice_code
from referral.service import REGISTERING_ENCOUNTERS
from referral.service_layer.commands import RequestReferral
from referral.service_layer.handlers import NotRegisteredHere

from ..support import Kit, encounter, published, registered_with, stored, trigger

REGISTRATIONS_GROUP = "referral.registrations"  # consumer offsets depend on this name
PATIENT = "9990000018"


def refer(
    kit: Kit, practice: str, nhs_number: str = PATIENT, service: str = "complex_care"
) -> Referral:
    return kit.execute(RequestReferral(practice, nhs_number, service, "frailty")).referral


def merged_into(kit: Kit, practice: str) -> Referral:
    requested = kit.execute(RequestReferral(practice, PATIENT, "complex_care", "frailty"))
    assert requested.merged
    return requested.referral


def test_every_encounter_type_teaches_the_registered_practice(kit: Kit) -> None:
    teaching = (*REGISTERING_ENCOUNTERS, EncounterEventType.PRACTICE_CHANGED)
    events = [
        encounter(nhs_number=nhs, practice_ods="l85002", event_type=kind)
        for nhs, kind in zip(synthetic.test_nhs_numbers(), teaching, strict=False)
    ]
    assert kit.consume(*events) == ["processed"] * 7
    assert {registered_with(kit, e.nhs_number) for e in events} == {"L85002"}  # upper case
    seen = kit.read(
        lambda session: session.exec(
            select(ProcessedEvent).where(ProcessedEvent.consumer == REGISTRATIONS_GROUP)
        ).all()
    )
    assert {p.event_id for p in seen} == {e.event_id for e in events}
    assert published(kit) == []  # learning a registration announces nothing


def test_an_encounter_without_a_practice_or_for_a_placeholder_teaches_nothing(kit: Kit) -> None:
    assert (
        kit.consume(
            encounter(practice_ods=None), encounter(practice_ods="  "), encounter("9999999999")
        )
        == ["processed"] * 3
    )
    assert registered_with(kit, PATIENT) is None
    assert registered_with(kit, "9999999999") is None


def test_the_newest_event_wins_whatever_the_order_of_arrival(kit: Kit) -> None:
    now = kit.clock()
    kit.consume(encounter(practice_ods="L85002", occurred_at=now - timedelta(hours=1)))
    kit.consume(encounter(practice_ods="L85001", occurred_at=now - timedelta(hours=3)))  # late
    assert registered_with(kit, PATIENT) == "L85002"
    # A trigger is a registration fact too, ordered by its own time.
    kit.consume(trigger(practice_ods="L85001", occurred_at=now - timedelta(minutes=30)))
    assert registered_with(kit, PATIENT) == "L85001"
    kit.consume(encounter(practice_ods="L85002", occurred_at=now - timedelta(hours=2)))
    assert registered_with(kit, PATIENT) == "L85001"


def test_an_event_from_the_future_cannot_pin_a_registration(kit: Kit) -> None:
    kit.consume(encounter(practice_ods="L85002", occurred_at=datetime(2199, 1, 1, tzinfo=UTC)))
    assert registered_with(kit, PATIENT) == "L85002"
    kit.clock.advance(minutes=5)
    kit.consume(encounter(practice_ods="L85001", occurred_at=kit.clock()))  # genuinely newer
    assert registered_with(kit, PATIENT) == "L85001"


def test_registration_rules() -> None:
    assert practice_code(" l85001 ") == "L85001"
    assert practice_code("   ") is None
    assert may_act_for("L85001", None)
    assert may_act_for("L85001", "L85001")
    assert not may_act_for("L85001", "L85002")
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert as_of(now - timedelta(days=1), now) == now - timedelta(days=1)
    assert as_of(now + timedelta(days=1), now) == now
    assert as_of(datetime(2026, 11, 22, 9), now) == datetime(2026, 11, 22, 9, tzinfo=UTC)


def test_a_practice_may_not_refer_a_patient_registered_elsewhere(kit: Kit) -> None:
    kit.consume(encounter(practice_ods="L85001"))
    with pytest.raises(NotRegisteredHere) as refused:
        refer(kit, "L85002")
    assert str(refused.value) == "the patient is not registered with your practice"
    assert stored(kit) == []
    assert published(kit) == []
    own = refer(kit, "L85001")  # the registered practice may
    assert own.practice_ods == "L85001"


def test_an_unknown_patient_may_be_referred_and_the_referral_records_the_practice(
    kit: Kit,
) -> None:
    referral = refer(kit, "L85002")
    assert referral.practice_ods == "L85002"
    (event,) = published(kit)
    assert event.practice_ods == "L85002"
    # A request is not a registration fact: only events teach the projection.
    assert registered_with(kit, PATIENT) is None


def test_another_practice_s_open_referral_never_blocks_the_registered_gp(kit: Kit) -> None:
    first = refer(kit, "L85002")  # before referral knew where the patient is registered
    kit.consume(encounter(practice_ods="L85001"))
    own = refer(kit, "L85001")  # no conflict with L85002's referral
    assert own.referral_id != first.referral_id
    # A duplicate merges into the caller's own open referral, never L85002's.
    assert merged_into(kit, "L85001").referral_id == own.referral_id
    with pytest.raises(NotRegisteredHere):  # and L85002 no longer acts for the patient
        refer(kit, "L85002", service="health_coaching")
    assert sorted(r.practice_ods for r in stored(kit)) == ["L85001", "L85002"]


def test_a_duplicate_merges_only_into_the_caller_s_own_open_referral(kit: Kit) -> None:
    theirs = refer(kit, "L85002")
    ours = refer(kit, "L85001")
    for practice, mine in (("L85001", ours), ("L85002", theirs)):
        assert merged_into(kit, practice).referral_id == mine.referral_id


def test_a_hot_onboarding_proposal_is_not_blocked_by_another_practice(kit: Kit) -> None:
    rogue = refer(kit, "L85002")
    kit.consume(trigger(practice_ods="L85001"))
    assert registered_with(kit, PATIENT) == "L85001"
    by_practice = {r.practice_ods: r for r in stored(kit)}
    assert by_practice["L85002"].referral_id == rogue.referral_id
    assert (by_practice["L85001"].status, by_practice["L85001"].source) == (
        "proposed",
        "hot_onboarding",
    )
    # The registered practice's own open complex-care referral still blocks a proposal.
    kit.consume(trigger(practice_ods="L85001"))
    assert len(stored(kit)) == 2
    # A lower-case practice from a trigger is stored as every other ODS code.
    kit.consume(trigger(nhs_number="9990000026", practice_ods="l85001"))
    assert {r.practice_ods for r in stored(kit)} == {"L85001", "L85002"}
