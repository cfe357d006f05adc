"""Model versions, the worklist and the caseload projection on SQLite and PostgreSQL: the same
commands, the same answers; and revision 0003 fills the current scores from the history."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from alembic import command
from sqlalchemy import text

from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.topics import SCORE_CHANGES
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import _config, migrate
from scoring.adapters import views
from scoring.adapters.packaged_models import packaged_text
from scoring.domain.model_file import read_model
from scoring.service import DEFINITION
from scoring.service_layer.commands import ActivateModel, AgeHospitalUse, RescorePage

from ..support import (
    NHS_NUMBERS,
    Kit,
    current,
    encounter,
    load,
    moderate_risk,
    published,
    scoring_kit,
)

NEW = "ensemble-risk-1.1.0"


@pytest.fixture
def store(database_url: str) -> Iterator[Kit]:
    kit = scoring_kit(database_url)
    yield kit
    kit.dispose()


def test_activation_rescores_in_pages_and_publishes_only_band_changes(store: Kit) -> None:
    patients = sorted(next(NHS_NUMBERS) for _ in range(7))
    anxious = patients[:3]
    load(store, *(moderate_risk(n, conditions=["diabetes", "ckd", "anxiety"]) for n in anxious))
    load(store, *(moderate_risk(n) for n in patients[3:]))
    source = packaged_text(NEW)
    store.execute(ActivateModel(read_model(source), source, "alice"))
    after, rescored = "", 0
    while (page := store.execute(RescorePage(after, 3))).last is not None:
        after, rescored = page.last, rescored + page.rescored
    assert rescored == 7
    assert all(current(store, n).model_version == NEW for n in patients)
    assert [len(published(store, SCORE_CHANGES, n)) for n in patients] == [2] * 3 + [1] * 4
    assert store.run(lambda uow: uow.models.active_version()) == NEW


def test_the_worklist_ranks_and_filters_on_each_store(store: Kit) -> None:
    practice = "Q" + uuid4().hex[:5].upper()
    low, high = next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(store, {"nhs_number": low, "practice_ods": practice, "conditions": ["copd"]})
    load(store, moderate_risk(high, practice_ods=practice))
    store.consume(encounter(high, practice_ods=practice))  # 25 + 7: high
    ranked = store.read(views.practice_worklist, practice)
    assert [(p["nhs_number"], p["score"], p["band"]) for p in ranked] == [
        (high, 32, "high"),
        (low, 9, "low"),
    ]
    by_domain = store.read(lambda s: views.practice_worklist(s, practice, domain="hospital_use"))
    assert by_domain == ranked[:1]
    page = store.read(lambda s: views.practice_worklist(s, practice, after=(32, high)))
    assert [p["nhs_number"] for p in page] == [low]
    assert store.read(lambda s: views.practice_worklist(s, practice, on_caseload=True)) == []


def test_referral_statuses_keep_the_newest_on_each_store(store: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    moment = datetime(2026, 11, 20, 9, tzinfo=UTC)

    def event(status: str, at: datetime) -> ReferralEvent:
        return ReferralEvent(
            event_type=f"referral.{status}",
            producer="referral",
            occurred_at=at,
            referral_id=uuid4(),
            nhs_number=nhs,
            practice_ods="L85001",
            service="complex_care",
            source="hot_onboarding",
            status=status,
        )

    store.consume(event("accepted", moment), event("proposed", moment - timedelta(hours=1)))
    load(store, moderate_risk(nhs, practice_ods="L85001"))
    [row] = [p for p in store.read(views.practice_worklist, "L85001") if p["nhs_number"] == nhs]
    assert (row["on_caseload"], row["caseload"]) == (
        True,
        [{"service": "complex_care", "status": "accepted"}],
    )


def test_revision_0003_fills_current_scores_from_the_latest_history(database_url: str) -> None:
    engine = create_db_engine(database_url)
    with engine.connect() as connection:
        command.upgrade(_config(DEFINITION.migrations, connection), "0002")
        connection.commit()
    scored, hospital_only = next(NHS_NUMBERS), next(NHS_NUMBERS)
    reasons = [
        {"factor": "frailty", "points": 16, "detail": "x"},
        {"factor": "x", "points": 0, "detail": "y"},
    ]
    old = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patients (nhs_number, practice_ods, on_caseload, objects_to_contact, "
                "updated_at) VALUES (:n, 'L85001', false, false, :at)"
            ),
            {"n": scored, "at": old},
        )
        for nhs, score, band, at in (
            (scored, 9, "low", old),
            (scored, 16, "high", old + timedelta(days=1)),
            (hospital_only, 7, "low", old),
        ):
            connection.execute(
                text(
                    "INSERT INTO risk_scores (nhs_number, score, band, model_version, reasons, "
                    "inputs, computed_at) VALUES (:n, :s, :b, 'ensemble-risk-1.0.0', :r, '{}', :at)"
                ),
                {"n": nhs, "s": score, "b": band, "r": json.dumps(reasons), "at": at},
            )
        connection.execute(
            text(
                "INSERT INTO hospital_encounters (event_id, nhs_number, event_type, emergency, "
                "practice_ods, facility, event_at, cancelled, received_at) VALUES (:id, :n, "
                "'encounter.admitted', true, 'L85003', 'RCB', :at, false, :at)"
            ),
            {"id": uuid4().hex, "n": hospital_only, "at": old},
        )
    migrate(engine, DEFINITION.migrations)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT nhs_number, practice_ods, score, band, domains FROM current_scores "
                "ORDER BY score"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        (hospital_only, "L85003", 7, "low", ",frailty,"),
        (scored, "L85001", 16, "high", ",frailty,"),
    ]


def test_hospital_use_ages_on_each_store(store: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(store, moderate_risk(nhs))
    store.consume(encounter(nhs, visit_number="OLD", event_at=store.clock() - timedelta(days=364)))
    assert current(store, nhs).band == "high"
    store.clock.advance(days=2)
    aged = store.execute(AgeHospitalUse())
    assert (aged.rescored, aged.band_changes, aged.finished) == (1, 1, True)
    assert current(store, nhs).band == "moderate"
    assert store.run(lambda uow: uow.ageing.up_to()) == aged.until
    again = store.execute(AgeHospitalUse())
    assert (again.rescored, again.finished) == (0, True)
