"""`ensemble-hospital-feed-access`: practice users and their bearer tokens.

    ensemble-hospital-feed-access add-user --practice L85001 --username alice
    ensemble-hospital-feed-access issue    --practice L85001 --username alice [--label laptop]
                                           [--expires-days 90]
    ensemble-hospital-feed-access rotate   --practice L85001 --username alice [--grace-hours 24]
    ensemble-hospital-feed-access revoke   --token-id 7
    ensemble-hospital-feed-access revoke   --practice L85001 --username alice   # all of hers
    ensemble-hospital-feed-access disable-user --practice L85001 --username alice
    ensemble-hospital-feed-access list     [--practice L85001]
    ensemble-hospital-feed-access provision --user L85001:alice [--user L85002:bob ...]
                                           [--grace-hours 0]   # add if missing, then rotate
    ensemble-hospital-feed-access roster load COACH1 patients.csv --mode replace|add|remove
    ensemble-hospital-feed-access roster show COACH1            # see entrypoints/roster_cli.py
    (--json before the subcommand: output as JSON)

It works on hospital-feed's own store (HOSPITAL_FEED_DATABASE_URL), migrated first. A token
is printed once, by `issue` or `rotate`, and never stored: the store keeps its SHA-256. A
revoke or disable takes effect on the next request, a practice page session's too
(nothing caches a token). `rotate` leaves the user's current tokens valid for the grace
period, so a client can switch over.
"""

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from ensemble_runtime.clock import Clock, utc_now
from ensemble_runtime.logging import configure_logging
from hospital_feed.adapters.access import IssuedToken
from hospital_feed.config import Settings
from hospital_feed.entrypoints.roster_cli import add_roster_parser, roster_action
from hospital_feed.entrypoints.store_cli import Store, run_cli
from hospital_feed.service_layer.access import (
    AccessError,
    AddUser,
    DisableUser,
    IssueToken,
    ListAccess,
    RevokeToken,
    RevokeUserTokens,
    RotateTokens,
    practice_code,
    username,
)

CLI = "ensemble-hospital-feed-access"
MAX_DAYS = 3650
MAX_GRACE_HOURS = 24 * 90


def _bounded(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=CLI, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    actions = parser.add_subparsers(dest="action", required=True)

    def who(sub: argparse.ArgumentParser, required: bool = True) -> None:
        sub.add_argument("--practice", required=required, help="ODS code, e.g. L85001")
        sub.add_argument("--username", required=required, help="e.g. alice")

    def new_token(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--label", default="", help="what the token is for (shown by list)")
        sub.add_argument(
            "--expires-days",
            type=_bounded(float, 0.001, MAX_DAYS),
            default=None,
            help="the token ends after this many days (default: when revoked)",
        )

    who(actions.add_parser("add-user", help="add a user at a practice"))
    who(actions.add_parser("disable-user", help="refuse all of a user's tokens"))
    issue = actions.add_parser("issue", help="issue a token (printed once)")
    who(issue)
    new_token(issue)
    rotate = actions.add_parser("rotate", help="issue a new token; the old ones end after grace")
    who(rotate)
    new_token(rotate)
    rotate.add_argument(
        "--grace-hours",
        type=_bounded(float, 0, MAX_GRACE_HOURS),
        default=24.0,
        help="how long the user's current tokens stay valid (default 24; 0: end now)",
    )
    revoke = actions.add_parser("revoke", help="revoke one token, or all of a user's")
    revoke.add_argument("--token-id", type=_bounded(int, 1, 2**31 - 1), default=None)
    who(revoke, required=False)
    listing = actions.add_parser("list", help="users and tokens (never a token or its hash)")
    listing.add_argument("--practice", default=None)
    provision = actions.add_parser(
        "provision", help="for automation: add each user if missing, then rotate its token"
    )
    provision.add_argument(
        "--user", action="append", required=True, metavar="PRACTICE:USERNAME", type=_user
    )
    new_token(provision)
    provision.add_argument("--grace-hours", type=_bounded(float, 0, MAX_GRACE_HOURS), default=0.0)
    add_roster_parser(actions)
    return parser


def _user(text: str) -> tuple[str, str]:
    practice, _, name = text.partition(":")
    if not name:
        raise argparse.ArgumentTypeError("expected PRACTICE:USERNAME, e.g. L85001:alice")
    return practice, name


def _days(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(days=value)


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _issued(issued: IssuedToken, args: argparse.Namespace, **more: Any) -> dict[str, Any]:
    return {
        "practice": practice_code(args.practice),
        "username": username(args.username),
        "token_id": issued.token_id,
        "token": issued.token,
        "expires_at": _when(issued.expires_at),
        **more,
    }


def _act(store: Store, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """What was done, as JSON and as text."""
    if args.action == "add-user":
        store.run(AddUser(args.practice, args.username))
        found = {"practice": practice_code(args.practice), "username": username(args.username)}
        return found, f"added {found['username']} at {found['practice']}"
    if args.action == "disable-user":
        revoked = store.run(DisableUser(args.practice, args.username))
        return {"disabled": True, "revoked": revoked}, f"disabled; {revoked} token(s) revoked"
    if args.action == "issue":
        issued = store.run(
            IssueToken(args.practice, args.username, args.label, _days(args.expires_days))
        )
        shown = _issued(issued, args)
        return shown, _token_text(shown)
    if args.action == "rotate":
        grace = timedelta(hours=args.grace_hours)
        issued, ending = store.run(
            RotateTokens(args.practice, args.username, grace, args.label, _days(args.expires_days))
        )
        ends_at = store.clock() + grace
        shown = _issued(issued, args, old_token_ids=ending, old_tokens_end_at=ends_at.isoformat())
        old = ", ".join(str(token_id) for token_id in ending) or "none"
        return shown, _token_text(shown) + f"\nold token(s) {old} end at {ends_at.isoformat()}"
    if args.action == "revoke":
        return _revoke(store, args)
    if args.action == "provision":
        return _provision(store, args)
    if args.action == "roster":
        return roster_action(store, args)
    users = store.run(ListAccess(args.practice))
    return {"users": users}, _listing_text(users)


def _revoke(store: Store, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    by_user = args.practice is not None or args.username is not None
    if (args.token_id is None) == (not by_user):
        raise AccessError("revoke takes --token-id, or --practice and --username")
    if args.token_id is not None:
        done = store.run(RevokeToken(args.token_id))
        text = f"revoked token {args.token_id}" if done else "no such live token"
        return {"token_id": args.token_id, "revoked": int(done)}, text
    if args.practice is None or args.username is None:
        raise AccessError("revoke by user takes both --practice and --username")
    count = store.run(RevokeUserTokens(args.practice, args.username))
    return {"revoked": count}, f"revoked {count} token(s)"


def _provision(store: Store, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """One process for many users (each CLI start costs seconds): idempotent, so a rerun
    only replaces the tokens, ending the old ones after the grace period."""
    grace = timedelta(hours=args.grace_hours)
    known = {(u["practice"], u["username"]) for u in store.run(ListAccess(None))}
    tokens = []
    for practice, name in args.user:
        if (practice_code(practice), username(name)) not in known:
            store.run(AddUser(practice, name))
        issued, _ending = store.run(
            RotateTokens(practice, name, grace, args.label, _days(args.expires_days))
        )
        tokens.append(_issued(issued, argparse.Namespace(practice=practice, username=name)))
    return {"tokens": tokens}, "\n\n".join(_token_text(shown) for shown in tokens)


def _token_text(shown: dict[str, Any]) -> str:
    expires = shown["expires_at"] or "when revoked"
    return (
        f"token {shown['token_id']} for {shown['username']} at {shown['practice']} "
        f"(ends {expires}):\n{shown['token']}\n"
        "Keep it now: it is not stored and cannot be shown again."
    )


def _listing_text(users: list[dict[str, Any]]) -> str:
    lines = []
    for user in users:
        disabled = f" (disabled {user['disabled_at']})" if user["disabled_at"] else ""
        lines.append(f"{user['practice']} {user['username']}{disabled}")
        for token in user["tokens"]:
            ends = token["revoked_at"] or token["expires_at"] or "-"
            label = f" {token['label']!r}" if token["label"] else ""
            lines.append(f"  token {token['token_id']}{label}: {token['state']}, ends {ends}")
    return "\n".join(lines) or "no users"


def main(
    argv: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    clock: Clock = utc_now,
) -> int:
    args = _parser().parse_args(argv)
    settings = settings if settings is not None else Settings()
    if argv is None:  # run as a program: log lines (a roster load's) go to stderr, as the
        # service's do; stdout is the answer, which automation parses (`provision`)
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # not each run's migration check
    act = partial(_act, args=args)
    return run_cli(CLI, settings, clock, act, (AccessError,), args.json)


if __name__ == "__main__":
    sys.exit(main())
