"""runtime test schema: the outbox's traceparent, as every service's migrations add it

Revision ID: 0002
Revises: 0001
"""

from ensemble_runtime.delivery_schema import add_outbox_traceparent, drop_outbox_traceparent

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    add_outbox_traceparent()


def downgrade() -> None:
    drop_outbox_traceparent()
