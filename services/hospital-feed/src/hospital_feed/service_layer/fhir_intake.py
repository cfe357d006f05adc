"""FHIR R4 Encounter intake: each Encounter is mapped to the ADT message it means
(domain/fhir_encounter.py) and judged, stored and published by the same rules as HL7 v2
(`handlers.judge` and `handlers.record_message`): resends, business duplicates, holds for
an unusable NHS number, visit state and the outbox work unchanged. The raw JSON is stored
as HL7 text is, with `content_format` fhir-json, so reprocessing reads it as FHIR again.

A batch commits every entry, each with its own outcome; a transaction commits only when no
entry is refused (a held entry is not refused: HL7 answers it AA too), else nothing at all.
"""

from dataclasses import dataclass, replace

import structlog

from ensemble_runtime.definition import Command
from hospital_feed.adapters.orm import ContentFormat, MessageStatus
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.domain.fhir_encounter import read_encounter
from hospital_feed.domain.fhir_resource import FhirError
from hospital_feed.domain.hl7_message import AdtMessage
from hospital_feed.domain.stored_text import digest
from hospital_feed.service_layer import handlers
from hospital_feed.service_layer.handlers import worded_for_fhir

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class FhirEntry:
    """One Encounter's JSON text, and its Bundle entry's fullUrl (its control id) if any."""

    raw: str
    full_url: str | None = None


@dataclass(frozen=True)
class EntryOutcome:
    """What became of one Encounter, as FHIR answers it (an OperationOutcome issue)."""

    http_status: int  # 200 accepted or duplicate, 202 held, 4xx refused
    status: str  # the stored message's status
    severity: str  # information, warning, error
    code: str  # OperationOutcome issue type (informational, invalid, forbidden, ...)
    diagnostics: str  # never patient data
    expression: str | None = None  # FHIRPath of the element at fault
    message_id: int | None = None  # the stored message (None when rolled back)
    resend: bool = False  # the answer of an earlier, identical message: nothing new stored

    @property
    def refused(self) -> bool:
        return self.http_status >= 400


@dataclass(frozen=True)
class FhirReceived:
    outcomes: tuple[EntryOutcome, ...]
    committed: bool  # False: a transaction refused whole, nothing stored


@dataclass(frozen=True)
class ReceiveFhir(Command[FhirReceived]):
    """Encounters from an authenticated sender: one (`bundle_type` None), or a Bundle's
    entries (batch or transaction). `resubmitted_from`: a staff correction of that message."""

    sender: str
    entries: tuple[FhirEntry, ...]
    bundle_type: str | None = None
    resubmitted_from: int | None = None
    rerun_on_conflict = True  # a concurrent twin (resend, business key) is seen on the rerun


def receive_fhir(uow: HospitalFeedUnitOfWork, command: ReceiveFhir) -> FhirReceived:
    """Judge and store each Encounter; commit (unless a transaction has a refused entry)."""
    outcomes = tuple(
        _receive_entry(uow, command.sender, entry, command.resubmitted_from)
        for entry in command.entries
    )
    if command.bundle_type == "transaction" and any(o.refused for o in outcomes):
        refused = sum(o.refused for o in outcomes)
        log.info("fhir transaction refused", entries=len(outcomes), refused=refused)
        return FhirReceived(tuple(replace(o, message_id=None) for o in outcomes), False)
    if not all(o.resend for o in outcomes):  # (resends alone stage nothing to commit)
        uow.commit()  # only now may the sender hear 200
    return FhirReceived(outcomes, True)


def _receive_entry(
    uow: HospitalFeedUnitOfWork, sender: str, entry: FhirEntry, resubmitted_from: int | None
) -> EntryOutcome:
    raw = entry.raw
    reading = read_encounter(raw, sender, entry.full_url)
    header, parsed = reading.header, reading.parsed
    who, facility, control_id, _ = handlers._identity(sender, header)
    earlier = uow.messages.resend_of(who, facility, control_id, digest(raw))
    if earlier is not None:  # a resend: the same answer, no new effect
        log.info("fhir resend answered again", message_id=earlier.id, status=earlier.status)
        verdict = handlers.Verdict(
            MessageStatus(earlier.status), earlier.ack_code, earlier.error or "", earlier.error_code
        )
        return replace(_outcome(verdict, parsed, earlier.id), resend=True)
    verdict = handlers.judge(uow, sender, raw, header, parsed)
    verdict = worded_for_fhir(verdict, parsed)
    message_id = handlers.record_message(
        uow,
        sender,
        raw,
        header,
        parsed,
        verdict,
        resubmitted_from=resubmitted_from,
        content_format=ContentFormat.FHIR_JSON,
    )
    return _outcome(verdict, parsed, message_id)


def _outcome(
    verdict: handlers.Verdict, parsed: AdtMessage | Exception, message_id: int
) -> EntryOutcome:
    """The FHIR answer to a verdict: refusals keep the mapper's status, code and element."""
    status, reason = verdict.status, verdict.reason
    if verdict.ack_code == "AA":  # (a resend of a message staff closed since: as then)
        if status is MessageStatus.HELD:
            where = "Encounter.subject"
            return EntryOutcome(202, status, "warning", "incomplete", reason, where, message_id)
        if status is MessageStatus.DUPLICATE:
            return EntryOutcome(200, status, "information", "duplicate", reason, None, message_id)
        text = reason or "accepted"
        return EntryOutcome(200, status, "information", "informational", text, None, message_id)
    if isinstance(parsed, FhirError):
        code, where = parsed.issue_code, parsed.expression
        return EntryOutcome(parsed.http_status, status, "error", code, reason, where, message_id)
    if verdict.error_code == "204":  # the trust named is not the sender's own (as MSH-4)
        where = "Encounter.serviceProvider"
        return EntryOutcome(403, status, "error", "forbidden", reason, where, message_id)
    if verdict.error_code == "207":  # a bug: kept for staff, the sender may retry later
        return EntryOutcome(500, status, "error", "exception", reason, None, message_id)
    return EntryOutcome(422, status, "error", "processing", reason, "Encounter", message_id)


HANDLERS = {ReceiveFhir: receive_fhir}
