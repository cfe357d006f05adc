"""Today's code-constant model (ensemble-risk-1.0.0) exactly as it was before the model became
data, frozen here as the reference the packaged model file must reproduce
(test_model_equivalence.py). Not used by the service.
"""

import math
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any, Final, Literal

MODEL_VERSION: Final = "ensemble-risk-1.0.0"

Band = Literal["low", "moderate", "high", "very_high"]
BANDS: Final[tuple[Band, ...]] = ("low", "moderate", "high", "very_high")
# Lowest total for each band, highest band first.
BAND_THRESHOLDS: Final[tuple[tuple[int, Band], ...]] = (
    (45, "very_high"),
    (30, "high"),
    (15, "moderate"),
)

PRIORITY_CONDITIONS: Final = frozenset(
    {"depression", "cancer", "diabetes", "chd", "stroke", "copd", "dementia", "ckd"}
)
MENTAL_HEALTH_CONDITIONS: Final = frozenset({"depression", "dementia", "severe_mental_illness"})
PHYSICAL_CONDITIONS: Final = frozenset(
    {"cancer", "diabetes", "chd", "stroke", "copd", "ckd", "heart_failure"}
)
KNOWN_CONDITIONS: Final = PRIORITY_CONDITIONS | frozenset(
    {"heart_failure", "severe_mental_illness", "asthma", "hypertension"}
)

CONDITION_COUNT_ODDS: Final = {1: 2.50, 2: 4.93, 3: 6.82, 4: 14.38}  # 4 means "4 or more"
MENTAL_HEALTH_ODDS: Final = 1.80
AGE_65_74_ODDS: Final = 1.56
AGE_75_PLUS_ODDS: Final = 2.39
MOST_DEPRIVED_ODDS: Final = 1.98
POLYPHARMACY_ODDS: Final = ((10, 3.80), (7, 2.35), (4, 1.50))  # (at least n medicines, OR)
EFI_DEFICITS: Final = 36
EfiCategory = Literal["fit", "mild", "moderate", "severe"]
# (category, upper bound of the eFI value, inclusive) from Clegg et al. 2016.
EFI_CATEGORIES: Final[tuple[tuple[EfiCategory, Fraction], ...]] = (
    ("fit", Fraction(12, 100)),
    ("mild", Fraction(24, 100)),
    ("moderate", Fraction(36, 100)),
)
EFI_HAZARD: Final[dict[EfiCategory, float]] = {"mild": 1.93, "moderate": 3.04, "severe": 4.73}
EMERGENCY_ADMISSION_POINTS: Final = {1: 7, 2: 12, 3: 16}  # 3 means "3 or more"; assumption
AE_SOME_POINTS: Final = 3
AE_HIGH_INTENSITY_POINTS: Final = 10
HIGH_INTENSITY_AE: Final = 5
HOSPITAL_WINDOW_DAYS: Final = 365


def points_for(odds_ratio: float) -> int:
    """Points for an odds ratio: 10 x its natural log, rounded."""
    return round(10 * math.log(odds_ratio))


def band_for(points: int) -> Band:
    for threshold, band in BAND_THRESHOLDS:
        if points >= threshold:
            return band
    return "low"


def band_rank(band: Band) -> int:
    return BANDS.index(band)


def at_least(band: Band, minimum: Band) -> bool:
    return band_rank(band) >= band_rank(minimum)


def efi_category(deficits: int) -> EfiCategory:
    value = Fraction(deficits, EFI_DEFICITS)
    for category, upper in EFI_CATEGORIES:
        if value <= upper:
            return category
    return "severe"


def age_on(birth_date: date, day: date) -> int:
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


@dataclass(frozen=True)
class PatientProfile:
    """What the practice told us; None means "not known" (never "none")."""

    practice_ods: str | None = None
    birth_date: date | None = None
    conditions: frozenset[str] | None = None
    repeat_medicines: int | None = None
    efi_deficits: int | None = None
    deprivation_quintile: int | None = None
    preferred_language: str | None = None
    on_caseload: bool = False
    objects_to_contact: bool = False


@dataclass(frozen=True)
class HospitalUse:
    """Non-cancelled hospital events in the 12 months up to the scoring moment."""

    emergency_admissions: int = 0
    ae_attendances: int = 0


@dataclass(frozen=True)
class Reason:
    factor: str
    points: int
    detail: str


@dataclass(frozen=True)
class RiskScore:
    score: int
    band: Band
    reasons: tuple[Reason, ...]
    inputs: dict[str, Any]
    model_version: str = MODEL_VERSION


def score_patient(profile: PatientProfile | None, use: HospitalUse, as_of: date) -> RiskScore:
    """Score one patient as of a day; `profile` None means known only from hospital events."""
    known = profile or PatientProfile()
    reasons: list[Reason] = []
    missing: list[str] = []
    inputs: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "profile_known": profile is not None,
        "emergency_admissions_12m": use.emergency_admissions,
        "ae_attendances_12m": use.ae_attendances,
    }

    conditions = known.conditions
    if conditions is None:
        missing.append("conditions")
    else:
        inputs["conditions"] = sorted(conditions)
        reasons += _condition_reasons(conditions)

    age = None if known.birth_date is None else age_on(known.birth_date, as_of)
    if age is None or age < 0:
        missing.append("birth_date")
    else:
        inputs["age"] = age
        reasons += _age_reasons(age)

    if known.deprivation_quintile is None:
        missing.append("deprivation_quintile")
    else:
        inputs["deprivation_quintile"] = known.deprivation_quintile
        if known.deprivation_quintile == 1:
            reasons.append(
                Reason(
                    "deprivation",
                    points_for(MOST_DEPRIVED_ODDS),
                    f"lives in the most deprived quintile (OR {MOST_DEPRIVED_ODDS})",
                )
            )

    if known.repeat_medicines is None:
        missing.append("repeat_medicines")
    else:
        inputs["repeat_medicines"] = known.repeat_medicines
        reasons += _polypharmacy_reasons(known.repeat_medicines)

    frailty: EfiCategory | None = None
    if known.efi_deficits is None:
        missing.append("efi_deficits")
    else:
        frailty = efi_category(known.efi_deficits)
        inputs["efi_deficits"] = known.efi_deficits
        inputs["efi"] = round(known.efi_deficits / EFI_DEFICITS, 3)
        inputs["efi_category"] = frailty
        if frailty != "fit":
            hazard = EFI_HAZARD[frailty]
            reasons.append(
                Reason(
                    "frailty",
                    points_for(hazard),
                    f"{frailty} frailty: eFI {known.efi_deficits}/{EFI_DEFICITS} "
                    f"(one-year hospitalisation HR {hazard})",
                )
            )

    reasons += _hospital_reasons(use)
    score = sum(r.points for r in reasons)
    band = band_for(score)

    priority = len((conditions or frozenset()) & PRIORITY_CONDITIONS)
    if priority >= 3 and use.emergency_admissions >= 1:
        reasons.append(
            Reason(
                "override_priority_conditions_with_admission",
                0,
                f"{priority} Symphony priority conditions and an emergency admission in "
                "12 months: at least high",
            )
        )
        band = _raise_to(band, "high")
    if frailty == "severe":
        reasons.append(Reason("override_severe_frailty", 0, "severe frailty: at least high"))
        band = _raise_to(band, "high")

    inputs["missing"] = missing
    if missing:
        reasons.append(
            Reason(
                "missing_data",
                0,
                "not known, so counted as nothing: " + ", ".join(missing),
            )
        )
    return RiskScore(score=score, band=band, reasons=tuple(reasons), inputs=inputs)


def _raise_to(band: Band, minimum: Band) -> Band:
    return band if at_least(band, minimum) else minimum


def _condition_reasons(conditions: frozenset[str]) -> list[Reason]:
    reasons = []
    physical = sorted(conditions & PHYSICAL_CONDITIONS)
    if physical:
        odds = CONDITION_COUNT_ODDS[min(len(physical), 4)]
        reasons.append(
            Reason(
                "physical_conditions",
                points_for(odds),
                f"{len(physical)} physical long-term condition(s): {', '.join(physical)} "
                f"(OR {odds})",
            )
        )
    mental = sorted(conditions & MENTAL_HEALTH_CONDITIONS)
    if mental:
        reasons.append(
            Reason(
                "mental_health",
                points_for(MENTAL_HEALTH_ODDS),
                f"mental health condition: {', '.join(mental)} (OR {MENTAL_HEALTH_ODDS})",
            )
        )
    return reasons


def _age_reasons(age: int) -> list[Reason]:
    if age >= 75:
        odds = AGE_75_PLUS_ODDS
        return [Reason("age", points_for(odds), f"aged 75 or over (OR {odds})")]
    if age >= 65:
        return [Reason("age", points_for(AGE_65_74_ODDS), f"aged 65-74 (OR {AGE_65_74_ODDS})")]
    return []


def _polypharmacy_reasons(medicines: int) -> list[Reason]:
    for at_least_n, odds in POLYPHARMACY_ODDS:
        if medicines >= at_least_n:
            return [
                Reason(
                    "polypharmacy",
                    points_for(odds),
                    f"{medicines} repeat medicines (OR {odds})",
                )
            ]
    return []


def _hospital_reasons(use: HospitalUse) -> list[Reason]:
    reasons = []
    if use.emergency_admissions > 0:
        points = EMERGENCY_ADMISSION_POINTS[min(use.emergency_admissions, 3)]
        reasons.append(
            Reason(
                "emergency_admissions",
                points,
                f"{use.emergency_admissions} emergency admission(s) in the last 12 months",
            )
        )
    if use.ae_attendances >= HIGH_INTENSITY_AE:
        reasons.append(
            Reason(
                "ae_attendances",
                AE_HIGH_INTENSITY_POINTS,
                f"{use.ae_attendances} A&E attendances in the last 12 months: high intensity use",
            )
        )
    elif use.ae_attendances > 0:
        reasons.append(
            Reason(
                "ae_attendances",
                AE_SOME_POINTS,
                f"{use.ae_attendances} A&E attendance(s) in the last 12 months",
            )
        )
    return reasons
