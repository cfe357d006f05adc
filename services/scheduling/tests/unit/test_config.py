from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from scheduling.config import Settings
from scheduling.domain.slots import PatientDay


def test_the_slot_policy_comes_from_the_settings() -> None:
    policy = Settings(appointment_minutes=45, lead_time_minutes=30, horizon_days=7).slot_policy
    assert (policy.length, policy.lead_time, policy.horizon) == (
        timedelta(minutes=45),
        timedelta(minutes=30),
        timedelta(days=7),
    )
    assert policy.patient_day == PatientDay("Europe/London", 8 * 60, 20 * 60)
    assert Settings(patient_timezone="").slot_policy.patient_day is None


@pytest.mark.parametrize(
    "values",
    [
        {"patient_timezone": "Mars/Base"},
        {"patient_day_end": "8pm"},
        {"horizon_days": 1, "lead_time_minutes": 24 * 60},
    ],
)
def test_settings_without_a_usable_slot_policy_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(**values)
