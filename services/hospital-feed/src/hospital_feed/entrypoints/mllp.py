"""MLLP over TCP, as trust integration engines send ADT: `0x0B` message `0x1C 0x0D`.

One listener per sending trust: the port identifies the sender (there is no token in MLLP),
so a listener accepts only messages whose MSH-4 is its configured ODS code. Each message is
answered with its ACK, framed the same way, after the same handler as HTTP has committed.
"""

import asyncio
import contextlib
from functools import partial

import structlog

from ensemble_runtime.service import ServiceRuntime
from hospital_feed.domain.hl7_message import decode
from hospital_feed.service_layer.handlers import receive_hl7v2

START = b"\x0b"
END = b"\x1c\r"
log = structlog.get_logger(__name__)


def frame(message: str) -> bytes:
    return START + message.encode("utf-8") + END


class MllpListener:
    def __init__(
        self,
        runtime: ServiceRuntime,
        sender: str,
        host: str,
        port: int,
        max_message_bytes: int = 1024 * 1024,
    ) -> None:
        self.runtime = runtime
        self.sender = sender
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=self.max_message_bytes + len(END) + 1
        )
        self.port = self._server.sockets[0].getsockname()[1]  # the real one when 0 was asked
        log.info("mllp listener started", sender=self.sender, port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                chunk = await reader.readuntil(END)
                start = chunk.rfind(START)  # bytes before the start block are line noise
                if start < 0:
                    continue
                raw = decode(chunk[start + 1 : -len(END)])
                ack = await self.runtime.transact(
                    partial(receive_hl7v2, sender=self.sender, raw=raw)
                )
                writer.write(frame(ack))
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass  # the sender closed the connection
        except asyncio.LimitOverrunError:
            log.warning("mllp message too large, connection closed", sender=self.sender)
        except Exception as error:
            # No ACK: the sender keeps the message and sends it again on a new connection.
            log.error("mllp message failed, connection closed", error=type(error).__name__)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
