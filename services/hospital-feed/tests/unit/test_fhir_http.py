"""FHIR intake over HTTP: one Encounter and Bundles, through the same pipeline as HL7 v2
(stored, judged, published, held), answered with FHIR JSON."""

import json
from pathlib import Path
from typing import Any

import httpx
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from structlog.testing import capture_logs

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.adapters.orm import ContentFormat, MessageStatus
from hospital_feed.service_layer.message_browser import RehashNhsNumbers

from ..fhir_samples import bundle, encounter
from ..support import FeedKit, alerts, feed_kit, stored
from .test_staff_pages import sign_in

FHIR_JSON = {"content-type": "application/fhir+json"}


async def post(kit: FeedKit, path: str, resource: Any, sender: str = "RCB") -> httpx.Response:
    async with kit.client("sender", sender) as client:
        return await client.post(path, content=json.dumps(resource), headers=FHIR_JSON)


def outcome(response: httpx.Response) -> OperationOutcome:
    """The answer, checked to be a valid OperationOutcome."""
    assert response.headers["content-type"].startswith("application/fhir+json")
    return OperationOutcome.model_validate(response.json())


def project_all(kit: FeedKit) -> list[EncounterEvent]:
    events = kit.published(HOSPITAL_ENCOUNTERS)
    assert set(kit.consume(*events)) <= {"duplicate"}  # intake projected them
    return events


async def test_an_encounter_is_published_and_alerts_the_practice(kit: FeedKit) -> None:
    response = await post(kit, "/v1/fhir/Encounter", encounter("in-progress", "IMP"))
    assert response.status_code == 200
    assert outcome(response).issue[0].severity == "information"
    [event] = project_all(kit)
    assert (event.event_type, event.trigger_event) == (T.ADMITTED, "A01")
    assert (event.nhs_number, event.practice_ods, event.sending_facility) == (
        "9990000018",
        "L85001",
        "RCB",
    )
    assert (event.source_message_id, event.visit_number) == ("Encounter/enc-1", "V1001")
    [message] = stored(kit)
    assert (message.content_format, message.status, message.trigger) == (
        ContentFormat.FHIR_JSON,
        MessageStatus.ACCEPTED,
        "A01",
    )
    assert json.loads(message.raw)["resourceType"] == "Encounter"  # the JSON as sent
    assert [(a.practice_ods, a.kind) for a in alerts(kit)] == [("L85001", "admitted")]


async def test_application_json_is_accepted_and_other_types_are_415(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as client:
        plain = await client.post(
            "/v1/fhir/Encounter",
            content=json.dumps(encounter()),
            headers={"content-type": "application/json; charset=utf-8"},
        )
        wrong = await client.post(
            "/v1/fhir/Encounter", content="MSH|", headers={"content-type": "text/plain"}
        )
    assert (plain.status_code, wrong.status_code) == (200, 415)
    assert outcome(wrong).issue[0].code == "not-supported"


async def test_senders_authenticate_as_for_hl7(kit: FeedKit) -> None:
    async with kit.client() as anonymous:
        assert (await anonymous.post("/v1/fhir/Encounter", json=encounter())).status_code == 401
    async with kit.client("practice", "L85001") as practice:
        assert (await practice.post("/v1/fhir", json=bundle("batch"))).status_code == 401
    assert stored(kit) == []


async def test_another_trusts_service_provider_is_forbidden_and_kept(kit: FeedKit) -> None:
    response = await post(kit, "/v1/fhir/Encounter", encounter(trust="RVJ"), sender="RCB")
    assert response.status_code == 403
    found = outcome(response).issue[0]
    assert (found.code, found.expression) == ("forbidden", ["Encounter.serviceProvider"])
    assert [m.status for m in stored(kit)] == [MessageStatus.REJECTED]
    assert kit.published(HOSPITAL_ENCOUNTERS) == []


async def test_no_or_a_bad_nhs_number_is_held_like_hl7(kit: FeedKit) -> None:
    with capture_logs() as logs:
        missing = await post(kit, "/v1/fhir/Encounter", encounter(nhs=None, encounter_id="a"))
        bad = await post(kit, "/v1/fhir/Encounter", encounter(nhs="9990000019", encounter_id="b"))
    assert (missing.status_code, bad.status_code) == (202, 202)
    assert outcome(missing).issue[0].severity == "warning"
    assert "modulus-11" in (outcome(bad).issue[0].diagnostics or "")
    assert "9990000019" not in bad.text and "9990000019" not in repr(logs)
    assert [m.status for m in stored(kit)] == [MessageStatus.HELD] * 2
    assert kit.published(HOSPITAL_ENCOUNTERS) == []


async def test_invalid_resources_are_400_or_422_with_the_element(kit: FeedKit) -> None:
    wrong_type = await post(kit, "/v1/fhir/Encounter", {"resourceType": "Patient"})
    no_status = encounter()
    del no_status["status"]
    missing = await post(kit, "/v1/fhir/Encounter", no_status)
    bad_class = await post(kit, "/v1/fhir/Encounter", encounter(klass="XYZ", encounter_id="c"))
    async with kit.client("sender", "RCB") as client:
        not_json = await client.post("/v1/fhir/Encounter", content=b"{", headers=FHIR_JSON)
        not_utf8 = await client.post("/v1/fhir/Encounter", content=b"\xff{}", headers=FHIR_JSON)
        nul = await client.post("/v1/fhir/Encounter", content=b'{"id": "\x00"}', headers=FHIR_JSON)
    answers = (wrong_type, missing, bad_class, not_json, not_utf8, nul)
    assert [r.status_code for r in answers] == [400, 400, 422, 400, 400, 400]
    assert outcome(wrong_type).issue[0].expression == ["Encounter.resourceType"]
    assert outcome(missing).issue[0].code == "required"
    assert outcome(bad_class).issue[0].expression == ["Encounter.class"]
    # Kept for staff like HL7's rejects (all but the body that is not even UTF-8 text).
    assert [m.status for m in stored(kit)] == [MessageStatus.REJECTED] * 5


async def test_a_resend_gets_the_same_answer_and_a_new_id_is_a_duplicate(kit: FeedKit) -> None:
    first = await post(kit, "/v1/fhir/Encounter", encounter())
    again = await post(kit, "/v1/fhir/Encounter", encounter())
    other_version = await post(kit, "/v1/fhir/Encounter", encounter(version="2"))
    assert (first.status_code, again.status_code, other_version.status_code) == (200, 200, 200)
    assert outcome(other_version).issue[0].code == "duplicate"
    assert [m.status for m in stored(kit)] == [MessageStatus.ACCEPTED, MessageStatus.DUPLICATE]
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1


async def test_the_encounters_story_admit_discharge_cancel(kit: FeedKit) -> None:
    await post(kit, "/v1/fhir/Encounter", encounter("arrived", "EMER", version="1"))
    await post(kit, "/v1/fhir/Encounter", encounter("in-progress", "IMP", version="2"))
    end = "2026-11-23T12:00:00+00:00"
    await post(kit, "/v1/fhir/Encounter", encounter("finished", "IMP", end=end, version="3"))
    types = [e.event_type for e in project_all(kit)]
    assert types[:3] == [T.AE_ATTENDANCE, T.ADMITTED, T.DISCHARGED]


async def test_a_batch_answers_each_entry(kit: FeedKit) -> None:
    resources = [
        encounter(encounter_id="e1", visit="V1"),
        encounter(nhs=None, encounter_id="e2", visit="V2"),
        encounter(klass="XYZ", encounter_id="e3", visit="V3"),
    ]
    response = await post(kit, "/v1/fhir", bundle("batch", *resources))
    assert response.status_code == 200
    answer = Bundle.model_validate(response.json())
    assert answer.type == "batch-response"
    statuses = [entry.response.status for entry in answer.entry or [] if entry.response]
    assert statuses == ["200 OK", "202 Accepted", "422 Unprocessable Entity"]
    bad = response.json()["entry"][2]["response"]["outcome"]["issue"][0]
    assert bad["expression"] == ["Bundle.entry[2].resource.class"]
    assert all(m.control_id.startswith("urn:uuid:") for m in stored(kit))
    assert len(stored(kit)) == 3 and len(kit.published(HOSPITAL_ENCOUNTERS)) == 1


async def test_a_transaction_is_all_or_nothing(kit: FeedKit) -> None:
    good = [encounter(encounter_id="t1", visit="T1"), encounter(encounter_id="t2", visit="T2")]
    refused = await post(
        kit, "/v1/fhir", bundle("transaction", *good, encounter(trust="RVJ", encounter_id="t3"))
    )
    assert refused.status_code == 403
    assert outcome(refused).issue[0].expression == ["Bundle.entry[2].resource.serviceProvider"]
    assert stored(kit) == [] and kit.published(HOSPITAL_ENCOUNTERS) == []

    accepted = await post(kit, "/v1/fhir", bundle("transaction", *good))
    assert accepted.status_code == 200
    assert accepted.json()["type"] == "transaction-response"
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 2


async def test_bundles_of_the_wrong_shape_are_400(kit: FeedKit) -> None:
    shapes = [
        encounter(),  # not a Bundle
        {"resourceType": "Bundle", "type": "collection", "entry": []},
        {"resourceType": "Bundle", "type": "batch", "entry": [{"fullUrl": "x"}]},
        {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [{"resource": encounter(), "request": {"method": "DELETE", "url": "X"}}],
        },
    ]
    for shape in shapes:
        response = await post(kit, "/v1/fhir", shape)
        assert response.status_code == 400, shape
        assert outcome(response).issue[0].severity == "error"
    assert stored(kit) == []


async def test_huge_bodies_are_413(kit: FeedKit) -> None:
    huge = encounter(text={"status": "generated", "div": "<div>" + "x" * 1_100_000 + "</div>"})
    response = await post(kit, "/v1/fhir/Encounter", huge)
    assert response.status_code == 413
    assert stored(kit) == []


async def test_staff_see_and_reprocess_fhir_messages(kit: FeedKit) -> None:
    await post(kit, "/v1/fhir/Encounter", encounter(nhs="9990000019"))
    [held] = stored(kit)
    async with kit.client("staff", "staff") as staff:
        listed = (await staff.get("/v1/staff/messages", params={"status": "held"})).json()
        shown = await staff.get(f"/v1/staff/messages/{held.id}")
        rerun = await staff.post(f"/v1/messages/{held.id}/reprocess")
    assert [m["control_id"] for m in listed["messages"]] == ["Encounter/enc-1"]
    assert shown.status_code == 200
    assert json.loads(shown.json()["raw"])["resourceType"] == "Encounter"
    # Read again as FHIR (not refused as a broken HL7 message): still held, for the same reason.
    assert (rerun.status_code, rerun.json()["status"]) == (200, "held")
    assert "modulus-11" in rerun.json()["error"]


async def test_staff_resubmit_a_corrected_encounter_as_fhir(kit: FeedKit) -> None:
    await post(kit, "/v1/fhir/Encounter", encounter(nhs="9990000019"))
    [held] = stored(kit)
    corrected = json.dumps(encounter(nhs="9990000018"))
    async with kit.client("staff", "staff") as staff:
        listed = (await staff.get("/v1/staff/messages")).json()["messages"]
        done = await staff.post(
            f"/v1/staff/messages/{held.id}/resubmit", json={"text": corrected, "note": "typo"}
        )
    assert [m["content_format"] for m in listed] == ["fhir-json"]
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["ack_code"]) == ("accepted", "AA")
    kept, new = stored(kit)
    assert (kept.status, new.resubmitted_from, new.content_format) == (
        "resubmitted",
        held.id,
        ContentFormat.FHIR_JSON,
    )
    [event] = kit.published(HOSPITAL_ENCOUNTERS)
    assert event.nhs_number == "9990000018"


async def test_staff_find_fhir_messages_by_nhs_number_also_after_a_rehash(tmp_path: Path) -> None:
    keyed = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}", message_search_key="k" * 40)
    try:
        await post(keyed, "/v1/fhir/Encounter", encounter(nhs="999 000 0018"))
        await post(keyed, "/v1/fhir/Encounter", encounter(nhs="9990000026", encounter_id="x"))
        before = [m.nhs_number_hmac for m in stored(keyed)]
        assert keyed.execute(RehashNhsNumbers()).updated == 2
        [first, second] = stored(keyed)
        assert [first.nhs_number_hmac, second.nhs_number_hmac] == before
        assert None not in before and before[0] != before[1]
        async with keyed.client("staff", "staff") as staff:
            found = await staff.post("/v1/staff/messages/search", json={"nhs_number": "9990000018"})
        assert [m["id"] for m in found.json()["messages"]] == [first.id]
    finally:
        keyed.dispose()


async def test_the_staff_page_shows_a_fhir_message(kit: FeedKit) -> None:
    await post(kit, "/v1/fhir/Encounter", encounter(nhs="9990000019"))
    [held] = stored(kit)
    async with kit.client() as http:
        await sign_in(http)
        listing = await http.get("/staff/messages")
        view = await http.get(f"/staff/messages/{held.id}")
    assert listing.status_code == view.status_code == 200
    assert f'data-message-id="{held.id}"' in listing.text
    assert "Encounter/enc-1" in view.text and "resourceType" in view.text
