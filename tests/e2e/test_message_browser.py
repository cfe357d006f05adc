"""The staff message browser on the running system (real Kafka, services as processes):
staff find a rejected message by the sender's control id in one search, resubmit it
corrected, and the practice's alert appears; the patient's messages are found by NHS
number; the original is kept, closed and audited."""

import uuid

import pytest

from ensemble_devkit.synthetic import adt_message

from ..flow import Ensemble, fresh_nhs_numbers, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]


def test_staff_find_resubmit_and_the_alert_appears(ensemble: Ensemble) -> None:
    (patient,) = fresh_nhs_numbers(1)
    control_id = f"E2E-{uuid.uuid4().hex[:10]}"
    good = adt_message("A01", patient, "L85001", control_id, f"V-{control_id}")
    # PV1-44 (the segment's last field) in a form no HL7 timestamp has: answered AE, kept.
    pv1 = next(segment for segment in good.split("\r") if segment.startswith("PV1|"))
    broken = good.replace(pv1, pv1.rsplit("|", 1)[0] + "|22/11/2026 10:00")
    ack = ensemble.post_adt(broken)
    assert f"MSA|AE|{control_id}|" in ack

    staff = ensemble.staff()
    url = ensemble.url("hospital-feed", "/v1/staff/messages")
    found = ensemble.client.get(url, params={"control_id": control_id}, headers=staff)
    found.raise_for_status()
    (message,) = found.json()["messages"]
    assert (message["status"], message["ack_code"]) == ("rejected", "AE")

    shown = ensemble.client.get(f"{url}/{message['id']}", headers=staff).json()
    assert shown["raw"] == broken and f"MSA|AE|{control_id}|" in shown["ack"]
    done = ensemble.client.post(
        f"{url}/{message['id']}/resubmit",
        json={"text": good, "note": "PV1-44 corrected"},
        headers=staff,
    )
    done.raise_for_status()
    assert (done.json()["status"], done.json()["ack_code"]) == ("accepted", "AA")

    alerts = wait_for(
        lambda: ensemble.alerts_for("L85001", patient), 30, "the resubmitted admission's alert"
    )
    assert [a["kind"] for a in alerts] == ["admitted"]

    by_patient = ensemble.client.post(
        f"{url}/search", json={"nhs_number": patient}, headers=staff
    ).json()["messages"]
    assert [(m["id"], m["status"]) for m in by_patient] == [
        (done.json()["message_id"], "accepted"),
        (message["id"], "resubmitted"),
    ]
    assert (
        ensemble.count(
            "hospital-feed",
            "SELECT count(*) FROM message_audit WHERE message_id = ? AND action IN (?, ?)",
            message["id"],
            "viewed",
            "resubmitted",
        )
        == 2
    )
