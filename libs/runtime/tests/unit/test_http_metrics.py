"""HTTP request metrics are labelled by route template, never by the raw path."""

import httpx
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY

from ensemble_runtime.http_guard import guard

NHS_NUMBER = "9990000018"


def app() -> FastAPI:
    service = FastAPI()

    @service.get("/v1/patients/{nhs_number}")
    async def patient(nhs_number: str) -> dict[str, str]:
        if nhs_number == "9990000026":
            raise HTTPException(404, "no such patient")
        return {"ok": "yes"}

    guard(service)  # the runtime's one middleware: metrics with the rest
    return service


def requests(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("ensemble_http_requests_total", labels) or 0.0


def durations(method: str, route: str) -> float:
    labels = {"method": method, "route": route}
    return REGISTRY.get_sample_value("ensemble_http_request_duration_seconds_count", labels) or 0.0


async def test_requests_count_by_template_status_and_method() -> None:
    template = "/v1/patients/{nhs_number}"
    before = (requests("GET", template, "200"), requests("GET", template, "404"))
    timed = durations("GET", template)
    unmatched = requests("GET", "unmatched", "404")
    odd_method = requests("other", "unmatched", "404")
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get(f"/v1/patients/{NHS_NUMBER}")).status_code == 200
        assert (await client.get("/v1/patients/9990000026")).status_code == 404
        assert (await client.get(f"/nowhere/{NHS_NUMBER}")).status_code == 404
        assert (await client.request("BREW", "/coffee")).status_code == 404
    assert requests("GET", template, "200") == before[0] + 1
    assert requests("GET", template, "404") == before[1] + 1
    assert durations("GET", template) == timed + 2
    assert requests("GET", "unmatched", "404") == unmatched + 1
    assert requests("other", "unmatched", "404") == odd_method + 1
    exposed = "\n".join(
        f"{sample.name} {sample.labels}"
        for family in REGISTRY.collect()
        for sample in family.samples
    )
    assert NHS_NUMBER not in exposed
