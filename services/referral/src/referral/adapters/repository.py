"""Referrals in and out of the store, as domain objects; the registration projection."""

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from uuid import UUID

from sqlmodel import Session, col, or_, select, update
from sqlmodel.sql.expression import SelectOfScalar

from referral.adapters.orm import PatientRegistrationRecord, ReferralRecord
from referral.domain.referral import OPEN_STATUSES, Referral

MAX_LISTED = 1000


def to_domain(record: ReferralRecord) -> Referral:
    return Referral(**record.model_dump())  # UtcDateTime columns read back aware UTC


class ReferralRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, referral: Referral) -> None:
        self.session.add(ReferralRecord(**asdict(referral)))

    def save(self, referral: Referral) -> None:
        record = self.session.get(ReferralRecord, referral.referral_id)
        if record is None:
            raise LookupError(referral.referral_id)
        for name, value in asdict(referral).items():
            setattr(record, name, value)
        self.session.add(record)

    def get(self, referral_id: UUID) -> Referral | None:
        record = self.session.get(ReferralRecord, referral_id)
        return None if record is None else to_domain(record)

    def open_for(self, nhs_number: str, practice_ods: str, service: str) -> Referral | None:
        """The practice's open referral of the patient to the service (another practice's
        never counts: it must not block the patient's own GP)."""
        return self._first(
            select(ReferralRecord).where(
                ReferralRecord.nhs_number == nhs_number,
                ReferralRecord.practice_ods == practice_ods,
                ReferralRecord.service == service,
                col(ReferralRecord.status).in_(OPEN_STATUSES),
            )
        )

    def proposed_from(self, source_event_id: UUID) -> Referral | None:
        return self._first(
            select(ReferralRecord).where(ReferralRecord.source_event_id == source_event_id)
        )

    def proposals_pending(self, nhs_number: str) -> list[Referral]:
        """The patient's hot-onboarding proposals nobody has triaged yet."""
        statement = select(ReferralRecord).where(
            ReferralRecord.nhs_number == nhs_number,
            ReferralRecord.source == "hot_onboarding",
            ReferralRecord.status == "proposed",
        )
        return [to_domain(r) for r in self.session.exec(statement)]

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
        given = {"nhs_number": nhs_number, "status": status, "practice_ods": practice_ods}
        statement = select(ReferralRecord).filter_by(
            **{k: v for k, v in given.items() if v is not None}
        )
        if visible_to is not None:
            registered = PatientRegistrationRecord
            statement = (
                statement.outerjoin(
                    registered, col(registered.nhs_number) == col(ReferralRecord.nhs_number)
                )
                .where(ReferralRecord.practice_ods == visible_to)
                .where(
                    or_(
                        col(registered.practice_ods).is_(None),
                        col(registered.practice_ods) == visible_to,
                    )
                )
            )
        ordered = statement.order_by(
            col(ReferralRecord.created_at), col(ReferralRecord.referral_id)
        )
        return [to_domain(r) for r in self.session.exec(ordered.limit(min(limit, MAX_LISTED)))]

    def _first(self, statement: SelectOfScalar[ReferralRecord]) -> Referral | None:
        record = self.session.exec(statement).first()
        return None if record is None else to_domain(record)


class RegistrationRepository:
    """nhs_number -> the practice the newest event says the patient is registered with."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def practice_of(self, nhs_number: str) -> str | None:
        found = self.session.get(PatientRegistrationRecord, nhs_number)
        return None if found is None else found.practice_ods

    def record(self, nhs_number: str, practice_ods: str, as_of: datetime) -> bool:
        """Remember the registration unless a newer fact is known; True when it was taken.

        A conditional update, so two consumers racing on one patient cannot put an older
        fact over a newer one (PostgreSQL re-checks the condition once the row is unlocked).
        Two first facts racing: one insert trips the primary key and its event is retried.
        """
        row = PatientRegistrationRecord
        changed = self.session.exec(
            update(row)
            .where(col(row.nhs_number) == nhs_number, col(row.updated_at) <= as_of)
            .values(practice_ods=practice_ods, updated_at=as_of)
        )
        if changed.rowcount:
            return True
        if self.session.get(row, nhs_number) is not None:
            return False  # what we hold is newer
        self.session.add(row(nhs_number=nhs_number, practice_ods=practice_ods, updated_at=as_of))
        return True
