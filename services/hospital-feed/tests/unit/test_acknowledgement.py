"""A practice acknowledges its alerts: seen, then actioned with an outcome (issue 9)."""

import pytest

from ensemble_devkit.testkit import FrozenClock
from hospital_feed.domain.acknowledgement import AlertState, Outcome
from hospital_feed.service import DEFINITION
from hospital_feed.service_layer import handlers
from hospital_feed.service_layer.commands import AcknowledgeAlert

from ..support import FeedKit, alerts
from .test_alerts import encounter


def one_alert(kit: FeedKit, ods: str = "L85001", visit: str = "V1") -> int:
    kit.consume(encounter(practice_ods=ods, visit_number=visit))
    alert_id = max(a.alert_id for a in alerts(kit) if a.practice_ods == ods and a.alert_id)
    return alert_id


def test_the_command_is_registered() -> None:
    assert DEFINITION.commands[AcknowledgeAlert] is handlers.acknowledge_alert


def test_an_outcome_goes_with_actioned_only() -> None:
    with pytest.raises(ValueError):
        AcknowledgeAlert("L85001", 1, "u", AlertState.ACTIONED)
    with pytest.raises(ValueError):
        AcknowledgeAlert("L85001", 1, "u", AlertState.SEEN, Outcome.CALLED_PATIENT)
    with pytest.raises(ValueError):
        AcknowledgeAlert("L85001", 1, "u", AlertState.NEW)


def test_seen_then_actioned_keeps_the_first_who_and_when(kit: FeedKit) -> None:
    clock: FrozenClock = kit.clock
    alert_id = one_alert(kit)
    seen_at = clock.now
    assert kit.execute(AcknowledgeAlert("L85001", alert_id, "ann", AlertState.SEEN))
    clock.advance(minutes=5)
    assert kit.execute(AcknowledgeAlert("L85001", alert_id, "bob", AlertState.SEEN))
    (alert,) = alerts(kit)
    assert (alert.seen_at, alert.seen_by, alert.actioned_at) == (seen_at, "ann", None)

    actioned = AcknowledgeAlert(
        "L85001", alert_id, "bob", AlertState.ACTIONED, Outcome.BOOKED_REVIEW
    )
    assert kit.execute(actioned)
    actioned_at = clock.now
    clock.advance(minutes=5)
    again = AcknowledgeAlert(
        "L85001", alert_id, "cat", AlertState.ACTIONED, Outcome.NO_ACTION_NEEDED
    )
    assert kit.execute(again)
    (alert,) = alerts(kit)
    assert (alert.seen_at, alert.seen_by) == (seen_at, "ann")
    assert (alert.actioned_at, alert.actioned_by, alert.outcome) == (
        actioned_at,
        "bob",
        "booked_review",
    )


def test_actioned_implies_seen(kit: FeedKit) -> None:
    alert_id = one_alert(kit)
    done = AcknowledgeAlert("L85001", alert_id, "ann", AlertState.ACTIONED, Outcome.CALLED_PATIENT)
    assert kit.execute(done)
    (alert,) = alerts(kit)
    assert alert.seen_at == alert.actioned_at == kit.clock.now
    assert (alert.seen_by, alert.actioned_by, alert.outcome) == ("ann", "ann", "called_patient")


def test_another_practice_s_alert_is_not_found_and_not_touched(kit: FeedKit) -> None:
    alert_id = one_alert(kit, "L85002")
    assert not kit.execute(AcknowledgeAlert("L85001", alert_id, "ann", AlertState.SEEN))
    assert not kit.execute(AcknowledgeAlert("L85001", alert_id + 1, "ann", AlertState.SEEN))
    (alert,) = alerts(kit)
    assert (alert.seen_at, alert.seen_by) == (None, None)


async def test_the_json_api_acknowledges_and_answers_the_alert(kit: FeedKit) -> None:
    alert_id = one_alert(kit)
    base = f"/v1/practices/L85001/alerts/{alert_id}"
    async with kit.client("practice", "L85001") as practice:
        seen = await practice.post(f"{base}/seen")
        actioned = await practice.post(f"{base}/actioned", json={"outcome": "added_to_huddle"})
        again = await practice.post(f"{base}/actioned", json={"outcome": "called_patient"})
        unknown = await practice.post(f"{base}/actioned", json={"outcome": "ignored_it"})
        missing = await practice.post(f"/v1/practices/L85001/alerts/{alert_id + 99}/seen")
        huge = await practice.post(f"/v1/practices/L85001/alerts/{2**40}/seen")
    assert (seen.status_code, actioned.status_code, again.status_code) == (200, 200, 200)
    assert seen.json()["alert_id"] == alert_id
    assert seen.json()["state"] == "seen"
    assert actioned.json() == again.json()
    assert (actioned.json()["state"], actioned.json()["outcome"]) == (
        "actioned",
        "added_to_huddle",
    )
    assert (unknown.status_code, missing.status_code, huge.status_code) == (422, 404, 422)
    (alert,) = alerts(kit)
    assert (alert.seen_by, alert.actioned_by, alert.outcome) == (
        "L85001",
        "L85001",
        "added_to_huddle",
    )


async def test_the_json_api_never_reveals_another_practice_s_alert(kit: FeedKit) -> None:
    theirs = one_alert(kit, "L85002")
    async with kit.client("practice", "L85001") as practice:
        # Through its own path: the alert is not its, so it does not exist.
        seen = await practice.post(f"/v1/practices/L85001/alerts/{theirs}/seen")
        nothing = await practice.post(f"/v1/practices/L85001/alerts/{theirs + 1}/seen")
        # Through the other practice's path: not its practice.
        other = await practice.post(f"/v1/practices/L85002/alerts/{theirs}/seen")
    async with kit.client() as anonymous:
        anon = await anonymous.post(
            f"/v1/practices/L85002/alerts/{theirs}/actioned", json={"outcome": "x"}
        )
    assert (seen.status_code, seen.json()) == (nothing.status_code, nothing.json())
    assert (seen.status_code, other.status_code, anon.status_code) == (404, 403, 401)
    (alert,) = alerts(kit)
    assert alert.seen_at is None
