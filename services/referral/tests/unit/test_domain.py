from datetime import UTC, datetime
from uuid import uuid4

import pytest

from referral.domain.nhs_number import InvalidNhsNumber, parse_nhs_number
from referral.domain.referral import (
    InvalidTransition,
    Referral,
    Status,
    UnknownService,
    triage_due,
)
from referral.domain.sla import add_working_days

# 2026-11-20 is a Friday.
FRIDAY = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
WEDNESDAY = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("raw", ["9990000018", "9990000026", "9434765919", " 943 476 5919 "])
def test_valid_nhs_numbers_are_accepted_and_normalised(raw: str) -> None:
    assert parse_nhs_number(raw) == raw.replace(" ", "")


@pytest.mark.parametrize(
    "raw",
    [
        "9434765918",  # wrong check digit
        "9999999998",  # wrong check digit
        "999000001",  # nine digits
        "99900000181",  # eleven digits
        "99900000a8",
        "",
        # Placeholders: pass modulus 11 but mean "unknown".
        "9999999999",
        "3333333333",
        "1111111111",
        "0000000000",
    ],
)
def test_invalid_nhs_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidNhsNumber) as raised:
        parse_nhs_number(raw)
    assert raw.strip() not in str(raised.value) or not raw.strip()  # never echo the number


def test_a_number_whose_check_digit_would_be_10_is_never_valid() -> None:
    # 9,9,9,0,0,0,0,0,0 weighted 10..2 sums to 243; 243 % 11 = 1; 11 - 1 = 10.
    for last in "0123456789":
        with pytest.raises(InvalidNhsNumber):
            parse_nhs_number("999000000" + last)


def gp_request(now: datetime = WEDNESDAY, service: str = "health_coaching") -> Referral:
    return Referral.request(
        nhs_number="9990000026", practice_ods="L85001", service=service, now=now, reason="weight"
    )


def proposal(now: datetime = WEDNESDAY) -> Referral:
    return Referral.propose(
        nhs_number="9990000018",
        practice_ods="L85001",
        now=now,
        source_event_id=uuid4(),
        trigger_event_id=uuid4(),
        reason="hot onboarding",
    )


def test_a_gp_request_starts_requested() -> None:
    referral = gp_request()
    assert (referral.status, referral.source, referral.service) == (
        "requested",
        "gp",
        "health_coaching",
    )
    assert referral.is_open
    assert referral.created_at == referral.updated_at == WEDNESDAY


def test_a_request_needs_a_valid_patient_and_a_known_service() -> None:
    with pytest.raises(InvalidNhsNumber):
        Referral.request(nhs_number="9999999999", practice_ods="L85001", service="x", now=FRIDAY)
    with pytest.raises(UnknownService):
        gp_request(service="physiotherapy")


def test_a_proposal_is_complex_care_from_hot_onboarding() -> None:
    referral = proposal()
    assert (referral.status, referral.source, referral.service) == (
        "proposed",
        "hot_onboarding",
        "complex_care",
    )
    assert referral.source_event_id is not None


ALLOWED: list[tuple[Status, str]] = [
    ("requested", "decline"),
    ("requested", "withdraw"),  # by the GP
    ("proposed", "decline"),
    ("proposed", "withdraw"),
]
REFUSED: list[tuple[Status, str]] = [
    ("requested", "accept"),  # triage and consent come first
    ("proposed", "accept"),
    ("accepted", "accept"),
    ("accepted", "decline"),
    ("declined", "accept"),
    ("declined", "decline"),
    ("declined", "withdraw"),
    ("withdrawn", "accept"),
    ("withdrawn", "decline"),
    ("withdrawn", "withdraw"),
]


def act(referral: Referral, action: str, now: datetime) -> None:
    if action == "decline":
        referral.decline("not eligible", now)
    else:
        getattr(referral, action)(now)


@pytest.mark.parametrize(("start", "action"), ALLOWED)
def test_allowed_transitions(start: Status, action: str) -> None:
    referral = proposal() if start == "proposed" else gp_request()
    later = datetime(2026, 11, 19, tzinfo=UTC)
    act(referral, action, later)
    expected = {"accept": "accepted", "decline": "declined", "withdraw": "withdrawn"}[action]
    assert referral.status == expected
    assert referral.updated_at == later
    assert referral.is_open == (expected == "accepted")
    assert referral.decline_reason == ("not eligible" if action == "decline" else None)


@pytest.mark.parametrize(("start", "action"), REFUSED)
def test_refused_transitions_leave_the_referral_alone(start: Status, action: str) -> None:
    referral = gp_request()
    referral.status = start
    with pytest.raises(InvalidTransition):
        act(referral, action, FRIDAY)
    assert referral.status == start
    assert referral.updated_at == WEDNESDAY


def test_working_days_skip_weekends() -> None:
    assert add_working_days(FRIDAY, 1) == datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # Monday
    assert add_working_days(FRIDAY, 2) == datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # Tuesday
    assert add_working_days(FRIDAY, 5) == datetime(2026, 11, 27, 15, 30, tzinfo=UTC)  # Friday
    assert add_working_days(SATURDAY, 1) == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert add_working_days(WEDNESDAY, 2) == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert add_working_days(WEDNESDAY, 0) == WEDNESDAY


def test_triage_deadline_depends_on_the_source() -> None:
    assert triage_due(FRIDAY, "hot_onboarding") == datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    assert triage_due(FRIDAY, "gp") == datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    assert proposal(now=SATURDAY).due_by == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert gp_request(now=WEDNESDAY).due_by == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
