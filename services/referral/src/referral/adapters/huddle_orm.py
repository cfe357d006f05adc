"""referral's huddle tables (migration 0005): signals, huddles, their items and actions."""

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from ensemble_contracts.limits import ODS_CODE
from ensemble_runtime.db import UtcDateTime

TEAM = 40  # "health_coaching." and a 12-character ODS code, with room


class CaseloadSignalRecord(SQLModel, table=True):
    """Something a team should hear about at its next huddle, tied to the referral it is
    about, with the service and practice that referral had at the time. Kept only for what
    the agenda shows: no names, no free text (`detail` is built by referral, e.g. "RCB")."""

    __tablename__ = "caseload_signals"
    __table_args__ = (
        # One signal per event and referral, whoever delivers the event again.
        UniqueConstraint("event_id", "referral_id", name="uq_caseload_signals_event_referral"),
        # The agenda's query: a service's signals recorded in a window.
        Index("ix_caseload_signals_service_recorded", "service", "recorded_at"),
    )

    signal_id: UUID = Field(primary_key=True)
    event_id: UUID
    referral_id: UUID = Field(foreign_key="referrals.referral_id", index=True)
    nhs_number: str = Field(max_length=10, index=True)
    service: str = Field(max_length=30)
    practice_ods: str = Field(max_length=ODS_CODE)
    kind: str = Field(max_length=20)
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    recorded_at: datetime = Field(sa_type=UtcDateTime)
    detail: str = Field(max_length=200)


class HuddleRecord(SQLModel, table=True):
    __tablename__ = "huddles"
    __table_args__ = (UniqueConstraint("team", "huddle_date", name="uq_huddles_team_date"),)

    huddle_id: UUID = Field(primary_key=True)
    team: str = Field(max_length=TEAM)
    huddle_date: date
    opened_at: datetime = Field(sa_type=UtcDateTime)
    opened_by: str = Field(max_length=100)
    window_start: datetime = Field(sa_type=UtcDateTime)
    cutoff: datetime = Field(sa_type=UtcDateTime)


class HuddleItemRecord(SQLModel, table=True):
    """A signal on a huddle's agenda (each signal is on exactly one huddle of a team)."""

    __tablename__ = "huddle_items"
    __table_args__ = (
        UniqueConstraint("huddle_id", "signal_id", name="uq_huddle_items_huddle_signal"),
    )

    item_id: UUID = Field(primary_key=True)
    huddle_id: UUID = Field(foreign_key="huddles.huddle_id", index=True)
    signal_id: UUID = Field(foreign_key="caseload_signals.signal_id")


class HuddleActionRecord(SQLModel, table=True):
    __tablename__ = "huddle_actions"

    action_id: UUID = Field(primary_key=True)
    huddle_id: UUID = Field(foreign_key="huddles.huddle_id", index=True)
    item_id: UUID = Field(foreign_key="huddle_items.item_id", index=True)
    team: str = Field(max_length=TEAM, index=True)
    text: str = Field(max_length=500)
    owner_id: str = Field(max_length=64)
    owner_name: str = Field(max_length=100)
    due_on: date
    created_at: datetime = Field(sa_type=UtcDateTime)
    created_by: str = Field(max_length=100)
    done_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    done_by: str | None = Field(default=None, max_length=100)
