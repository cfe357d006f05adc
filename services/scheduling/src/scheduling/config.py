"""Settings from the environment, prefix SCHEDULING_."""

from datetime import timedelta
from functools import cached_property
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from ensemble_runtime.config import ServiceSettings
from scheduling.domain.coach import parse_clock, zone_named
from scheduling.domain.slots import PatientDay, SlotPolicy


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULING_", extra="ignore")

    service_name: str = "scheduling"
    database_url: str = "sqlite:///run/scheduling.db"
    http_port: int = 8004
    # staff_tokens (JSON {"principal": "token"}) comes from ServiceSettings.
    appointment_minutes: int = Field(default=30, gt=0, le=240)
    lead_time_minutes: int = Field(default=60, ge=0)  # the first appointment should be soon
    horizon_days: int = Field(default=21, gt=0, le=366)
    # Appointments fall inside the patient's day too; an empty zone switches this off.
    patient_timezone: str = "Europe/London"
    patient_day_start: str = "08:00"
    patient_day_end: str = "20:00"
    # A JSON list of coaches upserted at startup, if set.
    coaches_file: str = ""

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
