"""Factories for the huddle tests: caseload referrals, score changes, DNAs, an agenda."""

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from ensemble_contracts.scheduling import AppointmentEvent, AppointmentEventType
from ensemble_contracts.scoring import ScoreChanged
from referral.adapters import huddle_views
from referral.domain.huddle import Team, parse_team
from referral.service_layer.commands import AcceptReferral, AssignReferral, RequestReferral
from referral.service_layer.huddle_commands import Opened, OpenHuddle

from .support import Kit, ready_to_accept

WORKER = {"complex_care": ("keyworker", "KW01", "Kim Keyworker")}
WORKER["health_coaching"] = ("coach", "CO01", "Chris Coach")


def on_caseload(
    kit: Kit,
    nhs_number: str,
    practice_ods: str = "L85001",
    service: str = "complex_care",
) -> UUID:
    """A GP referral walked to accepted, with a keyworker (or coach) and a supervisor."""
    requested = kit.execute(RequestReferral(practice_ods, nhs_number, service, "frailty"))
    referral_id = requested.referral.referral_id
    ready_to_accept(kit, referral_id, "high")
    kit.execute(AcceptReferral(referral_id))
    role, worker_id, worker_name = WORKER[service]
    command = AssignReferral(referral_id, role, worker_id, worker_name, "SUP01", "Sam Supervisor")  # type: ignore[arg-type]
    kit.execute(command)
    return referral_id


def band_change(
    nhs_number: str, band: str, previous: str | None, occurred_at: datetime
) -> ScoreChanged:
    return ScoreChanged(
        producer="scoring",
        nhs_number=nhs_number,
        model_version="ensemble-risk-1.0.0",
        score=48,
        band=band,
        previous_band=previous,
        practice_ods="L85001",
        occurred_at=occurred_at,
    )


def missed(
    nhs_number: str,
    referral_id: UUID,
    occurred_at: datetime,
    event_type: str = AppointmentEventType.DID_NOT_ATTEND,
) -> AppointmentEvent:
    return AppointmentEvent(
        event_type=event_type,
        producer="scheduling",
        nhs_number=nhs_number,
        appointment_id=uuid4(),
        referral_id=referral_id,
        coach_id="CO01",
        language="pa",
        starts_at=occurred_at - timedelta(hours=1),
        ends_at=occurred_at - timedelta(minutes=30),
        coach_timezone="Asia/Kolkata",
        session_number=2,
        programme_status="paused" if event_type == AppointmentEventType.DNA_ESCALATED else None,
        dna_count=1,
        occurred_at=occurred_at,
    )


def open_huddle(kit: Kit, team: str, on: date, by: str = "alice") -> Opened:
    return kit.execute(OpenHuddle(parse_team(team), on, by))


def agenda(kit: Kit, team: str | Team, on: date) -> dict[str, Any]:
    found = kit.read(huddle_views.agenda, parse_team(team) if isinstance(team, str) else team, on)
    assert found is not None
    return found


def kinds(found: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["kind"], item["nhs_number"]) for item in found["items"]]
