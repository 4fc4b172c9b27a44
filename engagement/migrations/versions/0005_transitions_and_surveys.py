"""SEND transitions with their plan steps, and survey responses (issue 19).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 08:22:02.459264
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("response_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("survey", sa.String(length=60), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("question", sa.String(length=60), nullable=False),
        sa.Column("answer", sa.String(length=60), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=True),
        sa.Column("respondent", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["family_id"], ["families.family_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["school_id"], ["schools.school_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("response_id"),
    )
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.create_index("ix_survey_responses_family", ["family_id"], unique=False)
        batch_op.create_index("ix_survey_responses_round", ["school_id", "survey", "date"], unique=False)

    op.create_table(
        "transitions",
        sa.Column("transition_id", sa.String(length=64), nullable=False),
        sa.Column("school_id", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("other_setting", sa.String(length=300), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("send", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["family_id"], ["families.family_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["school_id"], ["schools.school_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("transition_id"),
    )
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.create_index("ix_transitions_family", ["family_id"], unique=False)
        batch_op.create_index("ix_transitions_school_date", ["school_id", "date"], unique=False)

    op.create_table(
        "transition_steps",
        sa.Column("step_id", sa.String(length=140), nullable=False),
        sa.Column("transition_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["transition_id"], ["transitions.transition_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("step_id"),
    )
    with op.batch_alter_table("transition_steps", schema=None) as batch_op:
        batch_op.create_index("ix_transition_steps_transition", ["transition_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transition_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_transition_steps_transition")

    op.drop_table("transition_steps")
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_transitions_school_date")
        batch_op.drop_index("ix_transitions_family")

    op.drop_table("transitions")
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_responses_round")
        batch_op.drop_index("ix_survey_responses_family")

    op.drop_table("survey_responses")
