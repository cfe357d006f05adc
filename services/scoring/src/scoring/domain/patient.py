"""What scoring knows about a patient: the practice's profile and the hospital's events."""

from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

Smoking = Literal["current", "ex", "never"]
SMOKING: Final[tuple[Smoking, ...]] = ("current", "ex", "never")
EFI_DEFICITS: Final = 36  # the electronic frailty index counts 36 deficits (Clegg et al. 2016)


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
    efi: float | None = None  # the eFI value (deficits ÷ 36), when the extract gives the value
    bmi: float | None = None
    pam_level: int | None = None  # Patient Activation Measure level 1-4 (the level only)
    smoking: Smoking | None = None
    lives_alone: bool | None = None
    socially_isolated: bool | None = None
    is_carer: bool | None = None  # the patient is an unpaid carer
    as_of: date | None = None  # the date the practice's record said this


@dataclass(frozen=True)
class HospitalUse:
    """Non-cancelled hospital events in the model's window up to the scoring moment."""

    emergency_admissions: int = 0
    ae_attendances: int = 0
    bed_days: int = 0  # midnights in a hospital bed in the window (an open stay: up to now)
    inpatient: bool = False  # in a bed now: admitted, not discharged, not on leave


def age_on(birth_date: date, day: date) -> int:
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)
