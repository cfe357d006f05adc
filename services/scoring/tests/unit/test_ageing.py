"""Hospital use ages with time: a scan rescores only the patients whose admissions or A&E
attendances left the 12-month window since the last scan, publishing real band changes."""

from datetime import timedelta

from ensemble_contracts.hospital import EncounterEventType
from ensemble_contracts.topics import SCORE_CHANGES
from scoring.entrypoints.ageing import HospitalUseAgeing
from scoring.service_layer.commands import AgeHospitalUse

from ..support import NHS_NUMBERS, Kit, current, encounter, load, moderate_risk, published, scores


def scan(kit: Kit, limit: int = 500) -> tuple[int, int]:
    command, rescored, changes = AgeHospitalUse(limit=limit), 0, 0
    while True:
        aged = kit.execute(command)
        rescored, changes = rescored + aged.rescored, changes + aged.band_changes
        if aged.finished:
            return rescored, changes
        assert aged.last is not None
        command = AgeHospitalUse(aged.until, aged.last, limit, command.correlation_id)


def test_an_admission_leaving_the_window_lowers_the_band_at_the_next_scan(kit: Kit) -> None:
    ageing, recent, untouched = next(NHS_NUMBERS), next(NHS_NUMBERS), next(NHS_NUMBERS)
    load(kit, moderate_risk(ageing), moderate_risk(recent), moderate_risk(untouched))
    now = kit.clock()
    kit.consume(encounter(ageing, visit_number="OLD", event_at=now - timedelta(days=360)))
    kit.consume(encounter(recent, visit_number="NEW", event_at=now - timedelta(days=10)))
    assert current(kit, ageing).band == current(kit, recent).band == "high"  # 25 + 7
    assert scan(kit) == (0, 0)  # nothing has left the window yet

    kit.clock.advance(days=6)  # the old admission is now 366 days old
    history = {nhs: len(scores(kit, nhs)) for nhs in (ageing, recent, untouched)}
    assert scan(kit) == (1, 1)
    assert (current(kit, ageing).score, current(kit, ageing).band) == (25, "moderate")
    change = published(kit, SCORE_CHANGES, ageing)[-1]
    assert (change.previous_band, change.band) == ("high", "moderate")
    assert len(scores(kit, recent)) == history[recent]  # only who aged out is rescored
    assert len(scores(kit, untouched)) == history[untouched]
    assert scan(kit) == (0, 0)  # a finished scan is not repeated


def test_a_scan_pages_through_many_patients_and_counts_only_real_changes(kit: Kit) -> None:
    patients = [next(NHS_NUMBERS) for _ in range(5)]
    load(kit, *(moderate_risk(nhs) for nhs in patients[:3]))  # 25 + 7: high, drops to moderate
    now = kit.clock()
    for nhs in patients:
        kit.consume(
            encounter(
                nhs, EncounterEventType.AE_ATTENDANCE, "AE", event_at=now - timedelta(days=364)
            )
        )
        kit.consume(encounter(nhs, visit_number="A", event_at=now - timedelta(days=364)))
    cancelled = next(NHS_NUMBERS)
    kit.consume(encounter(cancelled, visit_number="X", event_at=now - timedelta(days=364)))
    kit.consume(encounter(cancelled, EncounterEventType.ADMISSION_CANCELLED, "X", emergency=False))
    kit.clock.advance(days=2)
    rescored, changes = scan(kit, limit=2)
    assert rescored == 5  # the cancelled admission never counted: not rescored
    assert changes == 3  # hospital-only patients stay low (3 + 7 = 10 -> 0)
    assert all(current(kit, nhs).score == 25 for nhs in patients[:3])


async def test_the_service_component_scans_through_its_runtime(kit: Kit) -> None:
    nhs = next(NHS_NUMBERS)
    load(kit, moderate_risk(nhs))
    kit.consume(encounter(nhs, event_at=kit.clock() - timedelta(days=365)))
    kit.clock.advance(days=1)
    component = HospitalUseAgeing(kit.runtime)
    assert await component.scan() == (1, 1)
    assert await component.scan() == (0, 0)
    await component.stop()  # never started: nothing to stop
