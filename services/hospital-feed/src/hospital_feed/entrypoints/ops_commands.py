"""hospital-feed's tokens in the ops CLI: `ensemble tokens ...`.

Found by `ensemble` through the `ensemble.tokens` entry point; each command runs the access CLI
(access_cli.py: its store, its commands, its output) on the settings the service reads
(HOSPITAL_FEED_DATABASE_URL, ...), so there is one implementation of token management. The
values are checked here, so a bad one is a usage line of `ensemble`, never argparse's. This
module imports little: the service is imported when a command runs, not for `--help`.
"""

from typing import Annotated

import typer

from ensemble_runtime.ops_cli import store_at

tokens = typer.Typer(
    help="Practice (and care team) users and their bearer tokens (printed once, stored hashed).",
    no_args_is_help=True,
)

Practice = Annotated[str, typer.Option(help="ODS code (or care team code), e.g. L85001.")]
Username = Annotated[str, typer.Option(help="e.g. alice.")]
Label = Annotated[str, typer.Option(help="What the token is for (shown by list).")]
ExpiresDays = Annotated[
    float | None,
    typer.Option(min=0.001, max=3650, help="The token ends after this many days (default: never)."),
]
GraceHours = Annotated[
    float,
    typer.Option(min=0, max=24 * 90, help="How long the current tokens stay valid (0: end now)."),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]


def _user(text: str) -> str:
    practice, _, name = text.partition(":")
    if not practice or not name:
        raise typer.BadParameter("expected PRACTICE:USERNAME, e.g. L85001:alice")
    return text


def _access(as_json: bool, *args: str) -> None:
    from hospital_feed.config import Settings
    from hospital_feed.entrypoints import access_cli

    settings = Settings()
    with store_at(settings.database_url):  # an unreachable store: one line, exit 3
        code = access_cli.main([*(["--json"] if as_json else []), *args], settings=settings)
    if code:
        raise typer.Exit(code)


def _new_token(label: str, expires_days: float | None) -> list[str]:
    days = [] if expires_days is None else ["--expires-days", str(expires_days)]
    return ["--label", label, *days]


@tokens.command("add-user")
def add_user(practice: Practice, username: Username, as_json: Json = False) -> None:
    """Add a user at a practice (or care team)."""
    _access(as_json, "add-user", "--practice", practice, "--username", username)


@tokens.command()
def issue(
    practice: Practice,
    username: Username,
    label: Label = "",
    expires_days: ExpiresDays = None,
    as_json: Json = False,
) -> None:
    """Issue a token for a user (printed once, never stored)."""
    who = ["--practice", practice, "--username", username]
    _access(as_json, "issue", *who, *_new_token(label, expires_days))


@tokens.command()
def rotate(
    practice: Practice,
    username: Username,
    grace_hours: GraceHours = 24.0,
    label: Label = "",
    expires_days: ExpiresDays = None,
    as_json: Json = False,
) -> None:
    """Issue a new token; the user's current ones end after the grace period."""
    who = ["--practice", practice, "--username", username]
    grace = ["--grace-hours", str(grace_hours)]
    _access(as_json, "rotate", *who, *grace, *_new_token(label, expires_days))


@tokens.command()
def revoke(
    token_id: Annotated[
        int | None, typer.Option(min=1, max=2**31 - 1, help="One token, by its id (see list).")
    ] = None,
    practice: Annotated[str | None, typer.Option(help="With --username: all of hers.")] = None,
    username: Annotated[str | None, typer.Option(help="With --practice.")] = None,
    as_json: Json = False,
) -> None:
    """Revoke one token, or all of a user's; it is refused from the next request."""
    args = [] if token_id is None else ["--token-id", str(token_id)]
    args += [] if practice is None else ["--practice", practice]
    args += [] if username is None else ["--username", username]
    _access(as_json, "revoke", *args)


@tokens.command("disable-user")
def disable_user(practice: Practice, username: Username, as_json: Json = False) -> None:
    """Refuse all of a user's tokens."""
    _access(as_json, "disable-user", "--practice", practice, "--username", username)


@tokens.command("list")
def list_access(
    practice: Annotated[str | None, typer.Option(help="Only this practice.")] = None,
    as_json: Json = False,
) -> None:
    """Users and their tokens' states (never a token or its hash)."""
    _access(as_json, "list", *([] if practice is None else ["--practice", practice]))


@tokens.command()
def provision(
    user: Annotated[
        list[str],
        typer.Option(
            metavar="PRACTICE:USERNAME",
            parser=_user,
            help="A user (repeatable), e.g. L85001:alice.",
        ),
    ],
    label: Label = "",
    expires_days: ExpiresDays = None,
    grace_hours: Annotated[
        float, typer.Option(min=0, max=24 * 90, help="How long the old tokens stay valid.")
    ] = 0.0,
    as_json: Json = False,
) -> None:
    """For automation: add each user if missing, then rotate its token (one store session)."""
    users = [arg for name in user for arg in ("--user", name)]
    grace = ["--grace-hours", str(grace_hours)]
    _access(as_json, "provision", *users, *grace, *_new_token(label, expires_days))
