"""model as data, worklist, richer profiles

* `risk_models` (a model file's text per version) and `risk_model_activations` (every switch;
  the newest is the active model).
* `current_scores`: each patient's latest score, one row per patient, with the practice and
  the domains it has points in: what the practice worklist ranks. Filled here from each
  patient's latest `risk_scores` row; the domains of those scores (all made by
  ensemble-risk-1.0.0, the only model before this revision) come from that model's factors.
* `referral_statuses`: referral statuses per patient and service (referral.referrals.v1).
* `patients`: eFI value, BMI, PAM level, smoking, lives alone, social isolation, carer, and
  the extract's `as_of` date.

Revision ID: 0003
Revises: 0002
Created: 2026-11-24 09:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# ensemble-risk-1.0.0's factors and their domains, as they were when this revision was written.
_DOMAINS_1_0_0 = {
    "physical_conditions": "physical",
    "mental_health": "mental_health",
    "age": "age",
    "deprivation": "social",
    "polypharmacy": "medicines",
    "frailty": "frailty",
    "emergency_admissions": "hospital_use",
    "ae_attendances": "hospital_use",
}
_PATIENT_COLUMNS = (
    ("efi", sa.Float()),
    ("bmi", sa.Float()),
    ("pam_level", sa.Integer()),
    ("smoking", sqlmodel.sql.sqltypes.AutoString(length=10)),
    ("lives_alone", sa.Boolean()),
    ("socially_isolated", sa.Boolean()),
    ("is_carer", sa.Boolean()),
    ("as_of", sa.Date()),
)


def upgrade() -> None:
    op.create_table(
        "risk_models",
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "risk_model_activations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "current_scores",
        sa.Column("nhs_number", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("practice_ods", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("band", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("model_version", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("domains", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nhs_number"),
    )
    with op.batch_alter_table("current_scores", schema=None) as batch_op:
        batch_op.create_index(
            "ix_current_scores_worklist", ["practice_ods", "score", "nhs_number"], unique=False
        )
        batch_op.create_index(
            "ix_current_scores_model", ["model_version", "nhs_number"], unique=False
        )
    op.create_table(
        "referral_statuses",
        sa.Column("nhs_number", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("service", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("practice_ods", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("nhs_number", "service"),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        for name, kind in _PATIENT_COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
    _fill_current_scores()


def _fill_current_scores() -> None:
    """Each patient's latest score becomes the current one, with the practice a score change
    would name: the profile's, else the one the hospital last named."""
    connection = op.get_bind()
    latest = sa.text(
        "SELECT s.nhs_number, s.score, s.band, s.model_version, s.reasons, s.computed_at, "
        "COALESCE(p.practice_ods, (SELECT e.practice_ods FROM hospital_encounters e "
        "WHERE e.nhs_number = s.nhs_number AND e.practice_ods IS NOT NULL "
        "ORDER BY e.event_at DESC LIMIT 1)) AS practice_ods "
        "FROM risk_scores s LEFT JOIN patients p ON p.nhs_number = s.nhs_number "
        "WHERE s.id = (SELECT MAX(id) FROM risk_scores r WHERE r.nhs_number = s.nhs_number)"
    )
    insert = sa.text(
        "INSERT INTO current_scores (nhs_number, practice_ods, score, band, model_version, "
        "reasons, domains, computed_at) VALUES (:nhs_number, :practice_ods, :score, :band, "
        ":model_version, :reasons, :domains, :computed_at)"
    )
    rows = []
    for row in connection.execute(latest).mappings():
        factors = [r["factor"] for r in json.loads(row["reasons"]) if r.get("points", 0) > 0]
        domains = sorted({_DOMAINS_1_0_0[f] for f in factors if f in _DOMAINS_1_0_0})
        rows.append({**row, "domains": "," + ",".join(domains) + "," if domains else ""})
        if len(rows) == 1000:
            connection.execute(insert, rows)
            rows = []
    if rows:
        connection.execute(insert, rows)


def downgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        for name, _kind in reversed(_PATIENT_COLUMNS):
            batch_op.drop_column(name)
    op.drop_table("referral_statuses")
    with op.batch_alter_table("current_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_current_scores_model")
        batch_op.drop_index("ix_current_scores_worklist")
    op.drop_table("current_scores")
    op.drop_table("risk_model_activations")
    op.drop_table("risk_models")
