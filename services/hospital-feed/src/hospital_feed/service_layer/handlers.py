"""Use cases: receive an ADT message, reprocess a stored one, project encounters to alerts."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlmodel import col, select

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.orm import (
    AlertStatus,
    Hl7Message,
    MessageStatus,
    PracticeAlert,
)
from hospital_feed.domain.ack import build_ack
from hospital_feed.domain.encounters import (
    ALERT_KIND,
    RETRACTS,
    business_key,
    event_time,
    event_type_for,
    is_emergency,
)
from hospital_feed.domain.hl7_message import AdtMessage, Header, Hl7Error, parse_adt, parse_header
from hospital_feed.domain.nhs_number import HELD_REASONS, NhsNumberStatus, classify

PRODUCER = "hospital-feed"
ALERTS_GROUP = "hospital-feed.alerts"
REPROCESSABLE = frozenset({MessageStatus.REJECTED, MessageStatus.HELD})
SENDER_NOT_ALLOWED = "this sender may not send messages for the facility in MSH-4"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What to do with one message: how to store it, how to answer, what to publish."""

    status: MessageStatus
    ack_code: str
    reason: str = ""
    error_code: str = "0"
    event: EncounterEvent | None = None
    published_key: str | None = None


@dataclass(frozen=True)
class Reprocessed:
    message_id: int
    status: str
    ack_code: str
    error: str | None


class NotReprocessable(Exception):
    """Only rejected or held messages are run again."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _readable_header(raw: str) -> Header | None:
    try:
        return parse_header(raw)
    except Hl7Error:
        return None


def _identity(sender: str, header: Header | None) -> tuple[str, str, str, str]:
    """(sender, MSH-4, MSH-10, trigger), cut to their column sizes."""
    if header is None:
        return sender[:50], "", "", ""
    return sender[:50], header.sending_facility[:50], header.control_id[:200], header.trigger[:10]


def receive_hl7v2(uow: UnitOfWork, sender: str, raw: str) -> str:
    """Store the message (whatever it is), publish its encounter, commit; then answer."""
    digest = _sha256(raw)
    header = _readable_header(raw)
    sender, facility, control_id, trigger = _identity(sender, header)
    earlier = uow.session.exec(
        select(Hl7Message).where(
            Hl7Message.sender == sender,
            Hl7Message.sending_facility == facility,
            Hl7Message.control_id == control_id,
            Hl7Message.content_sha256 == digest,
        )
    ).first()
    if earlier is not None:  # a resend: the same answer, no new effect
        log.info("hl7 resend answered again", message_id=earlier.id, ack_code=earlier.ack_code)
        return build_ack(header, earlier.ack_code, earlier.error or "", earlier.error_code)

    verdict = judge(uow, sender, raw, header)
    record = Hl7Message(
        sender=sender,
        sending_facility=facility,
        control_id=control_id,
        trigger=trigger,
        content_sha256=digest,
        raw=raw,
        status=verdict.status,
        ack_code=verdict.ack_code,
    )
    _record(uow, record, verdict)
    uow.commit()  # only now may the sender hear AA
    log.info(
        "hl7 message received",
        message_id=record.id,
        sending_facility=facility,
        control_id=control_id,
        trigger=trigger,
        status=verdict.status,
        ack_code=verdict.ack_code,
    )
    return build_ack(header, verdict.ack_code, verdict.reason, verdict.error_code)


def judge(uow: UnitOfWork, sender: str, raw: str, header: Header | None) -> Verdict:
    """Decide a message's fate. Reads the store (for business duplicates), writes nothing."""
    if header is not None and header.sending_facility and header.sending_facility != sender.upper():
        # Checked before the body is read: a sender's token covers only its own MSH-4.
        return Verdict(MessageStatus.REJECTED, "AR", SENDER_NOT_ALLOWED, "204")
    try:
        message = parse_adt(raw)
    except Hl7Error as error:
        return Verdict(MessageStatus.REJECTED, error.ack_code, error.text, error.error_code)

    nhs_status = classify(message.nhs_number)
    if nhs_status is not NhsNumberStatus.VALID:
        # Not the hospital's fault (unknown patients exist): answer AA, keep it for staff.
        return Verdict(MessageStatus.HELD, "AA", HELD_REASONS[nhs_status])
    event_type = event_type_for(message)
    if event_type is None:  # A08, A28, a non-A&E A04, ...: kept, never a new event
        return Verdict(MessageStatus.ACCEPTED, "AA")
    key = business_key(message)
    published_key = _sha256(key) if key else None
    if published_key is not None:
        already = uow.session.exec(
            select(Hl7Message.id).where(Hl7Message.published_key == published_key)
        ).first()
        if already is not None:
            reason = "the same event was already received under another control id"
            return Verdict(MessageStatus.DUPLICATE, "AA", reason)
    event = _encounter(message, event_type)
    return Verdict(MessageStatus.ACCEPTED, "AA", event=event, published_key=published_key)


def _record(uow: UnitOfWork, record: Hl7Message, verdict: Verdict) -> None:
    """Write the verdict on the stored message and stage its event, in one transaction."""
    record.status = verdict.status
    record.ack_code = verdict.ack_code
    record.error_code = verdict.error_code
    record.error = verdict.reason or None
    record.published_key = verdict.published_key
    record.event_id = verdict.event.event_id if verdict.event else None
    uow.session.add(record)
    if verdict.event is not None:
        uow.publish(HOSPITAL_ENCOUNTERS, verdict.event)
    uow.session.flush()  # assigns record.id; surfaces constraint violations here


def _encounter(message: AdtMessage, event_type: str) -> EncounterEvent:
    assert message.nhs_number is not None  # classify() said VALID
    return EncounterEvent(
        event_type=event_type,
        producer=PRODUCER,
        nhs_number=message.nhs_number,
        practice_ods=message.practice_ods,
        sending_facility=message.header.sending_facility,
        trigger_event=message.header.trigger,
        source_message_id=message.header.control_id,
        visit_number=message.visit_number,
        patient_class=message.patient_class,
        admission_type=message.admission_type,
        emergency=is_emergency(message),
        location=message.location,
        event_at=event_time(message),
        admitted_at=message.admitted_at,
        discharged_at=message.discharged_at,
        discharge_disposition=message.discharge_disposition,
    )


def reprocess(uow: UnitOfWork, message_id: int) -> Reprocessed | None:
    """Run a rejected or held message through the same rules again (e.g. after a fix).

    The stored row is updated in place: its identity (and so resend detection) stays, and a
    later resend of the same bytes gets the new answer. None when there is no such message.
    """
    record = uow.session.get(Hl7Message, message_id)
    if record is None:
        return None
    if record.status not in REPROCESSABLE:
        raise NotReprocessable(f"message is {record.status}; only rejected or held are rerun")
    verdict = judge(uow, record.sender, record.raw, _readable_header(record.raw))
    record.reprocessed_at = datetime.now(UTC)
    _record(uow, record, verdict)
    uow.commit()
    log.info("hl7 message reprocessed", message_id=message_id, status=verdict.status)
    assert record.id is not None
    return Reprocessed(record.id, verdict.status, verdict.ack_code, verdict.reason or None)


def project_alert(uow: UnitOfWork, event: EncounterEvent) -> None:
    """One alert per encounter event for the patient's own practice, never two.

    A cancellation retracts the earlier alert for the same patient and visit, and adds an
    alert of its own so the practice sees the correction.
    """
    if event.practice_ods is None:
        return  # no registered practice in PD1-3: nobody to tell
    exists = uow.session.exec(
        select(PracticeAlert.alert_id).where(
            PracticeAlert.practice_ods == event.practice_ods,
            PracticeAlert.encounter_event_id == event.event_id,
        )
    ).first()
    if exists is not None:
        return
    visit_number = event.visit_number[:50] if event.visit_number else None
    retracts = RETRACTS.get(event.event_type, ())
    if retracts and visit_number is not None:
        for earlier in uow.session.exec(
            select(PracticeAlert).where(
                PracticeAlert.practice_ods == event.practice_ods,
                PracticeAlert.nhs_number == event.nhs_number,
                PracticeAlert.visit_number == visit_number,
                col(PracticeAlert.kind).in_(retracts),
                PracticeAlert.status == AlertStatus.ACTIVE,
            )
        ):
            earlier.status = AlertStatus.RETRACTED
            earlier.retracted_by_event_id = event.event_id
            uow.session.add(earlier)
    uow.session.add(
        PracticeAlert(
            practice_ods=event.practice_ods,
            nhs_number=event.nhs_number,
            kind=ALERT_KIND[event.event_type],
            encounter_event_id=event.event_id,
            sending_facility=event.sending_facility[:50],
            visit_number=visit_number,
            location=event.location[:200] if event.location else None,
            event_at=event.event_at,
        )
    )


ALERT_HANDLERS: dict[str, Callable[[UnitOfWork, Any], None]] = dict.fromkeys(
    ALERT_KIND, project_alert
)
