from pathlib import Path

import httpx
import pytest

from ensemble_devkit.synthetic import adt_message
from hospital_feed.bootstrap import Service

from ..support import service_on


@pytest.fixture
def service(tmp_path: Path) -> Service:
    return service_on(f"sqlite:///{tmp_path / 'feed.db'}")


def client(service: Service, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.app), base_url="http://feed", headers=headers
    )


async def test_senders_must_authenticate(service: Service) -> None:
    message = adt_message("A01", "9990000018", "L85001", "C1", "V1")
    async with client(service, None) as anonymous:
        assert (await anonymous.post("/v1/hl7v2", content=message)).status_code == 401
    async with client(service, "wrong") as stranger:
        assert (await stranger.post("/v1/hl7v2", content=message)).status_code == 401
    async with client(service, "rcb-token") as sender:
        response = await sender.post("/v1/hl7v2", content=message)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hl7-v2")
    assert "MSA|AA|C1|" in response.text


async def test_a_practice_reads_only_its_own_alerts(service: Service) -> None:
    async with client(service, "p1-token") as practice:
        assert (await practice.get("/v1/practices/L85001/alerts")).json() == {"alerts": []}
        assert (await practice.get("/v1/practices/L85002/alerts")).status_code == 403
    async with client(service, "staff-token") as staff:
        assert (await staff.get("/v1/practices/L85001/alerts")).status_code == 401


async def test_staff_see_and_reprocess_rejected_messages(service: Service) -> None:
    async with client(service, "rcb-token") as sender:
        await sender.post("/v1/hl7v2", content="MSH|^~\\&|PAS|RCB|E|E|1||ADT^A01|C9|P|2.4\r")
    async with client(service, "staff-token") as staff:
        listing = (await staff.get("/v1/messages", params={"status": "rejected"})).json()
        (message,) = listing["messages"]
        assert message["control_id"] == "C9"
        assert "raw" not in message
        again = await staff.post(f"/v1/messages/{message['id']}/reprocess")
        assert "MSA|AE|C9|" in again.text
        assert (await staff.post("/v1/messages/999/reprocess")).status_code == 404
