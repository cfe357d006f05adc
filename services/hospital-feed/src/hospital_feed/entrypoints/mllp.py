"""MLLP over TCP (optionally TLS), as trust integration engines send ADT:
`0x0B` message `0x1C 0x0D`.

One listener per sending trust: the port identifies the sender (there is no token in MLLP),
so a listener accepts only messages whose MSH-4 is its configured ODS code. Each message is
answered with its ACK, framed the same way, after the same handler as HTTP has committed.

A connection is refused at accept (closed, logged by address only) when its address is not
in the trust's allow-list or the listener already has its maximum of connections. With TLS,
the handshake follows those checks; with mutual TLS a sender without a certificate signed by
the client CA is refused. A frame must be complete within the read timeout of its first
byte, and a connection with no frame in progress is closed after the idle timeout. A frame
larger than the maximum is read to its end block without being kept and answered AR; the
connection stays usable.
"""

import asyncio
import contextlib
import ipaddress
import ssl
import time
from dataclasses import dataclass
from typing import Any

import structlog

from ensemble_runtime.service import ServiceRuntime
from hospital_feed.config import MllpPolicy, Network, Settings
from hospital_feed.domain.ack import build_ack
from hospital_feed.domain.hl7_message import Header, Hl7Error, decode_body, parse_header
from hospital_feed.service_layer.commands import ReceiveHl7

START = b"\x0b"
END = b"\x1c\r"
CHUNK = 64 * 1024
HEAD = 4096  # what is kept of an oversize frame: enough for its MSH, to answer it
log = structlog.get_logger(__name__)


def frame(message: str) -> bytes:
    return START + message.encode("utf-8") + END


@dataclass(frozen=True)
class Frame:
    """A complete frame's content (between the start and end blocks)."""

    payload: bytes


@dataclass(frozen=True)
class Oversized:
    """A frame over the limit, read to its end: its first bytes and its full size."""

    head: bytes
    size: int


class MllpDecoder:
    """Splits a byte stream into frames, holding at most `max_bytes` (+ one chunk).

    Bytes outside a frame are line noise and dropped. A start block inside a frame starts it
    again (what came before was noise). A lone 0x1C is content; only 0x1C 0x0D ends a frame.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self._oversize = 0  # > 0: discarding an oversize frame, this many bytes so far
        self._head = b""

    @property
    def in_frame(self) -> bool:
        return self._in_frame

    def feed(self, data: bytes) -> list[Frame | Oversized]:
        found: list[Frame | Oversized] = []
        view = bytes(data)
        while view:
            if not self._in_frame:
                start = view.find(START)
                if start < 0:
                    return found
                self._in_frame, self._oversize = True, 0
                self._buffer.clear()
                view = view[start + 1 :]
                continue
            if self._oversize:
                view = self._discard(view, found)
                continue
            scan_from = max(0, len(self._buffer) - 1)  # an end block may straddle two reads
            self._buffer += view
            view = b""
            end = self._buffer.find(END, scan_from)
            if end >= 0:
                view = bytes(self._buffer[end + len(END) :])
                payload = bytes(self._buffer[:end])
                payload = payload[payload.rfind(START) + 1 :]  # after a restart, if any
                self._buffer.clear()
                self._in_frame = False
                if len(payload) > self.max_bytes:
                    found.append(Oversized(payload[:HEAD], len(payload)))
                else:
                    found.append(Frame(payload))
                continue
            restart = self._buffer.rfind(START, scan_from)
            if restart >= 0:  # a new start block: what came before it was noise
                del self._buffer[: restart + 1]
            if len(self._buffer) > self.max_bytes:
                self._head = bytes(self._buffer[:HEAD])
                self._oversize = len(self._buffer)
                # keep the last byte: it may be the 0x1C of an end block
                del self._buffer[:-1]
        return found

    def _discard(self, view: bytes, found: list[Frame | Oversized]) -> bytes:
        """Drop bytes of an oversize frame up to its end block; returns what follows it."""
        carried = bytes(self._buffer[-1:])  # counted already
        joined = carried + view
        end = joined.find(END)
        if end < 0:
            self._oversize += len(view)
            self._buffer[:] = joined[-1:]
            return b""
        self._oversize += end - len(carried)
        found.append(Oversized(self._head, self._oversize))
        self._buffer.clear()
        self._in_frame, self._oversize, self._head = False, 0, b""
        return joined[end + len(END) :]


def _address(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


def _allowed(address: str, networks: tuple[Network, ...] | None) -> bool:
    if networks is None:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


class MllpListener:
    def __init__(
        self,
        runtime: ServiceRuntime[Any, Any],
        sender: str,
        host: str,
        port: int,
        max_message_bytes: int = 1024 * 1024,
        *,
        ssl_context: ssl.SSLContext | None = None,
        allowed_networks: tuple[Network, ...] | None = None,
        read_timeout: float = 30.0,
        idle_timeout: float = 300.0,
        max_connections: int = 10,
        window: int = 32,
    ) -> None:
        self.runtime = runtime
        self.window = window  # frames read ahead of their ACKs, per connection
        self.sender = sender
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
        self.ssl_context = ssl_context
        self.allowed_networks = allowed_networks
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.connections = 0  # open and accepted
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]  # the real one when 0 was asked
        log.info(
            "mllp listener started",
            sender=self.sender,
            port=self.port,
            tls=self.ssl_context is not None,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = _address(writer)
        try:
            if reason := self._refusal(address):
                log.warning(
                    "mllp connection refused", sender=self.sender, address=address, reason=reason
                )
                return
            self.connections += 1
            try:
                if self.ssl_context is not None and not await self._start_tls(writer, address):
                    return
                await self._converse(reader, writer, address)
            finally:
                self.connections -= 1
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 5)

    def _refusal(self, address: str) -> str | None:
        """Why a new connection from `address` is turned away at once, if it is."""
        if not _allowed(address, self.allowed_networks):
            return "address not allowed"
        if self.connections >= self.max_connections:
            return "too many connections"
        return None

    async def _start_tls(self, writer: asyncio.StreamWriter, address: str) -> bool:
        assert self.ssl_context is not None
        try:
            await writer.start_tls(self.ssl_context, ssl_handshake_timeout=self.read_timeout)
        except (OSError, TimeoutError) as error:  # ssl.SSLError is an OSError
            log.warning(
                "mllp tls handshake failed",
                sender=self.sender,
                address=address,
                error=type(error).__name__,
            )
            return False
        return True

    async def _converse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: str
    ) -> None:
        """Read frames ahead of their ACKs, up to `window` at a time: each is handled as soon
        as it is read (so frames of one connection share group commits), and a writer task
        sends the ACKs in frame order. A full window stops reading: that is backpressure on
        the sender, by TCP. A sender that waits for each ACK sees no difference."""
        answers: asyncio.Queue[asyncio.Future[str | None]] = asyncio.Queue(self.window)
        writing = asyncio.create_task(self._write_acks(answers, writer, address))
        tasks = [writing]
        try:
            await self._read_frames(reader, answers, writing, address)
            # The sender stopped sending (or timed out): the ACKs it is owed still go out, as
            # each commits, however long the store takes (a write that stalls ends the writer).
            tasks.append(asyncio.create_task(answers.join()))
            await asyncio.wait(tasks, return_when="FIRST_COMPLETED")
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _read_frames(
        self,
        reader: asyncio.StreamReader,
        answers: "asyncio.Queue[asyncio.Future[str | None]]",
        writing: "asyncio.Task[None]",
        address: str,
    ) -> None:
        decoder = MllpDecoder(self.max_message_bytes)
        deadline: float | None = None  # when the frame in progress must be complete
        idle_since = time.monotonic()  # the last frame read (line noise does not count)
        while not writing.done():  # the writer ends the conversation when an ACK fails
            if decoder.in_frame:
                deadline = deadline or time.monotonic() + self.read_timeout
                wait, reason = deadline - time.monotonic(), "read timeout"
            else:
                deadline = None
                wait, reason = idle_since + self.idle_timeout - time.monotonic(), "idle timeout"
            try:
                data = await asyncio.wait_for(reader.read(CHUNK), max(0.0, wait))
            except TimeoutError:
                log.info(
                    "mllp connection closed", sender=self.sender, address=address, reason=reason
                )
                return
            except (ConnectionError, ssl.SSLError) as error:
                self._log_lost(address, error)
                return
            if not data:
                return  # the sender closed the connection
            items = decoder.feed(data)
            if items:  # the next frame gets its own read deadline
                deadline, idle_since = None, time.monotonic()
            for item in items:  # started in frame order, so submitted in frame order
                await answers.put(asyncio.ensure_future(self._answer(item)))

    async def _write_acks(
        self,
        answers: "asyncio.Queue[asyncio.Future[str | None]]",
        writer: asyncio.StreamWriter,
        address: str,
    ) -> None:
        while True:
            answer = await answers.get()
            ack = await answer
            if ack is None:
                return  # not committed: no ACK, the sender resends on a new connection
            writer.write(frame(ack))
            try:
                await asyncio.wait_for(writer.drain(), self.read_timeout)
            except (TimeoutError, ConnectionError, ssl.SSLError) as error:
                self._log_lost(address, error)
                return
            answers.task_done()

    def _log_lost(self, address: str, error: BaseException) -> None:
        log.info(
            "mllp connection lost", sender=self.sender, address=address, error=type(error).__name__
        )

    async def _answer(self, item: Frame | Oversized) -> str | None:
        if isinstance(item, Oversized):
            log.warning(
                "mllp message too large, answered AR",
                sender=self.sender,
                size=item.size,
                limit=self.max_message_bytes,
            )
            reason = f"message larger than {self.max_message_bytes} bytes"
            return build_ack(_header_of(item.head), "AR", reason, "102")
        raw, charset = decode_body(item.payload)
        try:
            # Never refused as overload: the window already bounds what a connection asks.
            command = ReceiveHl7(self.sender, raw, charset)
            ack: str = await self.runtime.execute(command, may_refuse=False)
        except Exception as error:
            log.error(
                "mllp message failed, connection closed",
                sender=self.sender,
                error=type(error).__name__,
            )
            return None
        return ack


def _header_of(head: bytes) -> Header | None:
    """The MSH of an oversize frame's first bytes, to echo its control id; None if unreadable."""
    text, _ = decode_body(head)
    first_segment = text.replace("\n", "\r").split("\r", 1)[0]
    try:
        return parse_header(first_segment)
    except Hl7Error:
        return None


def mllp_listeners(runtime: ServiceRuntime[Settings, Any]) -> list[MllpListener]:
    """One listener per sending trust in `HOSPITAL_FEED_MLLP_LISTENERS` (none by default)."""
    settings = runtime.settings
    ports = settings.mllp_ports()
    if not ports:
        return []
    policy: MllpPolicy = settings.mllp_policy()
    return [
        MllpListener(
            runtime,
            sender,
            settings.http_host,
            port,
            settings.max_message_bytes,
            ssl_context=policy.ssl_context,
            allowed_networks=policy.networks_for(sender),
            read_timeout=policy.read_timeout,
            idle_timeout=policy.idle_timeout,
            max_connections=policy.max_connections,
            window=policy.window,
        )
        for sender, port in ports.items()
    ]
