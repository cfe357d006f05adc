"""Issue 12's complex-care walk on the real broker, to the huddle: an A&E attendance of a
high-risk patient → a hot-onboarding proposal → triage → consent → complex-care acceptance
→ a keyworker; the patient is then admitted, and the team's next huddle shows the patient
(the proposal and the admission, not the A&E attendance from before they were on the
caseload) and takes an action assigned to the keyworker; other teams' huddles do not show the
patient."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ensemble_devkit.synthetic import adt_message

from ..flow import Ensemble, fresh_nhs_numbers, wait_for
from .test_referral_lifecycle import high_risk

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]
KEYWORKER = {
    "role": "keyworker",
    "worker_id": "KW-HUDDLE",
    "worker_name": "Kim Keyworker",
    "supervisor_id": "SUP-HUDDLE",
    "supervisor_name": "Sam Supervisor",
}


def huddle_items(ensemble: Ensemble, url: str, nhs_number: str) -> list[dict[str, Any]] | None:
    """Open (or bring up to date) the huddle; the patient's items once both are there."""
    opened = ensemble.client.post(url, headers=ensemble.staff())
    assert opened.status_code in (200, 201), opened.text
    items = [i for i in opened.json()["items"] if i["nhs_number"] == nhs_number]
    return items if {i["kind"] for i in items} >= {"proposal", "admitted"} else None


def test_an_ae_attendance_becomes_a_caseload_patient_on_the_next_huddle(
    ensemble: Ensemble,
) -> None:
    (nhs,) = fresh_nhs_numbers(1)
    ensemble.load_profiles([high_risk(nhs, "L85001")])
    attended = adt_message("A04", nhs, "L85001", f"HD-{nhs}-ae", f"HD{nhs}", patient_class="E")
    assert "MSA|AA|" in ensemble.post_adt(attended)
    (proposal,) = wait_for(lambda: ensemble.referrals_for(nhs), 30, "the proposed referral")
    assert (proposal["source"], proposal["service"]) == ("hot_onboarding", "complex_care")
    referral_id = proposal["referral_id"]

    ensemble.ready_to_accept(referral_id, "urgent")
    ensemble.referral_step(referral_id, "accept")
    assigned = ensemble.referral_step(referral_id, "assign", KEYWORKER)
    assert (assigned["status"], assigned["worker_id"]) == ("accepted", "KW-HUDDLE")

    admitted = adt_message("A01", nhs, "L85001", f"HD-{nhs}-adm", f"HD{nhs}", patient_class="I")
    assert "MSA|AA|" in ensemble.post_adt(admitted)

    today = datetime.now(ZoneInfo("Europe/London")).date().isoformat()
    url = ensemble.url("referral", f"/v1/teams/complex_care.L85001/huddles/{today}")
    items = wait_for(lambda: huddle_items(ensemble, url, nhs), 30, "the patient on the agenda")
    # The A&E attendance came before the patient was on the caseload: not an agenda item.
    assert sorted(i["kind"] for i in items) == ["admitted", "proposal"]
    (admission,) = [i for i in items if i["kind"] == "admitted"]
    assert (admission["referral_id"], admission["worker_name"]) == (referral_id, "Kim Keyworker")

    unknown = ensemble.client.post(
        f"{url}/items/{admission['item_id']}/actions",
        json={"text": "review the discharge plan", "owner_id": "NOBODY", "due_on": today},
        headers=ensemble.staff(),
    )
    assert unknown.status_code == 422
    added = ensemble.client.post(
        f"{url}/items/{admission['item_id']}/actions",
        json={"text": "review the discharge plan", "owner_id": "KW-HUDDLE", "due_on": today},
        headers=ensemble.staff(),
    )
    assert added.status_code == 201, added.text
    refused = ensemble.client.get(url, headers=ensemble.practice("L85001"))
    assert refused.status_code == 403
    # A team sees only its own caseload: another practice's complex-care huddle, or the
    # coaching team's, has nothing about this patient.
    for other in ("complex_care.L85002", "health_coaching.L85001"):
        elsewhere = ensemble.client.post(
            url.replace("complex_care.L85001", other), headers=ensemble.staff()
        )
        assert elsewhere.status_code in (200, 201), elsewhere.text
        assert [i for i in elsewhere.json()["items"] if i["nhs_number"] == nhs] == []

    agenda = ensemble.client.get(url, headers=ensemble.staff()).json()
    (shown,) = [i for i in agenda["items"] if i["item_id"] == admission["item_id"]]
    (action,) = shown["actions"]
    assert (action["owner_id"], action["owner_name"], action["open"]) == (
        "KW-HUDDLE",
        "Kim Keyworker",
        True,
    )
    sheet = ensemble.client.get(f"{url}/sheet", headers=ensemble.staff())
    assert sheet.status_code == 200
    assert f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}" in sheet.text
    assert "review the discharge plan: Kim Keyworker" in sheet.text
