"""A secret file that cannot be read stops the service at start with one clear line: the
real entry point (`python -m hospital_feed`) in its own process, no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    settings = {
        "HOSPITAL_FEED_DATABASE_URL": f"sqlite:///{tmp_path / 'feed.db'}",
        "HOSPITAL_FEED_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # never reached
        "HOSPITAL_FEED_HTTP_PORT": "0",
    }
    return subprocess.run(
        [sys.executable, "-m", "hospital_feed"],
        env={**os.environ, **settings, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("setting", ["STAFF_TOKENS", "DATABASE_PASSWORD"])
def test_a_missing_secret_file_is_one_line_and_a_failed_start(tmp_path: Path, setting: str) -> None:
    missing = tmp_path / "secrets" / setting.lower().replace("_", "-")
    variable = f"HOSPITAL_FEED_{setting}_FILE"
    result = start(tmp_path, **{variable: str(missing)})
    assert result.returncode != 0
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"hospital-feed: {variable}: cannot read the secret file {missing}: "
        "No such file or directory"
    ]


def test_a_token_file_with_a_bad_token_is_refused_without_echoing_it(tmp_path: Path) -> None:
    tokens = tmp_path / "practice-tokens"
    tokens.write_text('{"L85001": "too-short"}')
    result = start(tmp_path, HOSPITAL_FEED_PRACTICE_TOKENS_FILE=str(tokens))
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("hospital-feed: HOSPITAL_FEED_PRACTICE_TOKENS_FILE: the secret file")
    assert "too-short" not in line
