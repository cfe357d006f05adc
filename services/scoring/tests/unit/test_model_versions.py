"""Model versions on a store: the active one scores, a new one is compared before and stored
when switched on, the population is rescored publishing only real band changes, and a
restarted service keeps the model that was activated."""

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ensemble_contracts.topics import SCORE_CHANGES
from scoring.adapters.orm import RiskModelRecord
from scoring.adapters.packaged_models import packaged_model, packaged_text
from scoring.domain.model_file import ModelFileError, read_model
from scoring.entrypoints.active_model import ActiveModelCheck
from scoring.service_layer.commands import ActivateModel, RescorePage
from scoring.service_layer.models import (
    Evaluation,
    ModelRefused,
    evaluate_page,
    record_packaged_default,
)

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

OLD, NEW = "ensemble-risk-1.0.0", "ensemble-risk-1.1.0"


def activate(kit: Kit, version: str = NEW, text: str | None = None, page: int = 500) -> int:
    """Activate a packaged (or given) model and rescore everyone; how many were rescored."""
    source = text or packaged_text(version)
    kit.execute(ActivateModel(read_model(source), source, "alice"))
    command, rescored = RescorePage(limit=page), 0
    while (done := kit.execute(RescorePage(command.after, page, command.correlation_id))).last:
        command = RescorePage(done.last, page, command.correlation_id)
        rescored += done.rescored
    return rescored


def anxious(nhs: str, practice: str = "L85001") -> dict[str, object]:
    """Moderate under 1.0.0 (16 + 9 = 25); high under 1.1.0, where anxiety adds 6 (31)."""
    return moderate_risk(nhs, practice_ods=practice, conditions=["diabetes", "ckd", "anxiety"])


def test_a_store_that_never_activated_one_scores_with_the_packaged_default(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs))
    assert current(kit, nhs).model_version == OLD
    assert kit.run(lambda uow: uow.models.active_version()) is None
    with kit.unit_of_work() as uow:
        assert record_packaged_default(uow) == OLD
    assert kit.run(lambda uow: [a.activated_by for a in uow.models.activations()]) == [
        "scoring (packaged default)"
    ]


def test_activating_rescores_everyone_and_publishes_only_real_band_changes(kit: Kit) -> None:
    changes, stays, stranger = next(NHS_NUMBERS), next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(kit, anxious(changes), moderate_risk(stays))
    kit.consume(encounter(stranger, practice_ods="L85003"))  # known only from the hospital
    before = {nhs: len(published(kit, SCORE_CHANGES, nhs)) for nhs in (changes, stays, stranger)}
    kit.clock.advance(minutes=1)

    assert activate(kit, page=2) == 3
    [change] = published(kit, SCORE_CHANGES, changes)[before[changes] :]
    assert (change.previous_band, change.band, change.model_version) == ("moderate", "high", NEW)
    assert change.score == 31 and change.practice_ods == "L85001"
    assert {r.factor: r.points for r in change.reasons}["mental_health"] == 6
    assert len(published(kit, SCORE_CHANGES, stays)) == before[stays]
    assert len(published(kit, SCORE_CHANGES, stranger)) == before[stranger]
    for nhs in (changes, stays, stranger):
        assert current(kit, nhs).model_version == NEW
        assert current(kit, nhs).computed_at == kit.clock()
    # Activating it again finds nobody left: nothing is rescored, nothing published.
    assert activate(kit) == 0
    assert len(published(kit, SCORE_CHANGES, changes)) == before[changes] + 1


def test_one_activation_shares_one_correlation_id(kit: Kit) -> None:
    first, second = next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(kit, anxious(first), anxious(second))
    activate(kit, page=1)
    [a] = published(kit, SCORE_CHANGES, first)[1:]
    [b] = published(kit, SCORE_CHANGES, second)[1:]
    assert a.correlation_id == b.correlation_id


def test_the_service_scores_new_events_with_the_activated_model(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    activate(kit)
    kit.consume(encounter(nhs))
    assert current(kit, nhs).model_version == NEW
    assert published(kit, SCORE_CHANGES, nhs)[-1].model_version == NEW


def test_a_restarted_service_keeps_the_activated_model(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'scoring.db'}"
    first = scoring_kit(url)
    try:
        activate(first)
    finally:
        first.dispose()
    restarted = scoring_kit(url)
    try:
        nhs = next(NHS_NUMBERS)
        load(restarted, anxious(nhs))
        assert current(restarted, nhs).model_version == NEW
        assert current(restarted, nhs).band == "high"
        with restarted.unit_of_work() as uow:
            assert record_packaged_default(uow) == NEW  # the default does not take over
    finally:
        restarted.dispose()


def test_a_changed_file_under_a_stored_version_is_refused_and_the_model_stays(kit: Kit) -> None:
    activate(kit)
    changed = packaged_text(NEW).replace("min = 45", "min = 46").replace("max = 44", "max = 45")
    model = read_model(changed)
    with pytest.raises(ModelRefused, match="stored with other content"):
        kit.execute(ActivateModel(model, changed, "mallory"))
    assert kit.run(lambda uow: uow.models.active().digest) == packaged_model(NEW).digest
    assert kit.run(lambda uow: uow.models.active_version()) == NEW


def test_switching_back_restores_the_old_bands(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, anxious(nhs))
    activate(kit)
    activate(kit, OLD)
    bands = [(e.previous_band, e.band, e.model_version) for e in published(kit, SCORE_CHANGES, nhs)]
    assert bands == [(None, "moderate", OLD), ("moderate", "high", NEW), ("high", "moderate", OLD)]


def test_an_interrupted_rescore_resumes_with_whoever_is_left(kit: Kit) -> None:
    patients = sorted(next(NHS_NUMBERS) for _ in range(5))
    load(kit, *(anxious(nhs) for nhs in patients))
    source = packaged_text(NEW)
    kit.execute(ActivateModel(read_model(source), source, "alice"))
    done = kit.execute(RescorePage("", 2))  # ... and the tool stops here
    assert done.rescored == 2 and done.last == patients[1]
    left = kit.run(lambda uow: uow.population.count(not_version=NEW))
    assert left == 3
    assert activate(kit) == 3  # run again: only the three left
    assert all(len(published(kit, SCORE_CHANGES, nhs)) == 2 for nhs in patients)


def test_evaluation_counts_band_changes_per_practice_with_examples(kit: Kit) -> None:
    moved = [next(NHS_NUMBERS) for _ in range(4)]
    load(kit, *(anxious(nhs) for nhs in moved[:3]), anxious(moved[3], practice="L85002"))
    load(
        kit,
        moderate_risk(next(NHS_NUMBERS)),
        {"nhs_number": next(NHS_NUMBERS), "conditions": ["anxiety"]},
    )
    evaluation = Evaluation(packaged_model(OLD), packaged_model(NEW), kit.clock(), 2)
    after: str | None = ""
    while after is not None:
        after = kit.run(evaluate_page, evaluation, after, 2)
    report = evaluation.report()
    assert (report["active"], report["candidate"], report["patients"], report["changing"]) == (
        OLD,
        NEW,
        6,
        4,
    )
    assert report["would_publish"] == 4
    by_practice = {p["practice_ods"]: p for p in report["practices"]}
    assert set(by_practice) == {"L85001", "L85002", "(unknown)"}
    l85001 = by_practice["L85001"]
    assert l85001["changes"] == [{"from": "moderate", "to": "high", "patients": 3}]
    assert len(l85001["examples"]) == 2
    example = l85001["examples"][0]
    assert example["nhs_number"] in moved
    assert (example["from"], example["to"]) == (
        {"band": "moderate", "score": 25},
        {"band": "high", "score": 31},
    )
    assert example["factors"] == [{"factor": "mental_health", "from": 0, "to": 6}]
    assert by_practice["(unknown)"]["changing"] == 0  # anxiety alone: low either way
    assert report["bands"]["candidate"] == {"high": 4, "low": 1, "moderate": 1}
    # Evaluating changes nothing.
    assert kit.run(lambda uow: uow.models.active_version()) is None
    assert isinstance(datetime.fromisoformat(report["as_of"]), datetime)


async def test_the_service_checks_the_active_model_when_it_starts(kit: Kit) -> None:
    await ActiveModelCheck(kit.runtime).start()  # a fresh store: the packaged default, recorded
    assert kit.run(lambda uow: uow.models.active_version()) == OLD
    activate(kit)
    await ActiveModelCheck(kit.runtime).start()
    assert kit.run(lambda uow: uow.models.active_version()) == NEW


async def test_a_stored_model_that_fails_its_checks_stops_the_start(kit: Kit) -> None:
    broken = packaged_text(NEW).replace('version = "ensemble-risk-1.1.0"', 'version = "x-1"')
    source = broken.replace("min = 45", "min = 44")  # overlaps "high" (30-44)
    record = RiskModelRecord(version="x-1", source=source, digest="0" * 64, stored_at=kit.clock())

    def hand_edit(session: Any) -> None:  # what editing the store by hand would leave behind
        session.add(record)
        session.commit()

    kit.read(hand_edit)
    with kit.unit_of_work() as uow:
        uow.models.activate("x-1", kit.clock(), "a hand edit")
        uow.commit()
    with pytest.raises(ModelFileError, match="overlaps the band before"):
        await ActiveModelCheck(kit.runtime).start()
