"""Referrals in and out of the store, as domain objects."""

from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from referral.adapters.orm import ReferralRecord
from referral.domain.referral import OPEN_STATUSES, Referral

MAX_LISTED = 1000


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def to_domain(record: ReferralRecord) -> Referral:
    fields: dict[str, Any] = record.model_dump()
    for name in ("created_at", "updated_at", "due_by"):
        fields[name] = _utc(fields[name])
    return Referral(**fields)


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

    def open_for(self, nhs_number: str, service: str) -> Referral | None:
        return self._first(
            select(ReferralRecord).where(
                ReferralRecord.nhs_number == nhs_number,
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
        limit: int = MAX_LISTED,
    ) -> Sequence[Referral]:
        """Oldest first."""
        given = {"nhs_number": nhs_number, "status": status, "practice_ods": practice_ods}
        statement = select(ReferralRecord).filter_by(
            **{k: v for k, v in given.items() if v is not None}
        )
        ordered = statement.order_by(
            col(ReferralRecord.created_at), col(ReferralRecord.referral_id)
        )
        return [to_domain(r) for r in self.session.exec(ordered.limit(min(limit, MAX_LISTED)))]

    def _first(self, statement: SelectOfScalar[ReferralRecord]) -> Referral | None:
        record = self.session.exec(statement).first()
        return None if record is None else to_domain(record)
