"""python-hl7's blocking `hl7.client.MLLPClient`, a client that is not ours, against the real
listener on the real store (SQLite and PostgreSQL): original mode, enhanced mode (the
MSH-15/16 combinations engines send) and a batch file, each answer parsed by python-hl7."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import hl7
import hl7.client
import pytest
from sqlmodel import Session, col, select

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from hospital_feed.adapters.orm import Hl7Message
from hospital_feed.entrypoints.mllp import MllpListener

from ..samples import RCB_A01, adt
from ..support import FeedKit, feed_kit, stored

T = TypeVar("T")
END = hl7.client.EB + hl7.client.CR


def with_modes(raw: str, accept: str, application: str) -> str:
    msh, rest = raw.split("\r", 1)
    return f"{msh}|||{accept}|{application}\r{rest}"


class Conversation:
    """One MLLPClient connection, and the ACK frames it has read so far."""

    def __init__(self, client: hl7.client.MLLPClient) -> None:
        self.client = client
        self.client.socket.settimeout(20)  # a missing answer fails the test, never hangs it
        self.buffer = b""

    def send(self, *messages: str) -> None:
        """The messages framed in one write (MLLPClient.send waits for the first answer)."""
        wrapped = b"".join(hl7.client.SB + m.encode() + END for m in messages)
        self.buffer += self.client.send(wrapped)

    def take(self, count: int) -> list[hl7.Message]:
        """The next `count` frames, each an ACK python-hl7 parses."""
        while self.buffer.count(END) < count:
            chunk = self.client.socket.recv(4096)
            assert chunk, "the listener closed the connection"
            self.buffer += chunk
        frames = []
        for _ in range(count):
            payload, self.buffer = self.buffer.split(END, 1)
            assert payload.startswith(hl7.client.SB)
            frames.append(payload[1:].decode())
        return [hl7.parse(text) for text in frames]


def msa(ack: hl7.Message) -> tuple[str, str]:
    segment = ack.segment("MSA")
    return str(segment[1]), str(segment[2])


@pytest.fixture
async def listener(database_url: str) -> AsyncIterator[tuple[FeedKit, MllpListener]]:
    kit = feed_kit(database_url)
    mllp = MllpListener(kit.runtime, "RCB", "127.0.0.1", 0)
    await mllp.start()
    try:
        yield kit, mllp
    finally:
        await mllp.stop()
        kit.dispose()


async def talk(mllp: MllpListener, script: Callable[[Conversation], T]) -> T:
    def run() -> T:
        with hl7.client.MLLPClient("127.0.0.1", mllp.port) as client:
            return script(Conversation(client))

    return await asyncio.to_thread(run)


async def test_original_and_enhanced_mode_on_one_connection(
    listener: tuple[FeedKit, MllpListener],
) -> None:
    kit, mllp = listener

    def script(talk: Conversation) -> list[list[tuple[str, str]]]:
        answers = []
        talk.send(adt(control_id="ORIG"))  # MSH-15/16 empty: original mode
        answers.append([msa(a) for a in talk.take(1)])
        talk.send(with_modes(adt("A08", control_id="ALAL"), "AL", "AL"))
        answers.append([msa(a) for a in talk.take(2)])
        talk.send(RCB_A01.replace("RCB0000001", "ITK1"))  # AL/NE, the ITK profile
        answers.append([msa(a) for a in talk.take(1)])
        talk.send(with_modes(adt(control_id="ERAE", admit_at="bad"), "ER", "ER"))
        answers.append([msa(a) for a in talk.take(1)])
        talk.send(
            with_modes(adt(control_id="SUAR", facility="RVJ"), "SU", "SU"),
            adt("A08", control_id="NEXT1"),
        )
        answers.append([msa(a) for a in talk.take(1)])  # nothing for SUAR: SU, and it failed
        talk.send(
            with_modes(adt("A08", control_id="ERAA"), "ER", "ER"), adt("A08", control_id="NEXT2")
        )
        answers.append([msa(a) for a in talk.take(1)])  # nothing for ERAA: ER, and it passed
        talk.send(
            with_modes(adt("A08", control_id="NENE"), "NE", "NE"), adt("A08", control_id="NEXT3")
        )
        answers.append([msa(a) for a in talk.take(1)])
        talk.send(with_modes(adt("A08", control_id="NEAL"), "NE", "AL"))
        answers.append([msa(a) for a in talk.take(1)])
        return answers

    assert await talk(mllp, script) == [
        [("AA", "ORIG")],
        [("CA", "ALAL"), ("AA", "ALAL")],
        [("CA", "ITK1")],
        [("AE", "ERAE")],
        [("AA", "NEXT1")],
        [("AA", "NEXT2")],
        [("AA", "NEXT3")],
        [("AA", "NEAL")],
    ]
    statuses = {m.control_id: m.status for m in stored(kit)}
    assert statuses == {
        "ORIG": "accepted",
        "ALAL": "accepted",
        "ITK1": "accepted",
        "ERAE": "rejected",
        "SUAR": "rejected",
        "NEXT1": "accepted",
        "ERAA": "accepted",
        "NEXT2": "accepted",
        "NENE": "accepted",
        "NEXT3": "accepted",
        "NEAL": "accepted",
    }


async def test_enhanced_acks_are_well_formed_and_a_resend_gets_the_same(
    listener: tuple[FeedKit, MllpListener],
) -> None:
    kit, mllp = listener
    raw = with_modes(adt(control_id="RE1", admit_at="bad"), "AL", "AL")

    def script(talk: Conversation) -> list[hl7.Message]:
        talk.send(raw)
        first = talk.take(2)
        talk.send(raw)
        return [*first, *talk.take(2)]

    accept, application, accept_again, application_again = await talk(mllp, script)
    assert [msa(a) for a in (accept, application)] == [("CA", "RE1"), ("AE", "RE1")]
    assert [msa(a) for a in (accept_again, application_again)] == [("CA", "RE1"), ("AE", "RE1")]
    for ack in (accept, application):
        header = ack.segment("MSH")
        assert str(header[9]).startswith("ACK") and (str(header[15]), str(header[16])) == (
            "NE",
            "NE",
        )
    assert str(accept.segment("MSH")[10]) != str(application.segment("MSH")[10])
    assert str(application.segment("ERR")[3]).startswith("102^PV1-44")
    assert [m.control_id for m in stored(kit)] == ["RE1"]  # the resend was not stored again


async def test_a_batch_file_is_split_stored_and_answered_per_message(
    listener: tuple[FeedKit, MllpListener],
) -> None:
    kit, mllp = listener
    messages = [
        adt(control_id="F1"),
        adt("A03", control_id="F2", discharge_at="202611231000"),
        adt(control_id="F3", admit_at="bad"),
    ]
    batch = "\r".join(
        [
            "FHS|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261122||||FILE-9",
            "BHS|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261122||||BATCH-9",
            *(m.rstrip("\r") for m in messages),
            "BTS|4",  # one short: said in the answer, the three that came are kept
            "FTS|1",
        ]
    )

    def script(talk: Conversation) -> str:
        talk.send(batch)
        while not talk.buffer.endswith(END):
            talk.buffer += talk.client.socket.recv(4096)
        return talk.buffer[1 : -len(END)].decode()

    response = await talk(mllp, script)
    parsed = hl7.parse_file(response)
    (answers,) = list(parsed)
    assert [msa(m) for m in answers] == [("AA", "F1"), ("AA", "F2"), ("AE", "F3")]
    assert str(parsed.header[12]) == "FILE-9" and str(answers.header[12]) == "BATCH-9"
    assert str(answers.header[10]) == "BTS-1 says 4 message(s), the batch holds 3"
    assert str(answers.trailer[1]) == "3"

    def rows(session: Session) -> list[tuple[str, str, bool]]:
        query = select(Hl7Message).order_by(col(Hl7Message.id))
        return [(m.control_id, m.status, m.raw.startswith("MSH|")) for m in session.exec(query)]

    assert kit.read(rows) == [
        ("F1", "accepted", True),
        ("F2", "accepted", True),
        ("F3", "rejected", True),
    ]
    assert [e.source_message_id for e in kit.published(HOSPITAL_ENCOUNTERS)] == ["F1", "F2"]
