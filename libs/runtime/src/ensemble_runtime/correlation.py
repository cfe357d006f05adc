"""The correlation id of one external request or message, for its log lines and its events.

Intake (an HTTP request, an MLLP frame) opens a scope: the caller's id when it sent a valid
one, else a new one. Every log line written inside carries it (structlog contextvars, which
the store thread and group commit inherit), and events built inside take it as their
`correlation_id` (e.g. hospital-feed's encounters), so one id joins the sender's request,
the logs of every service and the events on every topic.
"""

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from typing import Any
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


Bound = tuple[Token[UUID | None], Mapping[str, Token[Any]]]


def bind_correlation(correlation_id: UUID, text: str) -> Bound:
    """Bind `correlation_id` (`text`: its str) until `unbind_correlation`: the hot path's
    form of `correlation_scope` (every HTTP request), without a generator."""
    # bind + reset, not `bound_contextvars`, which copies every bound variable first.
    return _CURRENT.set(correlation_id), structlog.contextvars.bind_contextvars(correlation_id=text)


def unbind_correlation(bound: Bound) -> None:
    token, logged = bound
    structlog.contextvars.reset_contextvars(**logged)
    _CURRENT.reset(token)


@contextlib.contextmanager
def correlation_scope(correlation_id: UUID | None = None) -> Iterator[UUID]:
    """Bind a correlation id (a new one unless given) for the block's log lines and events."""
    correlation_id = correlation_id or uuid4()
    bound = bind_correlation(correlation_id, str(correlation_id))
    try:
        yield correlation_id
    finally:
        unbind_correlation(bound)
