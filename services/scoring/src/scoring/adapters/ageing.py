"""Hospital use ages: the patients whose counted events left the model's window since the last
scan, and how far the scan has got (one row per scan in `scan_marks`)."""

from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, insert, or_, select, update
from sqlmodel import Session

from ensemble_contracts.hospital import EncounterEventType
from ensemble_runtime.db import core_sql
from scoring.adapters.orm import ScanMark
from scoring.adapters.repository import ENCOUNTERS

MARKS = cast(Table, ScanMark.__table__)  # type: ignore[attr-defined]
HOSPITAL_USE = "hospital_use"


class AgeingRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def up_to(self, name: str = HOSPITAL_USE) -> datetime | None:
        found = core_sql(self._session).execute(select(MARKS.c.up_to).where(MARKS.c.name == name))
        return cast(datetime | None, found.scalar())

    def mark(self, up_to: datetime, name: str = HOSPITAL_USE) -> None:
        sql = core_sql(self._session)
        done = sql.execute(update(MARKS).where(MARKS.c.name == name).values(up_to=up_to))
        if not done.rowcount:
            sql.execute(insert(MARKS), {"name": name, "up_to": up_to})

    def aged_out(
        self, since: datetime | None, until: datetime, after: str, limit: int
    ) -> list[str]:
        """Patients (NHS-number order, after `after`) with a counted event (a non-cancelled
        emergency admission or A&E attendance) stamped in [since, until): what left the window
        since the last scan."""
        counted = or_(
            ENCOUNTERS.c.event_type == EncounterEventType.AE_ATTENDANCE,
            and_(
                ENCOUNTERS.c.event_type == EncounterEventType.ADMITTED,
                ENCOUNTERS.c.emergency.is_(True),
            ),
        )
        query = select(ENCOUNTERS.c.nhs_number).where(
            counted,
            ENCOUNTERS.c.cancelled.is_(False),
            ENCOUNTERS.c.event_at < until,
            ENCOUNTERS.c.nhs_number > after,
        )
        if since is not None:
            query = query.where(ENCOUNTERS.c.event_at >= since)
        query = query.group_by(ENCOUNTERS.c.nhs_number).order_by(ENCOUNTERS.c.nhs_number)
        return [row.nhs_number for row in core_sql(self._session).execute(query.limit(limit))]
