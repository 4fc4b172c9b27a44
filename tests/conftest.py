"""Shared fixtures. ``store`` runs a test twice: on a fresh SQLite file and on the PostgreSQL
server of this machine (database ``test``), each PostgreSQL run in a schema of its own so that
test runs never see each other's rows."""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

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
