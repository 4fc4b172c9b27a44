"""Who recorded each step of a referral (``referral_steps.staff``), so that ``referral_steps.csv``
carries a referral's whole history, as FORMATS.md gives it, and an export restores exactly.

A plain ``ADD COLUMN``; the downgrade drops only that column, never a row.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("referral_steps", sa.Column("staff", sa.String(200), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE referral_steps DROP COLUMN staff")
