"""Referrals in and out of the store, as domain objects; the registration projection.

Every encounter records a registration, and every hot-onboarding trigger records one, looks
for an earlier proposal and an open referral and inserts its proposal, so those statements are
`Prepared` (ADR 7): compiled once, run on the session's connection, as are the listings staff
poll. Staff decisions (triage, accept, decline and the rest of the lifecycle) read their
referral prepared and save it with a prepared UPDATE of the columns they changed. Other
referrals are written through the ORM, and the rare paths (withdrawals, merges, the SLA watch)
read through it too.
"""

from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, and_, bindparam
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, or_, select

from ensemble_runtime.prepared import Prepared, Ran, Row
from referral.adapters.orm import (
    OPEN,
    PatientRegistrationRecord,
    ReferralNoteRecord,
    ReferralRecord,
)
from referral.domain.referral import Referral

MAX_LISTED = 1000
REFERRALS = cast(Table, ReferralRecord.__table__)  # type: ignore[attr-defined]
REGISTRATIONS = cast(Table, PatientRegistrationRecord.__table__)  # type: ignore[attr-defined]

# A referral row's columns, in the order `select(REFERRALS)` gives them.
REFERRAL_COLUMNS = tuple(column.key for column in REFERRALS.c)
REFERRAL_FIELDS = tuple(f.name for f in fields(Referral))
_PROPOSED_FROM = Prepared(
    core_select(REFERRALS).where(REFERRALS.c.source_event_id == bindparam("source_event_id"))
)
# OPEN is the condition of the one-open-referral index, so the store may look there.
_OPEN_FOR = Prepared(
    core_select(REFERRALS).where(
        REFERRALS.c.nhs_number == bindparam("nhs_number"),
        REFERRALS.c.practice_ods == bindparam("practice_ods"),
        REFERRALS.c.service == bindparam("service"),
        OPEN,
    )
)
_INSERT_REFERRAL = Prepared(REFERRALS.insert())
_REFERRAL_BY_ID = Prepared(
    core_select(REFERRALS).where(REFERRALS.c.referral_id == bindparam("referral_id"))
)
_PRACTICE_OF = Prepared(
    core_select(REGISTRATIONS.c.practice_ods).where(
        REGISTRATIONS.c.nhs_number == bindparam("nhs_number")
    )
)
_REGISTRATION_OF = Prepared(
    core_select(REGISTRATIONS.c.practice_ods, REGISTRATIONS.c.updated_at).where(
        REGISTRATIONS.c.nhs_number == bindparam("nhs_number")
    )
)


def _record_registration(statement: SqliteInsert | PostgresInsert) -> Any:
    """Insert the fact, or take it over the one held when it is not older and says something
    new: a fact at the same time overrides (the last one seen wins a tie), while the very
    fact already held (same practice, same time) is no write at all."""
    new, held = statement.excluded, REGISTRATIONS.c
    # An INSERT's rowcount is kept only when asked for (psycopg would give -1).
    return statement.execution_options(preserve_rowcount=True).on_conflict_do_update(
        index_elements=[held.nhs_number],
        set_={"practice_ods": new.practice_ods, "updated_at": new.updated_at},
        where=or_(
            held.updated_at < new.updated_at,
            and_(held.updated_at == new.updated_at, held.practice_ods != new.practice_ods),
        ),
    )


_RECORD_REGISTRATION = {
    "sqlite": Prepared(_record_registration(sqlite.insert(REGISTRATIONS))),
    "postgresql": Prepared(_record_registration(postgresql.insert(REGISTRATIONS))),
}


# Staff poll the proposed referrals, so each shape of listing is prepared once (ADR 7).
_LISTINGS: dict[tuple[tuple[str, ...], bool], Prepared] = {}


def _listing(filtered_by: tuple[str, ...], visible: bool) -> Prepared:
    """`find`'s SELECT for the columns it filters on (equal to the parameter of that name) and,
    when `visible`, the practice `visible_to` may see; oldest first, at most `limit`."""
    key = (filtered_by, visible)
    if key in _LISTINGS:
        return _LISTINGS[key]
    statement = core_select(REFERRALS).where(
        *(REFERRALS.c[name] == bindparam(name) for name in filtered_by)
    )
    if visible:
        held = REGISTRATIONS.c
        statement = (
            statement.select_from(
                REFERRALS.outerjoin(REGISTRATIONS, held.nhs_number == REFERRALS.c.nhs_number)
            )
            .where(REFERRALS.c.practice_ods == bindparam("visible_to"))
            .where(or_(held.practice_ods.is_(None), held.practice_ods == bindparam("visible_to")))
        )
    ordered = statement.order_by(REFERRALS.c.created_at, REFERRALS.c.referral_id)
    found = _LISTINGS[key] = Prepared(ordered.limit(bindparam("limit")))
    return found


# Per set of changed columns, the UPDATE that writes just those, as the ORM's flush would.
_UPDATES: dict[tuple[str, ...], Prepared] = {}


def _update_of(changed: tuple[str, ...]) -> Prepared:
    """`UPDATE referrals SET <changed> WHERE referral_id = :saved_referral_id` (the new values
    under `new_<column>`: a SET column's own name is reserved for SQLAlchemy's binds)."""
    found = _UPDATES.get(changed)
    if found is None:
        columns = REFERRALS.c
        statement = (
            REFERRALS.update()
            .where(columns.referral_id == bindparam("saved_referral_id"))
            .values({name: bindparam(f"new_{name}", type_=columns[name].type) for name in changed})
        )
        found = _UPDATES[changed] = Prepared(statement)
    return found


def to_domain(record: ReferralRecord) -> Referral:
    return Referral(**record.model_dump())  # UtcDateTime columns read back aware UTC


def from_row(row: Row) -> Referral:
    """A referral from a row of `select(REFERRALS)` (types converted as Core converts them)."""
    return Referral(**dict(zip(REFERRAL_COLUMNS, row, strict=True)))


def _first(found: Ran) -> Referral | None:
    row = found.first()
    return None if row is None else from_row(row)


def referral_values(referral: Referral) -> dict[str, Any]:
    """The referral's columns. Its fields are all immutable values, so no copy (asdict's
    deep copy was a sixth of a hot-onboarding trigger's time)."""
    return {name: getattr(referral, name) for name in REFERRAL_FIELDS}


class ReferralRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        # Referral id -> the object `get` gave and its columns as read: saving that very
        # object writes only what changed since (what the ORM's flush would have written).
        self._read: dict[UUID, tuple[Referral, dict[str, Any]]] = {}

    def add(self, referral: Referral) -> None:
        self.session.add(ReferralRecord(**asdict(referral)))

    def insert(self, referral: Referral) -> None:
        """Write a new referral now, not at the next flush (a trigger's proposal: the same row
        `add` writes, without building an ORM record). A broken constraint raises here."""
        _INSERT_REFERRAL.execute(self._flushed(), referral_values(referral))

    def save(self, referral: Referral) -> None:
        """Write the referral's changes in this transaction: at once (a prepared UPDATE of
        the changed columns, nothing when none changed) for the object `get` gave; else
        through the ORM, at the next flush. Like the ORM's flush, no other condition than
        the id: concurrent decisions are ordered by the store (SQLite's one writer; on
        PostgreSQL the row lock of the UPDATE) exactly as before."""
        read = self._read.pop(referral.referral_id, None)
        key = identity_key(ReferralRecord, referral.referral_id)
        if read is None or read[0] is not referral or key in self.session.identity_map:
            self._save_by_orm(referral)  # an ORM record in the session must stay current
            return
        now = referral_values(referral)
        changed = tuple(name for name, value in now.items() if value != read[1][name])
        if changed:
            values = {f"new_{name}": now[name] for name in changed}
            values["saved_referral_id"] = referral.referral_id
            if not _update_of(changed).execute(self._flushed(), values).rowcount:
                raise LookupError(referral.referral_id)
        self._read[referral.referral_id] = (referral, now)  # saved again: only what changes

    def _save_by_orm(self, referral: Referral) -> None:
        record = self.session.get(ReferralRecord, referral.referral_id)
        if record is None:
            raise LookupError(referral.referral_id)
        for name, value in asdict(referral).items():
            setattr(record, name, value)
        self.session.add(record)

    def get(self, referral_id: UUID) -> Referral | None:
        """Read prepared (unflushed ORM changes flushed first, as an ORM query would)."""
        row = _REFERRAL_BY_ID.execute(self._flushed(), {"referral_id": referral_id}).first()
        if row is None:
            return None
        referral = from_row(row)
        self._read[referral_id] = (referral, referral_values(referral))
        return referral

    def open_for(self, nhs_number: str, practice_ods: str, service: str) -> Referral | None:
        """The practice's open referral of the patient to the service (another practice's
        never counts: it must not block the patient's own GP)."""
        found = _OPEN_FOR.execute(
            self._flushed(),
            {"nhs_number": nhs_number, "practice_ods": practice_ods, "service": service},
        )
        return _first(found)

    def proposed_from(self, source_event_id: UUID) -> Referral | None:
        found = _PROPOSED_FROM.execute(self._flushed(), {"source_event_id": source_event_id})
        return _first(found)

    def proposals_pending(self, nhs_number: str) -> list[Referral]:
        """The patient's hot-onboarding proposals nobody has triaged yet."""
        statement = select(ReferralRecord).where(
            ReferralRecord.nhs_number == nhs_number,
            ReferralRecord.source == "hot_onboarding",
            ReferralRecord.status == "proposed",
        )
        return [to_domain(r) for r in self.session.exec(statement)]

    def breached(self, now: datetime, limit: int) -> list[Referral]:
        """Referrals whose running clock ran out and whose breach of it is not announced."""
        statement = (
            select(ReferralRecord)
            .where(col(ReferralRecord.sla_stage).is_not(None))
            .where(col(ReferralRecord.due_by) <= now)
            .where(
                or_(
                    col(ReferralRecord.breach_announced_for).is_(None),
                    col(ReferralRecord.breach_announced_for) != col(ReferralRecord.sla_stage),
                )
            )
            .order_by(col(ReferralRecord.due_by), col(ReferralRecord.referral_id))
            .limit(limit)
        )
        return [to_domain(r) for r in self.session.exec(statement)]

    def waiting(self, service: str, limit: int = MAX_LISTED) -> list[Referral]:
        """The service's referrals that staff still have to move on (open, not yet active),
        earliest deadline first."""
        statement = (
            select(ReferralRecord)
            .where(ReferralRecord.service == service)
            .where(col(ReferralRecord.status).in_(("requested", "proposed", "triaged", "accepted")))
            .order_by(col(ReferralRecord.due_by), col(ReferralRecord.referral_id))
            .limit(min(limit, MAX_LISTED))
        )
        return [to_domain(r) for r in self.session.exec(statement)]

    def of_patient(self, nhs_number: str) -> list[Referral]:
        statement = select(ReferralRecord).where(ReferralRecord.nhs_number == nhs_number)
        return [
            to_domain(r)
            for r in self.session.exec(statement.order_by(col(ReferralRecord.created_at)))
        ]

    def find(
        self,
        *,
        nhs_number: str | None = None,
        status: str | None = None,
        practice_ods: str | None = None,
        visible_to: str | None = None,
        limit: int = MAX_LISTED,
    ) -> Sequence[Referral]:
        """Oldest first. `visible_to`: only what that practice may see, i.e. its own referrals
        of patients who are registered with it or whose registration is unknown."""
        found = self.find_rows(
            nhs_number=nhs_number,
            status=status,
            practice_ods=practice_ods,
            visible_to=visible_to,
            limit=limit,
        )
        return [from_row(row) for row in found]

    def find_rows(
        self,
        *,
        nhs_number: str | None = None,
        status: str | None = None,
        practice_ods: str | None = None,
        visible_to: str | None = None,
        limit: int = MAX_LISTED,
    ) -> list[Row]:
        """`find`'s referrals as rows of `select(REFERRALS)` (listings render them as they
        are: no domain object per listed referral)."""
        given = {"nhs_number": nhs_number, "status": status, "practice_ods": practice_ods}
        filters = {name: value for name, value in given.items() if value is not None}
        listing = _listing(tuple(filters), visible_to is not None)
        if visible_to is not None:
            filters["visible_to"] = visible_to
        found = listing.execute(self._flushed(), {**filters, "limit": min(limit, MAX_LISTED)})
        return found.rows

    def _flushed(self) -> Session:
        """A prepared statement sees only what was flushed; an ORM query would have flushed
        first. Nothing to do, and cheap, unless referrals were added or changed."""
        self.session.flush()
        return self.session


class NoteRepository:
    """Free text per referral, oldest first."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, note: dict[str, Any]) -> None:
        self.session.add(ReferralNoteRecord(**note))

    def of(self, referral_id: UUID) -> list[dict[str, Any]]:
        statement = (
            select(ReferralNoteRecord)
            .where(ReferralNoteRecord.referral_id == referral_id)
            .order_by(col(ReferralNoteRecord.created_at), col(ReferralNoteRecord.note_id))
            .limit(MAX_LISTED)
        )
        return [r.model_dump() for r in self.session.exec(statement)]


class RegistrationRepository:
    """nhs_number -> the practice the newest event says the patient is registered with."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._record = _RECORD_REGISTRATION[session.get_bind().dialect.name]

    def practice_of(self, nhs_number: str) -> str | None:
        found = _PRACTICE_OF.execute(self.session, {"nhs_number": nhs_number})
        return cast(str | None, found.scalar())

    def record(self, nhs_number: str, practice_ods: str, as_of: datetime) -> bool:
        """Remember the registration unless a newer fact is known; True when it was taken
        (or is the very fact already held).

        One conditional upsert, so two consumers racing on one patient cannot put an older
        fact over a newer one: PostgreSQL locks the row and checks the condition against
        what the other committed, and SQLite lets one writer in at a time.
        """
        fact = {"nhs_number": nhs_number, "practice_ods": practice_ods, "updated_at": as_of}
        if self._record.execute(self.session, fact).rowcount:
            return True
        held = _REGISTRATION_OF.execute(self.session, {"nhs_number": nhs_number}).first()
        return held is not None and held[1] <= as_of  # else what we hold is newer

    def move(self, retired: str, surviving: str) -> None:
        """A merge: the retired number's registration becomes the surviving one's unless
        the surviving number already holds a newer fact; the retired row goes."""
        held = self.session.get(PatientRegistrationRecord, retired)
        if held is None:
            return
        self.record(surviving, held.practice_ods, held.updated_at)
        self.session.delete(held)
