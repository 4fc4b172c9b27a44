"""Open Referral UK (issue 18): where a partner and a service came from. On partners the feed's
organisation and location ids, the feed or files it came from, when it was last imported, and the
feed's values as last imported (JSON); on services the service's Open Referral id and its values
as last imported. A re-import compares the stored values with those last imported, so what the
school changed itself is kept.

Plain ``ALTER TABLE ... ADD COLUMN``, never a rebuilt table: on SQLite a rebuilt ``partners``
would be dropped with foreign keys on, deleting every interaction with a partner by cascade.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PARTNER_COLUMNS = (
    ("oruk_organisation_id", sa.String(100)),
    ("oruk_location_id", sa.String(100)),
    ("oruk_source", sa.Text()),
    ("oruk_imported_at", sa.DateTime(timezone=True)),
    ("oruk_record", sa.Text()),
)
SERVICE_COLUMNS = (("oruk_id", sa.String(100)), ("oruk_record", sa.Text()))


def upgrade() -> None:
    for name, type_ in PARTNER_COLUMNS:
        op.add_column("partners", sa.Column(name, type_, nullable=True))
    for name, type_ in SERVICE_COLUMNS:
        op.add_column("services", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(SERVICE_COLUMNS):
        op.execute(f"ALTER TABLE services DROP COLUMN {name}")
    for name, _ in reversed(PARTNER_COLUMNS):
        op.execute(f"ALTER TABLE partners DROP COLUMN {name}")
