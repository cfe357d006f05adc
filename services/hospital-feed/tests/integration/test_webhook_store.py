"""Webhooks in the store, on SQLite and PostgreSQL: the planner's cursor (crash-safe, once per
alert), preferences, retries to dead and replay, a 410, and digests on a driven clock."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlmodel import Session, col, select

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.hospital import EncounterEventType as T
from ensemble_devkit.testkit import FrozenClock
from hospital_feed.adapters import views, webhook_views
from hospital_feed.adapters.webhooks import WebhookDelivery, WebhookEndpoint
from hospital_feed.domain.webhooks import Attempt, DeliveryMode, Outcome
from hospital_feed.entrypoints.alert_display import view_options
from hospital_feed.service_layer.webhooks import (
    PlanDeliveries,
    RecordAttempts,
    RegisterWebhook,
    Replay,
    ReplayDelivery,
    SetPreferences,
    plan_deliveries,
)

from ..support import FeedKit, feed_kit

URL = "https://receiver.example/hook"


@pytest.fixture
def kit(database_url: str) -> Any:
    kit = feed_kit(
        database_url,
        clock=FrozenClock(datetime(2026, 12, 1, 7, 0, tzinfo=UTC)),  # 07:00 in London
        webhook_max_attempts=3,
        webhook_retry_base_seconds=10,
        webhook_retry_max_seconds=25,
    )
    yield kit
    kit.dispose()


def alert(kit: FeedKit, practice: str = "L85001", kind: str = T.ADMITTED) -> int:
    """An alert through the consumer path, as Kafka delivers it; its alert_id."""
    event = EncounterEvent.model_validate(
        {
            "event_type": kind,
            "producer": "hospital-feed",
            "nhs_number": "9990000018",
            "practice_ods": practice,
            "sending_facility": "RCB",
            "trigger_event": "A01",
            "source_message_id": f"C-{uuid4().hex[:8]}",
            "visit_number": f"V{uuid4().hex[:6]}",
            "location": "WARD 7",
        }
    )
    assert kit.consume(event) == ["processed"]
    return int(kit.read(views.newest_alert_id))


def plan(kit: FeedKit) -> bool:
    return kit.execute(PlanDeliveries(view_options(kit.runtime)))


def rows(kit: FeedKit, recipient: str = "L85001") -> list[WebhookDelivery]:
    def query(session: Session) -> list[WebhookDelivery]:
        found = select(WebhookDelivery).where(WebhookDelivery.recipient == recipient)
        return list(session.exec(found.order_by(col(WebhookDelivery.id))))

    return kit.read(query)


def endpoint(kit: FeedKit, recipient: str = "L85001") -> WebhookEndpoint:
    def query(session: Session) -> WebhookEndpoint | None:
        return session.get(WebhookEndpoint, recipient)

    found = kit.read(query)
    assert found is not None
    return found


def due_ids(kit: FeedKit) -> list[int]:
    work = kit.read(webhook_views.dispatch_work, kit.clock(), frozenset(), 100)
    return [d.delivery_id for d in work.due]


class Crash(Exception):
    pass


def test_each_alert_is_planned_once_and_a_crash_before_commit_plans_nothing(kit: FeedKit) -> None:
    before = alert(kit)  # history: not sent to an endpoint registered later
    kit.execute(RegisterWebhook("L85001", URL, "alice"))
    assert endpoint(kit).last_alert_id == before
    ids = [alert(kit) for _ in range(3)]
    alert(kit, "L85002")  # another practice's alert, and no endpoint of its own
    assert kit.read(webhook_views.dispatch_work, kit.clock(), frozenset(), 10).plan_needed

    def crashing(uow: Any, command: PlanDeliveries) -> bool:
        def fail() -> None:
            raise Crash

        uow.commit = fail
        return plan_deliveries(uow, command)

    with pytest.raises(Crash):
        kit.run(crashing, PlanDeliveries(view_options(kit.runtime)))
    assert rows(kit) == [] and endpoint(kit).last_alert_id == before

    assert plan(kit) is False
    assert plan(kit) is False  # planned already: nothing more
    planned = rows(kit)
    assert [d.alert_id for d in planned] == ids
    assert {d.type for d in planned} == {"alert.created"}
    assert len({d.webhook_id for d in planned}) == 3
    assert all(d.status == "pending" and d.attempts == 0 for d in planned)
    listed = kit.read(views.practice_alerts, "L85001", 0, 100)
    for delivery in planned:
        body = json.loads(delivery.payload)
        assert body["type"] == "alert.created"
        shown = next(a for a in listed if a["alert_id"] == delivery.alert_id)
        assert body["data"] == shown, "the payload is the alert as the list shows it"
    assert rows(kit, "L85002") == []
    assert not kit.read(webhook_views.dispatch_work, kit.clock(), frozenset(), 10).plan_needed
    assert due_ids(kit) == [planned[0].id], "one at a time per endpoint, oldest first"

    later = alert(kit)
    plan(kit)
    assert [d.alert_id for d in rows(kit)] == [*ids, later]


def test_preferences_decide_what_is_planned_and_the_cursor_passes_the_rest(
    kit: FeedKit,
) -> None:
    kit.execute(RegisterWebhook("L85001", URL, "alice"))
    kit.execute(SetPreferences("L85001", ("discharged",), None, DeliveryMode.REALTIME, "alice"))
    alert(kit)
    wanted = alert(kit, kind=T.DISCHARGED)
    alert(kit, kind=T.TRANSFERRED)
    plan(kit)
    assert [d.alert_id for d in rows(kit)] == [wanted]
    assert endpoint(kit).last_alert_id == kit.read(views.newest_alert_id)
    # A band filter: the patient has no band, so nothing of it is sent.
    kit.execute(SetPreferences("L85001", None, ("high",), DeliveryMode.REALTIME, "alice"))
    alert(kit, kind=T.DISCHARGED)
    plan(kit)
    assert [d.alert_id for d in rows(kit)] == [wanted]


def test_failures_back_off_then_die_and_staff_replay_sends_it_again(kit: FeedKit) -> None:
    kit.execute(RegisterWebhook("L85001", URL, "alice"))
    alert(kit)
    plan(kit)
    (delivery,) = rows(kit)
    start = kit.clock()

    def attempt(code: int | None, error: str | None = None) -> Outcome | None:
        (outcome,) = kit.execute(RecordAttempts((Attempt(delivery.id or 0, code, error),)))
        return outcome

    assert attempt(500, "HTTP 500") is Outcome.RETRY
    (row,) = rows(kit)
    assert row.attempts == 1 and row.last_status_code == 500 and row.last_error == "HTTP 500"
    assert start + timedelta(seconds=5) <= row.next_attempt_at < start + timedelta(seconds=10)
    assert due_ids(kit) == [], "not before its backoff"
    kit.clock.advance(seconds=10)
    assert due_ids(kit) == [delivery.id]
    assert attempt(None, "timed out (ReadTimeout)") is Outcome.RETRY
    kit.clock.advance(seconds=20)
    assert attempt(503) is Outcome.DEAD
    (row,) = rows(kit)
    assert (row.status, row.attempts) == ("dead", 3)
    assert due_ids(kit) == []
    dead = kit.read(webhook_views.deliveries, "dead", "L85001", 0, 10)
    assert [d["id"] for d in dead] == [delivery.id]
    assert "payload" not in dead[0]

    assert kit.execute(ReplayDelivery(delivery.id or 0)) is Replay.REPLAYED
    (row,) = rows(kit)
    assert (row.status, row.attempts, row.webhook_id) == ("pending", 0, delivery.webhook_id)
    assert due_ids(kit) == [delivery.id]
    assert attempt(204) is Outcome.DELIVERED
    (row,) = rows(kit)
    assert (row.status, row.delivered_at) == ("delivered", kit.clock())
    assert kit.execute(ReplayDelivery(delivery.id or 0)) is Replay.NOT_DEAD
    assert kit.execute(ReplayDelivery(10**6)) is Replay.NOT_FOUND
    assert attempt(200) is None, "a delivered one is not touched again"


def test_a_410_disables_the_endpoint_until_it_is_registered_again(kit: FeedKit) -> None:
    kit.execute(RegisterWebhook("L85001", URL, "alice"))
    alert(kit)
    plan(kit)
    (delivery,) = rows(kit)
    kit.execute(RecordAttempts((Attempt(delivery.id or 0, 410, "HTTP 410"),)))
    assert endpoint(kit).enabled is False and "410" in (endpoint(kit).disabled_reason or "")
    later = alert(kit)
    plan(kit)
    assert [d.alert_id for d in rows(kit)] == [delivery.alert_id], "nothing planned meanwhile"
    assert due_ids(kit) == []
    again = kit.execute(RegisterWebhook("L85001", URL + "/v2", "alice"))
    assert (again.created, again.secret) == (False, None)
    plan(kit)
    assert [d.alert_id for d in rows(kit)] == [delivery.alert_id, later], "nothing skipped"
    assert due_ids(kit) == [delivery.id]


def test_digests_go_out_at_the_slots_with_the_alerts_since_the_last(kit: FeedKit) -> None:
    kit.execute(RegisterWebhook("L85001", URL, "alice"))
    kit.execute(SetPreferences("L85001", None, None, DeliveryMode.DIGEST, "alice"))
    first = [alert(kit), alert(kit, kind=T.DISCHARGED)]
    kit.clock.advance(minutes=30)  # 07:30: no slot yet
    plan(kit)
    assert rows(kit) == []
    kit.clock.now = datetime(2026, 12, 1, 8, 0, 30, tzinfo=UTC)
    plan(kit)
    (digest,) = rows(kit)
    body = json.loads(digest.payload)
    assert (digest.type, digest.alert_id, body["type"]) == ("alert.digest", None, "alert.digest")
    assert body["data"]["slot"] == "2026-12-01T08:00:00+00:00"
    assert [a["alert_id"] for a in body["data"]["alerts"]] == first
    plan(kit)
    assert len(rows(kit)) == 1, "one digest per slot"

    kit.clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    second = alert(kit)
    kit.clock.now = datetime(2026, 12, 1, 12, 59, tzinfo=UTC)
    plan(kit)
    assert len(rows(kit)) == 1
    kit.clock.now = datetime(2026, 12, 1, 13, 1, tzinfo=UTC)
    plan(kit)
    afternoon = json.loads(rows(kit)[-1].payload)
    assert [a["alert_id"] for a in afternoon["data"]["alerts"]] == [second]
    kit.clock.now = datetime(2026, 12, 2, 8, 1, tzinfo=UTC)  # nothing since: no digest
    plan(kit)
    assert len(rows(kit)) == 2

    # Back to real time: what came since the last digest goes out one by one.
    kit.clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    third = alert(kit)
    kit.execute(SetPreferences("L85001", None, None, DeliveryMode.REALTIME, "alice"))
    plan(kit)
    assert [(d.type, d.alert_id) for d in rows(kit)][-1] == ("alert.created", third)


def test_a_digest_keeps_to_the_preferences(kit: FeedKit) -> None:
    kit.execute(RegisterWebhook("L85001", URL, "alice"))
    kit.execute(SetPreferences("L85001", ("discharged",), None, DeliveryMode.DIGEST, "alice"))
    alert(kit)
    kept = alert(kit, kind=T.DISCHARGED)
    kit.clock.now = datetime(2026, 12, 1, 8, 5, tzinfo=UTC)
    plan(kit)
    (digest,) = rows(kit)
    assert [a["alert_id"] for a in json.loads(digest.payload)["data"]["alerts"]] == [kept]


def test_the_dispatchers_read_leaves_out_busy_recipients_and_keeps_to_its_limit(
    kit: FeedKit,
) -> None:
    practices = ("L85001", "L85002", "L85003")
    for practice in practices:
        kit.execute(RegisterWebhook(practice, f"{URL}/{practice}", "alice"))
        alert(kit, practice)
        alert(kit, practice)
    plan(kit)
    oldest = {practice: rows(kit, practice)[0].id for practice in practices}
    assert all(len(rows(kit, practice)) == 2 for practice in practices)

    def heads(busy: set[str], limit: int) -> dict[str, int]:
        work = kit.read(webhook_views.dispatch_work, kit.clock(), frozenset(busy), limit)
        assert all(d.url == f"{URL}/{d.recipient}" and len(d.secrets) == 1 for d in work.due)
        return {d.recipient: d.delivery_id for d in work.due}

    assert heads(set(), 10) == oldest  # each queue's head only
    assert heads({"L85001", "L85003"}, 10) == {"L85002": oldest["L85002"]}
    assert heads({"L85002"}, 10) == {p: oldest[p] for p in ("L85001", "L85003")}
    assert len(heads(set(), 2)) == 2
    assert heads(set(), 0) == {}
