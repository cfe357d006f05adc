"""`ensemble-dlq`: list and replay dead letters, safely.

    ensemble-dlq list   --topic hospital.encounters.v1.dlq [--all] [filters]
    ensemble-dlq replay --topic hospital.encounters.v1.dlq --event-id ID [--event-id ID ...]
    ensemble-dlq replay --topic hospital.encounters.v1.dlq --consumer scoring.encounters \\
        --error-type IntegrityError --since 2026-11-23T00:00:00+00:00 [--dry-run]
    Filters: --event-id (a letter's id, or the failed event's), --consumer, --error-type,
    --since/--until (when it failed). Replaying every pending letter takes --all-pending.
    Kafka: --bootstrap, --security-protocol, --sasl-mechanism, --sasl-username, --ssl-cafile
    (or KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, ...); the SASL password is read from
    KAFKA_SASL_PASSWORD only, never from the command line.

Rules:
- Once: each replay is recorded by a `dead_letter.replayed` marker published to the same DLQ,
  keyed by the letter's id; a marked letter is not replayed again (unless --again). The marker
  is sent after the replay: a crash in between replays that letter once more, which consumers'
  inboxes make harmless (they deduplicate by event id).
- Only to the topic the DLQ belongs to (`X.dlq` -> `X`, a topic of the contracts); a letter
  whose own `source_topic` disagrees is still replayed to `X` and reported.
- Order: a replayed event is appended to its topic now, so it lands AFTER every newer event of
  that patient (same key, same partition). Consumers must be idempotent and tolerant of an old
  event arriving late (they must not let it overwrite newer state). The report says, per
  letter, how many later messages of its partition it now follows, so this is never silent.
- Malformed records on the DLQ (not a dead letter) are skipped and reported, never fatal.
- Discard (`ensemble dlq discard`, see ops_cli/): a `dead_letter.discarded` marker, keyed by
  the letter's id like a replay's; Kafka keeps the letter, but it is no longer listed or
  replayed (unless --all / --again).
Output never shows payloads or keys (NHS numbers).
"""

import argparse
import asyncio
import base64
import json
import os
import sys
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from ensemble_contracts.dead_letter import DeadLetter
from ensemble_contracts.topics import MAIN_TOPICS
from ensemble_runtime.dead_letters import (
    DISCARDED,
    LETTER,
    REPLAYED,
    discard_marker,
    letter_bytes,
    replay_marker,
)
from ensemble_runtime.errors import describe_error, describe_validation_error
from ensemble_runtime.kafka_security import PLAINTEXT, KafkaSecurity

CLI = "ensemble-dlq"
MAIN_TOPIC_NAMES = tuple(t.name for t in MAIN_TOPICS)


@dataclass(frozen=True)
class Stored:
    """A dead letter and where it sits on the DLQ."""

    letter: DeadLetter
    partition: int
    offset: int


@dataclass
class Contents:
    letters: list[Stored] = field(default_factory=list)
    replayed: set[UUID] = field(default_factory=set)  # ids of letters already replayed
    discarded: set[UUID] = field(default_factory=set)  # ids of letters discarded
    malformed: list[str] = field(default_factory=list)  # "partition/offset: reason"


@dataclass(frozen=True)
class Selection:
    """Which letters to act on; no criteria selects every letter."""

    event_ids: frozenset[UUID] = frozenset()
    consumer: str | None = None
    error_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Whose letters these are (e.g. one service's consumer groups): not a filter of its own.
    scope: Callable[[DeadLetter], bool] | None = None

    @property
    def empty(self) -> bool:
        return replace(self, scope=None) == Selection()

    def matches(self, letter: DeadLetter) -> bool:
        ids = {letter.event_id, letter.causation_id}
        return (
            (self.scope is None or self.scope(letter))
            and (not self.event_ids or bool(ids & self.event_ids))
            and self.consumer in (None, letter.consumer)
            and self.error_type in (None, letter.error_type)
            and (self.since is None or letter.failed_at >= self.since)
            and (self.until is None or letter.failed_at < self.until)
        )


@dataclass
class Report:
    replayed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        discarded = f"{len(self.discarded)} discarded, " if self.discarded else ""
        return [
            *(f"replayed {line}" for line in self.replayed),
            *(f"discarded {line}" for line in self.discarded),
            *(f"skipped {line}" for line in self.skipped),
            *(f"FAILED {line}" for line in self.failed),
            *(f"malformed record skipped at {line}" for line in self.malformed),
            f"{len(self.replayed)} replayed, {discarded}{len(self.skipped)} skipped, "
            f"{len(self.failed)} failed, {len(self.malformed)} malformed",
        ]


def target_of(dlq: str, topics: Collection[str] = MAIN_TOPIC_NAMES) -> str:
    """The topic a DLQ belongs to; only the contracts' topics have one."""
    target = dlq.removesuffix(".dlq")
    if target == dlq or target not in topics:
        known = ", ".join(f"{name}.dlq" for name in topics)
        raise ValueError(f"{dlq} is not a dead-letter topic of this system ({known})")
    return target


async def read(bootstrap: str, dlq: str, security: KafkaSecurity = PLAINTEXT) -> Contents:
    """Every record on the DLQ now, oldest first per partition, sorted into letters and marks."""
    options = security.client_options()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **options)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([dlq])
    finally:
        await admin.close()
    contents = Contents()
    partitions = [TopicPartition(dlq, p["partition"]) for p in description["partitions"]]
    if not partitions:
        return contents
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **options)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                for record in records:
                    _sort(contents, record.value, record.partition, record.offset)
    finally:
        await consumer.stop()
    return contents


def _sort(contents: Contents, value: bytes | None, partition: int, offset: int) -> None:
    try:
        letter = DeadLetter.model_validate_json(value or b"")
    except ValidationError as error:
        contents.malformed.append(f"{partition}/{offset}: {describe_validation_error(error)}")
        return
    if letter.event_type == REPLAYED and letter.causation_id is not None:
        contents.replayed.add(letter.causation_id)
    elif letter.event_type == DISCARDED and letter.causation_id is not None:
        contents.discarded.add(letter.causation_id)
    elif letter.event_type == LETTER:
        contents.letters.append(Stored(letter, partition, offset))
    else:
        contents.malformed.append(f"{partition}/{offset}: unknown type {letter.event_type!r}")


def original_bytes(letter: DeadLetter) -> bytes:
    if letter.payload_encoding == "base64":
        return base64.b64decode(letter.payload, validate=True)
    return letter.payload.encode()


async def replay(
    bootstrap: str,
    dlq: str,
    selection: Selection,
    security: KafkaSecurity = PLAINTEXT,
    *,
    again: bool = False,
    dry_run: bool = False,
    topics: Collection[str] = MAIN_TOPIC_NAMES,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Republish the selected letters (not yet replayed) to the DLQ's own topic, once each.

    `progress(done, total)` is called as each chosen letter is replayed."""
    target = target_of(dlq, topics)
    contents = await read(bootstrap, dlq, security)
    report = Report(malformed=contents.malformed)
    chosen: list[Stored] = []
    for stored in contents.letters:
        letter = stored.letter
        if not selection.matches(letter):
            continue
        if letter.event_id in contents.replayed and not again:
            report.skipped.append(f"{letter.event_id}: replayed before")
        elif letter.event_id in contents.discarded and not again:
            report.skipped.append(f"{letter.event_id}: discarded")
        elif not letter.payload:
            report.skipped.append(f"{letter.event_id}: no payload kept (see its error text)")
        else:
            chosen.append(stored)
    if dry_run:
        report.skipped.extend(f"{s.letter.event_id}: dry run" for s in chosen)
        return report
    # Not idempotent: a letter the broker refuses must not fail the ones after it (see kafka.py).
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", **security.client_options()
    )
    await producer.start()
    try:
        for done, stored in enumerate(chosen, 1):
            await _replay_one(producer, stored.letter, dlq, target, report)
            if progress is not None:
                progress(done, len(chosen))
    finally:
        await producer.stop()
    return report


async def discard(
    bootstrap: str,
    dlq: str,
    selection: Selection,
    reason: str,
    by: str,
    security: KafkaSecurity = PLAINTEXT,
    *,
    dry_run: bool = False,
) -> Report:
    """Mark the selected letters (not yet replayed or discarded) as discarded: a marker on
    the DLQ, so they are no longer listed or replayed (`replay --again` still can)."""
    contents = await read(bootstrap, dlq, security)
    report = Report(malformed=contents.malformed)
    chosen: list[DeadLetter] = []
    for stored in contents.letters:
        letter = stored.letter
        if not selection.matches(letter):
            continue
        if letter.event_id in contents.discarded or letter.event_id in contents.replayed:
            done = "discarded" if letter.event_id in contents.discarded else "replayed"
            report.skipped.append(f"{letter.event_id}: {done} before")
        else:
            chosen.append(letter)
    if dry_run:
        report.skipped.extend(f"{letter.event_id}: dry run" for letter in chosen)
        return report
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", **security.client_options()
    )
    await producer.start()
    try:
        for letter in chosen:
            marker = discard_marker(letter, reason, by)
            try:
                await producer.send_and_wait(
                    dlq, value=letter_bytes(marker), key=str(letter.event_id).encode()
                )
            except Exception as error:
                report.failed.append(f"{letter.event_id}: {describe_error(error)}")
            else:
                report.discarded.append(f"{letter.event_id}: {marker.error}")
    finally:
        await producer.stop()
    return report


async def _replay_one(
    producer: AIOKafkaProducer, letter: DeadLetter, dlq: str, target: str, report: Report
) -> None:
    disagrees = letter.source_topic != target
    note = f" (its source_topic {letter.source_topic!r} was ignored)" if disagrees else ""
    try:
        value = original_bytes(letter)
        key = letter.source_key.encode() if letter.source_key else None
        sent = await producer.send_and_wait(target, value=value, key=key)
    except Exception as error:
        report.failed.append(f"{letter.event_id}: {describe_error(error)}")
        return
    order = f"appended to {target} partition {sent.partition} offset {sent.offset}"
    if letter.source_offset >= 0 and letter.source_partition == sent.partition:
        later = max(sent.offset - letter.source_offset - 1, 0)
        order += f", after {later} later message(s) of that partition (any patient)"
    else:
        order += ", after every event of that patient published so far"
    try:
        marker = replay_marker(letter, target, CLI)
        await producer.send_and_wait(
            dlq, value=letter_bytes(marker), key=str(letter.event_id).encode()
        )
    except Exception as error:
        order += f"; NOT marked as replayed ({describe_error(error)}): a rerun replays it again"
    report.replayed.append(f"{letter.event_id}: {order}{note}")


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _security(args: argparse.Namespace) -> KafkaSecurity:
    return KafkaSecurity(
        protocol=args.security_protocol,
        sasl_mechanism=args.sasl_mechanism or None,
        sasl_username=args.sasl_username or None,
        sasl_password=os.environ.get("KAFKA_SASL_PASSWORD") or None,
        ssl_cafile=args.ssl_cafile or None,
    )


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog=CLI, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("--topic", required=True, help="the dead-letter topic, e.g. X.dlq")
    parser.add_argument("--bootstrap", default=env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument(
        "--security-protocol",
        default=env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
        choices=["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"],
    )
    parser.add_argument("--sasl-mechanism", default=env("KAFKA_SASL_MECHANISM"))
    parser.add_argument("--sasl-username", default=env("KAFKA_SASL_USERNAME"))
    parser.add_argument("--ssl-cafile", default=env("KAFKA_SSL_CAFILE"))
    parser.add_argument("--event-id", type=UUID, action="append", default=[])
    parser.add_argument("--consumer", help="the consumer group that gave up")
    parser.add_argument("--error-type", help="e.g. ValidationError, IntegrityError")
    parser.add_argument("--since", type=_utc, help="failed at or after")
    parser.add_argument("--until", type=_utc, help="failed before")
    parser.add_argument("--all", action="store_true", help="list: include replayed letters")
    parser.add_argument("--all-pending", action="store_true", help="replay: no filter needed")
    parser.add_argument("--again", action="store_true", help="replay letters replayed before")
    parser.add_argument("--dry-run", action="store_true", help="replay: only say what")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        security = _security(args)
        selection = Selection(
            frozenset(args.event_id), args.consumer, args.error_type, args.since, args.until
        )
        if args.command == "list":
            return _list(args, security, selection)
        if selection.empty and not args.all_pending:
            raise ValueError("replay needs a filter, or --all-pending to replay every letter")
        report = asyncio.run(
            replay(
                args.bootstrap,
                args.topic,
                selection,
                security,
                again=args.again,
                dry_run=args.dry_run,
            )
        )
    except ValueError as error:
        print(f"{CLI}: {error}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 1 if report.failed else 0


def _list(args: argparse.Namespace, security: KafkaSecurity, selection: Selection) -> int:
    contents = asyncio.run(read(args.bootstrap, args.topic, security))
    for stored in contents.letters:
        replayed = stored.letter.event_id in contents.replayed
        settled = replayed or stored.letter.event_id in contents.discarded
        if selection.matches(stored.letter) and (args.all or not settled):
            shown = stored.letter.model_dump(mode="json", exclude={"payload", "source_key"})
            at = f"{stored.partition}/{stored.offset}"
            print(json.dumps({"at": at, "replayed": replayed, "letter": shown}))
    for line in contents.malformed:
        print(f"malformed record skipped at {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
