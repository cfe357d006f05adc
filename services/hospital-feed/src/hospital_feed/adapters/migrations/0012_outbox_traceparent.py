"""outbox: the W3C traceparent of the writing transaction (issue 13, traces across Kafka hops)

Revision ID: 0012
Revises: 0011
Created: 2026-12-07
"""

from collections.abc import Sequence

from ensemble_runtime.delivery_schema import add_outbox_traceparent, drop_outbox_traceparent

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_traceparent()


def downgrade() -> None:
    drop_outbox_traceparent()
