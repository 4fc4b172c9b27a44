"""School–community partnerships (issue 29): the school's formal partnerships with community
groups, the families each serves, and the school year's partnership action plan.

Three new tables, nothing else touched; the downgrade drops only these three (members first, as
they refer to partnerships), so no row of any older table can go with them.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partnerships",
        sa.Column("partnership_id", sa.String(length=64), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("schools", sa.Text(), nullable=True),
        sa.Column("partners", sa.Text(), nullable=False),
        sa.Column("aims", sa.Text(), nullable=True),
        sa.Column("epstein_type", sa.String(length=40), nullable=True),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("review", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('planned', 'active', 'ended')", name="partnership_status"),
        sa.ForeignKeyConstraint(["school_id"], ["schools.school_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("partnership_id"),
    )
    with op.batch_alter_table("partnerships", schema=None) as batch_op:
        batch_op.create_index("ix_partnerships_school", ["school_id"], unique=False)

    op.create_table(
        "partnership_members",
        sa.Column("partnership_id", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("joined", sa.Date(), nullable=True),
        sa.Column("left", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["family_id"], ["families.family_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["partnership_id"], ["partnerships.partnership_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("partnership_id", "family_id"),
    )
    with op.batch_alter_table("partnership_members", schema=None) as batch_op:
        batch_op.create_index("ix_partnership_members_family", ["family_id"], unique=False)

    op.create_table(
        "action_plan",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.String(length=7), nullable=False),
        sa.Column("epstein_type", sa.String(length=40), nullable=False),
        sa.Column("goal", sa.Text(), nullable=False),
        sa.Column("activity", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("measure", sa.String(length=100), nullable=True),
        sa.Column("target", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('not started', 'in progress', 'done')", name="plan_status"),
        sa.ForeignKeyConstraint(["school_id"], ["schools.school_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("plan_id"),
    )
    with op.batch_alter_table("action_plan", schema=None) as batch_op:
        batch_op.create_index("ix_action_plan_school_year", ["school_id", "year"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("action_plan", schema=None) as batch_op:
        batch_op.drop_index("ix_action_plan_school_year")
    op.drop_table("action_plan")
    with op.batch_alter_table("partnership_members", schema=None) as batch_op:
        batch_op.drop_index("ix_partnership_members_family")
    op.drop_table("partnership_members")
    with op.batch_alter_table("partnerships", schema=None) as batch_op:
        batch_op.drop_index("ix_partnerships_school")
    op.drop_table("partnerships")
