"""FHIR intake: what a stored message's content is (issue 10)

- hl7_messages.content_format: `hl7v2` (ER7 text, every message stored before) or
  `fhir-json` (a FHIR R4 Encounter's JSON), so reprocessing reads the raw text as it came.

Revision ID: 0011
Revises: 0010
Created: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hl7_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "content_format",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                server_default="hl7v2",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("hl7_messages", schema=None) as batch_op:
        batch_op.drop_column("content_format")
