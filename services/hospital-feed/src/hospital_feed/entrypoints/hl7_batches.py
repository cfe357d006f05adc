"""A batch file (FHS/BHS) from a sender, over MLLP or HTTP: each message received as if sent
alone, in order, then one response batch (domain/batch.py)."""

from typing import Any

import structlog

from ensemble_runtime.service import ServiceRuntime
from hospital_feed.domain.batch import batch_ack, mismatches, split_batch
from hospital_feed.service_layer.commands import ReceiveHl7

log = structlog.get_logger(__name__)


async def receive_batch(
    runtime: ServiceRuntime[Any, Any],
    sender: str,
    raw: str,
    charset: str,
    *,
    may_refuse: bool = True,
) -> str:
    """The response batch, once every message is committed. One at a time, in the order
    sent: a discharge after its admission in one batch is read in that order. A store
    failure propagates: nothing is answered, and the resent batch finds what was committed
    (each message is answered again as a resend, not stored twice)."""
    file = split_batch(raw)
    problems = mismatches(file)
    if problems:  # our own texts with counts: no message content
        log.warning("hl7 batch does not add up", sender=sender, problems=problems)
    acks = []
    for batch in file.batches:
        answers = []
        for message in batch.messages:
            command = ReceiveHl7(sender, message, charset)
            answers.append(await runtime.execute(command, may_refuse=may_refuse))
        acks.append(answers)
    log.info(
        "hl7 batch received",
        sender=sender,
        batches=len(file.batches),
        messages=sum(len(answers) for answers in acks),
    )
    return batch_ack(file, acks)
