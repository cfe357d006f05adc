"""MLLP over TCP (optionally TLS), as trust integration engines send ADT:
`0x0B` message `0x1C 0x0D`.

One listener per sending trust: the port identifies the sender (there is no token in MLLP),
so a listener accepts only messages whose MSH-4 is its configured ODS code. Each message is
answered after the same handler as HTTP has committed it, framed the same way:

- original mode (MSH-15 and MSH-16 empty): its application ACK, AA/AE/AR;
- enhanced mode (MSH-15/16 set, HL7 v2.5 2.9.3): on the same connection, the accept ACK
  (CA committed, CR refused outright, CE could not be stored) when MSH-15 asks for it, then
  the application ACK (AA/AE/AR) when MSH-16 asks for it, each by its condition (AL always,
  NE never, ER on error, SU on success); both are sent once the message is committed, with
  MSH-15/16 NE so that no one acknowledges them. A CE is the one case that keeps the
  connection open after a store failure; without it (original mode, or MSH-15 NE/SU) the
  connection is closed unanswered and the sender resends;
- a batch file (FHS/BHS, domain/batch.py): one frame, the response batch, one ACK per
  message.

Frames of a connection are answered in the order read, whatever each needs (none, one or
two ACK frames).

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
from typing import Any

import structlog
from opentelemetry.trace import SpanKind

from ensemble_runtime.correlation import correlation_scope
from ensemble_runtime.service import ServiceRuntime
from hospital_feed.config import MllpPolicy, Network, Settings
from hospital_feed.domain.ack import answer_frames, commit_error
from hospital_feed.domain.batch import is_batch
from hospital_feed.domain.hl7_message import Header, Hl7Error, decode_body, parse_header
from hospital_feed.entrypoints.hl7_batches import receive_batch
from hospital_feed.entrypoints.mllp_framing import END, START, Frame, MllpDecoder, Oversized, frame
from hospital_feed.service_layer.commands import ReceiveHl7, ReceiveOversized

# The framing lives in mllp_framing.py; these names are imported from here by callers too.
__all__ = ["END", "START", "Frame", "MllpDecoder", "MllpListener", "Oversized", "frame"]
CHUNK = 64 * 1024
log = structlog.get_logger(__name__)


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
        # Each frame's span: by sender and transport only (the message names the patient).
        self._tracing = runtime.tracing
        self._span_attributes = {"ensemble.sender": sender, "ensemble.transport": "mllp"}
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
        answers: asyncio.Queue[asyncio.Future[list[str] | None]] = asyncio.Queue(self.window)
        writing = asyncio.create_task(self._write_acks(answers, writer, address))
        reading = asyncio.create_task(self._read_frames(reader, answers, writing, address))
        tasks = [writing, reading]
        try:
            # A writer that ends first (a message not committed and not answered CE, or a
            # write that failed) ends the conversation at once: the sender resends.
            await asyncio.wait(tasks, return_when="FIRST_COMPLETED")
            if reading.done() and not writing.done():
                reading.result()  # a bug in the reader is raised, not swallowed
                # The sender stopped sending (or timed out): the ACKs it is owed still go
                # out, as each commits, however long the store takes.
                tasks.append(asyncio.create_task(answers.join()))
                await asyncio.wait([writing, tasks[-1]], return_when="FIRST_COMPLETED")
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _read_frames(
        self,
        reader: asyncio.StreamReader,
        answers: "asyncio.Queue[asyncio.Future[list[str] | None]]",
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
        answers: "asyncio.Queue[asyncio.Future[list[str] | None]]",
        writer: asyncio.StreamWriter,
        address: str,
    ) -> None:
        while True:
            answer = await answers.get()
            acks = await answer
            if acks is None:
                return  # not committed: no ACK, the sender resends on a new connection
            for ack in acks:  # none (enhanced mode, NE/NE), one, or accept + application
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

    async def _answer(self, item: Frame | Oversized) -> list[str] | None:
        """The ACK frames for one frame, in order; None: close the connection unanswered.
        Each frame is its own intake: a new correlation id and (tracing on) a trace."""
        with (
            correlation_scope(),
            self._tracing.span(
                "hl7v2 intake", kind=SpanKind.SERVER, attributes=self._span_attributes
            ),
        ):
            return await self._answer_frame(item)

    async def _answer_frame(self, item: Frame | Oversized) -> list[str] | None:
        if isinstance(item, Oversized):
            log.warning(
                "mllp message too large, its start kept and answered AR",
                sender=self.sender,
                size=item.size,
                limit=self.max_message_bytes,
            )
            head, charset = decode_body(item.head)
            header = _header_of(head)
            try:
                refusal: str = await self.runtime.execute(
                    ReceiveOversized(self.sender, head, self.max_message_bytes, charset),
                    may_refuse=False,
                )
            except Exception as error:  # not stored: close unanswered, the sender resends
                log.error(
                    "mllp message failed, connection closed",
                    sender=self.sender,
                    error=type(error).__name__,
                )
                return None
            return answer_frames(head, header, refusal)
        raw, charset = decode_body(item.payload)
        batch = is_batch(raw)
        try:
            # Never refused as overload: the window already bounds what a connection asks.
            if batch:
                return [
                    await receive_batch(self.runtime, self.sender, raw, charset, may_refuse=False)
                ]
            command = ReceiveHl7(self.sender, raw, charset)
            ack: str = await self.runtime.execute(command, may_refuse=False)
        except Exception as error:
            commit_failed = None if batch else commit_error(raw, _header_of(raw))
            log.error(
                "mllp message failed, connection closed"
                if commit_failed is None
                else "mllp message failed, answered CE",
                sender=self.sender,
                error=type(error).__name__,
            )
            return None if commit_failed is None else [commit_failed]
        return answer_frames(raw, _header_of(raw), ack)


def _header_of(text: str) -> Header | None:
    """The MSH of a message (or an oversize frame's first bytes), to echo its control id;
    None if unreadable."""
    first_segment = text.lstrip("\ufeff\x0b").split("\r", 1)[0].split("\n", 1)[0]
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
