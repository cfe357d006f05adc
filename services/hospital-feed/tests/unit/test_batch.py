"""Batch files (FHS/BHS), the pure part: split into messages, counts checked, answered with
a response batch that python-hl7 reads as one."""

from datetime import UTC, datetime

import hl7
import pytest

from hospital_feed.domain.ack import build_ack, escape
from hospital_feed.domain.batch import batch_ack, is_batch, mismatches, split_batch
from hospital_feed.domain.hl7_message import parse_adt, parse_header

from ..samples import adt

NOW = datetime(2026, 11, 22, 10, 20, tzinfo=UTC)
FHS = "FHS|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261122||||FILE-1"
BHS = "BHS|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261122||||BATCH-1"


def batch_of(*messages: str, count: str | None = None, bhs: str = BHS) -> str:
    trailer = [] if count is None else [f"BTS|{count}"]
    return "\r".join([bhs, *(m.rstrip("\r") for m in messages), *trailer]) + "\r"


def file_of(*batches: str, count: str | None = None) -> str:
    trailer = "" if count is None else f"FTS|{count}\r"
    return FHS + "\r" + "".join(batches) + trailer


def acks_for(batches: list[list[str]]) -> list[list[str]]:
    return [[build_ack(parse_header(m), "AA", now=NOW) for m in batch] for batch in batches]


def test_batches_are_told_apart_from_messages() -> None:
    assert is_batch(FHS + "\r")
    assert is_batch("\ufeff\x0b" + BHS + "\n")
    assert not is_batch(adt())
    assert not is_batch(adt() + BHS)  # a BHS inside a message is just a segment there


def test_a_file_is_split_into_its_batches_and_messages() -> None:
    first, second, third = (adt(control_id=c) for c in ("C1", "C2", "C3"))
    raw = file_of(batch_of(first, second, count="2"), batch_of(third, count="1"), count="2")
    file = split_batch(raw)
    assert [[parse_adt(m).header.control_id for m in b.messages] for b in file.batches] == [
        ["C1", "C2"],
        ["C3"],
    ]
    assert file.batches[0].messages[0] == first  # each message as sent, with its segments
    assert mismatches(file) == []


def test_a_batch_without_a_file_and_any_segment_ends() -> None:
    raw = batch_of(adt(control_id="L1"), adt(control_id="L2"), count="2").replace("\r", "\r\n")
    file = split_batch(raw)
    assert file.header is None
    assert [len(b.messages) for b in file.batches] == [2]
    assert mismatches(file) == []


def test_messages_in_a_file_without_bhs_form_one_batch() -> None:
    raw = FHS + "\r" + adt(control_id="N1") + adt(control_id="N2") + "FTS|1\r"
    file = split_batch(raw)
    assert [len(b.messages) for b in file.batches] == [2]
    assert mismatches(file) == []


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (batch_of(adt(), count="3"), "BTS-1 says 3 message(s), the batch holds 1"),
        (batch_of(adt(), count=""), "BTS-1 says nothing message(s), the batch holds 1"),
        (
            batch_of(adt(), count="9990000018"),  # never echoed: it may be an NHS number
            "BTS-1 says something other than a count message(s), the batch holds 1",
        ),
        (batch_of(adt()), "the batch has no BTS trailer: it may be incomplete"),
        (file_of(batch_of(adt(), count="1")), "the file has no FTS trailer: it may be incomplete"),
        (
            file_of(batch_of(adt(), count="1"), count="2"),
            "FTS-1 says 2 batch(es), the file holds 1",
        ),
        (
            BHS + "\rZXX|1\rPID|1\r" + adt() + "BTS|1\r",
            "2 segment(s) outside any message were ignored",
        ),
    ],
)
def test_counts_and_envelopes_that_do_not_add_up_are_reported(raw: str, problem: str) -> None:
    file = split_batch(raw)
    assert mismatches(file) == [problem]
    response = batch_ack(file, acks_for([b.messages for b in file.batches]), now=NOW)
    assert escape(problem) in response  # said in the response batch (FHS-10 or BHS-10)


def test_the_response_batch_mirrors_the_file_with_one_ack_per_message() -> None:
    raw = file_of(
        batch_of(adt(control_id="C1"), adt(control_id="C2"), count="2"),
        batch_of(adt(control_id="C3"), count="5"),
        count="2",
    )
    file = split_batch(raw)
    response = batch_ack(file, acks_for([b.messages for b in file.batches]), now=NOW)
    segments = response.rstrip("\r").split("\r")
    assert [s[:3] for s in segments] == (
        ["FHS", "BHS", "MSH", "MSA", "MSH", "MSA", "BTS", "BHS", "MSH", "MSA", "BTS", "FTS"]
    )
    fhs, bhs = segments[0].split("|"), segments[1].split("|")
    assert fhs[2:6] == ["ENSEMBLE", "ENSEMBLE", "PAS", "RCB"]  # applications swapped
    assert fhs[11] == "FILE-1" and bhs[11] == "BATCH-1"  # -12: the control id answered
    assert fhs[10] and fhs[10] != "FILE-1"  # -11: our own
    assert segments[6] == "BTS|2" and segments[-1] == "FTS|2"
    assert segments[7].split("|")[9] == "BTS-1 says 5 message(s), the batch holds 1"  # BHS-10

    parsed = hl7.parse_file(response)  # python-hl7 reads it as a file of batches of ACKs
    assert [[str(m.segment("MSA")[2]) for m in batch] for batch in parsed] == [["C1", "C2"], ["C3"]]


def test_a_lone_batch_is_answered_with_a_lone_batch() -> None:
    file = split_batch(batch_of(adt(control_id="B1"), count="1"))
    response = batch_ack(file, acks_for([b.messages for b in file.batches]), now=NOW)
    assert response.startswith("BHS|") and response.endswith("BTS|1\r")
    parsed = hl7.parse_batch(response)
    assert [str(m.segment("MSA")[1]) for m in parsed] == ["AA"]


def test_an_empty_batch_is_answered_with_an_empty_batch() -> None:
    file = split_batch(batch_of(count="0"))
    assert mismatches(file) == []
    assert batch_ack(file, [[]], now=NOW).endswith("BTS|0\r")
