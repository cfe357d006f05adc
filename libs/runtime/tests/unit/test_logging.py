import io
import json
import logging
import sys

import pytest
import structlog

from ensemble_runtime.logging import configure_logging, redact_pii, redact_text


def test_nhs_numbers_are_masked_in_free_text() -> None:
    assert redact_text("patient 999 000 0018 and 9990000026 seen") == (
        "patient [nhs-number] and [nhs-number] seen"
    )
    assert redact_text("timestamp 20261122230000 stays") == "timestamp 20261122230000 stays"


@pytest.mark.parametrize(
    "spelling",
    [
        "9990000018",
        "999 000 0018",
        "999-000-0018",
        "999.000.0018",
        "999/000/0018",
        "999\u00a0000\u00a00018",  # NBSP
        "999\u202f000\u202f0018",  # narrow NBSP
        "999\u2009000\u20090018",  # thin space
        "999\u2007000\u20070018",  # figure space
        "999\u2013000\u20130018",  # en dash
        "999 - 000 - 0018",
        "999  000  0018",
        "9990 000 018",  # 4-3-3
        "9990-000-018",
        "9990.000.018",
        "9990\u00a0000\u00a0018",
        "999\t000\t0018",
    ],
)
def test_every_common_spelling_of_an_nhs_number_is_masked(spelling: str) -> None:
    assert redact_text(f"nhs:{spelling}.") == "nhs:[nhs-number]."
    assert redact_text(f"({spelling})") == "([nhs-number])"


@pytest.mark.parametrize(
    "text",
    [
        "20261122230000",  # a timestamp: 14 digits
        "2026-11-23 09:00:15",
        "999 000 00180",  # 11 digits
        "offset 12345, partition 3",
        "0161 496 0000",  # a phone number: 4-3-4
        "version 1.2.3",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_log_lines_carry_no_nhs_number_name_or_local_variables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit", "INFO", json=True)
    log = structlog.get_logger("test")
    log.info("admitted 9990000018", nhs_number="9990000018", name="TEST PATIENT", ward="W1")

    def fail(nhs_number: str) -> None:
        raise ValueError("bad record")

    try:
        fail("9990000026")
    except ValueError:
        log.exception("handler failed")
    logging.getLogger("foreign.library").warning("saw 9990000034")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    text = json.dumps(lines)
    assert "999000" not in text
    assert "TEST PATIENT" not in text
    assert lines[0]["nhs_number"] == "[redacted]"
    assert lines[0]["ward"] == "W1"
    assert lines[0]["service"] == "unit"
    frames = lines[1]["exception"][0]["frames"]
    assert frames and all("locals" not in frame for frame in frames)


def test_a_fresh_broker_s_coordinator_retries_are_warnings_not_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit", "INFO", json=True)
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    coordinator.error("Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailable")
    coordinator.error("Something else broke")

    levels = [json.loads(line)["level"] for line in capsys.readouterr().err.splitlines()]
    assert levels == ["warning", "error"]


def test_ten_digit_integers_are_masked_at_any_depth_other_integers_and_bools_are_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit", "INFO", json=True)
    structlog.get_logger("test").info(
        "looked up",
        value=9434765919,
        negative=-9434765919,
        nested={"patient": {"number": 9434765919}, "count": 3},
        listed=[1, 9434765919, (9434765919, 42)],
        short=123456789,
        eleven=12345678901,
        flag=True,
        zero=0,
    )
    logging.getLogger("foreign.library").warning("number %d", 9434765919)

    written = capsys.readouterr().err
    assert "9434765919" not in written
    ours, foreign = (json.loads(line) for line in written.splitlines())
    assert ours["value"] == ours["negative"] == "[nhs-number]"
    assert ours["nested"] == {"patient": {"number": "[nhs-number]"}, "count": 3}
    assert ours["listed"] == [1, "[nhs-number]", ["[nhs-number]", 42]]
    assert (ours["short"], ours["eleven"], ours["zero"]) == (123456789, 12345678901, 0)
    assert ours["flag"] is True
    assert foreign["event"] == "number [nhs-number]"


def test_redact_pii_masks_ten_digit_integers_and_keeps_bools_and_short_integers() -> None:
    redacted = redact_pii(None, "info", {"event": "x", "n": 9434765919, "ok": True, "size": 12})
    assert redacted == {"event": "x", "n": "[nhs-number]", "ok": True, "size": 12}


def test_structlog_and_stdlib_lines_carry_the_same_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit", "INFO", json=True)
    bound = structlog.contextvars.bind_contextvars(correlation_id="c-1")
    try:
        structlog.get_logger("ensemble.intake").info("received", sender="RCB", size=12)
        logging.getLogger("uvicorn.error").info("started %s", "server")
    finally:
        structlog.contextvars.reset_contextvars(**bound)

    ours, foreign = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    common = {"event", "level", "logger", "timestamp", "service", "correlation_id"}
    assert set(ours) == common | {"sender", "size"} and set(foreign) == common
    assert (ours["logger"], ours["level"], ours["service"]) == ("ensemble.intake", "info", "unit")
    assert (foreign["logger"], foreign["event"]) == ("uvicorn.error", "started server")
    assert ours["correlation_id"] == foreign["correlation_id"] == "c-1"
    assert ours["timestamp"].endswith("Z") and "T" in ours["timestamp"]


def test_levels_filter_structlog_lines_as_the_stdlib_loggers_are_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit", "WARNING", json=True)
    log = structlog.get_logger("test.levels")
    log.info("below the root level")
    log.warning("at the root level")
    logging.getLogger("test.quiet").setLevel(logging.ERROR)
    structlog.get_logger("test.quiet").warning("below its own level")
    structlog.get_logger("test.quiet").error("at its own level")
    configure_logging("unit", "DEBUG", json=True)
    log.debug("debug once configured so")

    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == ["at the root level", "at its own level", "debug once configured so"]


def test_a_cached_logger_writes_where_the_latest_configuration_points(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging("first", "INFO", json=True)
    log = structlog.get_logger("test.cached")
    log.info("one")  # binds and caches the logger
    elsewhere = io.StringIO()
    monkeypatch.setattr(sys, "stderr", elsewhere)
    configure_logging("second", "INFO", json=True)
    log.info("two")
    logging.getLogger("test.foreign").warning("three")

    assert [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()] == ["one"]
    lines = [json.loads(line) for line in elsewhere.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["two", "three"]


def test_a_line_that_cannot_be_written_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = io.StringIO()
    monkeypatch.setattr(sys, "stderr", closed)
    configure_logging("unit", "INFO", json=True)
    closed.close()
    report = io.StringIO()
    monkeypatch.setattr(sys, "stderr", report)  # where logging reports a failed write

    structlog.get_logger("test.closed").info("lost")  # no exception reaches the caller

    assert "--- Logging error ---" in report.getvalue()
