"""The correlation id of one external request or message, for its log lines and its events.

Intake (an HTTP request, an MLLP frame) opens a scope: the caller's id when it sent a valid
one, else a new one. Every log line written inside carries it (structlog contextvars, which
the store thread and group commit inherit), and events built inside take it as their
`correlation_id` (e.g. hospital-feed's encounters), so one id joins the sender's request,
the logs of every service and the events on every topic.
"""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from uuid import UUID, uuid4

import structlog

CORRELATION_HEADER = "x-correlation-id"
_CURRENT: ContextVar[UUID | None] = ContextVar("correlation_id", default=None)


def current_correlation_id() -> UUID | None:
    """The correlation id of the intake in progress, if any."""
    return _CURRENT.get()


def parse_correlation_id(value: str | None) -> UUID | None:
    """A caller's correlation id, if it is a UUID (anything else is ignored, not echoed)."""
    if not value or len(value) > 36:
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


@contextlib.contextmanager
def correlation_scope(correlation_id: UUID | None = None) -> Iterator[UUID]:
    """Bind a correlation id (a new one unless given) for the block's log lines and events."""
    correlation_id = correlation_id or uuid4()
    token = _CURRENT.set(correlation_id)
    # bind + reset, not `bound_contextvars`, which copies every bound variable first.
    bound = structlog.contextvars.bind_contextvars(correlation_id=str(correlation_id))
    try:
        yield correlation_id
    finally:
        structlog.contextvars.reset_contextvars(**bound)
        _CURRENT.reset(token)
