"""Use cases: GP requests, triage decisions, and proposals from hot onboarding.

Every state change is committed together with the event that announces it (outbox), and
every event carries the whole referral so that readers need no lookups.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.exc import IntegrityError

from ensemble_contracts import Envelope
from ensemble_contracts.referral import ReferralEvent, ReferralEventType
from ensemble_contracts.scoring import HotOnboarding, HotOnboardingEventType
from ensemble_contracts.topics import REFERRALS
from ensemble_runtime.consumer import RejectedEvent
from ensemble_runtime.unit_of_work import UnitOfWork
from referral.adapters.repository import ReferralRepository
from referral.domain.nhs_number import InvalidNhsNumber, parse_nhs_number
from referral.domain.referral import Referral, Status

PRODUCER = "referral"
EVENT_FOR_STATUS: dict[Status, str] = {
    "proposed": ReferralEventType.PROPOSED,
    "requested": ReferralEventType.REQUESTED,
    "accepted": ReferralEventType.ACCEPTED,
    "declined": ReferralEventType.DECLINED,
    "withdrawn": ReferralEventType.WITHDRAWN,
}
log = structlog.get_logger(__name__)


class NotFound(LookupError):
    def __init__(self, referral_id: UUID) -> None:
        super().__init__("no such referral")
        self.referral_id = referral_id


class Conflict(Exception):
    """The patient already has an open referral to this service."""

    def __init__(self, existing_id: UUID) -> None:
        super().__init__("the patient already has an open referral to this service")
        self.existing_id = existing_id


@dataclass(frozen=True)
class RequestReferral:
    nhs_number: str
    service: str
    reason: str | None = None
    preferred_language: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _publish(uow: UnitOfWork, referral: Referral, cause: Envelope | None = None) -> None:
    envelope = cause.caused(producer=PRODUCER) if cause else {"producer": PRODUCER}
    uow.publish(
        REFERRALS,
        ReferralEvent(
            **envelope,
            event_type=EVENT_FOR_STATUS[referral.status],
            referral_id=referral.referral_id,
            nhs_number=referral.nhs_number,
            practice_ods=referral.practice_ods,
            service=referral.service,
            source=referral.source,
            status=referral.status,
            preferred_language=referral.preferred_language,
            reason=referral.decline_reason or referral.reason,
        ),
    )


def request_referral(uow: UnitOfWork, practice_ods: str, command: RequestReferral) -> Referral:
    """A GP refers a patient. InvalidNhsNumber / UnknownService for bad input, Conflict when
    an open referral to the same service exists."""
    referral = Referral.request(
        nhs_number=command.nhs_number,
        practice_ods=practice_ods,
        service=command.service,
        now=_now(),
        reason=command.reason,
        preferred_language=command.preferred_language,
    )
    referrals = ReferralRepository(uow.session)
    if existing := referrals.open_for(referral.nhs_number, referral.service):
        raise Conflict(existing.referral_id)
    referrals.add(referral)
    _publish(uow, referral)
    try:
        uow.commit()
    except IntegrityError:
        # Lost a race with another request for the same patient and service (PostgreSQL).
        uow.session.rollback()
        if existing := referrals.open_for(referral.nhs_number, referral.service):
            raise Conflict(existing.referral_id) from None
        raise
    log.info("referral requested", referral_id=str(referral.referral_id))
    return referral


def _decide(uow: UnitOfWork, referral_id: UUID, change: Callable[[Referral], None]) -> Referral:
    referrals = ReferralRepository(uow.session)
    referral = referrals.get(referral_id)
    if referral is None:
        raise NotFound(referral_id)
    change(referral)  # InvalidTransition when the referral is not open to this decision
    referrals.save(referral)
    _publish(uow, referral)
    uow.commit()
    log.info("referral triaged", referral_id=str(referral_id), status=referral.status)
    return referral


def accept(uow: UnitOfWork, referral_id: UUID) -> Referral:
    return _decide(uow, referral_id, lambda r: r.accept(_now()))


def decline(uow: UnitOfWork, referral_id: UUID, reason: str) -> Referral:
    return _decide(uow, referral_id, lambda r: r.decline(reason, _now()))


def _patient(event: HotOnboarding) -> str:
    try:
        return parse_nhs_number(event.nhs_number)
    except InvalidNhsNumber as error:  # a placeholder slipped through: never processable
        raise RejectedEvent(str(error)) from error


def on_hot_onboarding_triggered(uow: UnitOfWork, event: HotOnboarding) -> None:
    """Exactly one proposed complex-care referral per trigger, and none on top of an open one.

    The runtime's inbox drops a redelivered event; the source_event_id check (and its unique
    constraint) covers the same trigger reaching us under another consumer group or replay.
    """
    nhs_number = _patient(event)
    referrals = ReferralRepository(uow.session)
    if referrals.proposed_from(event.event_id) is not None:
        log.info("trigger already proposed")
        return
    if (existing := referrals.open_for(nhs_number, "complex_care")) is not None:
        log.info("open complex-care referral exists", referral_id=str(existing.referral_id))
        return
    band = event.band.replace("_", " ")
    referral = Referral.propose(
        nhs_number=nhs_number,
        practice_ods=event.practice_ods,
        now=_now(),
        source_event_id=event.event_id,
        trigger_event_id=event.trigger_event_id,
        reason=f"hot onboarding: {band} risk (score {event.score}) on {event.trigger}",
        preferred_language=event.preferred_language,
    )
    referrals.add(referral)
    _publish(uow, referral, cause=event)
    log.info("referral proposed", referral_id=str(referral.referral_id))


def on_hot_onboarding_withdrawn(uow: UnitOfWork, event: HotOnboarding) -> None:
    """The admission was cancelled: the proposal it caused, if nobody triaged it yet, is
    withdrawn. Matched on the trigger's encounter so a later proposal for another stay
    survives the cancellation of an earlier one."""
    referrals = ReferralRepository(uow.session)
    for referral in referrals.proposals_pending(_patient(event)):
        if referral.trigger_event_id != event.trigger_event_id:
            continue
        referral.withdraw(_now())
        referrals.save(referral)
        _publish(uow, referral, cause=event)
        log.info("referral withdrawn", referral_id=str(referral.referral_id))


EVENT_HANDLERS: dict[str, Callable[[UnitOfWork, Any], None]] = {
    HotOnboardingEventType.TRIGGERED: on_hot_onboarding_triggered,
    HotOnboardingEventType.WITHDRAWN: on_hot_onboarding_withdrawn,
}
