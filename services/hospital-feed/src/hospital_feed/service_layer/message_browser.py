"""The staff message browser's commands: show one stored message (its raw text and ACK),
resubmit it corrected, discard it, rerun every rejected or held message a filter matches,
and recompute the NHS number hashes after a key change.

Each view of a raw message, each resubmission and each discard is audited in the store
(`message_audit`: who, which message, when, through what), in the same transaction as what
it did. A resubmission goes through `receive_hl7` itself: the corrected text gets a verdict,
a stored row linked to the original (`resubmitted_from`) and, if accepted, its event; the
original keeps its text and answer and is closed (status `resubmitted`), all in one commit.
"""

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from ensemble_runtime.definition import Command
from hospital_feed.adapters.message_browser import listed_view
from hospital_feed.adapters.orm import ContentFormat, Hl7Message, MessageStatus
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.domain.ack import build_ack
from hospital_feed.domain.hl7_message import Hl7Error, parse_header
from hospital_feed.domain.message_search import MessageFilter, message_hmac
from hospital_feed.domain.stored_text import digest, restored
from hospital_feed.service_layer import fhir_intake, handlers
from hospital_feed.service_layer.commands import ReceiveHl7, ReprocessMessage
from hospital_feed.service_layer.fhir_intake import ReceiveFhir

CLOSABLE = handlers.REPROCESSABLE  # only rejected or held messages are corrected or dropped
MAX_BULK = 500  # messages rerun per call of ReprocessMatching
MAX_REHASH = 2000
MAX_REASON = 500  # the closed_reason column
CHANNELS = frozenset({"api", "page", "cli"})

log = structlog.get_logger(__name__)


class NotClosable(Exception):
    """The message cannot be resubmitted or discarded (the text says why, without content)."""


@dataclass(frozen=True)
class StaffAction:
    """Who asks: the staff principal (or a session's user) and where from (api, page, cli)."""

    actor: str
    channel: str

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS or not self.actor.strip():
            raise ValueError("a staff action names its actor and a channel: api, page or cli")


@dataclass(frozen=True)
class MessageShown:
    message: dict[str, Any]  # what a search lists of it
    raw: str  # as received (restored from its stored form)
    raw_escaped: bool
    raw_charset: str
    ack: str  # the ACK its stored answer gives, rebuilt (see show_message)
    closed_reason: str | None
    resubmissions: list[int]  # the corrections made of it, oldest first


@dataclass(frozen=True)
class ShowMessage(Command[MessageShown | None]):
    """One stored message with its raw text and ACK, audited; None when there is none."""

    message_id: int
    by: StaffAction


@dataclass(frozen=True)
class Resubmitted:
    original_id: int
    message_id: int  # the new message
    status: str
    ack_code: str
    error: str | None
    ack: str  # what the corrected message was answered


@dataclass(frozen=True)
class ResubmitMessage(Command[Resubmitted | None]):
    """Receive `text` as a correction of a rejected or held message; None when none."""

    message_id: int
    text: str
    by: StaffAction
    note: str = ""  # why, kept on the original (optional)
    rerun_on_conflict = True


@dataclass(frozen=True)
class DiscardMessage(Command[dict[str, Any] | None]):
    """Close a rejected or held message for good, with a reason; None when there is none."""

    message_id: int
    reason: str
    by: StaffAction


@dataclass(frozen=True)
class BulkReprocessed:
    counts: dict[str, int]  # the new status of each message rerun (and `skipped`)
    processed: int
    next_after: int | None  # call again with after=<this> for more; None: no more


@dataclass(frozen=True)
class ReprocessMatching(Command[BulkReprocessed]):
    """Rerun the rejected and held messages `wanted` matches with ids above `after`, oldest
    first, at most `limit` of them, each as `reprocess` does."""

    wanted: MessageFilter
    by: StaffAction
    after: int = 0
    limit: int = 100
    rerun_on_conflict = True

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_BULK:
            raise ValueError(f"a bulk rerun takes 1 to {MAX_BULK} messages per call")


@dataclass(frozen=True)
class Rehashed:
    updated: int
    next_after: int | None


@dataclass(frozen=True)
class RehashNhsNumbers(Command[Rehashed]):
    """Recompute the NHS number hashes of messages above `after` under the current key
    (cleared when there is none): after setting or changing the key."""

    after: int = 0
    limit: int = 1000

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_REHASH:
            raise ValueError(f"a rehash takes 1 to {MAX_REHASH} messages per call")


def _closable(uow: HospitalFeedUnitOfWork, message_id: int, verb: str) -> Hl7Message | None:
    record = uow.browser.get(message_id)
    if record is not None and record.status not in CLOSABLE:
        raise NotClosable(f"message is {record.status}; only rejected or held are {verb}")
    return record


def _close(
    uow: HospitalFeedUnitOfWork,
    record: Hl7Message,
    status: str,
    by: StaffAction,
    reason: str | None,
) -> None:
    record.status = status
    record.closed_at = uow.clock()
    record.closed_by = by.actor[:100]
    record.closed_reason = reason
    uow.browser.add(record)


def show_message(uow: HospitalFeedUnitOfWork, command: ShowMessage) -> MessageShown | None:
    """The stored message and the ACK its stored answer gives, rebuilt with `build_ack`
    from its code and reason: MSH-7 is the time of that answer (received, or reprocessed:
    then it is the answer a resend now gets); our MSH-10 of the ACK sent is not kept."""
    record = uow.browser.get(command.message_id)
    if record is None:
        return None
    raw = restored(record.raw, record.raw_escaped)
    try:
        header = parse_header(raw)
    except Hl7Error:
        header = None  # answered without an MSH, as it was
    answered_at = record.reprocessed_at or record.received_at
    ack = build_ack(header, record.ack_code, record.error or "", record.error_code, answered_at)
    assert record.id is not None
    uow.browser.audit(record.id, "viewed", command.by.actor, command.by.channel, uow.clock())
    uow.commit()
    log.info("stored message viewed", message_id=record.id, channel=command.by.channel)
    return MessageShown(
        message=listed_view(record),
        raw=raw,
        raw_escaped=record.raw_escaped,
        raw_charset=record.raw_charset,
        ack=ack,
        closed_reason=record.closed_reason,
        resubmissions=uow.browser.resubmissions(record.id),
    )


def resubmit_message(uow: HospitalFeedUnitOfWork, command: ResubmitMessage) -> Resubmitted | None:
    """Receive the corrected text from the original's sender, through `receive_hl7`: its
    rules apply unchanged (MSH-4 must still be the sender's own; a business duplicate is a
    duplicate). The original is closed, and the audit row written, in its commit."""
    original = _closable(uow, command.message_id, "resubmitted")
    if original is None:
        return None
    text = command.text
    if not text.strip():
        raise NotClosable("the corrected message is empty")
    if digest(text) == original.content_sha256:
        raise NotClosable("the corrected message is the original unchanged: reprocess it instead")
    limit = uow.settings.max_message_bytes
    if len(text.encode("utf-8", "surrogatepass")) > limit:
        raise NotClosable(f"the corrected message is larger than {limit} bytes")
    assert original.id is not None
    _close(
        uow,
        original,
        MessageStatus.RESUBMITTED,
        command.by,
        command.note.strip()[:MAX_REASON] or None,
    )
    uow.browser.audit(original.id, "resubmitted", command.by.actor, command.by.channel, uow.clock())
    if original.content_format == ContentFormat.FHIR_JSON:  # a FHIR Encounter, received so
        entry = (fhir_intake.FhirEntry(text),)
        fhir = ReceiveFhir(original.sender, entry, resubmitted_from=original.id)
        answer = fhir_intake.receive_fhir(uow, fhir).outcomes[0]
        ack = f"{answer.http_status} {answer.code}: {answer.diagnostics}"
    else:
        ack = handlers.receive_hl7(
            uow, ReceiveHl7(original.sender, text, "utf-8", resubmitted_from=original.id)
        )  # commits the new message, the closed original and the audit row together
    made = uow.browser.resubmissions(original.id)
    if not made:  # receive_hl7 answered a resend and committed nothing: neither do we
        raise NotClosable("the corrected message is one already received: find that one")
    corrected = uow.browser.get(made[-1])
    assert corrected is not None and corrected.id is not None
    log.info("stored message resubmitted", message_id=original.id, new_message_id=corrected.id)
    return Resubmitted(
        original.id, corrected.id, corrected.status, corrected.ack_code, corrected.error, ack
    )


def discard_message(uow: HospitalFeedUnitOfWork, command: DiscardMessage) -> dict[str, Any] | None:
    """Close the message with the reason (kept on it, never logged): it is not rerun."""
    reason = command.reason.strip()
    if not reason:
        raise NotClosable("a discard needs a reason")
    if len(reason) > MAX_REASON:
        raise NotClosable(f"the reason is longer than {MAX_REASON} characters")
    record = _closable(uow, command.message_id, "discarded")
    if record is None:
        return None
    assert record.id is not None
    _close(uow, record, MessageStatus.DISCARDED, command.by, reason)
    uow.browser.audit(record.id, "discarded", command.by.actor, command.by.channel, uow.clock())
    uow.commit()
    log.info("stored message discarded", message_id=record.id)
    return listed_view(record)


def reprocess_matching(uow: HospitalFeedUnitOfWork, command: ReprocessMatching) -> BulkReprocessed:
    """Each message is rerun and committed on its own (with its audit row), as `reprocess`
    does; one whose status changed meanwhile is `skipped`."""
    ids = uow.browser.rerunnable(command.wanted, sorted(CLOSABLE), command.after, command.limit)
    counts: Counter[str] = Counter()
    for message_id in ids:
        by = command.by
        uow.browser.audit(message_id, "reprocessed", by.actor, by.channel, uow.clock())
        try:
            result = handlers.reprocess(uow, ReprocessMessage(message_id))  # commits
        except handlers.NotReprocessable:
            result = None
        if result is None:  # closed or gone since it was picked: not rerun, not audited
            uow.rollback()
            counts["skipped"] += 1
            continue
        counts[result.status] += 1
    next_after = ids[-1] if len(ids) == command.limit else None
    return BulkReprocessed(dict(sorted(counts.items())), len(ids), next_after)


def rehash_nhs_numbers(uow: HospitalFeedUnitOfWork, command: RehashNhsNumbers) -> Rehashed:
    key = uow.settings.message_search_hmac_key()
    rows = uow.browser.texts_after(command.after, command.limit)
    uow.browser.set_nhs_number_hmac(
        [
            (message_id, message_hmac(key, restored(raw, escaped)))
            for message_id, raw, escaped in rows
        ]
    )
    uow.commit()
    next_after = rows[-1][0] if len(rows) == command.limit else None
    return Rehashed(len(rows), next_after)


HANDLERS: Mapping[type[Any], Callable[[HospitalFeedUnitOfWork, Any], Any]] = {
    ShowMessage: show_message,
    ResubmitMessage: resubmit_message,
    DiscardMessage: discard_message,
    ReprocessMatching: reprocess_matching,
    RehashNhsNumbers: rehash_nhs_numbers,
}
