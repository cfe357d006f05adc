"""Webhook rules (domain/webhooks.py): URLs, preferences, backoff, digest slots, payloads."""

import base64
import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hospital_feed.domain.webhooks import (
    DeliveryMode,
    Network,
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
    new_webhook_id,
    parse_networks,
    preferences,
    refused_address,
    short_error,
)

LONDON = ZoneInfo("Europe/London")


LOOPBACK = parse_networks("127.0.0.0/8, ::1/128")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://practice.example.nhs.uk/hooks/ensemble", ()),
        ("https://51.140.1.2:8443/in?source=ensemble", ()),
        ("https://10.1.2.3:8443/in", parse_networks("10.1.0.0/16")),
        ("http://127.0.0.1:9100/", LOOPBACK),
        ("http://localhost/hook", LOOPBACK),
        ("http://[::1]:9000/x", LOOPBACK),
    ],
)
def test_https_anywhere_and_http_to_this_machine_are_taken(
    url: str, allowed: tuple[Network, ...]
) -> None:
    assert check_url(url, allowed=allowed) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3:8443/in",
        "https://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9100/",
        "http://localhost/hook",
        "http://[::1]:9000/x",
        "https://[::ffff:192.168.1.1]/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
    ],
)
def test_an_address_literal_off_the_public_internet_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(WebhookError, match="not a public address"):
        check_url(url, allowed=parse_networks("172.16.0.0/12"))


@pytest.mark.parametrize(
    ("address", "allowed", "refused"),
    [
        ("8.8.8.8", (), False),
        ("2a00:1450:4009:81f::200e", (), False),
        ("10.0.0.1", (), True),
        ("10.0.0.1", parse_networks("10.0.0.0/8"), False),
        ("::ffff:10.0.0.1", parse_networks("10.0.0.0/8"), False),
        ("::ffff:10.0.0.1", (), True),
        ("fe80::1", (), True),
        ("fd00::1", (), True),
        ("127.0.0.1", LOOPBACK, False),
    ],
)
def test_only_public_and_allowed_addresses_are_reached(
    address: str, allowed: tuple[Network, ...], refused: bool
) -> None:
    assert (refused_address(address, allowed) is not None) is refused


def test_a_bad_allowed_network_names_itself() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300/8'"):
        parse_networks("127.0.0.0/8, 10.0.0.300/8")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://practice.example/hook", "must be https"),
        ("ftp://practice.example/hook", "must be https"),
        ("javascript:alert(1)", "must be https"),
        ("file:///etc/passwd", "must be https"),
        ("https:///no-host", "no host"),
        ("https://user:pw@practice.example/hook", "credentials"),
        ("https://token@practice.example/hook", "credentials"),
        ("https://practice.example/hook#frag", "fragment"),
        ("https://practice.example:99999/", "cannot be parsed"),
        ("https://practice.example/a b", "printable ASCII"),
        ("https://prâctice.example/", "printable ASCII"),
        ("https://practice.example/\r\nX-Injected: 1", "printable ASCII"),
        ("https://practice.example/" + "a" * 2000, "longer than"),
        ("https://practice.example:0/", "port"),
    ],
)
def test_other_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(WebhookError, match=reason):
        check_url(url)


def test_a_setting_allows_plain_http_anywhere() -> None:
    assert check_url("http://receiver.internal/hook", allow_http=True)
    with pytest.raises(WebhookError, match="credentials"):
        check_url("http://u:p@receiver.internal/hook", allow_http=True)


def test_secrets_are_standard_webhooks_secrets_and_ids_are_unique() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret
    ids = {new_webhook_id() for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("msg_") and len(i) <= 40 for i in ids)


def test_preferences_filter_by_kind_and_band() -> None:
    everything = Preferences()
    assert everything.wants("admitted", None) and everything.wants("died", "low")
    admissions = preferences(["admitted", "ae_attendance"], None, "realtime")
    assert admissions.wants("admitted", None)
    assert not admissions.wants("discharged", "very_high")
    high = preferences(None, ["high", "very_high"], "digest")
    assert high.delivery is DeliveryMode.DIGEST
    assert high.wants("discharged", "very_high")
    assert not high.wants("discharged", "low")
    assert not high.wants("admitted", None), "a band filter sends no alert of unknown band"
    both = preferences(["admitted"], ["high"], "realtime")
    assert both.wants("admitted", "high")
    assert not both.wants("admitted", "low") and not both.wants("transferred", "high")
    assert both.to_json() == {"kinds": ["admitted"], "bands": ["high"], "delivery": "realtime"}
    assert everything.to_json() == {"kinds": None, "bands": None, "delivery": "realtime"}


def test_backoff_doubles_from_the_base_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    policy = RetryPolicy(max_attempts=6, base_seconds=2, cap_seconds=30)
    ceilings = [2, 4, 8, 16, 30, 30, 30]
    for failed, ceiling in enumerate(ceilings, start=1):
        assert policy.delay(failed, jitter=lambda: 0.0) == timedelta(seconds=ceiling / 2)
        assert policy.delay(failed, jitter=lambda: 0.999999) < timedelta(seconds=ceiling)
        assert policy.delay(failed) >= timedelta(seconds=ceiling / 2)
    assert policy.delay(10_000, jitter=lambda: 0.5) == timedelta(seconds=22.5)  # no overflow
    assert [policy.gives_up(n) for n in range(1, 8)] == [False] * 5 + [True] * 2


@pytest.mark.parametrize(("attempts", "base", "cap"), [(0, 1, 2), (3, 0, 2), (3, 5, 2)])
def test_a_retry_policy_that_cannot_work_refuses(attempts: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="HOSPITAL_FEED_WEBHOOK"):
        RetryPolicy(attempts, base, cap)


def test_answers_mean_delivered_retry_or_gone() -> None:
    assert [judge(code) for code in (200, 201, 204, 299)] == [Outcome.DELIVERED] * 4
    assert judge(410) is Outcome.GONE
    for code in (None, 100, 301, 302, 400, 401, 404, 429, 500, 503):
        assert judge(code) is Outcome.RETRY
    assert short_error("x" * 500).endswith("...") and len(short_error("x" * 500)) == 200
    assert short_error("HTTP\n500") == "HTTP 500"


def test_digest_slots_follow_london_time_through_summer_time() -> None:
    slots = digest_slots("13:00, 08:00")
    assert slots == (time(8), time(13))
    winter = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)  # GMT: 08:30 local
    assert latest_slot(winter, slots, LONDON) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 7, 30, tzinfo=UTC)  # BST: 08:30 local
    assert latest_slot(summer, slots, LONDON) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    early = datetime(2026, 12, 1, 7, 59, tzinfo=UTC)  # before 08:00: yesterday's 13:00
    assert latest_slot(early, slots, LONDON) == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    exactly = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    assert latest_slot(exactly, slots, LONDON) == exactly


@pytest.mark.parametrize("setting", ["", "8", "25:00", "08:00,noon", "08:00:00", "08:00+01:00"])
def test_bad_digest_times_refuse(setting: str) -> None:
    with pytest.raises(ValueError, match="HOSPITAL_FEED_WEBHOOK_DIGEST_TIMES"):
        digest_slots(setting)


def test_payloads_carry_the_alert_as_the_list_shows_it_in_one_ascii_line() -> None:
    view = {"alert_id": 7, "kind": "admitted", "location": "Ward ünï\n7", "risk_band": None}
    at = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    body = alert_payload(view, at)
    assert body.isascii() and "\n" not in body
    assert json.loads(body) == {
        "type": "alert.created",
        "timestamp": "2026-12-01T09:00:00+00:00",
        "data": view,
    }
    digest = json.loads(digest_payload([view, view | {"alert_id": 8}], at, at))
    assert digest["type"] == "alert.digest"
    assert digest["data"]["slot"] == at.isoformat()
    assert [a["alert_id"] for a in digest["data"]["alerts"]] == [7, 8]
