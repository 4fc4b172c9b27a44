"""The store: where schools, partners, families, interactions, the schools' terms, the geocode
cache, the gazetteer and the audit log live.

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
import errno
import json
import os
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    false,
    func,
    select,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from engagement import clock
from engagement.typology import PARTNER_STATUSES

if TYPE_CHECKING:  # pandas is imported where a frame is built: the store itself never needs it
    import pandas as pd

T = TypeVar("T")
PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_DIR / "var" / "engagement.db"
SQLITE_BUSY_TIMEOUT_MS = 10_000

metadata = MetaData()

schools = Table(
    "schools",
    metadata,
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
    "partners",
    metadata,
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
    Column("status", String(20), nullable=False, default="active"),
    Column("since", Date),
    Column("last_verified", Date),
    Column("notes", Text),
    # Who last said "checked today" (the date is last_verified); empty for a date that came in a file.
    Column("verified_by", String(200)),
    # Archived partners are hidden from every list, map and score, and kept with their history.
    Column("archived_on", Date),
    # Raised by every change: a save made from an older version is refused (engagement.directory).
    Column("version", Integer, nullable=False, default=1, server_default="1"),
    # Brought in from an Open Referral UK directory (engagement.openreferral): the feed's
    # organisation and location ids, which feed or files, when last imported, and the feed's
    # values as last imported (JSON), so a re-import changes only what the school has not.
    Column("oruk_organisation_id", String(100)),
    Column("oruk_location_id", String(100)),
    Column("oruk_source", Text),
    Column("oruk_imported_at", DateTime(timezone=True)),
    Column("oruk_record", Text),
    CheckConstraint("layer IN (2, 3, 4)", name="partner_layer"),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in PARTNER_STATUSES) + ")", name="partner_status"),
    Index("ix_partners_school", "school_id"),
)

services = Table(
    "services",
    metadata,
    Column("service_id", String(100), primary_key=True),
    Column("partner_id", String(64), ForeignKey("partners.partner_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(300), nullable=False),
    Column("tags", Text),
    Column("min_age", Integer),
    Column("max_age", Integer),
    Column("cost", Text),
    Column("languages", Text),
    Column("delivery", String(100)),
    Column("sessions", Text),
    Column("access", String(30)),
    Column("eligibility", Text),
    Column("send_inclusive", Boolean, nullable=False, default=False, server_default=false()),
    Column("status", String(30), nullable=False, default="active", server_default="active"),
    Column("version", Integer, nullable=False, default=1, server_default="1"),
    # The service's Open Referral id and the feed's values as last imported (engagement.openreferral).
    Column("oruk_id", String(100)),
    Column("oruk_record", Text),
    Index("ix_services_partner", "partner_id"),
)

families = Table(
    "families",
    metadata,
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
    Column("joined", Date),
    Index("ix_families_school", "school_id"),
)

interactions = Table(
    "interactions",
    metadata,
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
    # Who started the contact: the school ("to family") or the family ("from family"), for the
    # communication panel's "reliable" (a message a family sent, answered within two school days).
    Column("direction", String(12), nullable=False, default="to family"),
    # A family, a partner, both (the family took part in the partner's session: it counts for both
    # sides of the metrics), or neither: a message to all families of the school (a newsletter, an
    # activity of type communicating, see engagement.communication), which the import and the
    # contact form check; so the database itself no longer checks the pair.
    CheckConstraint("direction IN ('to family', 'from family')", name="interaction_direction"),
    Index("ix_interactions_school_date", "school_id", "date"),
    Index("ix_interactions_family", "family_id"),
    Index("ix_interactions_partner", "partner_id"),
    # The few contacts naming both: the loader reads their partner side through this alone, so
    # the many one-sided contacts cost it nothing more.
    Index(
        "ix_interactions_family_and_partner",
        "school_id",
        sqlite_where=sql_text("family_id IS NOT NULL AND partner_id IS NOT NULL"),
        postgresql_where=sql_text("family_id IS NOT NULL AND partner_id IS NOT NULL"),
    ),
)

# ---- the school's week: event registers, referrals with outcomes, families' partners

events = Table(
    "events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("date", Date, nullable=False),
    Column("activity", String(100), nullable=False),
    Column("partner_ids", Text),  # ";"-separated: the partners who ran it with the school
    Column("attendees", Integer),  # everyone who came, families not on roll included
    Column("volunteer_hours", Float),
    Column("money_raised", Float),
    Column("staff", String(200)),
    Column("notes", Text),
    Index("ix_events_school_date", "school_id", "date"),
)

# Which contacts an event's register recorded (one per attending family, one per running partner).
event_contacts = Table(
    "event_contacts",
    metadata,
    Column(
        "interaction_id", String(64), ForeignKey("interactions.interaction_id", ondelete="CASCADE"), primary_key=True
    ),
    Column("event_id", String(64), ForeignKey("events.event_id", ondelete="CASCADE"), nullable=False),
    # The contact's family, copied from it (see link_to_events), so that the database itself keeps
    # a family on a register once: an interactions.csv naming the event for two contacts of one
    # family, or two saves at once, cannot double it. Empty for a partner's contact, which the
    # key leaves alone (empty values never clash in a unique index, on SQLite as on PostgreSQL).
    Column("family_id", String(64)),
    Index("ix_event_contacts_event", "event_id"),
    Index("ux_event_contacts_family", "event_id", "family_id", unique=True),
)

REFERRAL_STATUSES = ("sent", "accepted", "declined", "completed", "no longer needed")

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE"), nullable=False),
    Column("partner_id", String(64), ForeignKey("partners.partner_id", ondelete="CASCADE"), nullable=False),
    Column("date", Date, nullable=False),
    Column("reasons", Text),
    Column("status", String(20), nullable=False),
    Column("status_date", Date, nullable=False),
    Column("decline_reason", Text),
    Column("staff", String(200)),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in REFERRAL_STATUSES) + ")", name="referral_status"),
    Index("ix_referrals_school_date", "school_id", "date"),
    Index("ix_referrals_partner", "partner_id"),
    Index("ix_referrals_family", "family_id"),
)

# Every status a referral has had, with its date: the outcome's story, not only its end.
referral_steps = Table(
    "referral_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("referral_id", String(64), ForeignKey("referrals.referral_id", ondelete="CASCADE"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("date", Date, nullable=False),
    Column("note", Text),
    Column("staff", String(200)),
    Index("ix_referral_steps_referral", "referral_id"),
)

family_partners = Table(
    "family_partners",
    metadata,
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE"), primary_key=True),
    Column("partner_id", String(64), ForeignKey("partners.partner_id", ondelete="CASCADE"), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("relation", String(60)),
    Column("start", Date),
    Column("end", Date),
    Index("ix_family_partners_partner", "partner_id"),
    Index("ix_family_partners_school", "school_id"),
)

# A school's own calendar: its terms, and the holidays (half-terms, training days) inside them.
# Without any, the school has the default terms for England of the settings (engagement.terms).
terms = Table(
    "terms",
    metadata,
    Column("term_id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("name", String(100), nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date, nullable=False),
    CheckConstraint("kind IN ('term', 'holiday')", name="term_kind"),
    CheckConstraint('"end" >= "start"', name="term_dates"),
    Index("ix_terms_school", "school_id"),
)

# SEND transitions (issue 19): a child of a family moving between settings, and its plan's steps
# (from data/transition_plan.toml), each done or not, with who marked it.
transitions = Table(
    "transitions",
    metadata,
    Column("transition_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("direction", String(10), nullable=False, default="leaving"),
    Column("other_setting", String(300)),
    Column("date", Date, nullable=False),
    Column("send", Boolean, nullable=False, default=False),
    Index("ix_transitions_school_date", "school_id", "date"),
    Index("ix_transitions_family", "family_id"),
)

transition_steps = Table(
    "transition_steps",
    metadata,
    Column("step_id", String(140), primary_key=True),  # "<transition_id>/<step key>"
    Column("transition_id", String(64), ForeignKey("transitions.transition_id", ondelete="CASCADE"), nullable=False),
    Column("step", String(60), nullable=False),
    Column("title", String(200), nullable=False),
    Column("owner", String(100)),
    Column("due", Date),
    Column("done", Boolean, nullable=False, default=False),
    Column("done_on", Date),
    Column("done_by", String(200)),
    Index("ix_transition_steps_transition", "transition_id"),
)

# Parent and pupil voice: one row per answer (survey_responses.csv). A round is a survey on a date.
survey_responses = Table(
    "survey_responses",
    metadata,
    Column("response_id", Integer, primary_key=True, autoincrement=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("survey", String(60), nullable=False),
    Column("date", Date, nullable=False),
    Column("question", String(60), nullable=False),
    Column("answer", String(60), nullable=False),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE")),
    Column("respondent", String(10), nullable=False, default="parent"),
    Index("ix_survey_responses_round", "school_id", "survey", "date"),
    Index("ix_survey_responses_family", "family_id"),
)

# School–community partnerships (issue 29, seed 001): a formal partnership of the school with
# community groups, the families it serves, and the school year's partnership action plan (one
# row per goal, after NNPS's One-Year Action Plan). A partnership's partners and other schools are
# ";"-separated references, as an event's partners are.
PARTNERSHIP_STATUSES = ("planned", "active", "ended")
PLAN_STATUSES = ("not started", "in progress", "done")

partnerships = Table(
    "partnerships",
    metadata,
    Column("partnership_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("schools", Text),
    Column("partners", Text, nullable=False),
    Column("aims", Text),
    Column("epstein_type", String(40)),
    Column("start", Date, nullable=False),
    Column("review", Date),
    Column("status", String(10), nullable=False, default="active"),
    Column("version", Integer, nullable=False, default=1),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in PARTNERSHIP_STATUSES) + ")", name="partnership_status"),
    Index("ix_partnerships_school", "school_id"),
)

partnership_members = Table(
    "partnership_members",
    metadata,
    Column(
        "partnership_id",
        String(64),
        ForeignKey("partnerships.partnership_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("family_id", String(64), ForeignKey("families.family_id", ondelete="CASCADE"), primary_key=True),
    Column("joined", Date),  # empty: the partnership's start
    Column("left", Date),
    Index("ix_partnership_members_family", "family_id"),
)

action_plan = Table(
    "action_plan",
    metadata,
    Column("plan_id", String(64), primary_key=True),
    Column("school_id", String(64), ForeignKey("schools.school_id", ondelete="CASCADE"), nullable=False),
    Column("year", String(7), nullable=False),
    Column("epstein_type", String(40), nullable=False),
    Column("goal", Text, nullable=False),
    Column("activity", Text),
    Column("owner", String(200)),
    Column("due", Date),
    Column("measure", String(100)),
    Column("target", Float),
    Column("baseline", Float),
    Column("status", String(12), nullable=False, default="not started"),
    Column("version", Integer, nullable=False, default=1),
    CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in PLAN_STATUSES) + ")", name="plan_status"),
    Index("ix_action_plan_school_year", "school_id", "year"),
)

geocode_cache = Table(
    "geocode_cache",
    metadata,
    Column("query", String(400), primary_key=True),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("found", Boolean, nullable=False),
    Column("source", String(40), nullable=False),
    Column("message", Text),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
)

gazetteer = Table(
    "gazetteer",
    metadata,
    Column("postcode", String(16), primary_key=True),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("table_name", String(100), nullable=False),  # an import names every table it changed
    Column("record_id", String(64)),
    Column("before", Text),
    Column("after", Text),
    Column("detail", Text),
    Index("ix_audit_at", "at"),
)

TABLES = {
    t.name: t
    for t in (
        schools,
        partners,
        services,
        families,
        interactions,
        terms,
        geocode_cache,
        gazetteer,
        audit_log,
        events,
        event_contacts,
        referrals,
        referral_steps,
        family_partners,
        transitions,
        transition_steps,
        survey_responses,
        partnerships,
        partnership_members,
        action_plan,
    )
}
KEY_OF = {
    "schools": "school_id",
    "partners": "partner_id",
    "services": "service_id",
    "families": "family_id",
    "interactions": "interaction_id",
    "transitions": "transition_id",
    "transition_steps": "step_id",
    "events": "event_id",
    "event_contacts": "interaction_id",  # a contact is on one register at most
    "partnerships": "partnership_id",
    "action_plan": "plan_id",
}


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
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
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


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _json_default(value: Any) -> Any:
    # Dates at any depth: an import event's before-images are rows inside a mapping.
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Mapping[str, Any] | str | None) -> str | None:
    """``value`` as the audit log stores an image: JSON, keys sorted, dates in ISO form (a text is
    taken as JSON already made, e.g. an import's list of ids, built before its write transaction)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(
        {k: _jsonable(v) for k, v in value.items()}, ensure_ascii=False, sort_keys=True, default=_json_default
    )


def _audit_values(
    conn: Connection,
    action: str,
    table_name: str,
    record_id: str | None,
    before: Mapping[str, Any] | str | None,
    after: Mapping[str, Any] | str | None,
    detail: str | None,
    at: dt.datetime,
) -> dict[str, Any]:
    return {
        "at": at,
        "actor": conn.info.get("actor") or "unknown",
        "action": action,
        "table_name": table_name,
        "record_id": record_id,
        "before": to_json(before),
        "after": to_json(after),
        "detail": detail,
    }


def audit(
    conn: Connection,
    action: str,
    table_name: str,
    record_id: str | None = None,
    before: Mapping[str, Any] | str | None = None,
    after: Mapping[str, Any] | str | None = None,
    detail: str | None = None,
) -> None:
    """Write one audit row in the caller's transaction: it lands or is lost with the change.
    ``before`` and ``after`` are images (mappings) or JSON text already made (see :func:`to_json`)."""
    conn.execute(
        audit_log.insert().values(
            **_audit_values(conn, action, table_name, record_id, before, after, detail, clock.now())
        )
    )


def audit_many(conn: Connection, entries: Iterable[Mapping[str, Any]]) -> None:
    """Write many audit rows in one statement, in the caller's transaction: each entry holds
    :func:`audit`'s arguments by name (``action`` and ``table_name``; ``record_id``, ``before``,
    ``after`` and ``detail`` when there are)."""
    at = clock.now()
    rows = [
        _audit_values(
            conn,
            e["action"],
            e["table_name"],
            e.get("record_id"),
            e.get("before"),
            e.get("after"),
            e.get("detail"),
            at,
        )
        for e in entries
    ]
    if rows:
        conn.execute(audit_log.insert(), rows)


# ---------------------------------------------------------------- many rows at once

# Ids per statement when rows are looked up by key: one JSON array (SQLite) or one array
# parameter (PostgreSQL) per chunk, so 100,000 ids cost a few statements, not 200.
KEY_CHUNK = 50_000
# Rows per executemany or COPY batch: big enough to be fast, small enough that a batch's Python
# tuples never grow with the file.
WRITE_CHUNK = 20_000
SQLITE_BULK_CACHE_KB = 256_000


def _key_in(conn: Connection, column, keys: list[str]):
    """``column IN keys`` as one parameter, whatever the number of keys."""
    if conn.dialect.name == "sqlite":
        each = func.json_each(json.dumps(keys)).table_valued("value")
        return column.in_(select(each.c.value).scalar_subquery())
    if conn.dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, keys, type_=ARRAY(String)))
    return column.in_(keys)


def _chunks_by_key(
    conn: Connection,
    table_name: str,
    keys: Iterable[str],
    columns: Iterable[str] | None,
    distinct: bool,
    by: str | None = None,
) -> Iterator[tuple[list[str], list[Any]]]:
    table, key = TABLES[table_name], by or KEY_OF[table_name]
    wanted = [table.c[c] for c in columns] if columns is not None else list(table.c)
    names = [c.name for c in wanted]
    unique = keys if distinct and isinstance(keys, list) else list(dict.fromkeys(k for k in keys if k is not None))
    for start in range(0, len(unique), KEY_CHUNK):
        query = select(*wanted).where(_key_in(conn, table.c[key], unique[start : start + KEY_CHUNK]))
        yield names, list(conn.execute(query).all())


def rows_by_key(
    conn: Connection, table_name: str, keys: Iterable[str], columns: Iterable[str] | None = None, by: str | None = None
) -> Iterator[dict[str, Any]]:
    """The stored rows (all columns, or ``columns``) whose key is one of ``keys``; keys not stored
    are skipped. Read in chunks of :data:`KEY_CHUNK` keys. ``by``: another column to match
    ``keys`` in (the services of some partners: ``by="partner_id"``)."""
    for names, rows in _chunks_by_key(conn, table_name, keys, columns, distinct=False, by=by):
        for row in rows:
            yield dict(zip(names, row, strict=True))


def frame_by_key(
    conn: Connection, table_name: str, keys: Iterable[str], columns: Iterable[str] | None = None, distinct: bool = False
) -> pd.DataFrame:
    """:func:`rows_by_key` as one frame of Python values (object columns; None for NULL), indexed
    by the key: what an import compares a file's rows with. ``distinct``: ``keys`` is a list with
    no key twice and no None (a million ids need no second pass to make them so)."""
    import pandas as pd

    table, key = TABLES[table_name], KEY_OF[table_name]
    names = [c.name for c in table.c] if columns is None else list(columns)
    found: list[Any] = []
    for _, rows in _chunks_by_key(conn, table_name, keys, names, distinct):
        found += rows
    # Object columns built directly: pandas would otherwise infer text columns and turn None into NaN.
    by_column = list(zip(*found, strict=True)) if found else [()] * len(names)
    frame = pd.DataFrame({n: pd.Series(v, dtype=object) for n, v in zip(names, by_column, strict=True)})
    return frame.set_index(pd.Index(frame[key], dtype=object, name=None), drop=False)


def _for_driver(conn: Connection, table: Table, columns: list[str], values: Mapping[str, Any]) -> list[list[Any]]:
    """Each column's values as the driver takes them (SQLAlchemy's own conversions for this
    database: SQLite stores a date as ISO text and a boolean as 0 or 1), so a raw executemany
    writes what Core would. Each distinct value is converted once (a column of a million dates
    holds a few hundred days)."""
    out = []
    for name in columns:
        process = table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        column = values[name]
        if process is None:
            out.append(list(column))
            continue
        done: dict[Any, Any] = {None: None}
        out.append([done[v] if v in done else done.setdefault(v, process(v)) for v in column])
    return out


def bulk_insert(conn: Connection, table_name: str, values: Mapping[str, Any], rows: Any = None) -> int:
    """Insert many rows given column by column (lists or numpy arrays, every column the same length;
    only the positions ``rows``, in that order, when given), in the caller's transaction: PostgreSQL's COPY,
    elsewhere one prepared INSERT run over batches of tuples. Returns how many rows went in. No
    audit rows: the caller writes one event for the batch."""
    table = TABLES[table_name]
    columns = list(values)
    total = len(rows) if rows is not None else len(values[columns[0]]) if columns else 0
    if not total:
        return 0

    def batches() -> Iterator[dict[str, Any]]:
        # Taken a batch at a time, so no second copy of every column is ever made.
        for start in range(0, total, WRITE_CHUNK):
            if rows is None:
                yield {c: values[c][start : start + WRITE_CHUNK] for c in columns}
            else:
                which = rows[start : start + WRITE_CHUNK]
                yield {
                    c: [values[c][i] for i in which] if isinstance(values[c], list) else values[c][which]
                    for c in columns
                }

    names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    target = conn.dialect.identifier_preparer.format_table(table)
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None  # a connection in a transaction has its driver's connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for batch in batches():
                for row in zip(*batch.values(), strict=True):
                    copy.write_row(row)
        return total
    statement = f"INSERT INTO {target} ({names}) VALUES ({', '.join('?' for _ in columns)})"
    cache = None
    if conn.dialect.name == "sqlite" and total > WRITE_CHUNK:
        # SQLite's page cache (2 MB by default) would spill a big transaction's pages to disk
        # again and again; for this transaction it may grow to 256 MB.
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        conn.exec_driver_sql(f"PRAGMA cache_size = {-SQLITE_BULK_CACHE_KB}")
    rebuilt = _indexes_set_aside(conn, table.name, total) if conn.dialect.name == "sqlite" else []
    try:
        for batch in batches():
            if conn.dialect.paramstyle == "qmark":  # SQLite: the driver's executemany, SQLAlchemy's conversions
                conn.exec_driver_sql(statement, list(zip(*_for_driver(conn, table, columns, batch), strict=True)))
            else:
                conn.execute(
                    table.insert(), [dict(zip(columns, row, strict=True)) for row in zip(*batch.values(), strict=True)]
                )
        for sql in rebuilt:  # in the same transaction: a failed import leaves them as they were
            conn.exec_driver_sql(sql)
    finally:
        if cache is not None:
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")
    return total


# New rows from which SQLite builds a table's indexes again after the insert rather than
# growing them a row at a time: a sorted build beats scattered inserts, and the write lock is held
# for that time (400,000 interactions into the demo school: 4.0-4.2 s of CPU in the write against
# 4.9-5.6 s, measured 30 November 2026).
SQLITE_REBUILD_INDEXES_FROM = 100_000


def _indexes_set_aside(conn: Connection, table_name: str, adding: int) -> list[str]:
    """Drop ``table_name``'s secondary indexes when ``adding`` rows is a large import for the table
    (at least :data:`SQLITE_REBUILD_INDEXES_FROM`, and at least half what it holds), returning the
    statements that build them again; otherwise nothing. Readers see the last committed state
    (WAL), indexes included, throughout."""
    if adding < SQLITE_REBUILD_INDEXES_FROM:
        return []
    held = conn.exec_driver_sql(f'SELECT max(rowid) FROM "{table_name}"').scalar() or 0
    if adding * 2 < held:
        return []
    indexes = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table_name,),
    ).all()
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in indexes]


def bulk_update(conn: Connection, table_name: str, keys: Sequence[str], values: Mapping[str, Any]) -> int:
    """Set ``values`` (the same columns for every row, given column by column) on the rows of
    ``keys``, in batches; returns how many rows were matched. No audit rows, as for
    :func:`bulk_insert`."""
    table, key = TABLES[table_name], KEY_OF[table_name]
    columns = list(values)
    if not keys or not columns:
        return 0
    from sqlalchemy import bindparam

    statement = table.update().where(table.c[key] == bindparam("k_")).values({c: bindparam(f"v_{c}") for c in columns})
    matched = 0
    for start in range(0, len(keys), WRITE_CHUNK):
        names = ["k_", *(f"v_{c}" for c in columns)]
        batch = zip(
            keys[start : start + WRITE_CHUNK], *(values[c][start : start + WRITE_CHUNK] for c in columns), strict=True
        )
        params = [dict(zip(names, row, strict=True)) for row in batch]
        matched += conn.execute(statement, params).rowcount
    return matched


def insert_if_absent(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[tuple]:
    """Insert the rows whose key is not stored yet, in the caller's transaction, and return the keys
    (primary key tuples) of those that went in. The database decides (``INSERT ... ON CONFLICT DO
    NOTHING``), not a look beforehand: two staff adding the same row at once get one row, on
    PostgreSQL (where the second insert waits for the first to commit, then does nothing) as on
    SQLite, and neither sees a duplicate-key error."""
    if not rows:
        return []
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return [tuple(r) for r in conn.execute(statement, rows).all()]


def link_to_events(conn: Connection, links: Sequence[tuple[str, str]], if_absent: bool = False) -> set[str]:
    """Put contacts on event registers: ``links`` are (interaction_id, event_id) pairs of contacts
    already stored. Each link carries its contact's family, read here from the contact itself, so
    the unique key (event, family) holds whoever writes. ``if_absent`` leaves out, without an
    error, a link whose contact or family is on that register already (a save made meanwhile);
    otherwise such a link fails the transaction. Returns the interaction ids linked."""
    if not links:
        return set()
    ids = [i for i, _ in links]
    families: dict[str, str | None] = {}
    for start in range(0, len(ids), WRITE_CHUNK):
        chunk = ids[start : start + WRITE_CHUNK]
        query = select(interactions.c.interaction_id, interactions.c.family_id)
        families.update((i, f) for i, f in conn.execute(query.where(interactions.c.interaction_id.in_(chunk))))
    rows = [{"interaction_id": i, "event_id": e, "family_id": families.get(i)} for i, e in links]
    if if_absent:
        return {k for (k,) in insert_if_absent(conn, event_contacts, rows)}
    for start in range(0, len(rows), WRITE_CHUNK):
        conn.execute(event_contacts.insert(), rows[start : start + WRITE_CHUNK])
    return set(ids)


def refresh_event_families(conn: Connection, interaction_ids: Sequence[str]) -> None:
    """After contacts' families were changed (an import's update), their register links carry the
    new family, so the key (event, family) keeps checking what the registers really hold."""
    ec, i = event_contacts, interactions
    family = select(i.c.family_id).where(i.c.interaction_id == ec.c.interaction_id).scalar_subquery()
    ids = list(interaction_ids)
    for start in range(0, len(ids), WRITE_CHUNK):
        conn.execute(
            ec.update().where(ec.c.interaction_id.in_(ids[start : start + WRITE_CHUNK])).values(family_id=family)
        )


def upsert(conn: Connection, table_name: str, rows: list[dict]) -> dict[str, int]:
    """Insert new records and update changed ones by their id, auditing each change with its
    before and after. Returns how many were inserted, updated and left unchanged. (Imports use
    :func:`bulk_insert` and :func:`bulk_update` with one audit event per import instead.)"""
    table, key = TABLES[table_name], KEY_OF[table_name]
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    existing = {stored[key]: stored for stored in rows_by_key(conn, table_name, [r[key] for r in rows])}
    now = clock.now()
    entries, new_rows = [], []
    versioned = "version" in table.c
    for row in rows:
        before = existing.get(row[key])
        if before is None:
            new_rows.append({**row, "version": row.get("version") or 1} if versioned else row)
            continue
        changed = {k: v for k, v in row.items() if before.get(k) != v and k != "version"}
        if not changed:
            counts["unchanged"] += 1
            continue
        # A change raises the version too, so an edit begun before it is refused (engagement.directory).
        changed_values = {**changed, **({"version": (before.get("version") or 1) + 1} if versioned else {})}
        conn.execute(table.update().where(table.c[key] == row[key]).values(**changed_values))
        entries.append(
            _audit_values(
                conn,
                "update",
                table_name,
                row[key],
                {k: before.get(k) for k in changed_values},
                changed_values,
                None,
                now,
            )
        )
        counts["updated"] += 1
    if new_rows:
        conn.execute(table.insert(), new_rows)
        entries += [_audit_values(conn, "insert", table_name, row[key], None, row, None, now) for row in new_rows]
        counts["inserted"] = len(new_rows)
    if entries:  # one executemany for the audit rows, not one statement each
        conn.execute(audit_log.insert(), entries)
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


def _rows_of_schools(table: Table, school_ids: list[str]):
    """A condition selecting the rows of ``table`` that belong to ``school_ids`` (its own
    ``school_id``, or its parent's, following foreign keys), or None for a table no school owns."""
    if table.name == "schools":
        return table.c.school_id.in_(school_ids)
    if "school_id" in table.c and any(fk.column.table.name == "schools" for fk in table.c.school_id.foreign_keys):
        return table.c.school_id.in_(school_ids)
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        parent = fk.column.table
        owned = _rows_of_schools(parent, school_ids)
        if owned is not None and fk.parent.nullable is False:
            return fk.parent.in_(select(fk.column).where(owned))
    return None


def clear_demo_data(store: Store, actor: str) -> int:
    """Delete every demo school with its partners, families and interactions. Returns how many
    schools went. Real schools imported beside the demo are left alone."""
    with store.write(actor) as conn:
        demo_ids = list(conn.execute(select(schools.c.school_id).where(schools.c.demo)).scalars())
        if not demo_ids:
            return 0
        # Explicit deletes, children first (every table that belongs to a school, directly or
        # through its parent's key), so this works whether or not the database enforces ON DELETE
        # CASCADE, and a new table is cleared without being listed here.
        deleted = {}
        for table in reversed(metadata.sorted_tables):
            rows = _rows_of_schools(table, demo_ids)
            if rows is not None:
                deleted[table.name] = conn.execute(table.delete().where(rows)).rowcount
        audit(
            conn,
            "clear demo",
            "schools",
            detail=(
                f"removed demo schools {', '.join(demo_ids)}: "
                + ", ".join(f"{n} {name}" for name, n in deleted.items())
            ),
        )
        return len(demo_ids)
