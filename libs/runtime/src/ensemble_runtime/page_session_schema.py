"""A service's page session table (page_sessions.PageSessionColumns) as migration steps: the
revision that adds a service's signed-in pages runs these with the service's table name.

They mirror `PageSessionColumns`; each service's drift test fails if they part ways. A later
change to those columns ships here as a new pair of steps, never as an edit of these.
"""

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

from ensemble_runtime.db import UtcDateTime


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def create_page_session_table(table: str) -> None:
    """`table` (e.g. referral_page_sessions) and its index on `expires_at`."""
    op.create_table(
        table,
        sa.Column("session_sha256", _string(64), nullable=False),
        sa.Column("kind", _string(20), nullable=False),
        sa.Column("principal", _string(100), nullable=False),
        sa.Column("user", _string(100), nullable=False),
        sa.Column("csrf_token", _string(64), nullable=False),
        sa.Column("token_sha256", _string(64), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_sha256"),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(f"ix_{table}_expires_at", ["expires_at"], unique=False)


def drop_page_session_table(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_index(f"ix_{table}_expires_at")
    op.drop_table(table)
