"""Shared fixtures. ``store`` runs a test twice: on a fresh SQLite file and on the PostgreSQL
server of this machine (database ``test``), each PostgreSQL run in a schema of its own so that
test runs never see each other's rows. ``demo_app_db`` gives an AppTest the store the app's first
start would have made (the demo school), copied from one built once per session."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from engagement.demo import load_demo
from engagement.store import open_store

POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def sqlite_store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.dispose()


@pytest.fixture
def postgresql_store():
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    store = open_store(f"{POSTGRES_SERVER}?options=-csearch_path%3D{schema}")
    yield store
    store.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request):
    """A fresh, empty store with the schema applied, once per database."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(scope="session")
def demo_store_file(tmp_path_factory) -> Path:
    """A SQLite file holding what the app's first start writes into an empty store (the demo
    school, today's terms, audited as "first start"), built once per session (per xdist worker).
    Read-only: tests copy it (``demo_app_db``, ``demo_copy``) and never open it."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    store = open_store(f"sqlite:///{path}")
    try:
        load_demo(store, actor="first start")
        with store.engine.connect() as conn:  # everything in the file itself, nothing left in the WAL
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
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
