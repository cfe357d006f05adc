"""The practice worklist: ranked by score, filtered, paged, for that practice (or staff) only;
and the referral statuses scoring keeps for its caseload filter."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
import structlog

from ensemble_contracts.referral import ReferralEvent
from ensemble_devkit.testkit import tokens
from ensemble_runtime.consumer import RejectedEvent
from scoring.adapters.population import CASELOADS

from ..support import NHS_NUMBERS, STAFF, Kit, high_risk, load, moderate_risk, scoring_kit

PRACTICE = "L85001"


@pytest.fixture
def kit(tmp_path: Any) -> AsyncIterator[Kit]:  # type: ignore[misc]
    kit = scoring_kit(
        f"sqlite:///{tmp_path / 'scoring.db'}",
        practice_tokens=tokens("practice", PRACTICE, "L85002"),
    )
    yield kit
    kit.dispose()


@pytest.fixture
async def practice(kit: Kit) -> AsyncIterator[httpx.AsyncClient]:
    async with kit.client("practice", PRACTICE) as client:
        yield client


def referral(
    nhs: str, status: str, service: str = "health_coaching", **fields: Any
) -> ReferralEvent:
    return ReferralEvent(
        **{
            "event_type": f"referral.{status}",
            "producer": "referral",
            "referral_id": uuid4(),
            "nhs_number": nhs,
            "practice_ods": PRACTICE,
            "service": service,
            "source": "gp",
            "status": status,
            **fields,
        }
    )


def list_of(kit: Kit, score: int, practice: str = PRACTICE) -> str:
    """A new patient of `practice` whose profile scores `score` points."""
    nhs = next(NHS_NUMBERS)
    recipes = {
        73: high_risk(nhs, practice_ods=practice),
        25: moderate_risk(nhs, practice_ods=practice),
        9: {"nhs_number": nhs, "practice_ods": practice, "conditions": ["diabetes"]},
        6: {"nhs_number": nhs, "practice_ods": practice, "conditions": ["depression"]},
    }
    load(kit, recipes[score])
    return nhs


async def test_patients_are_ranked_by_score_with_reasons_and_the_model_version(
    kit: Kit, practice: httpx.AsyncClient
) -> None:
    low, high, moderate = list_of(kit, 9), list_of(kit, 73), list_of(kit, 25)
    list_of(kit, 73, practice="L85002")  # another practice's patient
    response = await practice.get(f"/v1/practices/{PRACTICE}/patients")
    assert response.status_code == 200
    body = response.json()
    assert [p["nhs_number"] for p in body["patients"]] == [high, moderate, low]
    first = body["patients"][0]
    assert (first["score"], first["band"], first["model_version"]) == (
        73,
        "very_high",
        "ensemble-risk-1.0.0",
    )
    assert sum(r["points"] for r in first["reasons"]) == 73
    assert first["domains"] == [
        "age",
        "frailty",
        "medicines",
        "mental_health",
        "physical",
        "social",
    ]
    assert (first["on_caseload"], first["caseload"]) == (False, [])
    assert body["next_after"] is None


async def test_ties_break_on_the_nhs_number_and_pages_follow_the_cursor(
    kit: Kit, practice: httpx.AsyncClient
) -> None:
    same = sorted(list_of(kit, 25) for _ in range(5))
    top = list_of(kit, 73)
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after else {})
        page = (await practice.get(f"/v1/practices/{PRACTICE}/patients", params=params)).json()
        seen += [p["nhs_number"] for p in page["patients"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == [top, *same]


async def test_filters_by_band_domain_and_caseload(kit: Kit, practice: httpx.AsyncClient) -> None:
    very_high, moderate, mental = list_of(kit, 73), list_of(kit, 25), list_of(kit, 6)
    coached = list_of(kit, 9)
    assert kit.consume(referral(coached, "accepted")) == ["processed"]
    flagged = next(NHS_NUMBERS)
    load(kit, moderate_risk(flagged, practice_ods=PRACTICE, on_caseload=True))

    async def ids(**params: Any) -> list[str]:
        response = await practice.get(f"/v1/practices/{PRACTICE}/patients", params=params)
        assert response.status_code == 200, response.text
        return [p["nhs_number"] for p in response.json()["patients"]]

    assert await ids(band="very_high") == [very_high]
    assert await ids(band="moderate") == sorted([moderate, flagged])
    assert await ids(domain="mental_health") == [very_high, mental]
    assert await ids(on_caseload="true") == [flagged, coached]  # 25 points, then 9
    assert set(await ids(on_caseload="false")) == {very_high, moderate, mental}
    assert await ids(domain="age", on_caseload="false") == [very_high, moderate]
    rows = (await practice.get(f"/v1/practices/{PRACTICE}/patients", params={"band": "low"})).json()
    by_nhs = {p["nhs_number"]: p for p in rows["patients"]}
    assert by_nhs[coached]["caseload"] == [{"service": "health_coaching", "status": "accepted"}]


async def test_only_that_practice_or_staff_may_read_it(kit: Kit) -> None:
    nhs = list_of(kit, 25)
    path = f"/v1/practices/{PRACTICE}/patients"
    async with kit.client("practice", "L85002") as other, kit.client("staff", STAFF) as staff:
        assert (await other.get(path)).status_code == 403
        assert (await other.get(f"/v1/practices/{PRACTICE.lower()}/patients")).status_code == 403
        read = await staff.get(path)
        assert read.status_code == 200 and [p["nhs_number"] for p in read.json()["patients"]] == [
            nhs
        ]
        assert (await other.get("/v1/practices/L85002/patients")).json()["patients"] == []
    async with kit.client() as anonymous:
        assert (await anonymous.get(path)).status_code == 401
        wrong = {"Authorization": "Bearer not-a-token-at-all"}
        assert (await anonymous.get(path, headers=wrong)).status_code == 401
        # Even a request with bad parameters is a 401 to a stranger, never a 422.
        assert (await anonymous.get(path, params={"limit": "x"}, headers=wrong)).status_code == 401


async def test_bad_parameters_are_4xx_with_the_reason(practice: httpx.AsyncClient) -> None:
    path = f"/v1/practices/{PRACTICE}/patients"
    unknown = await practice.get(path, params={"domain": "astrology"})
    assert unknown.status_code == 400 and "unknown domain" in unknown.json()["detail"]
    assert "frailty" in unknown.json()["detail"]
    cursor = await practice.get(path, params={"after": "73:12345"})
    assert cursor.status_code == 400 and "next_after" in cursor.json()["detail"]
    for params in ({"band": "extreme"}, {"limit": 0}, {"limit": 1001}, {"domain": "Bad Domain"}):
        assert (await practice.get(path, params=params)).status_code == 422
    assert (await practice.get("/v1/practices/L85001X%20/patients")).status_code == 403


async def test_reads_are_audited_without_nhs_numbers(kit: Kit, practice: httpx.AsyncClient) -> None:
    nhs = list_of(kit, 25)
    with structlog.testing.capture_logs() as logs:
        assert (await practice.get(f"/v1/practices/{PRACTICE}/patients")).status_code == 200
    [audit] = [line for line in logs if line["event"] == "audit"]
    assert (audit["principal_kind"], audit["principal"], audit["action"], audit["patients"]) == (
        "practice",
        PRACTICE,
        "patients.worklist",
        1,
    )
    assert nhs not in json.dumps(logs)


def test_referral_statuses_keep_the_newest_and_are_idempotent(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    requested = referral(nhs, "requested")
    accepted = referral(nhs, "accepted", referral_id=requested.referral_id)
    late = referral(
        nhs,
        "requested",
        referral_id=requested.referral_id,
        occurred_at=requested.occurred_at - timedelta(minutes=5),
    )
    assert kit.consume(requested, accepted) == ["processed", "processed"]
    assert kit.consume(accepted) == ["duplicate"]
    kit.consume(late)  # an older event, replayed late: the newer status stays
    kit.consume(referral(nhs, "accepted", service="complex_care"))

    def statuses(session: Any) -> list[tuple[str, str]]:
        rows = session.execute(
            CASELOADS.select().where(CASELOADS.c.nhs_number == nhs).order_by(CASELOADS.c.service)
        )
        return [(row.service, row.status) for row in rows]

    assert kit.read(statuses) == [("complex_care", "accepted"), ("health_coaching", "accepted")]


def test_a_referral_for_an_invalid_nhs_number_is_rejected(kit: Kit) -> None:
    with pytest.raises(RejectedEvent):  # the runtime dead-letters it
        kit.consume(referral("9434765918", "accepted"))


async def test_an_active_referral_keeps_the_patient_on_the_caseload_and_completion_ends_it(
    kit: Kit, practice: httpx.AsyncClient
) -> None:
    coached = list_of(kit, 9)
    later: dict[str, Any] = {"referral_id": uuid4()}
    assert kit.consume(referral(coached, "accepted", **later)) == ["processed"]
    active = referral(coached, "active", **later).model_copy(
        update={"event_type": "referral.activated"}
    )
    assert kit.consume(active) == ["processed"]

    async def on_caseload() -> list[str]:
        path = f"/v1/practices/{PRACTICE}/patients"
        response = await practice.get(path, params={"on_caseload": "true"})
        return [p["nhs_number"] for p in response.json()["patients"]]

    assert await on_caseload() == [coached]
    completed = referral(coached, "completed", **later)
    assert kit.consume(completed) == ["processed"]
    assert await on_caseload() == []
