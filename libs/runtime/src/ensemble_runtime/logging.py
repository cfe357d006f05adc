"""Structured logs (JSON, or console on a TTY) with PII redaction.

NHS numbers and names never reach a log line: known PII keys are masked, and any NHS-number
spelling in a string is masked too: 10 digits in a row, or grouped 3-3-4 or 4-3-3 with
spaces, dots, dashes, slashes or Unicode spaces (NBSP, thin, figure) between the groups.
Integers of ten digits are masked too, at any depth (an NHS number passed as an int).
Tracebacks carry no local variables. Inside a recorded span (tracing.py) each line carries its
`trace_id` and `span_id`; the correlation id is bound by intake and consumers (correlation.py).

A structlog call is rendered by structlog itself and written straight to the root handler's
stream (`_LineWriter`); only records from stdlib loggers (aiokafka, uvicorn, httpx, ...) go
through `ProcessorFormatter`. Both run the same processors, so both write the same line.
"""

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, ClassVar, TextIO

import structlog
from opentelemetry import trace
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, WrappedLogger

PII_KEYS = frozenset(
    {
        "nhs_number",
        "nhs",
        "name",
        "patient_name",
        "family_name",
        "given_name",
        "surname",
        "forename",
        "date_of_birth",
        "dob",
        "address",
        "postcode",
        "phone",
    }
)
# Between groups: up to three of space, tab, dot, slash, any dash or hyphen, NBSP, figure,
# thin, narrow NBSP or other Unicode space (so "999 - 000 - 0018" is caught as well).
_GAP = r"[\s.\-/\u00a0\u2000-\u200b\u2010-\u2015\u202f\u205f\u2212\u3000\ufe63\uff0d]{0,3}"
NHS_NUMBER_PATTERN = re.compile(
    rf"(?<!\d)(?:\d{{3}}{_GAP}\d{{3}}{_GAP}\d{{4}}|\d{{4}}{_GAP}\d{{3}}{_GAP}\d{{3}})(?!\d)"
)
REDACTED = "[redacted]"
NHS_NUMBER_MASK = "[nhs-number]"


def redact_text(text: str) -> str:
    if len(text) < 10:  # too short to hold ten digits: most values (codes, states, names)
        return text
    return NHS_NUMBER_PATTERN.sub(NHS_NUMBER_MASK, text)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        # An NHS number passed as an int: ten decimal digits (a leading 0 cannot survive as int).
        return NHS_NUMBER_MASK if 10**9 <= abs(value) < 10**10 else value
    if isinstance(value, MutableMapping):
        return {k: REDACTED if k in PII_KEYS else _redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


# Trace, span and event ids are random hex, so many have digit runs the NHS-number pattern
# would mask (a UUID's "5907899-539f" reads as 4-3-3): kept as they are, but only under their
# own keys and in their own shape (32 and 16 hex digits, a UUID).
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_IDS = {
    "trace_id": re.compile(r"[0-9a-f]{32}"),
    "span_id": re.compile(r"[0-9a-f]{16}"),
    "correlation_id": _UUID,
    "causation_id": _UUID,
    "event_id": _UUID,
}


def _is_id(key: str, value: Any) -> bool:
    shape = _IDS.get(key)
    return shape is not None and isinstance(value, str) and shape.fullmatch(value) is not None


def redact_pii(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    return {
        k: REDACTED if k in PII_KEYS else v if _is_id(k, v) else _redact(v)
        for k, v in event_dict.items()
    }


def add_trace_ids(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The current span's trace and span ids (none outside a recorded span, or tracing off)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", f"{context.trace_id:032x}")
        event_dict.setdefault("span_id", f"{context.span_id:016x}")
    return event_dict


def _transient_coordinator_errors_are_warnings(record: logging.LogRecord) -> bool:
    # aiokafka logs ERROR while a fresh broker is still creating __consumer_offsets, which
    # it retries by itself. Warn instead so alerting on ERROR means something is wrong.
    if record.levelno == logging.ERROR and "GroupCoordinatorNotAvailable" in record.getMessage():
        record.levelno, record.levelname = logging.WARNING, "WARNING"
    return True


class _LineWriter:
    """The logger a structlog call wraps: it writes the rendered line to the stream of the handler
    the latest `configure_logging` set up, under that handler's lock, so a line skips the stdlib
    LogRecord, the caller lookup and the record copy of `ProcessorFormatter`. Levels and the
    name are the stdlib logger's, so `filter_by_level` and `setLevel` work as before."""

    # The latest, not the one at bind time: a cached logger follows a new configure_logging.
    handler: ClassVar["logging.StreamHandler[TextIO] | None"] = None

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self.name = logger.name

    @property
    def disabled(self) -> bool:
        return self._logger.disabled

    def getEffectiveLevel(self) -> int:  # the stdlib name: filter_by_level calls it
        return self._logger.getEffectiveLevel()

    def __getattr__(self, name: str) -> Any:  # the rest of the stdlib BoundLogger pass-throughs
        if name.startswith("_"):  # not set yet (a copy): no endless lookup of _logger
            raise AttributeError(name)
        return getattr(self._logger, name)

    def write(self, level: int, line: str) -> None:
        handler = self.handler
        # As logging.Logger.info etc. check (logging.disable too) and StreamHandler.emit writes.
        if handler is None or not self._logger.isEnabledFor(level):
            return
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.flush()
        except Exception:
            handler.handleError(logging.makeLogRecord({"name": self.name, "msg": line}))
        finally:
            handler.release()

    def debug(self, line: str) -> None:
        self.write(logging.DEBUG, line)

    def info(self, line: str) -> None:
        self.write(logging.INFO, line)

    def warning(self, line: str) -> None:
        self.write(logging.WARNING, line)

    def error(self, line: str) -> None:
        self.write(logging.ERROR, line)

    exception = error

    def critical(self, line: str) -> None:
        self.write(logging.CRITICAL, line)


# No name given (structlog.get_logger()): the caller's module, past this module's own frame.
_stdlib_loggers = structlog.stdlib.LoggerFactory(ignore_frame_names=[__name__])


def _line_writer(*args: Any) -> _LineWriter:
    return _LineWriter(_stdlib_loggers(*args))


def configure_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    render_json = json or not sys.stderr.isatty()

    def add_service(_l: WrappedLogger, _m: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[Any] = [
        add_service,
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if render_json:
        renderer = structlog.processors.JSONRenderer()
        exceptions: list[Any] = [
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        ]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        exceptions = []
    rendering = [*exceptions, redact_pii, renderer]
    # Only stdlib records reach the formatter: structlog calls render themselves (_LineWriter).
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    _LineWriter.handler = handler
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
    # httpx logs every request at INFO: a webhook delivery's own line already says it.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    if _transient_coordinator_errors_are_warnings not in coordinator.filters:
        coordinator.addFilter(_transient_coordinator_errors_are_warnings)
    structlog.configure(
        # Level first: a debug line below the level costs nothing more than this check.
        processors=[structlog.stdlib.filter_by_level, *shared, *rendering],
        logger_factory=_line_writer,
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
