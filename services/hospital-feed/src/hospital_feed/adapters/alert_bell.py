"""A doorbell for new alerts: rung after a commit that inserted alerts, from whichever thread
committed, so the process's SSE feed reads them at once instead of at its next poll.

The poll stays (`alert_stream_poll_ms`) for what no bell announces: alerts another replica
committed. A ring that wakes the feed with nothing new costs it one read (on a reader).
"""

import asyncio
import contextlib
import threading


class AlertBell:
    def __init__(self) -> None:
        self._listeners: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()

    def listen(self) -> asyncio.Event:
        """An event set at each ring, on the running loop (call from that loop)."""
        event = asyncio.Event()
        with self._lock:
            self._listeners[event] = asyncio.get_running_loop()
        return event

    def unlisten(self, event: asyncio.Event) -> None:
        with self._lock:
            self._listeners.pop(event, None)

    def ring(self) -> None:
        with self._lock:
            listeners = list(self._listeners.items())
        for event, loop in listeners:
            with contextlib.suppress(RuntimeError):  # its loop has closed
                loop.call_soon_threadsafe(event.set)


# One per process: every unit of work of the process rings it (see unit_of_work.py).
ALERT_BELL = AlertBell()
