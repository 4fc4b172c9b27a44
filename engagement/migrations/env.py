"""Alembic environment: migrations run on the connection the store hands over (see
``engagement.store.upgrade_schema``), so the app upgrades its own schema at start."""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
