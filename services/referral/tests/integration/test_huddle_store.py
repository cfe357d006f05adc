"""Huddles on the store itself, SQLite and PostgreSQL (fixture `database_url`)."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from uuid import UUID

import pytest
from sqlalchemy.exc import IntegrityError

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.domain.huddle import Huddle, Signal, parse_team
from referral.service_layer.huddle_commands import AddAction, CompleteAction

from ..huddle_support import agenda, band_change, kinds, missed, on_caseload, open_huddle
from ..support import Kit, encounter, referral_kit

MONDAY = date(2026, 11, 23)
TEAM = parse_team("complex_care.L85001")
PATIENT, SURVIVOR = "9990000018", "9990000042"


@pytest.fixture
def kit(database_url: str) -> Iterator[Kit]:
    kit = referral_kit(database_url)
    yield kit
    kit.dispose()


def test_signals_huddles_and_actions_round_trip(kit: Kit) -> None:
    referral_id = on_caseload(kit, PATIENT)
    at = kit.clock.advance(minutes=10)
    kit.consume(
        encounter(PATIENT, occurred_at=at, event_type=EncounterEventType.AE_ATTENDANCE),
        band_change(PATIENT, "very_high", "moderate", at),
        missed(PATIENT, referral_id, at),
    )
    opened = open_huddle(kit, TEAM.key, MONDAY)
    found = agenda(kit, TEAM, MONDAY)
    assert kinds(found) == [("ae_attendance", PATIENT), ("band_rise", PATIENT), ("dna", PATIENT)]
    assert found["items"][0]["occurred_at"] == at.isoformat()
    assert found["huddle"]["huddle_date"] == MONDAY.isoformat()
    item_id = UUID(found["items"][0]["item_id"])
    action = kit.execute(
        AddAction(TEAM, MONDAY, item_id, "ਫ਼ੋਨ ਕਰੋ: call the daughter", "SUP01", MONDAY, "alice")
    )
    kit.clock.advance(minutes=5)
    done = kit.execute(CompleteAction(TEAM, action.action_id, "sam"))
    (stored,) = agenda(kit, TEAM, MONDAY)["items"][0]["actions"]
    assert (stored["text"], stored["owner_name"], stored["due_on"]) == (
        "ਫ਼ੋਨ ਕਰੋ: call the daughter",
        "Sam Supervisor",
        MONDAY.isoformat(),
    )
    assert done.done_at is not None and stored["done_at"] == done.done_at.isoformat()
    assert opened.huddle.cutoff.tzinfo is not None


def test_a_signal_delivered_twice_is_kept_once_and_a_team_meets_once_a_day(kit: Kit) -> None:
    referral_id = on_caseload(kit, PATIENT)
    (referral,) = kit.run(lambda uow: uow.signals.caseload_referrals(PATIENT))
    now = kit.clock()
    signal = Signal.about(referral, kind="admitted", event_id=referral_id, occurred_at=now, now=now)

    def record_twice(uow: ReferralUnitOfWork) -> None:
        uow.signals.add(signal)
        uow.signals.add(replace(signal, signal_id=UUID(int=7)))
        uow.commit()

    kit.run(record_twice)
    assert open_huddle(kit, TEAM.key, MONDAY).added == 1
    twin = Huddle.open(TEAM, MONDAY, now=now, by="bob", previous=None)

    def add_twin(uow: ReferralUnitOfWork) -> None:
        uow.huddles.add(twin)
        uow.commit()

    with pytest.raises(IntegrityError):
        kit.run(add_twin)


def test_after_a_merge_the_item_names_the_surviving_patient(kit: Kit) -> None:
    on_caseload(kit, PATIENT)
    kit.consume(encounter(PATIENT, occurred_at=kit.clock.advance(minutes=1)))
    merge = encounter(SURVIVOR, occurred_at=kit.clock.advance(minutes=1))
    kit.consume(
        EncounterEvent(
            **merge.model_dump(exclude={"event_type", "merged_from_nhs_number"}),
            event_type=EncounterEventType.MERGED,
            merged_from_nhs_number=PATIENT,
        )
    )
    open_huddle(kit, TEAM.key, MONDAY)
    assert kinds(agenda(kit, TEAM, MONDAY)) == [("admitted", SURVIVOR)]


def test_members_are_the_team_s_assigned_workers_and_supervisors(kit: Kit) -> None:
    on_caseload(kit, PATIENT)
    on_caseload(kit, SURVIVOR, practice_ods="L85002")
    on_caseload(kit, "9990000050", service="health_coaching")
    kit.clock.advance(days=1)
    for team, expected in (
        ("complex_care", {"KW01": "Kim Keyworker", "SUP01": "Sam Supervisor"}),
        ("complex_care.L85002", {"KW01": "Kim Keyworker", "SUP01": "Sam Supervisor"}),
        ("health_coaching", {"CO01": "Chris Coach", "SUP01": "Sam Supervisor"}),
        ("health_coaching.L85002", {}),
    ):
        found = kit.run(lambda uow, t=team: uow.huddles.members(parse_team(t)))
        assert found == expected, team
    later = MONDAY + timedelta(days=1)
    open_huddle(kit, "health_coaching.L85002", later)
    assert agenda(kit, "health_coaching.L85002", later)["members"] == []
