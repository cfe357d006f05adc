"""Use cases: GP requests, triage decisions, and proposals from hot onboarding."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlmodel import col, select

from ensemble_contracts import Envelope
from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_contracts.referral import ReferralEvent, ReferralEventType
from ensemble_contracts.scoring import HotOnboarding, HotOnboardingEventType
from ensemble_contracts.topics import REFERRALS
from ensemble_runtime.unit_of_work import UnitOfWork
from referral.adapters.orm import Referral
from referral.domain.referral import OPEN_STATUSES, transition, triage_due

PRODUCER = "referral"
EVENT_FOR_STATUS = {
    "proposed": ReferralEventType.PROPOSED,
    "requested": ReferralEventType.REQUESTED,
    "accepted": ReferralEventType.ACCEPTED,
    "declined": ReferralEventType.DECLINED,
    "withdrawn": ReferralEventType.WITHDRAWN,
}


class InvalidNhsNumber(ValueError):
    pass


class AlreadyReferred(Exception):
    def __init__(self, existing: UUID) -> None:
        super().__init__("the patient already has an open referral to this service")
        self.existing = existing


@dataclass(frozen=True)
class RequestReferral:
    nhs_number: str
    service: str
    reason: str | None = None
    preferred_language: str | None = None


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


def _open_referral(uow: UnitOfWork, nhs_number: str, service: str) -> Referral | None:
    return uow.session.exec(
        select(Referral).where(
            Referral.nhs_number == nhs_number,
            Referral.service == service,
            col(Referral.status).in_(OPEN_STATUSES),
        )
    ).first()


def _new_referral(source: str, **fields: Any) -> Referral:
    now = datetime.now(UTC)
    return Referral(
        source=source, created_at=now, updated_at=now, due_by=triage_due(now, source), **fields
    )


def request_referral(uow: UnitOfWork, practice_ods: str, command: RequestReferral) -> Referral:
    if not is_valid_nhs_number(command.nhs_number):
        raise InvalidNhsNumber("not a valid NHS number")
    if existing := _open_referral(uow, command.nhs_number, command.service):
        raise AlreadyReferred(existing.referral_id)
    referral = _new_referral(
        "gp",
        nhs_number=command.nhs_number,
        practice_ods=practice_ods,
        service=command.service,
        status="requested",
        reason=command.reason,
        preferred_language=command.preferred_language,
    )
    uow.session.add(referral)
    _publish(uow, referral)
    uow.commit()
    return referral


def decide(
    uow: UnitOfWork, referral_id: UUID, target: str, reason: str | None = None
) -> Referral | None:
    """Accept or decline (InvalidTransition if the referral is not open to that)."""
    referral = uow.session.get(Referral, referral_id)
    if referral is None:
        return None
    referral.status = transition(referral.status, target)
    referral.updated_at = datetime.now(UTC)
    if target == "declined":
        referral.decline_reason = reason
    uow.session.add(referral)
    _publish(uow, referral)
    uow.commit()
    return referral


def on_hot_onboarding_triggered(uow: UnitOfWork, event: HotOnboarding) -> None:
    """Exactly one proposed complex-care referral per trigger, and none on top of an open one."""
    taken = uow.session.exec(
        select(Referral.referral_id).where(Referral.source_event_id == event.event_id)
    ).first()
    if taken is not None or _open_referral(uow, event.nhs_number, "complex_care"):
        return
    referral = _new_referral(
        "hot_onboarding",
        nhs_number=event.nhs_number,
        practice_ods=event.practice_ods,
        service="complex_care",
        status="proposed",
        reason=f"hot onboarding: {event.band} risk, {event.trigger.replace('_', ' ')}",
        preferred_language=event.preferred_language,
        source_event_id=event.event_id,
    )
    uow.session.add(referral)
    _publish(uow, referral, cause=event)


def on_hot_onboarding_withdrawn(uow: UnitOfWork, event: HotOnboarding) -> None:
    """The admission was cancelled: a proposal nobody has triaged yet is withdrawn."""
    for referral in uow.session.exec(
        select(Referral).where(
            Referral.nhs_number == event.nhs_number,
            Referral.source == "hot_onboarding",
            Referral.status == "proposed",
        )
    ):
        referral.status = transition(referral.status, "withdrawn")
        referral.updated_at = datetime.now(UTC)
        uow.session.add(referral)
        _publish(uow, referral, cause=event)


HOT_ONBOARDING_HANDLERS: dict[str, Callable[[UnitOfWork, Any], None]] = {
    HotOnboardingEventType.TRIGGERED: on_hot_onboarding_triggered,
    HotOnboardingEventType.WITHDRAWN: on_hot_onboarding_withdrawn,
}
