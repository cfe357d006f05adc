"""Time, injected: handlers ask their unit of work for `clock()`, tests hand in a fixed one."""

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The system clock, always timezone-aware UTC."""
    return datetime.now(UTC)
