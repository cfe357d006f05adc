"""`ensemble dlq`: a service's dead letters (list, show, replay, discard), on dlq_cli's rules.

A service's letters are those its consumer groups gave up on (on the DLQs of the topics it
consumes) and those its outbox relay parked (on the DLQs of the topics it publishes). The
rules of a replay (once, only to the DLQ's own topic, appended after newer events) are in
dlq_cli.py; output never shows a payload or a key (NHS numbers).
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import typer
from rich.table import Table

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_runtime import dlq_cli
from ensemble_runtime.dead_letters import RELAY
from ensemble_runtime.ops_cli.common import (
    JsonOption,
    QuietOption,
    ServiceOption,
    Target,
    emit,
    progress_bar,
    target,
)
from ensemble_runtime.ops_cli.errors import USAGE, OpsError
from ensemble_runtime.ops_metrics import consumer_groups, dead_letter_topics

app = typer.Typer(help="Dead letters: list, show, replay, discard.", no_args_is_help=True)


def _utc(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


TopicOption = Annotated[
    str | None,
    typer.Option("--topic", "-t", help="One of the service's DLQs (default: all of them)."),
]
EventIds = Annotated[
    list[UUID] | None,
    typer.Option(
        "--event-id", metavar="UUID", help="A letter's id or its failed event's (repeatable)."
    ),
]
ConsumerOption = Annotated[str | None, typer.Option(help="The consumer group that gave up.")]
ErrorTypeOption = Annotated[str | None, typer.Option(help="e.g. ValidationError, IntegrityError.")]
SinceOption = Annotated[
    datetime | None,
    typer.Option(parser=_utc, metavar="ISO-TIME", help="Failed at or after (UTC if no offset)."),
]
UntilOption = Annotated[
    datetime | None,
    typer.Option(parser=_utc, metavar="ISO-TIME", help="Failed before (UTC if no offset)."),
]


def _scope(service: Target) -> Callable[[DeadLetter], bool]:
    groups = set(consumer_groups(service.definition.subscriptions))
    producers = {service.name, service.settings.service_name}

    def owned(letter: DeadLetter) -> bool:
        return letter.consumer in groups or (
            letter.consumer == RELAY and letter.producer in producers
        )

    return owned


def _topics(service: Target, topic: str | None) -> list[str]:
    known = dead_letter_topics(service.definition)
    if topic is None:
        return known
    if topic not in known:
        raise OpsError(f"{topic} is not a DLQ of {service.name} ({', '.join(known)})", USAGE)
    return [topic]


def _selection(
    service: Target,
    event_id: list[UUID] | None,
    consumer: str | None,
    error_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> dlq_cli.Selection:
    return dlq_cli.Selection(
        frozenset(event_id or ()), consumer, error_type, since, until, _scope(service)
    )


def _shown(stored: dlq_cli.Stored, topic: str, contents: dlq_cli.Contents) -> dict[str, Any]:
    letter = stored.letter
    return {
        "topic": topic,
        "at": f"{stored.partition}/{stored.offset}",
        "replayed": letter.event_id in contents.replayed,
        "discarded": letter.event_id in contents.discarded,
        "payload_bytes": len(letter.payload.encode()),
        "letter": letter.model_dump(mode="json", exclude={"payload", "source_key"}),
    }


def _state(shown: dict[str, Any]) -> str:
    return "discarded" if shown["discarded"] else "replayed" if shown["replayed"] else "pending"


def _read_all(service: Target, topics: list[str]) -> list[tuple[str, dlq_cli.Contents]]:
    async def read() -> list[tuple[str, dlq_cli.Contents]]:
        security = service.security()
        return [(topic, await dlq_cli.read(service.bootstrap, topic, security)) for topic in topics]

    return service.on_kafka(read())


@app.command("list")
def list_letters(
    ctx: typer.Context,
    service: ServiceOption = None,
    topic: TopicOption = None,
    event_id: EventIds = None,
    consumer: ConsumerOption = None,
    error_type: ErrorTypeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    all_letters: Annotated[
        bool, typer.Option("--all", help="Include replayed and discarded letters.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The service's pending dead letters (no payloads, no keys)."""
    chosen = target(ctx, service)
    selection = _selection(chosen, event_id, consumer, error_type, since, until)
    letters, malformed = [], []
    for name, contents in _read_all(chosen, _topics(chosen, topic)):
        malformed += [f"{name} {line}" for line in contents.malformed]
        for stored in contents.letters:
            shown = _shown(stored, name, contents)
            if selection.matches(stored.letter) and (all_letters or _state(shown) == "pending"):
                letters.append(shown)

    def table() -> Table:
        grid = Table(title=f"{chosen.name}: {len(letters)} dead letter(s)")
        for column in ("topic", "at", "failed at", "consumer", "error", "letter id", "state"):
            grid.add_column(column)
        for shown in letters:
            letter = shown["letter"]
            grid.add_row(
                shown["topic"],
                shown["at"],
                letter["failed_at"],
                letter["consumer"],
                letter["error_type"],
                letter["event_id"],
                _state(shown),
            )
        return grid

    emit({"service": chosen.name, "letters": letters, "malformed": malformed}, table, as_json)


@app.command()
def show(
    ctx: typer.Context,
    letter_id: Annotated[UUID, typer.Argument(help="The letter's id, or its failed event's.")],
    service: ServiceOption = None,
    topic: TopicOption = None,
    as_json: JsonOption = False,
) -> None:
    """One dead letter in full: where it failed, why, and whether it was replayed."""
    chosen = target(ctx, service)
    for name, contents in _read_all(chosen, _topics(chosen, topic)):
        for stored in contents.letters:
            if letter_id in (stored.letter.event_id, stored.letter.causation_id):
                shown = _shown(stored, name, contents)
                fields = [f"{key}: {value}" for key, value in shown["letter"].items()]
                head = f"{name} at {shown['at']}: {_state(shown)}"
                size = f"payload: {shown['payload_bytes']} bytes (not shown)"
                text = "\n".join([head, *fields, size])
                emit(shown, text, as_json)
                return
    raise _unknown([letter_id], chosen, topic)


def _unknown(ids: list[UUID], service: Target, topic: str | None) -> OpsError:
    listed = ", ".join(str(letter_id) for letter_id in ids)
    where = ", ".join(_topics(service, topic))
    return OpsError(f"no dead letter {listed} of {service.name} on {where}", USAGE)


def _require_known(service: Target, topic: str | None, ids: list[UUID] | None) -> None:
    """Ids asked for by --event-id must be the service's letters: a typo is said, not
    reported as "0 replayed" (exit 2, before anything is done)."""
    if not ids:
        return
    scope = _scope(service)
    known: set[UUID | None] = set()
    for _, contents in _read_all(service, _topics(service, topic)):
        for stored in contents.letters:
            if scope(stored.letter):
                known |= {stored.letter.event_id, stored.letter.causation_id}
    missing = [letter_id for letter_id in dict.fromkeys(ids) if letter_id not in known]
    if missing:
        raise _unknown(missing, service, topic)


def _report_json(reports: list[tuple[str, dlq_cli.Report]]) -> dict[str, Any]:
    keys = ("replayed", "discarded", "skipped", "failed", "malformed")
    return {
        key: [f"{topic} {line}" for topic, report in reports for line in getattr(report, key)]
        for key in keys
    }


def _finish(reports: list[tuple[str, dlq_cli.Report]], as_json: bool) -> None:
    lines = [f"{topic}: {line}" for topic, report in reports for line in report.lines()]
    emit(_report_json(reports), "\n".join(lines) or "no dead letters", as_json)
    if any(report.failed for _, report in reports):
        raise typer.Exit(1)


@app.command()
def replay(
    ctx: typer.Context,
    service: ServiceOption = None,
    topic: TopicOption = None,
    event_id: EventIds = None,
    consumer: ConsumerOption = None,
    error_type: ErrorTypeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    all_pending: Annotated[
        bool, typer.Option("--all-pending", help="Replay every pending letter (no filter).")
    ] = False,
    again: Annotated[
        bool, typer.Option("--again", help="Also letters replayed or discarded before.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what.")] = False,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Republish the selected letters to their topic, once each (exit 1 if any failed)."""
    chosen = target(ctx, service)
    selection = _selection(chosen, event_id, consumer, error_type, since, until)
    if selection.empty and not all_pending:
        raise OpsError("replay needs a filter, or --all-pending to replay every letter", USAGE)
    _require_known(chosen, topic, event_id)
    topics = [t.removesuffix(".dlq") for t in dead_letter_topics(chosen.definition)]

    async def run() -> list[tuple[str, dlq_cli.Report]]:
        reports = []
        with progress_bar(enabled=not quiet) as bars:
            for dlq in _topics(chosen, topic):
                report = await dlq_cli.replay(
                    chosen.bootstrap,
                    dlq,
                    selection,
                    chosen.security(),
                    again=again,
                    dry_run=dry_run,
                    topics=topics,
                    progress=bars.task(f"replaying {dlq}"),
                )
                reports.append((dlq, report))
        return reports

    _finish(chosen.on_kafka(run()), as_json)


@app.command()
def discard(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why (kept on the DLQ with the marker).")],
    service: ServiceOption = None,
    topic: TopicOption = None,
    event_id: EventIds = None,
    consumer: ConsumerOption = None,
    error_type: ErrorTypeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    all_pending: Annotated[
        bool, typer.Option("--all-pending", help="Discard every pending letter (no filter).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Give up on the selected letters: no longer listed or replayed (Kafka keeps them)."""
    chosen = target(ctx, service)
    selection = _selection(chosen, event_id, consumer, error_type, since, until)
    if selection.empty and not all_pending:
        raise OpsError("discard needs a filter, or --all-pending to discard every letter", USAGE)
    _require_known(chosen, topic, event_id)

    async def run() -> list[tuple[str, dlq_cli.Report]]:
        security = chosen.security()
        return [
            (
                dlq,
                await dlq_cli.discard(
                    chosen.bootstrap, dlq, selection, reason, "ensemble", security, dry_run=dry_run
                ),
            )
            for dlq in _topics(chosen, topic)
        ]

    _finish(chosen.on_kafka(run()), as_json)
