"""The channel watch (a component): every minute, how long each configured sender has been
silent, as a gauge, and one warning when a sender has sent nothing for
`HOSPITAL_FEED_SENDER_QUIET_MINUTES` of working time (`..._SENDER_WORKING_HOURS` in
`..._SENDER_WORKING_ZONE`). The warning is given once per silence: the sender's next message
ends it, and a later silence warns again.

It also checks, at start, the settings the message browser relies on: a bad working-hours
setting or a short search key refuses to start; no search key at all is warned about (intake
goes on; search by NHS number is off).
"""

import asyncio
import contextlib
from datetime import datetime
from typing import Any

import structlog

from ensemble_runtime.service import ServiceRuntime
from hospital_feed.adapters import message_browser as views
from hospital_feed.adapters.metrics import SENDER_QUIET_SECONDS
from hospital_feed.domain.message_search import WorkingHours, is_quiet, parse_working_hours

CHECK_SECONDS = 60.0
log = structlog.get_logger(__name__)


class ChannelWatch:
    def __init__(
        self,
        runtime: ServiceRuntime[Any, Any],
        senders: list[str],
        hours: WorkingHours,
        quiet_minutes: int,
        interval: float = CHECK_SECONDS,
    ) -> None:
        self.runtime = runtime
        self.senders = senders
        self.hours = hours
        self.quiet_minutes = quiet_minutes
        self.interval = interval
        self.quiet: set[str] = set()  # senders warned about in their current silence
        self.watching_since: datetime = runtime.clock()  # the baseline of a silent sender
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.watching_since = self.runtime.clock()
        self._task = asyncio.create_task(self._run(), name="channel-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def check(self) -> list[str]:
        """One round: the gauge of every sender, and the senders newly warned about."""
        now = self.runtime.clock()
        warned = []
        for sender in self.senders:
            last = await self.runtime.read(views.last_received, sender)
            if last is not None:
                SENDER_QUIET_SECONDS.labels(sender).set(max((now - last).total_seconds(), 0.0))
            if not is_quiet(self.hours, last or self.watching_since, now, self.quiet_minutes):
                self.quiet.discard(sender)
                continue
            if sender in self.quiet:
                continue
            self.quiet.add(sender)
            warned.append(sender)
            log.warning(
                "sender quiet",
                sender=sender,
                quiet_working_minutes=self.quiet_minutes,
                last_message_at=last.isoformat() if last else None,
            )
        return warned

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception as error:  # a store outage: try again next minute
                log.error("channel watch failed", error=type(error).__name__)
            await asyncio.sleep(self.interval)


def channel_watches(runtime: ServiceRuntime[Any, Any]) -> list[ChannelWatch]:
    """The definition's component factory: the settings checked, then the one watch."""
    settings = runtime.settings
    if not settings.check_message_search_key():
        log.warning(
            "message search by NHS number is off: HOSPITAL_FEED_MESSAGE_SEARCH_KEY is not set"
        )
    if settings.sender_quiet_minutes < 0:
        raise ValueError("HOSPITAL_FEED_SENDER_QUIET_MINUTES must not be negative")
    try:
        hours = parse_working_hours(settings.sender_working_hours, settings.sender_working_zone)
    except ValueError as error:
        raise ValueError(f"HOSPITAL_FEED_SENDER_WORKING_HOURS/_ZONE: {error}") from None
    senders = settings.known_senders()
    return [ChannelWatch(runtime, senders, hours, settings.sender_quiet_minutes)]
