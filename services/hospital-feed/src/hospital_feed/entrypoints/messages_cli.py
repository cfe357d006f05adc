"""`ensemble-hospital-feed-messages`: the staff message browser from a shell.

    ensemble-hospital-feed-messages search [--sender RCB] [--control-id MSG0001] [--trigger A01]
                                    [--ack-code AE] [--status rejected] [--from ISO] [--to ISO]
                                    [--nhs-number -] [--before ID] [--limit 50]
    ensemble-hospital-feed-messages show 42                # raw text and ACK; audited
    ensemble-hospital-feed-messages reprocess [filters] [--after ID] [--limit 100] [--all]
    ensemble-hospital-feed-messages resubmit 42 --file fixed.hl7 [--note "PV1-44 fixed"]
    ensemble-hospital-feed-messages discard 42 --reason "test message sent by the trust"
    ensemble-hospital-feed-messages channels
    ensemble-hospital-feed-messages rehash [--all]        # after setting or changing the key
    (--json before the subcommand: output as JSON)

It works on hospital-feed's own store (HOSPITAL_FEED_DATABASE_URL), migrated first, through
the same service-layer commands as the API. `--nhs-number -` reads the number from standard
input, so it stays out of the shell's history and the process list. Views, resubmissions and
discards are audited as `cli:<your login>`.
"""

import argparse
import getpass
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from ensemble_runtime.clock import Clock, utc_now
from ensemble_runtime.logging import configure_logging
from hospital_feed.adapters import message_browser as views
from hospital_feed.config import Settings
from hospital_feed.domain.message_search import SearchRefused, SearchUnavailable, displayable
from hospital_feed.entrypoints.store_cli import Store, run_cli
from hospital_feed.service_layer.message_browser import (
    MAX_BULK,
    MAX_REHASH,
    DiscardMessage,
    NotClosable,
    RehashNhsNumbers,
    ReprocessMatching,
    ResubmitMessage,
    ShowMessage,
    StaffAction,
)
from hospital_feed.service_layer.message_filters import message_filter

CLI = "ensemble-hospital-feed-messages"
MAX_ID = 2**31 - 1


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return value

    return parse


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected ISO 8601, e.g. 2026-12-01T09:00+00:00") from None


def _filters(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--sender")
    sub.add_argument("--control-id", help="MSH-10, exactly")
    sub.add_argument("--trigger", help="e.g. A01")
    sub.add_argument("--ack-code", help="AA, AE or AR")
    sub.add_argument("--status", help="e.g. rejected, held")
    sub.add_argument("--from", dest="received_from", type=_moment, help="received at or after")
    sub.add_argument("--to", dest="received_to", type=_moment, help="received before")
    sub.add_argument("--nhs-number", help="'-': read it from standard input")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=CLI, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    actions = parser.add_subparsers(dest="action", required=True)
    search = actions.add_parser("search", help="stored messages, newest first")
    _filters(search)
    search.add_argument("--before", type=_bounded(0, MAX_ID), default=0)
    search.add_argument("--limit", type=_bounded(1, 500), default=50)
    show = actions.add_parser("show", help="one message's raw text and ACK (audited)")
    show.add_argument("message_id", type=_bounded(1, MAX_ID))
    rerun = actions.add_parser("reprocess", help="rerun the rejected and held messages matched")
    _filters(rerun)
    rerun.add_argument("--after", type=_bounded(0, MAX_ID), default=0)
    rerun.add_argument("--limit", type=_bounded(1, MAX_BULK), default=100)
    rerun.add_argument("--all", action="store_true", help="call again until none is left")
    resubmit = actions.add_parser("resubmit", help="receive a corrected text of a message")
    resubmit.add_argument("message_id", type=_bounded(1, MAX_ID))
    resubmit.add_argument("--file", required=True, help="the corrected message ('-': stdin)")
    resubmit.add_argument("--note", default="", help="why (kept on the original)")
    discard = actions.add_parser("discard", help="close a rejected or held message for good")
    discard.add_argument("message_id", type=_bounded(1, MAX_ID))
    discard.add_argument("--reason", required=True)
    actions.add_parser("channels", help="per-sender counts and last message time")
    rehash = actions.add_parser("rehash", help="recompute NHS number hashes under the key")
    rehash.add_argument("--all", action="store_true", help="call again until done")
    return parser


def _wanted(store: Store, args: argparse.Namespace) -> Any:
    number = args.nhs_number
    if number == "-":
        number = sys.stdin.readline().strip()
    return message_filter(
        store.settings.message_search_hmac_key(),
        sender=args.sender,
        control_id=args.control_id,
        trigger=args.trigger,
        ack_code=args.ack_code,
        status=args.status,
        received_from=args.received_from,
        received_to=args.received_to,
        nhs_number=number,
    )


def _text_of(path: str) -> str:
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    text = data.decode("utf-8")
    return text.replace("\r\n", "\r").replace("\n", "\r")  # files have lines; HL7 has CRs


def _listing(messages: list[dict[str, Any]]) -> str:
    lines = [
        f"{m['id']:>8} {m['received_at'][:19]} {m['sender']:<6} {m['control_id']:<20} "
        f"{m['trigger']:<4} {m['status']:<11} {m['ack_code']} {m['error'] or ''}"
        for m in messages
    ]
    return "\n".join(lines) or "no messages"


def _act(store: Store, args: argparse.Namespace, by: StaffAction) -> tuple[Any, str]:
    """What was done, as JSON and as text."""
    if args.action == "search":
        found = store.read(views.search_messages, _wanted(store, args), args.before, args.limit)
        return {"messages": found}, _listing(found)
    if args.action == "show":
        shown = store.run(ShowMessage(args.message_id, by))
        if shown is None:
            raise NotClosable("no such message")
        raw = displayable(shown.raw)
        result = {
            "message": shown.message,
            "raw": raw,
            "ack": shown.ack,
            "closed_reason": shown.closed_reason,
            "resubmissions": shown.resubmissions,
        }
        text = f"{_listing([shown.message])}\n\n{raw.replace(chr(13), chr(10))}\n\nACK:\n"
        return result, text + shown.ack.replace("\r", "\n")
    if args.action == "reprocess":
        return _reprocess(store, args, by)
    if args.action == "resubmit":
        done = store.run(ResubmitMessage(args.message_id, _text_of(args.file), by, args.note))
        if done is None:
            raise NotClosable("no such message")
        text = f"received as message {done.message_id}: {done.status} ({done.ack_code})"
        return asdict(done), text
    if args.action == "discard":
        discarded = store.run(DiscardMessage(args.message_id, args.reason, by))
        if discarded is None:
            raise NotClosable("no such message")
        return discarded, f"message {args.message_id} discarded"
    if args.action == "rehash":
        return _rehash(store, args)
    channels = store.read(views.channel_statistics, store.settings.known_senders())
    text = "\n".join(
        f"{c['sender']:<6} received {c['received']}, accepted {c['accepted']}, held {c['held']}, "
        f"rejected {c['rejected']}, duplicate {c['duplicate']}, last {c['last_message_at']}"
        for c in channels
    )
    return {"channels": channels}, text or "no senders"


def _reprocess(store: Store, args: argparse.Namespace, by: StaffAction) -> tuple[Any, str]:
    wanted, after, totals, processed = _wanted(store, args), args.after, dict[str, int](), 0
    while True:
        done = store.run(ReprocessMatching(wanted, by, after, args.limit))
        processed += done.processed
        for status, count in done.counts.items():
            totals[status] = totals.get(status, 0) + count
        if done.next_after is None or not args.all:
            break
        after = done.next_after
    counts = ", ".join(f"{status} {count}" for status, count in totals.items()) or "none"
    result = {"counts": totals, "processed": processed, "next_after": done.next_after}
    more = f"; more after {done.next_after}" if done.next_after is not None else ""
    return result, f"reran {processed}: {counts}{more}"


def _rehash(store: Store, args: argparse.Namespace) -> tuple[Any, str]:
    after, updated = 0, 0
    while True:
        done = store.run(RehashNhsNumbers(after, MAX_REHASH))
        updated += done.updated
        if done.next_after is None or not args.all:
            break
        after = done.next_after
    keyed = store.settings.message_search_hmac_key() is not None
    result = {"updated": updated, "next_after": done.next_after, "keyed": keyed}
    return result, f"rehashed {updated} message(s){'' if keyed else ' (no key: hashes cleared)'}"


def main(
    argv: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    clock: Clock = utc_now,
) -> int:
    args = _parser().parse_args(argv)
    if settings is None:  # run as the command: log lines to stderr, as the service's
        settings = Settings()
        configure_logging(CLI, settings.log_level, settings.log_json)
    by = StaffAction(f"cli:{getpass.getuser()}", "cli")
    refusals = (NotClosable, SearchRefused, SearchUnavailable, UnicodeDecodeError)
    return run_cli(CLI, settings, clock, lambda store: _act(store, args, by), refusals, args.json)


if __name__ == "__main__":
    sys.exit(main())
