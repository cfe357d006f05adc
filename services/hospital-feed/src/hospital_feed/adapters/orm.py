"""hospital-feed's own tables."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import Index, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from ensemble_contracts import limits
from ensemble_runtime.db import UtcDateTime


class MessageStatus(StrEnum):
    ACCEPTED = "accepted"  # stored; published if it was a clinical event
    REJECTED = "rejected"  # answered AE/AR; kept for staff and reprocessing
    HELD = "held"  # answered AA but no usable NHS number: staff must look
    DUPLICATE = "duplicate"  # the same business event was already published
    # Closed by staff (the message browser), never rerun: corrected and received again as a
    # new message (`resubmitted_from` on that one), or discarded with a reason.
    RESUBMITTED = "resubmitted"
    DISCARDED = "discarded"


class ContentFormat(StrEnum):
    """What a stored message's raw text is."""

    HL7V2 = "hl7v2"  # HL7 v2 ER7, over HTTP or MLLP
    FHIR_JSON = "fhir-json"  # one FHIR R4 Encounter (a Bundle's entries stored one by one)
    # The first bytes of an HL7 v2 message over the size limit (the rest was never kept):
    # answered AR, shown to staff, never rerun (it could parse as a shorter, wrong message).
    HL7V2_TRUNCATED = "hl7v2-truncated"


class Hl7Message(SQLModel, table=True):
    """Every message received, accepted or not: nothing a hospital sends is lost.

    `raw` is clinical content: it is kept here (the clinical store) and never logged or
    returned by listings. It is the text as received unless `raw_escaped` says it held
    characters no store can keep (NUL): then see `domain/stored_text.py`. `raw_charset` is
    how the bytes were read (`utf-8`, or `iso-8859-1` for any other bytes), so
    `raw.encode(raw_charset)` gives back the bytes as sent.
    """

    __tablename__ = "hl7_messages"
    __table_args__ = (
        # A resend is the same bytes from the same sender under the same MSH-4 and MSH-10.
        UniqueConstraint(
            "sender", "sending_facility", "control_id", "content_sha256", name="uq_hl7_resend"
        ),
        Index("ix_hl7_messages_status_id", "status", "id"),
        Index("ix_hl7_messages_visit_key", "visit_key"),
        # The message browser's searches (MSH-10, NHS number) and each sender's last message.
        Index("ix_hl7_messages_control_id", "control_id"),
        Index("ix_hl7_messages_nhs_number_hmac", "nhs_number_hmac"),
        Index("ix_hl7_messages_sender_received", "sender", "received_at"),
        # Few rows are staff corrections: index only those.
        Index(
            "ix_hl7_messages_resubmitted_from",
            "resubmitted_from",
            sqlite_where=text("resubmitted_from IS NOT NULL"),
            postgresql_where=text("resubmitted_from IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(max_length=50)  # authenticated principal
    sending_facility: str = Field(default="", max_length=50)  # MSH-4
    control_id: str = Field(default="", max_length=200)  # MSH-10
    trigger: str = Field(default="", max_length=10)
    content_sha256: str = Field(max_length=64)
    # sha256 of the business key, set only on the row that published the event.
    # A cancellation clears the published_key of what it cancelled (and a re-admission that
    # of the cancellation): the business key is open again. See domain/encounters.REOPENS.
    published_key: str | None = Field(default=None, max_length=64, unique=True)
    # sha256 of facility, visit number (PV1-19) and NHS number, on rows that published.
    visit_key: str | None = Field(default=None, max_length=64)
    raw: str = Field(sa_type=Text)
    raw_escaped: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    raw_charset: str = Field(
        default="utf-8", max_length=20, sa_column_kwargs={"server_default": "utf-8"}
    )
    content_format: str = Field(
        default=ContentFormat.HL7V2, max_length=20, sa_column_kwargs={"server_default": "hl7v2"}
    )
    received_at: datetime = Field(sa_type=UtcDateTime)  # the unit of work's clock
    reprocessed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    status: str = Field(max_length=20)
    ack_code: str = Field(max_length=2)
    error_code: str = Field(default="0", max_length=5)
    error: str | None = Field(default=None, max_length=500)
    event_id: UUID | None = None
    # The message browser (issue 10): HMAC-SHA256 of PID-3's NHS number under the
    # deployment's search key (domain/message_search.py; NULL without a key), so staff can
    # find a patient's messages while a copy of the table is no lookup table of numbers.
    nhs_number_hmac: str | None = Field(default=None, max_length=64)
    # A staff correction of message `resubmitted_from` (not a foreign key: retention may
    # prune the original first). Who closed a message (resubmitted, discarded), when, why.
    resubmitted_from: int | None = None
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    closed_by: str | None = Field(default=None, max_length=100)
    closed_reason: str | None = Field(default=None, max_length=500)


class AlertStatus(StrEnum):
    ACTIVE = "active"
    RETRACTED = "retracted"


class RecipientReason(StrEnum):
    REGISTERED = "registered"  # PD1-3 names the practice
    ROSTER = "roster"  # the recipient's roster lists the patient


class PracticeAlert(SQLModel, table=True):
    """What a practice sees about one of its registered patients."""

    __tablename__ = "practice_alerts"
    __table_args__ = (
        UniqueConstraint("practice_ods", "encounter_event_id", name="uq_alert_per_event"),
        Index("ix_practice_alerts_feed", "practice_ods", "alert_id"),
        Index("ix_practice_alerts_visit", "practice_ods", "nhs_number", "visit_number"),
        # A retraction reaches every recipient's alert of the patient (and visit).
        Index("ix_practice_alerts_patient", "nhs_number", "visit_number"),
    )

    alert_id: int | None = Field(default=None, primary_key=True)
    practice_ods: str = Field(max_length=limits.ODS_CODE)
    nhs_number: str = Field(max_length=10)
    kind: str = Field(max_length=30)
    encounter_event_id: UUID
    sending_facility: str = Field(max_length=50)
    visit_number: str | None = Field(default=None, max_length=50)
    location: str | None = Field(default=None, max_length=200)
    event_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(sa_type=UtcDateTime)  # the unit of work's clock
    status: str = Field(default=AlertStatus.ACTIVE, max_length=20)
    retracted_by_event_id: UUID | None = None
    # What the encounter says (issue 9): an emergency or elective admission, how a discharge
    # ended (PV1-36), and why this recipient is told (registered practice or its roster).
    emergency: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    disposition: str | None = Field(default=None, max_length=limits.CODE)
    recipient_reason: str = Field(
        default=RecipientReason.REGISTERED,
        max_length=20,
        sa_column_kwargs={"server_default": RecipientReason.REGISTERED.value},
    )
    # The practice team's acknowledgement: seen, then actioned with an outcome (who, when).
    seen_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    seen_by: str | None = Field(default=None, max_length=100)
    actioned_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    actioned_by: str | None = Field(default=None, max_length=100)
    outcome: str | None = Field(default=None, max_length=30)


class PatientRisk(SQLModel, table=True):
    """The patient's current risk band, projected from scoring.score-changes.v1 (never by
    calling scoring). The newest score by `scored_at` wins, so a late event cannot undo it."""

    __tablename__ = "patient_risk"

    nhs_number: str = Field(primary_key=True, max_length=10)
    band: str = Field(max_length=20)
    score: int
    model_version: str = Field(max_length=limits.SHORT_TEXT)
    reasons: str = Field(sa_type=Text)  # JSON list of {factor, points, detail}
    scored_at: datetime = Field(sa_type=UtcDateTime)  # the event's occurred_at
    event_id: UUID


class PatientCaseload(SQLModel, table=True):
    """Whether a patient is referred to or on a programme's caseload, projected from
    referral.referrals.v1: one row per patient and service, the newest referral event's
    status."""

    __tablename__ = "patient_caseloads"

    nhs_number: str = Field(primary_key=True, max_length=10)
    service: str = Field(primary_key=True, max_length=30)  # health_coaching, complex_care
    referral_id: UUID
    status: str = Field(max_length=20)  # the referral's status
    practice_ods: str = Field(max_length=limits.ODS_CODE)
    updated_at: datetime = Field(sa_type=UtcDateTime)  # the event's occurred_at
    event_id: UUID


class RosterEntry(SQLModel, table=True):
    """A patient a recipient (practice or care team) follows by subscription, whatever PD1-3
    says."""

    __tablename__ = "roster_entries"
    __table_args__ = (Index("ix_roster_entries_patient", "nhs_number"),)

    recipient: str = Field(primary_key=True, max_length=limits.ODS_CODE)
    nhs_number: str = Field(primary_key=True, max_length=10)
    added_at: datetime = Field(sa_type=UtcDateTime)
    added_by: str = Field(max_length=100)


# This store's other tables, so migrations' checks see them: practice users with their
# hashed tokens (adapters/access.py), the practice page's sessions (adapters/sessions.py),
# roster uploads and alerts with no recipient (adapters/rosters.py), webhook endpoints,
# deliveries and recipient preferences (adapters/webhooks.py), the message browser's audit
# (adapters/message_browser.py), the staff page's sessions (adapters/staff_sessions.py)
# and visits, registrations and merges (adapters/visits.py).
from hospital_feed.adapters import access as _access  # noqa: E402, F401
from hospital_feed.adapters import message_browser as _message_browser  # noqa: E402, F401
from hospital_feed.adapters import rosters as _rosters  # noqa: E402, F401
from hospital_feed.adapters import sessions as _sessions  # noqa: E402, F401
from hospital_feed.adapters import staff_sessions as _staff_sessions  # noqa: E402, F401
from hospital_feed.adapters import visits as _visits  # noqa: E402, F401
from hospital_feed.adapters import webhooks as _webhooks  # noqa: E402, F401
