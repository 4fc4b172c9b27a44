"""The store: where schools, partners, families, interactions, the schools' terms, the geocode
cache, the gazetteer and the audit log live.

SQLite by default (a file under ``var/``, outside git, created on first use), any SQLAlchemy URL
through ``DATABASE_URL`` (PostgreSQL is tested). The schema is created and upgraded by Alembic
when a store is opened, so a new release upgrades a school's database by itself.

Several family liaison officers write at once, so on SQLite every write transaction is
``BEGIN IMMEDIATE`` with WAL and a busy timeout: a second writer waits for the first instead of
failing, and nothing a user saved is lost to a lock. Reads stay deferred so they never block.

This module opens the store (its URL, engine, transactions, schema upgrades); its seams are
modules of their own: the tables (:mod:`.tables`), the audit log's writing (:mod:`.auditing`), many
rows at once (:mod:`.rows`) and the schools with the demo's clearing (:mod:`.school_list`). Every name
of them is offered here too, so ``from engagement import store as db`` reads ``db.families``.

>>> store = open_store("sqlite://")            # an in-memory store, schema applied
>>> with store.write(actor="doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
>>> with store.read() as conn:
...     conn.execute(select(func.count()).select_from(schools)).scalar()
1
"""

from __future__ import annotations

import errno
import os
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from engagement.store.auditing import audit, audit_many, audit_values, to_json
from engagement.store.rows import (
    KEY_CHUNK,
    SQLITE_BULK_CACHE_KB,
    SQLITE_REBUILD_INDEXES_FROM,
    WRITE_CHUNK,
    bulk_insert,
    bulk_update,
    frame_by_key,
    insert_if_absent,
    link_to_events,
    refresh_event_families,
    rows_by_key,
    tuples,
    upsert,
)
from engagement.store.school_list import clear_demo_data, get_school, has_demo_data, is_empty, list_schools, school_ids
from engagement.store.tables import (
    KEY_OF,
    PARTNERSHIP_STATUSES,
    PLAN_STATUSES,
    REFERRAL_STATUSES,
    TABLES,
    action_plan,
    audit_log,
    event_contacts,
    events,
    families,
    family_partners,
    gazetteer,
    geocode_cache,
    interactions,
    metadata,
    partners,
    partnership_members,
    partnerships,
    referral_steps,
    referrals,
    schools,
    services,
    survey_responses,
    terms,
    transition_steps,
    transitions,
)

T = TypeVar("T")
PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_SQLITE_PATH = PROJECT_DIR / "var" / "engagement.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000
MIGRATIONS = PROJECT_DIR / "engagement" / "migrations"


def _secrets_database_url() -> str | None:
    # Streamlit secrets are a TOML file; read it directly so the domain never imports streamlit.
    for path in (PROJECT_DIR / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"):
        if path.exists():
            with open(path, "rb") as f:
                url = tomllib.load(f).get("DATABASE_URL")
            if url:
                return url
    return None


def database_url(explicit: str | None = None) -> str:
    """The store to use: ``explicit`` (a URL or a path to a SQLite file), else ``DATABASE_URL``
    from the environment, else from Streamlit secrets, else the app's own SQLite file."""
    url = explicit or os.environ.get("DATABASE_URL") or _secrets_database_url()
    if not url:
        return f"sqlite:///{DEFAULT_SQLITE_PATH}"
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def store_problem(error: BaseException) -> str:
    """A database error in one line a data lead can act on, without the SQL or a password.

    >>> from sqlalchemy.exc import OperationalError
    >>> store_problem(OperationalError("INSERT ...", {}, Exception("attempt to write a readonly database")))
    'attempt to write a readonly database'
    >>> going = "terminating connection due to administrator command; server closed the connection unexpectedly"
    >>> store_problem(OperationalError("INSERT ...", {}, Exception(going)))
    'the database server cannot be reached (is it running?)'
    """
    cause = getattr(error, "orig", None) or error
    text = " ".join(str(cause).split())
    lowered = text.lower()
    if "connection" in lowered and ("refused" in lowered or "failed" in lowered):
        return "the database server cannot be reached (is it running?)"
    # The server stopping or restarting under a save: what its last words to the connection were.
    if any(words in lowered for words in SERVER_GOING):
        return "the database server cannot be reached (is it running?)"
    return disk_trouble(error) or text.split(" [SQL:")[0][:300]


SERVER_GOING = (
    "terminating connection due to administrator command",
    "server closed the connection unexpectedly",
    "the database system is shutting down",
    "the database system is starting up",
    "consuming input failed",
    "the connection is closed",
    "the connection is lost",
    "no connection to the server",
)


def disk_trouble(error: BaseException) -> str | None:
    """What to tell a user of a store whose disk is full or failing, or None for any other error.
    SQLite says only "disk I/O error" when, on a full disk, it cannot even make the small files it
    reads through (its write-ahead log's index), so a page or a ``score`` fails on a read.

    >>> import sqlite3
    >>> from sqlalchemy.exc import OperationalError
    >>> disk_trouble(OperationalError("SELECT ...", {}, sqlite3.OperationalError("disk I/O error")))
    'the disk holding the store is full or cannot be read (disk I/O error): free space on it, then try again'
    >>> disk_trouble(OperationalError("SELECT ...", {}, sqlite3.OperationalError("no such table: x"))) is None
    True
    """
    cause = getattr(error, "orig", None) or error
    text = " ".join(str(cause).split()).lower()
    if "disk i/o error" in text:
        return "the disk holding the store is full or cannot be read (disk I/O error): free space on it, then try again"
    if "database or disk is full" in text or "no space left" in text:
        return "the disk holding the store is full: free space on it, then try again"
    return None


def display_url(url: str) -> str:
    """``url`` fit to print: its password, if any, masked.

    >>> display_url("postgresql+psycopg://app:s3cret@db.example/engagement")
    'postgresql+psycopg://app:***@db.example/engagement'
    """
    return make_url(url).render_as_string(hide_password=True)


def _cannot_write(path: Path) -> bool:
    """Whether this process may not write the SQLite file at ``path``: a read-only copy (its
    permissions, or a read-only disk or mount). Asked of the system itself, which knows better than
    the permission bits (an administrator may write a file marked read-only, nobody a read-only disk)."""
    try:
        os.close(os.open(path, os.O_RDWR))
    except FileNotFoundError:
        return False
    except OSError as error:
        return error.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
    return False


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    memory = url in ("sqlite://", "sqlite:///:memory:")
    read_only = False
    if not memory and "?" not in url:
        path = Path(url.split("///", 1)[1])
        read_only = _cannot_write(path)
        if read_only:
            # Opened for reading only: SQLite would otherwise fail at once, switching on its
            # write-ahead log. Where it cannot even make its shared-memory file beside the store,
            # the copy is read as unchanging (immutable).
            flag = "mode=ro" if os.access(path.parent, os.W_OK) else "immutable=1"
            url = f"sqlite:///file:{path}?{flag}&uri=true"
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        **({"poolclass": StaticPool} if memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Hand transaction control to the "begin" hook below (pysqlite would otherwise BEGIN
        # lazily and deferred), then switch on what SQLite leaves off by default.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if not memory and not read_only:
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # A writer takes the lock at BEGIN, so it waits (busy timeout) rather than failing
        # later with "database is locked" when it upgrades a read lock.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")

    return engine


def upgrade_schema(engine: Engine) -> None:
    """Create or upgrade the schema to the newest Alembic revision. The version is read first
    without a write lock, so a process started during another's long write (a ``score`` during an
    import) neither waits for nor blocks it when, as nearly always, there is nothing to upgrade."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return
    if _read_only(engine):
        raise StoreReadOnly(
            "the store is read-only here and older than this release: open it once where it can be "
            "written, so its tables are upgraded"
        )
    with engine.connect().execution_options(write=True) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        conn.commit()


def write_migration(message: str, version_path: str | Path | None = None) -> Path:
    """Write the next Alembic migration from the difference between the tables declared above and
    the schema the existing migrations build (on a scratch in-memory store). This is the step after
    adding a column to a table here: review the file it writes, then commit both.
    Returns the new file's path. ``version_path`` (a test's scratch folder) defaults to the
    project's ``engagement/migrations/versions``."""
    from alembic import command
    from alembic.config import Config

    versions = MIGRATIONS / "versions"
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if version_path is not None:
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", os.pathsep.join([str(versions), str(version_path)]))
    engine = _make_engine("sqlite://")
    upgrade_schema(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        script = command.revision(
            cfg,
            message=message,
            autogenerate=True,
            version_path=str(version_path) if version_path is not None else None,
        )
    engine.dispose()
    return Path(script.path)  # type: ignore[union-attr]  # one script for one head


class StoreReadOnly(RuntimeError):
    """A read-only store that would need writing before it can be read (its tables are too old)."""


def _read_only(engine: Engine) -> bool:
    query = engine.url.query
    return engine.dialect.name == "sqlite" and (query.get("mode") == "ro" or query.get("immutable") == "1")


class Store:
    """An open store: an engine with its schema up to date, and the ways to read and write it."""

    def __init__(self, engine: Engine, url: str):
        self.engine = engine
        self.url = url

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def read_only(self) -> bool:
        """Opened for reading only (a read-only copy of a SQLite store): every page and reading
        command works; a save is refused by the store, and said so."""
        return _read_only(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self, actor: str) -> Iterator[Connection]:
        """One write transaction: committed whole at the end, rolled back whole on any error.
        ``actor`` is who is writing; it is kept on the connection for :func:`audit`."""
        with self.engine.connect().execution_options(write=True) as conn:
            conn.info["actor"] = actor
            with conn.begin():
                yield conn

    def write_retrying(self, actor: str, work: Callable[[Connection], T], attempts: int = 4) -> T:
        """Run ``work`` in one write transaction, again on a fresh connection if the first one
        was lost (a database server restarting, a dropped connection): a user's save then costs
        a moment, not an error. Only a lost connection is retried; the transaction either
        committed whole or not at all, so a retry never writes twice."""
        for attempt in range(attempts):
            try:
                with self.write(actor) as conn:
                    return work(conn)
            except DBAPIError as error:
                if not error.connection_invalidated or attempt == attempts - 1:
                    raise
                time.sleep(0.5 * 2**attempt)  # 0.5, 1, 2 s: a restart's usual length
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None) -> Store:
    """Open (and create or upgrade) the store at ``url`` (see :func:`database_url`)."""
    resolved = database_url(url)
    engine = _make_engine(resolved)
    upgrade_schema(engine)
    return Store(engine, resolved)


def data_version(store: Store) -> int:
    """The store's version: the id of its newest audit entry. Every change is audited in the
    transaction that makes it, whichever process makes it (the app, a second server, the command
    line), so a reader that keys its caches on this sees any change on its next read.

    >>> store = open_store("sqlite://")
    >>> before = data_version(store)
    >>> with store.write(actor="doctest") as conn:
    ...     audit(conn, "insert", "schools", "S1")
    >>> data_version(store) > before
    True
    """
    with store.read() as conn:
        return int(conn.execute(select(func.coalesce(func.max(audit_log.c.id), 0))).scalar_one())


__all__ = [
    "DEFAULT_SQLITE_PATH",
    "KEY_CHUNK",
    "KEY_OF",
    "MIGRATIONS",
    "PARTNERSHIP_STATUSES",
    "PLAN_STATUSES",
    "PROJECT_DIR",
    "REFERRAL_STATUSES",
    "SERVER_GOING",
    "SQLITE_BULK_CACHE_KB",
    "SQLITE_BUSY_TIMEOUT_MS",
    "SQLITE_REBUILD_INDEXES_FROM",
    "TABLES",
    "WRITE_CHUNK",
    "Store",
    "StoreReadOnly",
    "action_plan",
    "audit",
    "audit_log",
    "audit_many",
    "audit_values",
    "bulk_insert",
    "bulk_update",
    "clear_demo_data",
    "data_version",
    "database_url",
    "disk_trouble",
    "display_url",
    "event_contacts",
    "events",
    "families",
    "family_partners",
    "frame_by_key",
    "gazetteer",
    "geocode_cache",
    "get_school",
    "has_demo_data",
    "insert_if_absent",
    "interactions",
    "is_empty",
    "link_to_events",
    "list_schools",
    "metadata",
    "open_store",
    "partners",
    "partnership_members",
    "partnerships",
    "referral_steps",
    "referrals",
    "refresh_event_families",
    "rows_by_key",
    "school_ids",
    "schools",
    "services",
    "store_problem",
    "survey_responses",
    "terms",
    "to_json",
    "transition_steps",
    "transitions",
    "tuples",
    "upgrade_schema",
    "upsert",
    "write_migration",
]
