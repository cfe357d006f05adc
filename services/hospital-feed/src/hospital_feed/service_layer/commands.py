"""What callers ask hospital-feed to do: receive an HL7 message, rerun a stored one."""

from dataclasses import dataclass

from ensemble_runtime.definition import Command


@dataclass(frozen=True)
class ReceiveHl7(Command[str]):
    """One ER7 message from an authenticated sender (HTTP token or MLLP port); answers the
    HL7 ACK. A concurrent twin (same resend or business key) is seen on the rerun.

    `charset` is how the bytes were read (`hl7_message.decode_body`), kept with the message.
    """

    sender: str
    raw: str
    charset: str = "utf-8"
    rerun_on_conflict = True
    group_commit = True  # the hot path: concurrent messages share one commit and fsync


@dataclass(frozen=True)
class Reprocessed:
    message_id: int
    status: str
    ack_code: str
    error: str | None


@dataclass(frozen=True)
class ReprocessMessage(Command[Reprocessed | None]):
    """Run a rejected or held message through the rules again; None when there is none."""

    message_id: int
    rerun_on_conflict = True
