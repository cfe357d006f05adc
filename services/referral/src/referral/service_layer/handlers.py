"""Use cases: GP requests, triage decisions, proposals from hot onboarding, and the
registrations that decide which practice may act for a patient.

Every state change is committed together with the event that announces it (outbox), and
every event carries the whole referral so that readers need no lookups.
"""

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import structlog

from ensemble_contracts import Envelope
from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_contracts.referral import ReferralEvent, ReferralEventType
from ensemble_contracts.scoring import HotOnboarding
from ensemble_contracts.topics import REFERRALS
from ensemble_runtime.consumer import RejectedEvent
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.domain.nhs_number import InvalidNhsNumber, parse_nhs_number
from referral.domain.referral import Referral, Status
from referral.domain.registration import as_of, may_act_for, practice_code
from referral.service_layer import signals
from referral.service_layer.commands import (
    AcceptReferral,
    DeclineReferral,
    Requested,
    RequestReferral,
)
from referral.service_layer.notes import new_note

PRODUCER = "referral"
EVENT_FOR_STATUS: dict[Status, str] = {
    "proposed": ReferralEventType.PROPOSED,
    "requested": ReferralEventType.REQUESTED,
    "accepted": ReferralEventType.ACCEPTED,
    "declined": ReferralEventType.DECLINED,
    "withdrawn": ReferralEventType.WITHDRAWN,
    "triaged": ReferralEventType.TRIAGED,
    "active": ReferralEventType.ACTIVATED,
    "completed": ReferralEventType.COMPLETED,
    "discharged": ReferralEventType.DISCHARGED,
}
log = structlog.get_logger(__name__)


class NotFound(LookupError):
    def __init__(self, referral_id: UUID) -> None:
        super().__init__("no such referral")
        self.referral_id = referral_id


class NotRegisteredHere(PermissionError):
    """The patient is registered with another practice. Says nothing else: not which
    practice, not whether the patient has referrals."""

    def __init__(self) -> None:
        super().__init__("the patient is not registered with your practice")


def _publish(
    uow: ReferralUnitOfWork,
    referral: Referral,
    cause: Envelope | None = None,
    event_type: str | None = None,
) -> None:
    """The referral as it now is; `event_type` defaults to the one its status announces.
    Names of staff and notes stay in the store: only ids go on the topic."""
    envelope = cause.caused(producer=PRODUCER) if cause else {"producer": PRODUCER}
    uow.publish(
        REFERRALS,
        ReferralEvent(
            **envelope,
            event_type=event_type or EVENT_FOR_STATUS[referral.status],
            referral_id=referral.referral_id,
            nhs_number=referral.nhs_number,
            practice_ods=referral.practice_ods,
            service=referral.service,
            source=referral.source,
            status=referral.status,
            preferred_language=referral.preferred_language,
            reason=referral.decline_reason or referral.reason,
            priority=referral.priority,
            consent=referral.consent,
            worker_role=referral.worker_role,
            worker_id=referral.worker_id,
            supervisor_id=referral.supervisor_id,
            outcome=referral.outcome,
            sla_stage=referral.sla_stage,
            due_by=referral.due_by if referral.sla_stage else None,
        ),
    )


def request_referral(uow: ReferralUnitOfWork, command: RequestReferral) -> Requested:
    """A GP refers a patient. InvalidNhsNumber / UnknownService for bad input,
    NotRegisteredHere when the patient is known to be registered with another practice.
    When this practice already has an open referral of the patient to the service, the
    request is merged into it: the requester and reason are kept as a note, nothing new is
    opened or announced. After closure a new request opens a new referral (re-referral).

    Losing a race with another request of the same practice, patient and service trips the
    store's one-open-referral index at commit; the command reruns (`rerun_on_conflict`) and
    this check then finds the winner.
    """
    referral = Referral.request(
        nhs_number=command.nhs_number,
        practice_ods=command.practice_ods,
        service=command.service,
        now=uow.clock(),
        reason=command.reason,
        preferred_language=command.preferred_language,
        sla=uow.settings.sla(),
    )
    registered_with = uow.registrations.practice_of(referral.nhs_number)
    if not may_act_for(referral.practice_ods, registered_with):
        raise NotRegisteredHere
    if existing := uow.referrals.open_for(
        referral.nhs_number, referral.practice_ods, referral.service
    ):
        uow.notes.add(
            new_note(
                existing.referral_id,
                uow.clock(),
                text=command.reason or "(no reason given)",
                author=command.requested_by,
                practice_ods=command.practice_ods,
                kind="merged_request",
            )
        )
        uow.commit()
        log.info("duplicate request merged", referral_id=str(existing.referral_id))
        return Requested(existing, merged=True)
    uow.referrals.add(referral)
    _publish(uow, referral)
    uow.commit()
    log.info("referral requested", referral_id=str(referral.referral_id))
    return Requested(referral)


def _decide(
    uow: ReferralUnitOfWork,
    referral_id: UUID,
    change: Callable[[Referral], None],
    event_type: Callable[[Referral], str | None] = lambda _: None,
) -> Referral:
    """Change one referral and announce it, or (InvalidTransition from `change`, raised
    before the domain touches anything) change and announce nothing."""
    referral = uow.referrals.get(referral_id)
    if referral is None:
        raise NotFound(referral_id)
    change(referral)
    uow.referrals.save(referral)
    _publish(uow, referral, event_type=event_type(referral))
    uow.commit()
    log.info("referral changed", referral_id=str(referral_id), status=referral.status)
    return referral


def accept(uow: ReferralUnitOfWork, command: AcceptReferral) -> Referral:
    sla = uow.settings.sla()
    return _decide(uow, command.referral_id, lambda r: r.accept(uow.clock(), sla))


def decline(uow: ReferralUnitOfWork, command: DeclineReferral) -> Referral:
    return _decide(uow, command.referral_id, lambda r: r.decline(command.reason, uow.clock()))


def _patient(event: HotOnboarding) -> str:
    try:
        return parse_nhs_number(event.nhs_number)
    except InvalidNhsNumber as error:  # a placeholder slipped through: never processable
        raise RejectedEvent(str(error)) from error


def on_hot_onboarding_triggered(uow: ReferralUnitOfWork, event: HotOnboarding) -> None:
    """Exactly one proposed complex-care referral per trigger, and none on top of an open one.

    The runtime's inbox drops a redelivered event; the source_event_id check (and its unique
    constraint) covers the same trigger reaching us under another consumer group or replay.
    """
    nhs_number = _patient(event)
    practice_ods = practice_code(event.practice_ods)
    if practice_ods is None:
        raise RejectedEvent("a hot-onboarding trigger without a practice")
    _register(uow, nhs_number, practice_ods, event.occurred_at)
    if uow.referrals.proposed_from(event.event_id) is not None:
        log.info("trigger already proposed")
        return
    existing = uow.referrals.open_for(nhs_number, practice_ods, "complex_care")
    if existing is not None:
        log.info("open complex-care referral exists", referral_id=str(existing.referral_id))
        return
    band = event.band.replace("_", " ")
    referral = Referral.propose(
        sla=uow.settings.sla(),
        nhs_number=nhs_number,
        practice_ods=practice_ods,
        now=uow.clock(),
        source_event_id=event.event_id,
        trigger_event_id=event.trigger_event_id,
        reason=f"hot onboarding: {band} risk (score {event.score}) on {event.trigger}",
        preferred_language=event.preferred_language,
    )
    uow.referrals.insert(referral)  # at once, without an ORM record: every trigger runs it
    _publish(uow, referral, cause=event)
    signals.proposal_made(uow, referral, event.event_id)  # news for the next huddle
    log.info("referral proposed", referral_id=str(referral.referral_id))


def on_hot_onboarding_withdrawn(uow: ReferralUnitOfWork, event: HotOnboarding) -> None:
    """The admission was cancelled: the proposal it caused, if nobody triaged it yet, is
    withdrawn. Matched on the trigger's encounter so a later proposal for another stay
    survives the cancellation of an earlier one."""
    for referral in uow.referrals.proposals_pending(_patient(event)):
        if referral.trigger_event_id != event.trigger_event_id:
            continue
        referral.withdraw(uow.clock())
        uow.referrals.save(referral)
        _publish(uow, referral, cause=event)
        log.info("referral withdrawn", referral_id=str(referral.referral_id))


def _register(
    uow: ReferralUnitOfWork, nhs_number: str, practice_ods: str, occurred_at: datetime
) -> None:
    if uow.registrations.record(nhs_number, practice_ods, as_of(occurred_at, uow.clock())):
        log.debug("registration recorded")
    else:
        log.debug("registration older than the one known, ignored")


def on_encounter(uow: ReferralUnitOfWork, event: EncounterEvent) -> None:
    """An encounter names the patient's registered practice (PD1-3): remember it, newest
    event wins. Encounters without a practice, or for a number that is not a patient's
    (a placeholder), teach nothing and are skipped: referral has no other use for them."""
    if is_valid_nhs_number(event.nhs_number):
        learn_registration(uow, event)


def learn_registration(uow: ReferralUnitOfWork, event: EncounterEvent) -> None:
    """`on_encounter` for an encounter whose NHS number is known to be a patient's."""
    practice_ods = practice_code(event.practice_ods or "")
    if practice_ods is not None:
        _register(uow, event.nhs_number, practice_ods, event.occurred_at)
