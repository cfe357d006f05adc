"""What callers ask hospital-feed to do: receive an HL7 message, rerun a stored one,
acknowledge an alert."""

from dataclasses import dataclass

from ensemble_runtime.definition import Command
from hospital_feed.domain.acknowledgement import AlertState, Outcome


@dataclass(frozen=True)
class ReceiveOversized(Command[str]):
    """A message over the size limit, read to its end but kept only as its first bytes
    (`head`, enough for the MSH); answers the AR, naming the `limit` it went over."""

    sender: str
    head: str
    limit: int
    charset: str = "utf-8"
    rerun_on_conflict = True


@dataclass(frozen=True)
class ReceiveHl7(Command[str]):
    """One ER7 message from an authenticated sender (HTTP token or MLLP port); answers the
    HL7 ACK. A concurrent twin (same resend or business key) is seen on the rerun.

    `charset` is how the bytes were read (`hl7_message.decode_body`), kept with the message.
    `resubmitted_from`: a staff correction of that stored message (the message browser).
    """

    sender: str
    raw: str
    charset: str = "utf-8"
    resubmitted_from: int | None = None
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


@dataclass(frozen=True)
class AcknowledgeAlert(Command[bool]):
    """A practice team member saw an alert, or actioned it with an outcome (which implies
    seen). Repeating it changes nothing: the first who, when and outcome stay. False when the
    practice has no such alert (another practice's alert included)."""

    practice_ods: str
    alert_id: int
    user: str
    action: AlertState  # SEEN or ACTIONED
    outcome: Outcome | None = None  # required for ACTIONED

    def __post_init__(self) -> None:
        if self.action is AlertState.NEW:
            raise ValueError("an alert is acknowledged as seen or actioned, never as new")
        if (self.action is AlertState.ACTIONED) != (self.outcome is not None):
            raise ValueError("an outcome goes with actioned, and only with actioned")
