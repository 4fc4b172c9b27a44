"""The local offer (issue 25): a partner's status may be ``local offer``, an organisation of the
local authority's directory the school has not taken on (shown, suggested, counted in no score).

Only the ``partner_status`` check widens. PostgreSQL drops and adds the constraint. SQLite cannot
alter a check, and a rebuilt ``partners`` table would be dropped with foreign keys on, deleting by
cascade every interaction with a partner; so the table's stored definition is edited in place, the
procedure SQLite documents for loosening a constraint (existing rows satisfy the wider check), and
the schema version raised so every connection reads it again.

The downgrade never drops a row: a ``local offer`` partner becomes ``lapsed`` (counted nowhere,
as before) and the check narrows again.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD = "'active', 'prospective', 'lapsed'"
NEW = "'active', 'prospective', 'lapsed', 'local offer'"


def _sqlite_check(old: str, new: str) -> None:
    conn = op.get_bind()
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.execute(
        sa.text("UPDATE sqlite_master SET sql = replace(sql, :old, :new) WHERE type = 'table' AND name = 'partners'"),
        {"old": f"status IN ({old})", "new": f"status IN ({new})"},
    )
    stored = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'partners'").scalar()
    if f"status IN ({new})" not in str(stored):  # never carry on with a check that was not changed
        raise RuntimeError("partners: the partner_status check is not as the migrations wrote it; not changed")
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    # RESET (SQLite 3.33+) also has this connection read the schema again rather than trust its copy.
    conn.exec_driver_sql("PRAGMA writable_schema = RESET")


def _check(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_check(old, new)
    else:
        op.execute("ALTER TABLE partners DROP CONSTRAINT partner_status")
        op.execute(f"ALTER TABLE partners ADD CONSTRAINT partner_status CHECK (status IN ({new}))")


def upgrade() -> None:
    _check(OLD, NEW)


def downgrade() -> None:
    op.execute("UPDATE partners SET status = 'lapsed' WHERE status = 'local offer'")
    _check(NEW, OLD)
