from datetime import UTC, datetime

from hospital_feed.domain.ack import build_ack, escape, safe_reason
from hospital_feed.domain.hl7_message import parse_header

from ..samples import V23_A04_AE, adt

NOW = datetime(2026, 11, 22, 10, 20, tzinfo=UTC)


def fields(segment: str) -> list[str]:
    return segment.split("|")


def test_aa_swaps_applications_and_echoes_the_control_id() -> None:
    header = parse_header(adt(control_id="CTRL-1").replace("ENSEMBLE|ENSEMBLE", "EHR|YORKGP"))
    msh, msa, *rest = build_ack(header, "AA", now=NOW).rstrip("\r").split("\r")
    f = fields(msh)
    # MSH-3..6 (list index = field number - 1 + 1 for the segment name, minus MSH-1)
    assert f[2:6] == ["EHR", "YORKGP", "PAS", "RCB"]
    assert f[6] == "20261122102000+0000"
    assert f[8] == "ACK^A01^ACK"
    assert f[9] and f[9] != "CTRL-1"  # our own control id
    assert f[10:12] == ["P", "2.4"]
    assert msa == "MSA|AA|CTRL-1|"
    assert rest == []


def test_ack_keeps_the_senders_version_and_fills_in_our_name() -> None:
    header = parse_header(V23_A04_AE.replace("ENSEMBLE|ENSEMBLE", "|"))
    msh = build_ack(header, "AA").split("\r")[0]
    assert fields(msh)[2:4] == ["ENSEMBLE", "ENSEMBLE"]
    assert fields(msh)[8] == "ACK^A04^ACK"
    assert fields(msh)[11] == "2.3"


def test_ae_carries_an_err_segment_with_code_severity_and_text() -> None:
    header = parse_header(adt(control_id="CTRL-2"))
    _, msa, err = build_ack(header, "AE", "PID-3 is empty", "101").rstrip("\r").split("\r")
    assert msa == "MSA|AE|CTRL-2|PID-3 is empty"
    f = fields(err)
    assert f[0] == "ERR"
    assert f[3] == "101^PID-3 is empty^HL70357"  # ERR-3
    assert f[4] == "E"  # ERR-4 severity
    assert f[8] == "PID-3 is empty"  # ERR-8 user message


def test_unreadable_message_gets_ar_with_empty_msa_2() -> None:
    ack = build_ack(None, "AR", "message does not start with an MSH segment", "100")
    msh, msa, err = ack.rstrip("\r").split("\r")
    assert fields(msh)[8] == "ACK^^ACK"
    assert msa == "MSA|AR||message does not start with an MSH segment"
    assert fields(err)[3].startswith("100^")


def test_reasons_never_echo_an_nhs_number() -> None:
    header = parse_header(adt())
    ack = build_ack(header, "AE", "bad 9990000018 and 999 000 0026 here", "102")
    assert "9990000018" not in ack
    assert "999 000 0026" not in ack
    assert "[number]" in ack
    assert safe_reason("x" * 500) == "x" * 200


def test_aa_carries_no_reason_text() -> None:
    header = parse_header(adt(control_id="C3"))
    assert "MSA|AA|C3|\r" in build_ack(header, "AA", "held: placeholder NHS number")


def test_delimiters_in_echoed_values_are_escaped() -> None:
    header = parse_header(adt(control_id="C\\F\\4"))  # MSH-10 "C|4" as sent, escaped
    assert "MSA|AA|C\\F\\4|" in build_ack(header, "AA")
    assert escape("A|B^C&D~E\\F") == "A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F"


def test_acks_never_carry_framing_bytes_or_nul_from_the_message() -> None:
    raw = adt(control_id="C\x0b1\x1c2\x004", facility="RCB\x1c")
    header = parse_header(raw)
    ack = build_ack(header, "AE", "reason\x0b with\x1c bytes", "102")
    for byte in ("\x0b", "\x1c", "\x00"):
        assert byte not in ack
    assert "\r\r" not in ack  # only our own segment ends
    assert "MSA|AE|C124|reason with bytes" in ack
    assert escape("a\rb\nc") == "a b c"
