"""Shared fixtures. ``store`` runs a test twice: on a fresh SQLite file and on the PostgreSQL
server of this machine (database ``test``), in a schema of this session's own (of this xdist
worker's) so that test runs never see each other's rows. Both start from a store migrated once per
session: a copy of an empty SQLite file, the PostgreSQL schema with its tables emptied.
``demo_app_db`` gives an AppTest the store the app's first start would have made (the demo
school), copied from one built once per session."""

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
    school, today's terms, audited as "first start"), built once per session (per xdist worker).
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
