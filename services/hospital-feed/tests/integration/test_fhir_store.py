"""FHIR intake on SQLite and PostgreSQL: the endpoint, the stored JSON, transactions that
commit whole or not at all, duplicates inside one Bundle, racing resends, reprocessing."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.adapters.orm import ContentFormat, MessageStatus
from hospital_feed.domain.stored_text import restored

from ..fhir_samples import bundle, encounter
from ..support import FeedKit, alerts, feed_kit, stored

FHIR_JSON = {"content-type": "application/fhir+json"}


async def post(kit: FeedKit, path: str, resource: Any) -> httpx.Response:
    async with kit.client("sender", "RCB") as client:
        return await client.post(path, content=json.dumps(resource), headers=FHIR_JSON)


async def test_an_encounter_is_stored_as_json_and_alerts(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        resource = encounter(location=[{"location": {"display": "Salle \xc9 \u2013 7"}}])
        response = await post(kit, "/v1/fhir/Encounter", resource)
        assert response.status_code == 200
        [message] = stored(kit)
        assert message.content_format == ContentFormat.FHIR_JSON
        assert json.loads(restored(message.raw, message.raw_escaped)) == resource
        [event] = kit.published(HOSPITAL_ENCOUNTERS)
        assert (event.event_type, event.location) == (T.ADMITTED, "Salle \xc9 \u2013 7")
        # Projected by intake, in the transaction that stored it: the consumer finds it done.
        assert [(a.practice_ods, a.kind) for a in alerts(kit)] == [("L85001", "admitted")]
        assert kit.consume(event) == ["duplicate"]
        assert len(alerts(kit)) == 1
    finally:
        kit.dispose()


async def test_text_no_store_keeps_as_is_survives_a_bundle(database_url: str) -> None:
    """A lone surrogate escaped in the JSON is one in the entry's text: stored escaped."""
    kit = feed_kit(database_url)
    try:
        resource = encounter(location=[{"location": {"display": "Ward \ud800"}}])
        body = json.dumps(bundle("batch", resource))  # ASCII, with the escape `\ud800`
        async with kit.client("sender", "RCB") as client:
            response = await client.post("/v1/fhir", content=body, headers=FHIR_JSON)
        assert response.status_code == 200
        [message] = stored(kit)
        assert message.raw_escaped
        assert json.loads(restored(message.raw, message.raw_escaped)) == resource
    finally:
        kit.dispose()


async def test_a_refused_transaction_leaves_nothing_and_a_good_one_everything(
    database_url: str,
) -> None:
    kit = feed_kit(database_url)
    try:
        good = [encounter(encounter_id=f"t{n}", visit=f"T{n}") for n in range(3)]
        refused = await post(kit, "/v1/fhir", bundle("transaction", *good, {"resourceType": "X"}))
        assert refused.status_code == 400
        assert stored(kit) == [] and kit.published(HOSPITAL_ENCOUNTERS) == []

        accepted = await post(kit, "/v1/fhir", bundle("transaction", *good))
        assert [e["response"]["status"] for e in accepted.json()["entry"]] == ["200 OK"] * 3
        assert [m.status for m in stored(kit)] == [MessageStatus.ACCEPTED] * 3
        assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 3
    finally:
        kit.dispose()


async def test_one_event_twice_in_one_bundle_is_a_duplicate(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        twice = bundle("batch", encounter(version="1"), encounter(version="2"))
        response = await post(kit, "/v1/fhir", twice)
        codes = [e["response"]["outcome"]["issue"][0]["code"] for e in response.json()["entry"]]
        assert codes == ["informational", "duplicate"]
        assert [m.status for m in stored(kit)] == [MessageStatus.ACCEPTED, MessageStatus.DUPLICATE]
        assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1
    finally:
        kit.dispose()


async def test_racing_resends_get_one_answer_and_one_event(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        answers = await asyncio.gather(
            *(post(kit, "/v1/fhir/Encounter", encounter()) for _ in range(4))
        )
        assert {r.status_code for r in answers} == {200}
        assert [m.status for m in stored(kit)] == [MessageStatus.ACCEPTED]
        assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1
    finally:
        kit.dispose()


async def test_a_held_encounter_reprocessed_is_read_as_fhir(database_url: str) -> None:
    kit = feed_kit(database_url)
    try:
        response = await post(kit, "/v1/fhir/Encounter", encounter(nhs=None))
        assert response.status_code == 202
        [held] = stored(kit)
        async with kit.client("staff", "staff") as staff:
            rerun = await staff.post(f"/v1/messages/{held.id}/reprocess")
        assert rerun.json()["status"] == "held"
        assert "Encounter.subject" in rerun.json()["error"]
        assert kit.published(HOSPITAL_ENCOUNTERS) == []
    finally:
        kit.dispose()


async def test_refusals_around_the_route_are_operation_outcomes(database_url: str) -> None:
    """The sender's 401 and the guard's 413 (a chunked body past the cap), on either store:
    FHIR JSON with their headers, nothing stored."""
    kit = feed_kit(database_url)

    async def past_the_cap() -> AsyncIterator[bytes]:
        yield b"[" * (kit.settings.max_body_bytes + 1)

    try:
        async with kit.client() as anonymous, kit.client("sender", "RCB") as sender:
            missing = await anonymous.post(
                "/v1/fhir", content=json.dumps(bundle("batch")), headers=FHIR_JSON
            )
            too_large = await sender.post(
                "/v1/fhir/Encounter", content=past_the_cap(), headers=FHIR_JSON
            )
        for answer, status, code in ((missing, 401, "login"), (too_large, 413, "too-costly")):
            assert (answer.status_code, answer.headers["content-type"]) == (
                status,
                "application/fhir+json",
            )
            [issue] = answer.json()["issue"]
            assert (answer.json()["resourceType"], issue["severity"], issue["code"]) == (
                "OperationOutcome",
                "error",
                code,
            )
        assert missing.headers["www-authenticate"] == "Bearer"
        assert too_large.headers["connection"] == "close"
        assert stored(kit) == []
    finally:
        kit.dispose()
