"""Alembic environment: migrations run on the connection the store hands over (see
``engagement.store.upgrade_schema``), so the app upgrades its own schema at start."""

from alembic import context

from engagement.store import metadata

connection = context.config.attributes["connection"]
# The store's own tables are the target, so `alembic revision --autogenerate` writes the next
# migration from a change to engagement/store.py, and tests/test_migrations.py fails while the two differ.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
