"""referral.referrals.v1: the lifecycle of referrals to health coaching and complex care."""

from typing import Final, Literal
from uuid import UUID

from pydantic import Field

from ensemble_contracts.envelope import PatientEvent
from ensemble_contracts.limits import Language, OdsCode, Text

ReferralService = Literal["health_coaching", "complex_care"]
ReferralSource = Literal["gp", "hot_onboarding"]
ReferralStatus = Literal["proposed", "requested", "accepted", "declined", "withdrawn"]


class ReferralEventType:
    PROPOSED: Final = "referral.proposed"
    REQUESTED: Final = "referral.requested"
    ACCEPTED: Final = "referral.accepted"
    DECLINED: Final = "referral.declined"
    WITHDRAWN: Final = "referral.withdrawn"


class ReferralEvent(PatientEvent):
    """A referral changed state. Carries the whole referral, so readers need no lookups."""

    event_type: str = Field(
        description="`referral.proposed` (hot onboarding), `referral.requested` (a GP), "
        "`referral.accepted`, `referral.declined`, `referral.withdrawn`."
    )
    referral_id: UUID
    practice_ods: OdsCode
    service: ReferralService
    source: ReferralSource
    status: ReferralStatus
    preferred_language: Language | None = Field(default=None, description="BCP 47 code, e.g. `hi`.")
    reason: Text | None = Field(default=None, description="Referral or decline reason.")
