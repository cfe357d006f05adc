"""Bed days, inpatient status and merges on SQLite and PostgreSQL: the same answers."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.topics import SCORE_CHANGES
from scoring.adapters.orm import HospitalStay
from scoring.adapters.packaged_models import packaged_text
from scoring.adapters.stays import StayRepository
from scoring.domain.model_file import read_model
from scoring.domain.stays import Stay
from scoring.service_layer.commands import ActivateModel

from ..support import (
    NHS_NUMBERS,
    Kit,
    current,
    encounter,
    load,
    moderate_risk,
    patient_rows,
    published,
    scoring_kit,
    stored_encounters,
)

T = EncounterEventType


@pytest.fixture
def store(database_url: str) -> Iterator[Kit]:
    kit = scoring_kit(database_url)
    source = packaged_text("ensemble-risk-1.2.0")
    kit.execute(ActivateModel(read_model(source), source, "alice"))
    yield kit
    kit.dispose()


def event(kit: Kit, nhs: str, kind: str, days_ago: float, **more: Any) -> EncounterEvent:
    at = kit.clock() - timedelta(days=days_ago)
    base = encounter(nhs, kind, visit_number=more.pop("visit", "V1"), event_at=at)
    return base.model_copy(update=more)


def bed_days(kit: Kit, nhs: str) -> tuple[int, bool]:
    found = json.loads(current(kit, nhs).inputs)
    return found["bed_days_12m"], found["currently_inpatient"]


def test_a_stay_is_kept_and_read_back_the_same_on_both_stores(store: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    store.consume(event(store, nhs, T.ADMITTED, 12), event(store, nhs, T.LEAVE_STARTED, 5))
    assert bed_days(store, nhs) == (7, False)
    store.consume(event(store, nhs, T.LEAVE_ENDED, 3), event(store, nhs, T.DISCHARGED, 1))
    assert bed_days(store, nhs) == (9, False)
    (stay,) = patient_rows(store, HospitalStay, nhs)
    assert stay.last_out == store.clock() - timedelta(days=1)
    assert stay.first_in.tzinfo is not None
    store.consume(event(store, nhs, T.DISCHARGE_CANCELLED, 0.5))
    assert bed_days(store, nhs) == (7 + 3, True)  # back from leave 3 days ago, still in
    now = store.clock()
    open_now = store.read(lambda s: StayRepository(s).changing(now, now, "", 10))
    assert open_now == []  # no midnight between: an open stay's bed days have not changed
    ended = store.read(lambda s: StayRepository(s).changing(None, now, "", 10))
    assert nhs in ended


def test_a_merge_on_both_stores_keeps_every_visit_once(store: Kit) -> None:
    surviving, retired = next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(store, moderate_risk(surviving))  # 25
    store.consume(
        event(store, surviving, T.ADMITTED, 30), event(store, surviving, T.DISCHARGED, 20)
    )
    store.consume(
        event(store, retired, T.ADMITTED, 30),  # the same visit under the retired number
        event(store, retired, T.ADMITTED, 9, visit="V2"),
        event(store, retired, T.DISCHARGED, 1, visit="V2"),
    )
    merge = event(store, surviving, T.MERGED, 0, visit=None, merged_from_nhs_number=retired)
    store.consume(merge)

    assert stored_encounters(store, retired) == []
    assert patient_rows(store, HospitalStay, retired) == []
    visits = sorted(s.visit_number for s in patient_rows(store, HospitalStay, surviving))
    assert visits == ["V1", "V2"]
    assert bed_days(store, surviving) == (10 + 8, False)
    found = json.loads(current(store, surviving).inputs)
    assert found["emergency_admissions_12m"] == 2  # V1 once, V2 once
    assert current(store, surviving).score == 25 + 12 + 4
    assert published(store, SCORE_CHANGES, surviving)[-1].band == "high"


def test_cohort_membership_is_kept_and_changes_published_on_both_stores(store: Kit) -> None:
    from ensemble_contracts.topics import COHORT_MEMBERSHIP
    from scoring.service_layer.commands import RefreshCohorts

    def refresh() -> tuple[int, int]:
        command, joined, left = RefreshCohorts(limit=3), 0, 0
        while (done := store.execute(command)).last is not None:
            joined, left = joined + done.joined, left + done.left
            command = RefreshCohorts(done.last, 3, command.correlation_id)
        return joined, left

    nhs = next(NHS_NUMBERS)
    load(store, moderate_risk(nhs))  # physical conditions and age: two domains
    refresh()
    assert [e.cohort for e in published(store, COHORT_MEMBERSHIP, nhs)] == ["risk_in_two_domains"]
    assert refresh() == (0, 0)
    load(store, {"nhs_number": nhs, "birth_date": "1990-01-01"})  # one domain left
    assert refresh() == (0, 1)
    assert published(store, COHORT_MEMBERSHIP, nhs)[-1].event_type == "cohort.left"


def _refreshed_both_ways(
    kit: Kit, nhs: str, visit: str, cancel: bool
) -> tuple[list[Stay], list[Stay], list[HospitalStay]]:
    """The patient's stays after refreshing `visit`: by `refresh_and_stays` (one read), and
    by `refresh` then `stays` (two), each from the same stored state; and the rows left."""
    since = kit.clock() - timedelta(days=365)

    def in_order(stays: list[Stay]) -> list[Stay]:
        return sorted(stays, key=lambda stay: (stay.intervals, stay.on_leave))

    found = []
    rows: list[list[tuple[Any, ...]]] = []
    for one_read in (True, False):
        with kit.unit_of_work() as uow:
            if cancel:  # an A11: the visit's admission no longer counts, so its stay goes
                uow.encounters.cancel_visit(nhs, "RCB", visit)
            if one_read:
                stays = uow.stays.refresh_and_stays(nhs, "RCB", visit, since)
            else:
                uow.stays.refresh(nhs, "RCB", visit)
                stays = uow.stays.stays([nhs], since).get(nhs, [])
            found.append(in_order(stays))
            uow.flush()
            kept = uow.stays.stays([nhs], datetime.min.replace(tzinfo=UTC)).get(nhs, [])
            rows.append(sorted((s.first_in, s.last_out) for s in kept))
    assert rows[0] == rows[1], "the rows kept differ"
    return found[0], found[1], patient_rows(kit, HospitalStay, nhs)


def test_one_read_refreshes_a_visit_and_reads_the_stays_as_the_two_reads_did(store: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(store, moderate_risk(nhs))
    store.consume(
        event(store, nhs, T.ADMITTED, 400, visit="OLD"),  # over before the window
        event(store, nhs, T.DISCHARGED, 390, visit="OLD"),
        event(store, nhs, T.ADMITTED, 100, visit="V2"),  # in the window, ended
        event(store, nhs, T.DISCHARGED, 90, visit="V2"),
        event(store, nhs, T.ADMITTED, 5, visit="V3"),  # still in
        event(store, nhs, T.LEAVE_STARTED, 2, visit="V3"),
        event(store, nhs, T.AE_ATTENDANCE, 1, visit="AE"),  # no stay
    )
    for visit in ("OLD", "V2", "V3", "AE", "NEVER-SEEN"):
        one, two, _rows = _refreshed_both_ways(store, nhs, visit, cancel=False)
        assert one == two, visit
    one, two, _rows = _refreshed_both_ways(store, nhs, "V3", cancel=True)
    assert one == two
    assert len(one) == 1  # V2 only: V3's stay went with its admission


def test_the_encounter_rescore_counts_the_window_of_the_model_active_now(store: Kit) -> None:
    """The rescore reads its inputs for the window of the model this process last saw active;
    another model with another window activated since is read again with its own."""
    source = packaged_text("ensemble-risk-1.2.0")
    source = source.replace('"ensemble-risk-1.2.0"', '"ensemble-risk-1.2.1"').replace(
        "hospital_window_days = 365", "hospital_window_days = 30"
    )
    store.execute(ActivateModel(read_model(source), source, "alice"))
    nhs = next(NHS_NUMBERS)
    load(store, moderate_risk(nhs))
    store.consume(event(store, nhs, T.AE_ATTENDANCE, 60, visit="AE1"))
    with store.unit_of_work() as uow:
        assert uow.models.active().hospital_window_days == 30
        uow.models.active_of(None, None)  # what this process saw last: the 365-day default
        assert uow.models.last_active().hospital_window_days == 365
    store.consume(event(store, nhs, T.AE_ATTENDANCE, 10, visit="AE2"))
    found = json.loads(current(store, nhs).inputs)
    assert found["ae_attendances_12m"] == 1  # the 30-day window's: not the one 60 days ago
    assert current(store, nhs).model_version == "ensemble-risk-1.2.1"
    with store.unit_of_work() as uow:
        assert uow.models.last_active().hospital_window_days == 30
