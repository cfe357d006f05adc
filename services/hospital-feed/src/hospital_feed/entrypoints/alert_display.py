"""How an alert is shown at this moment: one answer for the list, the page and the stream, so
an alert's JSON (its `overdue` flag) is the same wherever a practice reads it."""

from datetime import timedelta
from typing import Any

from ensemble_runtime.service import ServiceRuntime


def view_options(runtime: ServiceRuntime[Any, Any]) -> dict[str, Any]:
    """`views.practice_alerts`' `now` (the service clock) and `overdue_after` (the setting)."""
    overdue_after = timedelta(minutes=runtime.settings.alert_overdue_minutes)
    return {"now": runtime.clock(), "overdue_after": overdue_after}
