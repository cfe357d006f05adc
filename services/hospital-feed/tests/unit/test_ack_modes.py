"""Enhanced acknowledgement mode (MSH-15/16), the pure part: which ACK frames answer a
message, given its application ACK."""

import pytest

from hospital_feed.domain.ack import (
    AckModes,
    ack_code,
    answer_frames,
    build_ack,
    commit_error,
    requested_modes,
)
from hospital_feed.domain.hl7_message import parse_header

from ..samples import RCB_A01, adt


def with_modes(raw: str, accept: str, application: str) -> str:
    """`raw` (from `adt()`, MSH ending at MSH-12) with MSH-15 and MSH-16."""
    msh, rest = raw.split("\r", 1)
    return f"{msh}|||{accept}|{application}\r{rest}"


def acks_for(raw: str, code: str) -> list[str]:
    """The frames answering `raw` whose application ACK is `code`."""
    reason = "" if code == "AA" else "PV1-44 is not an HL7 timestamp"
    error_code = "0" if code == "AA" else "102"
    header = parse_header(raw)
    return answer_frames(raw, header, build_ack(header, code, reason, error_code))


def msh_field(ack: str, number: int) -> str:
    fields = ack.split("\r", 1)[0].split("|")
    return fields[number - 1] if number <= len(fields) else ""


@pytest.mark.parametrize(
    ("accept", "application", "expected"),
    [
        ("", "", None),
        ("AL", "NE", AckModes("AL", "NE")),
        ("ne", "al", AckModes("NE", "AL")),  # codes read case-insensitively
        ("ER", "", AckModes("ER", "AL")),  # one empty in enhanced mode: AL
        ("XX", "SU", AckModes("AL", "SU")),  # not from table 0155: as if empty
        ("XX", "YY", None),  # neither is a condition: original mode
    ],
)
def test_msh_15_and_16_choose_the_mode(
    accept: str, application: str, expected: AckModes | None
) -> None:
    raw = with_modes(adt(), accept, application)
    assert requested_modes(raw, parse_header(raw)) == expected


def test_the_modes_are_read_whatever_the_separator_and_framing() -> None:
    raw = "\ufeff\x0bMSH*^~\\&*PAS*RCB*E*E*20261122**ADT^A01*C1*P*2.4***ER*SU\nPID*1"
    assert requested_modes(raw, parse_header(raw)) == AckModes("ER", "SU")
    assert requested_modes("PID|1||9990000018", None) is None  # no MSH: nothing to read


def test_an_msh_that_may_hold_other_segments_is_original_mode() -> None:
    """No segment ends: MSH-16 reads `NE<0x1c>EVN...`, and every later field is another
    segment's. An unconfirmed MSH is never taken at its word."""
    raw = with_modes(adt(control_id="S1"), "AL", "NE").replace("\r", "\x1c")
    header = parse_header(raw)
    assert not header.confirmed
    assert requested_modes(raw, header) is None
    assert len(answer_frames(raw, header, build_ack(header, "AE", "bad", "100"))) == 1


def test_original_mode_is_the_application_ack_alone() -> None:
    (ack,) = acks_for(adt(control_id="O1"), "AE")
    assert ack_code(ack) == "AE"
    assert msh_field(ack, 15) == ""  # our original-mode ACK says nothing of modes


# (MSH-15, MSH-16, application ACK) -> the MSA-1 of each frame sent, in order
MATRIX = [
    ("AL", "AL", "AA", ["CA", "AA"]),
    ("AL", "AL", "AE", ["CA", "AE"]),
    ("AL", "AL", "AR", ["CR", "AR"]),
    ("AL", "NE", "AA", ["CA"]),  # the ITK profile: a commit ACK only
    ("AL", "NE", "AE", ["CA"]),  # committed; the content error is for staff, not the sender
    ("NE", "AL", "AA", ["AA"]),
    ("NE", "NE", "AA", []),
    ("NE", "NE", "AR", []),
    ("ER", "ER", "AA", []),
    ("ER", "ER", "AE", ["AE"]),  # committed (no CA asked for on success), then the error
    ("ER", "ER", "AR", ["CR", "AR"]),
    ("SU", "SU", "AA", ["CA", "AA"]),
    ("SU", "SU", "AE", ["CA"]),
    ("SU", "SU", "AR", []),
    ("AL", "ER", "AA", ["CA"]),
    ("AL", "ER", "AE", ["CA", "AE"]),
]


@pytest.mark.parametrize(("accept", "application", "code", "expected"), MATRIX)
def test_each_ack_is_sent_when_its_condition_holds(
    accept: str, application: str, code: str, expected: list[str]
) -> None:
    raw = with_modes(adt(control_id="M1"), accept, application)
    frames = acks_for(raw, code)
    assert [ack_code(ack) for ack in frames] == expected
    for ack in frames:
        assert ack.split("\r")[1].split("|")[2] == "M1"  # MSA-2: the message answered


def test_enhanced_acks_ask_for_no_answer_and_carry_their_own_control_ids() -> None:
    raw = with_modes(adt(control_id="M2"), "AL", "AL")
    accept, application = acks_for(raw, "AE")
    assert [msh_field(ack, 15) + msh_field(ack, 16) for ack in (accept, application)] == [
        "NENE",
        "NENE",
    ]
    assert msh_field(accept, 10) != msh_field(application, 10)
    assert msh_field(accept, 9) == "ACK^A01^ACK"
    # CA: committed, no error text; the AE after it says what is wrong.
    assert accept.split("\r")[1] == "MSA|CA|M2|"
    assert "ERR" not in accept
    assert application.split("\r")[1].startswith("MSA|AE|M2|PV1-44")
    assert "\rERR|||102^" in application


def test_a_commit_reject_keeps_the_reason() -> None:
    raw = with_modes(adt(control_id="M3"), "AL", "NE")
    header = parse_header(raw)
    (reject,) = answer_frames(
        raw, header, build_ack(header, "AR", "unsupported message type", "200")
    )
    assert reject.split("\r")[1] == "MSA|CR|M3|unsupported message type"
    assert "\rERR|||200^unsupported message type^HL70357|E" in reject


def test_the_itk_sample_asks_for_a_commit_ack_only() -> None:
    assert requested_modes(RCB_A01, parse_header(RCB_A01)) == AckModes("AL", "NE")


@pytest.mark.parametrize(("accept", "sent"), [("AL", True), ("ER", True), ("SU", False)])
def test_a_store_failure_is_ce_when_msh_15_asks_for_errors(accept: str, sent: bool) -> None:
    raw = with_modes(adt(control_id="F1"), accept, "AL")
    ce = commit_error(raw, parse_header(raw))
    assert (ce is not None) == sent
    if ce is not None:
        assert ce.split("\r")[1] == "MSA|CE|F1|the message could not be stored; send it again"
        assert "\rERR|||207^" in ce


def test_a_store_failure_in_original_mode_is_not_answered() -> None:
    raw = adt(control_id="F2")
    assert commit_error(raw, parse_header(raw)) is None


def test_no_nhs_number_reaches_an_enhanced_ack() -> None:
    raw = with_modes(adt(control_id="N1"), "AL", "AL")
    header = parse_header(raw)
    frames = answer_frames(raw, header, build_ack(header, "AR", "PID-3 9990000018 bad", "102"))
    assert [ack_code(ack) for ack in frames] == ["CR", "AR"]
    assert not any("9990000018" in ack for ack in frames)
