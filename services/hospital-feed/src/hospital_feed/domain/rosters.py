"""Subscription rosters: the patients a recipient follows whatever PD1-3 says (issue 9).

A recipient is a GP practice (its ODS code, `L85001`) or a care team (its own code, e.g.
the coaching hub `COACH1`): 3-12 letters and digits, at least one a letter. So a recipient
code can never be an NHS number (ten digits), and it may go into logs and audit lines.

A roster file is CSV, one patient a line. The header row is optional: without it the
columns are `nhs_number` (a recipient's own upload) or `recipient,nhs_number` (a staff file
naming each row's recipient); with it, the columns are found by name and others ignored.
NHS numbers may be written with spaces (`943 476 5919`). A bad row is reported with its
1-based line number and a reason that never repeats its value; the other rows load.
"""

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from ensemble_contracts import limits
from hospital_feed.domain.nhs_number import NhsNumberStatus, classify, normalise

RECIPIENT_CODE = re.compile(rf"(?=.*[A-Z])[A-Z0-9]{{3,{limits.ODS_CODE}}}")
NHS_NUMBER = "nhs_number"
RECIPIENT = "recipient"
_LINE_ENDS = re.compile(r"\r\n|\r|\n")

NUMBER_REASONS = {
    NhsNumberStatus.MISSING: "no NHS number",
    NhsNumberStatus.MALFORMED: "the NHS number is not ten digits",
    NhsNumberStatus.PLACEHOLDER: "the NHS number is a placeholder, not a patient",
    NhsNumberStatus.BAD_CHECK_DIGIT: "the NHS number fails the modulus-11 check digit",
}
NO_RECIPIENT = "no recipient (the file needs a recipient column)"
NOT_A_RECIPIENT = "the recipient is not a code of 3-12 letters and digits, one a letter"
OTHER_RECIPIENT = "the row names another recipient than the roster's"
UNKNOWN_RECIPIENT = "unknown recipient: no practice user or practice token has that code"
NOT_CSV = "not a CSV row"


class RosterMode(StrEnum):
    REPLACE = "replace"  # the roster becomes exactly the file
    ADD = "add"
    REMOVE = "remove"


class RosterFileError(ValueError):
    """A file refused as a whole; the message says why (never with a value from it)."""


class RosterTooLarge(RosterFileError):
    """More rows than one upload may hold."""


def recipient_code(value: str) -> str | None:
    """The recipient code as stored (upper case), or None when it is not one."""
    code = value.strip().upper()
    return code if RECIPIENT_CODE.fullmatch(code) else None


@dataclass(frozen=True)
class RosterRow:
    line: int
    recipient: str
    nhs_number: str  # normalised, valid


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


@dataclass(frozen=True)
class ParsedRoster:
    rows: tuple[RosterRow, ...] = ()
    rejected: tuple[RejectedRow, ...] = ()
    header: bool = False

    def by_recipient(self) -> dict[str, list[str]]:
        """The accepted NHS numbers per recipient, in file order."""
        found: dict[str, list[str]] = {}
        for row in self.rows:
            found.setdefault(row.recipient, []).append(row.nhs_number)
        return found


@dataclass(frozen=True)
class _Columns:
    nhs_number: int
    recipient: int | None


def _cells(line: str) -> list[str] | None:
    try:
        return [cell.strip() for cell in next(csv.reader([line]), [])]
    except csv.Error:
        return None


def _header(cells: list[str], for_recipient: str | None) -> _Columns | None:
    """The columns a header row names, or None when the row is data."""
    names = [re.sub(r"[\s-]+", "_", cell.lower()) for cell in cells]  # "NHS Number" too
    if NHS_NUMBER not in names and RECIPIENT not in names:
        return None
    if NHS_NUMBER not in names:
        raise RosterFileError(f"the header row has no {NHS_NUMBER} column")
    recipient = names.index(RECIPIENT) if RECIPIENT in names else None
    if recipient is None and for_recipient is None:
        raise RosterFileError(
            f"a staff roster names each row's recipient: add a {RECIPIENT} column"
        )
    return _Columns(names.index(NHS_NUMBER), recipient)


def _row(cells: list[str], columns: _Columns, for_recipient: str | None) -> tuple[str, str] | str:
    """(recipient, NHS number) of a data row, or the reason it is refused."""
    if columns.nhs_number >= len(cells):
        return NUMBER_REASONS[NhsNumberStatus.MISSING]
    recipient = for_recipient
    if columns.recipient is not None:
        if columns.recipient >= len(cells) or not cells[columns.recipient]:
            if for_recipient is None:
                return NO_RECIPIENT
        else:
            recipient = recipient_code(cells[columns.recipient])
            if recipient is None:
                return NOT_A_RECIPIENT
            if for_recipient is not None and recipient != for_recipient:
                return OTHER_RECIPIENT
    if recipient is None:
        return NO_RECIPIENT
    status = classify(cells[columns.nhs_number])
    if status is not NhsNumberStatus.VALID:
        return NUMBER_REASONS[status]
    return recipient, normalise(cells[columns.nhs_number])


def parse_roster(text: str, *, recipient: str | None, max_rows: int) -> ParsedRoster:
    """Read a roster file for one recipient (`recipient`), or a staff file naming each row's
    recipient (`recipient=None`). Blank lines are skipped; a row repeating an earlier one is
    refused as a duplicate. RosterTooLarge past `max_rows` data rows; RosterFileError for a
    file with no rows and no header, or a header without the needed columns."""
    columns = _Columns(0, None) if recipient is not None else _Columns(1, 0)
    rows: list[RosterRow] = []
    rejected: list[RejectedRow] = []
    header = False
    data_rows = 0
    first_line_of: dict[tuple[str, str], int] = {}
    for number, line in enumerate(_lines(text), start=1):
        cells = _cells(line)
        if cells is not None and not any(cells):
            continue  # a blank line, or commas only
        if data_rows == 0 and not header and cells is not None:  # the first non-blank line
            named = _header(cells, recipient)
            if named is not None:
                columns, header = named, True
                continue
        data_rows += 1
        if data_rows > max_rows:
            raise RosterTooLarge(f"a roster upload holds at most {max_rows} rows; split the file")
        found = NOT_CSV if cells is None else _row(cells, columns, recipient)
        if isinstance(found, str):
            rejected.append(RejectedRow(number, found))
            continue
        earlier = first_line_of.setdefault(found, number)
        if earlier != number:
            rejected.append(RejectedRow(number, f"duplicate of line {earlier}"))
            continue
        rows.append(RosterRow(number, *found))
    if not header and data_rows == 0:
        raise RosterFileError(
            "the roster file is empty (a header row alone replaces a roster with nothing)"
        )
    return ParsedRoster(tuple(rows), tuple(rejected), header)


def _lines(text: str) -> Iterable[str]:
    lines = _LINE_ENDS.split(text.removeprefix("\ufeff"))
    if lines and lines[-1] == "":
        lines.pop()  # the file's last line end
    return lines


@dataclass(frozen=True)
class RosterChange:
    """What one upload does to one recipient's roster."""

    add: frozenset[str]
    remove: frozenset[str]
    unchanged: int  # rows that changed nothing (already on it; or, to remove, not on it)


def roster_change(mode: RosterMode, current: set[str], wanted: Iterable[str]) -> RosterChange:
    listed = frozenset(wanted)
    if mode is RosterMode.ADD:
        return RosterChange(listed - current, frozenset(), len(listed & current))
    if mode is RosterMode.REMOVE:
        return RosterChange(frozenset(), listed & current, len(listed - current))
    return RosterChange(listed - current, frozenset(current - listed), len(listed & current))
