"""Roster uploads over HTTP and the access CLI: a care team's own token, staff files for many
recipients, the modes, bad files, isolation, the audit row and log line."""

import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from hospital_feed.adapters.rosters import roster_uploads
from hospital_feed.config import Settings
from hospital_feed.domain.rosters import UNKNOWN_RECIPIENT
from hospital_feed.entrypoints import access_cli

from ..support import FeedKit, alerts, feed_kit
from .test_access import Access
from .test_alerts import encounter

A, B, C = "9434765919", "9990000018", "9990000026"
ROSTER = "/v1/practices/L85001/roster"
CSV = {"Content-Type": "text/csv"}


async def put(kit: FeedKit, body: str | bytes, path: str = ROSTER, **kw: Any) -> Any:
    async with kit.client("practice", "L85001") as http:
        return await http.put(path, content=body, headers=kw.pop("headers", CSV), **kw)


async def staff(kit: FeedKit, method: str, path: str, body: str = "", **params: Any) -> Any:
    async with kit.client("staff", "staff") as http:
        return await http.request(method, path, content=body, headers=CSV, params=params)


async def roster_of(kit: FeedKit, ods: str = "L85001") -> list[str]:
    async with kit.client("practice", ods) as http:
        response = await http.get(f"/v1/practices/{ods}/roster")
    assert response.status_code == 200, response.text
    return [entry["nhs_number"] for entry in response.json()["entries"]]


async def test_a_care_team_uploads_its_roster_and_reads_its_alerts_like_a_practice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    access = Access(tmp_path, capsys)
    assert access.cli("add-user", "--practice", "coach1", "--username", "coach")[0] == 0
    code, issued = access.cli("issue", "--practice", "COACH1", "--username", "coach")
    assert (code, issued["practice"]) == (0, "COACH1")
    async with access.client(issued["token"]) as coach:
        done = await coach.put(
            "/v1/practices/COACH1/roster",
            content=f"nhs_number\n943 476 5919\n{B}\n12345\n",
            headers=CSV,
        )
        assert done.status_code == 200, done.text
        assert done.json() == {
            "recipient": "COACH1",
            "mode": "replace",
            "added": 2,
            "removed": 0,
            "unchanged": 0,
            "rejected": [{"line": 4, "reason": "the NHS number is not ten digits"}],
            "applied": True,
        }
        shown = (await coach.get("/v1/practices/coach1/roster")).json()
        assert (shown["recipient"], shown["count"]) == ("COACH1", 2)
        assert [e["nhs_number"] for e in shown["entries"]] == [A, B]
        assert {e["added_by"] for e in shown["entries"]} == {"coach"}
        access.kit.consume(encounter(nhs_number=A, practice_ods=None))
        (alert,) = (await coach.get("/v1/practices/COACH1/alerts")).json()["alerts"]
        assert (alert["nhs_number"], alert["recipient_reason"]) == (A, "roster")
        # The care team's token is for its own code only, as a practice's is.
        assert (await coach.get(ROSTER)).status_code == 403
        assert (await coach.get("/v1/practices/L85001/alerts")).status_code == 403
    async with access.kit.client("practice", "L85002") as other:
        for method in ("GET", "PUT", "POST"):
            answer = await other.request(
                method,
                "/v1/practices/COACH1/roster",
                content=B,
                headers=CSV,
                params={"mode": "remove"} if method == "POST" else {},
            )
            assert answer.status_code == 403
    async with access.kit.client() as stranger:
        assert (await stranger.get("/v1/practices/COACH1/roster")).status_code == 401
        refused = await stranger.put("/v1/practices/COACH1/roster", content=B, headers=CSV)
        assert refused.status_code == 401
    _, shown = access.cli("roster", "show", "COACH1")  # the CLI shows the same roster
    assert [entry["nhs_number"] for entry in shown["entries"]] == [A, B]
    access.close()


async def test_add_remove_and_replace_do_what_they_say(kit: FeedKit) -> None:
    async with kit.client("practice", "L85001") as http:
        added = await http.post(ROSTER, params={"mode": "add"}, content=f"{A}\n{B}", headers=CSV)
        assert (added.json()["added"], added.json()["unchanged"]) == (2, 0)
        again = await http.post(ROSTER, params={"mode": "add"}, content=f"{B}\n{C}", headers=CSV)
        assert (again.json()["added"], again.json()["unchanged"]) == (1, 1)
        gone = await http.post(ROSTER, params={"mode": "remove"}, content=f"{A}", headers=CSV)
        assert (gone.json()["removed"], gone.json()["unchanged"]) == (1, 0)
    assert await roster_of(kit) == [B, C]
    replaced = (await put(kit, f"{C}\n{A}\n")).json()
    assert (replaced["added"], replaced["removed"], replaced["unchanged"]) == (1, 1, 1)
    assert await roster_of(kit) == [A, C]


async def test_a_replace_whose_every_row_is_rejected_leaves_the_roster_as_it_was(
    kit: FeedKit,
) -> None:
    await put(kit, f"{A}\n{B}\n")
    refused = (await put(kit, "nhs_number\n12345\n9434765918\n")).json()
    assert (refused["applied"], refused["added"], refused["removed"]) == (False, 0, 0)
    assert "left as it was" in refused["note"]
    assert [r["line"] for r in refused["rejected"]] == [2, 3]
    assert await roster_of(kit) == [A, B]
    emptied = (await put(kit, "nhs_number\n")).json()  # a header alone, on purpose
    assert (emptied["applied"], emptied["removed"]) == (True, 2)
    assert await roster_of(kit) == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "detail"),
    [
        ("{}", {"Content-Type": "application/json"}, 415, "text/csv"),
        (f"{A}\n{B}\n{C}\n9990000034\n", CSV, 413, "at most 3 rows"),
        ("x" * 201, CSV, 413, "at most 200 bytes"),
        (b"\xff\xfe9434765919", CSV, 422, "not UTF-8"),
        ("", CSV, 422, "empty"),
        (f"recipient\n{A}", CSV, 422, "nhs_number column"),
    ],
)
async def test_bad_files_are_refused_whole_with_the_reason(
    tmp_path: Path, body: str, headers: dict[str, str], status: int, detail: str
) -> None:
    small = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}", roster_max_rows=3, roster_max_bytes=200)
    answer = await put(small, body, headers=headers)
    assert (answer.status_code, detail in answer.json()["detail"]) == (status, True)
    small.dispose()


async def test_bad_parameters_are_422_for_the_caller(kit: FeedKit) -> None:
    async with kit.client("practice", "L85001") as http:
        assert (await http.post(ROSTER, content=A, headers=CSV)).status_code == 422  # no mode
        assert (await http.get(ROSTER, params={"after": "x"})).status_code == 422
    assert (await staff(kit, "GET", "/v1/practices/not%20a%20code/roster")).status_code == 422


async def test_staff_upload_for_many_recipients_and_unknown_ones_are_rejected(
    kit: FeedKit,
) -> None:
    body = f"recipient,nhs_number\nL85001,{A}\nL85002,{A}\nCOACH9,{B}\nL85002,123\nL85002,{C}\n"
    answer = await staff(kit, "POST", "/v1/rosters", body, mode="add")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "recipients": {
            "L85001": {"added": 1, "removed": 0, "unchanged": 0},
            "L85002": {"added": 2, "removed": 0, "unchanged": 0},
        },
        "mode": "add",
        "added": 3,
        "removed": 0,
        "unchanged": 0,
        "rejected": [
            {"line": 4, "reason": UNKNOWN_RECIPIENT},
            {"line": 5, "reason": "the NHS number is not ten digits"},
        ],
        "applied": True,
    }
    assert await roster_of(kit, "L85002") == [A, C]
    assert (await staff(kit, "PUT", "/v1/practices/COACH9/roster", A)).status_code == 404
    shown = await staff(kit, "GET", "/v1/practices/L85002/roster")
    assert shown.json()["count"] == 2
    uploads = (await staff(kit, "GET", "/v1/staff/rosters/uploads")).json()["uploads"]
    assert [(u["caller"], u["uploaded_by"], u["mode"], u["recipients"]) for u in uploads] == [
        ("staff", "staff", "add", ["L85001", "L85002"])
    ]
    assert (uploads[0]["rows"], uploads[0]["added"], uploads[0]["rejected"]) == (5, 3, 2)
    async with kit.client("practice", "L85001") as practice:
        assert (await practice.get("/v1/staff/rosters/uploads")).status_code == 401
        assert (await practice.get("/v1/staff/alerts/unrouted")).status_code == 401


async def test_an_upload_is_one_audit_row_and_one_log_line_of_counts(kit: FeedKit) -> None:
    with structlog.testing.capture_logs() as logs:
        assert (await put(kit, f"{A}\n{B}\nbad\n")).status_code == 200
    (line,) = [line for line in logs if line["event"] == "roster uploaded"]
    assert {k: line[k] for k in ("caller", "mode", "recipient", "added", "rejected")} == {
        "caller": "practice",
        "mode": "replace",
        "recipient": "L85001",
        "added": 2,
        "rejected": 1,
    }
    (audit,) = [line for line in logs if line["event"] == "audit"]
    assert (audit["action"], audit["rows"], audit["added"]) == ("rosters.replace", 3, 2)
    assert A not in json.dumps(logs) and B not in json.dumps(logs)
    (row,) = kit.read(roster_uploads, None, 10)
    assert (row["uploaded_by"], row["recipients"], row["applied"]) == ("L85001", ["L85001"], True)


async def test_unrouted_alerts_are_shown_to_staff_without_nhs_numbers(kit: FeedKit) -> None:
    kit.consume(encounter(nhs_number=A, practice_ods=None))
    answer = await staff(kit, "GET", "/v1/staff/alerts/unrouted")
    assert answer.status_code == 200
    assert answer.json()["count"] == 1
    assert A not in answer.text
    assert alerts(kit) == []


def test_the_cli_loads_and_shows_a_roster_through_the_same_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    access = Access(tmp_path, capsys)
    file = tmp_path / "team.csv"
    file.write_text(f"nhs_number\n{A}\n{A}\n")
    assert access.cli("roster", "load", "COACH1", str(file), "--mode", "add")[0] == 1  # unknown
    assert access.cli("add-user", "--practice", "COACH1", "--username", "coach")[0] == 0
    with structlog.testing.capture_logs() as logs:  # the log line, not in the --json answer
        code, shown = access.cli("roster", "load", "coach1", str(file), "--mode", "replace")
    assert code == 0
    assert [line["caller"] for line in logs if line["event"] == "roster uploaded"] == ["cli"]
    assert (shown["recipient"], shown["added"], shown["rejected"]) == (
        "COACH1",
        1,
        [{"line": 3, "reason": "duplicate of line 2"}],
    )
    (upload,) = access.kit.read(roster_uploads, None, 10)
    assert (upload["caller"], upload["recipients"]) == ("cli", ["COACH1"])
    file.write_bytes(b"\xff")
    assert access.cli("roster", "load", "COACH1", str(file), "--mode", "add")[0] == 1
    missing = str(tmp_path / "none.csv")
    assert access.cli("roster", "load", "COACH1", missing, "--mode", "add")[0] == 1
    capsys.readouterr()
    assert access_text(access, "roster", "show", "COACH1").startswith("COACH1: 1 patient(s)")
    access.close()


def access_text(access: Access, *args: str) -> str:
    """The CLI's text output (no --json)."""
    assert access_cli.main(list(args), settings=Settings(database_url=access.url)) == 0
    return str(access._capsys.readouterr().out)
