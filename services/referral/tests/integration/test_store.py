"""What the store itself guarantees, on SQLite and PostgreSQL (fixture `database_url`)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic_core import to_json
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from referral.adapters import views
from referral.adapters.orm import PatientRegistrationRecord, ReferralRecord
from referral.adapters.repository import ReferralRepository, to_domain
from referral.domain.referral import Referral
from referral.service_layer.commands import RequestReferral

from ..support import Kit, published, referral_kit, trigger


@pytest.fixture
def kit(database_url: str) -> Iterator[Kit]:
    kit = referral_kit(database_url)
    yield kit
    kit.dispose()


def request(now: datetime, service: str = "complex_care", practice_ods: str = "L85001") -> Referral:
    return Referral.request(
        nhs_number="9990000018", practice_ods=practice_ods, service=service, now=now
    )


def test_round_trip_keeps_every_field_and_utc(kit: Kit) -> None:
    kit.consume(trigger())
    with kit.unit_of_work() as uow:
        (referral,) = uow.referrals.find()
        again = uow.referrals.get(referral.referral_id)
    assert again == referral
    assert referral.created_at.utcoffset() == referral.due_by.utcoffset() == UTC.utcoffset(None)
    assert referral.created_at == kit.clock()  # the service's clock, through the store
    assert referral.source_event_id is not None and referral.trigger_event_id is not None


def test_one_proposal_per_trigger_even_past_the_handler(kit: Kit) -> None:
    kit.consume(trigger())
    with kit.unit_of_work() as uow:
        (existing,) = uow.referrals.find()
        existing.status = "declined"  # so only the source_event_id can collide
        uow.referrals.save(existing)
        uow.commit()
        twin = Referral(**{**vars(existing), "referral_id": uuid4(), "status": "proposed"})
        uow.referrals.add(twin)
        with pytest.raises(IntegrityError):
            uow.commit()
    assert len(published(kit)) == 1


def test_a_prepared_insert_writes_and_reads_back_what_the_orm_does(kit: Kit) -> None:
    """`insert` (a trigger's proposal) and `add` write the same row; the prepared reads give
    back what the ORM's `get` does, every field and UTC; a twin trigger trips at the insert."""
    now = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)
    written = Referral.propose(
        nhs_number="9990000018",
        practice_ods="L85001",
        now=now,
        source_event_id=uuid4(),
        trigger_event_id=uuid4(),
        reason="hot onboarding",
        preferred_language="pa",
    )
    by_orm = request(now, service="health_coaching")
    with kit.unit_of_work() as uow:
        uow.referrals.insert(written)
        uow.referrals.add(by_orm)
        uow.commit()
    with kit.unit_of_work() as uow:
        assert uow.referrals.get(written.referral_id) == written
        assert uow.referrals.get(by_orm.referral_id) == by_orm
        assert uow.referrals.proposed_from(written.source_event_id) == written  # type: ignore[arg-type]
        assert uow.referrals.open_for("9990000018", "L85001", "complex_care") == written
        assert uow.referrals.open_for("9990000018", "L85001", "health_coaching") == by_orm
        twin = Referral(**{**vars(written), "referral_id": uuid4(), "status": "declined"})
        with pytest.raises(IntegrityError):
            uow.referrals.insert(twin)


def test_one_open_referral_per_patient_practice_and_service(kit: Kit) -> None:
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    first = request(now)
    with kit.unit_of_work() as uow:
        uow.referrals.add(first)
        uow.referrals.add(request(now, service="health_coaching"))
        uow.commit()
    with kit.unit_of_work() as uow:
        uow.referrals.add(request(now))
        with pytest.raises(IntegrityError):
            uow.commit()
    with kit.unit_of_work() as uow:  # once closed, a new one may open
        first.decline("no", now)
        uow.referrals.save(first)
        uow.referrals.add(request(now))
        uow.commit()
    with kit.unit_of_work() as uow:  # another practice's open referral is no obstacle
        uow.referrals.add(request(now, practice_ods="L85002"))
        uow.commit()
    with kit.unit_of_work() as uow:
        statuses = sorted((r.practice_ods, r.status) for r in uow.referrals.find())
    assert statuses == [
        ("L85001", "declined"),
        ("L85001", "requested"),
        ("L85001", "requested"),
        ("L85002", "requested"),
    ]


async def test_a_request_that_loses_a_race_is_merged_into_the_winner(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = request(kit.clock())
    with kit.unit_of_work() as uow:
        uow.referrals.add(winner)
        uow.commit()
    looked = []
    real_open_for = ReferralRepository.open_for

    def blind_first_time(
        self: ReferralRepository, nhs: str, practice: str, kind: str
    ) -> Referral | None:
        # The loser checked before the winner committed, so it saw nothing.
        looked.append(kind)
        return None if len(looked) == 1 else real_open_for(self, nhs, practice, kind)

    monkeypatch.setattr(ReferralRepository, "open_for", blind_first_time)
    command = RequestReferral(
        practice_ods="L85001", nhs_number="9990000018", service="complex_care"
    )
    # Through the runtime: the unique index trips at commit, the command runs again.
    requested = await kit.execute_async(command)
    assert (requested.merged, requested.referral.referral_id) == (True, winner.referral_id)
    assert looked == ["complex_care", "complex_care"]
    assert published(kit) == []


def test_the_newest_registration_wins_on_the_store(kit: Kit) -> None:
    nine = datetime(2026, 11, 23, 9, tzinfo=UTC)
    with kit.unit_of_work() as uow:
        assert uow.registrations.record("9990000018", "L85001", nine)
        uow.commit()
    with kit.unit_of_work() as uow:
        # Older by one microsecond, and written with another offset: still older.
        earlier = (nine - timedelta(microseconds=1)).astimezone(timezone(timedelta(hours=5)))
        assert not uow.registrations.record("9990000018", "L85002", earlier)
        uow.commit()
    assert kit.run(lambda uow: uow.registrations.practice_of("9990000018")) == "L85001"
    with kit.unit_of_work() as uow:
        assert uow.registrations.record("9990000018", "L85002", nine)  # same time: taken
        assert uow.registrations.record("9990000018", "L85003", nine + timedelta(seconds=1))
        uow.commit()
    rows = kit.read(lambda session: session.exec(select(PatientRegistrationRecord)).all())
    assert [(r.nhs_number, r.practice_ods, r.updated_at) for r in rows] == [
        ("9990000018", "L85003", nine + timedelta(seconds=1))
    ]


XMIN = "SELECT xmin FROM patient_registrations"


def test_the_registration_already_held_is_taken_without_a_write(kit: Kit) -> None:
    nine = datetime(2026, 11, 23, 9, tzinfo=UTC)

    def version() -> object:
        # What changes on every write of the row: PostgreSQL's row version; SQLite: none.
        def read(session: Session) -> object:
            if session.get_bind().dialect.name != "postgresql":
                return None
            return session.connection().execute(text(XMIN)).scalar_one()

        return kit.read(read)

    with kit.unit_of_work() as uow:
        assert uow.registrations.record("9990000018", "L85001", nine)
        uow.commit()
    before = version()
    with kit.unit_of_work() as uow:
        # The same fact again (another offset, the same instant): taken, nothing written.
        assert uow.registrations.record(
            "9990000018", "L85001", nine.astimezone(timezone(timedelta(hours=-3)))
        )
        assert not uow.registrations.record("9990000018", "L85002", nine - timedelta(hours=1))
        uow.commit()
    assert version() == before
    rows = kit.read(lambda session: session.exec(select(PatientRegistrationRecord)).all())
    assert [(r.practice_ods, r.updated_at) for r in rows] == [("L85001", nine)]


def test_a_practice_sees_its_referrals_of_patients_not_registered_elsewhere(kit: Kit) -> None:
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    unknown, ours, moved = "9990000026", "9990000018", "9990000034"
    with kit.unit_of_work() as uow:
        for nhs in (unknown, ours, moved):
            for practice in ("L85001", "L85002"):
                uow.referrals.add(
                    Referral.request(
                        nhs_number=nhs, practice_ods=practice, service="complex_care", now=now
                    )
                )
        uow.registrations.record(ours, "L85001", now)
        uow.registrations.record(moved, "L85002", now)
        uow.commit()

    def visible(practice: str) -> list[tuple[str, str]]:
        found = kit.run(lambda uow: uow.referrals.find(visible_to=practice))
        return sorted((r.nhs_number, r.practice_ods) for r in found)

    assert visible("L85001") == [(ours, "L85001"), (unknown, "L85001")]
    assert visible("L85002") == [(unknown, "L85002"), (moved, "L85002")]
    assert len(kit.run(lambda uow: uow.referrals.find())) == 6  # staff see every one


def test_a_listing_gives_what_the_orm_query_gives(kit: Kit) -> None:
    """`find` (prepared per shape) lists, in order and within the limit, the rows an ORM
    query with the same filters gives, and sees what this transaction has not flushed."""
    start = datetime(2026, 11, 23, 9, tzinfo=UTC)
    patients = ("9990000018", "9990000026", "9990000034")
    with kit.unit_of_work() as uow:
        for i, (nhs, practice) in enumerate((n, p) for n in patients for p in ("L85001", "L85002")):
            for service in ("complex_care", "health_coaching"):
                made = request(start + timedelta(minutes=i % 3), service, practice)
                uow.referrals.add(Referral(**{**vars(made), "nhs_number": nhs}))
        uow.registrations.record(patients[1], "L85002", start)
        uow.commit()
        (first,) = uow.referrals.find(nhs_number=patients[0], practice_ods="L85001", limit=1)
        first.status = "declined"
        uow.referrals.save(first)  # not flushed: the listing must see it all the same
        for given in (
            {},
            {"status": "requested"},
            {"status": "declined", "practice_ods": "L85001"},
            {"nhs_number": patients[1], "status": "requested", "practice_ods": "L85002"},
        ):
            patient, status, ods = (given.get(k) for k in ("nhs_number", "status", "practice_ods"))
            listed = uow.referrals.find(nhs_number=patient, status=status, practice_ods=ods)
            two = uow.referrals.find(nhs_number=patient, status=status, practice_ods=ods, limit=2)
            expected = uow.referrals.session.exec(
                select(ReferralRecord)
                .filter_by(**given)
                .order_by(col(ReferralRecord.created_at), col(ReferralRecord.referral_id))
            ).all()
            assert listed == [to_domain(r) for r in expected] and two == listed[:2]
        assert [r.practice_ods for r in uow.referrals.find(visible_to="L85001")] == ["L85001"] * 4


def test_a_listed_row_renders_as_its_referral_does(kit: Kit) -> None:
    """views.row_json (listings: straight from the row) gives referral_json's answer, key
    order included, for referrals with every kind of field set or left empty."""
    kit.consume(trigger())
    with kit.unit_of_work() as uow:
        (proposal,) = uow.referrals.find()
        proposal.decline("on another team — “declined” ✓", kit.clock())
        uow.referrals.save(proposal)
        uow.referrals.add(request(kit.clock(), "health_coaching"))
        consented = request(kit.clock(), "complex_care", "L85002")
        consented.consent, consented.consent_at = "given", kit.clock() - timedelta(hours=1)
        uow.referrals.add(consented)
        uow.commit()
        rows = uow.referrals.find_rows()
        referrals = uow.referrals.find()
    assert len(rows) == 3 and any(r.consent_at for r in referrals)
    for row, referral in zip(rows, referrals, strict=True):
        rendered = views.row_json(row)
        assert rendered == views.referral_json(referral)
        assert list(rendered) == list(views.referral_json(referral))
        assert to_json(rendered) == to_json(views.referral_json(referral))
