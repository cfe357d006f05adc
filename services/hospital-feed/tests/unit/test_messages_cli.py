"""`ensemble-hospital-feed-messages`: the same commands as the API, on the store."""

import getpass
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ensemble_devkit.testkit import FrozenClock
from hospital_feed.config import Settings
from hospital_feed.entrypoints import messages_cli

from ..samples import adt
from ..support import TOKENS, feed_kit, receive, stored
from .test_message_browser import KEY, PATIENT, audit_rows, rejected


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, message_search_key=KEY, **TOKENS)  # type: ignore[arg-type]


def cli(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = messages_cli.main(["--json", *argv], settings=settings, clock=FrozenClock())
    out, err = capsys.readouterr()
    if code != 0:
        return code, err
    # In tests, log lines go to stdout before the answer (the CLI sends them to stderr).
    return code, json.loads(out[0 if out.startswith("{") else out.index("\n{") + 1 :])


def test_the_cli_searches_shows_resubmits_discards_and_reruns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'feed.db'}"
    settings = settings_for(url)
    assert cli(settings, capsys, "channels")[0] == 0  # the CLI migrates the store first
    kit = feed_kit(url, message_search_key=KEY)
    try:
        receive(kit, adt(control_id="OK-1"))
        receive(kit, rejected("BAD-1", visit="V2"))
        receive(kit, adt(nhs="9999999999", control_id="HELD-1", visit="V3"))
        receive(kit, rejected("BAD-2", visit="V4"))
    finally:
        kit.dispose()

    monkeypatch.setattr(sys, "stdin", io.StringIO(PATIENT + "\n"))  # never in argv
    code, found = cli(settings, capsys, "search", "--nhs-number", "-", "--status", "rejected")
    assert code == 0
    assert [m["control_id"] for m in found["messages"]] == ["BAD-2", "BAD-1"]
    bad_two, bad_one = (m["id"] for m in found["messages"])

    code, shown = cli(settings, capsys, "show", str(bad_one))
    assert code == 0 and shown["raw"] == rejected("BAD-1", visit="V2")
    assert shown["ack"].split("\r")[1].startswith("MSA|AE|BAD-1|")

    fixed = tmp_path / "fixed.hl7"
    fixed.write_text(adt(control_id="BAD-1", visit="V2", admit_at="202611221000", end="\n"))
    code, done = cli(settings, capsys, "resubmit", str(bad_one), "--file", str(fixed))
    assert code == 0 and (done["status"], done["ack_code"]) == ("accepted", "AA")
    assert stored_raw(url, done["message_id"]).startswith("MSH|") and "\n" not in stored_raw(
        url, done["message_id"]
    )  # a file's lines are HL7 segments: CR-separated once stored

    code, refused = cli(settings, capsys, "discard", str(bad_one), "--reason", "x")
    assert code == 1 and "only rejected or held" in refused

    code, rerun = cli(settings, capsys, "reprocess", "--all", "--limit", "1")
    assert code == 0 and rerun["counts"] == {"held": 1, "rejected": 1}
    code, discarded = cli(settings, capsys, "discard", str(bad_two), "--reason", "sent twice")
    assert code == 0 and discarded["status"] == "discarded"

    code, channels = cli(settings, capsys, "channels")
    rcb = channels["channels"][0]
    assert (rcb["sender"], rcb["received"], rcb["resubmissions"], rcb["discarded"]) == (
        "RCB",
        4,
        1,
        1,
    )
    code, rehashed = cli(settings, capsys, "rehash", "--all")
    assert code == 0 and rehashed == {"updated": 5, "next_after": None, "keyed": True}

    kit = feed_kit(url)
    try:
        trail = audit_rows(kit)
    finally:
        kit.dispose()
    assert [action for _, action, _, _ in trail] == [
        "viewed",
        "resubmitted",
        "reprocessed",
        "reprocessed",
        "discarded",
    ]
    assert {actor for _, _, actor, _ in trail} == {f"cli:{getpass.getuser()}"}
    assert {channel for *_, channel in trail} == {"cli"}


def stored_raw(url: str, message_id: int) -> str:
    kit = feed_kit(url)
    try:
        return next(m.raw for m in stored(kit) if m.id == message_id)
    finally:
        kit.dispose()


def test_the_cli_runs_as_a_module(tmp_path: Path) -> None:
    """What `ensemble-hospital-feed-messages` will run, until its script line is added."""
    env = os.environ | {
        "HOSPITAL_FEED_DATABASE_URL": f"sqlite:///{tmp_path / 'feed.db'}",
        "HOSPITAL_FEED_SENDER_TOKENS": TOKENS["sender_tokens"],
    }
    done = subprocess.run(
        [sys.executable, "-m", "hospital_feed.entrypoints.messages_cli", "--json", "channels"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [c["sender"] for c in json.loads(done.stdout)["channels"]] == ["RCB", "RVJ"]
