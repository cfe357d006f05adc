"""Webhook rules, plain Python: endpoint URLs, secrets, who wants which alerts, the retry
schedule, the twice-daily digest slots and the JSON a delivery carries (Standard Webhooks)."""

import base64
import ipaddress
import json
import random
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL = 2000
MAX_ERROR = 200  # characters of a delivery's last error: a reason, never the receiver's body
SECRET_PREFIX = "whsec_"  # noqa: S105 - Standard Webhooks' prefix of base64 key bytes
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class DeliveryType(StrEnum):
    ALERT_CREATED = "alert.created"  # one alert, as soon as it is committed
    ALERT_DIGEST = "alert.digest"  # the matching alerts since the last digest


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # to be sent (again) at next_attempt_at
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD = "dead"  # gave up after the last attempt; staff may replay it


class DeliveryMode(StrEnum):
    REALTIME = "realtime"
    DIGEST = "digest"


class WebhookError(ValueError):
    """A request the webhook rules refuse; the message says why (never with a secret)."""


# --- endpoints --------------------------------------------------------------------------------


def parse_networks(text: str) -> tuple[Network, ...]:
    """ "127.0.0.0/8, ::1/128" -> the networks (ValueError names the bad one)."""
    networks = []
    for cidr in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise ValueError(f"not a network in CIDR form: {cidr!r}") from None
    return tuple(networks)


def refused_address(address: str, allowed: Sequence[Network]) -> str | None:
    """Why a delivery may not connect to `address`, or None. Only public addresses are
    reached, and those in `allowed`: a practice's URL must not turn the service into a
    client of its own network (loopback, private ranges, link-local cloud metadata ...)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    if any(ip in network for network in allowed):
        return None
    if ip.is_global and not ip.is_multicast:
        return None
    return f"{ip} is not a public address (HOSPITAL_FEED_WEBHOOK_ALLOWED_NETWORKS)"


def _literal_address(host: str) -> str | None:
    """The address a host names without DNS: an IP literal or a loopback name."""
    if host.lower().rstrip(".") in _LOOPBACK_NAMES:
        return "127.0.0.1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def check_url(url: str, allow_http: bool = False, allowed: Sequence[Network] = ()) -> str:
    """The endpoint URL, if deliveries may go there: https (http only to a loopback host, or
    when `allow_http` says so), a host, no credentials, no fragment, printable ASCII, and no
    address literal that is refused (names are checked on every connect: see
    adapters/webhook_guard.py)."""
    if len(url) > MAX_URL:
        raise WebhookError(f"the url is longer than {MAX_URL} characters")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise WebhookError("the url must be printable ASCII without spaces (percent-encode)")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is not a number in range
    except ValueError:
        raise WebhookError("the url cannot be parsed") from None
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    if scheme not in {"https", "http"}:
        raise WebhookError("the url must be https")
    if not host:
        raise WebhookError("the url has no host")
    if parts.username is not None or parts.password is not None:
        raise WebhookError("the url must not carry credentials (user:password@)")
    if parts.fragment or url.endswith("#"):
        raise WebhookError("the url must not have a fragment (#...)")
    address = _literal_address(host)
    loopback = address is not None and ipaddress.ip_address(address).is_loopback
    if scheme == "http" and not (allow_http or loopback):
        raise WebhookError("the url must be https (http only to this machine)")
    if port == 0:
        raise WebhookError("the url's port must be 1-65535")
    reason = refused_address(address, allowed) if address is not None else None
    if reason is not None:
        raise WebhookError(f"the url's host is refused: {reason}")
    return url


def new_secret() -> str:
    """A signing secret in Standard Webhooks' form: whsec_ and 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def new_webhook_id() -> str:
    """A delivery's `webhook-id`: the same on every attempt, so receivers dedupe on it."""
    return f"msg_{uuid.uuid4().hex}"


# --- preferences ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preferences:
    """Which alerts a recipient is sent (None: every kind / every band) and how. A band
    filter sends only alerts whose patient has one of those bands when it is planned: an
    alert with no known band is not sent under a band filter."""

    kinds: frozenset[str] | None = None
    bands: frozenset[str] | None = None
    delivery: DeliveryMode = DeliveryMode.REALTIME

    def wants(self, kind: str, band: str | None) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        return self.bands is None or (band is not None and band in self.bands)

    def to_json(self) -> dict[str, Any]:
        return {
            "kinds": sorted(self.kinds) if self.kinds is not None else None,
            "bands": sorted(self.bands) if self.bands is not None else None,
            "delivery": self.delivery.value,
        }


def preferences(
    kinds: Iterable[str] | None, bands: Iterable[str] | None, delivery: str
) -> Preferences:
    """Preferences from stored or requested lists (None: all)."""
    return Preferences(
        frozenset(kinds) if kinds is not None else None,
        frozenset(bands) if bands is not None else None,
        DeliveryMode(delivery),
    )


# --- retries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n failed -> wait between half and all of
    min(cap, base * 2**(n-1)); dead once `max_attempts` have failed."""

    max_attempts: int
    base_seconds: float
    cap_seconds: float

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_seconds <= 0 or self.cap_seconds < self.base_seconds:
            raise ValueError(
                "HOSPITAL_FEED_WEBHOOK_MAX_ATTEMPTS must be at least 1, RETRY_BASE_SECONDS "
                "positive and RETRY_MAX_SECONDS at least RETRY_BASE_SECONDS"
            )

    def delay(self, failed_attempts: int, jitter: Callable[[], float] = random.random) -> timedelta:
        """The wait after the `failed_attempts`-th failure (jitter() in [0, 1))."""
        exponent = min(failed_attempts - 1, 62)  # no float overflow however many attempts
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0**exponent)
        return timedelta(seconds=ceiling / 2 + ceiling / 2 * jitter())

    def gives_up(self, failed_attempts: int) -> bool:
        return failed_attempts >= self.max_attempts


@dataclass(frozen=True)
class Attempt:
    """What one attempt at a delivery got."""

    delivery_id: int
    status_code: int | None  # None: no answer (timeout, connection error)
    error: str | None = None  # why it failed, never the receiver's body


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # a non-2xx answer, a timeout or a connection error
    DEAD = "dead"  # the last attempt failed
    GONE = "gone"  # 410 Gone: the receiver asks us to stop; the endpoint is disabled


def judge(status_code: int | None) -> Outcome:
    """What an attempt's answer means (None: no answer at all). 3xx is not followed: a
    moved endpoint is re-registered, so deliveries never go where the practice did not say."""
    if status_code is not None and 200 <= status_code < 300:
        return Outcome.DELIVERED
    if status_code == 410:
        return Outcome.GONE
    return Outcome.RETRY


def short_error(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= MAX_ERROR else one_line[: MAX_ERROR - 3] + "..."


# --- digests ----------------------------------------------------------------------------------


def digest_slots(setting: str) -> tuple[time, ...]:
    """ "08:00,13:00" -> the local times of day digests go out, in order."""
    slots = set()
    for part in setting.split(","):
        text = part.strip()
        try:
            slot = time.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"HOSPITAL_FEED_WEBHOOK_DIGEST_TIMES: {text!r} is not a time HH:MM"
            ) from None
        if len(text) != 5 or slot.tzinfo is not None:
            raise ValueError(f"HOSPITAL_FEED_WEBHOOK_DIGEST_TIMES: {text!r} is not HH:MM")
        slots.add(slot)
    return tuple(sorted(slots))


def latest_slot(now: datetime, slots: Sequence[time], zone: ZoneInfo) -> datetime:
    """The most recent digest slot at or before `now` (aware), as an aware UTC-comparable
    moment. Local times follow the zone's summer time (08:00 London is 07:00 or 08:00 UTC)."""
    local = now.astimezone(zone)
    for days_back in range(0, 3):
        day = local.date() - timedelta(days=days_back)
        for slot in reversed(slots):
            moment = datetime.combine(day, slot, tzinfo=zone)
            if moment <= local:
                return moment.astimezone(now.tzinfo)
    raise ValueError("no digest slot in the last two days")  # slots is never empty


# --- payloads ---------------------------------------------------------------------------------


def _body(kind: DeliveryType, at: datetime, data: dict[str, Any]) -> str:
    # One line of ASCII JSON: the bytes signed are the bytes sent, whatever the alert holds.
    payload = {"type": kind.value, "timestamp": at.isoformat(), "data": data}
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":"))


def alert_payload(view: dict[str, Any], at: datetime) -> str:
    """An `alert.created` body: the alert exactly as the practice's list shows it."""
    return _body(DeliveryType.ALERT_CREATED, at, view)


def digest_payload(views: Sequence[dict[str, Any]], at: datetime, slot: datetime) -> str:
    """An `alert.digest` body: the matching alerts since the last digest, oldest first."""
    return _body(DeliveryType.ALERT_DIGEST, at, {"slot": slot.isoformat(), "alerts": list(views)})
