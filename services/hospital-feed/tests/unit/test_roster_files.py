"""Roster files as people write them: header or not, spaces, line ends, bad rows reported
by line and reason (never by value), bounds."""

import pytest

from hospital_feed.domain.nhs_number import NhsNumberStatus
from hospital_feed.domain.rosters import (
    NO_RECIPIENT,
    NOT_A_RECIPIENT,
    NUMBER_REASONS,
    OTHER_RECIPIENT,
    RejectedRow,
    RosterFileError,
    RosterMode,
    RosterRow,
    RosterTooLarge,
    parse_roster,
    recipient_code,
    roster_change,
)

A, B, C = "9434765919", "9990000018", "9990000026"


def own(text: str, max_rows: int = 100) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(line, NHS number) accepted and (line, reason) rejected, for COACH1's own file."""
    parsed = parse_roster(text, recipient="COACH1", max_rows=max_rows)
    assert {row.recipient for row in parsed.rows} <= {"COACH1"}
    return [(r.line, r.nhs_number) for r in parsed.rows], [
        (r.line, r.reason) for r in parsed.rejected
    ]


def test_a_plain_list_needs_no_header_and_tolerates_spaces_and_any_line_end() -> None:
    text = "943 476 5919\r\n 9990000018 \r9990000026\n"
    assert own(text) == ([(1, A), (2, B), (3, C)], [])


def test_a_header_names_the_column_wherever_it_is_and_extra_columns_are_ignored() -> None:
    text = "\ufeffnote,NHS Number\nward 7,943 476 5919\n,9990000018\n"
    parsed = parse_roster(text, recipient="COACH1", max_rows=10)
    assert parsed.header
    assert [(r.line, r.nhs_number) for r in parsed.rows] == [(2, A), (3, B)]


def test_each_bad_row_is_reported_with_its_line_and_reason_and_the_rest_load() -> None:
    text = "\n".join(
        [
            "nhs_number",
            A,
            "12345",  # malformed
            "9434765918",  # check digit
            "3333333333",  # placeholder
            "",  # blank: skipped, not an error
            ",,",  # commas only: skipped too
            "943476591X",
            A,  # duplicate of line 2
            '"unclosed',  # quoting the CSV reader still takes; the value is malformed
            B,
        ]
    )
    accepted, rejected = own(text)
    assert accepted == [(2, A), (11, B)]
    assert rejected == [
        (3, NUMBER_REASONS[NhsNumberStatus.MALFORMED]),
        (4, NUMBER_REASONS[NhsNumberStatus.BAD_CHECK_DIGIT]),
        (5, NUMBER_REASONS[NhsNumberStatus.PLACEHOLDER]),
        (8, NUMBER_REASONS[NhsNumberStatus.MALFORMED]),
        (9, "duplicate of line 2"),
        (10, NUMBER_REASONS[NhsNumberStatus.MALFORMED]),
    ]
    values = (A, "12345", "9434765918", "3333333333", "943476591X", "unclosed")
    assert not [r for _, r in rejected if any(v in r for v in values)], "no value is echoed"


def test_a_row_without_the_named_column_is_missing_it() -> None:
    assert own("recipient,nhs_number\nCOACH1\n") == (
        [],
        [(2, NUMBER_REASONS[NhsNumberStatus.MISSING])],
    )


def test_a_recipient_s_own_file_may_name_only_itself() -> None:
    text = f"recipient,nhs_number\ncoach1,{A}\nL85001,{B}\n,{C}\n"
    assert own(text) == ([(2, A), (4, C)], [(3, OTHER_RECIPIENT)])


def test_a_staff_file_names_each_row_s_recipient_with_or_without_a_header() -> None:
    bare = parse_roster(f"COACH1,{A}\nl85001,{A}\n", recipient=None, max_rows=10)
    assert list(bare.rows) == [RosterRow(1, "COACH1", A), RosterRow(2, "L85001", A)]
    text = f"nhs_number,recipient\n{B},COACH1\n{B},\n{C},99\n{C},COACH1\n{C},COACH1\n"
    named = parse_roster(text, recipient=None, max_rows=10)
    assert named.by_recipient() == {"COACH1": [B, C]}
    assert list(named.rejected) == [
        RejectedRow(3, NO_RECIPIENT),
        RejectedRow(4, NOT_A_RECIPIENT),  # all digits: no recipient code can be a number
        RejectedRow(6, "duplicate of line 5"),
    ]


def test_a_header_without_the_needed_columns_refuses_the_file() -> None:
    with pytest.raises(RosterFileError, match="nhs_number column"):
        parse_roster(f"recipient\nCOACH1\n{A}\n", recipient="COACH1", max_rows=10)
    with pytest.raises(RosterFileError, match="recipient column"):
        parse_roster(f"nhs_number\n{A}\n", recipient=None, max_rows=10)


def test_an_empty_file_is_refused_but_a_header_alone_is_an_empty_roster() -> None:
    for empty in ("", "\n\n", "\ufeff", " , \n"):
        with pytest.raises(RosterFileError, match="empty"):
            parse_roster(empty, recipient="COACH1", max_rows=10)
    after_blank_lines = parse_roster(f"\n\nnhs_number\n{A}", recipient="COACH1", max_rows=10)
    assert (after_blank_lines.header, [r.line for r in after_blank_lines.rows]) == (True, [4])
    header_only = parse_roster("nhs_number\n", recipient="COACH1", max_rows=10)
    assert (header_only.header, header_only.rows, header_only.rejected) == (True, (), ())


def test_a_file_past_the_row_limit_is_refused_whole() -> None:
    rows = "\n".join([A, B, C])
    assert len(parse_roster(rows, recipient="COACH1", max_rows=3).rows) == 3
    with pytest.raises(RosterTooLarge, match="at most 2 rows"):
        parse_roster(rows, recipient="COACH1", max_rows=2)
    # The header and blank lines are not rows.
    assert len(parse_roster(f"nhs_number\n\n{A}\n{B}", recipient="COACH1", max_rows=2).rows) == 2


def test_nul_and_control_characters_are_bad_rows_not_a_crash() -> None:
    accepted, rejected = own(f"{A}\n\x00{B}\n{C}\x07\n")
    assert accepted == [(1, A)]
    assert [line for line, _ in rejected] == [2, 3]


def test_recipient_codes_are_practices_and_care_teams_never_numbers() -> None:
    assert recipient_code(" coach1 ") == "COACH1"
    assert recipient_code("L85001") == "L85001"
    for refused in ("", "AB", "9434765919", "COACH 1", "A" * 13, "CÔACH1", "L85\x0001"):
        assert recipient_code(refused) is None, refused


def test_modes_change_a_roster_as_they_say() -> None:
    current = {A, B}
    replace = roster_change(RosterMode.REPLACE, current, [B, C])
    assert (replace.add, replace.remove, replace.unchanged) == (frozenset({C}), frozenset({A}), 1)
    add = roster_change(RosterMode.ADD, current, [B, C])
    assert (add.add, add.remove, add.unchanged) == (frozenset({C}), frozenset(), 1)
    remove = roster_change(RosterMode.REMOVE, current, [B, C])
    assert (remove.add, remove.remove, remove.unchanged) == (frozenset(), frozenset({B}), 1)
