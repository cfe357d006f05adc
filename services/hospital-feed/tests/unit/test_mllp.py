import asyncio
import contextlib
import ipaddress
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from ensemble_contracts.topics import HOSPITAL_ENCOUNTERS
from ensemble_devkit.testkit import ServiceKit
from hospital_feed.entrypoints.mllp import (
    END,
    START,
    Frame,
    MllpDecoder,
    MllpListener,
    Oversized,
    frame,
    mllp_listeners,
)
from hospital_feed.service import DEFINITION

from ..samples import RCB_A01 as ITK_A01
from ..samples import adt
from ..support import FeedKit, feed_kit, msa, stored

# These tests are about framing, limits and TLS: in original mode (MSH-15/16 empty), one
# frame in, one ACK out. The ITK sample asks for enhanced mode (AL/NE): test_mllp_modes.py.
RCB_A01 = ITK_A01.replace("|||AL|NE", "")

LIMIT = 64 * 1024


@contextlib.asynccontextmanager
async def serving(mllp: MllpListener) -> AsyncIterator[MllpListener]:
    """`mllp` started for the length of the block, and stopped after it."""
    await mllp.start()
    try:
        yield mllp
    finally:
        await mllp.stop()


def rcb_listener(kit: FeedKit, **options: Any) -> MllpListener:
    return MllpListener(kit.runtime, "RCB", "127.0.0.1", 0, max_message_bytes=LIMIT, **options)


@pytest.fixture
async def listener(kit: FeedKit) -> AsyncIterator[MllpListener]:
    async with serving(rcb_listener(kit)) as mllp:
        yield mllp


async def read_ack(reader: asyncio.StreamReader) -> str:
    answer = await asyncio.wait_for(reader.readuntil(END), 10)
    assert answer.startswith(START)
    return answer[1 : -len(END)].decode()


async def exchange(port: int, *payloads: bytes, **connect: Any) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, **connect)
    answers = []
    try:
        for payload in payloads:
            writer.write(payload)
            await writer.drain()
            answers.append(await read_ack(reader))
    finally:
        writer.close()
        await writer.wait_closed()
    return answers


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True when the server closes: end of stream, a reset, or a TLS alert."""
    try:
        return await asyncio.wait_for(reader.read(), 10) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True


async def server_closes(port: int, data: bytes = b"") -> bool:
    """Whether the server closes a new plain TCP connection that sends `data` (maybe nothing)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    closed = await closed_by_server(reader)
    writer.close()
    return closed


async def test_framed_messages_get_framed_acks(kit: FeedKit, listener: MllpListener) -> None:
    second = adt("A03", control_id="C2", discharge_at="202611231000")
    first_ack, second_ack = await exchange(listener.port, frame(RCB_A01), b"\r\n" + frame(second))
    assert msa(first_ack) == "MSA|AA|RCB0000001|"
    assert msa(second_ack) == "MSA|AA|C2|"
    assert [m.sender for m in stored(kit)] == ["RCB", "RCB"]
    assert len(kit.published(HOSPITAL_ENCOUNTERS)) == 2


async def test_streamed_frames_are_answered_in_frame_order(kit: FeedKit) -> None:
    """A sender that streams without waiting gets every ACK, in the order it sent, through a
    window smaller than the stream (the listener stops reading while the window is full)."""
    control_ids = [f"S{n:03d}" for n in range(40)]
    stream = b"".join(frame(adt("A08", control_id=c)) for c in control_ids)
    async with serving(rcb_listener(kit, window=4)) as mllp:
        reader, writer = await asyncio.open_connection("127.0.0.1", mllp.port)
        writer.write(stream)
        await writer.drain()
        acks = [await read_ack(reader) for _ in control_ids]
        writer.close()
    assert [msa(ack) for ack in acks] == [f"MSA|AA|{c}|" for c in control_ids]
    assert sorted(m.control_id for m in stored(kit)) == control_ids


async def test_acks_owed_are_sent_after_the_sender_stops_sending(kit: FeedKit) -> None:
    control_ids = [f"H{n:02d}" for n in range(8)]
    async with serving(rcb_listener(kit)) as mllp:
        reader, writer = await asyncio.open_connection("127.0.0.1", mllp.port)
        writer.write(b"".join(frame(adt("A08", control_id=c)) for c in control_ids))
        writer.write_eof()  # half-close: nothing more will come
        acks = [await read_ack(reader) for _ in control_ids]
        writer.close()
    assert [msa(ack) for ack in acks] == [f"MSA|AA|{c}|" for c in control_ids]


class SlowStore:
    """The runtime, answering every command only after `delay` seconds."""

    def __init__(self, runtime: Any, delay: float) -> None:
        self._runtime, self._delay = runtime, delay

    async def execute(self, command: Any, **options: Any) -> Any:
        await asyncio.sleep(self._delay)
        return await self._runtime.execute(command, **options)


async def test_an_owed_ack_is_sent_however_long_the_store_takes(kit: FeedKit) -> None:
    """The sender half-closes at once; the commit takes longer than the read timeout."""
    mllp = rcb_listener(kit, read_timeout=0.2, idle_timeout=0.2)
    mllp.runtime = SlowStore(kit.runtime, delay=1.0)  # type: ignore[assignment]
    async with serving(mllp):
        reader, writer = await asyncio.open_connection("127.0.0.1", mllp.port)
        writer.write(frame(adt("A08", control_id="SLOW1")))
        writer.write_eof()
        ack = await read_ack(reader)
        writer.close()
    assert msa(ack) == "MSA|AA|SLOW1|"


async def test_a_listener_accepts_only_its_own_trust(kit: FeedKit, listener: MllpListener) -> None:
    (ack,) = await exchange(listener.port, frame(adt(facility="RVJ")))
    assert msa(ack).startswith("MSA|AR|CTRL-0001|")
    assert kit.published_topics() == set()


def test_listeners_come_from_settings(tmp_path: Path) -> None:
    assert mllp_listeners in DEFINITION.components  # started after the store and relay
    configured = feed_kit(f"sqlite:///{tmp_path / 'a.db'}", mllp_listeners='{"rcb": 0, "RVJ": 0}')
    assert [listener.sender for listener in mllp_listeners(configured.runtime)] == ["RCB", "RVJ"]
    configured.dispose()
    unconfigured = ServiceKit(DEFINITION, f"sqlite:///{tmp_path / 'b.db'}")  # all defaults
    assert mllp_listeners(unconfigured.runtime) == []
    unconfigured.dispose()


# --- framing ---------------------------------------------------------------------------------


def test_the_decoder_finds_frames_however_the_bytes_arrive() -> None:
    decoder = MllpDecoder(LIMIT)
    stream = b"noise" + frame("A") + b"\r\n" + START + b"junk" + frame("B\x1cC") + frame("D")
    found: list[Frame | Oversized] = []
    for byte in stream:  # one byte at a time: end blocks straddle every read
        found += decoder.feed(bytes([byte]))
    assert found == [Frame(b"A"), Frame(b"B\x1cC"), Frame(b"D")]  # a lone 0x1C is content
    assert decoder.feed(stream) == found
    assert not decoder.in_frame


def test_the_decoder_skips_an_oversize_frame_and_keeps_its_head() -> None:
    decoder = MllpDecoder(100)
    big = b"MSH|^~\\&|PAS|RCB|E|E|2026||ADT^A01|BIG1|P|2.4\r" + b"x" * 500
    found = []
    for start in range(0, len(big), 64):
        found += decoder.feed((START if start == 0 else b"") + big[start : start + 64])
        assert len(decoder._buffer) <= 100 + 64  # bounded while discarding
    found += decoder.feed(END + frame("next"))
    oversized, following = found
    assert isinstance(oversized, Oversized) and oversized.size == len(big)
    assert big.startswith(oversized.head) and b"|BIG1|" in oversized.head  # enough to answer
    assert following == Frame(b"next")
    assert decoder.feed(START + b"y" * 101 + END) == [Oversized(b"y" * 101, 101)]


async def test_an_oversize_frame_gets_a_framed_ar_and_the_connection_stays_usable(
    kit: FeedKit, listener: MllpListener
) -> None:
    oversize = adt(control_id="BIG1") + "ZZZ|" + "x" * (LIMIT + 10) + "\r"
    with capture_logs() as logs:
        too_large, after = await exchange(
            listener.port, frame(oversize), frame(adt(control_id="AFTER"))
        )
    assert msa(too_large) == f"MSA|AR|BIG1|message larger than {LIMIT} bytes"
    assert "\rERR|||102^" in too_large
    assert msa(after) == "MSA|AA|AFTER|"
    assert [m.control_id for m in stored(kit)] == ["BIG1", "AFTER"]  # its start kept, rejected
    (warning,) = [entry for entry in logs if entry["event"].startswith("mllp message too large")]
    assert warning["size"] == len(oversize.encode())
    assert "9990000018" not in repr(logs)


async def test_acks_never_echo_framing_bytes(kit: FeedKit, listener: MllpListener) -> None:
    (ack,) = await exchange(listener.port, frame(adt(control_id="C\x1c7")))
    assert msa(ack).startswith("MSA|AA|C7|")
    assert "\x1c" not in ack and "\x0b" not in ack
    assert stored(kit)[0].control_id == "C7"


# --- connections: allow-list, cap, timeouts --------------------------------------------------


async def test_an_address_outside_the_allow_list_is_closed_at_accept(kit: FeedKit) -> None:
    elsewhere = rcb_listener(kit, allowed_networks=(ipaddress.ip_network("10.0.0.0/8"),))
    async with serving(elsewhere) as mllp:
        with capture_logs() as logs:
            assert await server_closes(mllp.port, frame(RCB_A01))
        (refusal,) = [entry for entry in logs if entry["event"] == "mllp connection refused"]
        assert (refusal["address"], refusal["reason"]) == ("127.0.0.1", "address not allowed")
        assert stored(kit) == []
    local = rcb_listener(kit, allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    async with serving(local) as allowed:
        (ack,) = await exchange(allowed.port, frame(RCB_A01))
        assert msa(ack) == "MSA|AA|RCB0000001|"


async def test_connections_over_the_cap_are_closed_at_once(kit: FeedKit) -> None:
    async with serving(rcb_listener(kit, max_connections=1)) as mllp:
        first_reader, first = await asyncio.open_connection("127.0.0.1", mllp.port)
        first.write(frame(adt(control_id="FIRST")))
        assert msa(await read_ack(first_reader)) == "MSA|AA|FIRST|"
        with capture_logs() as logs:
            assert await server_closes(mllp.port)
        assert [e["reason"] for e in logs if e["event"] == "mllp connection refused"] == [
            "too many connections"
        ]
        first.write(frame(adt(control_id="STILL", visit="V2")))  # the first one still works
        assert msa(await read_ack(first_reader)) == "MSA|AA|STILL|"
        first.close()
        await first.wait_closed()
        for _ in range(100):  # its slot is free once the server has seen it go
            if mllp.connections == 0:
                break
            await asyncio.sleep(0.02)
        (ack,) = await exchange(mllp.port, frame(adt(control_id="NEXT", visit="V3")))
        assert msa(ack) == "MSA|AA|NEXT|"


async def test_an_idle_connection_is_closed(kit: FeedKit) -> None:
    async with serving(rcb_listener(kit, idle_timeout=0.2)) as mllp:
        reader, writer = await asyncio.open_connection("127.0.0.1", mllp.port)
        writer.write(frame(RCB_A01) + b"line noise does not keep it open")
        assert msa(await read_ack(reader)) == "MSA|AA|RCB0000001|"
        assert await closed_by_server(reader)
        writer.close()


async def test_a_frame_that_never_ends_is_closed_after_the_read_timeout(kit: FeedKit) -> None:
    async with serving(rcb_listener(kit, read_timeout=0.2)) as mllp:
        with capture_logs() as logs:
            assert await server_closes(mllp.port, START + RCB_A01.encode())  # no end block
        assert {"event": "mllp connection closed", "reason": "read timeout"}.items() <= (
            next(e for e in logs if e["event"] == "mllp connection closed").items()
        )
        assert stored(kit) == []


# --- TLS ---------------------------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def signed(directory: Path, name: str, usage: str) -> None:
    """`name`.key and `name`.pem, signed by ca.pem, valid for localhost and 127.0.0.1."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(
        "req",
        *key,
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.csr",
        "-subj",
        f"/CN={name}",
        cwd=directory,
    )
    (directory / f"{name}.ext").write_text(
        f"subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage={usage}\n"
    )
    openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        f"{name}.ext",
        "-out",
        f"{name}.pem",
        cwd=directory,
    )


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A test CA, a server certificate and a client certificate, made with openssl."""
    directory = tmp_path_factory.mktemp("tls")
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )
    signed(directory, "server", "serverAuth")
    signed(directory, "client", "clientAuth")
    yield directory


@contextlib.asynccontextmanager
async def tls_listener(
    tmp_path: Path, certificates: Path, **settings: Any
) -> AsyncIterator[tuple[FeedKit, MllpListener]]:
    """hospital-feed with a server certificate, serving its one listener (TLS from the settings)."""
    kit = feed_kit(
        f"sqlite:///{tmp_path / 'tls.db'}",
        mllp_listeners='{"RCB": 0}',
        mllp_tls_cert_file=str(certificates / "server.pem"),
        mllp_tls_key_file=str(certificates / "server.key"),
        **settings,
    )
    try:
        (mllp,) = mllp_listeners(kit.runtime)
        mllp.host, mllp.port = "127.0.0.1", 0
        async with serving(mllp):
            yield kit, mllp
    finally:
        kit.dispose()


def client_context(certificates: Path, with_certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    if with_certificate:
        context.load_cert_chain(certificates / "client.pem", certificates / "client.key")
    return context


async def test_mllp_over_tls(tmp_path: Path, certificates: Path) -> None:
    async with tls_listener(tmp_path, certificates) as (kit, mllp):
        tls = {"ssl": client_context(certificates, False), "server_hostname": "localhost"}
        (ack,) = await exchange(mllp.port, frame(RCB_A01), **tls)
        assert msa(ack) == "MSA|AA|RCB0000001|"
        with capture_logs() as logs:  # plain TCP to a TLS listener: refused, nothing stored
            assert await server_closes(mllp.port, frame(adt(control_id="PLAIN")))
        assert any(e["event"] == "mllp tls handshake failed" for e in logs)
        assert [m.control_id for m in stored(kit)] == ["RCB0000001"]


async def test_mutual_tls_refuses_a_sender_without_a_client_certificate(
    tmp_path: Path, certificates: Path
) -> None:
    async with tls_listener(
        tmp_path,
        certificates,
        mllp_tls_client_ca_file=str(certificates / "ca.pem"),
        mllp_tls_require_client_cert=True,
    ) as (kit, mllp):
        anonymous = client_context(certificates, with_certificate=False)
        with capture_logs() as logs:
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", mllp.port, ssl=anonymous, server_hostname="localhost"
                )
            except (ssl.SSLError, ConnectionError):
                pass  # refused during the handshake (TLS 1.2)
            else:  # TLS 1.3: the client finishes first, then the server's alert arrives
                writer.write(frame(RCB_A01))
                assert await closed_by_server(reader)
                writer.close()
            for _ in range(100):
                if any(e["event"] == "mllp tls handshake failed" for e in logs):
                    break
                await asyncio.sleep(0.02)
        assert any(e["event"] == "mllp tls handshake failed" for e in logs)
        assert stored(kit) == []

        known = client_context(certificates, with_certificate=True)
        tls = {"ssl": known, "server_hostname": "localhost"}
        (ack,) = await exchange(mllp.port, frame(RCB_A01), **tls)
        assert msa(ack) == "MSA|AA|RCB0000001|"


def test_mllp_settings_are_checked_at_start(tmp_path: Path, certificates: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    cert, key = str(certificates / "server.pem"), str(certificates / "server.key")
    wrong: list[dict[str, Any]] = [
        {"mllp_tls_cert_file": cert},  # no key
        {"mllp_tls_require_client_cert": True},  # no TLS
        {
            "mllp_tls_cert_file": cert,
            "mllp_tls_key_file": key,
            "mllp_tls_require_client_cert": True,
        },  # no client CA
        {"mllp_tls_cert_file": str(tmp_path / "missing.pem"), "mllp_tls_key_file": key},
        {"mllp_allowed_networks": '{"RCB": ["not a network"]}'},
        {"mllp_allowed_networks": '{"RCB": []}'},
        {"mllp_read_timeout_seconds": 0},
        {"mllp_max_connections": 0},
    ]
    for settings in wrong:
        kit = feed_kit(url, mllp_listeners='{"RCB": 0}', **settings)
        with pytest.raises(ValueError, match="HOSPITAL_FEED_MLLP"):
            mllp_listeners(kit.runtime)
        kit.dispose()
    kit = feed_kit(
        url,
        mllp_listeners='{"RCB": 0, "RVJ": 0}',
        mllp_allowed_networks='{"RCB": ["10.1.0.0/16"], "*": ["192.168.0.0/24", "::1"]}',
        mllp_idle_timeout_seconds=60,
        mllp_max_connections=3,
    )
    rcb, rvj = mllp_listeners(kit.runtime)
    assert rcb.allowed_networks == (ipaddress.ip_network("10.1.0.0/16"),)
    assert rvj.allowed_networks == (
        ipaddress.ip_network("192.168.0.0/24"),
        ipaddress.ip_network("::1/128"),
    )
    assert (rcb.idle_timeout, rcb.read_timeout, rcb.max_connections) == (60, 30, 3)
    assert rcb.ssl_context is None
    kit.dispose()
