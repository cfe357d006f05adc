"""The access CLI's `roster` action: load a recipient's roster from a CSV file, or show it.

    ensemble-hospital-feed-access roster load COACH1 patients.csv --mode replace|add|remove
    ensemble-hospital-feed-access roster show COACH1 [--after 9434765919] [--limit 1000]

`load` goes through the same command as an upload over HTTP (service_layer/rosters.py):
the same parsing, line numbers and reasons, the same audit row (caller `cli`, the operating
system user). The recipient must be known: a practice user (`add-user`) or a practice token
has its code.
"""

import argparse
import getpass
from pathlib import Path
from typing import Any

from hospital_feed.config import Settings
from hospital_feed.domain.rosters import RosterFileError, RosterMode, parse_roster, recipient_code
from hospital_feed.entrypoints.store_cli import Store
from hospital_feed.service_layer.access import AccessError
from hospital_feed.service_layer.rosters import ShowRoster, UnknownRecipient, UploadRoster


def add_roster_parser(actions: Any) -> None:
    """The `roster` action and its `load` and `show` subactions."""
    roster = actions.add_parser("roster", help="load or show a recipient's roster (CSV)")
    steps = roster.add_subparsers(dest="roster_action", required=True)
    load = steps.add_parser("load", help="apply a CSV file of NHS numbers to a roster")
    load.add_argument("code", help="the recipient: an ODS code or a care team's, e.g. COACH1")
    load.add_argument("file", type=Path, help="CSV, one NHS number a line (header optional)")
    load.add_argument("--mode", choices=[m.value for m in RosterMode], required=True)
    show = steps.add_parser("show", help="a roster's size and entries")
    show.add_argument("code")
    show.add_argument("--after", default="", help="page on after this NHS number")
    show.add_argument("--limit", type=int, choices=range(1, 1001), default=1000, metavar="1-1000")


def _code(text: str) -> str:
    code = recipient_code(text)
    if code is None:
        raise AccessError("a recipient is a code of 3-12 letters and digits, one a letter")
    return code


def _operator() -> str:
    try:
        return getpass.getuser()[:100] or "cli"
    except (KeyError, OSError):  # no user name for this uid
        return "cli"


def _file_text(path: Path, settings: Settings) -> str:
    try:
        if path.stat().st_size > settings.roster_max_bytes:
            raise AccessError(f"a roster file holds at most {settings.roster_max_bytes} bytes")
        return path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise AccessError(f"cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise AccessError("the roster is not UTF-8 text") from None


def roster_action(store: Store, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """What `roster load|show` did, as JSON and as text."""
    code = _code(args.code)
    if args.roster_action == "show":
        page = store.run(ShowRoster(code, args.after, args.limit))
        lines = [f"{code}: {page['count']} patient(s)"] + [
            f"  {e['nhs_number']}  added {e['added_at']} by {e['added_by']}"
            for e in page["entries"]
        ]
        return page, "\n".join(lines)
    text = _file_text(args.file, store.settings)
    try:
        parsed = parse_roster(text, recipient=code, max_rows=store.settings.roster_max_rows)
        uploaded = store.run(UploadRoster(parsed, RosterMode(args.mode), "cli", _operator(), code))
    except (RosterFileError, UnknownRecipient) as error:
        raise AccessError(str(error)) from None
    shown = uploaded.answer()
    summary = (
        f"{code}: {shown['mode']}: {shown['added']} added, {shown['removed']} removed, "
        f"{shown['unchanged']} unchanged, {len(shown['rejected'])} rejected"
    )
    lines = [summary] + [f"  line {r['line']}: {r['reason']}" for r in shown["rejected"]]
    if "note" in shown:
        lines.append(shown["note"])
    return shown, "\n".join(lines)
