"""The envelope every integration event carries.

Readers are tolerant: unknown fields are ignored, so producers may add optional
fields without a new schema version. A breaking change means a new topic (`.v2`).
"""

from datetime import UTC, datetime
from typing import Any, Self
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Metadata common to every event, whatever its topic."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: UUID = Field(
        default_factory=uuid4,
        description="Unique id of this event; consumers deduplicate on it.",
    )
    event_type: str = Field(description="What happened, e.g. `encounter.admitted`.")
    schema_version: int = Field(default=1, description="Version of this event's payload shape.")
    occurred_at: datetime = Field(
        default_factory=utc_now, description="When the producer recorded the fact (UTC)."
    )
    producer: str = Field(description="Name of the service that produced the event.")
    correlation_id: UUID = Field(
        default_factory=uuid4,
        description="Shared by every event that stems from one external request or message.",
    )
    causation_id: UUID | None = Field(
        default=None, description="The event_id of the event that caused this one, if any."
    )

    def caused(self, **fields: Any) -> dict[str, Any]:
        """Envelope fields for an event this one caused: same correlation, causation = self."""
        return {"correlation_id": self.correlation_id, "causation_id": self.event_id, **fields}

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        return cls.model_validate_json(raw)


class PatientEvent(Envelope):
    """An event about one patient. Its Kafka key is the NHS number, so order holds per patient."""

    nhs_number: str = Field(
        pattern=r"^\d{10}$",
        description="The patient's NHS number (10 digits, valid modulus 11). The message key.",
    )

    @property
    def key(self) -> str:
        return self.nhs_number
