"""Stays in hospital in the store: each visit's stay kept in `hospital_stays` as its events
add up (`domain/stays.py`), bed days and inpatient status read from them, cancellations of
discharges and transfers."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from ensemble_runtime.db import core_sql
from ensemble_runtime.prepared import Prepared
from scoring.adapters.orm import HospitalStay
from scoring.adapters.repository import ENCOUNTERS
from scoring.domain.stays import STAY_EVENTS, Stay, StayEvent, stay_of

STAYS = cast(Table, HospitalStay.__table__)  # type: ignore[attr-defined]
_STAY_EVENT_COLUMNS = (
    ENCOUNTERS.c.event_type,
    ENCOUNTERS.c.event_at,
    ENCOUNTERS.c.patient_class,
    ENCOUNTERS.c.previous_patient_class,
)
# A stay event refreshes its visit's stay: these run per encounter, so prepared (ADR 7).
_VISIT_EVENTS = Prepared(
    select(*_STAY_EVENT_COLUMNS).where(
        ENCOUNTERS.c.nhs_number == bindparam("nhs"),
        ENCOUNTERS.c.facility == bindparam("facility"),
        ENCOUNTERS.c.visit_number == bindparam("visit"),
        ENCOUNTERS.c.cancelled.is_(False),
        or_(*(ENCOUNTERS.c.event_type == kind for kind in STAY_EVENTS)),
    )
)
_SAVE_STAY = {
    name: Prepared(
        dialect.insert(STAYS).on_conflict_do_update(
            index_elements=["nhs_number", "facility", "visit_number"],
            set_={
                "first_in": dialect.insert(STAYS).excluded.first_in,
                "last_out": dialect.insert(STAYS).excluded.last_out,
            },
        )
    )
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_DROP_STAY = Prepared(
    delete(STAYS).where(
        STAYS.c.nhs_number == bindparam("nhs"),
        STAYS.c.facility == bindparam("facility"),
        STAYS.c.visit_number == bindparam("visit"),
    )
)

# Every rescore reads the patient's stays: built and compiled once, run on the cursor (ADR 7).
_STAYS_OF = Prepared(
    select(STAYS.c.nhs_number, STAYS.c.facility, STAYS.c.visit_number, *_STAY_EVENT_COLUMNS)
    .select_from(
        ENCOUNTERS.join(
            STAYS,
            and_(
                ENCOUNTERS.c.nhs_number == STAYS.c.nhs_number,
                ENCOUNTERS.c.facility == STAYS.c.facility,
                ENCOUNTERS.c.visit_number == STAYS.c.visit_number,
            ),
        )
    )
    .where(
        STAYS.c.nhs_number.in_(bindparam("patients", expanding=True)),
        or_(STAYS.c.last_out.is_(None), STAYS.c.last_out >= bindparam("since")),
        ENCOUNTERS.c.cancelled.is_(False),
        or_(*(ENCOUNTERS.c.event_type == kind for kind in STAY_EVENTS)),
    )
)

# An encounter that moves its visit in or out of a bed refreshes that visit's stay, then its
# patient is rescored with all their stays in the window: one read of the events of both (the
# visit's, and those of the patient's other stays `_STAYS_OF` would give), not two.
_STAYS = STAYS.alias("kept")
_REFRESH_AND_STAYS = Prepared(
    select(ENCOUNTERS.c.facility, ENCOUNTERS.c.visit_number, *_STAY_EVENT_COLUMNS).where(
        ENCOUNTERS.c.nhs_number == bindparam("nhs"),
        ENCOUNTERS.c.cancelled.is_(False),
        or_(*(ENCOUNTERS.c.event_type == kind for kind in STAY_EVENTS)),
        or_(
            and_(
                ENCOUNTERS.c.facility == bindparam("facility"),
                ENCOUNTERS.c.visit_number == bindparam("visit"),
            ),
            select(_STAYS.c.nhs_number)
            .where(
                _STAYS.c.nhs_number == ENCOUNTERS.c.nhs_number,
                _STAYS.c.facility == ENCOUNTERS.c.facility,
                _STAYS.c.visit_number == ENCOUNTERS.c.visit_number,
                or_(_STAYS.c.last_out.is_(None), _STAYS.c.last_out >= bindparam("since")),
            )
            .exists(),
        ),
    )
)


class StayRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def refresh(self, nhs_number: str, facility: str, visit_number: str) -> Stay:
        """Walk the visit's events again and keep its stay (none: the row goes)."""
        key = {"nhs": nhs_number, "facility": facility, "visit": visit_number}
        events = _VISIT_EVENTS.execute(self._session, key).rows
        return self._keep(nhs_number, facility, visit_number, [StayEvent(*e) for e in events])

    def refresh_and_stays(
        self, nhs_number: str, facility: str, visit_number: str, since: datetime
    ) -> list[Stay]:
        """`refresh` the visit, then the patient's `stays` since `since`: one read."""
        key = {"nhs": nhs_number, "facility": facility, "visit": visit_number, "since": since}
        visits: dict[tuple[str, str], list[StayEvent]] = defaultdict(list)
        for event_facility, visit, *event in _REFRESH_AND_STAYS.execute(self._session, key).rows:
            visits[(event_facility, visit)].append(StayEvent(*event))
        own = visits.pop((facility, visit_number), [])
        refreshed = self._keep(nhs_number, facility, visit_number, own)
        found = [stay_of(events) for events in visits.values()]
        # As `stays` reads the refreshed row back: kept, and not over before `since`.
        last_out = refreshed.last_out
        if refreshed.first_in is not None and (last_out is None or last_out >= since):
            found.append(refreshed)
        return found

    def _keep(
        self, nhs_number: str, facility: str, visit_number: str, events: list[StayEvent]
    ) -> Stay:
        """The visit's stay from all its events, kept (none: the row goes)."""
        stay = stay_of(events)
        key = {"nhs": nhs_number, "facility": facility, "visit": visit_number}
        if stay.first_in is None:
            _DROP_STAY.execute(self._session, key)
        else:
            row = {"nhs_number": nhs_number, "facility": facility, "visit_number": visit_number}
            values = {**row, "first_in": stay.first_in, "last_out": stay.last_out}
            _SAVE_STAY[self._session.get_bind().dialect.name].execute(self._session, values)
        return stay

    def stays(self, nhs_numbers: Sequence[str], since: datetime) -> dict[str, list[Stay]]:
        """Each patient's stays still open or ended after `since` (the window's start)."""
        if not nhs_numbers:
            return {}
        found_rows = _STAYS_OF.execute(
            self._session, {"patients": list(nhs_numbers), "since": since}
        ).rows
        visits: dict[tuple[str, str, str], list[StayEvent]] = defaultdict(list)
        for nhs_number, facility, visit, *event in found_rows:
            visits[(nhs_number, facility, visit)].append(StayEvent(*event))
        found: dict[str, list[Stay]] = defaultdict(list)
        for (nhs_number, _facility, _visit), events in visits.items():
            found[nhs_number].append(stay_of(events))
        return dict(found)

    def cancel_latest(self, nhs_number: str, facility: str, visit: str, event_type: str) -> bool:
        """A13/A12: the visit's latest non-cancelled event of this type stops counting."""
        sql = core_sql(self._session)
        latest = sql.execute(
            select(ENCOUNTERS.c.event_id)
            .where(
                ENCOUNTERS.c.nhs_number == nhs_number,
                ENCOUNTERS.c.facility == facility,
                ENCOUNTERS.c.visit_number == visit,
                ENCOUNTERS.c.event_type == event_type,
                ENCOUNTERS.c.cancelled.is_(False),
            )
            .order_by(ENCOUNTERS.c.event_at.desc())
            .limit(1)
        ).scalar()
        if latest is None:
            return False
        sql.execute(
            update(ENCOUNTERS).where(ENCOUNTERS.c.event_id == latest).values(cancelled=True)
        )
        return True

    def changing(
        self, since: datetime | None, until: datetime, after: str, limit: int
    ) -> list[str]:
        """Patients (NHS-number order, after `after`) whose bed days change as the window's
        start moves from `since` to `until`: a stay begun before `until` and not over by
        `since`, and every open stay (its bed days grow) when a midnight lies between."""
        left = STAYS.c.first_in < until
        if since is not None:
            left = and_(left, STAYS.c.last_out >= since)
        # Bed days are midnights: an open stay's grow only when a midnight passed since then.
        if since is None or since.date() != until.date():
            left = or_(STAYS.c.last_out.is_(None), left)
        query = select(STAYS.c.nhs_number).where(STAYS.c.nhs_number > after, left)
        query = query.group_by(STAYS.c.nhs_number).order_by(STAYS.c.nhs_number).limit(limit)
        return [row.nhs_number for row in core_sql(self._session).execute(query)]
