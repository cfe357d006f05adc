"""Hot onboarding: propose complex care while a high-risk patient is in hospital (BRIEF §8).

Trigger on an emergency admission, or an A&E attendance when the band is high enough (a
setting; the evidence says "only the highest band", the default here is "high"), when the
practice is known, the band after counting this encounter is high or very high, the patient is
not already on the caseload and has not objected, and this visit has not triggered before.
A later cancel of the admission (A11) withdraws the trigger.
"""

from dataclasses import dataclass
from typing import Final, Literal

from ensemble_contracts.hospital import EncounterEventType
from scoring.domain.model import Band, at_least

TriggerKind = Literal["admission", "ae_attendance"]
ADMISSION_MIN_BAND: Final[Band] = "high"
DEFAULT_AE_MIN_BAND: Final[Band] = "high"


def trigger_kind(event_type: str, emergency: bool) -> TriggerKind | None:
    """Which kind of trigger an encounter event can be, if any."""
    if event_type == EncounterEventType.ADMITTED and emergency:
        return "admission"
    if event_type == EncounterEventType.AE_ATTENDANCE:
        return "ae_attendance"
    return None


def withdraws(event_type: str) -> bool:
    """A cancelled admission withdraws any trigger its visit made."""
    return event_type == EncounterEventType.ADMISSION_CANCELLED


@dataclass(frozen=True)
class HotOnboardingPolicy:
    """The service's hot-onboarding setting: the lowest band an A&E attendance needs."""

    ae_min_band: Band = DEFAULT_AE_MIN_BAND


@dataclass(frozen=True)
class TriggerCheck:
    event_type: str
    emergency: bool
    practice_ods: str | None
    band: Band  # after counting this encounter
    on_caseload: bool
    objects_to_contact: bool
    already_triggered: bool
    ae_min_band: Band = DEFAULT_AE_MIN_BAND


@dataclass(frozen=True)
class Decision:
    trigger: TriggerKind | None
    why: str  # short, no personal data: fit for a log line

    @property
    def fires(self) -> bool:
        return self.trigger is not None


def decide(check: TriggerCheck) -> Decision:
    kind = trigger_kind(check.event_type, check.emergency)
    if kind is None:
        return Decision(None, "not an emergency admission or A&E attendance")
    if not check.practice_ods:
        return Decision(None, "practice not known")
    minimum = ADMISSION_MIN_BAND if kind == "admission" else check.ae_min_band
    if not at_least(check.band, minimum):
        return Decision(None, f"band {check.band} below {minimum}")
    if check.on_caseload:
        return Decision(None, "already on the caseload")
    if check.objects_to_contact:
        return Decision(None, "patient objects to contact")
    if check.already_triggered:
        return Decision(None, "this visit already triggered")
    return Decision(kind, f"{kind} with band {check.band}")
