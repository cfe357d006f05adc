"""huddles: STUB (issue 12 item 3), filled in by the huddles work

Revision ID: 0005
Revises: 0004
Created: 2026-12-07
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
