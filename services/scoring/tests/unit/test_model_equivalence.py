"""The packaged model file ensemble-risk-1.0.0 scores exactly as the code-constant model did.

`legacy_model.py` is that code, frozen. Over many generated patients (every field known or
not, hospital use from none to plenty, scoring days around birthdays) both give the same
score, band, reasons (factor, points and detail text) and inputs.
"""

from dataclasses import asdict
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.adapters.packaged_models import packaged_model
from scoring.domain.model import HospitalUse, PatientProfile

from . import legacy_model as legacy

CONDITIONS = sorted(legacy.KNOWN_CONDITIONS)
MODEL = packaged_model("ensemble-risk-1.0.0")


@st.composite
def patients(draw: st.DrawFn) -> tuple[PatientProfile | None, HospitalUse, date]:
    as_of = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    use = HospitalUse(
        emergency_admissions=draw(st.integers(0, 8)), ae_attendances=draw(st.integers(0, 25))
    )
    if draw(st.booleans()) and draw(st.booleans()):
        return None, use, as_of
    maybe = lambda strategy: st.none() | strategy  # noqa: E731

    def years_before(years: int) -> date:  # the same day of the year (28 Feb for 29 Feb)
        return date(as_of.year - years, as_of.month, min(as_of.day, 28 if as_of.month == 2 else 31))

    near_a_birthday = st.sampled_from([65, 75]).flatmap(
        lambda years: st.integers(-3, 3).map(lambda days: years_before(years) + timedelta(days))
    )
    birth = draw(
        maybe(
            st.integers(0, 105).map(lambda years: as_of - timedelta(days=round(years * 365.25)))
            | near_a_birthday
            | st.just(as_of + timedelta(days=30))  # born after the scoring day: not known
        )
    )
    conditions = draw(maybe(st.frozensets(st.sampled_from(CONDITIONS))))
    profile = PatientProfile(
        practice_ods=draw(maybe(st.sampled_from(["L85001", "L85002"]))),
        birth_date=birth,
        conditions=conditions,
        repeat_medicines=draw(maybe(st.integers(0, 30))),
        efi_deficits=draw(maybe(st.integers(0, 36))),
        deprivation_quintile=draw(maybe(st.integers(1, 5))),
    )
    return profile, use, as_of


def legacy_score(profile: PatientProfile | None, use: HospitalUse, as_of: date) -> legacy.RiskScore:
    old_profile = None
    if profile is not None:
        fields = {
            k: v for k, v in asdict(profile).items() if k in legacy.PatientProfile.__annotations__
        }
        old_profile = legacy.PatientProfile(**fields)
    old_use = legacy.HospitalUse(use.emergency_admissions, use.ae_attendances)
    return legacy.score_patient(old_profile, old_use, as_of)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patients())
def test_the_model_file_gives_what_the_constants_gave(
    patient: tuple[PatientProfile | None, HospitalUse, date],
) -> None:
    profile, use, as_of = patient
    old = legacy_score(profile, use, as_of)
    new = MODEL.score(profile, use, as_of)
    assert (new.score, new.band) == (old.score, old.band)
    assert [(r.factor, r.points, r.detail) for r in new.reasons] == [
        (r.factor, r.points, r.detail) for r in old.reasons
    ]
    assert new.inputs == old.inputs
    assert new.model_version == old.model_version == "ensemble-risk-1.0.0"


def test_every_band_and_override_is_reached_by_the_comparison() -> None:
    """The generated patients are not all alike: the examples cover every band and override."""
    examples = [
        (PatientProfile(efi_deficits=14), HospitalUse()),  # severe frailty override
        (PatientProfile(conditions=frozenset({"diabetes", "copd", "ckd"})), HospitalUse(1, 0)),
        (None, HospitalUse(0, 0)),
        (PatientProfile(conditions=frozenset(CONDITIONS), repeat_medicines=12), HospitalUse(3, 9)),
    ]
    bands = set()
    for profile, use in examples:
        old, new = (
            legacy_score(profile, use, date(2026, 6, 1)),
            MODEL.score(profile, use, date(2026, 6, 1)),
        )
        assert (new.score, new.band, new.inputs) == (old.score, old.band, old.inputs)
        bands.add(new.band)
    assert bands == {"low", "high", "very_high"}
