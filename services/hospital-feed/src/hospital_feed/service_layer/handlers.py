"""Use cases: receive an ADT message, reprocess a stored one, project encounters (and hot
onboarding) to alerts, and keep the risk and caseload projections the alerts show.

Every message gets an answer and is stored, whatever it holds: parsing and building the
event can only end in a verdict (AA/AE/AR), never in an exception out of the handler. Only
a store failure escapes, and then nothing was committed and no ACK is sent (the sender
resends).
"""

import json
from dataclasses import dataclass, replace

import structlog
from pydantic import ValidationError

from ensemble_contracts import limits
from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scoring import HotOnboarding, HotOnboardingEventType, ScoreChanged
from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_runtime.consumer import RejectedEvent
from hospital_feed.adapters.orm import (
    AlertStatus,
    ContentFormat,
    Hl7Message,
    MessageStatus,
    RecipientReason,
)
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.domain.ack import build_ack
from hospital_feed.domain.encounters import (
    REOPENS,
    RETRACTS,
    RETRACTS_NEWEST_ONLY,
    AlertKind,
    alert_kind,
    business_key,
    event_time,
    event_type_for,
    has_died,
    is_emergency,
    is_history,
    oversized_field,
    visit_key,
)
from hospital_feed.domain.fhir_encounter import held_reason, read_encounter
from hospital_feed.domain.hl7_message import AdtMessage, Header, Hl7Error, parse_adt, parse_header
from hospital_feed.domain.message_search import message_hmac
from hospital_feed.domain.nhs_number import HELD_REASONS, NhsNumberStatus, classify
from hospital_feed.domain.projections import fact_time
from hospital_feed.domain.stored_text import digest, restored, single_line, storable
from hospital_feed.service_layer import routing, visits
from hospital_feed.service_layer.commands import (
    AcknowledgeAlert,
    ReceiveHl7,
    ReceiveOversized,
    Reprocessed,
    ReprocessMessage,
)

PRODUCER = "hospital-feed"
REPROCESSABLE = frozenset({MessageStatus.REJECTED, MessageStatus.HELD})
SENDER_NOT_ALLOWED = "this sender may not send messages for the facility in MSH-4"
NUL_NOT_ALLOWED = "the message contains NUL characters (0x00), which HL7 v2 text may not carry"
NOT_PROCESSED = "the message could not be processed; it is kept for staff to look at"
STORE_INTEGER = range(-(2**31), 2**31)  # what an INTEGER column holds on every store
# The consumer group projecting this service's own encounters to alerts, and the types it
# projects (the others it ignores). Its handler runs where each encounter is published
# (`_stage_event`), when `alerts_at_intake` is on.
ALERTS_GROUP = "hospital-feed.alerts"
ALERT_EVENT_TYPES = (
    EncounterEventType.ADMITTED,
    EncounterEventType.TRANSFERRED,
    EncounterEventType.DISCHARGED,
    EncounterEventType.AE_ATTENDANCE,
    EncounterEventType.ADMISSION_CANCELLED,
    EncounterEventType.DISCHARGE_CANCELLED,
    # Schema version 3 (ADR 9): minor alerts; patient.merged alerts no one.
    EncounterEventType.TRANSFER_CANCELLED,
    EncounterEventType.LEAVE_STARTED,
    EncounterEventType.LEAVE_ENDED,
    EncounterEventType.CLASS_CHANGED,
    EncounterEventType.PRACTICE_CHANGED,
    EncounterEventType.MERGED,  # no alert: taken and let go
)

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
    # Published after `event`, in order: what the visit's state adds (service_layer/visits.py).
    more_events: tuple[EncounterEvent, ...] = ()


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


@dataclass(frozen=True)
class _Reading:
    """A message parsed once: the header to answer with, and the ADT or what stopped it."""

    header: Header | None
    parsed: AdtMessage | Exception


def _read(raw: str) -> _Reading:
    """The full parse, whose header answers; only a message it refuses has its header read
    on its own (so even one too broken to understand is answered with its control id)."""
    try:
        message = parse_adt(raw)
    except Exception as error:  # judged later, as assess() would raise it
        return _Reading(_readable_header(raw), error)
    return _Reading(message.header, message)


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
    reading = _read(raw)
    header = reading.header
    sender, facility, control_id, _trigger = _identity(command.sender, header)
    earlier = uow.messages.resend_of(sender, facility, control_id, content_sha256)
    if earlier is not None:  # a resend: the same answer, no new effect
        log.info("hl7 resend answered again", message_id=earlier.id, ack_code=earlier.ack_code)
        return build_ack(header, earlier.ack_code, earlier.error or "", earlier.error_code)

    verdict = judge(uow, sender, raw, header, reading.parsed)
    record_message(
        uow,
        sender,
        raw,
        header,
        reading.parsed,
        verdict,
        charset=command.charset,
        resubmitted_from=command.resubmitted_from,
    )
    uow.commit()  # only now may the sender hear AA
    return build_ack(header, verdict.ack_code, verdict.reason, verdict.error_code)


def receive_oversized(uow: HospitalFeedUnitOfWork, command: ReceiveOversized) -> str:
    """Store what was kept of a message over the size limit (its head), rejected: staff see
    it and may discard it or resubmit it whole; a resend gets the same AR."""
    head = command.head
    header = _readable_header(head)
    sender, facility, control_id, _trigger = _identity(command.sender, header)
    reason = f"message larger than {command.limit} bytes"
    verdict = Verdict(MessageStatus.REJECTED, "AR", reason, "102")
    if uow.messages.resend_of(sender, facility, control_id, digest(head)) is None:
        record_message(
            uow,
            sender,
            head,
            header,
            None,
            verdict,
            charset=command.charset,
            content_format=ContentFormat.HL7V2_TRUNCATED,
        )
        uow.commit()
    return build_ack(header, verdict.ack_code, verdict.reason, verdict.error_code)


def record_message(
    uow: HospitalFeedUnitOfWork,
    sender: str,
    raw: str,
    header: Header | None,
    parsed: AdtMessage | Exception | None,
    verdict: Verdict,
    *,
    charset: str = "utf-8",
    resubmitted_from: int | None = None,
    content_format: str = ContentFormat.HL7V2,
) -> int:
    """Store a judged message and stage its event, not yet committed: what every intake
    (HL7 v2 here, FHIR JSON in fhir_intake.py) writes for a message. Returns its id."""
    sender, facility, control_id, trigger = _identity(sender, header)
    text, escaped = storable(raw)
    _stage_event(uow, verdict)
    message_id = uow.messages.insert(
        {
            "sender": sender,
            "sending_facility": facility,
            "control_id": control_id,
            "trigger": trigger,
            "content_sha256": digest(raw),
            "content_format": content_format,
            "raw": text,
            "raw_escaped": escaped,
            "raw_charset": single_line(charset)[:20],
            "received_at": uow.clock(),
            "reprocessed_at": None,
            "nhs_number_hmac": message_hmac(
                uow.settings.message_search_hmac_key(),
                raw,
                parsed if isinstance(parsed, AdtMessage) else None,
            ),
            "resubmitted_from": resubmitted_from,
            **_verdict_columns(verdict),
        }
    )
    confirmed = header is not None and header.confirmed
    uow.after_commit(
        lambda: _log_received(message_id, verdict, confirmed, facility, control_id, trigger)
    )
    return message_id


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


def judge(
    uow: HospitalFeedUnitOfWork,
    sender: str,
    raw: str,
    header: Header | None,
    parsed: AdtMessage | Exception | None = None,
) -> Verdict:
    """Decide a message's fate. Reads the store (for business duplicates); an accepted one is
    then applied to its visit and patient (service_layer/visits.py), which decides what it
    publishes. `parsed`: `parse_adt(raw)` already done (its result, or what it raised)."""
    if header is not None and header.sending_facility and header.sending_facility != sender.upper():
        # Checked before the body is read: a sender's token covers only its own MSH-4.
        return Verdict(MessageStatus.REJECTED, "AR", SENDER_NOT_ALLOWED, "204")
    if "\x00" in raw:
        return Verdict(MessageStatus.REJECTED, "AE" if header else "AR", NUL_NOT_ALLOWED, "102")
    try:
        verdict = assess(raw, parsed)
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
    return _reconciled(uow, verdict, raw, parsed)


def _reconciled(
    uow: HospitalFeedUnitOfWork, verdict: Verdict, raw: str, parsed: AdtMessage | Exception | None
) -> Verdict:
    """An accepted verdict after its visit's state: the events it publishes (none, when the
    state absorbs it), or held (an A40 naming no retired patient)."""
    if verdict.status is not MessageStatus.ACCEPTED:
        return verdict
    try:
        message = parsed if isinstance(parsed, AdtMessage) else parse_adt(raw)
        outcome = visits.reconcile(uow, message, verdict.event, _encounter)
    except ValidationError as error:  # names the fields, never their values
        fields = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"]})
        reason = f"the encounter does not fit {HOSPITAL_ENCOUNTERS.name}: {', '.join(fields)}"
        return Verdict(MessageStatus.REJECTED, "AE", reason, "102")
    except (AssertionError, AttributeError, KeyError, TypeError, ValueError) as error:
        # A bug, found before anything is written: keep and tell. A store error escapes.
        log.error("hl7 message could not be reconciled", error=type(error).__name__)
        return Verdict(MessageStatus.REJECTED, "AR", NOT_PROCESSED, "207")
    if outcome.held is not None:
        return Verdict(MessageStatus.HELD, "AA", outcome.held)
    first, *more = outcome.events or (None,)
    return replace(
        verdict,
        event=first,
        more_events=tuple(more),
        # Absorbed (cancelled before it arrived): published nothing, holds no business key.
        published_key=verdict.published_key if first is not None else None,
    )
    return verdict


def assess(raw: str, parsed: AdtMessage | Exception | None = None) -> Verdict:
    """The store-free part of judging: parse (unless `parsed` is that parse's outcome),
    classify, check the contract's limits, build the event. Raises Hl7Error for an
    unacceptable message."""
    if isinstance(parsed, Exception):
        raise parsed
    message = parsed if parsed is not None else parse_adt(raw)
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
    """Stage the verdict's events, first re-opening what it re-opens (so its business key is
    free again), in the transaction that stores the message; and (`alerts_at_intake`) project
    each to its alerts there too, as the alerts consumer would, so an alert is committed and
    visible when the sender hears AA. Every encounter this service publishes passes here."""
    if verdict.event is None:
        return
    if verdict.visit_key is not None and verdict.reopens:
        uow.messages.reopen(verdict.visit_key, verdict.reopens)
    for event in (verdict.event, *verdict.more_events):
        uow.publish(HOSPITAL_ENCOUNTERS, event)
        if uow.settings.alerts_at_intake:
            projects = event.event_type in ALERT_EVENT_TYPES
            uow.apply_here(ALERTS_GROUP, project_alert if projects else None, event)


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
    if record.content_format == ContentFormat.HL7V2_TRUNCATED:
        raise NotReprocessable("only the start of this oversize message was kept: resubmit it")
    raw = restored(record.raw, record.raw_escaped)
    header, parsed = _read_again(record, raw)
    verdict = judge(uow, record.sender, raw, header, parsed)
    if record.content_format == ContentFormat.FHIR_JSON:
        verdict = worded_for_fhir(verdict, parsed)
    record.reprocessed_at = uow.clock()
    record.nhs_number_hmac = message_hmac(
        uow.settings.message_search_hmac_key(),
        raw,
        parsed if isinstance(parsed, AdtMessage) else None,
    )
    for column, value in _verdict_columns(verdict).items():
        setattr(record, column, value)
    _stage_event(uow, verdict)
    uow.messages.add(record)
    uow.commit()
    log.info("hl7 message reprocessed", message_id=message_id, status=verdict.status)
    assert record.id is not None
    return Reprocessed(record.id, verdict.status, verdict.ack_code, verdict.reason or None)


def _read_again(
    record: Hl7Message, raw: str
) -> tuple[Header | None, AdtMessage | Exception | None]:
    """A stored message's header and parse, read as it was received: an HL7 v2 message's
    header (judging parses the rest), or a FHIR Encounter mapped again under its stored id."""
    if record.content_format == ContentFormat.FHIR_JSON:
        reading = read_encounter(raw, record.sender, control_id=record.control_id or None)
        return reading.header, reading.parsed
    return _readable_header(raw), None


def worded_for_fhir(verdict: Verdict, parsed: AdtMessage | Exception | None) -> Verdict:
    """A held Encounter's reason names where FHIR carries the NHS number, not PID-3."""
    reason = held_reason(parsed.nhs_number) if isinstance(parsed, AdtMessage) else None
    if verdict.status is MessageStatus.HELD and reason is not None:
        return replace(verdict, reason=reason)
    return verdict


def project_alert(uow: HospitalFeedUnitOfWork, event: EncounterEvent) -> None:
    """One alert per encounter event for each recipient, never two: the registered practice
    (PD1-3) and every recipient whose roster lists the patient (service_layer/routing.py).

    A cancellation retracts every recipient's earlier alert for the same patient and visit,
    and adds an alert of its own for each of them, so all who were told see the correction.
    An event with no recipient is kept once as unrouted and counted; nobody is told later.
    """
    kind = alert_kind(event.event_type, event.died)
    if kind is None or is_history(event.event_type, event.event_at, event.discharged_at):
        return  # a merge, a type this version does not know, or an admission already over
    told, nobody = routing.recipients(uow, event.practice_ods, event.nhs_number)
    # Text from the topic as every store can keep it (no NUL), within the columns.
    visit_number = single_line(event.visit_number)[:50] if event.visit_number else None
    retracts = RETRACTS.get(event.event_type, ())
    earlier = (
        uow.alerts.active_to_retract(event.nhs_number, visit_number, retracts)
        if retracts and visit_number is not None
        else []
    )
    if earlier and event.event_type in RETRACTS_NEWEST_ONLY:  # only the event it undoes
        newest = max(earlier, key=lambda alert: alert.alert_id or 0).encounter_event_id
        earlier = [alert for alert in earlier if alert.encounter_event_id == newest]
    for alert in earlier:
        told.setdefault(alert.practice_ods, RecipientReason(alert.recipient_reason))
    if routing.already_told(uow, told, event.event_id):
        return
    facility = single_line(event.sending_facility)[:50]
    if not told:
        routing.record_unrouted(
            uow, event.event_id, kind, nobody, event.nhs_number, facility, event.event_at
        )
        return
    for alert in earlier:
        alert.status = AlertStatus.RETRACTED
        alert.retracted_by_event_id = event.event_id
        uow.alerts.add(alert)
    location = single_line(event.location)[:200] if event.location else None
    disposition = event.discharge_disposition
    disposition = single_line(disposition)[: limits.CODE] if disposition else None
    _alert_each(
        uow,
        told,
        event.nhs_number,
        kind,
        event.event_id,
        sending_facility=facility,
        visit_number=visit_number,
        location=location or None,
        event_at=event.event_at,
        emergency=event.emergency,
        disposition=disposition or None,
    )


def _new_alert(
    uow: HospitalFeedUnitOfWork,
    recipient: str,
    nhs_number: str,
    kind: str,
    event_id: object,
    **details: object,
) -> dict[str, object]:
    """The columns of a new, active alert for one recipient (told as the registered practice
    unless `recipient_reason` says otherwise); `details` are what the event says (facility,
    visit, location, time, emergency, disposition)."""
    return {
        "practice_ods": recipient,
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


def _alert_each(
    uow: HospitalFeedUnitOfWork,
    told: dict[str, RecipientReason],
    nhs_number: str,
    kind: str,
    event_id: object,
    **details: object,
) -> None:
    """A new alert for each recipient told, with the reason it is told."""
    for recipient, reason in told.items():
        alert = _new_alert(
            uow, recipient, nhs_number, kind, event_id, recipient_reason=reason, **details
        )
        uow.alerts.insert(alert)


def project_hot_onboarding(uow: HospitalFeedUnitOfWork, event: HotOnboarding) -> None:
    """A triggered hot onboarding is one alert for each recipient (the patient's practice
    and the rosters listing the patient), never two; a withdrawn one retracts every
    recipient's active hot-onboarding alert for the patient. With no recipient it is kept
    as unrouted and counted."""
    if event.event_type == HotOnboardingEventType.WITHDRAWN:
        uow.alerts.retract_kind(event.nhs_number, AlertKind.HOT_ONBOARDING, event.event_id)
        return
    told, nobody = routing.recipients(uow, event.practice_ods, event.nhs_number)
    if routing.already_told(uow, told, event.event_id):
        return
    # Its own event id; no facility, visit or location: scoring proposed it, no trust sent it.
    event_at = fact_time(event.occurred_at, uow.clock())
    if not told:
        kind = AlertKind.HOT_ONBOARDING
        routing.record_unrouted(uow, event.event_id, kind, nobody, event.nhs_number, "", event_at)
        return
    _alert_each(
        uow, told, event.nhs_number, AlertKind.HOT_ONBOARDING, event.event_id, event_at=event_at
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
