"""Read models for HTTP: JSON-ready referrals, straight from the store."""

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Uuid
from sqlmodel import Session

from ensemble_runtime.db import UtcDateTime
from ensemble_runtime.prepared import Row
from referral.adapters.repository import (
    MAX_LISTED,
    REFERRAL_COLUMNS,
    REFERRAL_FIELDS,
    REFERRALS,
    NoteRepository,
    ReferralRepository,
    RegistrationRepository,
    referral_values,
)
from referral.domain.referral import Referral
from referral.domain.registration import may_see


def _json(value: object) -> object:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def referral_json(referral: Referral) -> dict[str, Any]:
    """Every field of the referral; ids as strings, times as ISO 8601 with their UTC offset.
    (No `asdict`: its deep copy was most of a listing's time, and the values are immutable.)"""
    return {name: _json(value) for name, value in referral_values(referral).items()}


def _renderer(column: str) -> Callable[[Any], object] | None:
    """How `_json` renders the values of a referral column (by its type), None: as it is."""
    kind = REFERRALS.c[column].type
    if isinstance(kind, Uuid):
        return str
    return datetime.isoformat if isinstance(kind, UtcDateTime) else None


# Per field, in referral_json's order: its place in a row of `select(REFERRALS)` and renderer.
_ROW_FIELDS = tuple(
    (name, REFERRAL_COLUMNS.index(name), _renderer(name)) for name in REFERRAL_FIELDS
)


def row_json(row: Row) -> dict[str, Any]:
    """`referral_json` of the referral in a row of `select(REFERRALS)`, without building it:
    a listing renders each row once (a domain object and its dict per row were most of a
    poll's time)."""
    answer: dict[str, Any] = {}
    for name, index, render in _ROW_FIELDS:
        value = row[index]
        answer[name] = value if render is None or value is None else render(value)
    return answer


def referral(session: Session, referral_id: UUID) -> dict[str, Any] | None:
    found = ReferralRepository(session).get(referral_id)
    return None if found is None else referral_json(found)


def referrals(
    session: Session,
    nhs_number: str | None = None,
    status: str | None = None,
    practice_ods: str | None = None,
    limit: int = MAX_LISTED,
) -> dict[str, Any]:
    """`{"referrals": [...]}`, oldest first, at most `limit` (and never more than MAX_LISTED)."""
    found = ReferralRepository(session).find_rows(
        nhs_number=nhs_number, status=status, practice_ods=practice_ods, limit=limit
    )
    return {"referrals": [row_json(row) for row in found]}


def practice_referrals(
    session: Session, practice_ods: str, status: str | None = None, limit: int = MAX_LISTED
) -> dict[str, Any]:
    """What a practice may see: its own referrals of patients registered with it, or of
    patients whose registration referral does not know. A patient who has since been seen
    registered elsewhere drops out of the list (staff still see everything)."""
    found = ReferralRepository(session).find_rows(
        status=status, visible_to=practice_ods, limit=limit
    )
    return {"referrals": [row_json(row) for row in found]}


# Untriaged referrals come first (they have no priority until someone triages them), then
# by priority, then by the deadline of the clock that runs.
WORKLIST_RANK = {None: 0, "urgent": 1, "high": 2, "routine": 3}


def worklist(session: Session, service: str, limit: int = MAX_LISTED) -> dict[str, Any]:
    """`{"referrals": [...]}`: the service's open referrals not yet active, by priority then
    SLA due time."""
    waiting = ReferralRepository(session).waiting(service, limit)
    ranked = sorted(waiting, key=lambda r: (WORKLIST_RANK[r.priority], r.due_by))
    return {"referrals": [referral_json(r) for r in ranked]}


def notes(session: Session, referral_id: UUID, practice_ods: str | None) -> dict[str, Any] | None:
    """`{"notes": [...]}` oldest first, or None when the caller may not see the referral
    (staff: `practice_ods` None)."""
    referral = ReferralRepository(session).get(referral_id)
    if referral is None:
        return None
    registered = RegistrationRepository(session).practice_of(referral.nhs_number)
    if not may_see(referral.practice_ods, practice_ods, registered):
        return None
    found = NoteRepository(session).of(referral_id)
    return {"notes": [{name: _json(value) for name, value in n.items()} for n in found]}
