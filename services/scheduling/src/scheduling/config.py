"""Settings from the environment, prefix SCHEDULING_."""

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from ensemble_runtime.config import ServiceSettings
from scheduling.domain.coach import parse_clock, zone_named
from scheduling.domain.programme import ProgrammePlan
from scheduling.domain.slots import PatientDay, SlotPolicy


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore")

    service_name: str = "scheduling"
    """The service's name (Kafka client id, consumer groups, logs)."""
    database_url: str = "sqlite:///run/scheduling.db"
    """SQLAlchemy URL of scheduling's store."""
    http_port: int = 8004
    """Port of the HTTP server."""
    # staff_tokens (JSON {"principal": "token"}) comes from ServiceSettings.
    appointment_minutes: int = Field(default=30, gt=0, le=240)
    """Length of an appointment, in minutes."""
    lead_time_minutes: int = Field(default=60, ge=0)  # the first appointment should be soon
    """The first bookable slot is at least this far ahead."""
    horizon_days: int = Field(default=21, gt=0, le=366)
    """How far ahead appointments may be booked, in days."""
    # Appointments fall inside the patient's day too; an empty zone switches this off.
    patient_timezone: str = "Europe/London"
    """Appointments fall inside the patient's day in this zone (empty: no such limit)."""
    patient_day_start: str = "08:00"
    """Start of the patient's day, HH:MM."""
    patient_day_end: str = "20:00"
    """End of the patient's day, HH:MM (24:00 allowed)."""
    # A JSON list of coaches upserted at startup, if set.
    coaches_file: str = ""
    """A JSON list of coaches upserted at start, if set."""
    # The programme booked ahead on acceptance: first, follow-ups, review (0: no review).
    follow_ups: int = Field(default=3, ge=0, le=50)
    """Follow-up appointments booked ahead on acceptance."""
    follow_up_interval_days: int = Field(default=14, gt=0, le=366)
    """Days between follow-ups."""
    review_after_days: int = Field(default=28, ge=0, le=366)
    """Days after the last follow-up for the review (0: no review)."""
    # A programme's second DNA tells the referrer and then closes or pauses the programme.
    second_dna_action: Literal["close", "pause"] = "close"
    """What a programme's second DNA does after telling the referrer: close or pause."""
    # Waiting referrals tried each time capacity frees (oldest first).
    waiting_list_rebook_batch: int = Field(default=50, gt=0, le=10_000)
    """Waiting referrals tried each time capacity frees (oldest first)."""
    # Reminders 48 h and 2 h before: found every this many seconds (0: never) and handed to
    # the gateway; a file path makes the local stand-in write each message there.
    reminder_scan_seconds: float = Field(default=60, ge=0)
    """How often reminders (48 h and 2 h before) are looked for (0: never)."""
    notifications_outbox_file: str = ""
    """A file the local stand-in gateway writes each notification to (empty: none)."""

    @property
    def notifications_outbox_path(self) -> Path:
        return Path(self.notifications_outbox_file)

    @cached_property
    def programme_plan(self) -> ProgrammePlan:
        return ProgrammePlan(
            follow_ups=self.follow_ups,
            interval=timedelta(days=self.follow_up_interval_days),
            review_after=timedelta(days=self.review_after_days),
        )

    @cached_property
    def slot_policy(self) -> SlotPolicy:
        """When appointments may be: length, lead time, horizon and the patient's day."""
        patient_day = None
        if self.patient_timezone:
            zone_named(self.patient_timezone)
            patient_day = PatientDay(
                self.patient_timezone,
                parse_clock(self.patient_day_start),
                parse_clock(self.patient_day_end, allow_midnight_end=True),
            )
        return SlotPolicy(
            appointment_minutes=self.appointment_minutes,
            lead_time=timedelta(minutes=self.lead_time_minutes),
            horizon=timedelta(days=self.horizon_days),
            patient_day=patient_day,
        )

    @model_validator(mode="after")
    def _slot_policy_is_usable(self) -> Self:
        """A zone, time of day or horizon that cannot be used stops the start, not a booking."""
        _ = self.slot_policy
        return self
