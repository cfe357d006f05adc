"""Issue 10 "Bad input" over one valid MLLP connection: each message gets a well-formed ACK
(python-hl7 reads it) and is stored, broken framing closes the connection, the listener
keeps answering, and no NHS number reaches a log line or an ACK."""

import asyncio

import hl7
import pytest
from structlog.testing import capture_logs

from hospital_feed.domain.stored_text import restored
from hospital_feed.entrypoints.mllp import END, START, MllpListener, frame
from hospital_feed.service_layer import handlers
from hospital_feed.service_layer.commands import ReprocessMessage

from ..samples import adt
from ..support import FeedKit, stored
from .test_ack_modes import with_modes
from .test_mllp import closed_by_server, exchange, serving

NHS = "9990000018"  # in every sample's PID-3
TEN_MIB = 10 * 1024 * 1024


def listener_for(kit: FeedKit) -> MllpListener:
    """RCB's listener with the default 1 MiB frame limit and short timeouts."""
    return MllpListener(kit.runtime, "RCB", "127.0.0.1", 0, read_timeout=0.5, idle_timeout=5)


def well_formed(ack: str) -> tuple[str, str]:
    """(MSA-1, MSA-2) as python-hl7 reads them, after checking the ACK's shape."""
    parsed = hl7.parse(ack)
    assert str(parsed.segment("MSH")[9]).startswith("ACK")
    assert START.decode() not in ack and "\x1c" not in ack and "\x00" not in ack
    msa = parsed.segment("MSA")
    if str(msa[1]) != "AA":
        assert parsed.segment("ERR")  # a refusal says why
    return str(msa[1]), str(msa[2])


def thousands_of_segments() -> str:
    return adt(control_id="MANY").rstrip("\r") + "\r" + "ZXX|1\r" * 5000


# (what was sent, as bytes) -> (MSA-1, MSA-2, stored status)
CASES = {
    "nul byte": (adt(control_id="NUL1", location="WARD\x007").encode(), ("AE", "NUL1", "rejected")),
    "latin-1": (
        adt(control_id="LAT1", location="SALLE É").encode("latin-1"),
        ("AA", "LAT1", "accepted"),
    ),
    "invalid utf-8": (
        adt(control_id="BAD8").encode() + b"ZXX|\xff\xfe\xc3\r",
        ("AA", "BAD8", "accepted"),
    ),
    "thousands of segments": (thousands_of_segments().encode(), ("AR", "MANY", "rejected")),
    "unknown trigger": (adt("A99", control_id="UNK1").encode(), None),
    "not a trigger at all": (adt("Q!", control_id="UNK2").encode(), None),
    "another sender's msh-4": (
        adt(facility="RVJ", control_id="RVJ1").encode(),
        ("AR", "RVJ1", "rejected"),
    ),
    "truncated content": (b"MSH|^~\\&|PAS|RC", ("AR", "", "rejected")),
    "enhanced mode and a nul": (
        with_modes(adt(control_id="NUL2", location="W\x00"), "NE", "AL").encode(),
        ("AE", "NUL2", "rejected"),
    ),
}


@pytest.mark.parametrize("case", CASES)
async def test_bad_input_gets_a_well_formed_answer_and_is_kept(kit: FeedKit, case: str) -> None:
    payload, expected = CASES[case]
    async with serving(listener_for(kit)) as mllp:
        with capture_logs() as logs:
            ack, after = await exchange(
                mllp.port, frame_bytes(payload), frame(adt("A08", control_id="NEXT"))
            )
    code, control_id = well_formed(ack)
    assert well_formed(after) == ("AA", "NEXT")  # the connection is still good
    (message, _next) = stored(kit)
    if expected is None:  # a trigger we do not know: answered by the trigger rules, kept
        assert control_id == message.control_id
        assert message.status == {"AA": "accepted", "AE": "rejected", "AR": "rejected"}[code]
    else:
        assert (code, control_id, message.status) == expected
    kept = restored(message.raw, message.raw_escaped)
    assert kept.encode(message.raw_charset) == payload  # as sent, byte for byte
    assert NHS not in ack and NHS not in repr(logs)


def frame_bytes(payload: bytes) -> bytes:
    return START + payload + END


async def test_a_ten_mebibyte_message_is_refused_ar_and_the_connection_stays(kit: FeedKit) -> None:
    huge = adt(control_id="HUGE").encode() + b"ZXX|" + b"x" * TEN_MIB + b"\r"
    async with serving(listener_for(kit)) as mllp:
        with capture_logs() as logs:
            ack, after = await exchange(
                mllp.port, frame_bytes(huge), frame(adt("A08", control_id="NEXT"))
            )
    assert well_formed(ack) == ("AR", "HUGE")
    assert "message larger than 1048576 bytes" in ack
    assert well_formed(after) == ("AA", "NEXT")
    # Its start is kept (the listener never holds the whole frame), rejected and marked
    # truncated, so staff see it and it is never rerun as a shorter message.
    huge_row, next_row = stored(kit)
    assert (huge_row.control_id, next_row.control_id) == ("HUGE", "NEXT")
    assert (huge_row.status, huge_row.ack_code, huge_row.content_format) == (
        "rejected",
        "AR",
        "hl7v2-truncated",
    )
    assert huge.startswith(restored(huge_row.raw, huge_row.raw_escaped).encode())
    with pytest.raises(handlers.NotReprocessable, match="resubmit"):
        kit.execute(ReprocessMessage(huge_row.id or 0))
    assert NHS not in repr(logs)


async def test_a_truncated_frame_closes_the_connection_and_keeps_nothing(kit: FeedKit) -> None:
    async with serving(listener_for(kit)) as mllp:
        with capture_logs() as logs:
            assert await closed_by_server_after(
                mllp.port, START + adt(control_id="CUT").encode()[:80]
            )
        # A frame cut off by a new start block is noise: only the whole frame after it counts.
        cut = START + adt(control_id="CUT").encode()[:80]
        (ack,) = await exchange(mllp.port, cut + frame(adt("A08", control_id="WHOLE")))
    assert well_formed(ack) == ("AA", "WHOLE")
    assert [m.control_id for m in stored(kit)] == ["WHOLE"]
    assert NHS not in repr(logs)


async def closed_by_server_after(port: int, payload: bytes) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await closed_by_server(reader)
    finally:
        writer.close()
