"""Properties every packaged model holds, over generated patients: adding a condition or an
admission (or an A&E attendance) never lowers a score or a band, and the same inputs always
give the same score and reasons."""

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.adapters.packaged_models import packaged_model, packaged_versions
from scoring.domain.conditions import KNOWN_CONDITIONS
from scoring.domain.model import HospitalUse, PatientProfile, RiskModel, band_rank

CODES = [*sorted(KNOWN_CONDITIONS), "gout", "44054006"]  # unknown codes ride along
MODELS = [packaged_model(version) for version in packaged_versions()]
TODAY = date(2026, 6, 1)


def maybe(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


profiles = st.builds(
    PatientProfile,
    birth_date=maybe(st.dates(date(1915, 1, 1), date(2026, 12, 31))),
    conditions=maybe(st.frozensets(st.sampled_from(CODES), max_size=8)),
    repeat_medicines=maybe(st.integers(0, 30)),
    efi_deficits=maybe(st.integers(0, 36)),
    deprivation_quintile=maybe(st.integers(1, 5)),
    efi=maybe(st.floats(0, 1)),
    bmi=maybe(st.floats(10, 150)),
    pam_level=maybe(st.integers(1, 4)),
    smoking=maybe(st.sampled_from(["current", "ex", "never"])),
    lives_alone=maybe(st.booleans()),
    socially_isolated=maybe(st.booleans()),
    is_carer=maybe(st.booleans()),
)
uses = st.builds(
    HospitalUse, st.integers(0, 10), st.integers(0, 30), st.integers(0, 400), st.booleans()
)
models = st.sampled_from(MODELS)


def at_least_as_high(
    model: RiskModel, before: tuple[object, ...], after: tuple[object, ...]
) -> None:
    old, new = model.score(*before), model.score(*after)  # type: ignore[arg-type]
    assert new.score >= old.score
    assert band_rank(new.band) >= band_rank(old.band)


@settings(max_examples=400, deadline=None)
@given(models, profiles, uses, st.sampled_from(CODES))
def test_adding_a_condition_never_lowers_a_score(
    model: RiskModel, profile: PatientProfile, use: HospitalUse, code: str
) -> None:
    more = replace(profile, conditions=(profile.conditions or frozenset()) | {code})
    at_least_as_high(model, (profile, use, TODAY), (more, use, TODAY))


@settings(max_examples=400, deadline=None)
@given(models, maybe(profiles), uses, st.booleans())
def test_adding_an_admission_or_attendance_never_lowers_a_score(
    model: RiskModel, profile: PatientProfile | None, use: HospitalUse, admission: bool
) -> None:
    more = (
        replace(use, emergency_admissions=use.emergency_admissions + 1)
        if admission
        else replace(use, ae_attendances=use.ae_attendances + 1)
    )
    at_least_as_high(model, (profile, use, TODAY), (profile, more, TODAY))


@settings(max_examples=300, deadline=None)
@given(models, maybe(profiles), uses, st.integers(1, 60), st.booleans())
def test_more_bed_days_or_being_in_hospital_never_lowers_a_score(
    model: RiskModel, profile: PatientProfile | None, use: HospitalUse, days: int, admit: bool
) -> None:
    more = replace(use, bed_days=use.bed_days + days, inpatient=use.inpatient or admit)
    at_least_as_high(model, (profile, use, TODAY), (profile, more, TODAY))


@settings(max_examples=300, deadline=None)
@given(models, maybe(profiles), uses, st.dates(date(2020, 1, 1), date(2030, 12, 31)))
def test_the_same_inputs_give_the_same_score_and_reasons(
    model: RiskModel, profile: PatientProfile | None, use: HospitalUse, day: date
) -> None:
    first, second = model.score(profile, use, day), model.score(profile, use, day)
    assert first == second
    assert first.score == sum(reason.points for reason in first.reasons)
    again = packaged_model.__wrapped__(model.version)  # read from its file afresh
    assert again.score(profile, use, day) == first


@pytest.mark.parametrize("model", MODELS, ids=[m.version for m in MODELS])
def test_a_known_condition_added_to_an_empty_record_scores_or_is_context(model: RiskModel) -> None:
    """Not a property of generated data but of the files: every code a condition set counts
    is one scoring knows (the loader refuses others)."""
    counted = {code for f in model.factors if f.conditions for code in f.conditions}
    assert counted <= set(KNOWN_CONDITIONS)
