"""hospital-feed's stored messages and practice alerts: the SQL the handlers rely on."""

from collections.abc import Iterable
from uuid import UUID

from sqlmodel import Session, col, select

from hospital_feed.adapters.orm import AlertStatus, Hl7Message, PracticeAlert


class MessageRepository:
    """Every HL7 message received, whatever became of it."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def resend_of(
        self, sender: str, sending_facility: str, control_id: str, content_sha256: str
    ) -> Hl7Message | None:
        """The stored message these bytes resend: same sender, MSH-4, MSH-10 and content."""
        return self._session.exec(
            select(Hl7Message).where(
                Hl7Message.sender == sender,
                Hl7Message.sending_facility == sending_facility,
                Hl7Message.control_id == control_id,
                Hl7Message.content_sha256 == content_sha256,
            )
        ).first()

    def published_key_taken(self, published_key: str) -> bool:
        """Whether a stored message already published the event with this business key."""
        found = self._session.exec(
            select(Hl7Message.id).where(Hl7Message.published_key == published_key)
        ).first()
        return found is not None

    def reopen(self, visit_key: str, triggers: Iterable[str]) -> int:
        """Clear the published business keys of one visit's messages with these triggers
        (what a cancellation cancelled, or the cancellation a re-admission undoes), so the
        same event may be published again. Returns how many were re-opened."""
        rows = list(
            self._session.exec(
                select(Hl7Message).where(
                    Hl7Message.visit_key == visit_key,
                    col(Hl7Message.trigger).in_(list(triggers)),
                    col(Hl7Message.published_key).is_not(None),
                )
            )
        )
        for row in rows:
            row.published_key = None
            self._session.add(row)
        return len(rows)

    def get(self, message_id: int) -> Hl7Message | None:
        return self._session.get(Hl7Message, message_id)

    def add(self, message: Hl7Message) -> None:
        """Stage a new or changed message; flushed now, so it has its id and the unique
        constraints (resend, published key) speak inside this transaction."""
        self._session.add(message)
        self._session.flush()


class AlertRepository:
    """What each practice sees about its registered patients."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def exists_for(self, practice_ods: str, encounter_event_id: UUID) -> bool:
        """Whether this practice already has the alert of this encounter event."""
        found = self._session.exec(
            select(PracticeAlert.alert_id).where(
                PracticeAlert.practice_ods == practice_ods,
                PracticeAlert.encounter_event_id == encounter_event_id,
            )
        ).first()
        return found is not None

    def active_to_retract(
        self, practice_ods: str, nhs_number: str, visit_number: str, kinds: Iterable[str]
    ) -> list[PracticeAlert]:
        """The practice's active alerts of these kinds for one patient's visit."""
        return list(
            self._session.exec(
                select(PracticeAlert).where(
                    PracticeAlert.practice_ods == practice_ods,
                    PracticeAlert.nhs_number == nhs_number,
                    PracticeAlert.visit_number == visit_number,
                    col(PracticeAlert.kind).in_(list(kinds)),
                    PracticeAlert.status == AlertStatus.ACTIVE,
                )
            )
        )

    def add(self, alert: PracticeAlert) -> None:
        """Stage a new or changed alert (written when the unit of work commits)."""
        self._session.add(alert)
