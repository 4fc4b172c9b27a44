"""The migrations and the models agree: a store built by running every Alembic migration has
exactly the tables, columns, indexes and keys that ``engagement/store.py`` declares, on SQLite and
on PostgreSQL. A column added to a model without its migration (or the other way round) fails here."""

from __future__ import annotations

import re

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engagement.store import metadata


def _differences(store) -> list:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(context, metadata) if not _ignored(d)]


def _ignored(difference) -> bool:
    # Alembic keeps its own bookkeeping table, which the models rightly do not declare.
    return isinstance(difference, tuple) and difference[0] == "remove_table" and difference[1].name == "alembic_version"


def test_the_migrated_schema_is_the_models(store):
    assert _differences(store) == []


def test_a_model_change_without_a_migration_is_caught(store):
    from sqlalchemy import Column, String

    column = Column("website", String(300))
    metadata.tables["partners"].append_column(column)
    try:
        found = _differences(store)
    finally:
        metadata.tables["partners"]._columns.remove(column)
    assert [(d[0], d[3].name) for d in found] == [("add_column", "website")]


def test_the_next_migration_is_written_from_a_model_change(tmp_path):
    from sqlalchemy import Column, String

    from engagement.store import write_migration

    column = Column("website", String(300))
    metadata.tables["partners"].append_column(column)
    try:
        path = write_migration("partners: add website", version_path=tmp_path)
    finally:
        metadata.tables["partners"]._columns.remove(column)
    text = path.read_text()
    assert path.parent == tmp_path and "add_column" in text and "website" in text
    assert re.search(r"down_revision[^=]*= ['\"]0001['\"]", text), text  # it follows the newest migration
