"""Signals referral raises about its own referrals, for the team's next huddle: a new
hot-onboarding proposal, an SLA breach. Recorded in the transaction that makes the change."""

from uuid import UUID, uuid4

from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.domain.huddle import Signal
from referral.domain.referral import Referral


def proposal_made(uow: ReferralUnitOfWork, referral: Referral, trigger_event_id: UUID) -> None:
    uow.signals.add(
        Signal.about(
            referral,
            kind="proposal",
            event_id=trigger_event_id,
            occurred_at=referral.created_at,
            now=uow.clock(),
            detail=referral.reason or "",  # band, score and trigger: no names, no free text
        )
    )


def sla_breached(uow: ReferralUnitOfWork, referral: Referral, stage: str) -> None:
    uow.signals.add(
        Signal.about(
            referral,
            kind="sla_breach",
            event_id=uuid4(),  # announced once per referral and stage (find_sla_breaches)
            occurred_at=referral.due_by,
            now=uow.clock(),
            detail=f"{stage} was due {referral.due_by:%Y-%m-%d %H:%M} UTC",
        )
    )
