"""The living directory: services in their own table (the partners' ``services`` tags moved into
it, nothing lost), and on partners a version for edits, who last checked them and an archive date.

Each partner with tags gets one service, named after the partner, holding all its tags (its id is
the partner's id with ``-S1``). One service per partner rather than one per tag: tags such as
``SEND inclusive`` or ``free`` describe a service, they are not services, so one per tag would
invent "services" nobody offers; a school splits the service later in the Directory. A
``SEND inclusive`` tag also sets the service's SEND-inclusive flag (the tag is kept).

No table is rebuilt: on SQLite a rebuilt ``partners`` table would be dropped with foreign keys on,
and dropping it deletes, by cascade, every interaction with a partner. Columns are added and the
old one dropped with plain ``ALTER TABLE`` (SQLite 3.35 or later).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("service_id", sa.String(100), primary_key=True),
        sa.Column(
            "partner_id", sa.String(64), sa.ForeignKey("partners.partner_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("tags", sa.Text),
        sa.Column("min_age", sa.Integer),
        sa.Column("max_age", sa.Integer),
        sa.Column("cost", sa.Text),
        sa.Column("languages", sa.Text),
        sa.Column("delivery", sa.String(100)),
        sa.Column("sessions", sa.Text),
        sa.Column("access", sa.String(30)),
        sa.Column("eligibility", sa.Text),
        sa.Column("send_inclusive", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(30), nullable=False, server_default="active"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )
    op.create_index("ix_services_partner", "services", ["partner_id"])
    op.add_column("partners", sa.Column("verified_by", sa.String(200)))
    op.add_column("partners", sa.Column("archived_on", sa.Date))
    op.add_column("partners", sa.Column("version", sa.Integer, nullable=False, server_default="1"))

    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT partner_id, name, services FROM partners WHERE services IS NOT NULL AND services <> ''")
    ).all()
    services = sa.table(
        "services",
        sa.column("service_id"),
        sa.column("partner_id"),
        sa.column("name"),
        sa.column("tags"),
        sa.column("send_inclusive"),
    )
    out = []
    for partner_id, name, text in rows:
        tags = [t.strip() for t in str(text).split(";") if t.strip()]
        if tags:
            out.append(
                {
                    "service_id": f"{partner_id}-S1",
                    "partner_id": partner_id,
                    "name": name[:300],
                    "tags": ";".join(tags),
                    "send_inclusive": any(" ".join(t.lower().split()) == "send inclusive" for t in tags),
                }
            )
    for start in range(0, len(out), 1000):
        conn.execute(services.insert(), out[start : start + 1000])
    op.execute("ALTER TABLE partners DROP COLUMN services")
    # An import's one audit event names every table it changed: with services, five names need
    # more than 40 characters. (SQLite rebuilds the audit log for this; nothing refers to it.)
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("table_name", type_=sa.String(100), existing_type=sa.String(40), existing_nullable=False)


def downgrade() -> None:
    op.execute("UPDATE audit_log SET table_name = substr(table_name, 1, 40) WHERE length(table_name) > 40")
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("table_name", type_=sa.String(40), existing_type=sa.String(100), existing_nullable=False)
    op.add_column("partners", sa.Column("services", sa.Text))
    # The tags come back as the union of each partner's services' tags.
    conn = op.get_bind()
    tags: dict[str, list[str]] = {}
    for partner_id, text in conn.execute(sa.text("SELECT partner_id, tags FROM services ORDER BY service_id")):
        for tag in str(text or "").split(";"):
            if tag.strip() and tag.strip().lower() not in {t.lower() for t in tags.get(partner_id, [])}:
                tags.setdefault(partner_id, []).append(tag.strip())
    for partner_id, items in tags.items():
        conn.execute(
            sa.text("UPDATE partners SET services = :s WHERE partner_id = :p"), {"s": ";".join(items), "p": partner_id}
        )
    for column in ("version", "archived_on", "verified_by"):
        op.execute(f"ALTER TABLE partners DROP COLUMN {column}")
    op.drop_index("ix_services_partner", table_name="services")
    op.drop_table("services")
