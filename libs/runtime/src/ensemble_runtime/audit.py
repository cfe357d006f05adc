"""What a staff or practice request did, for its one `audit` log line.

The HTTP guard writes one `audit` line per staff or practice request: who (principal and
user), the method, the route template and the status. Only the route knows what it did,
so it adds that to the same line with `audit_detail(action="referrals.list", referrals=3)`.
A detail is an action name or a count, never a value from the request, so no patient
identifier can reach the line.

The guard opens a fresh `AuditDetails` per request (`collecting_details`). The context
variable holds that mutable object rather than the details themselves: a sync route or
dependency runs in a thread with a copy of the context, and what it adds must still reach
the guard.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

# Fields of the line that the guard fills in itself; a count cannot overwrite them.
GUARD_FIELDS = frozenset(
    {"event", "principal_kind", "principal", "user", "method", "route", "status"}
)
_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")  # e.g. `referrals.accept`
_MAX_ACTION = 100


@dataclass
class AuditDetails:
    """The route's part of one request's audit line."""

    action: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    def fields(self) -> dict[str, str | int]:
        action: dict[str, str | int] = {} if self.action is None else {"action": self.action}
        return action | self.counts


_current: ContextVar[AuditDetails | None] = ContextVar("ensemble_audit_details", default=None)


def audit_detail(action: str | None = None, **counts: int) -> None:
    """Add what this request did to its audit line: an action name (dotted lower-case words)
    and counts (non-negative integers), e.g. `audit_detail(action="referrals.read",
    referrals=1)`. A later call adds to and overrides an earlier one. Outside a guarded
    request nothing is recorded.

    A bad action or count is a bug in the route, so it raises rather than logging a value.
    """
    if action is not None and (len(action) > _MAX_ACTION or not _ACTION.fullmatch(action)):
        raise ValueError("an audit action is dotted lower-case words, e.g. referrals.list")
    for name, count in counts.items():
        if name in GUARD_FIELDS:
            raise ValueError(f"{name!r} is filled in by the HTTP guard, not by a route")
        if not isinstance(count, int) or count < 0:
            raise ValueError(f"the audit count {name!r} must be a non-negative integer")
    details = _current.get()
    if details is None:
        return
    if action is not None:
        details.action = action
    details.counts |= {name: int(count) for name, count in counts.items()}  # bool: 0 or 1


@contextmanager
def collecting_details() -> Iterator[AuditDetails]:
    """Collect the details `audit_detail` adds while the block runs (one request)."""
    details = AuditDetails()
    token = _current.set(details)
    try:
        yield details
    finally:
        _current.reset(token)
