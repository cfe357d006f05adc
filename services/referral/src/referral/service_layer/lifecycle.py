"""Use cases after a referral arrives: triage, consent, acceptance's sequels (assignment,
activation, completion, discharge), the GP's withdrawal, the SLA watch and patient merges.

Each decision goes through `handlers._decide`: the domain refuses an illegal change before it
touches anything, so a refusal stores and announces nothing.
"""

import structlog

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_contracts.referral import ReferralEventType
from ensemble_runtime.consumer import RejectedEvent
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.domain.referral import Referral
from referral.domain.registration import practice_code
from referral.service_layer import signals
from referral.service_layer.commands import (
    ActivateReferral,
    AssignReferral,
    CompleteReferral,
    DischargeReferral,
    FindSlaBreaches,
    RecordConsent,
    TriageReferral,
    WithdrawReferral,
)
from referral.service_layer.handlers import NotFound, _decide, _publish, _register

log = structlog.get_logger(__name__)


def triage(uow: ReferralUnitOfWork, command: TriageReferral) -> Referral:
    sla = uow.settings.sla()
    return _decide(uow, command.referral_id, lambda r: r.triage(command.priority, uow.clock(), sla))


def record_consent(uow: ReferralUnitOfWork, command: RecordConsent) -> Referral:
    """Given: `referral.consent_recorded`; declined or withdrawn close the referral, and the
    event is the closing one (`referral.declined` / `referral.discharged`)."""
    now = uow.clock()
    decided_at = min(command.decided_at or now, now)  # a decision is never in the future

    def change(referral: Referral) -> None:
        referral.record_consent(
            command.decision,
            by=command.recorded_by,
            at=decided_at,
            method=command.method,
            now=now,
        )

    def announced(referral: Referral) -> str | None:
        return ReferralEventType.CONSENT_RECORDED if referral.is_open else None

    return _decide(uow, command.referral_id, change, announced)


def activate(uow: ReferralUnitOfWork, command: ActivateReferral) -> Referral:
    return _decide(uow, command.referral_id, lambda r: r.activate(uow.clock()))


def complete(uow: ReferralUnitOfWork, command: CompleteReferral) -> Referral:
    return _decide(uow, command.referral_id, lambda r: r.complete(command.outcome, uow.clock()))


def discharge(uow: ReferralUnitOfWork, command: DischargeReferral) -> Referral:
    return _decide(uow, command.referral_id, lambda r: r.discharge(command.outcome, uow.clock()))


def withdraw_by_gp(uow: ReferralUnitOfWork, command: WithdrawReferral) -> Referral:
    """Only the referring practice withdraws; another practice's referral is not found."""
    found = uow.referrals.get(command.referral_id)
    if found is None or found.practice_ods != command.practice_ods:
        raise NotFound(command.referral_id)
    return _decide(uow, command.referral_id, lambda r: r.withdraw(uow.clock()))


def assign(uow: ReferralUnitOfWork, command: AssignReferral) -> Referral:
    def change(referral: Referral) -> None:
        referral.assign(
            role=command.role,
            worker=(command.worker_id, command.worker_name),
            supervisor=(command.supervisor_id, command.supervisor_name),
            now=uow.clock(),
        )

    return _decide(uow, command.referral_id, change, lambda _: ReferralEventType.ASSIGNED)


def find_sla_breaches(uow: ReferralUnitOfWork, command: FindSlaBreaches) -> int:
    """One `referral.sla_breached` per referral and stage: the stage is marked announced in
    the transaction that stages the event, so a rerun (or a second replica) finds nothing."""
    now = uow.clock()
    announced = 0
    for referral in uow.referrals.breached(now, command.limit):
        stage = referral.stage_breached(now)
        if stage is None:
            continue
        referral.breach_announced_for = stage
        uow.referrals.save(referral)
        _publish(uow, referral, event_type=ReferralEventType.SLA_BREACHED)
        signals.sla_breached(uow, referral, stage)  # news for the team's next huddle
        announced += 1
    uow.commit()
    if announced:
        log.info("sla breaches announced", referrals=announced)
    return announced


def on_practice_changed(uow: ReferralUnitOfWork, event: EncounterEvent) -> None:
    """PD1-3 names a new practice: the newest registration wins, as for any encounter."""
    practice_ods = practice_code(event.practice_ods or "")
    if practice_ods is None or not is_valid_nhs_number(event.nhs_number):
        return
    _register(uow, event.nhs_number, practice_ods, event.occurred_at)


def on_patient_merged(uow: ReferralUnitOfWork, event: EncounterEvent) -> None:
    """A40: the retired number's referrals and registration now belong to the surviving one.

    A retired open referral that duplicates one the surviving number already has open (same
    practice and service) cannot stay open beside it: it is withdrawn. Each moved open
    referral is announced as `referral.patient_merged` under the surviving number, so
    readers may follow it (and a reader that books on acceptance books nothing twice).
    """
    surviving, retired = event.nhs_number, event.merged_from_nhs_number
    if retired is None or not is_valid_nhs_number(retired) or not is_valid_nhs_number(surviving):
        raise RejectedEvent("a patient merge needs two valid NHS numbers")
    if retired == surviving:
        return
    for referral in uow.referrals.of_patient(retired):
        duplicate = referral.is_open and uow.referrals.open_for(
            surviving, referral.practice_ods, referral.service
        )
        if duplicate:
            # Announced under the retired number: that number's caseload closes.
            referral.withdraw(uow.clock())
            referral.decline_reason = "merged into the surviving patient's open referral"
            _publish(uow, referral, cause=event)
        referral.nhs_number = surviving
        uow.referrals.save(referral)
        if referral.is_open:  # closed ones move quietly: they must not mask an open one
            _publish(uow, referral, cause=event, event_type=ReferralEventType.PATIENT_MERGED)
        log.info("referral moved to the surviving patient", referral_id=str(referral.referral_id))
    uow.registrations.move(retired, surviving)
    practice_ods = practice_code(event.practice_ods or "")
    if practice_ods is not None:
        _register(uow, surviving, practice_ods, event.occurred_at)
