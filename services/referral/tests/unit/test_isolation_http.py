"""Isolation between practices over HTTP, with two practices' tokens (L85001, L85002).

A practice acts for and sees only patients registered with it, or patients referral knows
no registration for; it never learns another practice's referral ids; the patient's own GP
is never locked out. Each staff request is audited in one line, without NHS numbers.
"""

from collections.abc import MutableMapping
from typing import Any
from uuid import uuid4

import httpx
from structlog.testing import capture_logs

from ensemble_runtime.logging import redact_pii

from ..support import Kit, encounter, published, trigger

OURS, THEIRS = "L85001", "L85002"
PATIENT, OTHER = "9990000018", "9990000026"
FORBIDDEN = {"detail": "the patient is not registered with your practice"}
LIST, ONE = "/v1/referrals", "/v1/referrals/{referral_id}"  # staff route templates
ACCEPT = "/v1/referrals/{referral_id}/accept"


def body(nhs_number: str = PATIENT, service: str = "complex_care") -> dict[str, Any]:
    return {"nhs_number": nhs_number, "service": service, "reason": "frailty"}


def practice(kit: Kit, ods: str) -> httpx.AsyncClient:
    return kit.client("practice", ods)


async def listed(kit: Kit, ods: str) -> list[dict[str, Any]]:
    async with practice(kit, ods) as http:
        answer = await http.get(f"/v1/practices/{ods}/referrals")
    assert answer.status_code == 200
    return list(answer.json()["referrals"])


async def test_a_duplicate_merges_only_into_the_caller_s_own_referral(kit: Kit) -> None:
    async with practice(kit, THEIRS) as them, practice(kit, OURS) as us:
        theirs = await them.post("/v1/referrals", json=body())
        ours = await us.post("/v1/referrals", json=body())  # not merged into theirs
        again = await us.post("/v1/referrals", json=body())
    assert (theirs.status_code, ours.status_code, again.status_code) == (201, 201, 200)
    assert again.json()["referral_id"] == ours.json()["referral_id"]
    assert theirs.json()["referral_id"] not in again.text


async def test_a_patient_registered_elsewhere_gets_one_uniform_answer_with_no_ids(
    kit: Kit,
) -> None:
    # PATIENT: in hospital, high risk, a proposal and a GP referral at L85001.
    kit.consume(trigger(nhs_number=PATIENT, practice_ods=OURS))
    async with practice(kit, OURS) as us:
        assert (await us.post("/v1/referrals", json=body(service="health_coaching"))).is_success
    # OTHER: one routine encounter, no referral at all.
    kit.consume(encounter(nhs_number=OTHER, practice_ods=OURS))
    before = published(kit)
    async with practice(kit, THEIRS) as them:
        answers = [
            await them.post("/v1/referrals", json=body(nhs, service))
            for nhs in (PATIENT, OTHER)
            for service in ("complex_care", "health_coaching")
        ]
    assert {a.status_code for a in answers} == {403}
    assert {a.text for a in answers} == {answers[0].text}  # identical, whatever the history
    assert answers[0].json() == FORBIDDEN
    assert published(kit) == before  # nothing stored or announced for L85002
    ids = [r["referral_id"] for r in await listed(kit, OURS)]
    assert len(ids) == 2
    assert not any(referral_id in a.text for a in answers for referral_id in ids)


async def test_the_patient_s_own_gp_is_never_locked_out(kit: Kit) -> None:
    async with practice(kit, THEIRS) as them:
        first = await them.post("/v1/referrals", json=body())  # registration not yet known
    assert first.status_code == 201
    kit.consume(encounter(nhs_number=PATIENT, practice_ods=OURS))
    async with practice(kit, OURS) as us:
        own = await us.post("/v1/referrals", json=body())
    assert own.status_code == 201
    assert own.json()["practice_ods"] == OURS
    # L85002's referral stays for staff to triage, but L85002 no longer sees the patient.
    assert await listed(kit, THEIRS) == []
    assert [r["referral_id"] for r in await listed(kit, OURS)] == [own.json()["referral_id"]]
    async with kit.client("staff", "staff") as member:
        everyone = (await member.get("/v1/referrals")).json()["referrals"]
    assert {r["practice_ods"] for r in everyone} == {OURS, THEIRS}


async def test_a_practice_lists_only_its_own_patients(kit: Kit) -> None:
    kit.consume(trigger(nhs_number=PATIENT, practice_ods=OURS))
    async with practice(kit, THEIRS) as them:
        unknown = await them.post("/v1/referrals", json=body(OTHER))
        other_list = await them.get(f"/v1/practices/{OURS}/referrals")
    assert other_list.status_code == 403
    assert [r["referral_id"] for r in await listed(kit, THEIRS)] == [unknown.json()["referral_id"]]
    assert [r["source"] for r in await listed(kit, OURS)] == ["hot_onboarding"]
    # Once the hospital says OTHER is registered with L85001, it leaves L85002's list; its
    # referral stays L85002's, so L85001 does not see it either.
    kit.consume(encounter(nhs_number=OTHER, practice_ods=OURS))
    assert await listed(kit, THEIRS) == []
    assert [r["nhs_number"] for r in await listed(kit, OURS)] == [PATIENT]


def audits(logs: list[MutableMapping[str, Any]]) -> list[dict[str, Any]]:
    """Every staff audit line, without the log level (practice requests have lines too)."""
    return [
        {k: v for k, v in entry.items() if k != "log_level"}
        for entry in logs
        if entry["event"] == "audit" and entry["principal_kind"] == "staff"
    ]


def audit_line(method: str, route: str, status: int, **details: str | int) -> dict[str, Any]:
    """The one line the runtime's HTTP guard writes for a staff request, with referral's
    details (`audit_detail`)."""
    who = {"event": "audit", "principal_kind": "staff", "principal": "staff", "user": "staff"}
    return who | {"method": method, "route": route, "status": status} | details


async def test_every_staff_request_is_audited_once_without_nhs_numbers(kit: Kit) -> None:
    kit.consume(trigger(nhs_number=PATIENT, practice_ods=OURS))
    async with practice(kit, OURS) as us:
        created = (await us.post("/v1/referrals", json=body(OTHER))).json()
    with capture_logs() as logs:
        async with practice(kit, OURS) as us:  # a practice's own list: a practice line
            await us.get(f"/v1/practices/{OURS}/referrals")
        async with kit.client("staff", "staff") as member:
            everyone = await member.get("/v1/referrals")
            by_patient = await member.get(
                "/v1/referrals", params={"nhs_number": "999 000 0026", "status": "requested"}
            )
            one = await member.get(f"/v1/referrals/{created['referral_id']}")
            missing = await member.get(f"/v1/referrals/{uuid4()}")
            accepted = await member.post(f"/v1/referrals/{created['referral_id']}/accept")
            unknown = await member.post(f"/v1/referrals/{uuid4()}/accept")
    answers = (everyone, by_patient, one, missing, accepted, unknown)
    # Accepting an untriaged referral is refused (409), and audited as such.
    assert [r.status_code for r in answers] == [200, 200, 200, 404, 409, 404]
    assert [r["referral_id"] for r in by_patient.json()["referrals"]] == [created["referral_id"]]
    # One line per staff request; the filters used are counted, their values never logged.
    assert audits(logs) == [
        audit_line(
            "GET",
            LIST,
            200,
            action="referrals.list",
            referrals=2,
            by_patient=0,
            by_practice=0,
            by_status=0,
        ),
        audit_line(
            "GET",
            LIST,
            200,
            action="referrals.list",
            referrals=1,
            by_patient=1,
            by_practice=0,
            by_status=1,
        ),
        audit_line("GET", ONE, 200, action="referrals.read", referrals=1),
        audit_line("GET", ONE, 404, action="referrals.read", referrals=0),
        audit_line("POST", ACCEPT, 409, action="referrals.accept", referrals=0),
        audit_line("POST", ACCEPT, 404, action="referrals.accept", referrals=0),
    ]
    # No NHS number in any line, before or after the logging redaction.
    for entry in logs:
        for rendered in (repr(entry), repr(redact_pii(None, "info", dict(entry)))):
            assert PATIENT not in rendered
            assert OTHER not in rendered
