"""What the bench watches: practice alerts (polled, and on the SSE stream) and hot-onboarding
proposals as their readers see them through the services' APIs, and the CPU time of the
processes under load."""

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from ensemble_devkit.bench_wire import HttpConnection, HttpResponse

PAGE = 1000  # the most either listing returns at once


class ProbeError(Exception):
    pass


def _json(response: HttpResponse, what: str) -> Any:
    if response.status != 200:
        raise ProbeError(f"{what}: HTTP {response.status} {response.body[:200]!r}")
    return json.loads(response.body)


async def _pause_after(started: float, interval: float) -> None:
    await asyncio.sleep(max(0.0, started + interval - time.monotonic()))


class AlertReader:
    """Polls each practice's alerts as a practice system would: `after=<last alert_id>` every
    `interval`, on one keep-alive connection per practice. An alert is visible from the
    moment the first response listing it arrives."""

    def __init__(self, host: str, port: int, practices: dict[str, str], interval: float) -> None:
        self.interval = interval
        self.connections = {
            ods: HttpConnection(host, port, token) for ods, token in practices.items()
        }
        self.cursors = dict.fromkeys(practices, 0)
        self.seen: dict[str, float] = {}  # NHS number -> first seen (monotonic)
        self.polls = 0

    async def _poll(self, ods: str) -> list[dict[str, Any]]:
        path = f"/v1/practices/{ods}/alerts?after={self.cursors[ods]}&limit={PAGE}"
        alerts: list[dict[str, Any]] = _json(await self.connections[ods].get(path), path)["alerts"]
        self.polls += 1
        if alerts:
            self.cursors[ods] = alerts[-1]["alert_id"]
        return alerts

    async def catch_up(self) -> None:
        """Move every cursor past the alerts already there: only new ones are timed."""
        for ods in self.connections:
            while len(await self._poll(ods)) == PAGE:
                pass

    async def watch(self, remaining: set[str]) -> None:
        """Poll until no NHS number is left in `remaining` (the caller may drop some, e.g. the
        admissions that were not accepted, or cancel the watch)."""
        await asyncio.gather(*(self._watch(ods, remaining) for ods in self.connections))

    async def _watch(self, ods: str, remaining: set[str]) -> None:
        while remaining:
            started = time.monotonic()
            alerts = await self._poll(ods)
            arrived = time.monotonic()
            for alert in alerts:
                self.seen.setdefault(alert["nhs_number"], arrived)
                remaining.discard(alert["nhs_number"])
            await _pause_after(started, self.interval)

    async def close(self) -> None:
        for connection in self.connections.values():
            await connection.close()


class AlertStream:
    """Listens to each practice's Server-Sent Events stream (`/alerts/stream`), as a practice
    system would, on a raw socket: one connection per practice, chunked bodies and SSE
    frames read by hand (an HTTP client library would cost more than the stream). An alert
    is received when the chunk carrying its `event: alert` arrives."""

    def __init__(
        self, host: str, port: int, practices: dict[str, str], after: dict[str, int]
    ) -> None:
        self.host, self.port = host, port
        self.practices = practices
        self.after = dict(after)  # only alerts after these ids (the poller's cursors)
        self.seen: dict[str, float] = {}  # NHS number -> received (monotonic)
        self.events = 0
        self._streams: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def open(self) -> None:
        """Connect every practice's stream and read its response head (200, event-stream)."""
        for ods, token in self.practices.items():
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(
                (
                    f"GET /v1/practices/{ods}/alerts/stream?after={self.after.get(ods, 0)} "
                    f"HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                    f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
                ).encode("latin-1")
            )
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            if not head.startswith("HTTP/1.1 200") or "text/event-stream" not in head:
                raise ProbeError(f"alert stream of {ods}: {head.splitlines()[0]!r}")
            if "transfer-encoding: chunked" not in head.lower():
                raise ProbeError(f"alert stream of {ods}: not a chunked body")
            self._streams[ods] = (reader, writer)

    async def watch(self, remaining: set[str]) -> None:
        """Read until no NHS number is left in `remaining` (or the watch is cancelled)."""
        await asyncio.gather(
            *(self._watch(reader, remaining) for reader, _ in self._streams.values())
        )

    async def _watch(self, reader: asyncio.StreamReader, remaining: set[str]) -> None:
        pending = b""
        while remaining:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)  # the chunk and its CRLF
            arrived = time.monotonic()
            if size == 0:
                return  # the stream ended
            pending += chunk[:-2]
            *frames, pending = pending.replace(b"\r\n", b"\n").split(b"\n\n")
            for frame in frames:
                fields = dict(line.split(b": ", 1) for line in frame.split(b"\n") if b": " in line)
                if fields.get(b"event") == b"alert":
                    self.events += 1
                    nhs = json.loads(fields[b"data"])["nhs_number"]
                    self.seen.setdefault(nhs, arrived)
                    remaining.discard(nhs)

    async def close(self) -> None:
        for _, writer in self._streams.values():
            writer.close()
        self._streams.clear()


class ProposalReader:
    """Watches referral's staff worklist of proposed referrals (hot onboarding) every
    `interval`, and declines each proposal once seen, as a complex-care team triages: the
    listing has no cursor and shows the oldest 1000, so triage keeps it short."""

    def __init__(self, host: str, port: int, staff_token: str, interval: float) -> None:
        self.interval = interval
        self.listing = HttpConnection(host, port, staff_token)
        self.triage = HttpConnection(host, port, staff_token)
        self.seen: dict[str, float] = {}  # NHS number -> first seen (monotonic)
        self.handled: set[str] = set()  # referral ids queued for triage
        self.declined = 0
        self.polls = 0
        self._to_decline: asyncio.Queue[str] = asyncio.Queue()

    async def watch(self, remaining: set[str]) -> None:
        """Poll until no NHS number is left in `remaining` (or the watch is cancelled)."""
        decliner = asyncio.create_task(self._decline_queued())
        try:
            while remaining:
                started = time.monotonic()
                path = f"/v1/referrals?status=proposed&limit={PAGE}"
                listed = _json(await self.listing.get(path), path)["referrals"]
                self.polls += 1
                arrived = time.monotonic()
                for referral in listed:
                    self.seen.setdefault(referral["nhs_number"], arrived)
                    remaining.discard(referral["nhs_number"])
                    if referral["referral_id"] not in self.handled:
                        self.handled.add(referral["referral_id"])
                        self._to_decline.put_nowait(referral["referral_id"])
                await _pause_after(started, self.interval)
            await self._to_decline.join()  # the caller bounds how long this may take
        finally:
            decliner.cancel()

    async def _decline_queued(self) -> None:
        body = json.dumps({"reason": "bench: triaged"}).encode()
        while True:
            referral_id = await self._to_decline.get()
            path = f"/v1/referrals/{referral_id}/decline"
            try:
                response = await self.triage.post(path, body, "application/json")
                self.declined += response.status == 200
            except (OSError, EOFError):
                await self.triage.close()  # left proposed: listed again, but timed once
            finally:
                self._to_decline.task_done()

    async def close(self) -> None:
        await self.listing.close()
        await self.triage.close()


# Prometheus text lines of the two counters that say what this system itself moved.
COUNTER = re.compile(r"^ensemble_(events_consumed|outbox_published)_total\{([^}]*)\} (\S+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')


async def moved_by_system(services: list[tuple[str, int]]) -> dict[str, dict[str, float]]:
    """From the services' /metrics: events each consumer group took, and events the outboxes
    published per topic, summed over the services (counters since each service started)."""
    moved: dict[str, dict[str, float]] = {"consumed": {}, "published": {}}
    for host, port in services:
        connection = HttpConnection(host, port)
        response = await connection.get("/metrics")
        await connection.close()
        if response.status != 200:
            raise ProbeError(f"{host}:{port}/metrics: HTTP {response.status}")
        for line in response.body.decode().splitlines():
            if found := COUNTER.match(line):
                family, labels, value = found.groups()
                named = dict(LABEL.findall(labels))
                key = named["consumer"] if family == "events_consumed" else named["topic"]
                totals = moved["consumed" if family == "events_consumed" else "published"]
                totals[key] = totals.get(key, 0.0) + float(value)
    return moved


# /proc/<pid>/stat after the command's closing parenthesis: state is field 0, ppid 1,
# utime 11, stime 12, cutime 13, cstime 14 (in clock ticks).
TICKS = os.sysconf("SC_CLK_TCK")


def _all_stats() -> dict[int, list[str]]:
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                text = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            stats[int(entry.name)] = text[text.rfind(")") + 2 :].split()
    return stats


def cpu_seconds(pids: dict[str, int | None]) -> dict[str, float | None]:
    """CPU time (user + system) of each process and its descendants: live ones, and ended
    ones, which the kernel adds to their parent's cutime/cstime (a database's backends)."""
    stats = _all_stats()
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)
    totals: dict[str, float | None] = {}
    for name, root in pids.items():
        if root is None or root not in stats:
            totals[name] = None
            continue
        ticks, tree = 0, [root]
        while tree:
            pid = tree.pop()
            ticks += sum(int(value) for value in stats[pid][11:15])
            tree.extend(children.get(pid, []))
        totals[name] = ticks / TICKS
    return totals


def cpu_used(
    before: dict[str, float | None], after: dict[str, float | None]
) -> dict[str, float | None]:
    used: dict[str, float | None] = {}
    for name, start in before.items():
        end = after.get(name)
        used[name] = None if start is None or end is None else end - start
    return used


def pid_listening_on(port: int) -> int | None:
    """The process listening on a local TCP port, if this user may see it (e.g. the broker)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue  # another user's process, or gone meanwhile
    return None
