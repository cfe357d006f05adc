"""MLLP framing (`0x0B` message `0x1C 0x0D`): the decoder that splits a byte stream into
frames, bounded in memory, and the framing of an answer."""

from dataclasses import dataclass

START = b"\x0b"
END = b"\x1c\r"
HEAD = 4096  # what is kept of an oversize frame: enough for its MSH, to answer it


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
