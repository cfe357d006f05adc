"""webhooks: endpoints, deliveries, recipient preferences, digests (issue 9)

Revision ID: 0008
Revises: 0007
Created: 2026-12-06
"""

from collections.abc import Sequence

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
