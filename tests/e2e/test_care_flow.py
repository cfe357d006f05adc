"""The whole care flow across four processes on real Kafka."""

from typing import Any

import pytest

from ensemble_devkit.demo import COACHES
from ensemble_devkit.synthetic import adt_message

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


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


def test_an_emergency_admission_of_a_high_risk_patient_walks_the_whole_flow(
    ensemble_on_each_store: Ensemble,
) -> None:
    ensemble = ensemble_on_each_store
    (nhs,) = fresh_nhs_numbers(1)
    ensemble.load_coaches(COACHES)
    ensemble.load_profiles([high_risk(nhs, "L85001")])
    admission = adt_message("A01", nhs, "L85001", f"E2E-{nhs}", f"V{nhs}")

    ack = ensemble.post_adt(admission)
    assert "MSA|AA|E2E-" in ack

    # Two consumers raise the two alerts (the admission's, and hot onboarding's after a hop
    # through scoring): either may be first.
    def admitted() -> list[dict[str, Any]]:
        return [a for a in ensemble.alerts_for("L85001", nhs) if a["kind"] == "admitted"]

    assert len(wait_for(admitted, 10, "practice alert")) == 1
    assert ensemble.alerts_for("L85002", nhs) == []
    assert ensemble.alerts("L85001", token_of="L85002").status_code == 403

    referrals = wait_for(lambda: ensemble.referrals_for(nhs), 20, "proposed referral")
    assert [(r["service"], r["source"], r["status"]) for r in referrals] == [
        ("complex_care", "hot_onboarding", "proposed")
    ]
    ensemble.ready_to_accept(referrals[0]["referral_id"], "urgent")
    accepted = ensemble.client.post(
        ensemble.url("referral", f"/v1/referrals/{referrals[0]['referral_id']}/accept"),
        headers=ensemble.staff(),
    )
    assert accepted.status_code == 200

    appointments = wait_for(lambda: ensemble.appointments_for(nhs), 20, "first appointment")
    first = [a for a in appointments if a["kind"] == "first"]  # then the programme's others
    assert len(first) == 1
    assert first[0]["language"] == "pa"
    assert first[0]["coach_id"] == "K01"  # the Punjabi speaker of the complex-care team

    # The hospital resends the same message: same ACK, and no second alert or referral.
    assert "MSA|AA|E2E-" in ensemble.post_adt(admission)
    wait_for(lambda: ensemble.count("referral", "SELECT count(*) FROM inbox") > 0, 5)

    # One alert of the admission, and one of the hot onboarding it triggered.
    def alert_kinds() -> list[str] | None:
        kinds = sorted(a["kind"] for a in ensemble.alerts_for("L85001", nhs))
        return kinds if len(kinds) >= 2 else None

    assert wait_for(alert_kinds, 10, "the hot onboarding alert") == ["admitted", "hot_onboarding"]
    assert len(ensemble.referrals_for(nhs)) == 1
    firsts = [a for a in ensemble.appointments_for(nhs) if a["kind"] == "first"]
    assert len(firsts) == 1  # the resend booked no second programme


def test_a_practice_sees_only_its_own_patients(ensemble: Ensemble) -> None:
    mine, theirs = fresh_nhs_numbers(2)
    ensemble.post_adt(adt_message("A01", mine, "L85002", f"OWN-{mine}", f"V{mine}"))
    ensemble.post_adt(adt_message("A01", theirs, "L85003", f"OWN-{theirs}", f"V{theirs}"))
    wait_for(lambda: ensemble.alerts_for("L85003", theirs), 10, "other practice's alert")
    wait_for(lambda: ensemble.alerts_for("L85002", mine), 10, "own alert")
    # Every page: a first page of 1,000 holds only the oldest when earlier tests left more.
    seen_by_l85002 = {a["nhs_number"] for a in ensemble.all_alerts("L85002")}
    assert mine in seen_by_l85002
    assert theirs not in seen_by_l85002
    no_token = ensemble.client.get(ensemble.url("hospital-feed", "/v1/practices/L85002/alerts"))
    assert no_token.status_code == 401
