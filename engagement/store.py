"""The store: where schools, partners, families, interactions, the geocode cache, the gazetteer
and the audit log live.

SQLite by default (a file under ``var/``, outside git, created on first use), any SQLAlchemy URL
through ``DATABASE_URL`` (PostgreSQL is tested). The schema is created and upgraded by Alembic
when a store is opened, so a new release upgrades a school's database by itself.

Several family liaison officers write at once, so on SQLite every write transaction is
``BEGIN IMMEDIATE`` with WAL and a busy timeout: a second writer waits for the first instead of
failing, and nothing a user saved is lost to a lock. Reads stay deferred so they never block.

>>> store = open_store("sqlite://")            # an in-memory store, schema applied
>>> with store.write(actor="doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
>>> with store.read() as conn:
...     conn.execute(select(func.count()).select_from(schools)).scalar()
1
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import tomllib
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from sqlalchemy import (
    Boolean, CheckConstraint, Column, Date, DateTime, Float, ForeignKey, Index, Integer, MetaData,
    String, Table, Text, create_engine, event, func, select,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from engagement.typology import PARTNER_STATUSES

T = TypeVar("T")
PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_DIR / "var" / "engagement.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000

metadata = MetaData()

schools = Table(
    "schools", metadata,
    Column("school_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("postcode", String(16), nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("pupils", Integer),
    Column("staff", Integer),
    Column("demo", Boolean, nullable=False, default=False),
)

partners = Table(
    "partners", metadata,
    Column("partner_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(300), nullable=False),
    Column("category", String(100), nullable=False),
    Column("layer", Integer, nullable=False),
    Column("address", Text),
    Column("postcode", String(16)),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("contact_name", String(200)),
    Column("contact_email", String(200)),
    Column("contact_phone", String(50)),
    Column("services", Text),
    Column("status", String(20), nullable=False, default="active"),
    Column("since", Date),
    Column("last_verified", Date),
    Column("notes", Text),
    CheckConstraint("layer IN (2, 3, 4)", name="partner_layer"),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in PARTNER_STATUSES) + ")", name="partner_status"),
    Index("ix_partners_school", "school_id"),
)

families = Table(
    "families", metadata,
    Column("family_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("postcode", String(16)),
    Column("pupils", Integer, nullable=False, default=1),
    Column("year_groups", String(100)),
    Column("pupil_premium", Boolean, nullable=False, default=False),
    Column("send", Boolean, nullable=False, default=False),
    Column("eal", Boolean, nullable=False, default=False),
    Column("looked_after", Boolean, nullable=False, default=False),
    Column("young_carer", Boolean, nullable=False, default=False),
    Column("needs", Text),
    Column("preferred_channel", String(20)),
    Column("language", String(60)),
    Index("ix_families_school", "school_id"),
)

interactions = Table(
    "interactions", metadata,
    Column("interaction_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("date", Date, nullable=False),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE")),
    Column("partner_id", String(64), ForeignKey("partners.partner_id", ondelete="CASCADE")),
    Column("activity", String(100), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("two_way", Boolean, nullable=False),
    Column("staff", String(200)),
    Column("notes", Text),
    CheckConstraint(
        "(family_id IS NULL) <> (partner_id IS NULL)", name="interaction_with_family_or_partner"
    ),
    Index("ix_interactions_school_date", "school_id", "date"),
    Index("ix_interactions_family", "family_id"),
    Index("ix_interactions_partner", "partner_id"),
)

geocode_cache = Table(
    "geocode_cache", metadata,
    Column("query", String(400), primary_key=True),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("found", Boolean, nullable=False),
    Column("source", String(40), nullable=False),
    Column("message", Text),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
)

gazetteer = Table(
    "gazetteer", metadata,
    Column("postcode", String(16), primary_key=True),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("table_name", String(40), nullable=False),
    Column("record_id", String(64)),
    Column("before", Text),
    Column("after", Text),
    Column("detail", Text),
    Index("ix_audit_at", "at"),
)

TABLES = {t.name: t for t in (schools, partners, families, interactions, geocode_cache, gazetteer, audit_log)}
KEY_OF = {"schools": "school_id", "partners": "partner_id", "families": "family_id",
          "interactions": "interaction_id"}


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
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def store_problem(error: BaseException) -> str:
    """A database error in one line a data lead can act on, without the SQL or a password.

    >>> from sqlalchemy.exc import OperationalError
    >>> store_problem(OperationalError("INSERT ...", {}, Exception("attempt to write a readonly database")))
    'attempt to write a readonly database'
    """
    cause = getattr(error, "orig", None) or error
    text = " ".join(str(cause).split())
    if "connection" in text.lower() and ("refused" in text.lower() or "failed" in text.lower()):
        return "the database server cannot be reached (is it running?)"
    return text.split(" [SQL:")[0][:300]


def display_url(url: str) -> str:
    """``url`` fit to print: its password, if any, masked.

    >>> display_url("postgresql+psycopg://app:s3cret@db.example/engagement")
    'postgresql+psycopg://app:***@db.example/engagement'
    """
    return make_url(url).render_as_string(hide_password=True)


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    memory = url in ("sqlite://", "sqlite:///:memory:")
    if not memory:
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
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
        if not memory:
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
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return
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

    versions = Path(__file__).parent / "migrations" / "versions"
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    if version_path is not None:
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", os.pathsep.join([str(versions), str(version_path)]))
    engine = _make_engine("sqlite://")
    upgrade_schema(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        script = command.revision(cfg, message=message, autogenerate=True,
                                  version_path=str(version_path) if version_path is not None else None)
    engine.dispose()
    return Path(script.path)  # type: ignore[union-attr]  # one script for one head


class Store:
    """An open store: an engine with its schema up to date, and the ways to read and write it."""

    def __init__(self, engine: Engine, url: str):
        self.engine = engine
        self.url = url

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

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


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def audit(conn: Connection, action: str, table_name: str, record_id: str | None = None,
          before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None,
          detail: str | None = None) -> None:
    """Write one audit row in the caller's transaction: it lands or is lost with the change."""
    dump = lambda row: None if row is None else json.dumps(  # noqa: E731
        {k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False, sort_keys=True)
    conn.execute(audit_log.insert().values(
        at=dt.datetime.now(dt.timezone.utc), actor=conn.info.get("actor") or "unknown",
        action=action, table_name=table_name, record_id=record_id,
        before=dump(before), after=dump(after), detail=detail,
    ))


def upsert(conn: Connection, table_name: str, rows: list[dict]) -> dict[str, int]:
    """Insert new records and update changed ones by their id, auditing each change with its
    before and after. Returns how many were inserted, updated and left unchanged."""
    table, key = TABLES[table_name], KEY_OF[table_name]
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    ids = [r[key] for r in rows]
    existing: dict[str, dict] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for stored in conn.execute(select(table).where(table.c[key].in_(chunk))).mappings():
            existing[stored[key]] = dict(stored)
    new_rows = []
    for row in rows:
        before = existing.get(row[key])
        if before is None:
            new_rows.append(row)
            continue
        changed = {k: v for k, v in row.items() if before.get(k) != v}
        if not changed:
            counts["unchanged"] += 1
            continue
        conn.execute(table.update().where(table.c[key] == row[key]).values(**changed))
        audit(conn, "update", table_name, row[key], before={k: before.get(k) for k in changed}, after=changed)
        counts["updated"] += 1
    if new_rows:
        conn.execute(table.insert(), new_rows)
        for row in new_rows:
            audit(conn, "insert", table_name, row[key], after=row)
        counts["inserted"] = len(new_rows)
    return counts


def school_ids(store: Store) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(select(schools.c.school_id).order_by(schools.c.school_id)).scalars())


def list_schools(store: Store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(schools).order_by(schools.c.name)).mappings()]


def get_school(store: Store, school_id: str) -> dict | None:
    with store.read() as conn:
        row = conn.execute(select(schools).where(schools.c.school_id == school_id)).mappings().first()
    return dict(row) if row else None


def is_empty(store: Store) -> bool:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(schools)).scalar() == 0


def has_demo_data(store: Store) -> bool:
    with store.read() as conn:
        return bool(conn.execute(select(func.count()).select_from(schools).where(schools.c.demo)).scalar())


def clear_demo_data(store: Store, actor: str) -> int:
    """Delete every demo school with its partners, families and interactions. Returns how many
    schools went. Real schools imported beside the demo are left alone."""
    with store.write(actor) as conn:
        demo_ids = list(conn.execute(select(schools.c.school_id).where(schools.c.demo)).scalars())
        if not demo_ids:
            return 0
        # Explicit deletes, children first, so this works whether or not the database
        # enforces ON DELETE CASCADE.
        deleted = {}
        for table in (interactions, families, partners, schools):
            deleted[table.name] = conn.execute(table.delete().where(table.c.school_id.in_(demo_ids))).rowcount
        audit(conn, "clear demo", "schools", detail=(
            f"removed demo schools {', '.join(demo_ids)}: " + ", ".join(f"{n} {name}" for name, n in deleted.items())))
        return len(demo_ids)
