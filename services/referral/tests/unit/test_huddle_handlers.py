"""Huddles through the service's handlers (inbox, commit): which events become agenda items,
windows from one huddle to the next, and actions carried over until done."""

from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.scheduling import AppointmentEventType
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.domain.huddle import PastDueDate, Signal, UnknownOwner, parse_team
from referral.service_layer.commands import DischargeReferral, FindSlaBreaches, RequestReferral
from referral.service_layer.huddle_commands import AddAction, CompleteAction

from ..huddle_support import agenda, band_change, kinds, missed, on_caseload, open_huddle
from ..support import Kit, encounter, registered_with, trigger

ON_CASELOAD, WAITING, ELSEWHERE = "9990000018", "9990000026", "9990000034"
MONDAY = date(2026, 11, 23)  # the kit's clock starts at 09:00 UTC that day
TEAM = parse_team("complex_care")


def test_hospital_news_band_rises_and_dnas_of_caseload_patients_are_agenda_items(
    kit: Kit,
) -> None:
    referral_id = on_caseload(kit, ON_CASELOAD)
    kit.execute(RequestReferral("L85001", WAITING, "complex_care"))  # not on a caseload yet
    now = kit.clock.advance(hours=1)
    for patient in (ON_CASELOAD, WAITING):
        kit.consume(
            encounter(patient, occurred_at=now, event_type=EncounterEventType.ADMITTED),
            encounter(patient, occurred_at=now, event_type=EncounterEventType.TRANSFERRED),
            encounter(patient, occurred_at=now, event_type=EncounterEventType.DISCHARGED),
            band_change(patient, "very_high", "high", now),
            band_change(patient, "moderate", "high", now),  # a fall: not news
        )
    kit.consume(
        missed(ON_CASELOAD, referral_id, now),
        missed(ON_CASELOAD, referral_id, now, AppointmentEventType.DNA_ESCALATED),
    )
    assert registered_with(kit, WAITING) == "L85001"  # encounters still teach registrations

    opened = open_huddle(kit, "complex_care", MONDAY)
    assert (opened.created, opened.added) == (True, 5)
    found = agenda(kit, "complex_care", MONDAY)
    assert kinds(found) == [
        ("admitted", ON_CASELOAD),
        ("discharged", ON_CASELOAD),
        ("band_rise", ON_CASELOAD),
        ("dna", ON_CASELOAD),
        ("dna", ON_CASELOAD),
    ]
    first = found["items"][0]
    assert (first["title"], first["detail"], first["worker_name"]) == (
        "Admitted",
        "RCB",
        "Kim Keyworker",
    )
    assert found["items"][2]["detail"] == "high to very high (score 48)"
    assert found["items"][4]["detail"] == "second DNA: programme paused"
    assert [m["id"] for m in found["members"]] == ["KW01", "SUP01"]


def test_an_event_redelivered_is_one_item(kit: Kit) -> None:
    on_caseload(kit, ON_CASELOAD)
    admitted = encounter(ON_CASELOAD, occurred_at=kit.clock.advance(minutes=5))
    kit.consume(admitted, admitted)
    kit.consume(admitted.model_copy(), group="referral.registrations")
    assert open_huddle(kit, "complex_care", MONDAY).added == 1


def test_an_admission_backdated_to_before_the_referral_is_news_a_replay_is_not(
    kit: Kit,
) -> None:
    """The trust's clinical time (PV1-44) may be before the referral existed, as when the
    patient was admitted from the A&E attendance that proposed them; the envelope's time
    says the event is new. A replay of an event published before the referral is no news."""
    before = kit.clock() - timedelta(hours=2)
    on_caseload(kit, ON_CASELOAD)
    sent = kit.clock.advance(minutes=5)
    admitted = encounter(ON_CASELOAD, occurred_at=sent).model_copy(update={"event_at": before})
    replayed = encounter(ON_CASELOAD, occurred_at=before, event_type=EncounterEventType.DISCHARGED)
    kit.consume(admitted, replayed)
    open_huddle(kit, "complex_care", MONDAY)
    (item,) = agenda(kit, "complex_care", MONDAY)["items"]
    assert (item["kind"], item["occurred_at"]) == ("admitted", before.isoformat())


def test_a_patient_who_left_the_caseload_is_no_longer_news(kit: Kit) -> None:
    referral_id = on_caseload(kit, ON_CASELOAD)
    kit.execute(DischargeReferral(referral_id, "moved_away"))
    kit.consume(encounter(ON_CASELOAD, occurred_at=kit.clock.advance(minutes=5)))
    assert open_huddle(kit, "complex_care", MONDAY).added == 0


def test_proposals_and_sla_breaches_are_the_team_s_own_news(kit: Kit) -> None:
    kit.consume(trigger(ELSEWHERE, practice_ods="L85002", occurred_at=kit.clock()))
    kit.execute(RequestReferral("L85001", WAITING, "complex_care"))
    kit.clock.advance(days=30)
    assert kit.execute(FindSlaBreaches()) == 2
    kit.consume(trigger(ON_CASELOAD, practice_ods="L85001", occurred_at=kit.clock()))
    for team in ("complex_care", "complex_care.L85002", "health_coaching"):
        open_huddle(kit, team, MONDAY)
    # A first huddle looks back a week: the first proposal, 30 days old, is not on it.
    assert kinds(agenda(kit, "complex_care", MONDAY)) == [
        ("sla_breach", ELSEWHERE),
        ("sla_breach", WAITING),
        ("proposal", ON_CASELOAD),
    ]
    assert kinds(agenda(kit, "complex_care.L85002", MONDAY)) == [("sla_breach", ELSEWHERE)]
    assert kinds(agenda(kit, "health_coaching", MONDAY)) == []


def test_each_huddle_takes_what_came_after_the_one_before(kit: Kit) -> None:
    on_caseload(kit, ON_CASELOAD)
    kit.consume(encounter(ON_CASELOAD, occurred_at=kit.clock.advance(minutes=5)))
    first = open_huddle(kit, "complex_care", MONDAY)
    late = kit.clock.advance(minutes=30)
    kit.consume(band_change(ON_CASELOAD, "very_high", "high", late))
    # Opening Monday's huddle again takes what came since; nothing twice.
    again = open_huddle(kit, "complex_care", MONDAY)
    assert (again.created, again.added, first.added) == (False, 1, 1)
    assert again.huddle.huddle_id == first.huddle.huddle_id
    kit.consume(
        encounter(
            ON_CASELOAD,
            occurred_at=kit.clock.advance(days=3),
            event_type=EncounterEventType.DISCHARGED,
        )
    )
    thursday = open_huddle(kit, "complex_care", MONDAY + timedelta(days=3))
    assert kinds(agenda(kit, "complex_care", thursday.huddle.huddle_date)) == [
        ("discharged", ON_CASELOAD)
    ]
    assert thursday.huddle.window_start == again.huddle.cutoff
    # Monday's agenda does not grow once a later huddle exists.
    assert open_huddle(kit, "complex_care", MONDAY).added == 0


def test_actions_need_a_known_owner_and_carry_over_until_done(kit: Kit) -> None:
    on_caseload(kit, ON_CASELOAD)
    kit.consume(encounter(ON_CASELOAD, occurred_at=kit.clock.advance(minutes=5)))
    open_huddle(kit, "complex_care", MONDAY)
    (item,) = agenda(kit, "complex_care", MONDAY)["items"]
    item_id = UUID(item["item_id"])

    def add(owner: str, due: date) -> AddAction:
        return AddAction(TEAM, MONDAY, item_id, "ring the ward", owner, due, "alice")

    with pytest.raises(UnknownOwner):
        kit.execute(add("NOBODY", MONDAY))
    with pytest.raises(PastDueDate):
        kit.execute(add("KW01", MONDAY - timedelta(days=1)))
    action = kit.execute(add("KW01", MONDAY + timedelta(days=2)))
    assert action.owner_name == "Kim Keyworker"
    (listed,) = agenda(kit, "complex_care", MONDAY)["items"][0]["actions"]
    assert (listed["action_id"], listed["open"]) == (str(action.action_id), True)

    kit.clock.advance(days=3)
    thursday = MONDAY + timedelta(days=3)
    open_huddle(kit, "complex_care", thursday)
    (carried,) = agenda(kit, "complex_care", thursday)["carried_over"]
    assert (carried["action_id"], carried["raised_on"], carried["item"]["kind"]) == (
        str(action.action_id),
        MONDAY.isoformat(),
        "admitted",
    )
    kit.clock.advance(minutes=30)  # done during Thursday's huddle
    kit.execute(CompleteAction(TEAM, action.action_id, "kim"))
    kit.clock.advance(days=4)
    monday_next = MONDAY + timedelta(days=7)
    open_huddle(kit, "complex_care", monday_next)
    assert agenda(kit, "complex_care", monday_next)["carried_over"] == []
    # Thursday's sheet still shows it: it was open when Thursday's huddle opened.
    (still,) = agenda(kit, "complex_care", thursday)["carried_over"]
    assert (still["open"], still["done_by"]) == (False, "kim")


def test_a_signal_committed_after_a_huddle_looked_goes_on_the_next_one(kit: Kit) -> None:
    on_caseload(kit, ON_CASELOAD)
    kit.consume(encounter(ON_CASELOAD, occurred_at=kit.clock.advance(minutes=5)))
    monday = open_huddle(kit, "complex_care", MONDAY).huddle
    (referral,) = kit.run(lambda uow: uow.signals.caseload_referrals(ON_CASELOAD))
    # Its time was taken a minute before Monday's cutoff, its transaction committed after.
    stamped = monday.cutoff - timedelta(minutes=1)
    late = Signal.about(
        referral, kind="discharged", event_id=uuid4(), occurred_at=stamped, now=stamped
    )

    def commit_late(uow: ReferralUnitOfWork) -> None:
        uow.signals.add(late)
        uow.commit()

    kit.run(commit_late)
    kit.clock.advance(days=3)
    thursday = MONDAY + timedelta(days=3)
    open_huddle(kit, "complex_care", thursday)
    assert kinds(agenda(kit, "complex_care", thursday)) == [("discharged", ON_CASELOAD)]
    assert kinds(agenda(kit, "complex_care", MONDAY)) == [("admitted", ON_CASELOAD)]
