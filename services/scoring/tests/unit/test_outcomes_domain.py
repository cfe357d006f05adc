"""The outcome arithmetic, pure: windows, pro-rating, matching, the report's groups and ROI."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from scoring.adapters.unit_costs import unit_costs
from scoring.config import Settings
from scoring.domain.matching import Candidate, ToMatch, match_comparisons, pools_of
from scoring.domain.outcome_report import (
    PatientOutcome,
    UnitCosts,
    UnitCostsError,
    grouped,
    read_unit_costs,
    summarise,
)
from scoring.domain.outcomes import (
    HospitalEvent,
    Measured,
    Use,
    age_band,
    follow_up_days,
    period_outcome,
    pro_rated,
)
from scoring.domain.stays import Stay

INDEX = date(2026, 6, 1)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_events_count_before_or_after_the_index_day_and_the_year_before_only() -> None:
    events = [
        HospitalEvent("ae", at(INDEX - timedelta(days=366))),  # 13 months before: out
        HospitalEvent("ae", at(INDEX - timedelta(days=365), 0)),  # first moment of the year
        HospitalEvent("admission", at(INDEX - timedelta(days=1), 23)),
        HospitalEvent("ae", at(INDEX, 0)),  # on the index day: after
    ]
    outcome = period_outcome(INDEX, INDEX + timedelta(days=365), events, [])
    assert outcome.before == Use(ae_attendances=1, emergency_admissions=1)
    assert outcome.after_observed == Use(ae_attendances=1)
    assert outcome.follow_up_days == 365 and outcome.after == Use(ae_attendances=1)


def test_a_stay_across_the_index_date_splits_its_midnights_between_the_windows() -> None:
    stay = Stay(((at(INDEX - timedelta(days=3)), at(INDEX + timedelta(days=2))),))
    still_in = Stay(((at(INDEX + timedelta(days=40)), None),))
    outcome = period_outcome(INDEX, INDEX + timedelta(days=50), [], [stay, still_in])
    assert outcome.before.bed_days == 3  # the midnights of the 3rd, 2nd and 1st day before
    # 2 midnights after the index (the index midnight itself was counted before), plus 10 of
    # the open stay up to the end of follow-up: 12 in 50 days, pro-rated to a year.
    assert outcome.after_observed.bed_days == 12
    assert outcome.after is not None
    assert outcome.after.bed_days == pytest.approx(12 * 365 / 50)


def test_follow_up_is_pro_rated_to_a_year_and_too_little_is_left_out() -> None:
    assert pro_rated(Use(2, 1, 4), 73) == Use(10, 5, 20)
    assert follow_up_days(INDEX, INDEX + timedelta(days=800)) == 365
    assert follow_up_days(INDEX, INDEX - timedelta(days=3)) == 0
    early = period_outcome(INDEX, INDEX + timedelta(days=29), [], [])
    assert early.follow_up_days == 29 and early.after is None and not early.followed_up
    with pytest.raises(ValueError):
        pro_rated(Use(), 0)


def test_extract_changes_count_only_once_a_newer_extract_gives_the_value() -> None:
    baseline = date(2026, 5, 1)
    assert Measured(2, baseline, 3, date(2026, 9, 1)).change == 1
    assert Measured(8, baseline, 5, date(2026, 9, 1)).change == -3
    assert Measured(2, baseline, 2, baseline).change is None  # the same extract
    assert Measured(None, baseline, 3, date(2026, 9, 1)).change is None
    assert Measured(2, baseline, None, date(2026, 9, 1)).change is None


def test_age_bands_turn_on_the_birthday() -> None:
    assert age_band(date(1961, 6, 1), INDEX) == "65-74"
    assert age_band(date(1961, 6, 2), INDEX) == "45-64"
    assert age_band(date(1930, 1, 1), INDEX) == "85+"
    assert age_band(date(2020, 1, 1), INDEX) == "0-17"


def test_matching_takes_the_same_practice_band_and_age_band_nearest_first_once_each() -> None:
    born = date(1950, 3, 1)  # 76 on the index date: 75-84
    candidates = [
        Candidate("A", "P1", "high", date(1950, 3, 20)),  # nearest
        Candidate("B", "P1", "high", date(1949, 12, 1)),
        Candidate("C", "P1", "high", date(1945, 1, 1)),
        Candidate("D", "P1", "high", date(1952, 1, 1)),  # 74: another age band
        Candidate("E", "P2", "high", date(1950, 3, 1)),  # another practice
        Candidate("F", "P1", "low", date(1950, 3, 1)),  # another band
    ]
    first = ToMatch(("N1", "health_coaching"), "P1", "high", born, INDEX)
    second = ToMatch(("N2", "health_coaching"), "P1", "high", born, INDEX + timedelta(days=1))
    unbanded = ToMatch(("N3", "health_coaching"), "P1", None, born, INDEX)
    matched = match_comparisons([second, unbanded, first], pools_of(candidates), 2)
    numbers = {key: [c.nhs_number for c in found] for key, found in matched.items()}
    assert numbers[first.key] == ["A", "B"]  # the earlier enrolment chooses first
    assert numbers[second.key] == ["C"]  # without replacement: what is left in the band
    assert numbers[unbanded.key] == []
    assert matched[first.key][0] == candidates[0]  # the whole candidate comes back
    again = match_comparisons([first, second, unbanded], pools_of(reversed(candidates)), 2)
    assert again == matched  # deterministic, whatever order the store gave


def _row(nhs: str, role: str, before: Use, after: Use | None, **extra: object) -> PatientOutcome:
    period = period_outcome(INDEX, INDEX + timedelta(days=365), [], [])
    period = type(period)(INDEX, before, after or Use(), 365 if after else 10, after)
    return PatientOutcome(nhs, role, "health_coaching", "P1", period, **extra)  # type: ignore[arg-type]


COSTS = UnitCosts(
    ae_attendance=200, non_elective_admission=1000, bed_day=300, session={"health_coaching": 50}
)


def test_the_net_change_takes_out_the_comparison_groups_fall_and_roi_values_it() -> None:
    rows = [
        _row("N1", "enrolled", Use(4, 1, 6), Use(1, 0, 2), sessions=6, pam_change=1),
        _row("N2", "enrolled", Use(2, 1, 2), Use(1, 1, 2), sessions=4, medicines_change=-2),
        _row("N3", "enrolled", Use(9, 9, 9), None, sessions=1),  # too early: not averaged
        _row("C1", "comparison", Use(3, 1, 4), Use(2, 1, 4), matched_to="N1"),
        _row("C2", "comparison", Use(3, 1, 4), Use(2, 0, 2), matched_to="N2"),
    ]
    group = summarise({}, rows, COSTS)
    ours, theirs = group["enrolled"], group["comparison"]
    assert (ours["patients"], ours["followed_up"], ours["unmatched"]) == (3, 2, 1)
    assert ours["before"] == {"ae_attendances": 3.0, "emergency_admissions": 1.0, "bed_days": 4.0}
    assert ours["after"] == {"ae_attendances": 1.0, "emergency_admissions": 0.5, "bed_days": 2.0}
    assert theirs["change"] == {
        "ae_attendances": -1.0,
        "emergency_admissions": -0.5,
        "bed_days": -1.0,
    }
    assert group["net_change"] == {
        "ae_attendances": -1.0,
        "emergency_admissions": 0.0,
        "bed_days": -1.0,
    }
    roi = group["roi"]
    # Unadjusted: (2 x 200 + 0.5 x 1000 + 2 x 300) x 2 patients; net: (200 + 300) x 2.
    assert roi["savings_unadjusted_gbp"] == 3000.0
    assert roi["savings_adjusted_gbp"] == 1000.0
    assert roi["programme_cost_gbp"] == 500.0  # 10 sessions of the followed-up, at 50
    assert roi["net_benefit_gbp"] == 500.0 and roi["return_per_pound"] == 2.0
    assert ours["pam_level"] == {"measured": 1, "mean_change": 1.0, "went_up": 1, "went_down": 0}
    assert ours["repeat_medicines"]["mean_change"] == -2.0


def test_without_a_comparison_group_there_is_no_adjusted_figure() -> None:
    group = summarise({}, [_row("N1", "enrolled", Use(4, 1, 6), Use(1, 0, 2), sessions=2)], COSTS)
    assert group["net_change"] is None
    assert group["roi"]["savings_adjusted_gbp"] is None
    assert group["roi"]["return_per_pound"] is None


def test_groups_follow_the_enrolment_a_comparison_patient_was_matched_to() -> None:
    cohorts = frozenset({"risk_in_two_domains"})
    rows = [
        _row("N1", "enrolled", Use(1), Use(0), cohorts=cohorts),
        _row("C1", "comparison", Use(1), Use(1), cohorts=cohorts, matched_to="N1"),
        _row("N2", "enrolled", Use(1), Use(0)),
    ]
    by_cohort = grouped(rows, COSTS, "cohort")
    assert [g["cohort"] for g in by_cohort] == ["risk_in_two_domains"]
    assert by_cohort[0]["enrolled"]["patients"] == 1
    assert by_cohort[0]["comparison"]["patients"] == 1


def test_the_packaged_unit_costs_cite_their_source_and_a_bad_file_is_refused() -> None:
    costs = unit_costs()
    assert costs.ae_attendance > 0 and costs.bed_day > 0 and costs.non_elective_admission > 0
    assert set(costs.session) == {"health_coaching", "complex_care"}
    for name in ("ae_attendance", "non_elective_admission", "bed_day"):
        assert "National Cost Collection" in costs.sources[name]
        assert "approximate" in costs.sources[name]
    for bad, reason in (
        ("format = 1", "needs [hospital.*]"),
        ("[hospital.ae_attendance]\ngbp = -1\n[session]", "hospital.ae_attendance"),
        ("[[[", "not TOML"),
    ):
        with pytest.raises(UnitCostsError, match=reason.replace("[", r"\[").replace("*", r"\*")):
            read_unit_costs(bad)


def test_a_bad_unit_costs_file_stops_the_start_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "costs.toml"
    bad.write_text("[hospital.ae_attendance]\ngbp = 'lots'\n[session]\n", "utf-8")
    with pytest.raises(ValidationError, match=r"hospital\.ae_attendance: gbp must be a number"):
        Settings(outcomes_unit_costs=str(bad))
    with pytest.raises(ValidationError, match="unit costs"):
        Settings(outcomes_unit_costs=str(tmp_path / "missing.toml"))
