"""The inputs a model file's factors may read, and how each is read from what is known.

A factor names one input (`input = "repeat_medicines"`) or counts a condition set. Each
input says which comparisons a level may make on it: counts (conditions, admissions,
attendances) only grow a score as they grow (`at_least`, `above`), so adding a condition or an
admission can never lower a score, whatever the model file says.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any, Final, Literal

from scoring.domain.patient import EFI_DEFICITS, SMOKING, HospitalUse, PatientProfile, age_on

Value = int | Fraction | str | bool  # numbers exact: whole numbers stay int (fast)
InputKind = Literal["count", "number", "category", "flag"]
Comparator = Literal["at_least", "above", "at_most", "equals"]
COMPARATORS: Final[dict[InputKind, tuple[Comparator, ...]]] = {
    "count": ("at_least", "above"),
    "number": ("at_least", "above", "at_most"),
    "category": ("equals",),
    "flag": ("equals",),
}


def exact(number: int | float) -> int | Fraction:
    """A number exactly: 0.12 is 3/25, not the float nearest it; a whole number is an int."""
    value = Fraction(number) if isinstance(number, int) else Fraction(str(number))
    return value.numerator if value.denominator == 1 else value


@dataclass(frozen=True)
class Known:
    """An input's value for one patient, how a reason shows it, and what the score records."""

    value: Value
    shown: str
    recorded: Mapping[str, Any] = field(default_factory=dict)


Reader = Callable[[PatientProfile, HospitalUse, date], Known | None]


@dataclass(frozen=True)
class InputSpec:
    name: str
    kind: InputKind
    description: str
    read: Reader
    missing_as: str | None = None  # the profile field named when unknown; None: always known
    values: tuple[str, ...] = ()  # what a category input may equal

    @property
    def comparators(self) -> tuple[Comparator, ...]:
        return COMPARATORS[self.kind]


def _age(profile: PatientProfile, _use: HospitalUse, day: date) -> Known | None:
    if profile.birth_date is None:
        return None
    age = age_on(profile.birth_date, day)
    return None if age < 0 else Known(age, str(age), {"age": age})


def _whole(name: str) -> Reader:
    def read(profile: PatientProfile, _use: HospitalUse, _day: date) -> Known | None:
        value = getattr(profile, name)
        return None if value is None else Known(value, str(value), {name: value})

    return read


def _deficits(deficits: int) -> Known:
    recorded = {"efi_deficits": deficits, "efi": round(deficits / EFI_DEFICITS, 3)}
    return Known(Fraction(deficits, EFI_DEFICITS), f"{deficits}/{EFI_DEFICITS}", recorded)


def _efi_deficits(profile: PatientProfile, _use: HospitalUse, _day: date) -> Known | None:
    return None if profile.efi_deficits is None else _deficits(profile.efi_deficits)


def _efi(profile: PatientProfile, _use: HospitalUse, _day: date) -> Known | None:
    """The deficit count when given (exact), else the eFI value the extract gave."""
    if profile.efi_deficits is not None:
        return _deficits(profile.efi_deficits)
    if profile.efi is None:
        return None
    return Known(exact(profile.efi), f"{profile.efi:.2f}", {"efi": round(profile.efi, 3)})


def _bmi(profile: PatientProfile, _use: HospitalUse, _day: date) -> Known | None:
    if profile.bmi is None:
        return None
    return Known(exact(profile.bmi), f"{profile.bmi:g}", {"bmi": profile.bmi})


def _admissions(_profile: PatientProfile, use: HospitalUse, _day: date) -> Known:
    return Known(use.emergency_admissions, str(use.emergency_admissions))


def _attendances(_profile: PatientProfile, use: HospitalUse, _day: date) -> Known:
    return Known(use.ae_attendances, str(use.ae_attendances))


def _bed_days(_profile: PatientProfile, use: HospitalUse, _day: date) -> Known:
    return Known(use.bed_days, str(use.bed_days), {"bed_days_12m": use.bed_days})


def _inpatient(_profile: PatientProfile, use: HospitalUse, _day: date) -> Known:
    shown = "yes" if use.inpatient else "no"
    return Known(use.inpatient, shown, {"currently_inpatient": use.inpatient})


def _text(name: str) -> Reader:
    def read(profile: PatientProfile, _use: HospitalUse, _day: date) -> Known | None:
        value = getattr(profile, name)
        return None if value is None else Known(value, value, {name: value})

    return read


def _flag(name: str) -> Reader:
    def read(profile: PatientProfile, _use: HospitalUse, _day: date) -> Known | None:
        value = getattr(profile, name)
        return None if value is None else Known(value, "yes" if value else "no", {name: value})

    return read


def _spec(name: str, kind: InputKind, description: str, read: Reader, **more: Any) -> InputSpec:
    return InputSpec(name, kind, description, read, **more)


INPUTS: Final[dict[str, InputSpec]] = {
    spec.name: spec
    for spec in (
        _spec(
            "age", "number", "age in whole years on the scoring day", _age, missing_as="birth_date"
        ),
        _spec(
            "deprivation_quintile",
            "number",
            "IMD quintile of the home address, 1 = most deprived",
            _whole("deprivation_quintile"),
            missing_as="deprivation_quintile",
        ),
        _spec(
            "repeat_medicines",
            "number",
            "number of repeat medicines",
            _whole("repeat_medicines"),
            missing_as="repeat_medicines",
        ),
        _spec(
            "efi_deficits",
            "number",
            "eFI from the deficit count only (deficits ÷ 36)",
            _efi_deficits,
            missing_as="efi_deficits",
        ),
        _spec(
            "efi",
            "number",
            "eFI value: deficits ÷ 36 when the count is given, else the value given",
            _efi,
            missing_as="efi",
        ),
        _spec("bmi", "number", "body mass index, kg/m²", _bmi, missing_as="bmi"),
        _spec(
            "pam_level",
            "number",
            "Patient Activation Measure level, 1 (lowest) to 4",
            _whole("pam_level"),
            missing_as="pam_level",
        ),
        _spec(
            "smoking",
            "category",
            "smoking status",
            _text("smoking"),
            missing_as="smoking",
            values=SMOKING,
        ),
        _spec("lives_alone", "flag", "lives alone", _flag("lives_alone"), missing_as="lives_alone"),
        _spec(
            "socially_isolated",
            "flag",
            "recorded as socially isolated or lonely",
            _flag("socially_isolated"),
            missing_as="socially_isolated",
        ),
        _spec("is_carer", "flag", "is an unpaid carer", _flag("is_carer"), missing_as="is_carer"),
        _spec(
            "emergency_admissions_12m",
            "count",
            "non-cancelled emergency admissions in the model's window",
            _admissions,
        ),
        _spec(
            "ae_attendances_12m",
            "count",
            "non-cancelled A&E attendances in the model's window",
            _attendances,
        ),
        # Read only by models that name them (1.2.0 on): what a score records is unchanged for
        # a model that does not.
        _spec(
            "bed_days_12m",
            "count",
            "midnights in a hospital bed in the model's window (an open stay counts to now)",
            _bed_days,
        ),
        _spec(
            "currently_inpatient",
            "flag",
            "in a hospital bed now: admitted, not discharged, not on leave",
            _inpatient,
        ),
    )
}
