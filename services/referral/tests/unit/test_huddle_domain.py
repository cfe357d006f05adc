"""Huddle rules, pure: teams, what is news, windows one after another, owners, due dates and
which actions carry over."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from referral.domain.huddle import (
    FIRST_LOOKBACK,
    Action,
    Huddle,
    InvalidTeam,
    LaterHuddleExists,
    PastDueDate,
    Signal,
    Team,
    TooFarAhead,
    UnknownOwner,
    agenda_order,
    band_rose,
    encounter_kind,
    in_window,
    on_caseload,
    parse_team,
)
from referral.domain.referral import Referral

NOW = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
COMPLEX = Team("complex_care")
MEMBERS = {"KW01": "Kim Keyworker", "SUP01": "Sam Supervisor"}


def referral(status: str = "active", created_at: datetime = NOW - timedelta(days=30)) -> Referral:
    made = Referral.request(
        nhs_number="9990000018", practice_ods="L85001", service="complex_care", now=created_at
    )
    return replace(made, status=status)  # type: ignore[arg-type]


def signal(
    recorded_at: datetime, practice: str = "L85001", service: str = "complex_care"
) -> Signal:
    about = replace(referral(), practice_ods=practice, service=service)  # type: ignore[arg-type]
    return Signal.about(
        about, kind="admitted", event_id=uuid4(), occurred_at=recorded_at, now=recorded_at
    )


def test_a_team_is_a_service_for_every_practice_or_one() -> None:
    assert parse_team("complex_care") == Team("complex_care")
    assert parse_team("health_coaching.l85001") == Team("health_coaching", "L85001")
    assert parse_team("complex_care.L85001").key == "complex_care.L85001"
    for bad in ("", "coaching", "complex_care.", "complex_care.L8", "complex_care/L85001"):
        with pytest.raises(InvalidTeam):
            parse_team(bad)
    assert Team("complex_care", "L85001").covers("complex_care", "L85001")
    assert not Team("complex_care", "L85001").covers("complex_care", "L85002")
    assert COMPLEX.covers("complex_care", "L85002")
    assert not COMPLEX.covers("health_coaching", "L85001")


def test_only_admissions_ae_and_discharges_are_hospital_news() -> None:
    assert encounter_kind("encounter.admitted") == "admitted"
    assert encounter_kind("encounter.ae_attendance") == "ae_attendance"
    assert encounter_kind("encounter.discharged") == "discharged"
    for other in ("encounter.transferred", "encounter.leave_started", "patient.merged"):
        assert encounter_kind(other) is None


def test_a_rise_is_to_a_higher_band_and_a_first_score_is_not_one() -> None:
    assert band_rose("moderate", "high")
    assert band_rose("low", "very_high")
    assert not band_rose("high", "high")
    assert not band_rose("very_high", "high")
    assert not band_rose(None, "very_high")


def test_the_caseload_is_accepted_and_active_referrals_that_existed_at_the_time() -> None:
    event_at = NOW - timedelta(days=1)
    assert on_caseload(referral("active"), event_at)
    assert on_caseload(referral("accepted"), event_at)
    for waiting_or_closed in ("proposed", "triaged", "completed", "discharged", "withdrawn"):
        assert not on_caseload(referral(waiting_or_closed), event_at)
    # An event from before the referral existed (a replay) is not news about it.
    assert not on_caseload(referral("active", created_at=NOW), event_at)


def test_a_first_huddle_looks_back_a_week_and_the_next_starts_where_it_ended() -> None:
    first = Huddle.open(COMPLEX, date(2026, 12, 7), now=NOW, by="alice", previous=None)
    assert (first.window_start, first.cutoff) == (NOW - FIRST_LOOKBACK, NOW)
    later = NOW + timedelta(days=3)
    second = Huddle.open(COMPLEX, date(2026, 12, 10), now=later, by="bob", previous=first)
    assert (second.window_start, second.cutoff) == (first.cutoff, later)
    # A signal recorded at the first huddle's cutoff is on the first agenda only.
    at_cutoff = signal(NOW)
    assert in_window(at_cutoff, first, COMPLEX) and not in_window(at_cutoff, second, COMPLEX)
    between = signal(NOW + timedelta(hours=1))
    assert in_window(between, second, COMPLEX) and not in_window(between, first, COMPLEX)
    with pytest.raises(LaterHuddleExists):
        Huddle.open(COMPLEX, date(2026, 12, 9), now=later, by="bob", previous=second)


def test_a_huddle_opens_at_most_a_week_ahead_in_london() -> None:
    # 23:30 UTC on 31 May is already 1 June in London: a week ahead is 8 June.
    late_evening = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)
    assert Huddle.open(COMPLEX, date(2026, 6, 8), now=late_evening, by="a", previous=None)
    with pytest.raises(TooFarAhead, match="on or before 2026-06-08"):
        Huddle.open(COMPLEX, date(2026, 6, 9), now=late_evening, by="a", previous=None)


def test_a_practice_team_hears_only_its_practice_and_service() -> None:
    team = Team("complex_care", "L85001")
    huddle = Huddle.open(team, date(2026, 12, 7), now=NOW, by="alice", previous=None)
    recorded = NOW - timedelta(hours=2)
    assert in_window(signal(recorded), huddle, team)
    assert not in_window(signal(recorded, practice="L85002"), huddle, team)
    assert not in_window(signal(recorded, service="health_coaching"), huddle, team)
    assert not in_window(signal(NOW - FIRST_LOOKBACK - timedelta(seconds=1)), huddle, team)


def test_the_agenda_puts_hospital_news_first_then_oldest_first() -> None:
    kinds = ["proposal", "dna", "discharged", "admitted", "band_rise", "admitted", "sla_breach"]
    times = [NOW - timedelta(minutes=i) for i in range(len(kinds))]
    ordered = sorted(zip(kinds, times, strict=True), key=lambda kt: agenda_order(*kt))
    assert [k for k, _ in ordered] == [
        "admitted",
        "admitted",
        "discharged",
        "band_rise",
        "dna",
        "sla_breach",
        "proposal",
    ]
    assert ordered[0][1] < ordered[1][1]


def _action(huddle: Huddle, owner: str = "KW01", due: date = date(2026, 12, 8)) -> Action:
    return Action.assign(
        huddle=huddle,
        item_id=uuid4(),
        text="call the ward about discharge planning",
        owner_id=owner,
        members=MEMBERS,
        due_on=due,
        today=date(2026, 12, 7),
        now=NOW,
        by="alice",
    )


def test_an_action_needs_a_known_owner_and_a_due_date_not_in_the_past() -> None:
    huddle = Huddle.open(COMPLEX, date(2026, 12, 7), now=NOW, by="alice", previous=None)
    action = _action(huddle)
    assert (action.owner_name, action.team, action.is_open) == ("Kim Keyworker", COMPLEX.key, True)
    assert _action(huddle, due=date(2026, 12, 7)).due_on == date(2026, 12, 7)  # today is fine
    with pytest.raises(UnknownOwner, match="'nobody' is not a known member"):
        _action(huddle, owner="nobody")
    with pytest.raises(PastDueDate):
        _action(huddle, due=date(2026, 12, 6))


def test_open_actions_carry_over_until_done() -> None:
    monday = Huddle.open(COMPLEX, date(2026, 12, 7), now=NOW, by="alice", previous=None)
    action = _action(monday)
    thursday_at = NOW + timedelta(days=3)
    thursday = Huddle.open(COMPLEX, date(2026, 12, 10), now=thursday_at, by="bob", previous=monday)
    assert action.carries_over_to(thursday, raised_on=monday.huddle_date)
    assert not action.carries_over_to(monday, raised_on=monday.huddle_date)  # not to its own
    # Done after Thursday's huddle opened: it was still open then, so Thursday lists it.
    action.mark_done(by="kim", now=thursday_at + timedelta(hours=1))
    assert action.carries_over_to(thursday, raised_on=monday.huddle_date)
    next_monday = Huddle.open(
        COMPLEX, date(2026, 12, 14), now=NOW + timedelta(days=7), by="bob", previous=thursday
    )
    assert not action.carries_over_to(next_monday, raised_on=monday.huddle_date)
    # Marking it done again keeps the first time and person.
    done_at = action.done_at
    action.mark_done(by="someone else", now=NOW + timedelta(days=8))
    assert (action.done_at, action.done_by) == (done_at, "kim")
    other_team = Huddle.open(
        Team("health_coaching"), date(2026, 12, 10), now=thursday_at, by="bob", previous=None
    )
    assert not _action(monday).carries_over_to(other_team, raised_on=monday.huddle_date)
