"""The migrations and the models agree: a store built by running every Alembic migration has
exactly the tables, columns, indexes and keys that ``engagement/store/tables.py`` declares, on SQLite and
on PostgreSQL. A column added to a model without its migration (or the other way round) fails here."""

from __future__ import annotations

import datetime
import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engagement.store import metadata


def _differences(store) -> list:
    return _engine_differences(store.engine)


def _engine_differences(engine) -> list:
    with engine.connect() as conn:
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


MIGRATIONS = Path(__file__).resolve().parent.parent / "engagement" / "migrations"


def _config(extra_versions: Path | None = None):
    """Alembic's configuration for the store's migrations, and those written into ``extra_versions``
    (a test's scratch folder) too."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if extra_versions is not None:
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", os.pathsep.join([str(MIGRATIONS / "versions"), str(extra_versions)]))
    return cfg


def _step(engine, revision: str, down: bool = False, extra_versions: Path | None = None) -> None:
    from alembic import command

    cfg = _config(extra_versions)
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


# ---------------------------------------------------------------- no migration loses a row

DAY = datetime.date(2026, 9, 14)
# Rows for every table of the store, written as the newest schema has them; a store at an older
# revision gets each row's columns that it has. A new table needs its rows here (the test below
# fails until it has them), so that every migration is tried on a store that holds data.
SAMPLE_ROWS: dict[str, list[dict]] = {
    "schools": [{"school_id": "S1", "name": "Oak", "postcode": "B30 2AA", "demo": False}],
    "partners": [
        # "services" is the tags column partners had before 0006 turned it into rows of services.
        {"partner_id": p, "school_id": "S1", "name": n, "category": "food bank", "layer": 3, "status": "active"}
        | {"services": t, "version": 1}
        for p, n, t in (("P1", "Food bank", "food;SEND inclusive"), ("P2", "Youth club", None))
    ],
    "services": [{"service_id": "P2-S1", "partner_id": "P2", "name": "Homework club", "send_inclusive": False}],
    "families": [{"family_id": f, "school_id": "S1", "pupils": 1} for f in ("F1", "F2")],
    "interactions": [
        {"interaction_id": i, "school_id": "S1", "date": DAY, "family_id": f, "partner_id": p}
        | {"activity": "meeting", "channel": "in person", "two_way": True, "direction": "to family"}
        for i, f, p in (("I1", None, "P1"), ("I2", "F1", None))
    ],
    "events": [{"event_id": "E1", "school_id": "S1", "date": DAY, "activity": "coffee morning", "partner_ids": "P1"}],
    "event_contacts": [{"interaction_id": "I2", "event_id": "E1", "family_id": "F1"}],
    "referrals": [
        {"referral_id": "R1", "school_id": "S1", "family_id": "F1", "partner_id": "P1", "date": DAY}
        | {"status": "accepted", "status_date": DAY}
    ],
    "referral_steps": [{"referral_id": "R1", "status": s, "date": DAY} for s in ("sent", "accepted")],
    "family_partners": [{"family_id": "F2", "partner_id": "P1", "school_id": "S1", "relation": "uses"}],
    "terms": [{"school_id": "S1", "kind": "term", "name": "Autumn", "start": DAY, "end": DAY}],
    "transitions": [
        {"transition_id": "T1", "school_id": "S1", "family_id": "F1", "kind": "primary to secondary"}
        | {"direction": "leaving", "date": DAY, "send": True}
    ],
    "transition_steps": [
        {"step_id": "T1/visit", "transition_id": "T1", "step": "visit", "title": "Visit"}
        | {"done": True, "done_on": DAY, "done_by": "flo"}
    ],
    "survey_responses": [
        {"school_id": "S1", "survey": "belonging", "date": DAY, "question": "belong", "answer": "agree"}
        | {"family_id": "F1", "respondent": "parent"}
    ],
    "partnerships": [
        {"partnership_id": "PS1", "school_id": "S1", "name": "Inclusive play", "partners": "P1;P2"}
        | {"start": DAY, "status": "active", "version": 1}
    ],
    "partnership_members": [{"partnership_id": "PS1", "family_id": f, "joined": DAY} for f in ("F1", "F2")],
    "action_plan": [
        {"plan_id": "A1", "school_id": "S1", "year": "2026-27", "epstein_type": "communicating"}
        | {"goal": "Answer every message", "measure": "communication.open", "target": 0.5}
        | {"status": "in progress", "version": 1}
    ],
    "geocode_cache": [
        {"query": "B30 2AA", "latitude": 52.43, "longitude": -1.93, "found": True, "source": "test"}
        | {"fetched_at": datetime.datetime(2026, 9, 14, 9, 0, tzinfo=datetime.UTC)}
    ],
    "gazetteer": [{"postcode": "B30 2AA", "latitude": 52.43, "longitude": -1.93}],
    "audit_log": [
        {"at": datetime.datetime(2026, 9, 14, 9, 0, tzinfo=datetime.UTC), "actor": "test", "action": "insert"}
        | {"table_name": "partners", "record_id": "P1"}
    ],
}


def _revisions(extra_versions: Path | None = None) -> list[str]:
    """Every revision, oldest first."""
    from alembic.script import ScriptDirectory

    return [s.revision for s in reversed(list(ScriptDirectory.from_config(_config(extra_versions)).walk_revisions()))]


def _fill(engine) -> None:
    """Sample rows into every table the store has now that holds none, parents first."""
    with engine.begin() as conn:
        present = set(sa.inspect(conn).get_table_names())
        for table in metadata.sorted_tables:
            if table.name not in present or conn.execute(sa.text(f"SELECT count(*) FROM {table.name}")).scalar():
                continue
            stored = sa.Table(table.name, sa.MetaData(), autoload_with=conn)
            rows = [{k: v for k, v in row.items() if k in stored.c} for row in SAMPLE_ROWS.get(table.name, [])]
            if rows:
                conn.execute(stored.insert(), rows)


def _keys(engine) -> dict[str, set[tuple]]:
    """The primary key of every row of every table the store has now (Alembic's own left out)."""
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        out = {}
        for name in inspector.get_table_names():
            if name == "alembic_version":
                continue
            key = inspector.get_pk_constraint(name)["constrained_columns"]
            columns = ", ".join(f'"{c}"' for c in key)
            out[name] = {tuple(row) for row in conn.execute(sa.text(f"SELECT {columns} FROM {name}"))}
        return out


def _lost(before: dict[str, set[tuple]], after: dict[str, set[tuple]]) -> dict[str, set[tuple]]:
    """The rows of ``before`` gone from ``after``, by table, in the tables both have."""
    return {t: before[t] - after[t] for t in before.keys() & after.keys() if before[t] - after[t]}


def test_every_table_has_sample_rows_for_the_migration_test():
    """The row-keeping test below fills the tables from SAMPLE_ROWS: a table of the store left out
    of it would go through every migration empty, so nothing could show a migration losing its rows."""
    assert sorted(t for t in metadata.tables if not SAMPLE_ROWS.get(t)) == []
    assert sorted(set(SAMPLE_ROWS) - set(metadata.tables)) == []


def test_every_migration_up_down_and_up_again_keeps_every_row(bare_engine):
    """Each migration in turn, up to the newest, down to nothing and up again, on a store with
    rows in every table it has: no step loses a row of a table that exists before and after it.
    (A downgrade that rebuilt ``partners`` on SQLite with foreign keys on used to take every
    service and every contact with a partner with it, by cascade.)"""
    revisions = _revisions()
    steps = [(r, False) for r in revisions]
    steps += [(r, True) for r in [*reversed(revisions[:-1]), "base"]]
    steps += [(r, False) for r in revisions]
    at_head = 0
    for revision, down in steps:
        _fill(bare_engine)
        before = _keys(bare_engine)
        _step(bare_engine, revision, down=down)
        after = _keys(bare_engine)
        assert _lost(before, after) == {}, f"{'down' if down else 'up'} to {revision}"
        if revision == revisions[-1]:
            at_head += 1
            # Sanity: at the newest revision every table of the store has rows, so every step
            # down from here is tried on all of them.
            _fill(bare_engine)
            assert sorted(t for t, keys in _keys(bare_engine).items() if not keys) == []
            assert set(_keys(bare_engine)) == set(metadata.tables)
    assert at_head == 2
    # Down and up again leaves the very schema the models declare (no index or check left behind).
    assert _engine_differences(bare_engine) == []


def test_a_generated_migration_keeps_every_row_up_and_down(bare_engine, tmp_path):
    """scripts/new_migration.py's migration for a new column of partners and of families (tables
    other tables refer to), run up and down on a store with rows in every table, loses none."""
    from sqlalchemy import Column, String

    from engagement.store import write_migration

    added = [(metadata.tables[t], Column("website", String(300))) for t in ("partners", "families")]
    for table, column in added:
        table.append_column(column)
    try:
        path = write_migration("partners and families: add website", version_path=tmp_path)
    finally:
        for table, column in added:
            table._columns.remove(column)
    assert "drop_column('website')" in path.read_text().replace('"', "'")
    *_, previous, generated = _revisions(tmp_path)
    _step(bare_engine, previous)
    _fill(bare_engine)
    before = _keys(bare_engine)
    assert all(before.values())
    _step(bare_engine, generated, extra_versions=tmp_path)
    with bare_engine.connect() as conn:
        assert "website" in {c["name"] for c in sa.inspect(conn).get_columns("partners")}
    assert _keys(bare_engine) == before
    _step(bare_engine, previous, down=True, extra_versions=tmp_path)
    with bare_engine.connect() as conn:
        assert "website" not in {c["name"] for c in sa.inspect(conn).get_columns("partners")}
    assert _keys(bare_engine) == before


def test_a_sqlite_migration_that_would_break_references_changes_nothing(tmp_path):
    """With foreign keys off during a migration on SQLite, nothing deletes the rows that referred
    to a deleted row: the references are checked before the migration commits, and a migration
    leaving one broken is rolled back whole, its revision not recorded."""
    from engagement.store import _make_engine

    head = _revisions()[-1]
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "9999_drop_a_partner.py").write_text(
        f'from alembic import op\n\nrevision = "9999"\ndown_revision = "{head}"\n\n\n'
        "def upgrade():\n"
        "    op.execute(\"UPDATE partners SET name = 'Renamed'\")\n"
        "    op.execute(\"DELETE FROM partners WHERE partner_id = 'P1'\")\n\n\n"
        "def downgrade():\n    pass\n"
    )
    engine = _make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        _step(engine, head)
        _fill(engine)
        before = _keys(engine)
        with pytest.raises(RuntimeError, match="refer"):
            _step(engine, "9999", extra_versions=versions)
        assert _keys(engine) == before
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head
            assert set(conn.execute(sa.text("SELECT name FROM partners")).scalars()) == {"Food bank", "Youth club"}
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # on again for the app
    finally:
        engine.dispose()
