"""A doorbell for new alerts: rung after a commit that inserted alerts, from whichever thread
committed, so the process's SSE feed and webhook dispatcher read them at once instead of at
their next poll.

The polls stay (`alert_stream_poll_ms`, `webhook_poll_ms`) for what no bell announces: alerts
another replica committed, deliveries falling due. A ring that wakes a feed with nothing new
costs it one read.
"""

import asyncio
import contextlib
import threading


class AlertBell:
    def __init__(self) -> None:
        self._listeners: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()

    def listen(self, event: asyncio.Event | None = None) -> asyncio.Event:
        """`event` (default: a new one), set at each ring on the running loop (call from
        that loop)."""
        event = event or asyncio.Event()
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
