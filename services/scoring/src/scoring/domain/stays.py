"""Inpatient stays from a visit's events: bed days in a window, whether still in, and how a
merged patient's visits combine. Pure: the store hands over rows, this does the arithmetic.

A stay starts at an admission (or a class change to inpatient) and ends at a discharge (or a
class change away from inpatient); a leave of absence (A21 to A22) is time out of the bed.
Cancelled events (A11, A12, A13 mark the event they undo) never reach here. Bed days are
midnights spent in hospital, as NHS length of stay counts them: a same-day stay is 0.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from ensemble_contracts.hospital import EncounterEventType as T
from scoring.domain.patient import HospitalUse

INPATIENT: Final = "I"
# The event types that move a visit in or out of a bed, and so are read here.
STAY_EVENTS: Final = (T.ADMITTED, T.DISCHARGED, T.LEAVE_STARTED, T.LEAVE_ENDED, T.CLASS_CHANGED)


@dataclass(frozen=True)
class StayEvent:
    """One non-cancelled event of a visit, as the stay arithmetic needs it."""

    event_type: str
    at: datetime
    patient_class: str | None = None
    previous_patient_class: str | None = None


@dataclass(frozen=True)
class Stay:
    """A visit's time in a bed: intervals (the end None while still in), and its bounds."""

    intervals: tuple[tuple[datetime, datetime | None], ...]
    on_leave: bool = False

    @property
    def first_in(self) -> datetime | None:
        return self.intervals[0][0] if self.intervals else None

    @property
    def open(self) -> bool:
        """Admitted and not discharged (on leave counts: the bed is kept)."""
        return self.on_leave or bool(self.intervals and self.intervals[-1][1] is None)

    @property
    def last_out(self) -> datetime | None:
        """When the visit last left a bed; None while it is open (or never began)."""
        if self.open or not self.intervals:
            return None
        return self.intervals[-1][1]

    @property
    def in_bed(self) -> bool:
        """In a bed now: open and not on leave."""
        return bool(self.intervals and self.intervals[-1][1] is None)


def stay_of(events: Iterable[StayEvent]) -> Stay:
    """Walk one visit's events in time order (ties: the order given)."""
    intervals: list[tuple[datetime, datetime | None]] = []
    start: datetime | None = None
    on_leave = False
    for event in sorted(events, key=lambda e: e.at):
        kind = event.event_type
        begins = kind == T.ADMITTED or (
            kind == T.CLASS_CHANGED
            and event.patient_class == INPATIENT
            and event.previous_patient_class != INPATIENT
        )
        ends = kind == T.DISCHARGED or (
            kind == T.CLASS_CHANGED
            and event.previous_patient_class == INPATIENT
            and event.patient_class != INPATIENT
        )
        if begins and start is None and not on_leave:
            start = event.at
        elif kind == T.LEAVE_STARTED and start is not None:
            intervals.append((start, event.at))
            start, on_leave = None, True
        elif kind == T.LEAVE_ENDED and on_leave:
            start, on_leave = event.at, False
        elif ends:
            if start is not None:
                intervals.append((start, event.at))
            start, on_leave = None, False
    if start is not None:
        intervals.append((start, None))
    return Stay(tuple(intervals), on_leave)


def midnights(start: datetime, end: datetime) -> int:
    """Midnights (UTC) in (start, end]: the bed days of one interval."""
    return max(0, (end.date() - start.date()).days) if end > start else 0


def bed_days(stays: Iterable[Stay], as_of: datetime, window_days: int) -> int:
    """Midnights in a bed within the `window_days` up to `as_of`; an open stay counts to
    `as_of`."""
    since = as_of - timedelta(days=window_days)
    total = 0
    for stay in stays:
        for start, end in stay.intervals:
            clipped_end = as_of if end is None or end > as_of else end
            total += midnights(max(start, since), clipped_end)
    return total


def currently_inpatient(stays: Iterable[Stay]) -> bool:
    """In a bed now (a patient on leave is not: they are at home)."""
    return any(stay.in_bed for stay in stays)


def with_stays(
    use: HospitalUse, stays: Sequence[Stay], as_of: datetime, window_days: int
) -> HospitalUse:
    """Hospital use with the bed days and inpatient status these stays give."""
    if not stays:
        return use
    days = bed_days(stays, as_of, window_days)
    return replace(use, bed_days=days, inpatient=currently_inpatient(stays))


# --- merges ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitEvent:
    """An event of a patient as a merge sees it: which visit, which kind."""

    event_id: object
    facility: str
    visit_number: str | None
    event_type: str


def duplicates_in_merge(
    surviving: Sequence[VisitEvent], retired: Sequence[VisitEvent]
) -> set[object]:
    """The retired number's events a merge drops: for a visit (facility + visit number) both
    numbers carried, each kind of event the surviving number already has for that visit (the
    same admission sent twice). Every other event moves, so no visit is lost and none counts
    twice. An event without a visit number stands alone and always moves."""
    kinds = {(e.facility, e.visit_number, e.event_type) for e in surviving if e.visit_number}
    return {
        e.event_id
        for e in retired
        if e.visit_number and (e.facility, e.visit_number, e.event_type) in kinds
    }
