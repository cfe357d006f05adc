"""scoring.score-changes.v1, scoring.hot-onboarding.v1 and scoring.cohort-membership.v1."""

from typing import Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ensemble_contracts import limits
from ensemble_contracts.envelope import PatientEvent
from ensemble_contracts.limits import Language, OdsCode, ShortText, Text

RiskBand = Literal["low", "moderate", "high", "very_high"]


class ScoreReason(BaseModel):
    """One factor's contribution to a score, so that every score explains itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    factor: ShortText = Field(description="Factor name, e.g. `priority_conditions`.")
    points: int = Field(description="Points this factor added.")
    detail: Text = Field(description="Human-readable explanation.")


class ScoreEventType:
    CHANGED: Final = "score.band_changed"


class ScoreChanged(PatientEvent):
    """A patient's risk band changed (published on band changes only, to limit noise)."""

    event_type: str = Field(default=ScoreEventType.CHANGED, description="`score.band_changed`")
    model_version: ShortText = Field(description="Version of the scoring model that produced it.")
    score: int = Field(description="Total points.")
    band: RiskBand
    previous_band: RiskBand | None = Field(default=None, description="None for a first score.")
    practice_ods: OdsCode | None = None
    reasons: list[ScoreReason] = Field(default_factory=list, max_length=limits.REASONS)


class HotOnboardingEventType:
    TRIGGERED: Final = "hot_onboarding.triggered"
    WITHDRAWN: Final = "hot_onboarding.withdrawn"


class HotOnboarding(PatientEvent):
    """A high-risk patient is in hospital now: propose complex care while they are there."""

    event_type: str = Field(
        description="`hot_onboarding.triggered`, or `hot_onboarding.withdrawn` after a cancel."
    )
    practice_ods: OdsCode = Field(description="The patient's registered practice.")
    band: RiskBand
    score: int
    model_version: ShortText
    trigger: Literal["admission", "ae_attendance"]
    trigger_event_id: UUID = Field(description="event_id of the encounter that triggered it.")
    preferred_language: Language | None = Field(default=None, description="BCP 47 code, e.g. `pa`.")
    reasons: list[ScoreReason] = Field(default_factory=list, max_length=limits.REASONS)


class CohortEventType:
    JOINED: Final = "cohort.joined"
    LEFT: Final = "cohort.left"


class CohortMembershipChanged(PatientEvent):
    """A patient joined or left a saved cohort (e.g. obesity + anxiety + frailty): referral can
    offer one-to-many group sessions to the cohort's members. Published on changes only."""

    event_type: str = Field(description="`cohort.joined` or `cohort.left`.")
    cohort: ShortText = Field(description="The cohort's name, e.g. `obesity_anxiety_frailty`.")
    cohort_title: Text = Field(description="The cohort's title, for people.")
    practice_ods: OdsCode | None = Field(
        default=None, description="The patient's registered practice, when known."
    )
    band: RiskBand | None = Field(default=None, description="The patient's current band.")
    score: int | None = Field(default=None, description="The patient's current score.")
