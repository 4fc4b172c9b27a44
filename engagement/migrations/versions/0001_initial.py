"""The first schema: schools, partners, families, interactions, geocode cache, gazetteer, audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schools",
        sa.Column("school_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("postcode", sa.String(16), nullable=False),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("pupils", sa.Integer),
        sa.Column("staff", sa.Integer),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "partners",
        sa.Column("partner_id", sa.String(64), primary_key=True),
        sa.Column("school_id", sa.String(64), sa.ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("layer", sa.Integer, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("postcode", sa.String(16)),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("contact_name", sa.String(200)),
        sa.Column("contact_email", sa.String(200)),
        sa.Column("contact_phone", sa.String(50)),
        sa.Column("services", sa.Text),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("since", sa.Date),
        sa.Column("last_verified", sa.Date),
        sa.Column("notes", sa.Text),
        sa.CheckConstraint("layer IN (2, 3, 4)", name="partner_layer"),
        sa.CheckConstraint("status IN ('active', 'prospective', 'lapsed')", name="partner_status"),
    )
    op.create_index("ix_partners_school", "partners", ["school_id"])
    op.create_table(
        "families",
        sa.Column("family_id", sa.String(64), primary_key=True),
        sa.Column("school_id", sa.String(64), sa.ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
        sa.Column("postcode", sa.String(16)),
        sa.Column("pupils", sa.Integer, nullable=False, server_default="1"),
        sa.Column("year_groups", sa.String(100)),
        sa.Column("pupil_premium", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("send", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("eal", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("looked_after", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("young_carer", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("needs", sa.Text),
        sa.Column("preferred_channel", sa.String(20)),
        sa.Column("language", sa.String(60)),
    )
    op.create_index("ix_families_school", "families", ["school_id"])
    op.create_table(
        "interactions",
        sa.Column("interaction_id", sa.String(64), primary_key=True),
        sa.Column("school_id", sa.String(64), sa.ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("family_id", sa.String(64), sa.ForeignKey("families.family_id", ondelete="CASCADE")),
        sa.Column("partner_id", sa.String(64), sa.ForeignKey("partners.partner_id", ondelete="CASCADE")),
        sa.Column("activity", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("two_way", sa.Boolean, nullable=False),
        sa.Column("staff", sa.String(200)),
        sa.Column("notes", sa.Text),
        sa.CheckConstraint("(family_id IS NULL) <> (partner_id IS NULL)", name="interaction_with_family_or_partner"),
    )
    op.create_index("ix_interactions_school_date", "interactions", ["school_id", "date"])
    op.create_index("ix_interactions_family", "interactions", ["family_id"])
    op.create_index("ix_interactions_partner", "interactions", ["partner_id"])
    op.create_table(
        "geocode_cache",
        sa.Column("query", sa.String(400), primary_key=True),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("found", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "gazetteer",
        sa.Column("postcode", sa.String(16), primary_key=True),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("record_id", sa.String(64)),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_audit_at", "audit_log", ["at"])


def downgrade() -> None:
    for index, table in (
        ("ix_audit_at", "audit_log"),
        ("ix_interactions_partner", "interactions"),
        ("ix_interactions_family", "interactions"),
        ("ix_interactions_school_date", "interactions"),
        ("ix_families_school", "families"),
        ("ix_partners_school", "partners"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("audit_log", "gazetteer", "geocode_cache", "interactions", "families", "partners", "schools"):
        op.drop_table(table)
