"""Roster uploads (issue 9): a recipient's own file (HTTP with its token, or the access CLI),
or a staff file naming each row's recipient. One command for all of them, in one unit of
work: the rosters change and the upload is audited (`roster_uploads`) in the same
transaction, plus one log line with counts only, never an NHS number.

A recipient is known when a practice user in this store or an env practice token
(HOSPITAL_FEED_PRACTICE_TOKENS) has its code: only a known recipient can read its alerts, so
a roster for any other code would route alerts nobody reads. A replace changes only the
rosters its accepted rows name: a file whose every row is rejected leaves the roster as it
was, never empty (a header row alone is how a roster is emptied on purpose).

Rosters speak for events still to come: a patient added to a roster is not re-sent the
alerts of earlier events (nor the unrouted ones).
"""

from dataclasses import dataclass
from typing import Any

import structlog

from ensemble_runtime.definition import Command
from hospital_feed.adapters.unit_of_work import HospitalFeedUnitOfWork
from hospital_feed.domain.rosters import (
    UNKNOWN_RECIPIENT,
    ParsedRoster,
    RejectedRow,
    RosterMode,
    RosterRow,
    roster_change,
)
from hospital_feed.domain.stored_text import single_line

log = structlog.get_logger(__name__)
CALLERS = frozenset({"practice", "staff", "cli"})
ALL_REJECTED = "every row was rejected, so the roster was left as it was (not emptied)"


class UnknownRecipient(LookupError):
    """A roster for a code that no practice user or practice token has."""


@dataclass(frozen=True)
class RecipientChange:
    added: int
    removed: int
    unchanged: int


@dataclass(frozen=True)
class RosterUploaded:
    """What an upload did: per recipient, and the rows it refused (line and reason)."""

    mode: RosterMode
    recipient: str | None  # the roster's, for a one-recipient upload
    changes: dict[str, RecipientChange]
    rejected: tuple[RejectedRow, ...]
    rows: int
    note: str | None = None

    @property
    def applied(self) -> bool:
        return bool(self.changes)

    def total(self, name: str) -> int:
        return sum(int(getattr(change, name)) for change in self.changes.values())

    def answer(self) -> dict[str, Any]:
        """As HTTP and the CLI show it."""
        who: dict[str, Any] = (
            {"recipient": self.recipient}
            if self.recipient is not None
            else {"recipients": {code: vars(c) for code, c in sorted(self.changes.items())}}
        )
        shown = who | {
            "mode": self.mode.value,
            "added": self.total("added"),
            "removed": self.total("removed"),
            "unchanged": self.total("unchanged"),
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "applied": self.applied,
        }
        return shown | ({"note": self.note} if self.note else {})


@dataclass(frozen=True)
class UploadRoster(Command[RosterUploaded]):
    """Apply a parsed roster file (`domain.rosters.parse_roster`). `recipient`: the roster's
    recipient (its own upload, or staff's for one code); None for a staff file whose rows
    each name one. `caller` is practice (the recipient's own token: known by that), staff
    or cli; `uploaded_by` the caller's user, as audited."""

    roster: ParsedRoster
    mode: RosterMode
    caller: str
    uploaded_by: str
    recipient: str | None = None
    rerun_on_conflict = True  # two uploads adding one patient at once: the rerun sees it

    def __post_init__(self) -> None:
        if self.caller not in CALLERS:
            raise ValueError(f"a roster is uploaded by one of {sorted(CALLERS)}")
        if self.caller == "practice" and self.recipient is None:
            raise ValueError("a practice uploads its own roster only")


@dataclass(frozen=True)
class ShowRoster(Command[dict[str, Any]]):
    """The recipient's roster: its size and a page of entries after the NHS number `after`."""

    recipient: str
    after: str = ""
    limit: int = 1000


def _known(uow: HospitalFeedUnitOfWork, codes: set[str]) -> set[str]:
    env_tokens = {code.upper() for code in uow.settings.caller_tokens().get("practice", {})}
    return (codes & env_tokens) | uow.rosters.recipients_with_users(codes - env_tokens)


def _rows_for_known(
    uow: HospitalFeedUnitOfWork, command: UploadRoster
) -> tuple[list[RosterRow], list[RejectedRow]]:
    """The accepted rows whose recipient is known, and the rejected ones (parsing's and the
    unknown recipients'). A practice's own upload is for a known recipient: the caller."""
    rows, rejected = list(command.roster.rows), list(command.roster.rejected)
    if command.caller == "practice":
        return rows, rejected
    named = {row.recipient for row in rows}
    if command.recipient is not None:
        named.add(command.recipient)
    known = _known(uow, named)
    if command.recipient is not None and command.recipient not in known:
        raise UnknownRecipient(UNKNOWN_RECIPIENT)
    unknown = [RejectedRow(r.line, UNKNOWN_RECIPIENT) for r in rows if r.recipient not in known]
    return [row for row in rows if row.recipient in known], rejected + unknown


def upload_roster(uow: HospitalFeedUnitOfWork, command: UploadRoster) -> RosterUploaded:
    parsed = command.roster
    rows, rejected = _rows_for_known(uow, command)
    wanted: dict[str, list[str]] = {}
    for row in rows:
        wanted.setdefault(row.recipient, []).append(row.nhs_number)
    if command.recipient is not None and not parsed.rows and not parsed.rejected:
        wanted[command.recipient] = []  # a header row alone: replace empties the roster
    now, changes, by = uow.clock(), {}, single_line(command.uploaded_by)[:100]  # the columns'
    for recipient in sorted(wanted):
        change = roster_change(command.mode, uow.rosters.numbers_of(recipient), wanted[recipient])
        uow.rosters.add(recipient, change.add, by, now)
        uow.rosters.remove(recipient, change.remove)
        changes[recipient] = RecipientChange(len(change.add), len(change.remove), change.unchanged)
    refused_all = command.mode is RosterMode.REPLACE and not changes
    uploaded = RosterUploaded(
        command.mode,
        command.recipient,
        changes,
        tuple(sorted(rejected, key=lambda r: r.line)),
        len(parsed.rows) + len(parsed.rejected),
        ALL_REJECTED if refused_all else None,
    )
    recipients = sorted(changes) if command.recipient is None else [command.recipient]
    counts = {
        "rows": uploaded.rows,
        "added": uploaded.total("added"),
        "removed": uploaded.total("removed"),
        "unchanged": uploaded.total("unchanged"),
        "rejected": len(uploaded.rejected),
    }
    uow.rosters.record_upload(
        {
            "uploaded_at": now,
            "uploaded_by": by,
            "caller": command.caller,
            "mode": command.mode.value,
            "recipients": ",".join(recipients),
            "applied": uploaded.applied,
            **counts,
        }
    )
    # Codes only (never an NHS number): a recipient code always holds a letter.
    uow.after_commit(
        lambda: log.info(
            "roster uploaded",
            caller=command.caller,
            mode=command.mode.value,
            recipient=command.recipient,
            recipients=len(recipients),
            applied=uploaded.applied,
            **counts,
        )
    )
    uow.commit()
    return uploaded


def show_roster(uow: HospitalFeedUnitOfWork, command: ShowRoster) -> dict[str, Any]:
    return uow.rosters.page(command.recipient, command.after, command.limit)


HANDLERS: dict[type[Any], Any] = {UploadRoster: upload_roster, ShowRoster: show_roster}
