"""Use cases: receive an ADT message, reprocess a stored one, project encounters (and hot
onboarding) to alerts, and keep the risk and caseload projections the alerts show.

Every message gets an answer and is stored, whatever it holds: parsing and building the
event can only end in a verdict (AA/AE/AR), never in an exception out of the handler. Only
a store failure escapes, and then nothing was committed and no ACK is sent (the sender
resends).
"""

import json
from dataclasses import dataclass

import structlog
from pydantic import ValidationError

from ensemble_contracts import limits
from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scoring import HotOnboarding, HotOnboardingEventType, ScoreChanged
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.consumer import RejectedEvent
from hospital_feed.adapters.orm import AlertStatus, MessageStatus, RecipientReason
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.domain.ack import build_ack
from hospital_feed.domain.encounters import (
    REOPENS,
    RETRACTS,
    AlertKind,
    alert_kind,
    business_key,
    event_time,
    event_type_for,
    has_died,
    is_emergency,
    oversized_field,
    visit_key,
)
from hospital_feed.domain.hl7_message import AdtMessage, Header, Hl7Error, parse_adt, parse_header
from hospital_feed.domain.nhs_number import HELD_REASONS, NhsNumberStatus, classify
from hospital_feed.domain.projections import fact_time
from hospital_feed.domain.stored_text import digest, restored, single_line, storable
from hospital_feed.service_layer.commands import (
    AcknowledgeAlert,
    ReceiveHl7,
    Reprocessed,
    ReprocessMessage,
)

PRODUCER = "hospital-feed"
REPROCESSABLE = frozenset({MessageStatus.REJECTED, MessageStatus.HELD})
SENDER_NOT_ALLOWED = "this sender may not send messages for the facility in MSH-4"
NUL_NOT_ALLOWED = "the message contains NUL characters (0x00), which HL7 v2 text may not carry"
NOT_PROCESSED = "the message could not be processed; it is kept for staff to look at"
STORE_INTEGER = range(-(2**31), 2**31)  # what an INTEGER column holds on every store

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
    visit_key: str | None = None
    reopens: tuple[str, ...] = ()


class NotReprocessable(Exception):
    """Only rejected or held messages are run again."""


def _readable_header(raw: str) -> Header | None:
    try:
        return parse_header(raw)
    except Hl7Error:
        return None
    except Exception as error:  # a parser bug: answer without a header rather than not at all
        log.error("hl7 header could not be read", error=type(error).__name__)
        return None


def _identity(sender: str, header: Header | None) -> tuple[str, str, str, str]:
    """(sender, MSH-4, MSH-10, trigger), storable and cut to their column sizes."""
    if header is None:
        return single_line(sender)[:50], "", "", ""
    return (
        single_line(sender)[:50],
        single_line(header.sending_facility)[:50],
        single_line(header.control_id)[:200],
        single_line(header.trigger)[:10],
    )


def receive_hl7(uow: HospitalFeedUnitOfWork, command: ReceiveHl7) -> str:
    """Store the message (whatever it is), publish its encounter, commit; then answer."""
    raw = command.raw
    content_sha256 = digest(raw)
    header = _readable_header(raw)
    sender, facility, control_id, trigger = _identity(command.sender, header)
    earlier = uow.messages.resend_of(sender, facility, control_id, content_sha256)
    if earlier is not None:  # a resend: the same answer, no new effect
        log.info("hl7 resend answered again", message_id=earlier.id, ack_code=earlier.ack_code)
        return build_ack(header, earlier.ack_code, earlier.error or "", earlier.error_code)

    verdict = judge(uow, sender, raw, header)
    text, escaped = storable(raw)
    _stage_event(uow, verdict)
    message_id = uow.messages.insert(
        {
            "sender": sender,
            "sending_facility": facility,
            "control_id": control_id,
            "trigger": trigger,
            "content_sha256": content_sha256,
            "raw": text,
            "raw_escaped": escaped,
            "raw_charset": single_line(command.charset)[:20],
            "received_at": uow.clock(),
            "reprocessed_at": None,
            **_verdict_columns(verdict),
        }
    )
    confirmed = header is not None and header.confirmed
    uow.after_commit(
        lambda: _log_received(message_id, verdict, confirmed, facility, control_id, trigger)
    )
    uow.commit()  # only now may the sender hear AA
    return build_ack(header, verdict.ack_code, verdict.reason, verdict.error_code)


def _log_received(
    message_id: int,
    verdict: Verdict,
    confirmed: bool,
    facility: str,
    control_id: str,
    trigger: str,
) -> None:
    """Header fields only from a confirmed MSH: with wrong segment ends, what the parser
    takes for MSH-4/9/10 may be PID fields (names, birth dates). Never the reason or body."""
    fields = (
        {"sending_facility": facility, "control_id": control_id, "trigger": trigger}
        if confirmed
        else {}
    )
    log.info(
        "hl7 message received",
        message_id=message_id,
        status=verdict.status,
        ack_code=verdict.ack_code,
        error_code=verdict.error_code,
        header_confirmed=confirmed,
        **fields,
    )


def judge(uow: HospitalFeedUnitOfWork, sender: str, raw: str, header: Header | None) -> Verdict:
    """Decide a message's fate. Reads the store (for business duplicates), writes nothing."""
    if header is not None and header.sending_facility and header.sending_facility != sender.upper():
        # Checked before the body is read: a sender's token covers only its own MSH-4.
        return Verdict(MessageStatus.REJECTED, "AR", SENDER_NOT_ALLOWED, "204")
    if "\x00" in raw:
        return Verdict(MessageStatus.REJECTED, "AE" if header else "AR", NUL_NOT_ALLOWED, "102")
    try:
        verdict = assess(raw)
    except Hl7Error as error:
        return Verdict(MessageStatus.REJECTED, error.ack_code, error.text, error.error_code)
    except Exception as error:  # a bug must not cost the sender its answer: keep and tell
        log.error("hl7 message could not be judged", error=type(error).__name__)
        return Verdict(MessageStatus.REJECTED, "AR", NOT_PROCESSED, "207")
    if verdict.published_key is not None and uow.messages.published_key_taken(
        verdict.published_key
    ):
        reason = "the same event was already received under another control id"
        return Verdict(MessageStatus.DUPLICATE, "AA", reason)
    return verdict


def assess(raw: str) -> Verdict:
    """The store-free part of judging: parse, classify, check the contract's limits, build
    the event. Raises Hl7Error for an unacceptable message."""
    message = parse_adt(raw)
    nhs_status = classify(message.nhs_number)
    if nhs_status is not NhsNumberStatus.VALID:
        # Not the hospital's fault (unknown patients exist): answer AA, keep it for staff.
        return Verdict(MessageStatus.HELD, "AA", HELD_REASONS[nhs_status])
    event_type = event_type_for(message)
    if event_type is None:  # A08, A28, a non-A&E A04, ...: kept, never a new event
        return Verdict(MessageStatus.ACCEPTED, "AA")
    too_long = oversized_field(message)
    if too_long is not None:
        field, limit = too_long
        reason = f"{field} is longer than {limit} characters (the {HOSPITAL_ENCOUNTERS.name} limit)"
        return Verdict(MessageStatus.REJECTED, "AE", reason, "102")
    try:
        event = _encounter(message, event_type)
    except ValidationError as error:  # names the fields, never their values
        fields = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})
        reason = f"the encounter does not fit {HOSPITAL_ENCOUNTERS.name}: {', '.join(fields)}"
        return Verdict(MessageStatus.REJECTED, "AE", reason, "102")
    key = business_key(message)
    visit = visit_key(message)
    return Verdict(
        MessageStatus.ACCEPTED,
        "AA",
        event=event,
        published_key=digest(key) if key else None,
        visit_key=digest(visit) if visit else None,
        reopens=REOPENS.get(message.header.trigger, ()),
    )


def _verdict_columns(verdict: Verdict) -> dict[str, object]:
    """What the verdict writes on the stored message."""
    return {
        "status": verdict.status,
        "ack_code": verdict.ack_code,
        "error_code": verdict.error_code,
        "error": verdict.reason[:500] or None,  # the column's size
        "published_key": verdict.published_key,
        "visit_key": verdict.visit_key if verdict.event else None,
        "event_id": verdict.event.event_id if verdict.event else None,
    }


def _stage_event(uow: HospitalFeedUnitOfWork, verdict: Verdict) -> None:
    """Stage the verdict's event, first re-opening what it re-opens (so its business key is
    free again), in the transaction that stores the message."""
    if verdict.event is None:
        return
    if verdict.visit_key is not None and verdict.reopens:
        uow.messages.reopen(verdict.visit_key, verdict.reopens)
    uow.publish(HOSPITAL_ENCOUNTERS, verdict.event)


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
        died=has_died(message),
        died_at=message.died_at,
    )


def reprocess(uow: HospitalFeedUnitOfWork, command: ReprocessMessage) -> Reprocessed | None:
    """Run a rejected or held message through the same rules again (e.g. after a fix).

    The stored row is updated in place: its identity (and so resend detection) stays, and a
    later resend of the same bytes gets the new answer. None when there is no such message.
    """
    message_id = command.message_id
    record = uow.messages.get(message_id)
    if record is None:
        return None
    if record.status not in REPROCESSABLE:
        raise NotReprocessable(f"message is {record.status}; only rejected or held are rerun")
    raw = restored(record.raw, record.raw_escaped)
    verdict = judge(uow, record.sender, raw, _readable_header(raw))
    record.reprocessed_at = uow.clock()
    for column, value in _verdict_columns(verdict).items():
        setattr(record, column, value)
    _stage_event(uow, verdict)
    uow.messages.add(record)
    uow.commit()
    log.info("hl7 message reprocessed", message_id=message_id, status=verdict.status)
    assert record.id is not None
    return Reprocessed(record.id, verdict.status, verdict.ack_code, verdict.reason or None)


def project_alert(uow: HospitalFeedUnitOfWork, event: EncounterEvent) -> None:
    """One alert per encounter event for the patient's own practice, never two.

    A cancellation retracts the earlier alert for the same patient and visit, and adds an
    alert of its own so the practice sees the correction.
    """
    if event.practice_ods is None:
        return  # no registered practice in PD1-3: nobody to tell
    if single_line(event.practice_ods) != event.practice_ods:
        log.warning("encounter with an unusable practice code, no alert", event_id=event.event_id)
        return
    if uow.alerts.exists_for(event.practice_ods, event.event_id):
        return
    # Text from the topic as every store can keep it (no NUL), within the columns.
    visit_number = single_line(event.visit_number)[:50] if event.visit_number else None
    location = single_line(event.location)[:200] if event.location else None
    disposition = event.discharge_disposition
    disposition = single_line(disposition)[: limits.CODE] if disposition else None
    retracts = RETRACTS.get(event.event_type, ())
    if retracts and visit_number is not None:
        for earlier in uow.alerts.active_to_retract(
            event.practice_ods, event.nhs_number, visit_number, retracts
        ):
            earlier.status = AlertStatus.RETRACTED
            earlier.retracted_by_event_id = event.event_id
            uow.alerts.add(earlier)
    uow.alerts.insert(
        _new_alert(
            uow,
            event.practice_ods,
            event.nhs_number,
            alert_kind(event.event_type, event.died),
            event.event_id,
            sending_facility=single_line(event.sending_facility)[:50],
            visit_number=visit_number,
            location=location or None,
            event_at=event.event_at,
            emergency=event.emergency,
            disposition=disposition or None,
        )
    )


def _new_alert(
    uow: HospitalFeedUnitOfWork,
    practice_ods: str,
    nhs_number: str,
    kind: str,
    event_id: object,
    **details: object,
) -> dict[str, object]:
    """The columns of a new, active alert for the patient's registered practice; `details`
    are what the event says (facility, visit, location, time, emergency, disposition)."""
    return {
        "practice_ods": practice_ods,
        "nhs_number": nhs_number,
        "kind": kind,
        "encounter_event_id": event_id,
        "sending_facility": "",
        "visit_number": None,
        "location": None,
        "event_at": None,
        "emergency": False,
        "disposition": None,
        "created_at": uow.clock(),
        "status": AlertStatus.ACTIVE,
        "retracted_by_event_id": None,
        "recipient_reason": RecipientReason.REGISTERED,
        **details,
    }


def project_hot_onboarding(uow: HospitalFeedUnitOfWork, event: HotOnboarding) -> None:
    """A triggered hot onboarding is one alert for the patient's practice, never two; a
    withdrawn one retracts that practice's active hot-onboarding alert for the patient."""
    practice = event.practice_ods
    if single_line(practice) != practice:
        log.warning(
            "hot onboarding with an unusable practice code, no alert", event_id=event.event_id
        )
        return
    if event.event_type == HotOnboardingEventType.WITHDRAWN:
        uow.alerts.retract_kind(
            practice, event.nhs_number, AlertKind.HOT_ONBOARDING, event.event_id
        )
        return
    if uow.alerts.exists_for(practice, event.event_id):
        return
    # Its own event id; no facility, visit or location: scoring proposed it, no trust sent it.
    event_at = fact_time(event.occurred_at, uow.clock())
    uow.alerts.insert(
        _new_alert(
            uow,
            practice,
            event.nhs_number,
            AlertKind.HOT_ONBOARDING,
            event.event_id,
            event_at=event_at,
        )
    )


def project_risk(uow: HospitalFeedUnitOfWork, event: ScoreChanged) -> None:
    """The patient's risk as scoring last scored it: the newest `occurred_at` wins, so a
    late or replayed older score never overwrites a newer one."""
    if event.score not in STORE_INTEGER:
        raise RejectedEvent("a score outside the range the store can hold")
    uow.risks.record(
        {
            "nhs_number": event.nhs_number,
            "band": event.band,
            "score": event.score,
            "model_version": single_line(event.model_version)[: limits.SHORT_TEXT],
            # ASCII JSON: NUL and lone surrogates are escaped, so every store keeps it.
            "reasons": json.dumps([reason.model_dump() for reason in event.reasons]),
            "scored_at": fact_time(event.occurred_at, uow.clock()),
            "event_id": event.event_id,
        }
    )


def project_caseload(uow: HospitalFeedUnitOfWork, event: ReferralEvent) -> None:
    """The patient's referral status per service: the newest `occurred_at` wins."""
    uow.caseloads.record(
        {
            "nhs_number": event.nhs_number,
            "service": event.service,
            "referral_id": event.referral_id,
            "status": event.status,
            "practice_ods": single_line(event.practice_ods)[: limits.ODS_CODE],
            "updated_at": fact_time(event.occurred_at, uow.clock()),
            "event_id": event.event_id,
        }
    )


def acknowledge_alert(uow: HospitalFeedUnitOfWork, command: AcknowledgeAlert) -> bool:
    """Seen, or actioned with an outcome (and so seen): the first who and when stay. False
    when the practice has no such alert: another practice's alert is not told apart."""
    outcome = command.outcome.value if command.outcome is not None else None
    user = single_line(command.user)[:100]  # the columns' size
    found = uow.alerts.acknowledge(
        command.practice_ods, command.alert_id, user, uow.clock(), outcome
    )
    if found:
        uow.commit()
        log.info("alert acknowledged", alert_id=command.alert_id, action=command.action)
    return found
