"""Read models for the coaching team's HTTP routes: JSON-ready data, straight from the store."""

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlmodel import Session, col, select

from scheduling.adapters.orm import (
    Appointment,
    CalendarLink,
    PatientPreference,
    Programme,
    WaitingListEntry,
)
from scheduling.adapters.repository import CoachRepository
from scheduling.domain.coach import Coach, format_clock


def appointment_view(appointment: Appointment) -> dict[str, Any]:
    return {
        "appointment_id": str(appointment.appointment_id),
        "referral_id": str(appointment.referral_id),
        "nhs_number": appointment.nhs_number,
        "coach_id": appointment.coach_id,
        "coach_timezone": appointment.coach_timezone,
        "language": appointment.language,
        "kind": appointment.kind,
        "session_number": appointment.session_number,
        "service": appointment.service,
        "practice_ods": appointment.practice_ods,
        "sequence": appointment.sequence,
        "changed_by": appointment.changed_by,
        "starts_at": appointment.starts_at.isoformat(),
        "ends_at": appointment.ends_at.isoformat(),
        "status": appointment.status,
        "created_at": appointment.created_at.isoformat(),
    }


def waiting_view(entry: WaitingListEntry) -> dict[str, Any]:
    return {
        "referral_id": str(entry.referral_id),
        "nhs_number": entry.nhs_number,
        "language": entry.language,
        "reason": entry.reason,
        "session_number": entry.session_number,
        "created_at": entry.created_at.isoformat(),
    }


def coaches(session: Session) -> list[dict[str, Any]]:
    """The roster by coach_id, in the published coach format."""
    return [coach.to_json() for coach in CoachRepository(session).all()]


def appointments(
    session: Session,
    limit: int,
    nhs_number: str | None = None,
    coach_id: str | None = None,
    referral_id: UUID | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """By start time (then coach); a filter left as None matches any value."""
    given = {
        "nhs_number": nhs_number,
        "coach_id": coach_id,
        "referral_id": referral_id,
        "status": status,
    }
    statement = select(Appointment).filter_by(**{k: v for k, v in given.items() if v is not None})
    ordered = statement.order_by(col(Appointment.starts_at), col(Appointment.coach_id))
    return [appointment_view(a) for a in session.exec(ordered.limit(limit))]


def waiting_list(session: Session) -> list[dict[str, Any]]:
    """Everyone waiting, longest-waiting first."""
    rows = session.exec(select(WaitingListEntry).order_by(col(WaitingListEntry.created_at)))
    return [waiting_view(r) for r in rows]


def preference_view(preference: PatientPreference) -> dict[str, Any]:
    return {
        "nhs_number": preference.nhs_number,
        "timezone": preference.timezone,
        "day_start": format_clock(preference.day_start),
        "day_end": format_clock(preference.day_end),
        "coach_change_requested": preference.coach_change_requested,
    }


def coach_load(session: Session, coach_id: str, year: int, month: int) -> dict[str, Any] | None:
    """A coach's (local) month: the target against what is booked, held, missed, cancelled."""
    coach = CoachRepository(session).get(coach_id)
    if coach is None:
        return None
    days = coach.days_in_month(year, month)
    start = datetime.combine(days[0], datetime.min.time(), coach.zone).astimezone(UTC)
    following = date_after(days[-1])
    end = datetime.combine(following, datetime.min.time(), coach.zone).astimezone(UTC)
    statuses = Counter(
        session.exec(
            select(Appointment.status).where(
                Appointment.coach_id == coach_id,
                col(Appointment.starts_at) >= start,
                col(Appointment.starts_at) < end,
            )
        )
    )
    held = sum(statuses[s] for s in ("booked", "attended", "did_not_attend"))
    return {
        "coach_id": coach.coach_id,
        "month": f"{year:04d}-{month:02d}",
        "timezone": coach.timezone,
        "team": coach.team,
        "wte": coach.wte,
        "target": coach.target,
        "booked": statuses["booked"],
        "attended": statuses["attended"],
        "did_not_attend": statuses["did_not_attend"],
        "cancelled": statuses["cancelled"],
        "remaining": max(coach.target - held, 0),
        "utilisation": round(held / coach.target, 3) if coach.target else None,
        "leave_days": sum(1 for d in days if coach.on_leave(d)),
        "working_hours": round(coach.working_minutes(year, month) / 60, 2),
    }


def date_after(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def calendar_link_digest(session: Session, coach_id: str) -> str | None:
    link = session.get(CalendarLink, coach_id)
    return link.secret_sha256 if link else None


def diary(
    session: Session, coach_id: str, start: datetime, end: datetime
) -> tuple[Coach, list[Appointment]] | None:
    """The coach and their sessions starting in [start, end), cancelled ones included."""
    coach = CoachRepository(session).get(coach_id)
    if coach is None:
        return None
    query = (
        select(Appointment)
        .where(
            Appointment.coach_id == coach_id,
            col(Appointment.starts_at) >= start,
            col(Appointment.starts_at) < end,
        )
        .order_by(col(Appointment.starts_at))
    )
    return coach, list(session.exec(query))


def coach_zone(session: Session, coach_id: str) -> str | None:
    coach = CoachRepository(session).get(coach_id)
    return coach.timezone if coach else None


def programme(session: Session, referral_id: UUID) -> dict[str, Any] | None:
    """A referral's programme and its sessions by start."""
    found = session.get(Programme, referral_id)
    if found is None:
        return None
    query = select(Appointment).where(Appointment.referral_id == referral_id)
    sessions = session.exec(query.order_by(col(Appointment.starts_at)))
    waiting = session.get(WaitingListEntry, referral_id)
    return {
        "referral_id": str(found.referral_id),
        "nhs_number": found.nhs_number,
        "practice_ods": found.practice_ods,
        "service": found.service,
        "language": found.language,
        "status": found.status,
        "dna_count": found.dna_count,
        "waiting": waiting_view(waiting) if waiting else None,
        "sessions": [appointment_view(a) for a in sessions],
    }
