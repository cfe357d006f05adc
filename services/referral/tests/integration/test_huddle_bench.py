"""The huddle benchmark (issue 12 item 5) builds the agenda it claims to, on both stores; its
figures come from `bench_huddle_agenda(database_url, 2000)`, timings are not asserted."""

from referral.huddle_bench import bench_huddle_agenda


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
