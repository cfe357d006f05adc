"""Huddles: signals from the events referral consumes, opening a huddle, its actions.

A signal is recorded only for a patient who is on a caseload when the event is handled (an
accepted or active referral of theirs that existed when it happened); anything else about
the patient is not the team's news and is not kept.
"""

from datetime import datetime
from uuid import UUID

import structlog

from ensemble_contracts.hospital import EncounterEvent
from ensemble_contracts.nhs_number import is_valid_nhs_number
from ensemble_contracts.scheduling import AppointmentEvent, AppointmentEventType
from ensemble_contracts.scoring import ScoreChanged
from referral.adapters.unit_of_work import ReferralUnitOfWork
from referral.domain.huddle import (
    Action,
    Huddle,
    Signal,
    SignalKind,
    band_rose,
    encounter_kind,
    on_caseload,
)
from referral.domain.registration import as_of
from referral.domain.sla import LONDON
from referral.service_layer import handlers
from referral.service_layer.huddle_commands import AddAction, CompleteAction, Opened, OpenHuddle

log = structlog.get_logger(__name__)


class HuddleNotFound(LookupError):
    def __init__(self, what: str = "no such huddle for this team and date") -> None:
        super().__init__(what)


def _signal_caseload(
    uow: ReferralUnitOfWork,
    nhs_number: str,
    kind: SignalKind,
    event_id: UUID,
    occurred_at: datetime,
    detail: str,
    published_at: datetime | None = None,
) -> int:
    """`occurred_at`: when it happened (shown on the agenda); `published_at`: when the event
    was published (the envelope's time), which decides whether the referral already existed:
    a hospital's clinical time may be backdated to before the referral, a replay's envelope
    is not."""
    now = uow.clock()
    happened = as_of(occurred_at, now)
    known = as_of(published_at or occurred_at, now)
    added = 0
    for referral in uow.signals.caseload_referrals(nhs_number):
        if on_caseload(referral, known):
            signal = Signal.about(
                referral,
                kind=kind,
                event_id=event_id,
                occurred_at=happened,
                now=now,
                detail=detail,
            )
            uow.signals.add(signal)
            added += 1
    return added


def on_encounter(uow: ReferralUnitOfWork, event: EncounterEvent) -> None:
    """The registration it teaches (handlers.on_encounter), and, for an admission, A&E
    attendance or discharge of a caseload patient, a signal for the team's next huddle."""
    if not is_valid_nhs_number(event.nhs_number):  # a placeholder: teaches nothing
        return
    handlers.learn_registration(uow, event)
    kind = encounter_kind(event.event_type)
    if kind is None:
        return
    notes = [event.sending_facility]
    if event.emergency and kind == "admitted":
        notes.append("emergency")
    if event.died:
        notes.append("died")
    happened = event.event_at or event.occurred_at
    detail = ", ".join(notes)
    if _signal_caseload(
        uow, event.nhs_number, kind, event.event_id, happened, detail, event.occurred_at
    ):
        log.info("caseload signal recorded", kind=kind)


def on_score_changed(uow: ReferralUnitOfWork, event: ScoreChanged) -> None:
    """A band rise of a caseload patient (falls and first scores are not huddle news)."""
    if not band_rose(event.previous_band, event.band) or not is_valid_nhs_number(event.nhs_number):
        return
    detail = f"{event.previous_band} to {event.band} (score {event.score})".replace("_", " ")
    kind: SignalKind = "band_rise"
    if _signal_caseload(uow, event.nhs_number, kind, event.event_id, event.occurred_at, detail):
        log.info("caseload signal recorded", kind="band_rise")


def on_appointment_missed(uow: ReferralUnitOfWork, event: AppointmentEvent) -> None:
    """A DNA (or the second DNA's escalation) on a referral that is on a caseload."""
    referral = uow.referrals.get(event.referral_id)
    now = uow.clock()
    happened = as_of(event.occurred_at, now)
    if referral is None or not on_caseload(referral, happened):
        return
    if event.event_type == AppointmentEventType.DNA_ESCALATED:
        detail = f"second DNA: programme {event.programme_status or 'changed'}"
    else:
        detail = f"missed session {event.session_number or ''}".strip()
    signal = Signal.about(
        referral, kind="dna", event_id=event.event_id, occurred_at=happened, now=now, detail=detail
    )
    uow.signals.add(signal)
    log.info("caseload signal recorded", kind="dna")


def open_huddle(uow: ReferralUnitOfWork, command: OpenHuddle) -> Opened:
    """A new huddle takes the signals since the team's previous one; opening it again (the
    team's latest) takes those recorded since, so nothing falls between two huddles."""
    now = uow.clock()
    existing = uow.huddles.of_team(command.team.key, command.on)
    created = existing is None
    if existing is None:
        huddle = Huddle.open(
            command.team,
            command.on,
            now=now,
            by=command.opened_by,
            previous=uow.huddles.latest(command.team.key),
        )
        uow.huddles.add(huddle)
    else:
        huddle = existing
        latest = uow.huddles.latest(command.team.key)
        if latest is not None and latest.huddle_id == huddle.huddle_id and now > huddle.cutoff:
            huddle.cutoff = now
            uow.huddles.save(huddle)
    added = uow.huddles.take_signals(huddle, command.team)
    uow.commit()
    log.info("huddle opened", huddle_id=str(huddle.huddle_id), created=created, items=added)
    return Opened(huddle, created, added)


def _huddle(uow: ReferralUnitOfWork, command: AddAction) -> Huddle:
    huddle = uow.huddles.of_team(command.team.key, command.on)
    if huddle is None:
        raise HuddleNotFound
    if not uow.huddles.has_item(huddle.huddle_id, command.item_id):
        raise HuddleNotFound("no such item on this huddle's agenda")
    return huddle


def add_action(uow: ReferralUnitOfWork, command: AddAction) -> Action:
    """UnknownOwner / PastDueDate refuse it and nothing is stored."""
    huddle = _huddle(uow, command)
    now = uow.clock()
    action = Action.assign(
        huddle=huddle,
        item_id=command.item_id,
        text=command.text,
        owner_id=command.owner_id,
        members=uow.huddles.members(command.team) | uow.settings.roster_for(command.team),
        due_on=command.due_on,
        today=now.astimezone(LONDON).date(),
        now=now,
        by=command.created_by,
    )
    uow.huddles.add_action(action)
    uow.commit()
    log.info("huddle action added", action_id=str(action.action_id))
    return action


def complete_action(uow: ReferralUnitOfWork, command: CompleteAction) -> Action:
    action = uow.huddles.action(command.action_id)
    if action is None or action.team != command.team.key:
        raise HuddleNotFound("no such action for this team")
    action.mark_done(by=command.done_by, now=uow.clock())
    uow.huddles.save_action(action)
    uow.commit()
    log.info("huddle action done", action_id=str(action.action_id))
    return action
