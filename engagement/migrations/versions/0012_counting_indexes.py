"""Indexes that let a trust's or an authority's figures be counted from an index alone (issue 28).

The Schools page groups every family's contacts of a window (1.6 million of an authority's 4.7
million) by family; the families' index held only ``family_id``, so SQLite sorted the whole table
(read through, notes and all) and PostgreSQL hashed it. ``interactions (family_id, date, two_way,
activity)`` holds every column that grouping reads, in the order it groups: both databases read it
in order, skip the table, and need no sort or hash; one family's contacts since a day (when a new
family was first talked with) are a range of it. It replaces the index on ``family_id`` alone (a
prefix of it; foreign keys and a family's lookups use it the same way). Likewise a partner's
contacts of a window are a range of ``interactions (partner_id, date)``, which replaces the index
on ``partner_id``.

Only indexes change: no row is touched, and the downgrade puts the two older indexes back.

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_interactions_family_date", "interactions", ["family_id", "date", "two_way", "activity"])
    op.drop_index("ix_interactions_family", table_name="interactions")
    op.create_index("ix_interactions_partner_date", "interactions", ["partner_id", "date"])
    op.drop_index("ix_interactions_partner", table_name="interactions")


def downgrade() -> None:
    op.create_index("ix_interactions_partner", "interactions", ["partner_id"])
    op.drop_index("ix_interactions_partner_date", table_name="interactions")
    op.create_index("ix_interactions_family", "interactions", ["family_id"])
    op.drop_index("ix_interactions_family_date", table_name="interactions")
