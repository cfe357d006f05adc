"""referral.referrals.v1: the lifecycle of referrals to health coaching and complex care.

Schema version 2 (issue 12) added the event types from `referral.triaged` on, the statuses
`triaged`, `active`, `completed` and `discharged`, and optional fields (priority, consent,
assignment, outcome, SLA). Readers that do not know a type skip it (ADR 4); every event
still carries the whole referral, its `practice_ods` among it, so a reader can route it.
Free text (notes) never goes on this topic.
"""

from datetime import datetime
from typing import Final, Literal
from uuid import UUID

from pydantic import Field

from ensemble_contracts.envelope import PatientEvent
from ensemble_contracts.limits import Language, OdsCode, ShortText, Text

ReferralService = Literal["health_coaching", "complex_care"]
ReferralSource = Literal["gp", "hot_onboarding"]
ReferralStatus = Literal[
    "proposed",
    "requested",
    "accepted",
    "declined",
    "withdrawn",
    # Added in schema version 2.
    "triaged",
    "active",
    "completed",
    "discharged",
]


class ReferralEventType:
    PROPOSED: Final = "referral.proposed"
    REQUESTED: Final = "referral.requested"
    ACCEPTED: Final = "referral.accepted"
    DECLINED: Final = "referral.declined"
    WITHDRAWN: Final = "referral.withdrawn"  # by scoring (a proposal) or by the GP
    # Added in schema version 2: readers that do not know them skip them (ADR 4).
    TRIAGED: Final = "referral.triaged"
    CONSENT_RECORDED: Final = "referral.consent_recorded"  # given; declined/withdrawn close it
    ASSIGNED: Final = "referral.assigned"
    ACTIVATED: Final = "referral.activated"
    COMPLETED: Final = "referral.completed"
    DISCHARGED: Final = "referral.discharged"
    SLA_BREACHED: Final = "referral.sla_breached"
    # A40 merge: the referral now belongs to `nhs_number` (the surviving number). Its own
    # type, so a reader that books on `referral.accepted` never sees the same one twice.
    PATIENT_MERGED: Final = "referral.patient_merged"


class ReferralEvent(PatientEvent):
    """A referral changed state. Carries the whole referral, so readers need no lookups."""

    schema_version: int = Field(default=2, description="Version of this event's payload shape.")
    event_type: str = Field(
        description="`referral.proposed` (hot onboarding), `referral.requested` (a GP), "
        "`referral.accepted`, `referral.declined`, `referral.withdrawn`; since version 2 "
        "`referral.triaged`, `referral.consent_recorded`, `referral.assigned`, "
        "`referral.activated`, `referral.completed`, `referral.discharged`, "
        "`referral.sla_breached`, `referral.patient_merged` (moved to the surviving NHS "
        "number of an A40 merge)."
    )
    referral_id: UUID
    practice_ods: OdsCode
    service: ReferralService
    source: ReferralSource
    status: ReferralStatus
    preferred_language: Language | None = Field(default=None, description="BCP 47 code, e.g. `hi`.")
    reason: Text | None = Field(default=None, description="Referral or decline reason.")
    # Added in schema version 2 (optional: readers of version 1 events see the defaults).
    priority: Literal["urgent", "high", "routine"] | None = Field(
        default=None, description="Set at triage."
    )
    consent: Literal["given", "declined", "withdrawn"] | None = Field(
        default=None, description="The patient's consent as last recorded."
    )
    worker_role: Literal["coach", "keyworker"] | None = Field(
        default=None, description="Who works with the patient: a coach or a keyworker."
    )
    worker_id: ShortText | None = Field(default=None, description="The coach's or keyworker's id.")
    supervisor_id: ShortText | None = Field(default=None, description="Their supervisor's id.")
    outcome: ShortText | None = Field(
        default=None, description="Outcome code of `referral.completed` / `referral.discharged`."
    )
    sla_stage: Literal["triage", "acceptance", "activation"] | None = Field(
        default=None,
        description="The SLA clock running (for `referral.sla_breached`: the one that ran out).",
    )
    due_by: datetime | None = Field(
        default=None, description="When the running clock runs out (working days, England)."
    )
