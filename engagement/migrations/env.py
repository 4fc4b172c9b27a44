"""Alembic environment: migrations run on the connection the store hands over (see
``engagement.store.upgrade_schema``), so the app upgrades its own schema at start.

On SQLite every pending migration runs in one transaction with foreign keys switched off, then
the references are checked before it commits. SQLite cannot alter most of a table in place, so a
migration (batch mode, and every downgrade the generator writes) rebuilds the table: copies it,
drops the old one and renames the copy. With foreign keys on, that DROP deletes by cascade every
row referring to the table (a rebuilt ``partners`` took its services and every contact with it),
which is why Alembic's batch-mode documentation says to switch them off around a rebuild. A
migration that leaves a reference pointing at nothing is rolled back whole instead."""

from collections import Counter

from alembic import context
from sqlalchemy.engine import Connection

from engagement.store import metadata

connection: Connection = context.config.attributes["connection"]


def run_migrations() -> None:
    # The store's own tables are the target, so `alembic revision --autogenerate` writes the next
    # migration from a change to engagement/store/tables.py, and tests/test_migrations.py fails while the two differ.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def broken_references() -> Counter[tuple[str, str]]:
    """How many rows refer to no row, by (table, parent table). Counted, not listed by rowid: a
    rebuilt table numbers its rows afresh."""
    return Counter((row[0], row[2]) for row in connection.exec_driver_sql("PRAGMA foreign_key_check"))


def run_migrations_on_sqlite() -> None:
    if connection.in_transaction():
        # SQLite ignores the foreign_keys pragma inside a transaction: switching it off here would
        # silently do nothing, and a rebuild would cascade again.
        raise RuntimeError("SQLite migrations need a connection with no transaction begun")
    # The driver's own connection, so the pragma runs outside a transaction (SQLAlchemy would
    # begin one first).
    driver = connection.connection.driver_connection
    assert driver is not None
    enforced = driver.execute("PRAGMA foreign_keys").fetchone()[0]
    driver.execute("PRAGMA foreign_keys = OFF")
    try:
        with connection.begin():
            before = broken_references()
            run_migrations()  # inside this transaction: Alembic adds none of its own
            broken = broken_references() - before
            if broken:
                raise RuntimeError(
                    "The migration would leave rows referring to rows that no longer exist, so nothing was "
                    "changed: " + ", ".join(f"{n} in {table} (to {parent})" for (table, parent), n in broken.items())
                )
    finally:
        if enforced:
            driver.execute("PRAGMA foreign_keys = ON")


if connection.dialect.name == "sqlite":
    run_migrations_on_sqlite()
else:
    run_migrations()
