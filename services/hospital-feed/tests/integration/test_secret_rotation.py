"""Tokens rotated in their secret files (a Kubernetes secret volume's `..data` swap) are taken
by the running app without a restart: the new token is let in, the old one refused. The app
runs in-process on a real store (SQLite and PostgreSQL)."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ensemble_devkit.secret_volume import SecretVolume
from ensemble_devkit.testkit import ServiceKit, tokens
from hospital_feed.service import DEFINITION

from ..support import FeedKit

OLD_STAFF = "staff-token-before-rotation"
NEW_STAFF = "staff-token-after-rotation!"
OLD_PRACTICE = "practice-token-before-rotation"
NEW_PRACTICE = "practice-token-after-rotation!"


def files(staff: str, practice: str) -> dict[str, str]:
    return {
        "staff-tokens": json.dumps({"ops": staff}),
        "practice-tokens": json.dumps({"L85001": practice}),
    }


@pytest.fixture
def volume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SecretVolume:
    volume = SecretVolume(tmp_path / "secrets")
    volume.write(**files(OLD_STAFF, OLD_PRACTICE))
    monkeypatch.setenv("HOSPITAL_FEED_STAFF_TOKENS_FILE", str(volume.path("staff-tokens")))
    monkeypatch.setenv("HOSPITAL_FEED_PRACTICE_TOKENS_FILE", str(volume.path("practice-tokens")))
    return volume


@pytest.fixture
def kit(database_url: str, volume: SecretVolume) -> Iterator[FeedKit]:
    # Checked on every use, so the test needs no waiting; deployments check every 2 s.
    kit = ServiceKit(
        DEFINITION,
        database_url,
        sender_tokens=tokens("sender", "RCB"),
        secret_reload_seconds=0,
    )
    yield kit
    kit.dispose()


async def status(kit: FeedKit, path: str, token: str) -> int:
    async with kit.client() as client:
        response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code


STAFF_ROUTE = "/v1/messages"
PRACTICE_ROUTE = "/v1/practices/L85001/alerts"


async def test_rotated_tokens_are_taken_without_a_restart(
    kit: FeedKit, volume: SecretVolume
) -> None:
    assert kit.settings.staff_tokens == json.dumps({"ops": OLD_STAFF})  # read from the file
    assert await status(kit, STAFF_ROUTE, OLD_STAFF) == 200
    assert await status(kit, PRACTICE_ROUTE, OLD_PRACTICE) == 200
    assert await status(kit, STAFF_ROUTE, NEW_STAFF) == 401

    volume.write(**files(NEW_STAFF, NEW_PRACTICE))  # the kubelet's update of the Secret

    assert await status(kit, STAFF_ROUTE, NEW_STAFF) == 200
    assert await status(kit, STAFF_ROUTE, OLD_STAFF) == 401
    assert await status(kit, PRACTICE_ROUTE, NEW_PRACTICE) == 200
    assert await status(kit, PRACTICE_ROUTE, OLD_PRACTICE) == 401


async def test_a_secret_gone_from_the_volume_keeps_the_last_tokens(
    kit: FeedKit, volume: SecretVolume
) -> None:
    volume.write(**{"practice-tokens": json.dumps({"L85001": OLD_PRACTICE})})  # staff gone
    assert not volume.path("staff-tokens").exists()
    assert await status(kit, STAFF_ROUTE, OLD_STAFF) == 200
    assert await status(kit, PRACTICE_ROUTE, OLD_PRACTICE) == 200
