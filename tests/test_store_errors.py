"""A store that is down, read-only, locked or drops its connection: every command ends with one
plain line and exit 1, a process started during another's write neither waits nor fails, and a
contact saved while the connection drops is saved on a fresh one."""

from __future__ import annotations

import datetime
import sqlite3

import sqlalchemy as sa
from conftest import POSTGRES_SERVER

from engagement import cli
from engagement import store as db
from engagement.contacts import log_interaction


def test_a_database_server_that_is_down_gives_one_line(capsys):
    for command in (["score"], ["demo"], ["export", "/tmp/never"]):
        assert cli.main([*command, "--db", "postgresql://postgres@127.0.0.1:1/test"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot be reached" in err and "Traceback" not in err


def test_a_read_only_store_gives_one_line(tmp_path, capsys):
    path = tmp_path / "ro.db"
    db.open_store(str(path)).dispose()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    assert cli.main(["demo", "--db", read_only]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "readonly database" in err
    assert cli.main(["erase-family", "F1", "--db", read_only]) in (1,)
    assert "Traceback" not in capsys.readouterr().err


def test_a_command_started_during_a_long_write_does_not_wait_for_it(tmp_path, capsys, demo_copy):
    demo_copy("busy.db")  # the demo school, copied from the session's
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's import, holding the write lock
    try:
        # Had it needed the write lock, it would have failed ("database is locked") once the busy
        # timeout ran out, since the lock is only released below: it succeeds, so it never asked.
        assert cli.main(["score", "--db", str(path), "--json"]) == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert '"families"' in capsys.readouterr().out


def test_a_contact_saved_as_the_connection_drops_is_saved_on_a_fresh_one(postgresql_store):
    store = postgresql_store
    with store.write(actor="test") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Oak", postcode="B30 2AA", demo=False))
        conn.execute(db.families.insert().values(family_id="F1", school_id="S1"))
    admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    dropped = []

    @sa.event.listens_for(store.engine, "begin")
    def drop_the_first(conn):
        # The server ends this very connection just as the save begins (a restart, a network blip).
        if not dropped:
            dropped.append(True)
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with admin.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")

    new_id = log_interaction(
        store,
        "flo@school",
        school_id="S1",
        date=datetime.date(2026, 11, 2),
        activity="phone call",
        family_id="F1",
        today=datetime.date(2026, 11, 2),
    )
    admin.dispose()
    assert dropped
    with store.read() as conn:
        assert conn.execute(sa.select(db.interactions.c.interaction_id)).scalars().all() == [new_id]


def test_a_connection_ended_by_the_server_is_said_plainly(postgresql_store):
    """A server stopping or restarting ends its connections with its own last words ("terminating
    connection due to administrator command"), which were shown as they came; they now read as the
    server not being reachable, as a refused connection does."""
    store = postgresql_store
    admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with store.read() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with admin.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            try:
                conn.exec_driver_sql("SELECT 1")
            except sa.exc.OperationalError as error:
                ended = error
            else:
                raise AssertionError("the connection was not ended")
    finally:
        admin.dispose()
    assert db.store_problem(ended) == "the database server cannot be reached (is it running?)"
