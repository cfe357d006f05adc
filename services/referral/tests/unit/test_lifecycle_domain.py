"""The referral's state machine: no sequence of commands reaches an illegal state, and a
refused command changes nothing."""

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from referral.domain.referral import (
    ALLOWED,
    OPEN_STATUSES,
    STAGE_OF,
    STATUSES,
    InvalidAssignment,
    InvalidTransition,
    Referral,
)

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
Action = Callable[[Referral, datetime], None]


def _assign(role: str, worker: str = "K1", supervisor: str = "S1") -> Action:
    def run(r: Referral, now: datetime) -> None:
        r.assign(role=role, worker=(worker, "Kim"), supervisor=(supervisor, "Sam"), now=now)  # type: ignore[arg-type]

    return run


def _consent(decision: str) -> Action:
    def run(r: Referral, now: datetime) -> None:
        r.record_consent(decision, by="staff", at=now, method="phone", now=now)  # type: ignore[arg-type]

    return run


ACTIONS: dict[str, Action] = {
    "triage_urgent": lambda r, now: r.triage("urgent", now),
    "triage_routine": lambda r, now: r.triage("routine", now),
    "consent_given": _consent("given"),
    "consent_declined": _consent("declined"),
    "consent_withdrawn": _consent("withdrawn"),
    "accept": lambda r, now: r.accept(now),
    "assign_keyworker": _assign("keyworker"),
    "assign_coach": _assign("coach"),
    "assign_self_supervised": _assign("keyworker", "K1", "K1"),
    "activate": lambda r, now: r.activate(now),
    "complete": lambda r, now: r.complete("goals_met", now),
    "discharge": lambda r, now: r.discharge("not_engaged", now),
    "decline": lambda r, now: r.decline("not eligible", now),
    "withdraw": lambda r, now: r.withdraw(now),
}


def fresh(source: str) -> Referral:
    if source == "gp":
        return Referral.request(
            nhs_number="9990000026", practice_ods="L85001", service="complex_care", now=START
        )
    return Referral.propose(
        nhs_number="9990000018",
        practice_ods="L85001",
        now=START,
        source_event_id=uuid4(),
        trigger_event_id=uuid4(),
        reason="hot onboarding",
    )


def assert_legal(referral: Referral) -> None:
    assert referral.status in STATUSES
    assert referral.sla_stage == STAGE_OF.get(referral.status)
    if referral.status in ("triaged", "accepted", "active", "completed"):
        assert referral.priority is not None
    if referral.status in ("accepted", "active", "completed"):
        assert referral.consent == "given"
    if referral.status in ("active", "completed"):
        assert referral.worker_role == "keyworker"  # complex care goes to keyworkers
        assert referral.worker_id is not None and referral.worker_id != referral.supervisor_id
    if referral.status in ("completed", "discharged"):
        assert referral.outcome is not None
    if referral.status == "declined":
        assert referral.decline_reason is not None


@settings(max_examples=300, deadline=None)
@given(
    source=st.sampled_from(["gp", "hot_onboarding"]),
    steps=st.lists(st.sampled_from(sorted(ACTIONS)), max_size=14),
)
def test_no_sequence_of_commands_reaches_an_illegal_state(source: str, steps: list[str]) -> None:
    referral = fresh(source)
    now = START
    for step in steps:
        now += timedelta(hours=1)
        before = copy.deepcopy(referral)
        try:
            ACTIONS[step](referral, now)
        except (InvalidTransition, InvalidAssignment) as refused:
            assert referral == before  # a refusal changes nothing, not even half
            if isinstance(refused, InvalidTransition):
                assert refused.allowed == sorted(ALLOWED.get(before.status, frozenset()))
            continue
        if referral.status != before.status:
            assert referral.status in ALLOWED[before.status]
            assert before.status in OPEN_STATUSES  # nothing leaves a closed referral
        assert_legal(referral)


def test_the_whole_journey_of_a_complex_care_referral() -> None:
    referral = fresh("hot_onboarding")
    for step in (
        "triage_urgent",
        "consent_given",
        "accept",
        "assign_keyworker",
        "activate",
        "complete",
    ):
        ACTIONS[step](referral, START)
        assert_legal(referral)
    assert (referral.status, referral.outcome, referral.is_open) == (
        "completed",
        "goals_met",
        False,
    )


@pytest.mark.parametrize(
    ("status_before", "decision", "after"),
    [("triaged", "declined", "declined"), ("accepted", "withdrawn", "discharged")],
)
def test_consent_refused_or_withdrawn_closes_the_referral(
    status_before: str, decision: str, after: str
) -> None:
    referral = fresh("gp")
    ACTIONS["triage_routine"](referral, START)
    if status_before == "accepted":
        ACTIONS["consent_given"](referral, START)
        ACTIONS["accept"](referral, START)
    ACTIONS[f"consent_{decision}"](referral, START)
    assert (referral.status, referral.consent) == (after, decision)
    assert_legal(referral)


def test_activation_needs_a_keyworker_and_the_409_says_what_is_allowed() -> None:
    referral = fresh("gp")
    for step in ("triage_routine", "consent_given", "accept"):
        ACTIONS[step](referral, START)
    with pytest.raises(InvalidTransition, match="assign a keyworker first") as refused:
        referral.activate(START)
    assert refused.value.allowed == ["active", "discharged", "withdrawn"]
    with pytest.raises(InvalidAssignment):
        ACTIONS["assign_coach"](referral, START)  # complex care is keyworkers' work
