"""`<topic>.dlq`: messages a consumer could not process, kept with the error for replay."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from ensemble_contracts.envelope import Envelope


class DeadLetter(Envelope):
    """The original message (verbatim) plus where it came from and why it failed."""

    event_type: str = Field(default="dead_letter", description="Always `dead_letter`.")
    consumer: str = Field(description="Consumer group that gave up on the message.")
    source_topic: str
    source_partition: int
    source_offset: int
    source_key: str | None = None
    failed_at: datetime
    attempts: int = Field(description="How many times processing was tried.")
    error_type: str = Field(description="Exception class, e.g. `ValidationError`.")
    error: str = Field(description="Readable error (PII-free: values are not echoed).")
    payload: str = Field(description="The original value, verbatim (base64 if not UTF-8).")
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
