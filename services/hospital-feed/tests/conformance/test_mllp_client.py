"""Our MLLP listener as an MLLP client that is not ours sees it: python-hl7's asyncio streams
(`hl7.mllp.open_hl7_connection`) and its blocking `hl7.client.MLLPClient` push corpus
messages, and read back ACKs python-hl7 itself parses."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import hl7
import hl7.client
import hl7.mllp
import pytest

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.entrypoints.mllp import MllpListener

from ..support import FeedKit, feed_kit, stored
from .corpus import CORPUS
from .test_conformance import for_python_hl7

# Corpus messages from RCB in original acknowledgement mode (no MSH-15/16).
FROM_RCB = [
    s
    for s in CORPUS
    if s.name in ("itk_v24_a03_crlf", "escapes_delimiters", "z_segments_everywhere")
]


@pytest.fixture
async def listener(tmp_path: Path) -> AsyncIterator[tuple[FeedKit, MllpListener]]:
    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}")
    mllp = MllpListener(kit.runtime, "RCB", "127.0.0.1", 0)
    await mllp.start()
    try:
        yield kit, mllp
    finally:
        await mllp.stop()
        kit.dispose()


def msa(ack: hl7.Message) -> tuple[str, str]:
    segment = ack.segment("MSA")
    return str(segment[1]), str(segment[2])


async def test_python_hl7_streams_get_an_ack_for_each_message(
    listener: tuple[FeedKit, MllpListener],
) -> None:
    kit, mllp = listener
    rejected = (
        next(s for s in CORPUS if s.name == "itk_v24_a01")
        .text.replace("20261122100500+0000\rZPD", "2026-11-22\rZPD")
        .replace("|||AL|NE", "")  # original mode (AL/NE would get a CA only)
    )  # PV1-44 that is no timestamp: AE
    other_trust = next(s for s in CORPUS if s.name == "epic_a01").text  # MSH-4 RVJ: AR
    reader, writer = await hl7.mllp.open_hl7_connection("127.0.0.1", mllp.port, encoding="utf-8")
    answers = []
    try:
        for text in [*(s.text for s in FROM_RCB), rejected, other_trust]:
            writer.writemessage(hl7.parse(for_python_hl7(text)))
            await writer.drain()
            answers.append(await asyncio.wait_for(reader.readmessage(), 10))
    finally:
        writer.close()
        await writer.wait_closed()
    assert [msa(ack) for ack in answers] == [
        ("AA", "RCB0000099"),
        ("AA", "ESC\\T\\01"),  # MSH-10 echoed as sent: escaped
        ("AA", "Z-1"),
        ("AE", "RCB0000001"),
        ("AR", "894562"),
    ]
    # Each ACK is a well-formed answer python-hl7 reads: MSH-9, and ERR on the refusals.
    assert all(str(ack.segment("MSH")[9]).startswith("ACK") for ack in answers)
    assert str(answers[3].segment("ERR")[3]).startswith("102^PV1-44")
    assert str(answers[4].segment("ERR")[3]).startswith("204^")
    assert [m.status for m in stored(kit)] == ["accepted"] * 3 + ["rejected"] * 2
    assert [e.source_message_id for e in kit.published(HOSPITAL_ENCOUNTERS)] == [
        "RCB0000099",
        "ESC&01",
        "Z-1",
    ]


async def test_python_hl7_blocking_client_and_a_resend(
    listener: tuple[FeedKit, MllpListener],
) -> None:
    kit, mllp = listener
    text = for_python_hl7(FROM_RCB[0].text)

    def send_twice() -> list[bytes]:
        with hl7.client.MLLPClient("127.0.0.1", mllp.port) as client:
            return [client.send_message(text), client.send_message(text)]

    first, resent = await asyncio.to_thread(send_twice)
    for raw in (first, resent):
        assert raw.startswith(hl7.client.SB) and raw.endswith(hl7.client.EB + hl7.client.CR)
    acks = [hl7.parse(raw[1:-2].decode()) for raw in (first, resent)]
    assert [msa(ack) for ack in acks] == [("AA", "RCB0000099"), ("AA", "RCB0000099")]
    assert len(stored(kit)) == 1  # the resend is answered again, not stored again
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 1
