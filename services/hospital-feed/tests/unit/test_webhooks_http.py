"""The webhook API: a practice registers its endpoint and preferences (staff may for any),
secrets shown once, bad input a clear 422, staff list and replay deliveries."""

from typing import Any

import pytest

from hospital_feed.domain.webhooks import Attempt
from hospital_feed.entrypoints.alert_display import view_options
from hospital_feed.service_layer.webhooks import PlanDeliveries, RecordAttempts

from ..support import FeedKit
from .test_alerts import encounter

HOOK = "/v1/practices/L85001/webhook"
STAFF_HOOK = "/v1/staff/practices/L85001/webhook"
PREFS = "/v1/practices/L85001/preferences"


async def test_a_practice_registers_and_sees_its_secret_once(kit: FeedKit) -> None:
    async with kit.client("practice", "L85001") as http:
        created = await http.put(HOOK, json={"url": "https://gp.example/hook"})
        assert created.status_code == 201
        body = created.json()
        assert body["url"] == "https://gp.example/hook" and body["enabled"] is True
        assert body["secret"].startswith("whsec_") and body["created_by"] == "L85001"
        shown = await http.get(HOOK)
        assert shown.status_code == 200 and "secret" not in shown.json()
        moved = await http.put(HOOK, json={"url": "https://gp.example/v2"})
        assert moved.status_code == 200 and "secret" not in moved.json()
        assert moved.json()["url"] == "https://gp.example/v2"
        rotated = await http.post(f"{HOOK}/secret")
        assert rotated.status_code == 200
        assert rotated.json()["secret"].startswith("whsec_")
        assert rotated.json()["secret"] != body["secret"]
        assert rotated.json()["previous_secret_valid_until"]
        assert (await http.delete(HOOK)).status_code == 204
        assert (await http.get(HOOK)).status_code == 404
        assert (await http.delete(HOOK)).status_code == 404
        assert (await http.post(f"{HOOK}/secret")).status_code == 404


async def test_another_practice_and_no_token_are_refused(kit: FeedKit) -> None:
    async with kit.client("practice", "L85002") as theirs:
        refused = await theirs.put(HOOK, json={"url": "https://evil.example/"})
        assert refused.status_code == 403
        assert (await theirs.get(PREFS)).status_code == 403
        assert (await theirs.put(STAFF_HOOK, json={"url": "https://x.example/"})).status_code == 401
    async with kit.client() as anonymous:
        assert (await anonymous.put(HOOK, content=b"not json")).status_code == 401
        listing = await anonymous.get("/v1/staff/webhooks/deliveries")
        assert listing.status_code == 401


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "http://gp.example/hook"}, "must be https"),
        ({"url": "https://u:p@gp.example/hook"}, "credentials"),
        ({"url": "gopher://gp.example/"}, "must be https"),
        ({"url": "https://gp.example/" + "a" * 2100}, "at most 2000"),
        ({"url": 7}, "string"),
        ({"uri": "https://gp.example/"}, "Field required"),
    ],
)
async def test_a_bad_url_is_a_422_with_the_reason(
    kit: FeedKit, body: dict[str, Any], reason: str
) -> None:
    async with kit.client("practice", "L85001") as http:
        response = await http.put(HOOK, json=body)
    assert response.status_code == 422
    assert reason in str(response.json()["detail"])


async def test_preferences_are_validated_and_kept(kit: FeedKit) -> None:
    async with kit.client("practice", "L85001") as http:
        default = await http.get(PREFS)
        assert default.json() == {
            "recipient": "L85001",
            "kinds": None,
            "bands": None,
            "delivery": "realtime",
        }
        refused: list[dict[str, Any]] = [
            {"kinds": ["admitted", "lunch"]},
            {"bands": ["medium"]},
            {"delivery": "weekly"},
            {"kinds": []},
            {"kinds": "admitted"},
            {"colour": "red"},
        ]
        for bad in refused:
            response = await http.put(PREFS, json=bad)
            assert response.status_code == 422, bad
        chosen = {"kinds": ["died", "admitted"], "bands": ["very_high"], "delivery": "digest"}
        saved = await http.put(PREFS, json=chosen)
        assert saved.status_code == 200
        expected = {
            "recipient": "L85001",
            "kinds": ["admitted", "died"],
            "bands": ["very_high"],
            "delivery": "digest",
        }
        assert saved.json() == expected
        assert (await http.get(PREFS)).json() == expected


async def test_staff_manage_any_recipient_list_deliveries_and_replay_dead_ones(
    kit: FeedKit,
) -> None:
    async with kit.client("staff", "staff") as staff:
        created = await staff.put(STAFF_HOOK, json={"url": "https://gp.example/hook"})
        assert created.status_code == 201 and created.json()["created_by"] == "staff"
        assert (await staff.get(HOOK)).status_code == 401, "the practice path is the practice's"
        bad = await staff.get("/v1/staff/practices/not-an-ods!/webhook")
        assert bad.status_code == 422
        prefs = await staff.put(
            "/v1/staff/practices/L85001/preferences", json={"kinds": ["admitted"]}
        )
        assert prefs.status_code == 200
        kit.consume(encounter(practice_ods="L85001"))
        assert kit.execute(PlanDeliveries(view_options(kit.runtime))) is False
        listed = (await staff.get("/v1/staff/webhooks/deliveries")).json()
        (delivery,) = listed["deliveries"]
        assert listed["next_after"] == delivery["id"]
        assert delivery["status"] == "pending" and delivery["type"] == "alert.created"
        assert "payload" not in delivery and "9990000018" not in str(listed)
        replay = f"/v1/staff/webhooks/deliveries/{delivery['id']}/replay"
        assert (await staff.post(replay)).status_code == 409
        for _ in range(kit.settings.webhook_max_attempts):
            kit.execute(RecordAttempts((Attempt(delivery["id"], 500, "HTTP 500"),)))
        dead = await staff.get(
            "/v1/staff/webhooks/deliveries", params={"status": "dead", "recipient": "l85001"}
        )
        assert [d["id"] for d in dead.json()["deliveries"]] == [delivery["id"]]
        replayed = await staff.post(replay)
        assert replayed.status_code == 200
        assert (replayed.json()["status"], replayed.json()["attempts"]) == ("pending", 0)
        assert (await staff.post("/v1/staff/webhooks/deliveries/999999/replay")).status_code == 404
        too_big = await staff.post(f"/v1/staff/webhooks/deliveries/{2**40}/replay")
        assert too_big.status_code == 422
        bad_status = await staff.get("/v1/staff/webhooks/deliveries", params={"status": "lost"})
        assert bad_status.status_code == 422
