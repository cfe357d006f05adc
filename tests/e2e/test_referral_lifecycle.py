"""A hot-onboarding proposal walked through referral's whole lifecycle on the real broker:
triage, consent, acceptance, a keyworker, active, completed; each step is an event on
referral.referrals.v1 that names the practice, and no note ever reaches the topic."""

import pytest

from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.topics import REFERRALS
from ensemble_devkit.synthetic import adt_message

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
NOTE = "daughter is the main carer; call after 10"


def high_risk(nhs_number: str, practice: str) -> dict[str, object]:
    return {
        "nhs_number": nhs_number,
        "practice_ods": practice,
        "birth_date": "1938-05-04",
        "conditions": ["diabetes", "copd", "chd", "heart_failure", "depression"],
        "repeat_medicines": 12,
        "efi_deficits": 14,
        "deprivation_quintile": 1,
        "preferred_language": "pa",
    }


def referral_events(ensemble: Ensemble, nhs_number: str, how_many: int) -> list[str]:
    """The raw referral events of this patient on the topic, read from its beginning."""
    return ensemble.topic_records(REFERRALS.name, {nhs_number}, how_many)


def test_a_proposal_is_triaged_consented_accepted_assigned_and_completed(
    ensemble: Ensemble,
) -> None:
    (nhs,) = fresh_nhs_numbers(1)
    ensemble.load_profiles([high_risk(nhs, "L85001")])
    ack = ensemble.post_adt(adt_message("A01", nhs, "L85001", f"LC-{nhs}", f"V{nhs}"))
    assert "MSA|AA|" in ack
    (proposal,) = wait_for(lambda: ensemble.referrals_for(nhs), 20, "the proposed referral")
    assert (proposal["status"], proposal["source"]) == ("proposed", "hot_onboarding")
    referral_id = proposal["referral_id"]

    # Consent is staff business: the practice's token is refused and nothing changes.
    refused = ensemble.client.post(
        ensemble.url("referral", f"/v1/referrals/{referral_id}/consent"),
        json={"decision": "given", "method": "phone"},
        headers=ensemble.practice("L85001"),
    )
    assert refused.status_code == 403
    noted = ensemble.client.post(
        ensemble.url("referral", f"/v1/referrals/{referral_id}/notes"),
        json={"text": NOTE},
        headers=ensemble.practice("L85001"),
    )
    assert noted.status_code == 201

    ensemble.ready_to_accept(referral_id, "urgent")
    worklist = ensemble.client.get(
        ensemble.url("referral", "/v1/referrals/worklist"),
        params={"service": "complex_care"},
        headers=ensemble.staff(),
    )
    assert referral_id in [r["referral_id"] for r in worklist.json()["referrals"]]
    ensemble.referral_step(referral_id, "accept")
    keyworker = {
        "role": "keyworker",
        "worker_id": "KW01",
        "worker_name": "Kim Keyworker",
        "supervisor_id": "SUP01",
        "supervisor_name": "Sam Supervisor",
    }
    ensemble.referral_step(referral_id, "assign", keyworker)
    ensemble.referral_step(referral_id, "activate")
    done = ensemble.referral_step(referral_id, "complete", {"outcome": "goals_met"})
    assert (done["status"], done["worker_id"], done["outcome"]) == (
        "completed",
        "KW01",
        "goals_met",
    )

    raw = referral_events(ensemble, nhs, 7)
    events = [ReferralEvent.model_validate_json(r) for r in raw]
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
    assert {str(e.referral_id) for e in events} == {referral_id}
    assert not any(NOTE in r or "Kim Keyworker" in r for r in raw)  # stays in the store
