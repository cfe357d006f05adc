"""The packaged risk model ensemble-risk-1.0.0: points per factor from published odds ratios,
bands and overrides."""

from datetime import date

import pytest

from scoring.adapters.packaged_models import packaged_model
from scoring.domain.model import HospitalUse, PatientProfile, RiskScore
from scoring.domain.model_file import points_rule as points_for

MODEL_VERSION = "ensemble-risk-1.0.0"
MODEL = packaged_model(MODEL_VERSION)
TODAY = date(2026, 6, 1)
NO_USE = HospitalUse()
score_patient = MODEL.score
band_for = MODEL.band_for


def efi_category(deficits: int) -> str:
    category: str = score_patient(PatientProfile(efi_deficits=deficits), NO_USE, TODAY).inputs[
        "efi_category"
    ]
    return category


def points(score: RiskScore, factor: str) -> int | None:
    found = [r.points for r in score.reasons if r.factor == factor]
    return found[0] if found else None


def profile(**fields: object) -> PatientProfile:
    base: dict[str, object] = {
        "conditions": frozenset(),
        "birth_date": date(1990, 1, 1),
        "repeat_medicines": 0,
        "efi_deficits": 0,
        "deprivation_quintile": 3,
    }
    base.update(fields)
    return PatientProfile(**base)  # type: ignore[arg-type]


def test_points_are_ten_times_the_natural_log_of_the_odds_ratio() -> None:
    assert [points_for(x) for x in (2.50, 4.93, 6.82, 14.38)] == [9, 16, 19, 27]
    assert [points_for(x) for x in (1.50, 2.35, 3.80)] == [4, 9, 13]
    assert [points_for(x) for x in (1.93, 3.04, 4.73)] == [7, 11, 16]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"diabetes"}, 9),
        ({"diabetes", "copd"}, 16),
        ({"diabetes", "copd", "ckd"}, 19),
        ({"diabetes", "copd", "ckd", "stroke"}, 27),
        ({"diabetes", "copd", "ckd", "stroke", "cancer", "chd"}, 27),
        ({"heart_failure"}, 9),
        ({"asthma", "hypertension"}, None),  # accepted, not counted
    ],
)
def test_physical_condition_count(conditions: set[str], expected: int | None) -> None:
    score = score_patient(profile(conditions=frozenset(conditions)), NO_USE, TODAY)
    assert points(score, "physical_conditions") == expected


@pytest.mark.parametrize("condition", ["depression", "dementia", "severe_mental_illness"])
def test_one_mental_health_condition_adds_six(condition: str) -> None:
    score = score_patient(profile(conditions=frozenset({condition})), NO_USE, TODAY)
    assert points(score, "mental_health") == 6
    assert points(score, "physical_conditions") is None
    assert score.score == 6


def test_two_mental_health_conditions_count_once() -> None:
    score = score_patient(profile(conditions=frozenset({"depression", "dementia"})), NO_USE, TODAY)
    assert score.score == 6


@pytest.mark.parametrize(
    ("birth_date", "expected"),
    [
        (date(1961, 6, 2), None),  # 64, birthday tomorrow
        (date(1961, 6, 1), 4),  # 65 today
        (date(1951, 6, 2), 4),  # 74
        (date(1951, 6, 1), 9),  # 75 today
        (date(1930, 1, 1), 9),
    ],
)
def test_age_bands(birth_date: date, expected: int | None) -> None:
    score = score_patient(profile(birth_date=birth_date), NO_USE, TODAY)
    assert points(score, "age") == expected


@pytest.mark.parametrize(("quintile", "expected"), [(1, 7), (2, None), (5, None)])
def test_only_the_most_deprived_quintile_scores(quintile: int, expected: int | None) -> None:
    score = score_patient(profile(deprivation_quintile=quintile), NO_USE, TODAY)
    assert points(score, "deprivation") == expected


@pytest.mark.parametrize(
    ("medicines", "expected"),
    [(3, None), (4, 4), (6, 4), (7, 9), (9, 9), (10, 13), (25, 13)],
)
def test_polypharmacy(medicines: int, expected: int | None) -> None:
    score = score_patient(profile(repeat_medicines=medicines), NO_USE, TODAY)
    assert points(score, "polypharmacy") == expected


@pytest.mark.parametrize(
    ("deficits", "category", "expected"),
    [
        (0, "fit", None),
        (4, "fit", None),  # 0.111
        (5, "mild", 7),  # 0.139
        (8, "mild", 7),  # 0.222
        (9, "moderate", 11),  # 0.25
        (12, "moderate", 11),  # 0.333
        (13, "severe", 16),  # 0.361
        (36, "severe", 16),
    ],
)
def test_frailty_categories_from_deficits(
    deficits: int, category: str, expected: int | None
) -> None:
    assert efi_category(deficits) == category
    score = score_patient(profile(efi_deficits=deficits), NO_USE, TODAY)
    assert points(score, "frailty") == expected
    assert score.inputs["efi_category"] == category


@pytest.mark.parametrize(("admissions", "expected"), [(0, None), (1, 7), (2, 12), (3, 16), (8, 16)])
def test_emergency_admissions(admissions: int, expected: int | None) -> None:
    score = score_patient(profile(), HospitalUse(emergency_admissions=admissions), TODAY)
    assert points(score, "emergency_admissions") == expected


@pytest.mark.parametrize(
    ("attendances", "expected"), [(0, None), (1, 3), (4, 3), (5, 10), (30, 10)]
)
def test_ae_attendances_and_high_intensity_use(attendances: int, expected: int | None) -> None:
    score = score_patient(profile(), HospitalUse(ae_attendances=attendances), TODAY)
    assert points(score, "ae_attendances") == expected
    if attendances >= 5:
        assert "high intensity use" in next(
            r.detail for r in score.reasons if r.factor == "ae_attendances"
        )


@pytest.mark.parametrize(
    ("points_total", "band"),
    [
        (0, "low"),
        (14, "low"),
        (15, "moderate"),
        (29, "moderate"),
        (30, "high"),
        (44, "high"),
        (45, "very_high"),
        (90, "very_high"),
    ],
)
def test_bands(points_total: int, band: str) -> None:
    assert band_for(points_total) == band


def test_a_score_is_the_sum_of_its_reasons_and_explains_itself() -> None:
    patient = profile(
        conditions=frozenset({"diabetes", "copd", "chd", "heart_failure", "depression"}),
        birth_date=date(1938, 5, 4),
        repeat_medicines=12,
        efi_deficits=10,
        deprivation_quintile=1,
    )
    score = score_patient(patient, NO_USE, TODAY)
    assert score.score == 27 + 6 + 9 + 7 + 13 + 11
    assert score.score == sum(r.points for r in score.reasons)
    assert score.band == "very_high"
    assert score.model_version == MODEL_VERSION == "ensemble-risk-1.0.0"
    assert score.inputs["age"] == 88
    assert score.inputs["missing"] == []
    assert all(r.detail for r in score.reasons)


def test_no_single_factor_reaches_high_on_points_alone() -> None:
    heaviest = profile(conditions=frozenset({"diabetes", "copd", "ckd", "stroke"}))
    assert score_patient(heaviest, NO_USE, TODAY).band == "moderate"


def test_three_priority_conditions_and_an_emergency_admission_mean_at_least_high() -> None:
    # 19 (three physical conditions) + 7 (one admission) = 26 points: moderate on points.
    patient = profile(conditions=frozenset({"diabetes", "copd", "ckd"}))
    without = score_patient(patient, NO_USE, TODAY)
    with_admission = score_patient(patient, HospitalUse(emergency_admissions=1), TODAY)
    assert without.band == "moderate"
    assert with_admission.score == 26
    assert with_admission.band == "high"
    override = [r for r in with_admission.reasons if r.factor.startswith("override_priority")]
    assert len(override) == 1
    assert override[0].points == 0


def test_mental_health_priority_conditions_count_towards_the_override() -> None:
    patient = profile(conditions=frozenset({"depression", "dementia", "diabetes"}))
    score = score_patient(patient, HospitalUse(emergency_admissions=1), TODAY)
    assert score.score == 9 + 6 + 7
    assert score.band == "high"


def test_heart_failure_is_not_a_symphony_priority_condition_for_the_override() -> None:
    patient = profile(conditions=frozenset({"heart_failure", "diabetes"}))
    score = score_patient(patient, HospitalUse(emergency_admissions=1), TODAY)
    assert score.band == "moderate"  # 16 + 7 = 23


def test_severe_frailty_means_at_least_high() -> None:
    score = score_patient(profile(efi_deficits=14), NO_USE, TODAY)
    assert score.score == 16
    assert score.band == "high"
    assert points(score, "override_severe_frailty") == 0


def test_overrides_never_lower_a_band() -> None:
    patient = profile(
        conditions=frozenset({"diabetes", "copd", "ckd", "stroke"}),
        efi_deficits=20,
        birth_date=date(1930, 1, 1),
    )
    assert score_patient(patient, HospitalUse(emergency_admissions=1), TODAY).band == "very_high"


def test_a_patient_known_only_from_hospital_events_is_scored_on_what_is_known() -> None:
    score = score_patient(None, HospitalUse(emergency_admissions=2, ae_attendances=5), TODAY)
    assert score.score == 12 + 10
    assert score.band == "moderate"
    assert score.inputs["profile_known"] is False
    assert set(score.inputs["missing"]) == {
        "conditions",
        "birth_date",
        "deprivation_quintile",
        "repeat_medicines",
        "efi_deficits",
    }
    missing = [r for r in score.reasons if r.factor == "missing_data"]
    assert missing[0].points == 0
    assert "birth_date" in missing[0].detail


def test_partly_known_profile_names_only_what_is_missing() -> None:
    score = score_patient(PatientProfile(repeat_medicines=7), NO_USE, TODAY)
    assert score.score == 9
    assert "repeat_medicines" not in score.inputs["missing"]
    assert "conditions" in score.inputs["missing"]
    assert score.inputs["profile_known"] is True
