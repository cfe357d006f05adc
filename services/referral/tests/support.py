"""referral's test kit and its event factories."""

from datetime import datetime
from uuid import UUID, uuid4

from ensemble_contracts.envelope import utc_now
from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scoring import HotOnboarding, HotOnboardingEventType
from ensemble_contracts.topics import REFERRALS
from ensemble_devkit.testkit import ServiceKit, tokens
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.config import Settings
from referral.domain.referral import Referral
from referral.service import DEFINITION
from referral.service_layer.commands import RecordConsent, TriageReferral

Kit = ServiceKit[Settings, ReferralUnitOfWork]
PRACTICES = ("L85001", "L85002")
STAFF = "staff"


def referral_kit(database_url: str) -> Kit:
    """referral on a fresh store, with two practices and one staff member who hold tokens."""
    return ServiceKit(
        DEFINITION,
        database_url,
        practice_tokens=tokens("practice", *PRACTICES),
        staff_tokens=tokens("staff", STAFF),
    )


def stored(kit: Kit) -> list[Referral]:
    """Every referral in the store, oldest first."""
    return kit.run(lambda uow: list(uow.referrals.find()))


def published(kit: Kit) -> list[ReferralEvent]:
    """Events in the outbox, oldest first (all must be on the referrals topic)."""
    assert kit.published_topics() <= {REFERRALS.name}
    return kit.published(REFERRALS)


def registered_with(kit: Kit, nhs_number: str) -> str | None:
    """The practice referral believes the patient is registered with."""
    practice: str | None = kit.run(lambda uow: uow.registrations.practice_of(nhs_number))
    return practice


def encounter(
    nhs_number: str = "9990000018",
    practice_ods: str | None = "L85001",
    occurred_at: datetime | None = None,
    event_type: str = EncounterEventType.ADMITTED,
) -> EncounterEvent:
    """An encounter as hospital-feed publishes it; PD1-3 names the registered practice."""
    return EncounterEvent(
        event_type=event_type,
        producer="hospital-feed",
        nhs_number=nhs_number,
        practice_ods=practice_ods,
        sending_facility="RCB",
        trigger_event="A01",
        source_message_id=str(uuid4()),
        visit_number="V123",
        occurred_at=occurred_at or utc_now(),
    )


def trigger(
    nhs_number: str = "9990000018",
    practice_ods: str = "L85001",
    trigger_event_id: UUID | None = None,
    occurred_at: datetime | None = None,
) -> HotOnboarding:
    """A hot-onboarding trigger as scoring publishes it: new event_id, new encounter."""
    return HotOnboarding(
        event_type=HotOnboardingEventType.TRIGGERED,
        producer="scoring",
        causation_id=uuid4(),
        nhs_number=nhs_number,
        practice_ods=practice_ods,
        band="very_high",
        score=61,
        model_version="ensemble-risk-1.0.0",
        trigger="admission",
        trigger_event_id=trigger_event_id or uuid4(),
        preferred_language="pa",
        occurred_at=occurred_at or utc_now(),
    )


def withdrawal(of: HotOnboarding) -> HotOnboarding:
    """Scoring's withdrawal after an A11: a new event naming the same encounter."""
    return of.model_copy(
        update={
            "event_type": HotOnboardingEventType.WITHDRAWN,
            "event_id": uuid4(),
            "correlation_id": uuid4(),
            "causation_id": uuid4(),
        }
    )


def ready_to_accept(kit: Kit, referral_id: UUID, priority: str = "routine") -> Referral:
    """Triage the referral and record the patient's consent, as staff do before accepting."""
    kit.execute(TriageReferral(referral_id, priority))  # type: ignore[arg-type]
    return kit.execute(RecordConsent(referral_id, "given", "verbal", "staff"))
