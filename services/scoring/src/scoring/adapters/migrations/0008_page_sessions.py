"""the outcomes page's sign-in sessions (a browser signs in with a staff or practice token once)

- `scoring_page_sessions`: one per signed-in browser, keyed by the sha256 of its cookie's
  random id, with the token's kind and principal, the user, the session's CSRF token, the
  sha256 of the env or file token that signed in (once that token is rotated or revoked the
  session ends) and when it expires (the runtime's page_sessions columns).

A new table only: nothing existing changes, and downgrading drops it (signing everyone out).

Revision ID: 0008
Revises: 0007
Created: 2026-12-07
"""

from collections.abc import Sequence

from ensemble_runtime.page_session_schema import create_page_session_table, drop_page_session_table

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_page_session_table("scoring_page_sessions")


def downgrade() -> None:
    drop_page_session_table("scoring_page_sessions")
