"""The local offer (issue 25): a partner's status may be ``local offer``, an organisation of the
local authority's directory the school has not taken on (shown, suggested, counted in no score).

Only the ``partner_status`` check widens. PostgreSQL drops and adds the constraint. SQLite cannot
alter a check, and a rebuilt ``partners`` table would be dropped with foreign keys on, deleting by
cascade every interaction with a partner; so the table's stored definition is edited in place, the
procedure SQLite documents for loosening a constraint (existing rows satisfy the wider check), and
the schema version raised so every connection reads it again.

Feed addresses stored before (a partner's ``oruk_source``, an import's audit detail) lose any user
name, password or secret query value they were typed with: they are kept and logged without them
from now on (issue 24), and the ones already kept should not outlive that.

The downgrade never drops a row: a ``local offer`` partner becomes ``lapsed`` (counted nowhere,
as before) and the check narrows again.

Revision ID: 0009
Revises: 0008
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
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


_USERINFO = re.compile(r"(?i)\b(https?://)[^/\s@,]*@")
_SECRET_VALUE = re.compile(
    r"(?i)([?&][^=&\s,\"]*(?:key|token|secret|pass|pwd|auth|sig|session|credential|code)[^=&\s,\"]*=)[^&\s,\"]*"
)


def without_secrets(text: str) -> str:
    """``text`` with the credentials of every web address in it removed.

    >>> without_secrets("https://ann:pw@la.example/api?page=2&api_key=abc, b.json")
    'https://la.example/api?page=2&api_key=REDACTED, b.json'
    """
    return _SECRET_VALUE.sub(r"\1REDACTED", _USERINFO.sub(r"\1", text))


def _redact(table: str, key: str, column: str, where: str) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT {key}, {column} FROM {table} WHERE {where}")).all()
    for row_key, text in rows:
        clean = without_secrets(str(text))
        if clean != text:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k"), {"v": clean, "k": row_key})


def upgrade() -> None:
    _check(OLD, NEW)
    _redact("partners", "partner_id", "oruk_source", "oruk_source LIKE '%http%'")
    _redact("audit_log", "id", "detail", "detail LIKE '%Open Referral%' AND detail LIKE '%http%'")


def downgrade() -> None:
    op.execute("UPDATE partners SET status = 'lapsed' WHERE status = 'local offer'")
    _check(NEW, OLD)
