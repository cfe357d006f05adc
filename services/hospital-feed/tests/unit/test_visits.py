"""The visit state machine (domain/visits.py): every trigger, in and out of order, repeats,
older updates; and the patient's registration. No store."""

from datetime import UTC, datetime

import pytest

from ensemble_contracts.hospital import EncounterEventType as T
from hospital_feed.domain.hl7_message import AdtMessage, parse_adt
from hospital_feed.domain.visits import (
    Registration,
    Transition,
    Visit,
    VisitStatus,
    apply,
    merged_registration,
    new_visit,
    register,
)

from ..samples import adt


def message(trigger: str, at: str = "202611221015", **fields: str) -> AdtMessage:
    return parse_adt(adt(trigger, evn6=at, **fields))  # type: ignore[arg-type]


def run(*messages: AdtMessage) -> tuple[Visit, list[Transition]]:
    """The messages applied in turn to a new visit: the last state and each transition."""
    visit = new_visit(messages[0])
    transitions = []
    for each in messages:
        transition = apply(visit, each)
        transitions.append(transition)
        visit = transition.visit
    return visit, transitions


def published(transitions: list[Transition]) -> list[str]:
    return [p.event_type for t in transitions for p in t.publish]


def utc(text: str) -> datetime:
    return parse_adt(adt(evn6=text)).occurred_at or datetime.min.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("trigger", "patient_class", "status", "events"),
    [
        ("A01", "I", VisitStatus.ADMITTED, [T.ADMITTED]),
        ("A06", "I", VisitStatus.ADMITTED, [T.ADMITTED]),
        ("A04", "E", VisitStatus.REGISTERED, [T.AE_ATTENDANCE]),
        ("A04", "O", VisitStatus.REGISTERED, []),  # an outpatient registration is no event
        ("A05", "I", VisitStatus.PRE_ADMITTED, []),
        ("A02", "I", VisitStatus.ADMITTED, [T.TRANSFERRED]),
        ("A03", "I", VisitStatus.DISCHARGED, [T.DISCHARGED]),
        ("A11", "I", VisitStatus.CANCELLED, [T.ADMISSION_CANCELLED]),
        ("A21", "I", VisitStatus.ON_LEAVE, [T.LEAVE_STARTED]),
        ("A22", "I", VisitStatus.UNKNOWN, []),  # not on leave: kept without effect
        ("A12", "I", VisitStatus.UNKNOWN, []),  # no transfer to cancel
        ("A08", "I", VisitStatus.UNKNOWN, []),  # nothing known to change
        ("A07", "O", VisitStatus.REGISTERED, []),
    ],
)
def test_each_trigger_on_a_new_visit(
    trigger: str, patient_class: str, status: VisitStatus, events: list[str]
) -> None:
    visit, transitions = run(message(trigger, patient_class=patient_class))
    assert (visit.status, published(transitions)) == (status, events)
    assert visit.last_trigger == trigger


def test_a_stay_in_order_admission_transfer_leave_discharge() -> None:
    visit, transitions = run(
        message("A05", "202611220900"),
        message("A01", "202611221000"),
        message("A02", "202611221100", location="WARD 9"),
        message("A21", "202611221200", location="WARD 9"),
        message("A22", "202611221800", location="WARD 9"),
        message("A03", "202611231000", location="WARD 9"),
    )
    assert published(transitions) == [
        T.ADMITTED,
        T.TRANSFERRED,
        T.LEAVE_STARTED,
        T.LEAVE_ENDED,
        T.DISCHARGED,
    ]
    assert (visit.status, visit.location, visit.ended_at) == (
        VisitStatus.DISCHARGED,
        "WARD 9",
        utc("202611231000"),
    )


def test_cancels_undo_exactly_what_they_cancel() -> None:
    admitted = message("A01", "202611221000", location="WARD 7")
    moved = message("A02", "202611221100", location="WARD 9")
    visit, transitions = run(admitted, moved, message("A12", "202611221105"))
    assert published(transitions) == [T.ADMITTED, T.TRANSFERRED, T.TRANSFER_CANCELLED]
    assert transitions[-1].publish[0].fields == {"location": "WARD 7"}
    assert (visit.status, visit.location) == (VisitStatus.ADMITTED, "WARD 7")
    # a second A12 has no transfer left to cancel
    assert apply(visit, message("A12", "202611221110")).publish == ()

    discharged, transitions = run(admitted, message("A03", "202611231000"))
    back = apply(discharged, message("A13", "202611231005"))
    assert [p.event_type for p in back.publish] == [T.DISCHARGE_CANCELLED]
    assert (back.visit.status, back.visit.ended_at) == (VisitStatus.ADMITTED, None)

    cancelled, transitions = run(admitted, message("A11", "202611221030"))
    assert (cancelled.status, published(transitions)[-1]) == (
        VisitStatus.CANCELLED,
        T.ADMISSION_CANCELLED,
    )
    # a genuine re-admission after the cancellation is published again
    again = apply(cancelled, message("A01", "202611221000"))
    assert (again.visit.status, [p.event_type for p in again.publish]) == (
        VisitStatus.ADMITTED,
        [T.ADMITTED],
    )


def test_a_discharge_before_its_admission_ends_discharged_and_the_admission_is_history() -> None:
    discharge = message("A03", "202611231000", location="DISCHARGE LOUNGE")
    admission = message("A01", "202611221000", location="WARD 7")
    visit, transitions = run(discharge, admission)
    assert published(transitions) == [T.DISCHARGED, T.ADMITTED]
    (late,) = transitions[1].publish
    assert late.fields == {"discharged_at": utc("202611231000")}  # history: no alert
    assert visit.status is VisitStatus.DISCHARGED
    assert visit.location == "DISCHARGE LOUNGE"  # the older admission's facts lose
    assert (visit.started_at, visit.ended_at) == (utc("202611221000"), utc("202611231000"))
    # A later admission on the same visit number is a new stay, told as ever
    readmitted = apply(visit, message("A01", "202611240900"))
    assert readmitted.visit.status is VisitStatus.ADMITTED
    assert readmitted.publish[0].fields == {}


def test_a_cancellation_before_its_admission_absorbs_the_late_admission() -> None:
    visit, transitions = run(message("A11", "202611221030"), message("A01", "202611221000"))
    assert published(transitions) == [T.ADMISSION_CANCELLED]
    assert visit.status is VisitStatus.CANCELLED


def test_repeats_say_nothing_new() -> None:
    visit, transitions = run(
        message("A01", "202611221000"),
        message("A21", "202611221200"),
        message("A21", "202611221201"),  # still on leave
        message("A22", "202611221800"),
        message("A22", "202611221801"),  # already back
        message("A08", "202611221900"),  # the same facts
        message("A08", "202611221900"),
    )
    assert published(transitions) == [T.ADMITTED, T.LEAVE_STARTED, T.LEAVE_ENDED]
    assert visit.status is VisitStatus.ADMITTED


def test_an_a08_changing_the_class_says_so_and_an_older_one_changes_nothing() -> None:
    admitted = message("A01", "202611221000", patient_class="E", location="RESUS")
    newer = message("A08", "202611221200", patient_class="I", location="WARD 7")
    older = message("A08", "202611221100", patient_class="O", location="CLINIC")
    visit, transitions = run(admitted, newer, older)
    assert published(transitions) == [T.ADMITTED, T.CLASS_CHANGED]
    assert transitions[1].publish[0].fields == {"previous_patient_class": "E"}
    assert (visit.patient_class, visit.location, visit.last_event_at) == (
        "I",
        "WARD 7",
        utc("202611221200"),
    )
    # the older update arriving first and the newer after: the same end
    other, transitions = run(admitted, older, newer)
    assert (other.patient_class, other.location) == ("I", "WARD 7")


def test_a07_makes_an_inpatient_an_outpatient() -> None:
    visit, transitions = run(
        message("A01", "202611221000", patient_class="I"),
        message("A07", "202611221200", patient_class="O"),
    )
    assert published(transitions) == [T.ADMITTED, T.CLASS_CHANGED]
    assert (visit.status, visit.patient_class) == (VisitStatus.REGISTERED, "O")


def test_the_registration_newest_wins_and_only_updates_tell_a_change() -> None:
    first, said = register(None, message("A01", "202611221000", practice="L85001"))
    assert first == Registration("9990000018", "L85001", utc("202611221000")) and said is None
    moved, said = register(first, message("A31", "202611230900", practice="L85002"))
    assert moved is not None and moved.practice_ods == "L85002"
    assert said is not None and said.event_type == T.PRACTICE_CHANGED
    assert said.fields == {"previous_practice_ods": "L85001"}
    # an older A08 naming the old practice changes nothing; the same practice tells nothing
    assert register(moved, message("A08", "202611221100", practice="L85001")) == (None, None)
    same, said = register(moved, message("A28", "202611240900", practice="L85002"))
    assert said is None and same is not None and same.as_of == utc("202611240900")
    # an encounter naming another practice updates it silently (its own alert goes there)
    silent, said = register(moved, message("A03", "202611250900", practice="L85001"))
    assert said is None and silent is not None and silent.practice_ods == "L85001"
    assert register(moved, message("A08", "202611250900", practice="")) == (None, None)


def test_a_merge_keeps_the_newer_registration() -> None:
    old = Registration("9990000026", "L85002", utc("202611230900"))
    kept = Registration("9990000018", "L85001", utc("202611220900"))
    assert merged_registration(old, kept, "9990000018") == Registration(
        "9990000018", "L85002", utc("202611230900")
    )
    assert merged_registration(None, kept, "9990000018") == kept
    assert merged_registration(kept, None, "9990000034") == Registration(
        "9990000034", "L85001", utc("202611220900")
    )


def test_mrg_1_is_read_like_pid_3() -> None:
    raw = adt("A40", nhs="9990000018") + "MRG|RCB1^^^RCB^MR~9990000026^^^NHS^NH\r"
    assert parse_adt(raw).merged_from_nhs_number == "9990000026"
    assert parse_adt(adt("A40")).merged_from_nhs_number is None
