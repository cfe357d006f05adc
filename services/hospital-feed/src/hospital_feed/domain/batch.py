"""HL7 v2 batch files (chapter 2.10.3): `[FHS] { [BHS] { MSH ... } [BTS] } [FTS]`.

A batch is split into its messages, each received as if sent alone (stored, deduplicated
and judged on its own), and answered with a response batch of the same shape holding one
ACK message per message, in order: the "all messages are acknowledged" option of chapter
2.10.3.3 (acknowledging batches). BHS-12 (FHS-12) of the answer is the sender's BHS-11
(FHS-11), the batch (file) control id it acknowledges; BTS-1 counts its ACKs, FTS-1 its
batches. What does not add up is said in BHS-10 (FHS-10), the batch (file) comment: a
BTS-1 or FTS-1 count that does not match what arrived, a missing trailer, segments outside
any message. MSH-15/16 of messages inside a batch do not apply: the batch is the exchange.

Pure text work: no store, no socket.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import uuid4

from hospital_feed.domain.ack import OUR_NAME, escape
from hospital_feed.domain.stored_text import single_line

_SEGMENT_END = re.compile(r"\r\n|\n|\r")
_FRAMING = "\ufeff\x0b\x1c \t\r\n"
ENVELOPES = ("FHS", "BHS")


@dataclass
class BatchPart:
    """One BHS ... BTS (or the messages of a file without a BHS)."""

    header: list[str] | None  # BHS fields, BHS-n at index n - 1 (as for MSH)
    messages: list[str] = field(default_factory=list)
    declared: str | None = None  # BTS-1 as sent; None when no BTS came
    problems: list[str] = field(default_factory=list)


@dataclass
class BatchFile:
    header: list[str] | None  # FHS fields; None for a lone BHS batch
    batches: list[BatchPart] = field(default_factory=list)
    declared: str | None = None  # FTS-1 as sent
    problems: list[str] = field(default_factory=list)


def is_batch(raw: str) -> bool:
    """True when the text starts with a batch envelope (FHS or BHS)."""
    return raw.lstrip(_FRAMING)[:3] in ENVELOPES


def _fields(line: str) -> list[str]:
    """A segment split on its own separator: FHS-n/BHS-n at index n - 1 (like MSH), BTS-n
    and FTS-n at index n."""
    return line.split(line[3]) if len(line) > 3 else [line]


def split_batch(raw: str) -> BatchFile:
    """The file and its batches and messages (each message's text with `\\r` ends)."""
    lines = [line for line in _SEGMENT_END.split(raw.strip(_FRAMING)) if line.strip()]
    file = BatchFile(_fields(lines[0]) if lines and lines[0].startswith("FHS") else None)
    current: BatchPart | None = None
    message: list[str] | None = None
    stray = 0
    for index, line in enumerate(lines):
        name = line[:3]
        if name in ("FHS", "BHS", "BTS", "FTS", "MSH"):
            if message is not None and current is not None:
                current.messages.append("\r".join(message) + "\r")
            message = None
        if name == "FHS":
            if index:
                file.problems.append("a second FHS inside the file")
        elif name == "BHS":
            current = BatchPart(_fields(line))
            file.batches.append(current)
        elif name == "MSH":
            if current is None or current.declared is not None:  # no BHS, or after a BTS
                current = BatchPart(None)
                file.batches.append(current)
            message = [line]
        elif name == "BTS":
            if current is None:
                file.problems.append("a BTS without a batch")
                continue
            current.declared = _first_component(_fields(line), 1)
        elif name == "FTS":
            file.declared = _first_component(_fields(line), 1)
        elif message is not None:
            message.append(line)
        else:
            stray += 1
    if message is not None and current is not None:
        current.messages.append("\r".join(message) + "\r")
    if stray:
        file.problems.append(f"{stray} segment(s) outside any message were ignored")
    _check_counts(file)
    return file


def _first_component(fields: list[str], number: int) -> str:
    return fields[number].split("^", 1)[0].strip() if number < len(fields) else ""


def _check_counts(file: BatchFile) -> None:
    for batch in file.batches:
        if batch.declared is None:
            if batch.header is not None:
                batch.problems.append("the batch has no BTS trailer: it may be incomplete")
        elif batch.declared != str(len(batch.messages)):
            batch.problems.append(
                f"BTS-1 says {_count(batch.declared)} message(s), "
                f"the batch holds {len(batch.messages)}"
            )
    if file.header is None:
        return
    if file.declared is None:
        file.problems.append("the file has no FTS trailer: it may be incomplete")
    elif file.declared != str(len(file.batches)):
        file.problems.append(
            f"FTS-1 says {_count(file.declared)} batch(es), the file holds {len(file.batches)}"
        )


def _count(declared: str) -> str:
    """A declared count fit to echo: digits, short; anything else (an identifier sent in
    the wrong field, say) is not repeated."""
    if not declared:
        return "nothing"
    return declared if declared.isdigit() and len(declared) <= 6 else "something other than a count"


def mismatches(file: BatchFile) -> list[str]:
    """Every count or envelope problem of the file, for a log line (no message content)."""
    return [*file.problems, *(p for batch in file.batches for p in batch.problems)]


def batch_ack(file: BatchFile, acks: list[list[str]], now: datetime | None = None) -> str:
    """The response batch: `acks[i]` holds the ACKs of `file.batches[i]`'s messages."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S+0000")
    segments: list[str] = []
    if file.header is not None:
        segments.append(_envelope(file.header, "FHS", stamp, "; ".join(file.problems)))
    for index, (batch, answers) in enumerate(zip(file.batches, acks, strict=True)):
        header = batch.header if batch.header is not None else file.header
        problems = batch.problems
        if file.header is None and index == 0:  # no FHS-10 to say them in
            problems = [*file.problems, *problems]
        segments.append(_envelope(header, "BHS", stamp, "; ".join(problems)))
        segments.extend(ack.rstrip("\r") for ack in answers)
        segments.append(f"BTS|{len(answers)}")
    if file.header is not None:
        segments.append(f"FTS|{len(file.batches)}")
    return "\r".join(segments) + "\r"


def _envelope(header: list[str] | None, name: str, stamp: str, comment: str) -> str:
    """Our FHS/BHS answering theirs: applications swapped, our control id in -11 and theirs
    in -12 (the reference control id), `comment` in -10."""

    def theirs(number: int) -> str:
        value = header[number - 1] if header and number <= len(header) else ""
        return single_line(value).replace("|", "\\F\\")  # as sent: still HL7-escaped

    fields = [
        name,
        "^~\\&",
        theirs(5) or OUR_NAME,
        theirs(6) or OUR_NAME,
        theirs(3),
        theirs(4),
        stamp,
        "",  # -8 security
        "",  # -9 name/id/type
        escape(comment),
        uuid4().hex[:20],
        theirs(11),
    ]
    return "|".join(fields)
