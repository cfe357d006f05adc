from collections.abc import AsyncIterator

import pytest

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS

from ..samples import RCB_A01, adt
from ..support import FeedKit, msa, stored


def project_all(kit: FeedKit) -> list[EncounterEvent]:
    """Every published encounter through the alerts consumer, which finds intake did it."""
    events = kit.published(HOSPITAL_ENCOUNTERS)
    assert set(kit.consume(*events)) <= {"duplicate"}
    return events


async def test_senders_must_authenticate(kit: FeedKit) -> None:
    async with kit.client() as anonymous:
        assert (await anonymous.post("/v1/hl7v2", content=RCB_A01)).status_code == 401
    async with kit.client() as stranger:
        stranger.headers["Authorization"] = "Bearer wrong"
        assert (await stranger.post("/v1/hl7v2", content=RCB_A01)).status_code == 401
    async with kit.client("practice", "L85001") as practice:  # a practice is not a sender
        assert (await practice.post("/v1/hl7v2", content=RCB_A01)).status_code == 401
    assert stored(kit) == []


async def test_a_sender_gets_the_ack_as_hl7(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as sender:
        response = await sender.post(
            "/v1/hl7v2", content=RCB_A01, headers={"content-type": "application/hl7-v2"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hl7-v2")
    assert msa(response.text) == "MSA|AA|RCB0000001|"
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1


async def test_errors_are_still_200_with_an_hl7_ack(kit: FeedKit) -> None:
    async with kit.client("sender", "RVJ") as other_trust:
        refused = await other_trust.post("/v1/hl7v2", content=RCB_A01)
    async with kit.client("sender", "RCB") as sender:
        garbage = await sender.post("/v1/hl7v2", content=b"\xff\xfenot hl7")
    assert (refused.status_code, garbage.status_code) == (200, 200)
    assert msa(refused.text).startswith("MSA|AR|RCB0000001|")
    assert msa(garbage.text).startswith("MSA|AR||")


async def test_a_utf8_bom_body_and_latin1_body_are_read(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as sender:
        bom = await sender.post("/v1/hl7v2", content="\ufeff".encode() + RCB_A01.encode())
        latin1 = adt(control_id="C-L1", location="SALL\xc9 WARD^^^RCB", visit="V-L1")
        other = await sender.post("/v1/hl7v2", content=latin1.encode("latin-1"))
    assert msa(bom.text) == "MSA|AA|RCB0000001|"
    assert msa(other.text) == "MSA|AA|C-L1|"
    assert kit.published(HOSPITAL_ENCOUNTERS)[1].location == "SALL\xc9 WARD RCB"


async def test_bodies_over_one_mib_are_refused(kit: FeedKit) -> None:
    big = RCB_A01 + "ZZZ|" + "x" * (1024 * 1024) + "\r"
    async with kit.client("sender", "RCB") as sender:
        response = await sender.post("/v1/hl7v2", content=big)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
            for _ in range(3):
                yield b"x" * (512 * 1024)

        streamed = await sender.post("/v1/hl7v2", content=chunks())
    assert (response.status_code, streamed.status_code) == (413, 413)
    assert stored(kit) == []


async def test_a_practice_reads_only_its_own_alerts_oldest_first(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as sender:
        for n, (nhs, ods) in enumerate(
            [("9990000018", "L85001"), ("9990000026", "L85002"), ("9990000034", "L85001")]
        ):
            raw = adt(nhs=nhs, practice=ods, control_id=f"C{n}", visit=f"V{n}")
            await sender.post("/v1/hl7v2", content=raw)
    events = project_all(kit)
    async with kit.client("practice", "L85001") as practice:
        body = (await practice.get("/v1/practices/L85001/alerts")).json()
        ids = [a["alert_id"] for a in body["alerts"]]
        assert [a["nhs_number"] for a in body["alerts"]] == ["9990000018", "9990000034"]
        assert ids == sorted(ids)
        first = body["alerts"][0]
        assert first["encounter_event_id"] == str(events[0].event_id)
        assert (first["kind"], first["status"], first["sending_facility"]) == (
            "admitted",
            "active",
            "RCB",
        )
        assert first["event_at"].endswith("+00:00") and first["created_at"].endswith("+00:00")
        later = await practice.get("/v1/practices/L85001/alerts", params={"after": ids[0]})
        assert [a["alert_id"] for a in later.json()["alerts"]] == ids[1:]
        one = await practice.get("/v1/practices/L85001/alerts", params={"limit": 1})
        assert [a["alert_id"] for a in one.json()["alerts"]] == ids[:1]
        assert (await practice.get("/v1/practices/L85002/alerts")).status_code == 403
    async with kit.client("staff", "staff") as staff:
        assert (await staff.get("/v1/practices/L85001/alerts")).status_code == 401
    async with kit.client() as anonymous:
        assert (await anonymous.get("/v1/practices/L85001/alerts")).status_code == 401


async def test_staff_see_held_and_rejected_messages_without_content(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as sender:
        await sender.post("/v1/hl7v2", content="MSH|^~\\&|PAS|RCB|E|E|1||ADT^A01|C9|P|2.4\r")
        await sender.post("/v1/hl7v2", content=adt(nhs="9999999999", control_id="C10"))
    async with kit.client("staff", "staff") as staff:
        rejected = (await staff.get("/v1/messages", params={"status": "rejected"})).json()
        held = (await staff.get("/v1/messages", params={"status": "held"})).json()
        assert (await staff.get("/v1/messages", params={"status": "bogus"})).status_code == 422
    (broken,) = rejected["messages"]
    assert (broken["control_id"], broken["ack_code"], broken["sending_facility"]) == (
        "C9",
        "AE",
        "RCB",
    )
    (unknown,) = held["messages"]
    assert (unknown["control_id"], unknown["status"]) == ("C10", "held")
    assert "placeholder" in unknown["error"]
    for message in (broken, unknown):
        assert "raw" not in message
        assert "9999999999" not in str(message)
    async with kit.client("practice", "L85001") as practice:
        assert (await practice.get("/v1/messages")).status_code == 401


async def test_staff_reprocess(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as sender:
        await sender.post("/v1/hl7v2", content="MSH|^~\\&|PAS|RCB|E|E|1||ADT^A01|C9|P|2.4\r")
        await sender.post("/v1/hl7v2", content=RCB_A01)
    rejected, accepted = stored(kit)
    async with kit.client("staff", "staff") as staff:
        again = await staff.post(f"/v1/messages/{rejected.id}/reprocess")
        assert again.status_code == 200
        assert again.json() == {
            "id": rejected.id,
            "status": "rejected",
            "ack_code": "AE",
            "error": "required segment PID is missing",
        }
        assert (await staff.post(f"/v1/messages/{accepted.id}/reprocess")).status_code == 409
        assert (await staff.post("/v1/messages/999/reprocess")).status_code == 404
    async with kit.client("sender", "RCB") as sender:
        assert (await sender.post(f"/v1/messages/{rejected.id}/reprocess")).status_code == 401


# --- issue 7: auth first, body cap, never a 500 --------------------------------------------


async def test_senders_are_authenticated_before_a_byte_of_the_body_is_read(kit: FeedKit) -> None:
    pulled: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for n in range(3):
            pulled.append(n)
            yield b"x" * (1024 * 1024)

    async with kit.client() as anonymous:
        response = await anonymous.post("/v1/hl7v2", content=body())
        oversized = await anonymous.post("/v1/hl7v2", content=b"x" * (2 * 1024 * 1024))
    assert (response.status_code, oversized.status_code) == (401, 401)  # not 413
    assert pulled == []
    assert stored(kit) == []


HOSTILE_BODIES = [
    b"",
    b"\x00" * 100,
    adt(control_id="N1", location="WARD\x00^^^RCB").encode(),
    adt(control_id="Y0", evn6="00010101000000+0100").encode(),
    adt(control_id="Y9", admit_at="99991231235959-1400").encode(),
    adt(control_id="V1", visit="V" * 5000).encode(),
    b"\xff\xfe\xfd" + adt(control_id="B1").encode("utf-16"),
    b"MSH|" + b"|" * (1024 * 1024 - 10),
    b"MSH|^~\\&|PAS|RCB|E|E|1||ADT^A01|D1|P|2.4" + b"\r~^|&\\" * 170_000,
    b"\x0b" + adt(control_id="F\x1c1").encode() + b"\x1c\r",
]


async def test_every_body_gets_an_hl7_ack_never_a_500(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as sender:
        responses = [await sender.post("/v1/hl7v2", content=body) for body in HOSTILE_BODIES]
    assert [r.status_code for r in responses] == [200] * len(HOSTILE_BODIES)
    codes = [msa(r.text).split("|")[1] for r in responses]
    assert codes == ["AR", "AR", "AE", "AE", "AE", "AE", "AR", "AR", "AR", "AA"]
    for response in responses:
        assert not {"\x00", "\x0b", "\x1c"} & set(response.text)
    assert len(stored(kit)) == len(HOSTILE_BODIES)


@pytest.mark.parametrize(
    "declared",
    [
        b"\xb2",  # latin-1 "²": isdigit(), not int
        b"1" * 5000,
        b"-5",
        b"12abc",
    ],
)
async def test_odd_content_lengths_are_not_a_500(kit: FeedKit, declared: bytes) -> None:
    async with kit.client("sender", "RCB") as sender:
        request = sender.build_request(
            "POST", "/v1/hl7v2", content=RCB_A01, headers=[(b"content-length", declared)]
        )
        assert request.headers.raw[-1] == (b"content-length", declared)
        response = await sender.send(request)
    assert response.status_code in (200, 400, 413)


async def test_ids_beyond_the_store_are_422_not_500(kit: FeedKit) -> None:
    huge = str(10**30)
    async with kit.client("staff", "staff") as staff:
        listing = await staff.get("/v1/messages", params={"after": huge})
        rerun = await staff.post(f"/v1/messages/{huge}/reprocess")
    async with kit.client("practice", "L85001") as practice:
        alerts = await practice.get("/v1/practices/L85001/alerts", params={"after": huge})
    assert (listing.status_code, rerun.status_code, alerts.status_code) == (422, 422, 422)
