"""The huddle benchmark (issue 12 item 5) builds the agenda it claims to, on both stores; its
figures come from `bench_huddle_agenda(database_url, 2000)`, timings are not asserted."""

import json

import pytest

from referral.huddle_bench import bench_huddle_agenda, main


def test_the_benchmark_builds_thursday_s_agenda_with_monday_s_open_actions(
    database_url: str,
) -> None:
    figures = bench_huddle_agenda(database_url, caseload=200, reads=1)
    # Half a week since Monday for 200 patients: 3 each of A&E, admissions and discharges,
    # 2 band rises, 4 DNAs; and the team's own 4 breaches and 6 proposals.
    assert figures["caseload"] == 200
    assert figures["items"] == 3 * 3 + 2 + 4 + 4 + 6
    assert figures["carried_over"] == 40
    assert figures["signals"] > figures["items"]


def test_the_command_prints_the_figures_of_a_fresh_sqlite_store(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["--caseload", "50", "--reads", "1"])
    out = capsys.readouterr().out  # log lines may come first; the figures are the last thing
    figures = json.loads(out[out.index("\n{") if not out.startswith("{") else 0 :])
    assert (figures["store"], figures["caseload"]) == ("sqlite", 50)
    assert 0 < figures["carried_over"] <= 40  # Monday's items, each given an action, up to 40
    assert {"open_seconds", "agenda_seconds", "sheet_seconds"} <= figures.keys()


def test_the_command_refuses_an_empty_caseload(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_code:
        main(["--caseload", "0"])
    assert exit_code.value.code == 2
    assert "--caseload and --reads must be at least 1" in capsys.readouterr().err
