"""Notes per referral: free text that stays in referral's store (never on a topic, never in
a log line: only ids and counts are logged)."""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import structlog

from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.domain.registration import may_see
from referral.service_layer.commands import AddNote

log = structlog.get_logger(__name__)
NOTE_LENGTH = 4000  # the column's size


class NotYours(LookupError):
    """No such referral, or one the calling practice may not see: told apart by nobody."""

    def __init__(self) -> None:
        super().__init__("no such referral")


def new_note(
    referral_id: UUID,
    now: datetime,
    *,
    text: str,
    author: str,
    practice_ods: str | None,
    kind: str = "note",
) -> dict[str, Any]:
    return {
        "note_id": uuid4(),
        "referral_id": referral_id,
        "kind": kind,
        "author": author[:100],
        "practice_ods": practice_ods,
        "text": text[:NOTE_LENGTH],
        "created_at": now,
    }


def add_note(uow: ReferralUnitOfWork, command: AddNote) -> dict[str, Any]:
    referral = uow.referrals.get(command.referral_id)
    registered = None if referral is None else uow.registrations.practice_of(referral.nhs_number)
    if referral is None or not may_see(referral.practice_ods, command.practice_ods, registered):
        raise NotYours
    note = new_note(
        command.referral_id,
        uow.clock(),
        text=command.text,
        author=command.author,
        practice_ods=command.practice_ods,
    )
    uow.notes.add(note)
    uow.commit()
    log.info("note added", referral_id=str(command.referral_id))
    return note
