"""The HTTP API through ASGI (no lifespan, so no Kafka); events read from the outbox."""

from uuid import uuid4

import httpx

from ..support import Kit, published, trigger

BODY = {
    "nhs_number": "9990000026",
    "service": "health_coaching",
    "reason": "weight management",
    "preferred_language": "hi",
}


def practice(kit: Kit, ods: str = "L85001") -> httpx.AsyncClient:
    return kit.client("practice", ods)


def staff(kit: Kit) -> httpx.AsyncClient:
    return kit.client("staff", "staff")


def bearer(kit: Kit, token: str) -> httpx.AsyncClient:
    http = kit.client()
    http.headers["Authorization"] = f"Bearer {token}"
    return http


async def test_a_practice_refers_and_gets_201_with_the_referral(kit: Kit) -> None:
    async with practice(kit) as gp:
        created = await gp.post("/v1/referrals", json=BODY)
    assert created.status_code == 201
    body = created.json()
    assert body["practice_ods"] == "L85001"  # from the token, not the body
    assert (body["status"], body["source"], body["service"]) == (
        "requested",
        "gp",
        "health_coaching",
    )
    assert body["due_by"] > body["created_at"]
    (event,) = published(kit)
    assert str(event.referral_id) == body["referral_id"]
    assert event.event_type == "referral.requested"


async def test_unknown_or_missing_tokens_are_401(kit: Kit) -> None:
    async with kit.client() as anonymous:
        assert (await anonymous.post("/v1/referrals", json=BODY)).status_code == 401
        assert (await anonymous.post("/v1/referrals", json={})).status_code == 401
        assert (await anonymous.get("/v1/referrals")).status_code == 401
        assert (await anonymous.get("/v1/practices/L85001/referrals")).status_code == 401
    async with bearer(kit, "nonsense") as stranger:
        assert (await stranger.get(f"/v1/referrals/{uuid4()}")).status_code == 401
        assert (await stranger.post(f"/v1/referrals/{uuid4()}/accept")).status_code == 401
    async with staff(kit) as member:  # a staff token is not a practice token
        assert (await member.post("/v1/referrals", json=BODY)).status_code == 401
    async with practice(kit) as gp:  # and a practice cannot triage
        assert (await gp.get("/v1/referrals")).status_code == 401
        assert (await gp.post(f"/v1/referrals/{uuid4()}/accept")).status_code == 401
    assert published(kit) == []


async def test_a_practice_sees_only_its_own_referrals(kit: Kit) -> None:
    kit.consume(trigger(nhs_number="9990000018", practice_ods="L85002"))
    async with practice(kit) as gp:
        await gp.post("/v1/referrals", json=BODY)
        own = await gp.get("/v1/practices/l85001/referrals")
        other = await gp.get("/v1/practices/L85002/referrals")
    assert own.status_code == 200
    assert [r["nhs_number"] for r in own.json()["referrals"]] == ["9990000026"]
    assert other.status_code == 403
    async with practice(kit, "L85002") as second:
        theirs = await second.get("/v1/practices/L85002/referrals", params={"status": "proposed"})
    assert [r["source"] for r in theirs.json()["referrals"]] == ["hot_onboarding"]


async def test_bad_input_is_422_and_a_duplicate_is_merged_into_the_open_one(
    kit: Kit,
) -> None:
    async with practice(kit) as gp:
        created = await gp.post("/v1/referrals", json=BODY)
        again = await gp.post("/v1/referrals", json=BODY | {"nhs_number": "999 000 0026"})
        placeholder = await gp.post("/v1/referrals", json=BODY | {"nhs_number": "9999999999"})
        wrong_check = await gp.post("/v1/referrals", json=BODY | {"nhs_number": "9434765918"})
        no_service = await gp.post("/v1/referrals", json=BODY | {"service": "physio"})
    assert again.status_code == 200
    assert again.json()["referral_id"] == created.json()["referral_id"]
    assert "merged" in again.json()["note"]
    assert [r.status_code for r in (placeholder, wrong_check, no_service)] == [422, 422, 422]
    assert "9434765918" not in wrong_check.text
    assert len(published(kit)) == 1


async def test_staff_triage_404_and_409(kit: Kit) -> None:
    async with practice(kit) as gp:
        referral_id = (await gp.post("/v1/referrals", json=BODY)).json()["referral_id"]
    async with staff(kit) as member:
        untriaged = await member.post(f"/v1/referrals/{referral_id}/accept")
        await member.post(f"/v1/referrals/{referral_id}/triage", json={"priority": "high"})
        consent = {"decision": "given", "method": "phone"}
        await member.post(f"/v1/referrals/{referral_id}/consent", json=consent)
        accepted = await member.post(f"/v1/referrals/{referral_id}/accept")
        late = await member.post(f"/v1/referrals/{referral_id}/decline", json={"reason": "x"})
        twice = await member.post(f"/v1/referrals/{referral_id}/accept")
        unknown = await member.post(f"/v1/referrals/{uuid4()}/decline", json={"reason": "x"})
        no_reason = await member.post(f"/v1/referrals/{referral_id}/decline", json={})
        missing = await member.get(f"/v1/referrals/{uuid4()}")
        not_a_uuid = await member.get("/v1/referrals/42")
        fetched = await member.get(f"/v1/referrals/{referral_id}")
    assert untriaged.status_code == 409
    assert untriaged.json()["detail"]["allowed"] == ["declined", "triaged", "withdrawn"]
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert (late.status_code, twice.status_code) == (409, 409)
    assert (unknown.status_code, missing.status_code) == (404, 404)
    assert (no_reason.status_code, not_a_uuid.status_code) == (422, 422)
    assert fetched.json()["status"] == "accepted"
    assert [e.event_type for e in published(kit)] == [
        "referral.requested",
        "referral.triaged",
        "referral.consent_recorded",
        "referral.accepted",
    ]


async def test_staff_decline_a_proposal_with_a_reason(kit: Kit) -> None:
    event = trigger()
    kit.consume(event)
    async with staff(kit) as member:
        (proposal,) = (await member.get("/v1/referrals", params={"status": "proposed"})).json()[
            "referrals"
        ]
        declined = await member.post(
            f"/v1/referrals/{proposal['referral_id']}/decline", json={"reason": "on another team"}
        )
    assert proposal["source_event_id"] == str(event.event_id)
    assert declined.json()["decline_reason"] == "on another team"
    proposed, declined_event = published(kit)
    assert declined_event.event_type == "referral.declined"
    assert declined_event.reason == "on another team"
    # A staff decision starts a new chain: it is not caused by the trigger.
    assert declined_event.causation_id is None
    assert declined_event.correlation_id != proposed.correlation_id


async def test_staff_list_and_filter(kit: Kit) -> None:
    kit.consume(trigger(nhs_number="9990000018", practice_ods="L85002"))
    async with practice(kit) as gp:
        await gp.post("/v1/referrals", json=BODY)
        await gp.post("/v1/referrals", json=BODY | {"service": "complex_care"})
    async with staff(kit) as member:
        everyone = (await member.get("/v1/referrals")).json()["referrals"]
        patient = (await member.get("/v1/referrals", params={"nhs_number": "9990000026"})).json()
        l85002 = (await member.get("/v1/referrals", params={"practice_ods": "L85002"})).json()
        bad_status = await member.get("/v1/referrals", params={"status": "lost"})
        limited = (await member.get("/v1/referrals", params={"limit": 1})).json()["referrals"]
    assert len(everyone) == 3
    assert {r["service"] for r in patient["referrals"]} == {"health_coaching", "complex_care"}
    assert [r["status"] for r in l85002["referrals"]] == ["proposed"]
    assert bad_status.status_code == 422
    assert [r["referral_id"] for r in limited] == [everyone[0]["referral_id"]]
