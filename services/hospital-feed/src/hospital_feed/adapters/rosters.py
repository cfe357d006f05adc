"""Rosters, their audited uploads, and the alerts nobody could be told of (issue 9).

`roster_entries` (orm.RosterEntry) holds who follows whom; every upload is one row of
`roster_uploads`, written in the upload's own transaction. `unrouted_alerts` keeps each
encounter or hot onboarding that had no recipient, once per event. Looking up a patient's
roster recipients runs for every alert, so it is a prepared Core statement on the
`ix_roster_entries_patient` index; the rest are rare paths.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, Text, bindparam, delete, false, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, Session, SQLModel

from ensemble_runtime.db import UtcDateTime, core_sql, serialize_on
from ensemble_runtime.prepared import Prepared
from hospital_feed.adapters.access import USERS
from hospital_feed.adapters.orm import RosterEntry

MAX_LIST = 1000  # rows per page of a roster listing
_CHUNK = 500  # NHS numbers per IN (...) list: far below every store's parameter limit


class RosterUpload(SQLModel, table=True):
    """One roster upload: who, for which recipients, how, and what it did (never the NHS
    numbers: those are in `roster_entries`)."""

    __tablename__ = "roster_uploads"

    id: int | None = Field(default=None, primary_key=True)
    uploaded_at: datetime = Field(sa_type=UtcDateTime)
    uploaded_by: str = Field(max_length=100)  # the caller's user (a staff or practice user)
    caller: str = Field(max_length=20)  # practice, staff or cli
    mode: str = Field(max_length=10)  # replace, add, remove
    recipients: str = Field(sa_type=Text)  # the codes it was for, comma-separated
    rows: int  # data rows read, rejected ones included
    added: int
    removed: int
    unchanged: int
    rejected: int
    # False when nothing was done as asked: every row was rejected (a replace then leaves
    # the roster as it was rather than wiping it).
    applied: bool = Field(sa_column_kwargs={"server_default": false()})


class UnroutedAlert(SQLModel, table=True):
    """An event that would have alerted someone but had no recipient: no usable PD1-3
    practice and no roster listing the patient. Kept once per event; a roster that lists the
    patient later does not re-send it."""

    __tablename__ = "unrouted_alerts"

    id: int | None = Field(default=None, primary_key=True)
    event_id: UUID = Field(unique=True)
    kind: str = Field(max_length=30)
    sending_facility: str = Field(default="", max_length=50)
    reason: str = Field(max_length=30)
    nhs_number: str = Field(max_length=10)  # kept for staff in the store; never listed
    event_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    recorded_at: datetime = Field(sa_type=UtcDateTime)


ROSTER = cast(Table, RosterEntry.__table__)  # type: ignore[attr-defined]
UPLOADS = cast(Table, RosterUpload.__table__)  # type: ignore[attr-defined]
UNROUTED = cast(Table, UnroutedAlert.__table__)  # type: ignore[attr-defined]

# Read for every encounter the alerts consumer projects: prepared (ADR 7).
_RECIPIENTS_OF = Prepared(
    select(ROSTER.c.recipient)
    .where(ROSTER.c.nhs_number == bindparam("patient"))
    .order_by(ROSTER.c.recipient)
)
_NUMBERS_OF = select(ROSTER.c.nhs_number).where(ROSTER.c.recipient == bindparam("recipient"))
_INSERT_ENTRY = insert(ROSTER)
_DELETE_ENTRIES = delete(ROSTER).where(
    ROSTER.c.recipient == bindparam("recipient"),
    ROSTER.c.nhs_number.in_(bindparam("numbers", expanding=True)),
)
_RECIPIENTS_WITH_USERS = (
    select(USERS.c.practice_ods)
    .where(USERS.c.practice_ods.in_(bindparam("codes", expanding=True)))
    .distinct()
)
_RECORD_UPLOAD = insert(UPLOADS)
_ROSTER_SIZE = (
    select(func.count()).select_from(ROSTER).where(ROSTER.c.recipient == bindparam("recipient"))
)
_ROSTER_PAGE = (
    select(ROSTER.c.nhs_number, ROSTER.c.added_at, ROSTER.c.added_by)
    .where(ROSTER.c.recipient == bindparam("recipient"), ROSTER.c.nhs_number > bindparam("after"))
    .order_by(ROSTER.c.nhs_number)
    .limit(bindparam("limit"))
)
# RETURNING says whether the row is new (rowcount does not, with psycopg's implicit RETURNING).
_RECORD_UNROUTED = {
    name: dialect.insert(UNROUTED)
    .on_conflict_do_nothing(index_elements=["event_id"])
    .returning(UNROUTED.c.id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}


def _chunks(numbers: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(numbers)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


class RosterRepository:
    """Who follows which patients, and the uploads that said so."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def recipients_of(self, nhs_number: str) -> list[str]:
        """Every recipient whose roster lists the patient, in code order."""
        found = _RECIPIENTS_OF.execute(self._session, {"patient": nhs_number})
        return [str(recipient) for (recipient,) in found.rows]

    def numbers_of(self, recipient: str) -> set[str]:
        """The recipient's roster, held until the transaction ends: uploads to one roster
        run one at a time (PostgreSQL: an advisory lock; SQLite has one writer anyway)."""
        serialize_on(self._session, f"hospital_feed.roster.{recipient}")
        found = core_sql(self._session).execute(_NUMBERS_OF, {"recipient": recipient})
        return {str(number) for number in found.scalars()}

    def add(self, recipient: str, numbers: Iterable[str], added_by: str, now: datetime) -> None:
        rows = [
            {"recipient": recipient, "nhs_number": n, "added_at": now, "added_by": added_by}
            for n in sorted(numbers)
        ]
        if rows:
            core_sql(self._session).execute(_INSERT_ENTRY, rows)

    def remove(self, recipient: str, numbers: Iterable[str]) -> None:
        for chunk in _chunks(numbers):
            core_sql(self._session).execute(
                _DELETE_ENTRIES, {"recipient": recipient, "numbers": chunk}
            )

    def recipients_with_users(self, codes: Iterable[str]) -> set[str]:
        """Those of `codes` that have a practice user in this store."""
        wanted = sorted(set(codes))
        if not wanted:
            return set()
        found = core_sql(self._session).execute(_RECIPIENTS_WITH_USERS, {"codes": wanted})
        return {str(code) for code in found.scalars()}

    def page(self, recipient: str, after: str, limit: int) -> dict[str, Any]:
        """As `roster_page` shows it (for the access CLI)."""
        return roster_page(self._session, recipient, after, limit)

    def record_upload(self, values: Mapping[str, Any]) -> None:
        """One row of `roster_uploads` (every column but `id`)."""
        core_sql(self._session).execute(_RECORD_UPLOAD, dict(values))


class UnroutedRepository:
    """Events with no recipient, each kept once."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._record = _RECORD_UNROUTED[session.get_bind().dialect.name]

    def record(self, values: Mapping[str, Any]) -> bool:
        """Keep the event (every column of `UnroutedAlert` but `id`) unless it is kept
        already; True when it is new."""
        done = core_sql(self._session).execute(self._record, dict(values))
        return done.first() is not None


# --- read models (HTTP and the CLI) -----------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def roster_page(session: Session, recipient: str, after: str, limit: int) -> dict[str, Any]:
    """The recipient's roster size, and its entries after the NHS number `after` (in NHS
    number order; "" from the start), at most `limit`."""
    sql = core_sql(session)
    count = sql.execute(_ROSTER_SIZE, {"recipient": recipient}).scalar_one()
    rows = sql.execute(
        _ROSTER_PAGE, {"recipient": recipient, "after": after, "limit": min(limit, MAX_LIST)}
    ).all()
    entries = [
        {"nhs_number": row.nhs_number, "added_at": _iso(row.added_at), "added_by": row.added_by}
        for row in rows
    ]
    return {
        "recipient": recipient,
        "count": int(count),
        "entries": entries,
        "next_after": entries[-1]["nhs_number"] if len(entries) == limit else None,
    }


def roster_uploads(session: Session, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Uploads newest first, those with ids below `before` when given."""
    query = select(UPLOADS)
    if before is not None:
        query = query.where(UPLOADS.c.id < before)
    rows = core_sql(session).execute(query.order_by(UPLOADS.c.id.desc()).limit(limit)).all()
    return [
        {
            "upload_id": row.id,
            "uploaded_at": _iso(row.uploaded_at),
            "uploaded_by": row.uploaded_by,
            "caller": row.caller,
            "mode": row.mode,
            "recipients": [code for code in row.recipients.split(",") if code],
            "rows": row.rows,
            "added": row.added,
            "removed": row.removed,
            "unchanged": row.unchanged,
            "rejected": row.rejected,
            "applied": row.applied,
        }
        for row in rows
    ]


def unrouted_alerts(session: Session, limit: int) -> dict[str, Any]:
    """How many events had no recipient, and the newest of them (never the NHS number)."""
    sql = core_sql(session)
    count = sql.execute(select(func.count()).select_from(UNROUTED)).scalar_one()
    shown = [c for c in UNROUTED.c if c.name != "nhs_number"]
    rows = sql.execute(select(*shown).order_by(UNROUTED.c.id.desc()).limit(limit)).all()
    newest = [
        {
            "event_id": str(row.event_id),
            "kind": row.kind,
            "sending_facility": row.sending_facility,
            "reason": row.reason,
            "event_at": _iso(row.event_at),
            "recorded_at": _iso(row.recorded_at),
        }
        for row in rows
    ]
    return {"count": int(count), "newest": newest}
