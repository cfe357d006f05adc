"""The lifecycle on the store itself, SQLite and PostgreSQL (fixture `database_url`)."""

from collections.abc import Iterator
from dataclasses import replace
from uuid import UUID, uuid4

import pytest
from alembic import command
from sqlalchemy import inspect, update
from sqlalchemy.exc import IntegrityError

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.referral import ReferralEventType
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import _config, migrate, schema_drift
from referral.adapters.repository import REFERRALS
from referral.domain.referral import InvalidTransition
from referral.service import DEFINITION
from referral.service_layer.commands import (
    AcceptReferral,
    ActivateReferral,
    AddNote,
    AssignReferral,
    DeclineReferral,
    FindSlaBreaches,
    RequestReferral,
    TriageReferral,
)

from ..support import Kit, encounter, published, ready_to_accept, referral_kit, stored, trigger


@pytest.fixture
def kit(database_url: str) -> Iterator[Kit]:
    kit = referral_kit(database_url)
    yield kit
    kit.dispose()


def active_referral(kit: Kit, nhs_number: str = "9990000018") -> UUID:
    kit.consume(trigger(nhs_number=nhs_number))
    (referral,) = [r for r in stored(kit) if r.nhs_number == nhs_number]
    ready_to_accept(kit, referral.referral_id, "urgent")
    kit.execute(AcceptReferral(referral.referral_id))
    kit.execute(AssignReferral(referral.referral_id, "keyworker", "K1", "Kim", "S1", "Sam"))
    kit.execute(ActivateReferral(referral.referral_id))
    return referral.referral_id


def test_every_lifecycle_field_round_trips(kit: Kit) -> None:
    referral_id = active_referral(kit)
    kit.execute(AddNote(referral_id, "prefers mornings — ਸਵੇਰ", "alice", None))
    (saved,) = stored(kit)
    assert (saved.status, saved.priority, saved.consent, saved.consent_method) == (
        "active",
        "urgent",
        "given",
        "verbal",
    )
    assert (saved.worker_id, saved.worker_name, saved.supervisor_name) == ("K1", "Kim", "Sam")
    assert saved.consent_at is not None and saved.consent_at.tzinfo is not None
    assert saved.sla_stage is None  # no clock runs for an active referral
    (note,) = kit.run(lambda uow: uow.notes.of(referral_id))
    assert note["text"].endswith("ਸਵੇਰ")


def test_triaged_and_active_referrals_count_as_open_in_the_index(kit: Kit) -> None:
    active_referral(kit)
    (existing,) = stored(kit)
    duplicate = kit.execute(RequestReferral("L85001", "9990000018", "complex_care", "again"))
    assert (duplicate.merged, duplicate.referral.referral_id) == (True, existing.referral_id)
    clash = replace(existing, referral_id=uuid4())  # a second open one, past the handler
    with pytest.raises(IntegrityError), kit.unit_of_work() as uow:
        uow.referrals.add(clash)
        uow.commit()


def test_breaches_are_found_by_the_store_once_per_stage(kit: Kit) -> None:
    kit.consume(trigger(nhs_number="9990000018"), trigger(nhs_number="9990000026"))
    first, _ = stored(kit)
    kit.clock.advance(days=6)
    assert kit.execute(FindSlaBreaches(limit=1)) == 1  # paged
    assert kit.execute(FindSlaBreaches()) == 1
    assert kit.execute(FindSlaBreaches()) == 0
    kit.execute(TriageReferral(first.referral_id, "routine"))
    kit.clock.advance(days=20)
    assert kit.execute(FindSlaBreaches()) == 1
    stages = [e.sla_stage for e in published(kit) if e.event_type == "referral.sla_breached"]
    assert stages == ["triage", "triage", "acceptance"]


def test_a_merge_moves_referrals_on_the_store(kit: Kit) -> None:
    active_referral(kit, "9990000018")
    kit.clock.advance(minutes=1)
    merge = encounter(
        nhs_number="9990000026", event_type=EncounterEventType.MERGED, occurred_at=kit.clock()
    ).model_copy(update={"merged_from_nhs_number": "9990000018"})
    assert kit.consume(merge) == ["processed"]
    assert {r.nhs_number for r in stored(kit)} == {"9990000026"}
    assert kit.run(lambda uow: uow.registrations.practice_of("9990000018")) is None
    assert kit.run(lambda uow: uow.registrations.practice_of("9990000026")) == "L85001"
    assert published(kit)[-1].nhs_number == "9990000026"
    assert published(kit)[-1].event_type == "referral.patient_merged"
    assert published(kit)[-1].status == "active"


def test_0003_downgrades_and_upgrades_again(database_url: str) -> None:
    engine = create_db_engine(database_url)
    migrate(engine, DEFINITION.migrations)
    with engine.connect() as connection:
        command.downgrade(_config(DEFINITION.migrations, connection), "0002")
        connection.commit()
        columns = {c["name"] for c in inspect(connection).get_columns("referrals")}
        assert "priority" not in columns
        assert not inspect(connection).has_table("referral_notes")
    migrate(engine, DEFINITION.migrations)
    assert schema_drift(engine) == []
    engine.dispose()


def test_a_decision_writes_only_the_columns_it_changed(kit: Kit) -> None:
    """A decision reads its referral prepared and saves it with a prepared UPDATE of what it
    changed, as the ORM's flush did: a column changed under it in the same transaction (here
    a worker's name) survives, and the stored referral is what a read gives back."""
    kit.consume(trigger(nhs_number="9990000018"))
    (proposed,) = stored(kit)
    with kit.unit_of_work() as uow:
        referral = uow.referrals.get(proposed.referral_id)
        assert referral == proposed
        uow.referrals.session.execute(
            update(REFERRALS)
            .where(REFERRALS.c.referral_id == proposed.referral_id)
            .values(worker_name="Kim")
        )
        referral.decline("not for us", kit.clock())
        uow.referrals.save(referral)
        uow.referrals.save(referral)  # nothing changed since: no write, no error
        uow.commit()
    (declined,) = stored(kit)
    assert declined == replace(referral, worker_name="Kim")
    assert (declined.status, declined.decline_reason) == ("declined", "not for us")


def test_a_decline_through_the_handler_is_stored_and_announced_once(kit: Kit) -> None:
    kit.consume(trigger(nhs_number="9990000018"))
    (proposed,) = stored(kit)
    declined = kit.execute(DeclineReferral(proposed.referral_id, "triaged elsewhere"))
    assert stored(kit) == [declined]
    with pytest.raises(InvalidTransition):  # a closed referral refuses, and nothing changes
        kit.execute(DeclineReferral(proposed.referral_id, "again"))
    assert stored(kit) == [declined]
    announced = [(e.event_type, e.reason) for e in published(kit)]
    assert announced[1:] == [(ReferralEventType.DECLINED, "triaged elsewhere")]
