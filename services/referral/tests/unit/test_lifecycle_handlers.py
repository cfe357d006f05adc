"""The lifecycle through the service's handlers on a real SQLite store: events read back
from the outbox carry the practice and never a note."""

from datetime import timedelta
from uuid import UUID

import pytest

from ensemble_contracts.hospital import EncounterEventType
from ensemble_runtime.consumer import RejectedEvent
from referral.domain.referral import InvalidTransition
from referral.service_layer.commands import (
    AcceptReferral,
    ActivateReferral,
    AddNote,
    AssignReferral,
    CompleteReferral,
    FindSlaBreaches,
    RecordConsent,
    RequestReferral,
    TriageReferral,
    WithdrawReferral,
)
from referral.service_layer.handlers import NotFound
from referral.service_layer.notes import NotYours

from ..support import Kit, encounter, published, ready_to_accept, registered_with, stored, trigger

RETIRED, SURVIVING = "9990000018", "9990000026"


def proposal(kit: Kit, nhs_number: str = RETIRED) -> UUID:
    kit.consume(trigger(nhs_number=nhs_number))
    (referral,) = [r for r in stored(kit) if r.nhs_number == nhs_number]
    return referral.referral_id


def test_a_proposal_walks_to_completion_and_every_event_names_the_practice(kit: Kit) -> None:
    referral_id = proposal(kit)
    ready_to_accept(kit, referral_id, priority="urgent")
    kit.execute(AcceptReferral(referral_id))
    kit.execute(AssignReferral(referral_id, "keyworker", "K7", "Kim Keyworker", "S2", "Sam Sup"))
    kit.execute(ActivateReferral(referral_id))
    done = kit.execute(CompleteReferral(referral_id, "goals_met"))
    assert (done.status, done.outcome, done.worker_name) == (
        "completed",
        "goals_met",
        "Kim Keyworker",
    )
    events = published(kit)
    assert [e.event_type for e in events] == [
        "referral.proposed",
        "referral.triaged",
        "referral.consent_recorded",
        "referral.accepted",
        "referral.assigned",
        "referral.activated",
        "referral.completed",
    ]
    assert {e.practice_ods for e in events} == {"L85001"}
    assert {e.schema_version for e in events} == {2}
    assigned = events[4]
    assert (assigned.worker_role, assigned.worker_id, assigned.supervisor_id) == (
        "keyworker",
        "K7",
        "S2",
    )
    assert "Kim" not in events[4].model_dump_json()  # names stay in the store
    assert (events[1].priority, events[2].consent, events[6].outcome) == (
        "urgent",
        "given",
        "goals_met",
    )
    # Closed: the patient may be referred again.
    again = kit.execute(RequestReferral("L85001", RETIRED, "complex_care", "new episode"))
    assert not again.merged and again.referral.referral_id != referral_id


def test_consent_decisions_record_who_when_and_how(kit: Kit) -> None:
    referral_id = proposal(kit)
    with pytest.raises(InvalidTransition):  # not triaged yet
        kit.execute(RecordConsent(referral_id, "given", "verbal", "alice"))
    kit.execute(TriageReferral(referral_id, "high"))
    kit.clock.advance(hours=2)
    future = kit.clock() + timedelta(days=1)
    given = kit.execute(RecordConsent(referral_id, "given", "written", "alice", future))
    assert (given.consent, given.consent_by, given.consent_method) == ("given", "alice", "written")
    assert given.consent_at == kit.clock()  # never in the future
    declined = kit.execute(RecordConsent(referral_id, "withdrawn", "phone", "bob"))
    assert (declined.status, declined.consent, declined.consent_by) == (
        "declined",
        "withdrawn",
        "bob",
    )
    assert published(kit)[-1].event_type == "referral.declined"


def test_the_sla_watch_announces_each_breach_once_per_referral_and_stage(kit: Kit) -> None:
    referral_id = proposal(kit)  # triage due in 2 working days
    assert kit.execute(FindSlaBreaches()) == 0
    kit.clock.advance(days=7)
    assert kit.execute(FindSlaBreaches()) == 1
    assert kit.execute(FindSlaBreaches()) == 0  # once
    kit.execute(TriageReferral(referral_id, "urgent"))  # a new clock: acceptance, 2 days
    assert kit.execute(FindSlaBreaches()) == 0
    kit.clock.advance(days=7)
    assert kit.execute(FindSlaBreaches()) == 1
    breaches = [e for e in published(kit) if e.event_type == "referral.sla_breached"]
    assert [(e.sla_stage, e.status, e.practice_ods) for e in breaches] == [
        ("triage", "proposed", "L85001"),
        ("acceptance", "triaged", "L85001"),
    ]
    (saved,) = stored(kit)
    assert saved.breach_announced_for == "acceptance"


def test_only_the_referring_gp_withdraws(kit: Kit) -> None:
    requested = kit.execute(RequestReferral("L85001", SURVIVING, "health_coaching", "weight"))
    referral_id = requested.referral.referral_id
    with pytest.raises(NotFound):
        kit.execute(WithdrawReferral(referral_id, "L85002"))
    withdrawn = kit.execute(WithdrawReferral(referral_id, "L85001"))
    assert withdrawn.status == "withdrawn"
    with pytest.raises(InvalidTransition):
        kit.execute(WithdrawReferral(referral_id, "L85001"))


def test_notes_stay_in_the_store_and_only_the_owner_adds_them(kit: Kit) -> None:
    referral_id = proposal(kit)
    before = len(published(kit))
    kit.execute(AddNote(referral_id, "lives alone, daughter visits Sundays", "alice", None))
    kit.clock.advance(minutes=1)
    kit.execute(AddNote(referral_id, "prefers mornings", "dr a", "L85001"))
    with pytest.raises(NotYours):
        kit.execute(AddNote(referral_id, "not ours", "dr b", "L85002"))
    notes = kit.run(lambda uow: uow.notes.of(referral_id))
    assert [(n["author"], n["practice_ods"]) for n in notes] == [
        ("alice", None),
        ("dr a", "L85001"),
    ]
    assert len(published(kit)) == before  # no note on a topic


def test_a_merge_moves_the_retired_number_s_referrals_and_registration(kit: Kit) -> None:
    moved = proposal(kit, RETIRED)
    kit.consume(encounter(nhs_number=SURVIVING, practice_ods="L85001"))
    before = len(published(kit))
    merge = encounter(
        nhs_number=SURVIVING, practice_ods="L85001", event_type=EncounterEventType.MERGED
    )
    merge = merge.model_copy(update={"merged_from_nhs_number": RETIRED})
    assert kit.consume(merge) == ["processed"]
    (referral,) = stored(kit)
    assert (referral.referral_id, referral.nhs_number) == (moved, SURVIVING)
    assert registered_with(kit, RETIRED) is None
    assert registered_with(kit, SURVIVING) == "L85001"
    (announced,) = published(kit)[before:]
    assert announced.event_type == "referral.patient_merged"
    assert (announced.nhs_number, announced.referral_id, announced.causation_id) == (
        SURVIVING,
        moved,
        merge.event_id,
    )


def test_a_merge_withdraws_a_duplicate_open_referral(kit: Kit) -> None:
    proposal(kit, RETIRED)
    kept = proposal(kit, SURVIVING)
    merge = encounter(nhs_number=SURVIVING, event_type=EncounterEventType.MERGED)
    kit.consume(merge.model_copy(update={"merged_from_nhs_number": RETIRED}))
    by_status = {r.status: r for r in stored(kit)}
    assert by_status["proposed"].referral_id == kept
    assert by_status["withdrawn"].nhs_number == SURVIVING
    assert published(kit)[-1].nhs_number == RETIRED  # the retired number's caseload closes


def test_a_merge_without_the_retired_number_is_rejected(kit: Kit) -> None:
    with pytest.raises(RejectedEvent):
        kit.consume(encounter(event_type=EncounterEventType.MERGED))


def test_a_practice_change_moves_the_registration_and_other_new_types_are_skipped(
    kit: Kit,
) -> None:
    kit.consume(encounter(nhs_number=SURVIVING, practice_ods="L85001"))
    kit.clock.advance(minutes=5)
    changed = encounter(
        nhs_number=SURVIVING,
        practice_ods="L85002",
        event_type=EncounterEventType.PRACTICE_CHANGED,
        occurred_at=kit.clock(),
    )
    assert kit.consume(changed) == ["processed"]
    assert registered_with(kit, SURVIVING) == "L85002"
    leave = encounter(
        nhs_number=SURVIVING,
        practice_ods="L85001",
        event_type=EncounterEventType.LEAVE_STARTED,
        occurred_at=kit.clock() + timedelta(minutes=1),
    )
    assert kit.consume(leave) == ["ignored"]
    assert registered_with(kit, SURVIVING) == "L85002"
