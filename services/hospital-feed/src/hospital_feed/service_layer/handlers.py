"""Use cases: receive an ADT message; project encounters into practice alerts."""

import hashlib
from collections.abc import Callable
from typing import Any

from sqlmodel import col, select

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.unit_of_work import UnitOfWork
from hospital_feed.adapters.orm import Hl7Message, PracticeAlert
from hospital_feed.domain.ack import build_ack
from hospital_feed.domain.encounters import (
    ALERT_KIND,
    RETRACTS,
    event_type_for,
    is_emergency,
)
from hospital_feed.domain.hl7 import AdtMessage, Header, Hl7Error, parse_adt, parse_header

PRODUCER = "hospital-feed"


def receive_hl7v2(uow: UnitOfWork, sender: str, raw: str) -> str:
    """Store the message, publish its encounter, commit, and only then answer AA."""
    digest = hashlib.sha256(raw.encode()).hexdigest()
    try:
        message = parse_adt(raw)
    except Hl7Error as error:
        return _reject(uow, sender, raw, digest, _readable_header(raw), error)
    header = message.header
    if header.sending_facility.upper() != sender.upper():
        forbidden = Hl7Error("AR", "207", "this sender may not send for the facility in MSH-4")
        return _reject(uow, sender, raw, digest, header, forbidden)

    earlier = uow.session.exec(
        select(Hl7Message).where(
            Hl7Message.sending_facility == header.sending_facility,
            Hl7Message.control_id == header.control_id,
            Hl7Message.content_sha256 == digest,
        )
    ).first()
    if earlier is not None:  # a resend: same answer, no new effect
        return build_ack(header, earlier.ack_code, earlier.error or "", earlier.error_code)

    record = Hl7Message(
        sender=sender,
        sending_facility=header.sending_facility,
        control_id=header.control_id,
        trigger=header.trigger,
        content_sha256=digest,
        raw=raw,
        status="accepted",
        ack_code="AA",
    )
    _decide(uow, message, record)
    uow.session.add(record)
    uow.commit()
    return build_ack(header, "AA", record.error or "")


def _decide(uow: UnitOfWork, message: AdtMessage, record: Hl7Message) -> None:
    event_type = event_type_for(message)
    if event_type is None:
        record.status = "stored"  # e.g. A08: kept, never a new clinical event
        return
    if message.nhs_number is None or not is_valid_nhs_number(message.nhs_number):
        # Not the sender's fault (unknown patients exist): keep it for staff, alert no one.
        record.status, record.error = "held", "no valid traced NHS number in PID-3"
        return
    record.business_key = "|".join(
        [
            message.header.sending_facility,
            message.nhs_number,
            event_type,
            message.visit_number or "",
            message.event_at.isoformat() if message.event_at else "",
        ]
    )
    already = uow.session.exec(
        select(Hl7Message.id).where(
            Hl7Message.business_key == record.business_key,
            col(Hl7Message.event_id).is_not(None),
        )
    ).first()
    if already is not None:  # the same event under a new control id
        record.status = "duplicate"
        return
    event = _encounter(message, event_type)
    record.event_id = event.event_id
    uow.publish(HOSPITAL_ENCOUNTERS, event)


def _encounter(message: AdtMessage, event_type: str) -> EncounterEvent:
    assert message.nhs_number is not None
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
        event_at=message.event_at or message.admitted_at,
        admitted_at=message.admitted_at,
        discharged_at=message.discharged_at,
        discharge_disposition=message.discharge_disposition,
    )


def _readable_header(raw: str) -> Header | None:
    try:
        return parse_header(raw)
    except Hl7Error:
        return None


def _reject(
    uow: UnitOfWork,
    sender: str,
    raw: str,
    digest: str,
    header: Header | None,
    error: Hl7Error,
) -> str:
    """Keep the rejected message (for staff and replay), then answer AE/AR."""
    uow.session.add(
        Hl7Message(
            sender=sender,
            sending_facility=header.sending_facility if header else "",
            control_id=header.control_id if header else "",
            trigger=header.trigger if header else "",
            content_sha256=digest,
            raw=raw,
            status="rejected",
            ack_code=error.ack_code,
            error_code=error.error_code,
            error=error.text,
        )
    )
    uow.commit()
    return build_ack(header, error.ack_code, error.text, error.error_code)


def reprocess(uow: UnitOfWork, message_id: int) -> str | None:
    """Run a held or rejected message through again (e.g. after a fix); None if unknown."""
    record = uow.session.get(Hl7Message, message_id)
    if record is None:
        return None
    raw, sender = record.raw, record.sender
    record.status = f"{record.status}-reprocessed"
    record.content_sha256 = f"reprocessed:{record.id}"  # let the new attempt stand on its own
    uow.session.add(record)
    return receive_hl7v2(uow, sender, raw)


def project_alert(uow: UnitOfWork, event: EncounterEvent) -> None:
    """One alert per encounter event for the patient's own practice, never two."""
    if event.practice_ods is None:
        return
    exists = uow.session.exec(
        select(PracticeAlert.alert_id).where(
            PracticeAlert.practice_ods == event.practice_ods,
            PracticeAlert.encounter_event_id == event.event_id,
        )
    ).first()
    if exists is not None:
        return
    for earlier in uow.session.exec(
        select(PracticeAlert).where(
            PracticeAlert.practice_ods == event.practice_ods,
            PracticeAlert.nhs_number == event.nhs_number,
            PracticeAlert.visit_number == event.visit_number,
            col(PracticeAlert.kind).in_(RETRACTS.get(event.event_type, ())),
            PracticeAlert.status == "active",
        )
    ):
        earlier.status, earlier.retracted_by_event_id = "retracted", event.event_id
        uow.session.add(earlier)
    uow.session.add(
        PracticeAlert(
            practice_ods=event.practice_ods,
            nhs_number=event.nhs_number,
            kind=ALERT_KIND[event.event_type],
            encounter_event_id=event.event_id,
            sending_facility=event.sending_facility,
            visit_number=event.visit_number,
            location=event.location,
            event_at=event.event_at,
        )
    )


ALERT_HANDLERS: dict[str, Callable[[UnitOfWork, Any], None]] = dict.fromkeys(
    ALERT_KIND, project_alert
)
