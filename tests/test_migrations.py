"""The migrations and the models agree: a store built by running every Alembic migration has
exactly the tables, columns, indexes and keys that ``engagement/store.py`` declares, on SQLite and
on PostgreSQL. A column added to a model without its migration (or the other way round) fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
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
    # It follows the newest migration, whichever that is once branches are merged.
    from pathlib import Path

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "engagement" / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert re.search(rf"down_revision[^=]*= ['\"]{head}['\"]", text), text


@pytest.fixture(params=["sqlite", "postgresql"])
def bare_engine(request, tmp_path):
    """An engine on a database with no tables yet (its own PostgreSQL schema), for stepping
    through the migrations one revision at a time."""
    if request.param == "sqlite":
        from engagement.store import _make_engine

        engine = _make_engine(f"sqlite:///{tmp_path / 'steps.db'}")
        yield engine
        engine.dispose()
        return
    import uuid

    from tests.conftest import _schema_url

    admin = request.getfixturevalue("postgresql_admin")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = sa.create_engine(_schema_url(schema))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


def _step(engine, revision: str, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    import engagement.store

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(engagement.store.__file__).parent / "migrations"))
    with engine.connect().execution_options(write=True) as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)
        conn.commit()


def test_the_partners_services_tags_become_services_and_come_back(bare_engine):
    """Issue 16: each partner's old ``services`` tags become one service holding every tag (nothing
    lost; "SEND inclusive" also sets the flag), no contact with a partner is lost on the way, and
    a downgrade gives the tags back."""
    _step(bare_engine, "0005")
    with bare_engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO schools (school_id, name, postcode, demo) VALUES ('S1', 'Oak', 'B30 2AA', false)")
        )
        for pid, tags in (("P1", "food; debt advice;SEND inclusive"), ("P2", None), ("P3", "")):
            conn.execute(
                sa.text(
                    "INSERT INTO partners (partner_id, school_id, name, category, layer, status, services) "
                    "VALUES (:p, 'S1', :n, 'food bank', 3, 'active', :t)"
                ),
                {"p": pid, "n": f"Partner {pid}", "t": tags},
            )
        conn.execute(
            sa.text(
                "INSERT INTO interactions (interaction_id, school_id, date, partner_id, activity, channel, two_way, "
                "direction) VALUES ('I1', 'S1', '2026-09-14', 'P1', 'meeting', 'in person', true, 'to family')"
            )
        )
    _step(bare_engine, "head")
    with bare_engine.connect() as conn:
        services = conn.execute(
            sa.text("SELECT service_id, partner_id, name, tags, send_inclusive FROM services")
        ).all()
        assert [tuple(s) for s in services] == [("P1-S1", "P1", "Partner P1", "food;debt advice;SEND inclusive", True)]
        assert conn.execute(sa.text("SELECT count(*) FROM interactions")).scalar() == 1
        assert conn.execute(sa.text("SELECT DISTINCT version FROM partners")).scalars().all() == [1]
    _step(bare_engine, "0005", down=True)
    with bare_engine.connect() as conn:
        tags = dict(conn.execute(sa.text("SELECT partner_id, services FROM partners")).all())
    assert tags == {"P1": "food;debt advice;SEND inclusive", "P2": None, "P3": None}
