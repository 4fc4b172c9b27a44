"""A school's own terms and holidays; who started each contact (direction); when a family joined;
an interaction with neither family nor partner, a message to all families of its school.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "terms",
        sa.Column("term_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.CheckConstraint("kind IN ('term', 'holiday')", name="term_kind"),
        sa.CheckConstraint('"end" >= "start"', name="term_dates"),
        sa.ForeignKeyConstraint(["school_id"], ["schools.school_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("term_id"),
    )
    op.create_index("ix_terms_school", "terms", ["school_id"], unique=False)
    with op.batch_alter_table("families", schema=None) as batch_op:
        batch_op.add_column(sa.Column("joined", sa.Date(), nullable=True))
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        # Every contact stored so far was the school's: "to family".
        batch_op.add_column(sa.Column("direction", sa.String(length=12), nullable=False, server_default="to family"))
        batch_op.create_check_constraint("interaction_direction", "direction IN ('to family', 'from family')")
        # Neither family nor partner is now a message to all families; both at once is still refused.
        batch_op.drop_constraint("interaction_with_family_or_partner", type_="check")
        batch_op.create_check_constraint(
            "interaction_with_family_or_partner", "family_id IS NULL OR partner_id IS NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_constraint("interaction_with_family_or_partner", type_="check")
        batch_op.create_check_constraint(
            "interaction_with_family_or_partner", "(family_id IS NULL) <> (partner_id IS NULL)"
        )
        batch_op.drop_constraint("interaction_direction", type_="check")
        batch_op.drop_column("direction")
    with op.batch_alter_table("families", schema=None) as batch_op:
        batch_op.drop_column("joined")
    op.drop_index("ix_terms_school", table_name="terms")
    op.drop_table("terms")
