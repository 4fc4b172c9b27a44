"""Shared fixtures. ``store`` runs a test twice: on a fresh SQLite file and on the PostgreSQL
server of this machine (database ``test``), in a schema of this session's own (of this xdist
worker's) so that test runs never see each other's rows. Both start from a store migrated once per
session: a copy of an empty SQLite file, the PostgreSQL schema with its tables emptied.
``demo_app_db`` gives an AppTest the store the app's first start would have made (the demo
school), copied from one built once per session.

The suite runs "on" a fixed school day, 25 November 2026 (a Wednesday of the autumn term), whatever
the real date: engagement.clock reads it from ``ENGAGEMENT_TODAY``, which the app servers and
command lines the tests start inherit. Set the variable yourself to run the suite on another day,
e.g. ``ENGAGEMENT_TODAY=2027-08-31 bash scripts/test.sh``."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from engagement import clock
from engagement.demo import load_demo
from engagement.settings import CONFIG_FILE
from engagement.store import open_store
from tests import network_guard

# Under pytest-xdist (scripts/test.sh runs the suite with -n 2) the browser tests that share an app
# server go to one worker together, so that its server, its Chromium and the page visits are made
# once, not once per worker; so do the tests of a module with a module-scoped fixture (a demo store,
# an export or a PDF made once for the module: split test by test, both workers made it). The other
# tests go one by one to whichever worker is free. The browser groups are handed out first, then the
# modules (largest first), then the single tests, so that the long units start at once and the short
# ones fill in at the end. (xdist's own --dist loadgroup cannot do this under pytest 9: it renames
# test ids through an attribute pytest no longer reads.)
#
# Measured 7 December 2026 on the quiet 2-core machine: handing the browser tests out a module at a
# time (and axe-core a role at a time), so that no unit ran longer than ~100 s, made the whole suite
# slower, 17 min 52 s against 14 min 40 s-15 min 55 s (each worker started its own servers: 962 s of
# CPU against 721-825 s); on four workers it took 18 min 24 s at load 15-18. The two cores are busy
# throughout either way: the groups stay. Later that day, quiet: three workers kept the cores 93-99 %
# busy against about 90 % with two, but took 11 min 34 s once and 13 min 47 s once, against 12 min
# 15 s and 12 min 53 s with two (and the fast tier 3 min 7 s against 2 min 34 s - 2 min 54 s): no
# gain that held, so two stay.
BROWSER_GROUPS = {
    # Every menu page at each viewport (page_visits), and at 200% zoom: one server.
    "tests/browser/test_pages.py": "browser-pages",
    "tests/browser/test_injection.py": "browser-pages",
    "tests/browser/test_zoom.py": "browser-pages",
    # The signed-in server and its OpenID provider: signing in, and axe-core under every role.
    "tests/browser/test_signin.py": "browser-signin",
    "tests/browser/test_accessibility.py": "browser-signin",
}
ROOT = Path(__file__).resolve().parent.parent


def browser_group(nodeid: str) -> str | None:
    """The worker group of a test: its browser server's, or None for a test without a browser.

    >>> browser_group("tests/browser/test_zoom.py::test_every_page_works_at_200_percent_zoom")
    'browser-pages'
    >>> browser_group("tests/browser/test_layers_browser.py::test_the_diagram_draws_every_partner[1280x800]")
    'browser'
    >>> browser_group("tests/test_roles.py::test_a_governor_sees_aggregates_only") is None
    True
    """
    path = nodeid.split("::", 1)[0]
    if not path.startswith("tests/browser/"):
        return None
    return BROWSER_GROUPS.get(path, "browser")


@functools.cache
def shares_module_fixture(path: str) -> bool:
    """Whether the test module at ``path`` (relative to the repository) declares a module-scoped
    fixture, read from its text so that a new one is grouped the day it is written.

    >>> shares_module_fixture("tests/test_report.py"), shares_module_fixture("tests/test_clock.py")
    (True, False)
    """
    file = ROOT / path
    return file.suffix == ".py" and file.is_file() and 'scope="module"' in file.read_text(encoding="utf-8")


def work_unit(nodeid: str) -> str:
    """The unit a test is handed to a worker in: its browser group, its module when the module
    shares a fixture, else the test alone.

    >>> work_unit("tests/test_report.py::test_the_school_name_is_escaped")
    'tests/test_report.py'
    >>> work_unit("tests/test_clock.py::test_x")
    'tests/test_clock.py::test_x'
    """
    group = browser_group(nodeid)
    if group:
        return group
    path = nodeid.split("::", 1)[0]
    return path if "::" in nodeid and shares_module_fixture(path) else nodeid


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # pragma: no cover - pytest-xdist is in requirements-dev.txt
    LoadScopeScheduling = None

if LoadScopeScheduling is not None:

    class BrowserGroupScheduling(LoadScopeScheduling):
        """xdist's scope scheduling with the units of ``work_unit``: browser groups first, then the
        modules sharing a fixture, largest first, then single tests in the order collected."""

        _ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node) -> None:
            if not self._ordered:  # the first hand-out: the queue is whole
                self._ordered = True
                units = list(self.workqueue.items())
                browsers = {"browser", *BROWSER_GROUPS.values()}
                units.sort(key=lambda unit: (unit[0] not in browsers, len(unit[1]) <= 1, -len(unit[1])))
                self.workqueue.clear()
                self.workqueue.update(units)
            super()._assign_work_unit(node)

    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") in ("load", "loadgroup"):
            return BrowserGroupScheduling(config, log)
        return None


os.environ.setdefault(clock.TODAY_VARIABLE, "2026-11-25")

network_guard.install()
# The app's pages (AppTest), its servers and command lines run on the school's settings with online
# geocoding off, unless a test gives its own: a partner saved with a postcode the gazetteer lacks
# asked nominatim.openstreetmap.org. A test of online geocoding points it at a local server.
if not os.environ.get("ENGAGEMENT_CONFIG"):
    _SETTINGS_DIR = Path(tempfile.mkdtemp(prefix="engagement-tests-"))
    atexit.register(shutil.rmtree, _SETTINGS_DIR, True)
    os.environ["ENGAGEMENT_CONFIG"] = str(network_guard.offline_settings(_SETTINGS_DIR / "config.toml", CONFIG_FILE))


@pytest.fixture(autouse=True)
def nothing_reaches_outside():
    """Fail a test whose code tried to reach beyond this machine (tests/network_guard.py), even
    if that code caught the refusal."""
    network_guard.take_attempts()
    yield
    refused = network_guard.take_attempts()
    if refused:
        pytest.fail("reached for outside this machine: " + "; ".join(sorted(set(refused))[:5]), pytrace=False)


# Streamlit's script runner installs the script it runs (app.py, or a page) as ``__main__`` and
# leaves it there once an AppTest run is over. A process started later with multiprocessing's
# "spawn" (the bench's import children, the officers of test_import_concurrency.py) runs the
# parent's ``__main__`` file first: every such child ran the whole app, importing Streamlit and
# opening (on a first start, filling) the default store under var/, before its own work. So each
# test starts with this process's own ``__main__`` back in place.
_MAIN_MODULE = sys.modules["__main__"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    sys.modules["__main__"] = _MAIN_MODULE


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item) -> None:
    # Again after the fixtures: one of them may have run an AppTest.
    sys.modules["__main__"] = _MAIN_MODULE


POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def empty_sqlite_file(tmp_path_factory) -> Path:
    """A SQLite store with every migration applied and no row, made once per session (per xdist
    worker); ``sqlite_store`` copies it rather than running the migrations again for each test."""
    path = tmp_path_factory.mktemp("empty") / "empty.db"
    store = open_store(f"sqlite:///{path}")
    try:
        _fold_wal(store)
    finally:
        store.dispose()
    return path


def _fold_wal(store) -> None:
    """Everything in the SQLite file itself, nothing left in its write-ahead log, so a copy of the
    file alone is the whole store."""
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.fixture
def sqlite_store(tmp_path, empty_sqlite_file):
    shutil.copyfile(empty_sqlite_file, tmp_path / "store.db")
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.dispose()


def _schema_url(schema: str) -> str:
    return f"{POSTGRES_SERVER}?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def postgresql_admin():
    admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    yield admin
    admin.dispose()


@pytest.fixture(scope="session")
def postgresql_schema(postgresql_admin):
    """A schema of this session's own (of this xdist worker's), migrated once; the tests share it,
    emptied before each (see ``postgresql_store``). Dropped at the end."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with postgresql_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    open_store(_schema_url(schema)).dispose()  # every migration, once
    yield schema
    with postgresql_admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgresql_store(postgresql_schema, postgresql_admin):
    """An empty store on the PostgreSQL server: the session's migrated schema with every table
    emptied (identities restarted), which costs a TRUNCATE instead of a schema and a migration run
    per test. Should a test have left a lock behind, the store is a fresh schema of its own instead."""
    schema = postgresql_schema
    with postgresql_admin.connect() as conn:
        tables = (
            conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename <> 'alembic_version'", (schema,)
            )
            .scalars()
            .all()
        )
        try:
            conn.exec_driver_sql("SET lock_timeout = '5s'")
            conn.exec_driver_sql(f"TRUNCATE {', '.join(f'{schema}.{t}' for t in tables)} RESTART IDENTITY CASCADE")
        except sa.exc.OperationalError:
            schema = f"t_{uuid.uuid4().hex[:12]}"
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    store = open_store(_schema_url(schema))
    yield store
    store.dispose()
    if schema != postgresql_schema:
        with postgresql_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request):
    """A fresh, empty store with the schema applied, once per database."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(scope="session")
def demo_store_file(tmp_path_factory) -> Path:
    """A SQLite file holding what the app's first start writes into an empty store (the demo
    school on the suite's day (clock.today()), audited as "first start"), built once per session (per xdist worker).
    Read-only: tests copy it (``demo_app_db``, ``demo_copy``) and never open it."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    store = open_store(f"sqlite:///{path}")
    try:
        load_demo(store, actor="first start")
        _fold_wal(store)
    finally:
        store.dispose()
    return path


@pytest.fixture
def demo_copy(demo_store_file, tmp_path):
    """A function making a fresh copy of the demo store under this test's folder; its SQLite URL."""

    def copy(name: str = "app.db") -> str:
        target = tmp_path / name
        shutil.copyfile(demo_store_file, target)
        return f"sqlite:///{target}"

    return copy


@pytest.fixture
def demo_app_db(demo_copy, monkeypatch) -> str:
    """``DATABASE_URL`` for an AppTest: a fresh copy of the demo store, as if the app had just
    loaded the demo school into an empty store (the first start itself is tested in test_app.py)."""
    url = demo_copy()
    monkeypatch.setenv("DATABASE_URL", url)
    return url
