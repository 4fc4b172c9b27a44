"""The school's week: event registers, referrals with their outcomes and steps, the partners a family
uses; and a contact may name a family and a partner both (the family took part in the partner's
session), so the check on interactions asks for at least one of them rather than exactly one.

Revision ID: 0004
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

BOTH = "family_id IS NOT NULL AND partner_id IS NOT NULL"
STATUSES = "status IN ('sent', 'accepted', 'declined', 'completed', 'no longer needed')"


def upgrade() -> None:
    # SQLite cannot alter a CHECK in place: batch mode copies the table with the new check.
    # A family, a partner, both, or (since 0002) neither for a message to all families: nothing
    # left for the database to check about the pair.
    with op.batch_alter_table("interactions") as batch:
        batch.drop_constraint("interaction_with_family_or_partner", type_="check")
    op.create_index(
        "ix_interactions_family_and_partner",
        "interactions",
        ["school_id"],
        sqlite_where=sa.text(BOTH),
        postgresql_where=sa.text(BOTH),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("school_id", sa.String(64), sa.ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("activity", sa.String(100), nullable=False),
        sa.Column("partner_ids", sa.Text),
        sa.Column("attendees", sa.Integer),
        sa.Column("volunteer_hours", sa.Float),
        sa.Column("money_raised", sa.Float),
        sa.Column("staff", sa.String(200)),
        sa.Column("notes", sa.Text),
    )
    op.create_index("ix_events_school_date", "events", ["school_id", "date"])
    op.create_table(
        "event_contacts",
        sa.Column(
            "interaction_id",
            sa.String(64),
            sa.ForeignKey("interactions.interaction_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("event_id", sa.String(64), sa.ForeignKey("events.event_id", ondelete="CASCADE"), nullable=False),
    )
    op.create_index("ix_event_contacts_event", "event_contacts", ["event_id"])
    op.create_table(
        "referrals",
        sa.Column("referral_id", sa.String(64), primary_key=True),
        sa.Column("school_id", sa.String(64), sa.ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
        sa.Column("family_id", sa.String(64), sa.ForeignKey("families.family_id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "partner_id", sa.String(64), sa.ForeignKey("partners.partner_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("reasons", sa.Text),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_date", sa.Date, nullable=False),
        sa.Column("decline_reason", sa.Text),
        sa.Column("staff", sa.String(200)),
        sa.CheckConstraint(STATUSES, name="referral_status"),
    )
    op.create_index("ix_referrals_school_date", "referrals", ["school_id", "date"])
    op.create_index("ix_referrals_partner", "referrals", ["partner_id"])
    op.create_index("ix_referrals_family", "referrals", ["family_id"])
    op.create_table(
        "referral_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "referral_id", sa.String(64), sa.ForeignKey("referrals.referral_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_referral_steps_referral", "referral_steps", ["referral_id"])
    op.create_table(
        "family_partners",
        sa.Column(
            "family_id", sa.String(64), sa.ForeignKey("families.family_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "partner_id", sa.String(64), sa.ForeignKey("partners.partner_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("school_id", sa.String(64), sa.ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
        sa.Column("relation", sa.String(60)),
        sa.Column("start", sa.Date),
        sa.Column("end", sa.Date),
    )
    op.create_index("ix_family_partners_partner", "family_partners", ["partner_id"])
    op.create_index("ix_family_partners_school", "family_partners", ["school_id"])


def downgrade() -> None:
    for table in ("family_partners", "referral_steps", "referrals", "event_contacts", "events"):
        op.drop_table(table)
    op.drop_index("ix_interactions_family_and_partner", table_name="interactions")
    # A contact naming both sides cannot stay under the old "exactly one" check: keep its family side.
    op.execute(sa.text(f"UPDATE interactions SET partner_id = NULL WHERE {BOTH}"))
    with op.batch_alter_table("interactions") as batch:
        batch.create_check_constraint("interaction_with_family_or_partner", "family_id IS NULL OR partner_id IS NULL")
