"""Every topic, its key and its value model, in one place."""

from dataclasses import dataclass
from typing import Generic, TypeVar

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_contracts.envelope import Envelope
from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.referral import ReferralEvent, ReferralEventType
from ensemble_contracts.scheduling import (
    AppointmentEvent,
    AppointmentEventType,
    NotificationEventType,
    ReminderEvent,
)
from ensemble_contracts.scoring import (
    CohortEventType,
    CohortMembershipChanged,
    HotOnboarding,
    HotOnboardingEventType,
    ScoreChanged,
    ScoreEventType,
)

PATIENT_KEY = "NHS number (10 ASCII digits): every event of one patient goes to one partition."
PATIENT_TOPIC_PARTITIONS = 6

E = TypeVar("E", bound=Envelope, covariant=True)  # a topic of X is a topic of envelopes


def event_types(names: type) -> tuple[str, ...]:
    """The event types an `...EventType` class lists: its upper-case string constants, in order."""
    return tuple(v for k, v in vars(names).items() if k.isupper() and isinstance(v, str))


@dataclass(frozen=True)
class TopicSpec(Generic[E]):
    """A topic: its name, the event model on it (E), who produces it and how it is keyed."""

    name: str
    value: type[E]
    producer: str
    description: str
    key: str = PATIENT_KEY
    partitions: int = PATIENT_TOPIC_PARTITIONS
    event_types: tuple[str, ...] = ()  # every `event_type` the model may carry on this topic

    @property
    def dead_letter(self) -> "TopicSpec[DeadLetter]":
        return TopicSpec(
            name=f"{self.name}.dlq",
            value=DeadLetter,
            producer="any consumer of " + self.name,
            description=f"Messages from `{self.name}` that a consumer could not process.",
            key="The original message's key.",
            partitions=1,
            event_types=("dead_letter",),
        )


HOSPITAL_ENCOUNTERS = TopicSpec(
    name="hospital.encounters.v1",
    value=EncounterEvent,
    producer="hospital-feed",
    description="Admissions, transfers, discharges, A&E attendances and their cancellations.",
    event_types=event_types(EncounterEventType),
)
SCORE_CHANGES = TopicSpec(
    name="scoring.score-changes.v1",
    value=ScoreChanged,
    producer="scoring",
    description="A patient's risk band changed.",
    event_types=event_types(ScoreEventType),
)
HOT_ONBOARDING = TopicSpec(
    name="scoring.hot-onboarding.v1",
    value=HotOnboarding,
    producer="scoring",
    description="A high-risk patient is in hospital: propose complex care now.",
    event_types=event_types(HotOnboardingEventType),
)
COHORT_MEMBERSHIP = TopicSpec(
    name="scoring.cohort-membership.v1",
    value=CohortMembershipChanged,
    producer="scoring",
    description="A patient joined or left a saved cohort (group sessions for its members).",
    event_types=event_types(CohortEventType),
)
REFERRALS = TopicSpec(
    name="referral.referrals.v1",
    value=ReferralEvent,
    producer="referral",
    description="Referral lifecycle: proposed or requested, triaged, consent, accepted, "
    "assigned, active, completed or discharged, declined, withdrawn; SLA breaches.",
    event_types=event_types(ReferralEventType),
)
APPOINTMENTS = TopicSpec(
    name="scheduling.appointments.v1",
    value=AppointmentEvent,
    producer="scheduling",
    description="Appointments booked, rescheduled, cancelled, attended or missed; DNA escalations.",
    event_types=event_types(AppointmentEventType),
)
NOTIFICATIONS = TopicSpec(
    name="scheduling.notifications.v1",
    value=ReminderEvent,
    producer="scheduling",
    description="Reminders due to patients before their sessions (48 h and 2 h).",
    event_types=event_types(NotificationEventType),
)

MAIN_TOPICS = (
    HOSPITAL_ENCOUNTERS,
    SCORE_CHANGES,
    HOT_ONBOARDING,
    COHORT_MEMBERSHIP,
    REFERRALS,
    APPOINTMENTS,
    NOTIFICATIONS,
)
TOPICS: tuple[TopicSpec[Envelope], ...] = MAIN_TOPICS + tuple(t.dead_letter for t in MAIN_TOPICS)


def topic(name: str) -> TopicSpec[Envelope]:
    """Look a topic up by name (KeyError when there is no such topic)."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(name)
