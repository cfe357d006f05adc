"""The channel watch: each sender's quiet time as a gauge, one warning per silence in
working hours; and the settings it checks at start."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from ensemble_devkit.testkit import FrozenClock
from hospital_feed.entrypoints.channel_watch import channel_watches

from ..samples import adt
from ..support import feed_kit, receive

MONDAY_9AM = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # GMT: 09:00 in London


def quiet_seconds(sender: str) -> float | None:
    return REGISTRY.get_sample_value(
        "ensemble_hospital_feed_sender_quiet_seconds", {"sender": sender}
    )


async def test_a_quiet_sender_is_warned_about_once_per_silence(tmp_path: Path) -> None:
    clock = FrozenClock(MONDAY_9AM)
    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}", clock=clock, sender_quiet_minutes=30)
    try:
        receive(kit, adt(control_id="Q-1"))
        (watch,) = channel_watches(kit.runtime)
        watch.watching_since = clock()
        assert watch.senders == ["RCB", "RVJ"]
        assert await watch.check() == []
        assert quiet_seconds("RCB") == 0.0

        clock.advance(minutes=29)
        assert await watch.check() == []
        clock.advance(minutes=1)
        with capture_logs() as logs:
            assert await watch.check() == ["RCB", "RVJ"]  # RVJ: silent since the watch began
            assert await watch.check() == []  # once per silence
        assert quiet_seconds("RCB") == 30 * 60
        assert quiet_seconds("RVJ") is None  # never heard from: no gauge
        warning = next(e for e in logs if e["event"] == "sender quiet" and e["sender"] == "RCB")
        assert warning["log_level"] == "warning"
        assert warning["last_message_at"] == "2026-12-07T09:00:00+00:00"

        clock.advance(hours=8, minutes=20)  # 17:50
        receive(kit, adt(control_id="Q-2", visit="V2"))  # the silence ends
        assert await watch.check() == []
        assert "RCB" not in watch.quiet
        # Overnight is not working time: Tuesday 08:10 is 20 working minutes later.
        clock.advance(hours=14, minutes=20)
        assert await watch.check() == []
        clock.advance(minutes=10)
        assert await watch.check() == ["RCB"]  # a new silence, a new warning
    finally:
        kit.dispose()


def test_the_watch_checks_its_settings_at_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    refusals: list[tuple[dict[str, object], str]] = [
        ({"message_search_key": "short"}, "at least 32 characters"),
        ({"sender_working_hours": "weekdays"}, "WORKING_HOURS"),
        ({"sender_working_zone": "Nowhere/Else"}, "WORKING_HOURS"),
        ({"sender_quiet_minutes": -1}, "must not be negative"),
    ]
    for settings, error in refusals:
        kit = feed_kit(url, **settings)
        try:
            with pytest.raises(ValueError, match=error) as refused:
                channel_watches(kit.runtime)
            assert "short" not in str(refused.value)  # a key is never echoed
        finally:
            kit.dispose()
    kit = feed_kit(url)
    try:
        with capture_logs() as logs:
            channel_watches(kit.runtime)
        assert any("MESSAGE_SEARCH_KEY is not set" in e["event"] for e in logs)
    finally:
        kit.dispose()
