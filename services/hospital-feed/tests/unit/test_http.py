import httpx

from ensemble_contracts.hospital import EncounterEvent
from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.bootstrap import Service
from hospital_feed.service_layer.handlers import project_alert

from ..samples import RCB_A01, adt
from ..support import msa, published_events, stored


def client(service: Service, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app), base_url="http://feed", headers=headers
    )


def project_all(service: Service) -> list[EncounterEvent]:
    events = published_events(service.engine)
    for event in events:
        with UnitOfWork(service.engine, "hospital-feed") as uow:
            project_alert(uow, event)
            uow.commit()
    return events


async def test_senders_must_authenticate(service: Service) -> None:
    async with client(service, None) as anonymous:
        assert (await anonymous.post("/v1/hl7v2", content=RCB_A01)).status_code == 401
    async with client(service, "wrong") as stranger:
        assert (await stranger.post("/v1/hl7v2", content=RCB_A01)).status_code == 401
    async with client(service, "p1-token") as practice:  # a practice is not a sender
        assert (await practice.post("/v1/hl7v2", content=RCB_A01)).status_code == 401
    assert stored(service.engine) == []


async def test_a_sender_gets_the_ack_as_hl7(service: Service) -> None:
    async with client(service, "rcb-token") as sender:
        response = await sender.post(
            "/v1/hl7v2", content=RCB_A01, headers={"content-type": "application/hl7-v2"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hl7-v2")
    assert msa(response.text) == "MSA|AA|RCB0000001|"
    assert len(published_events(service.engine)) == 1


async def test_errors_are_still_200_with_an_hl7_ack(service: Service) -> None:
    async with client(service, "rvj-token") as other_trust:
        refused = await other_trust.post("/v1/hl7v2", content=RCB_A01)
    async with client(service, "rcb-token") as sender:
        garbage = await sender.post("/v1/hl7v2", content=b"\xff\xfenot hl7")
    assert (refused.status_code, garbage.status_code) == (200, 200)
    assert msa(refused.text).startswith("MSA|AR|RCB0000001|")
    assert msa(garbage.text).startswith("MSA|AR||")


async def test_a_utf8_bom_body_and_latin1_body_are_read(service: Service) -> None:
    async with client(service, "rcb-token") as sender:
        bom = await sender.post("/v1/hl7v2", content="\ufeff".encode() + RCB_A01.encode())
        latin1 = adt(control_id="C-L1", location="SALL\xc9 WARD^^^RCB", visit="V-L1")
        other = await sender.post("/v1/hl7v2", content=latin1.encode("latin-1"))
    assert msa(bom.text) == "MSA|AA|RCB0000001|"
    assert msa(other.text) == "MSA|AA|C-L1|"
    assert published_events(service.engine)[1].location == "SALL\xc9 WARD RCB"


async def test_bodies_over_one_mib_are_refused(service: Service) -> None:
    big = RCB_A01 + "ZZZ|" + "x" * (1024 * 1024) + "\r"
    async with client(service, "rcb-token") as sender:
        response = await sender.post("/v1/hl7v2", content=big)

        async def chunks():  # type: ignore[no-untyped-def]  # no Content-Length: streamed
            for _ in range(3):
                yield b"x" * (512 * 1024)

        streamed = await sender.post("/v1/hl7v2", content=chunks())
    assert (response.status_code, streamed.status_code) == (413, 413)
    assert stored(service.engine) == []


async def test_a_practice_reads_only_its_own_alerts_oldest_first(service: Service) -> None:
    async with client(service, "rcb-token") as sender:
        for n, (nhs, practice) in enumerate(
            [("9990000018", "L85001"), ("9990000026", "L85002"), ("9990000034", "L85001")]
        ):
            raw = adt(nhs=nhs, practice=practice, control_id=f"C{n}", visit=f"V{n}")
            await sender.post("/v1/hl7v2", content=raw)
    events = project_all(service)
    async with client(service, "p1-token") as practice:
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
    async with client(service, "staff-token") as staff:
        assert (await staff.get("/v1/practices/L85001/alerts")).status_code == 401
    async with client(service, None) as anonymous:
        assert (await anonymous.get("/v1/practices/L85001/alerts")).status_code == 401


async def test_staff_see_held_and_rejected_messages_without_content(service: Service) -> None:
    async with client(service, "rcb-token") as sender:
        await sender.post("/v1/hl7v2", content="MSH|^~\\&|PAS|RCB|E|E|1||ADT^A01|C9|P|2.4\r")
        await sender.post("/v1/hl7v2", content=adt(nhs="9999999999", control_id="C10"))
    async with client(service, "staff-token") as staff:
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
    async with client(service, "p1-token") as practice:
        assert (await practice.get("/v1/messages")).status_code == 401


async def test_staff_reprocess(service: Service) -> None:
    async with client(service, "rcb-token") as sender:
        await sender.post("/v1/hl7v2", content="MSH|^~\\&|PAS|RCB|E|E|1||ADT^A01|C9|P|2.4\r")
        await sender.post("/v1/hl7v2", content=RCB_A01)
    rejected, accepted = stored(service.engine)
    async with client(service, "staff-token") as staff:
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
    async with client(service, "rcb-token") as sender:
        assert (await sender.post(f"/v1/messages/{rejected.id}/reprocess")).status_code == 401
