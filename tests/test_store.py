"""The store: schema applied by migrations, writes audited, concurrent writers wait, on both databases."""

import datetime
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engagement import store as db
from engagement.store import rows as store_rows


def _add_school(store, school_id="S1", demo=False):
    with store.write(actor="test") as conn:
        conn.execute(
            db.schools.insert().values(school_id=school_id, name="Hollybrook Primary", postcode="B30 2AA", demo=demo)
        )


def test_schema_is_at_newest_revision(store):
    with store.read() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == _head()
        names = set(sa.inspect(conn).get_table_names())
    assert {
        "schools",
        "partners",
        "services",
        "families",
        "interactions",
        "terms",
        "geocode_cache",
        "gazetteer",
        "audit_log",
    } <= names


def test_opening_twice_keeps_data(store):
    _add_school(store)
    again = db.open_store(store.url)
    assert db.school_ids(again) == ["S1"]
    again.dispose()


def test_foreign_keys_enforced(store):
    _add_school(store)
    with pytest.raises(sa.exc.IntegrityError), store.write(actor="test") as conn:
        conn.execute(db.families.insert().values(family_id="F1", school_id="NOPE"))


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def test_interaction_must_name_a_family_or_a_partner_or_both(store):
    _add_school(store)
    with store.write(actor="test") as conn:
        conn.execute(db.families.insert().values(family_id="F1", school_id="S1"))
        conn.execute(
            db.partners.insert().values(partner_id="P1", school_id="S1", name="Library", category="library", layer=3)
        )
    row = dict(
        school_id="S1",
        date=__import__("datetime").date(2026, 9, 14),
        activity="newsletter",
        channel="digital",
        two_way=False,
    )
    # Both: the family took part in the partner's session (it counts for both sides).
    with store.write(actor="test") as conn:
        conn.execute(db.interactions.insert().values(interaction_id="I1", family_id="F1", partner_id="P1", **row))
    # Neither: a message to all families of the school (the import and the app allow it for a one-way
    # communicating activity only, engagement.communication.is_message_to_all).
    with store.write(actor="test") as conn:
        conn.execute(db.interactions.insert().values(interaction_id="I2", family_id=None, partner_id=None, **row))
    with pytest.raises(sa.exc.IntegrityError), store.write(actor="test") as conn:
        conn.execute(db.interactions.insert().values(interaction_id="I3", family_id="F1", direction="upwards", **row))


def test_failed_write_rolls_back_whole(store):
    _add_school(store)
    with pytest.raises(RuntimeError), store.write(actor="test") as conn:
        conn.execute(db.families.insert().values(family_id="F1", school_id="S1"))
        raise RuntimeError("boom")
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(db.families)).scalar() == 0


def test_upsert_inserts_updates_and_audits(store):
    _add_school(store)
    with store.write(actor="flo@school") as conn:
        counts = db.upsert(conn, "families", [{"family_id": "F1", "school_id": "S1", "postcode": "B30 2AA"}])
    assert counts == {"inserted": 1, "updated": 0, "unchanged": 0}
    with store.write(actor="flo@school") as conn:
        counts = db.upsert(conn, "families", [{"family_id": "F1", "school_id": "S1", "postcode": "B29 6AB"}])
    assert counts == {"inserted": 0, "updated": 1, "unchanged": 0}
    with store.read() as conn:
        rows = (
            conn.execute(
                select(db.audit_log).where(db.audit_log.c.table_name == "families").order_by(db.audit_log.c.id)
            )
            .mappings()
            .all()
        )
    assert [r["action"] for r in rows] == ["insert", "update"]
    assert rows[1]["actor"] == "flo@school"
    assert '"postcode": "B30 2AA"' in rows[1]["before"] and '"postcode": "B29 6AB"' in rows[1]["after"]


def test_clear_demo_data_leaves_real_schools(store):
    _add_school(store, "DEMO", demo=True)
    _add_school(store, "REAL", demo=False)
    with store.write(actor="test") as conn:
        conn.execute(db.families.insert().values(family_id="F1", school_id="DEMO"))
    assert db.has_demo_data(store)
    assert db.clear_demo_data(store, actor="test") == 1
    assert db.school_ids(store) == ["REAL"]
    assert not db.has_demo_data(store)


def test_concurrent_writers_wait_instead_of_failing(sqlite_store):
    """Eight officers saving at once on SQLite: every write lands (BEGIN IMMEDIATE + busy timeout)."""
    _add_school(sqlite_store)
    errors = []

    def officer(n):
        try:
            for i in range(10):
                with sqlite_store.write(actor=f"flo{n}") as conn:
                    conn.execute(db.families.insert().values(family_id=f"F{n}-{i}", school_id="S1"))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=officer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sqlite_store.read() as conn:
        assert conn.execute(select(func.count()).select_from(db.families)).scalar() == 80


def test_sqlite_pragmas(sqlite_store):
    with sqlite_store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_TIMEOUT_MS


def test_database_url_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert db.database_url(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
    assert db.database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/from-env.db")
    assert db.database_url() == "sqlite:////tmp/from-env.db"


def _index_sql(store) -> set:
    with store.read() as conn:
        return set(
            conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'interactions'"
            ).all()
        )


def test_a_large_sqlite_insert_builds_the_indexes_again_and_a_failed_one_keeps_them(sqlite_store, monkeypatch):
    """A big import drops the interactions' secondary indexes and builds them again in the same
    transaction: afterwards they are exactly as before and used; when the write fails, the
    rollback keeps them."""
    monkeypatch.setattr(store_rows, "SQLITE_REBUILD_INDEXES_FROM", 10)
    before = _index_sql(sqlite_store)
    assert any(name == "ix_interactions_family_date" for name, _ in before)
    with sqlite_store.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="A", postcode="B30 2AA"))
        conn.execute(db.families.insert().values(family_id="F1", school_id="S1"))
    n = 50
    columns = {
        "interaction_id": [f"I{i:03d}" for i in range(n)],
        "school_id": ["S1"] * n,
        "date": [datetime.date(2026, 9, 1)] * n,
        "family_id": ["F1"] * n,
        "activity": ["phone call"] * n,
        "channel": ["phone"] * n,
        "two_way": [True] * n,
    }
    set_aside: list[list[str]] = []
    real = store_rows._indexes_set_aside
    monkeypatch.setattr(store_rows, "_indexes_set_aside", lambda *a: set_aside.append(real(*a)) or set_aside[-1])
    with sqlite_store.write("import") as conn:
        assert db.bulk_insert(conn, "interactions", columns) == n
    assert len(set_aside[0]) == len([sql for _, sql in before if sql])  # they were dropped and built again
    assert _index_sql(sqlite_store) == before
    with sqlite_store.read() as conn:
        plan = " ".join(
            str(r) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT * FROM interactions WHERE family_id = 'F1'")
        )
    assert "ix_interactions_family_date" in plan
    with pytest.raises(IntegrityError), sqlite_store.write("import") as conn:
        db.bulk_insert(conn, "interactions", {**columns, "interaction_id": [f"J{i:03d}" for i in range(n)]})
        conn.execute(
            db.interactions.insert().values(
                interaction_id="J000",
                school_id="S1",
                date=datetime.date(2026, 9, 1),
                family_id="F1",
                activity="phone call",
                channel="phone",
                two_way=True,
            )
        )
    assert _index_sql(sqlite_store) == before
    with sqlite_store.read() as conn:
        assert conn.execute(select(func.count()).select_from(db.interactions)).scalar_one() == n


def test_the_frames_the_pages_read_are_built_from_tuples_not_rows(demo_copy, monkeypatch):
    """Given a list of SQLAlchemy ``Row``s, pandas asks each row for a ``dtype`` attribute, which a
    ``Row`` answers by raising an exception it builds (about 5 microseconds a row: a fifth of a
    second for the demo school's contacts, on every page that reads them). The readers of the
    pages hand pandas tuples (``db.tuples``), so no row is ever asked."""
    from sqlalchemy.engine.row import Row

    from engagement import belonging, communication, outreach, partnerships, transitions

    asked: list[str] = []
    real = Row.__getattr__

    def spy(row, name):
        asked.append(name)
        return real(row, name)

    store = db.open_store(demo_copy())
    try:
        school = db.school_ids(store)[0]
        monkeypatch.setattr(Row, "__getattr__", spy)
        assert len(communication.load_messages(store, school).contacts) > 1000
        assert len(belonging.load_responses(store, school)) > 1000
        assert len(transitions.load_transitions(store, school)) > 0
        assert len(partnerships.load_members(store, school)) > 0
        assert len(outreach.load_frames(store, school).families) > 100
    finally:
        store.dispose()
    assert "dtype" not in asked
