"""Who is told of an alert (issue 9): the patient's registered practice (PD1-3), and every
recipient whose roster lists the patient; each once, whatever the roster says.

An event with no recipient (no PD1-3 or an unusable practice code, and no roster) is not
dropped silently: it is kept once in `unrouted_alerts` and counted
(`ensemble_hospital_feed_unrouted_alerts_total`), and staff see it. A roster that lists the
patient later does not re-send it: rosters speak for events still to come.
"""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import structlog

from hospital_feed.adapters.metrics import UNROUTED_ALERTS
from hospital_feed.adapters.orm import RecipientReason
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.domain.stored_text import single_line

log = structlog.get_logger(__name__)


class Unrouted(StrEnum):
    """Why nobody was told."""

    NO_PRACTICE = "no_registered_practice"  # no PD1-3, and no roster lists the patient
    UNUSABLE_PRACTICE = "unusable_practice_code"  # a PD1-3 no store can keep, and no roster


def recipients(
    uow: HospitalFeedUnitOfWork, practice_ods: str | None, nhs_number: str
) -> tuple[dict[str, RecipientReason], Unrouted]:
    """Each recipient and why it is told, in the order its alerts are written: the registered
    practice first, then the rosters' recipients by code (one entry each: a roster of the
    registered practice adds nothing). Also why nobody would be, should the list be empty."""
    told: dict[str, RecipientReason] = {}
    nobody = Unrouted.NO_PRACTICE
    if practice_ods is not None:
        if single_line(practice_ods) == practice_ods:
            told[practice_ods] = RecipientReason.REGISTERED
        else:
            nobody = Unrouted.UNUSABLE_PRACTICE
            log.warning("event with an unusable practice code, not routed by PD1-3")
    for recipient in uow.rosters.recipients_of(nhs_number):
        told.setdefault(recipient, RecipientReason.ROSTER)
    return told, nobody


def already_told(
    uow: HospitalFeedUnitOfWork, told: Mapping[str, RecipientReason], event_id: UUID
) -> bool:
    """Whether this event was projected before (a replay past the inbox): then it changes
    nothing, not even for a recipient whose roster listed the patient since."""
    return any(uow.alerts.exists_for(recipient, event_id) for recipient in told)


def record_unrouted(
    uow: HospitalFeedUnitOfWork,
    event_id: UUID,
    kind: str,
    why: Unrouted,
    nhs_number: str,
    sending_facility: str = "",
    event_at: datetime | None = None,
) -> None:
    """Keep the event nobody can be told of, once; count it once it is committed."""
    new = uow.unrouted.record(
        {
            "event_id": event_id,
            "kind": kind,
            "sending_facility": sending_facility,
            "reason": why.value,
            "nhs_number": nhs_number,
            "event_at": event_at,
            "recorded_at": uow.clock(),
        }
    )
    if new:
        uow.after_commit(lambda: _counted(event_id, kind, why))


def _counted(event_id: UUID, kind: str, why: Unrouted) -> None:
    UNROUTED_ALERTS.labels(kind, why.value).inc()
    log.info("alert with no recipient", event_id=str(event_id), kind=kind, reason=why.value)
