"""A family is on an event's register once, and the database itself keeps it so (issue 26).

The app's own register saves could not double a family (a register contact's reference is made
from the event and the family), but ``interactions.csv`` could: its ``event_id`` put two contacts
of one family on one register, which then counted the family twice. Now the store holds a unique
key on (event, family), an import naming a family twice for one register is refused with row,
column and reason, and a store that already held a doubled family is mended by the migration
without losing a contact."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa

from engagement import events, records
from engagement import store as db
from tests.test_migrations import _step, bare_engine  # noqa: F401 - the fixture, by name

DAY = datetime.date(2026, 11, 2)
HEADER = "interaction_id,date,family_id,activity,event_id\n"


def _school_with_an_event(store) -> None:
    with store.write(actor="test") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Oak", postcode="B30 2AA", demo=False))
        conn.execute(db.families.insert(), [{"family_id": f, "school_id": "S1"} for f in ("F1", "F2")])
        conn.execute(db.events.insert().values(event_id="E1", school_id="S1", date=DAY, activity="family workshop"))


def _mark(store, families: list[str]) -> events.SavedRegister:
    return events.save_register(
        store,
        "flo",
        school_id="S1",
        date=DAY,
        activity="family workshop",
        event_id="E1",
        family_ids=families,
        today=DAY,
    )


def _register(store) -> list[tuple[str, str | None]]:
    ec = db.event_contacts
    with store.read() as conn:
        return [
            tuple(r) for r in conn.execute(sa.select(ec.c.interaction_id, ec.c.family_id).order_by(ec.c.interaction_id))
        ]


def _contacts(store) -> int:
    with store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(db.interactions)).scalar_one()


def test_a_file_naming_one_family_twice_for_a_register_is_refused_with_row_and_column(store):
    _school_with_an_event(store)
    rows = f"I1,{DAY},F1,family workshop,E1\nI2,{DAY},F2,family workshop,E1\nI3,{DAY},F1,family workshop,E1\n"
    run = records.import_records(store, [("interactions.csv", (HEADER + rows).encode())])
    assert not run.ok
    problems = [(p.row, p.column) for _, r in run.reports for p in r.errors]
    assert problems == [(4, "event_id")], run.format()
    assert "family 'F1' is on the register of event 'E1' already, by row 2" in run.format()
    assert _contacts(store) == 0 and _register(store) == []  # nothing written


def test_a_file_putting_a_family_already_on_the_register_on_it_again_is_refused(store):
    _school_with_an_event(store)
    saved = _mark(store, ["F1"])
    assert saved.added == 1
    run = records.import_records(store, [("interactions.csv", (HEADER + f"I9,{DAY},F1,family workshop,E1\n").encode())])
    assert not run.ok
    assert [(p.row, p.column) for _, r in run.reports for p in r.errors] == [(2, "event_id")]
    assert "already (contact" in run.format()
    assert _contacts(store) == 1 and [f for _, f in _register(store)] == ["F1"]
    # The same contact named again (a re-imported export) is no double.
    (contact,) = [i for i, _ in _register(store)]
    again = records.import_records(
        store, [("interactions.csv", (HEADER + f"{contact},{DAY},F1,family workshop,E1\n").encode())]
    )
    assert again.ok, again.format()
    assert _register(store) == [(contact, "F1")]


def test_the_store_itself_refuses_a_family_twice_on_a_register(store):
    """Whatever writes (a script, a future engine, a race the checks did not see), the key holds."""
    _school_with_an_event(store)
    with store.write(actor="test") as conn:
        for i in ("I1", "I2"):
            conn.execute(
                db.interactions.insert()
                .values(interaction_id=i, school_id="S1", date=DAY, family_id="F1", activity="family workshop")
                .values(channel="in person", two_way=True, direction="to family")
            )
        assert db.link_to_events(conn, [("I1", "E1")]) == {"I1"}
        # Asked to add if absent, the second contact of F1 is left off, without an error.
        assert db.link_to_events(conn, [("I2", "E1")], if_absent=True) == set()
    with pytest.raises(sa.exc.IntegrityError), store.write(actor="test") as conn:
        conn.execute(db.event_contacts.insert().values(interaction_id="I2", event_id="E1", family_id="F1"))
    assert _register(store) == [("I1", "F1")]
    # A contact's family changed by an import moves its register line with it.
    run = records.import_records(store, [("interactions.csv", (HEADER + f"I1,{DAY},F2,family workshop,\n").encode())])
    assert run.ok, run.format()
    assert _register(store) == [("I1", "F2")]


def test_a_register_saved_over_an_imported_contact_counts_the_family_once(store):
    _school_with_an_event(store)
    run = records.import_records(store, [("interactions.csv", (HEADER + f"I1,{DAY},F1,family workshop,E1\n").encode())])
    assert run.ok, run.format()
    saved = _mark(store, ["F1", "F2"])
    assert (saved.added, saved.already) == (1, 1)
    assert sorted(f for _, f in _register(store)) == ["F1", "F2"]
    assert _contacts(store) == 2


def _this_revision_and_the_one_before() -> tuple[str, str]:
    """This migration's revision and its parent's, found by its file (the lead renumbers at merge)."""
    from alembic.script import ScriptDirectory

    from tests.test_migrations import _config

    for script in ScriptDirectory.from_config(_config()).walk_revisions():
        if script.path.endswith("_one_family_per_register.py"):
            return script.revision, script.down_revision
    raise AssertionError("the migration is missing")


def test_the_migration_keeps_a_doubled_familys_first_contact_on_the_register(bare_engine):  # noqa: F811
    revision, before = _this_revision_and_the_one_before()
    _step(bare_engine, before)
    with bare_engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO schools (school_id, name, postcode, demo) VALUES ('S1','Oak','B30',false)"))
        conn.execute(sa.text("INSERT INTO families (family_id, school_id, pupils) VALUES ('F1','S1',1)"))
        conn.execute(
            sa.text("INSERT INTO events (event_id, school_id, date, activity) VALUES ('E1','S1','2026-11-02','x')")
        )
        for i in ("I1", "I2"):
            conn.execute(
                sa.text(
                    "INSERT INTO interactions (interaction_id, school_id, date, family_id, activity, channel, "
                    "two_way, direction) VALUES (:i, 'S1', '2026-11-02', 'F1', 'x', 'phone', true, 'to family')"
                ),
                {"i": i},
            )
            conn.execute(sa.text("INSERT INTO event_contacts (interaction_id, event_id) VALUES (:i, 'E1')"), {"i": i})
    _step(bare_engine, revision)
    with bare_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT interaction_id, family_id FROM event_contacts")).all() == [("I1", "F1")]
        assert conn.execute(sa.text("SELECT count(*) FROM interactions")).scalar() == 2  # no contact lost
        noted = conn.execute(sa.text("SELECT record_id, detail FROM audit_log WHERE actor = 'migration 0011'")).all()
    assert [r for r, _ in noted] == ["I2"] and "twice" in noted[0][1]
