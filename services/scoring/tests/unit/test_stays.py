"""Stay arithmetic (pure): bed days as midnights in a bed within the window, an open stay
counting to now, leave of absence and class changes honoured, and how a merge combines two
numbers' visits (never losing one, never counting one twice)."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ensemble_contracts.hospital import EncounterEventType as T
from scoring.domain.stays import (
    Stay,
    StayEvent,
    VisitEvent,
    bed_days,
    currently_inpatient,
    duplicates_in_merge,
    stay_of,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WINDOW = 365


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def stay(*events: tuple[str, datetime] | StayEvent) -> Stay:
    return stay_of(e if isinstance(e, StayEvent) else StayEvent(*e) for e in events)


def test_a_discharged_stay_counts_its_midnights() -> None:
    done = stay((T.ADMITTED, days_ago(10)), (T.DISCHARGED, days_ago(4)))
    assert bed_days([done], NOW, WINDOW) == 6
    assert not currently_inpatient([done])
    assert done.last_out == days_ago(4)


def test_a_same_day_stay_is_no_bed_day() -> None:
    same_day = stay((T.ADMITTED, NOW.replace(hour=1)), (T.DISCHARGED, NOW.replace(hour=9)))
    assert bed_days([same_day], NOW, WINDOW) == 0


def test_an_open_admission_counts_up_to_now_and_is_an_inpatient() -> None:
    still_in = stay((T.ADMITTED, days_ago(3)))
    assert bed_days([still_in], NOW, WINDOW) == 3
    assert bed_days([still_in], NOW + timedelta(days=2), WINDOW) == 5  # it grows
    assert currently_inpatient([still_in]) and still_in.open and still_in.last_out is None


def test_only_the_part_of_a_stay_inside_the_window_counts() -> None:
    long_ago = stay((T.ADMITTED, days_ago(WINDOW + 5)), (T.DISCHARGED, days_ago(WINDOW - 5)))
    assert bed_days([long_ago], NOW, WINDOW) == 5
    gone = stay((T.ADMITTED, days_ago(WINDOW + 20)), (T.DISCHARGED, days_ago(WINDOW + 10)))
    assert bed_days([gone], NOW, WINDOW) == 0


def test_leave_of_absence_is_time_out_of_the_bed_and_not_an_inpatient() -> None:
    on_leave = stay(
        (T.ADMITTED, days_ago(10)), (T.LEAVE_STARTED, days_ago(6)), (T.LEAVE_ENDED, days_ago(2))
    )
    assert bed_days([on_leave], NOW, WINDOW) == 4 + 2
    assert currently_inpatient([on_leave])
    away = stay((T.ADMITTED, days_ago(10)), (T.LEAVE_STARTED, days_ago(6)))
    assert not currently_inpatient([away])  # at home on leave
    assert away.open  # the bed is kept: the stay is not over
    assert bed_days([away], NOW, WINDOW) == 4


def test_a_class_change_from_inpatient_ends_the_stay_and_one_to_inpatient_starts_it() -> None:
    to_outpatient = stay(
        (T.ADMITTED, days_ago(5)),
        StayEvent(T.CLASS_CHANGED, days_ago(2), patient_class="O", previous_patient_class="I"),
    )
    assert bed_days([to_outpatient], NOW, WINDOW) == 3
    assert not currently_inpatient([to_outpatient])
    to_inpatient = stay(
        StayEvent(T.CLASS_CHANGED, days_ago(2), patient_class="I", previous_patient_class="E")
    )
    assert bed_days([to_inpatient], NOW, WINDOW) == 2
    assert currently_inpatient([to_inpatient])


def test_events_arriving_out_of_order_give_the_same_stay() -> None:
    events = [(T.DISCHARGED, days_ago(1)), (T.ADMITTED, days_ago(4))]
    assert stay(*events) == stay(*reversed(events))
    assert bed_days([stay(*events)], NOW, WINDOW) == 3


def test_a_discharge_without_an_admission_is_no_stay() -> None:
    assert stay((T.DISCHARGED, days_ago(1))).first_in is None


# --- merges ----------------------------------------------------------------------------------

KINDS = (T.ADMITTED, T.DISCHARGED, T.AE_ATTENDANCE)
keys = st.tuples(st.sampled_from(["RCB", "RX1"]), st.sampled_from(["V1", "V2", "V3", None]))
sides = st.sets(st.tuples(keys, st.sampled_from(KINDS)), max_size=8)


def events_of(side: set[tuple[tuple[str, str | None], str]], tag: str) -> list[VisitEvent]:
    return [
        VisitEvent(f"{tag}{n}", facility, visit, kind)
        for n, ((facility, visit), kind) in enumerate(sorted(side, key=str))
    ]


@settings(max_examples=400, deadline=None)
@given(sides, sides)
def test_merging_never_loses_a_visit_and_never_counts_one_twice(
    surviving_side: set[tuple[tuple[str, str | None], str]],
    retired_side: set[tuple[tuple[str, str | None], str]],
) -> None:
    surviving, retired = events_of(surviving_side, "s"), events_of(retired_side, "r")
    dropped = duplicates_in_merge(surviving, retired)
    merged = surviving + [e for e in retired if e.event_id not in dropped]

    def visits(events: list[VisitEvent]) -> set[tuple[str, str | None]]:
        return {(e.facility, e.visit_number) for e in events}

    assert visits(merged) == visits(surviving) | visits(retired)  # no visit lost
    per_visit_kind = Counter(
        (e.facility, e.visit_number, e.event_type) for e in merged if e.visit_number
    )
    assert all(n == 1 for n in per_visit_kind.values())  # no admission of a visit twice
    # Events without a visit number stand alone: all of both numbers' are kept.
    alone = [e for e in surviving + retired if e.visit_number is None]
    assert all(e in merged for e in alone)
    assert dropped <= {e.event_id for e in retired}  # only the retired number's are dropped
