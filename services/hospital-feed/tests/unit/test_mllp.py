import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hospital_feed.bootstrap import Service, bootstrap
from hospital_feed.config import Settings
from hospital_feed.entrypoints.mllp import END, START, MllpListener, frame

from ..samples import RCB_A01, adt
from ..support import TOKENS, msa, published, stored


@pytest.fixture
async def listener(service: Service) -> AsyncIterator[MllpListener]:
    mllp = MllpListener(service.runtime, "RCB", "127.0.0.1", 0, max_message_bytes=64 * 1024)
    await mllp.start()
    yield mllp
    await mllp.stop()


async def exchange(port: int, *payloads: bytes) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    try:
        for payload in payloads:
            writer.write(payload)
            await writer.drain()
            answer = await asyncio.wait_for(reader.readuntil(END), 10)
            assert answer.startswith(START)
            answers.append(answer[1 : -len(END)].decode())
    finally:
        writer.close()
        await writer.wait_closed()
    return answers


async def test_framed_messages_get_framed_acks(service: Service, listener: MllpListener) -> None:
    second = adt("A03", control_id="C2", discharge_at="202611231000")
    first_ack, second_ack = await exchange(listener.port, frame(RCB_A01), b"\r\n" + frame(second))
    assert msa(first_ack) == "MSA|AA|RCB0000001|"
    assert msa(second_ack) == "MSA|AA|C2|"
    assert [m.sender for m in stored(service.engine)] == ["RCB", "RCB"]
    assert len(published(service.engine)) == 2


async def test_a_listener_accepts_only_its_own_trust(
    service: Service, listener: MllpListener
) -> None:
    (ack,) = await exchange(listener.port, frame(adt(facility="RVJ")))
    assert msa(ack).startswith("MSA|AR|CTRL-0001|")
    assert published(service.engine) == []


async def test_an_oversized_frame_closes_the_connection(
    service: Service, listener: MllpListener
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(START + b"x" * (128 * 1024))
    await writer.drain()
    # Closed without an ACK; with unread bytes pending the kernel may send a reset instead.
    with contextlib.suppress(ConnectionResetError):
        assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
    assert stored(service.engine) == []


def test_listeners_come_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'feed.db'}",
        mllp_listeners='{"rcb": 0, "RVJ": 0}',
        **TOKENS,
    )
    service = bootstrap(settings)
    assert [listener.sender for listener in service.mllp] == ["RCB", "RVJ"]
    assert bootstrap(Settings(database_url=settings.database_url)).mllp == []
