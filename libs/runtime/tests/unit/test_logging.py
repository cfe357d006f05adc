import json
import logging

import pytest
import structlog

from ensemble_runtime.logging import configure_logging, redact_text


def test_nhs_numbers_are_masked_in_free_text() -> None:
    assert redact_text("patient 999 000 0018 and 9990000026 seen") == (
        "patient [nhs-number] and [nhs-number] seen"
    )
    assert redact_text("timestamp 20261122230000 stays") == "timestamp 20261122230000 stays"


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
