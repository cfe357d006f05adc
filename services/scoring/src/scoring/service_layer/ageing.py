"""Hospital use that ages with time: an admission or A&E attendance stops counting 12 months
(the model's window) after it happened, whether or not anything else happens to the patient.

A periodic scan (`entrypoints/ageing.py`, a component of the service) rescores, as of now,
only the patients with a counted event that left the window since the last scan, or a stay
whose bed days changed (part of it left the window, or it is still open and grows), publishing
real band changes as any rescore does; `scan_marks` keeps how far it got, so a restart or a
missed run catches up and a finished scan is never repeated.
"""

from datetime import timedelta

import structlog

from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.service_layer.commands import Aged, AgeHospitalUse
from scoring.service_layer.handlers import PRODUCER, rescore

log = structlog.get_logger(__name__)


def age_hospital_use(uow: ScoringUnitOfWork, command: AgeHospitalUse) -> Aged:
    now = uow.clock()
    model = uow.models.active()
    until = command.until or now - timedelta(days=model.hospital_window_days)
    since = uow.ageing.up_to()
    if since is not None and since >= until:
        return Aged(until, None, 0, 0, finished=True)
    aged = uow.ageing.aged_out(since, until, command.after, command.limit)
    staying = (  # bed days age only for a model that reads them
        uow.stays.changing(since, until, command.after, command.limit)
        if model.reads("bed_days_12m")
        else []
    )
    page = sorted(set(aged) | set(staying))[: command.limit]
    envelope = {"producer": PRODUCER, "correlation_id": command.correlation_id}
    changes = 0
    for nhs_number in page:  # NHS-number order, as every loader locks patients
        before = uow.scores.latest_band(nhs_number)
        changes += rescore(uow, nhs_number, now, envelope).band != before
    finished = len(page) < command.limit
    if finished:
        uow.ageing.mark(until)
    uow.commit()
    return Aged(until, page[-1] if page else None, len(page), changes, finished)
