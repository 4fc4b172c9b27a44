"""The schools in the store, and clearing the demo school with every row that belongs to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    Table,
    func,
    select,
)

if TYPE_CHECKING:  # pandas is imported where a frame is built: the store itself never needs it
    pass
from engagement.store.auditing import audit
from engagement.store.tables import metadata, schools

if TYPE_CHECKING:
    from engagement.store import Store


def school_ids(store: Store) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(select(schools.c.school_id).order_by(schools.c.school_id)).scalars())


def list_schools(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(schools).order_by(schools.c.name)).mappings()]


def get_school(store: Store, school_id: str) -> dict | None:
    with store.read() as conn:
        row = conn.execute(select(schools).where(schools.c.school_id == school_id)).mappings().first()
    return dict(row) if row else None


def is_empty(store: Store) -> bool:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(schools)).scalar() == 0


def has_demo_data(store: Store) -> bool:
    with store.read() as conn:
        return bool(conn.execute(select(func.count()).select_from(schools).where(schools.c.demo)).scalar())


def _rows_of_schools(table: Table, school_ids: list[str]):
    """A condition selecting the rows of ``table`` that belong to ``school_ids`` (its own
    ``school_id``, or its parent's, following foreign keys), or None for a table no school owns."""
    if table.name == "schools":
        return table.c.school_id.in_(school_ids)
    if "school_id" in table.c and any(fk.column.table.name == "schools" for fk in table.c.school_id.foreign_keys):
        return table.c.school_id.in_(school_ids)
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        parent = fk.column.table
        owned = _rows_of_schools(parent, school_ids)
        if owned is not None and fk.parent.nullable is False:
            return fk.parent.in_(select(fk.column).where(owned))
    return None


def clear_demo_data(store: Store, actor: str) -> int:
    """Delete every demo school with its partners, families and interactions. Returns how many
    schools went. Real schools imported beside the demo are left alone."""
    with store.write(actor) as conn:
        demo_ids = list(conn.execute(select(schools.c.school_id).where(schools.c.demo)).scalars())
        if not demo_ids:
            return 0
        # Explicit deletes, children first (every table that belongs to a school, directly or
        # through its parent's key), so this works whether or not the database enforces ON DELETE
        # CASCADE, and a new table is cleared without being listed here.
        deleted = {}
        for table in reversed(metadata.sorted_tables):
            rows = _rows_of_schools(table, demo_ids)
            if rows is not None:
                deleted[table.name] = conn.execute(table.delete().where(rows)).rowcount
        audit(
            conn,
            "clear demo",
            "schools",
            detail=(
                f"removed demo schools {', '.join(demo_ids)}: "
                + ", ".join(f"{n} {name}" for name, n in deleted.items())
            ),
        )
        return len(demo_ids)
