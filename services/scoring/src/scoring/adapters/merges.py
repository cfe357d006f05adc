"""What a merge (A40) and a change of practice do to the store: a retired NHS number's
encounters, triggers and referral statuses move to the surviving number; a practice change
updates the practice the profile and the worklist name."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, or_, select, update
from sqlmodel import Session

from ensemble_runtime.db import core_sql
from scoring.adapters.orm import HotOnboardingTrigger, ReferralStatus
from scoring.adapters.repository import CURRENT, ENCOUNTERS, PATIENTS
from scoring.adapters.stays import STAYS
from scoring.domain.stays import STAY_EVENTS, VisitEvent

TRIGGERS = cast(Table, HotOnboardingTrigger.__table__)  # type: ignore[attr-defined]
CASELOADS = cast(Table, ReferralStatus.__table__)  # type: ignore[attr-defined]


class MergeRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def visit_events(self, nhs_number: str) -> list[VisitEvent]:
        query = select(
            ENCOUNTERS.c.event_id,
            ENCOUNTERS.c.facility,
            ENCOUNTERS.c.visit_number,
            ENCOUNTERS.c.event_type,
        ).where(ENCOUNTERS.c.nhs_number == nhs_number)
        rows: list[Any] = list(core_sql(self._session).execute(query))
        return [VisitEvent(*row) for row in rows]

    def move_encounters(self, retired: str, surviving: str, dropped: set[Any]) -> int:
        """The retired number's encounters become the surviving one's; `dropped` ones (a
        visit's events the surviving number already has) are deleted. Returns how many moved."""
        sql = core_sql(self._session)
        if dropped:
            sql.execute(delete(ENCOUNTERS).where(ENCOUNTERS.c.event_id.in_(list(dropped))))
        moved = sql.execute(
            update(ENCOUNTERS)
            .where(ENCOUNTERS.c.nhs_number == retired)
            .values(nhs_number=surviving)
        )
        sql.execute(delete(STAYS).where(STAYS.c.nhs_number == retired))
        return int(moved.rowcount or 0)

    def visits_of(self, nhs_number: str) -> list[tuple[str, str]]:
        """The patient's (facility, visit number) pairs with a stay event."""
        query = (
            select(ENCOUNTERS.c.facility, ENCOUNTERS.c.visit_number)
            .where(
                ENCOUNTERS.c.nhs_number == nhs_number,
                ENCOUNTERS.c.visit_number.is_not(None),
                or_(*(ENCOUNTERS.c.event_type == kind for kind in STAY_EVENTS)),
            )
            .distinct()
        )
        return [(row.facility, row.visit_number) for row in core_sql(self._session).execute(query)]

    def move_side_records(self, retired: str, surviving: str) -> None:
        """Hot-onboarding triggers and referral statuses of visits and services the surviving
        number has none for move to it; the rest (the surviving number's own) stay."""
        sql = core_sql(self._session)
        held = select(TRIGGERS.c.facility, TRIGGERS.c.visit_number).where(
            TRIGGERS.c.nhs_number == surviving
        )
        taken = {(row.facility, row.visit_number) for row in sql.execute(held)}
        retired_triggers: Sequence[Any] = sql.execute(
            select(TRIGGERS.c.id, TRIGGERS.c.facility, TRIGGERS.c.visit_number).where(
                TRIGGERS.c.nhs_number == retired
            )
        ).all()
        for row in retired_triggers:
            if (row.facility, row.visit_number) not in taken:
                sql.execute(
                    update(TRIGGERS).where(TRIGGERS.c.id == row[0]).values(nhs_number=surviving)
                )
        services = {
            row[0]
            for row in sql.execute(
                select(CASELOADS.c.service).where(CASELOADS.c.nhs_number == surviving)
            )
        }
        for (service,) in sql.execute(
            select(CASELOADS.c.service).where(CASELOADS.c.nhs_number == retired)
        ).all():
            if service not in services:
                sql.execute(
                    update(CASELOADS)
                    .where(CASELOADS.c.nhs_number == retired, CASELOADS.c.service == service)
                    .values(nhs_number=surviving)
                )

    def set_practice(self, nhs_number: str, practice_ods: str) -> None:
        """The practice the profile (if any) and the current score (the worklist) name."""
        sql = core_sql(self._session)
        for table in (PATIENTS, CURRENT):
            sql.execute(
                update(table)
                .where(table.c.nhs_number == nhs_number)
                .values(practice_ods=practice_ods)
            )
