"""Chaos (issue 26): a writer killed in the middle of a save, and the PostgreSQL server stopped and
started while staff save, lose nothing acknowledged and leave no half of a save behind. (The third
part, a full disk, is tests/test_full_disk.py.)

- **A writer killed** (``SIGKILL``: no handler, no clean-up, as a crash or the OOM killer): two
  writer processes mark event registers through the app's own save (``events.save_register``),
  each printing a register's reference before the save and again once it has returned. One of them
  stops inside its last save, a register of 600 families, after every row is written and before
  the commit (on SQLite with a tiny page cache, so the uncommitted rows are already in the
  write-ahead log: 490 kB of it, measured); then both are killed, the other one mid-save too. Every register acknowledged is there whole, every
  one in flight is wholly there or wholly absent, no contact is left off a register, and the store
  opens and passes its integrity check (SQLite's ``integrity_check`` and ``foreign_key_check``;
  PostgreSQL's ``amcheck`` on every index, with the heap checked against each).
- **PostgreSQL stopped and started** while four staff log contacts through one store, as the app's
  server does (one engine, its pool shared): every save acknowledged is there; every one that is not
  was refused with an error the page shows as one plain sentence; once the server is back, every
  writer's saves go in again on the same store (its pool tests a connection before lending it).

The PostgreSQL here is a private cluster made for this module (``initdb`` into a folder of its
own, on a free port), never the shared server of the other tests: stopping that one would fail
every other test run on the machine."""

from __future__ import annotations

import contextlib
import datetime
import glob
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from engagement import store as db
from engagement.contacts import log_interaction
from ui.forms import why_not_saved

ROOT = Path(__file__).resolve().parent.parent
DAY = datetime.date(2026, 11, 2)
FAMILIES = 2000
BIG_REGISTER = 600
DEADLINE = 60.0  # seconds any one wait may take on a loaded two-core machine before it fails


def _deadline(seconds: float = DEADLINE) -> float:
    return time.monotonic() + seconds


# ---------------------------------------------------------------- a private PostgreSQL


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.fail("initdb is not installed: the chaos test needs PostgreSQL's server programs")
    return Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of this test module's own: made, started, stopped and removed here."""

    folder: Path
    port: int
    bin: Path
    as_postgres: list[str]

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args],
            check=True,
            capture_output=True,
            timeout=90,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=40"
        self._pg_ctl("-l", str(self.folder / "server.log"), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def new_database(self) -> str:
        name = f"chaos_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        return self.url(name)


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivateCluster]:
    """``initdb`` refuses to run as root, so as root the cluster is made and run by the ``postgres``
    user of the system, in a folder that user owns."""
    folder = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(folder, "postgres")
    cluster = PrivateCluster(folder, _free_port(), _postgres_bin(), as_postgres)
    initdb = [str(cluster.bin / "initdb"), "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "--no-sync"]
    subprocess.run(
        [*as_postgres, *initdb, "-E", "UTF8"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- a writer killed mid-save

WRITER = """
import datetime, sys
import sqlalchemy as sa
from engagement import events, store as db

url, name, stop_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = db.open_store(url)
day = datetime.date(2026, 11, 2)
for n in range(1, 100_000):
    register = f"{name}-{n}"
    families = [f"F{(n * 7 + k) % FAMILIES:04d}" for k in range(5)]
    if n == stop_at:
        # The last save: a large register that stops inside its transaction, every row written,
        # until the process is killed.
        families = [f"F{k:04d}" for k in range(BIG_REGISTER)]
        print("READY", register, flush=True)
        sys.stdin.readline()  # once the other writers are saving too
        if store.dialect == "sqlite":
            store.dispose()

            @sa.event.listens_for(store.engine, "connect")
            def tiny_cache(dbapi_conn, _record):
                # Few pages kept in memory: the uncommitted rows spill into the write-ahead log.
                dbapi_conn.execute("PRAGMA cache_size = 16")

        @sa.event.listens_for(store.engine, "commit")
        def stop_before_commit(conn):
            print("INSIDE", register, flush=True)
            sys.stdin.readline()  # never answered: the test kills this process here

    print("TRY", register, flush=True)
    try:
        events.save_register(store, "flo", school_id="S1", date=day, activity="family workshop",
                             event_id=register, family_ids=families, today=day)
    except Exception as error:
        print("REFUSED", register, db.store_problem(error), flush=True)
        continue
    print("ACK", register, flush=True)
""".replace("FAMILIES", str(FAMILIES)).replace("BIG_REGISTER", str(BIG_REGISTER))


@dataclass
class Writer:
    """A writer process and what it has said, line by line, read as it comes."""

    name: str
    process: subprocess.Popen
    lines: queue.Queue = field(default_factory=queue.Queue)
    said: list[list[str]] = field(default_factory=list)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.split(maxsplit=2))

    def wait_for(self, word: str, deadline: float) -> list[str]:
        """What it has said up to its first line starting with ``word``."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"{self.name} did not say {word} in time; it said {self.said[-5:]}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.said.append(line)
            if line and line[0] == word:
                return line

    def drain(self) -> None:
        self.process.wait(timeout=DEADLINE)
        while not self.lines.empty():
            self.said.append(self.lines.get())

    def registers(self, word: str) -> list[str]:
        return [line[1] for line in self.said if line and line[0] == word]


def _start_writer(url: str, name: str, stop_at: int) -> Writer:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, name, str(stop_at)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    writer = Writer(name, process)
    threading.Thread(target=writer.read, daemon=True).start()
    return writer


def _school(store: db.Store) -> None:
    with store.write(actor="test") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Oak", postcode="B30 2AA", demo=False))
        conn.execute(db.families.insert(), [{"family_id": f"F{i:04d}", "school_id": "S1"} for i in range(FAMILIES)])


def _integrity(store: db.Store) -> None:
    """The store's own integrity check, every page and index of it."""
    with store.read() as conn:
        if store.dialect == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalars().all() == ["ok"]
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            return
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS amcheck")
        indexes = conn.exec_driver_sql(
            "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'btree' "
            "AND c.relnamespace = 'public'::regnamespace"
        ).all()
        assert len(indexes) > 20
        for oid, _name in indexes:
            conn.exec_driver_sql(f"SELECT bt_index_check({oid}, true)")  # the table's rows against the index
        conn.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def chaos_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'chaos.db'}"
    return request.getfixturevalue("private_postgres").new_database()


def test_writers_killed_mid_save_lose_nothing_acknowledged_and_leave_no_half_save(chaos_url):
    store = db.open_store(chaos_url)
    _school(store)
    store.dispose()
    writers = [_start_writer(chaos_url, "W1", stop_at=6)] + [
        _start_writer(chaos_url, name, stop_at=100_000) for name in ("W2",)
    ]
    try:
        deadline = _deadline()
        writers[0].wait_for("READY", deadline)
        for writer in writers[1:]:
            writer.wait_for("ACK", deadline)  # the others are saving too
        assert writers[0].process.stdin is not None
        writers[0].process.stdin.write("go\n")
        writers[0].process.stdin.flush()
        stopped = writers[0].wait_for("INSIDE", deadline)[1]
    finally:
        for writer in writers:
            writer.process.send_signal(signal.SIGKILL)
    for writer in writers:
        writer.drain()
        assert writer.process.returncode == -signal.SIGKILL

    store = db.open_store(chaos_url)  # opens after the crash: SQLite recovers its log here
    try:
        _integrity(store)
        e, ec, i = db.events, db.event_contacts, db.interactions
        with store.read() as conn:
            held = {
                event: count
                for event, count in conn.execute(
                    sa.select(e.c.event_id, sa.func.count(ec.c.interaction_id))
                    .select_from(e.outerjoin(ec, ec.c.event_id == e.c.event_id))
                    .group_by(e.c.event_id)
                )
            }
            contacts = conn.execute(sa.select(sa.func.count()).select_from(i)).scalar_one()
            off_register = conn.execute(
                sa.select(sa.func.count())
                .select_from(i.outerjoin(ec, ec.c.interaction_id == i.c.interaction_id))
                .where(ec.c.event_id.is_(None))
            ).scalar_one()
    finally:
        store.dispose()
    acknowledged = [r for w in writers for r in w.registers("ACK")]
    refused = [r for w in writers for r in w.registers("REFUSED")]
    in_flight = [r for w in writers for r in w.registers("TRY") if r not in acknowledged and r not in refused]
    assert len(acknowledged) >= 6, [w.said for w in writers]
    assert stopped in in_flight
    # Everything acknowledged is there, whole.
    assert {r: held.get(r) for r in acknowledged} == {r: 5 for r in acknowledged}
    # The save stopped inside its transaction is wholly absent; any other in flight is all or nothing.
    assert stopped not in held
    assert all(held.get(r, 0) in (0, 5) for r in in_flight if r != stopped), held
    # A refused save (SQLite: the lock waited for too long) left nothing; no contact is off a register.
    assert not set(refused) & set(held)
    assert set(held) <= set(acknowledged) | set(in_flight)
    assert off_register == 0 and contacts == sum(held.values())


# ---------------------------------------------------------------- PostgreSQL stopped and started


@dataclass
class Staff:
    """A member of staff logging contacts until told to stop: each save acknowledged (its contact's
    id) or refused (the sentence the page would show), none unaccounted for."""

    name: str
    store: db.Store
    go_on: threading.Event
    stop: threading.Event
    acknowledged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (the save's tag, what the page says)
    attempts: list[str] = field(default_factory=list)
    after_restart: int = 0
    restarted: bool = False
    progress: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            tag = f"{self.name}-{n}"
            self.attempts.append(tag)
            try:
                saved = log_interaction(
                    self.store, self.name, school_id="S1", date=DAY, activity="phone call", family_id="F0001",
                    notes=tag, today=DAY,
                )  # fmt: skip
            except sa.exc.SQLAlchemyError as error:
                with self.progress:
                    self.refused.append((tag, why_not_saved(error)))
                    self.progress.notify_all()
                # As at the page's "Try again": the member of staff presses it once the server is back.
                self.go_on.wait(DEADLINE)
                continue
            with self.progress:
                self.acknowledged.append(tag)
                self.after_restart += self.restarted
                self.progress.notify_all()
            assert saved

    def wait(self, condition, deadline: float) -> None:
        with self.progress:
            if not self.progress.wait_for(condition, timeout=max(0.0, deadline - time.monotonic())):
                pytest.fail(f"{self.name}: not in time; acknowledged {len(self.acknowledged)}, refused {self.refused}")


def test_postgresql_stopped_and_started_while_staff_save(private_postgres):
    url = private_postgres.new_database()
    store = db.open_store(url)  # one store for every writer, as the app's server has
    _school(store)
    go_on, stop = threading.Event(), threading.Event()
    staff = [Staff(f"flo{n}", store, go_on, stop) for n in range(4)]
    threads = [threading.Thread(target=s.run, daemon=True) for s in staff]
    for thread in threads:
        thread.start()
    try:
        deadline = _deadline()
        for s in staff:
            s.wait(lambda s=s: len(s.acknowledged) >= 3, deadline)
        private_postgres.stop("fast")  # every connection ended, mid-save or idle in the pool
        for s in staff:
            s.wait(lambda s=s: len(s.refused) >= 1, deadline)
        private_postgres.start()
        for s in staff:
            s.restarted = True
        go_on.set()
        for s in staff:
            s.wait(lambda s=s: s.after_restart >= 3, deadline)
    finally:
        stop.set()
        go_on.set()
        for thread in threads:
            thread.join(DEADLINE)
    assert not any(t.is_alive() for t in threads)
    with store.read() as conn:
        stored = set(conn.execute(sa.select(db.interactions.c.notes)).scalars())
    store.dispose()
    for s in staff:
        # Every acknowledged save is there; a save not there was refused and told, none lost unsaid.
        assert set(s.acknowledged) <= stored
        missing = {tag for tag in s.attempts if tag not in stored}
        assert missing <= {tag for tag, _ in s.refused}, (s.name, missing, s.refused)
        # What the page shows under the button: one plain sentence, no SQL, no driver's words.
        for _, reason in s.refused:
            assert reason == "the database server cannot be reached (is it running?)", reason
