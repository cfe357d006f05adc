"""Every topic, its key and its value model, in one place."""

from dataclasses import dataclass

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_contracts.envelope import Envelope
from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scheduling import AppointmentEvent
from ensemble_contracts.scoring import HotOnboarding, ScoreChanged

PATIENT_KEY = "NHS number (10 ASCII digits): every event of one patient goes to one partition."
PATIENT_TOPIC_PARTITIONS = 6


@dataclass(frozen=True)
class TopicSpec:
    name: str
    value: type[Envelope]
    producer: str
    description: str
    key: str = PATIENT_KEY
    partitions: int = PATIENT_TOPIC_PARTITIONS

    @property
    def dead_letter(self) -> "TopicSpec":
        return TopicSpec(
            name=f"{self.name}.dlq",
            value=DeadLetter,
            producer="any consumer of " + self.name,
            description=f"Messages from `{self.name}` that a consumer could not process.",
            key="The original message's key.",
            partitions=1,
        )


HOSPITAL_ENCOUNTERS = TopicSpec(
    name="hospital.encounters.v1",
    value=EncounterEvent,
    producer="hospital-feed",
    description="Admissions, transfers, discharges, A&E attendances and their cancellations.",
)
SCORE_CHANGES = TopicSpec(
    name="scoring.score-changes.v1",
    value=ScoreChanged,
    producer="scoring",
    description="A patient's risk band changed.",
)
HOT_ONBOARDING = TopicSpec(
    name="scoring.hot-onboarding.v1",
    value=HotOnboarding,
    producer="scoring",
    description="A high-risk patient is in hospital: propose complex care now.",
)
REFERRALS = TopicSpec(
    name="referral.referrals.v1",
    value=ReferralEvent,
    producer="referral",
    description="Referral lifecycle: proposed, requested, accepted, declined, withdrawn.",
)
APPOINTMENTS = TopicSpec(
    name="scheduling.appointments.v1",
    value=AppointmentEvent,
    producer="scheduling",
    description="Appointments booked, cancelled, attended or missed.",
)

MAIN_TOPICS = (HOSPITAL_ENCOUNTERS, SCORE_CHANGES, HOT_ONBOARDING, REFERRALS, APPOINTMENTS)
TOPICS: tuple[TopicSpec, ...] = MAIN_TOPICS + tuple(t.dead_letter for t in MAIN_TOPICS)


def topic(name: str) -> TopicSpec:
    """Look a topic up by name (KeyError when there is no such topic)."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(name)
