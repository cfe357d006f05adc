"""Webhook use cases: register an endpoint, rotate its secret, set preferences, plan
deliveries from the alerts (real time and digests), record attempts, replay dead ones.

Each is a `Command` named in the service definition (`HANDLERS`), run in one unit of work.
The dispatcher (entrypoints/webhook_dispatcher.py) runs the planner and records attempts;
the HTTP API (entrypoints/webhooks_http.py) runs the rest.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, get_args
from zoneinfo import ZoneInfo

from ensemble_contracts.scoring import RiskBand
from ensemble_runtime.definition import Command
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.adapters.webhooks import PlanTarget, WebhookEndpoint
from hospital_feed.domain.encounters import AlertKind
from hospital_feed.domain.webhooks import (
    Attempt,
    DeliveryMode,
    DeliveryStatus,
    DeliveryType,
    Outcome,
    Preferences,
    RetryPolicy,
    WebhookError,
    alert_payload,
    check_url,
    digest_payload,
    digest_slots,
    judge,
    latest_slot,
    new_secret,
    preferences,
    short_error,
)

PLAN_ENDPOINTS = 100  # endpoints planned per transaction; more: the planner runs again
PLAN_BATCH = 500  # alerts read per endpoint and store read
DIGEST_MAX = 500  # alerts per digest delivery; a bigger digest goes as several, in order
BANDS = frozenset(get_args(RiskBand))
GONE = "the receiver answered 410 Gone: deliveries stopped until the webhook is registered again"


@dataclass(frozen=True)
class Registered:
    url: str
    created: bool
    secret: str | None  # shown once, when the endpoint is created


@dataclass(frozen=True)
class RegisterWebhook(Command[Registered]):
    """Create the recipient's endpoint (a new secret; deliveries start with the next alert),
    or change its URL and enable it again (secret and cursor kept: nothing is skipped)."""

    recipient: str
    url: str
    user: str


@dataclass(frozen=True)
class RemoveWebhook(Command[bool]):
    """No more deliveries; undelivered ones are dropped. False when there was none."""

    recipient: str


@dataclass(frozen=True)
class Rotated:
    secret: str
    previous_valid_until: datetime


@dataclass(frozen=True)
class RotateWebhookSecret(Command[Rotated | None]):
    """A new secret; the old one also signs for the grace setting. None: no endpoint."""

    recipient: str
    user: str


@dataclass(frozen=True)
class SetPreferences(Command[Preferences]):
    recipient: str
    kinds: tuple[str, ...] | None
    bands: tuple[str, ...] | None
    delivery: DeliveryMode
    user: str


@dataclass(frozen=True)
class PlanDeliveries(Command[bool]):
    """Turn alerts above each endpoint's cursor into deliveries, and digests whose slot has
    come; True when there is more to plan at once. `view`: how an alert is shown now
    (entrypoints/alert_display.view_options), so the payload is the list's JSON."""

    view: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordAttempts(Command[list[Outcome | None]]):
    """The dispatcher's finished attempts, in one transaction; None for a delivery that is
    no longer pending (its webhook was removed meanwhile)."""

    attempts: tuple[Attempt, ...]


class Replay(StrEnum):
    REPLAYED = "replayed"
    NOT_FOUND = "not_found"
    NOT_DEAD = "not_dead"
    NO_ENDPOINT = "no_endpoint"


@dataclass(frozen=True)
class ReplayDelivery(Command[Replay]):
    """A dead delivery back to pending, due now, attempts from zero (same webhook-id)."""

    delivery_id: int


def retry_policy(settings: Any) -> RetryPolicy:
    return RetryPolicy(
        settings.webhook_max_attempts,
        settings.webhook_retry_base_seconds,
        settings.webhook_retry_max_seconds,
    )


def digest_slot(settings: Any, now: datetime) -> datetime:
    """The latest digest slot at or before `now` (settings: times of day and zone)."""
    return latest_slot(
        now, digest_slots(settings.webhook_digest_times), ZoneInfo(settings.webhook_digest_zone)
    )


def register_webhook(uow: HospitalFeedUnitOfWork, command: RegisterWebhook) -> Registered:
    settings = uow.settings
    url = check_url(command.url.strip(), settings.webhook_allow_http, settings.webhook_networks)
    now, user = uow.clock(), command.user[:100]
    endpoint = uow.webhooks.endpoint(command.recipient)
    secret = None
    if endpoint is None:
        secret = new_secret()
        endpoint = WebhookEndpoint(
            recipient=command.recipient,
            url=url,
            secret=secret,
            # No flood of history: deliveries start after the newest alert of today.
            last_alert_id=uow.webhooks.newest_alert_id(),
            last_digest_at=digest_slot(uow.settings, now),
            created_at=now,
            created_by=user,
            updated_at=now,
            updated_by=user,
        )
    else:
        endpoint.url, endpoint.enabled, endpoint.disabled_reason = url, True, None
        endpoint.updated_at, endpoint.updated_by = now, user
    uow.webhooks.add_endpoint(endpoint)
    uow.commit()
    return Registered(url, secret is not None, secret)


def remove_webhook(uow: HospitalFeedUnitOfWork, command: RemoveWebhook) -> bool:
    removed = uow.webhooks.remove_endpoint(command.recipient)
    uow.commit()
    return removed


def rotate_secret(uow: HospitalFeedUnitOfWork, command: RotateWebhookSecret) -> Rotated | None:
    endpoint = uow.webhooks.endpoint(command.recipient)
    if endpoint is None:
        return None
    now = uow.clock()
    until = now + timedelta(hours=uow.settings.webhook_secret_grace_hours)
    endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, until
    endpoint.secret = new_secret()
    endpoint.updated_at, endpoint.updated_by = now, command.user[:100]
    uow.webhooks.save(endpoint)
    uow.commit()
    return Rotated(endpoint.secret, until)


def set_preferences(uow: HospitalFeedUnitOfWork, command: SetPreferences) -> Preferences:
    unknown = set(command.kinds or ()) - set(AlertKind)
    if unknown:
        raise WebhookError(f"unknown alert kinds: {', '.join(sorted(unknown))}")
    if set(command.bands or ()) - BANDS:
        raise WebhookError(f"bands are {', '.join(sorted(BANDS))}")
    wanted = preferences(command.kinds, command.bands, command.delivery)
    now = uow.clock()
    before = uow.webhooks.preferences(command.recipient)
    endpoint = uow.webhooks.endpoint(command.recipient)
    switched_to_digest = (
        before.delivery is not DeliveryMode.DIGEST and wanted.delivery is DeliveryMode.DIGEST
    )
    if endpoint is not None and switched_to_digest:  # its first digest: the next slot's
        endpoint.last_digest_at = digest_slot(uow.settings, now)
        uow.webhooks.save(endpoint)
    uow.webhooks.set_preferences(command.recipient, wanted, command.user[:100], now)
    uow.commit()
    return wanted


def plan_deliveries(uow: HospitalFeedUnitOfWork, command: PlanDeliveries) -> bool:
    now = uow.clock()
    uow.webhooks.lock_planner()
    through = uow.webhooks.newest_alert_id()  # every alert up to it is committed
    more = False
    behind = uow.webhooks.realtime_behind(PLAN_ENDPOINTS)
    for target in behind:
        views, cursor = uow.webhooks.alerts_after(
            target.recipient, target.cursor, through, PLAN_BATCH, **command.view
        )
        for view in views:
            if target.preferences.wants(view["kind"], view["risk_band"]):
                payload = alert_payload(view, now)
                uow.webhooks.add_delivery(
                    target.recipient, DeliveryType.ALERT_CREATED, view["alert_id"], payload, now
                )
        uow.webhooks.advance(target.recipient, cursor)
        more = more or cursor < through
    slot = digest_slot(uow.settings, now)
    digests = uow.webhooks.digests_due(slot, PLAN_ENDPOINTS)
    for target in digests:
        _plan_digest(uow, target, through, slot, now, command.view)
    uow.commit()
    return more or len(behind) == PLAN_ENDPOINTS or len(digests) == PLAN_ENDPOINTS


def _plan_digest(
    uow: HospitalFeedUnitOfWork,
    target: PlanTarget,
    through: int,
    slot: datetime,
    now: datetime,
    view: dict[str, Any],
) -> None:
    """The recipient's matching alerts since its last digest, in one or a few deliveries
    (none when there are none), and the cursor and slot moved on together."""
    cursor, wanted = target.cursor, []
    if target.last_digest_at is not None:
        while cursor < through:
            views, cursor = uow.webhooks.alerts_after(
                target.recipient, cursor, through, PLAN_BATCH, **view
            )
            wanted += [v for v in views if target.preferences.wants(v["kind"], v["risk_band"])]
    for start in range(0, len(wanted), DIGEST_MAX):
        payload = digest_payload(wanted[start : start + DIGEST_MAX], now, slot)
        uow.webhooks.add_delivery(target.recipient, DeliveryType.ALERT_DIGEST, None, payload, now)
    uow.webhooks.advance(target.recipient, max(cursor, target.cursor), digest_slot=slot)


def record_attempts(uow: HospitalFeedUnitOfWork, command: RecordAttempts) -> list[Outcome | None]:
    policy, now = retry_policy(uow.settings), uow.clock()
    outcomes: list[Outcome | None] = []
    for attempt in command.attempts:
        row = uow.webhooks.delivery(attempt.delivery_id)
        if row is None or row.status != DeliveryStatus.PENDING:
            outcomes.append(None)
            continue
        row.attempts += 1
        row.last_attempt_at, row.last_status_code = now, attempt.status_code
        row.last_error = short_error(attempt.error) if attempt.error else None
        outcome = judge(attempt.status_code)
        if outcome is Outcome.DELIVERED:
            row.status, row.delivered_at = DeliveryStatus.DELIVERED, now
        elif outcome is Outcome.GONE:
            endpoint = uow.webhooks.endpoint(row.recipient)
            if endpoint is not None:
                endpoint.enabled, endpoint.disabled_reason = False, GONE
                endpoint.updated_at, endpoint.updated_by = now, "hospital-feed"
                uow.webhooks.save(endpoint)
            row.next_attempt_at = now  # kept: sent once the webhook is registered again
        elif policy.gives_up(row.attempts):
            row.status, outcome = DeliveryStatus.DEAD, Outcome.DEAD
        else:
            row.next_attempt_at = now + policy.delay(row.attempts)
        uow.webhooks.save(row)
        outcomes.append(outcome)
    uow.commit()
    return outcomes


def replay_delivery(uow: HospitalFeedUnitOfWork, command: ReplayDelivery) -> Replay:
    row = uow.webhooks.delivery(command.delivery_id)
    if row is None:
        return Replay.NOT_FOUND
    if row.status != DeliveryStatus.DEAD:
        return Replay.NOT_DEAD
    if uow.webhooks.endpoint(row.recipient) is None:
        return Replay.NO_ENDPOINT
    row.status, row.attempts, row.next_attempt_at = DeliveryStatus.PENDING, 0, uow.clock()
    uow.webhooks.save(row)
    uow.commit()
    return Replay.REPLAYED


HANDLERS: dict[type[Any], Any] = {
    RegisterWebhook: register_webhook,
    RemoveWebhook: remove_webhook,
    RotateWebhookSecret: rotate_secret,
    SetPreferences: set_preferences,
    PlanDeliveries: plan_deliveries,
    RecordAttempts: record_attempts,
    ReplayDelivery: replay_delivery,
}
