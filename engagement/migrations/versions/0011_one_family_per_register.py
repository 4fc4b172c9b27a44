"""A family on an event's register once, kept by the database (issue 26).

``event_contacts`` gains the family of each contact on a register (copied from the contact) and a
unique key on (event, family), so that neither an ``interactions.csv`` naming the same event for
two contacts of one family nor two saves at once can put a family on a register twice. A partner's
contact has no family and the key leaves it alone.

A store that already holds a doubled family keeps the family's first contact (by reference) on the
register; the others stay as contacts, off the register, and the audit log says which, so nothing
is lost and a data lead can see what changed. The downgrade drops the key and the column only.

Revision ID: 0011
Revises: 0010
"""

import json

import sqlalchemy as sa
from alembic import op

from engagement import clock

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("event_contacts", sa.Column("family_id", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE event_contacts SET family_id = (SELECT i.family_id FROM interactions i "
        "WHERE i.interaction_id = event_contacts.interaction_id)"
    )
    conn = op.get_bind()
    doubled = conn.execute(
        sa.text(
            "SELECT ec.interaction_id, ec.event_id, ec.family_id FROM event_contacts ec "
            "WHERE ec.family_id IS NOT NULL AND ec.interaction_id <> (SELECT min(o.interaction_id) "
            "FROM event_contacts o WHERE o.event_id = ec.event_id AND o.family_id = ec.family_id)"
        )
    ).all()
    if doubled:
        now = clock.now()
        audit = sa.table(
            "audit_log",
            sa.column("at"),
            sa.column("actor"),
            sa.column("action"),
            sa.column("table_name"),
            sa.column("record_id"),
            sa.column("before"),
            sa.column("detail"),
        )
        conn.execute(
            audit.insert(),
            [
                {
                    "at": now,
                    "actor": "migration 0011",
                    "action": "unlink",
                    "table_name": "interactions",
                    "record_id": i,
                    "before": json.dumps({"event_id": e}),
                    "detail": f"taken off the register of event {e}: the family was on it twice",
                }
                for i, e, _ in doubled
            ],
        )
        ids = [i for i, _, _ in doubled]
        for start in range(0, len(ids), 500):
            conn.execute(
                sa.text("DELETE FROM event_contacts WHERE interaction_id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": ids[start : start + 500]},
            )
    op.create_index("ux_event_contacts_family", "event_contacts", ["event_id", "family_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_event_contacts_family", table_name="event_contacts")
    with op.batch_alter_table("event_contacts", schema=None) as batch_op:
        batch_op.drop_column("family_id")
