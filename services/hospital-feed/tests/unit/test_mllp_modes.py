"""The MLLP listener in enhanced acknowledgement mode and with batch files, and HTTP with
batch files: what goes back on the wire, in what order, and what is stored."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import hl7
import pytest

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.domain.ack import ack_code
from hospital_feed.entrypoints.mllp import START, MllpListener, frame

from ..samples import RCB_A01, adt
from ..support import FeedKit, stored
from .test_ack_modes import with_modes
from .test_mllp import LIMIT, exchange, rcb_listener, read_ack, serving

BHS = "BHS|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261122||||BATCH-7"


@pytest.fixture
async def listener(kit: FeedKit) -> AsyncIterator[MllpListener]:
    async with serving(rcb_listener(kit)) as mllp:
        yield mllp


def answer(ack: str) -> tuple[str, str]:
    """(MSA-1, MSA-2) of an ACK."""
    msa = next(s for s in ack.split("\r") if s.startswith("MSA|")).split("|")
    return msa[1], msa[2]


async def converse(port: int, payload: bytes, frames: int) -> list[str]:
    """Write `payload` in one go and read `frames` ACK frames."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return [await read_ack(reader) for _ in range(frames)]
    finally:
        writer.close()
        await writer.wait_closed()


async def test_accept_then_application_ack_on_the_same_connection(
    kit: FeedKit, listener: MllpListener
) -> None:
    raw = with_modes(adt(control_id="E1"), "AL", "AL")
    accept, application = await converse(listener.port, frame(raw), 2)
    assert [answer(accept), answer(application)] == [("CA", "E1"), ("AA", "E1")]
    assert [m.status for m in stored(kit)] == ["accepted"]
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1


async def test_the_itk_profile_gets_a_commit_ack_only(kit: FeedKit, listener: MllpListener) -> None:
    # AL/NE, then an original-mode message: its AA is the very next frame, so no
    # application ACK was sent for the first.
    after = adt("A08", control_id="NEXT")
    acks = await converse(listener.port, frame(RCB_A01) + frame(after), 2)
    assert [answer(ack) for ack in acks] == [("CA", "RCB0000001"), ("AA", "NEXT")]


async def test_mixed_modes_streamed_through_a_small_window_stay_in_order(kit: FeedKit) -> None:
    """Answers go out in frame order, however many frames each message needs."""
    messages = [
        (with_modes(adt("A08", control_id="M1"), "AL", "AL"), [("CA", "M1"), ("AA", "M1")]),
        (with_modes(adt("A08", control_id="M2"), "NE", "NE"), []),
        (adt("A08", control_id="M3"), [("AA", "M3")]),
        (
            with_modes(adt(control_id="M4", admit_at="bad"), "ER", "ER"),
            [("AE", "M4")],  # committed (no CA on success under ER), then its error
        ),
        (
            with_modes(adt(control_id="M5", facility="RVJ"), "ER", "ER"),
            [("CR", "M5"), ("AR", "M5")],
        ),
        (with_modes(adt("A08", control_id="M6"), "SU", "SU"), [("CA", "M6"), ("AA", "M6")]),
        (with_modes(adt("A08", control_id="M7"), "NE", "AL"), [("AA", "M7")]),
    ]
    expected = [pair for _, pairs in messages for pair in pairs]
    async with serving(rcb_listener(kit, window=2)) as mllp:
        stream = b"".join(frame(raw) for raw, _ in messages)
        acks = await converse(mllp.port, stream, len(expected))
    assert [answer(ack) for ack in acks] == expected
    assert [m.control_id for m in stored(kit)] == [f"M{n}" for n in range(1, 8)]


async def test_a_resend_in_enhanced_mode_gets_the_same_frames(
    kit: FeedKit, listener: MllpListener
) -> None:
    raw = with_modes(adt(control_id="R1", admit_at="bad"), "AL", "AL")
    first = await converse(listener.port, frame(raw), 2)
    again = await converse(listener.port, frame(raw), 2)
    assert [answer(a) for a in first] == [answer(a) for a in again] == [("CA", "R1"), ("AE", "R1")]
    assert [m.control_id for m in stored(kit)] == ["R1"]  # answered again, not stored again


async def test_an_oversize_frame_in_enhanced_mode_is_a_commit_reject(
    kit: FeedKit, listener: MllpListener
) -> None:
    big = with_modes(adt(control_id="BIG"), "AL", "AL") + "ZZZ|" + "x" * LIMIT + "\r"
    reject, refusal = await converse(listener.port, frame(big), 2)
    assert [answer(reject), answer(refusal)] == [("CR", "BIG"), ("AR", "BIG")]
    assert f"message larger than {LIMIT} bytes" in reject


class FailingStore:
    """The runtime, failing every message whose text holds `marker` as a broken store would."""

    def __init__(self, runtime: Any, marker: str = "FAIL") -> None:
        self._runtime, self._marker = runtime, marker

    async def execute(self, command: Any, **options: Any) -> Any:
        if self._marker in command.raw:
            raise OSError("disk full")
        return await self._runtime.execute(command, **options)


async def test_a_store_failure_is_answered_ce_when_asked_and_the_connection_stays(
    kit: FeedKit,
) -> None:
    mllp = rcb_listener(kit)
    mllp.runtime = FailingStore(kit.runtime)  # type: ignore[assignment]
    failing = with_modes(adt(control_id="FAIL1"), "ER", "AL")
    async with serving(mllp):
        acks = await converse(mllp.port, frame(failing) + frame(adt("A08", control_id="OK1")), 2)
    assert [answer(ack) for ack in acks] == [("CE", "FAIL1"), ("AA", "OK1")]
    assert [m.control_id for m in stored(kit)] == ["OK1"]


@pytest.mark.parametrize("modes", [None, ("SU", "AL"), ("NE", "AL")])
async def test_a_store_failure_without_ce_closes_the_connection_unanswered(
    kit: FeedKit, modes: tuple[str, str] | None
) -> None:
    mllp = rcb_listener(kit)
    mllp.runtime = FailingStore(kit.runtime)  # type: ignore[assignment]
    failing = adt(control_id="FAIL2")
    if modes is not None:
        failing = with_modes(failing, *modes)
    async with serving(mllp):
        reader, writer = await asyncio.open_connection("127.0.0.1", mllp.port)
        writer.write(frame(failing))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed, nothing sent
        writer.close()


# --- batch files -----------------------------------------------------------------------------


def batch(*messages: str, count: int | None = None) -> str:
    declared = len(messages) if count is None else count
    return "\r".join([BHS, *(m.rstrip("\r") for m in messages), f"BTS|{declared}"]) + "\r"


def file(*batches: str, count: int = 1) -> str:
    return (
        "FHS|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261122||||FILE-7\r"
        + "".join(batches)
        + f"FTS|{count}\r"
    )


async def test_a_batch_file_over_mllp_is_stored_per_message_and_answered_per_message(
    kit: FeedKit, listener: MllpListener
) -> None:
    raw = file(
        batch(
            adt(control_id="B1"),
            adt("A03", control_id="B2", discharge_at="202611231000"),
            adt(control_id="B3", admit_at="bad"),
            adt(control_id="B4", facility="RVJ"),
        )
    )
    (response,) = await exchange(listener.port, frame(raw))
    parsed = hl7.parse_file(response)
    assert [answer(str(m)) for m in parsed[0]] == [
        ("AA", "B1"),
        ("AA", "B2"),
        ("AE", "B3"),
        ("AR", "B4"),
    ]
    assert str(parsed.header[12]) == "FILE-7" and str(parsed[0].header[12]) == "BATCH-7"
    assert response.rstrip("\r").endswith("BTS|4\rFTS|1")
    assert [(m.control_id, m.status) for m in stored(kit)] == [
        ("B1", "accepted"),
        ("B2", "accepted"),
        ("B3", "rejected"),
        ("B4", "rejected"),
    ]
    assert all(m.raw.startswith("MSH|") for m in stored(kit))  # each message, not the file
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 2

    (again,) = await exchange(listener.port, frame(raw))  # resent whole: the same answers
    assert [answer(str(m)) for m in hl7.parse_file(again)[0]] == [answer(str(m)) for m in parsed[0]]
    assert len(stored(kit)) == 4 and len(kit.published(HOSPITAL_ENCOUNTERS)) == 2


async def test_a_batch_whose_count_does_not_match_is_answered_saying_so(
    kit: FeedKit, listener: MllpListener
) -> None:
    raw = batch(adt(control_id="C1"), adt("A08", control_id="C2"), count=3)
    (response,) = await exchange(listener.port, frame(raw))
    bhs = response.split("\r", 1)[0].split("|")
    assert bhs[9] == "BTS-1 says 3 message(s), the batch holds 2"  # BHS-10, batch comment
    assert [answer(str(m)) for m in hl7.parse_batch(response)] == [("AA", "C1"), ("AA", "C2")]
    assert len(stored(kit)) == 2  # what did arrive is kept, not refused with the rest


async def test_a_batch_over_http_is_answered_the_same_way(kit: FeedKit) -> None:
    raw = batch(adt(control_id="H1"), adt(control_id="H2", facility="RVJ"))
    async with kit.client("sender", "RCB") as sender:
        response = await sender.post("/v1/hl7v2", content=raw)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/hl7-v2")
    assert [answer(str(m)) for m in hl7.parse_batch(response.text)] == [
        ("AA", "H1"),
        ("AR", "H2"),
    ]
    assert [m.control_id for m in stored(kit)] == ["H1", "H2"]


async def test_http_answers_one_ack_whatever_msh_15_and_16_say(kit: FeedKit) -> None:
    async with kit.client("sender", "RCB") as sender:
        response = await sender.post("/v1/hl7v2", content=with_modes(adt(), "AL", "AL"))
    assert response.text.count("MSA|") == 1 and ack_code(response.text) == "AA"


async def test_a_batch_frame_does_not_hold_up_later_frames_order(
    kit: FeedKit, listener: MllpListener
) -> None:
    raw = batch(adt("A08", control_id="IN1"), adt("A08", control_id="IN2"))
    acks = await converse(listener.port, frame(raw) + frame(adt("A08", control_id="OUT")), 2)
    assert acks[0].startswith("BHS|") and answer(acks[1]) == ("AA", "OUT")
    assert START.decode() not in acks[0]


async def test_a_batch_cut_short_by_a_store_failure_is_resent_whole_and_answered_once(
    kit: FeedKit,
) -> None:
    """Nothing is answered for a batch not wholly committed; the resend finds the messages
    that were (answered again as resends, not stored twice) and stores the rest."""
    raw = batch(adt(control_id="K1"), adt("A08", control_id="K2"))
    failing = rcb_listener(kit)
    failing.runtime = FailingStore(kit.runtime, marker="|K2|")  # type: ignore[assignment]
    async with serving(failing):
        reader, writer = await asyncio.open_connection("127.0.0.1", failing.port)
        writer.write(frame(raw))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed unanswered
        writer.close()
    assert [m.control_id for m in stored(kit)] == ["K1"]
    async with serving(rcb_listener(kit)) as mllp:
        (response,) = await exchange(mllp.port, frame(raw))
    assert [answer(str(m)) for m in hl7.parse_batch(response)] == [("AA", "K1"), ("AA", "K2")]
    assert [m.control_id for m in stored(kit)] == ["K1", "K2"]
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1  # K1's admission, once
