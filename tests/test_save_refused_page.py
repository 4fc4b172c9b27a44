"""A save the store refused, told where the button was pressed (issue 26): on the Events page and
the partner directory a save made while another writer holds the store's lock says "Not saved: ..."
under the form, keeps what was typed, and saves it with "Try again" once the store is free; the
page-wide "this page could not be shown" message is not used for it. The store is a real SQLite file
whose write lock a second connection holds (with the app's wait for a lock shortened so the test
does not wait ten seconds)."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from engagement import store as db
from tests.test_week import CAME, write_school

APP = Path(__file__).resolve().parent.parent / "app.py"


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    path = tmp_path / "app.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    store = db.open_store(f"sqlite:///{path}")
    write_school(store)
    store.dispose()
    return path


def count(path: Path, table) -> int:
    store = db.open_store(f"sqlite:///{path}")
    try:
        with store.read() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar()
    finally:
        store.dispose()


def held(path: Path) -> sqlite3.Connection:
    """Another writer in the middle of its transaction: the store's write lock is taken."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


def open_page(page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    # Straight to the page, as a visitor opening its address: the app routes the first run there
    # (an Overview first would cost its whole run).
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_a_register_refused_by_a_locked_store_says_not_saved_keeps_the_input_and_tries_again(app_db):
    at = open_page("app_pages/week.py")
    at.date_input(key="week_event_date").set_value(datetime.date(2026, 10, 7))
    at.selectbox(key="week_event_activity").set_value("parents evening")
    at.multiselect(key="week_event_families").set_value(CAME[:5])
    other = held(app_db)
    try:
        at.button(key="FormSubmitter:week_register-Save register").click().run()
    finally:
        other.rollback()
        other.close()
    assert not at.exception
    told = [e.value.replace("\\", "") for e in at.error]  # shown escaped, as user text
    assert len(told) == 1 and told[0].startswith("Not saved: the store is busy with another save"), told
    assert "could not be shown" not in told[0]
    assert at.multiselect(key="week_event_families").value == CAME[:5]  # what was typed is kept
    assert count(app_db, db.events) == 0
    at.button(key="week_register__try_again").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("Saved: 5 families added to the register")
    assert count(app_db, db.interactions) == 5


def test_a_partner_save_refused_by_a_locked_store_keeps_the_form_and_tries_again(app_db):
    at = open_page("app_pages/directory.py")
    at.text_input(key="form_name").set_value("Oak Library")
    at.selectbox(key="form_category").set_value("library")
    at.text_area(key="form_notes").set_value("Opens Saturdays")
    before = count(app_db, db.partners)
    other = held(app_db)
    try:
        at.button(key="FormSubmitter:partner_form-Save").click().run()
    finally:
        other.rollback()
        other.close()
    assert not at.exception
    assert at.error[0].value.replace("\\", "").startswith("Not saved: the store is busy with another save")
    assert at.text_area(key="form_notes").value == "Opens Saturdays"
    assert count(app_db, db.partners) == before
    at.button(key="partner_form__try_again").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert count(app_db, db.partners) == before + 1


def test_checked_today_refused_by_a_locked_store_says_so_and_tries_again(app_db):
    at = open_page("app_pages/directory.py")
    at.selectbox(key="dir_pick").set_value("P1").run()
    other = held(app_db)
    try:
        at.button(key="form_checked").click().run()
    finally:
        other.rollback()
        other.close()
    assert not at.exception
    assert at.error[0].value.replace("\\", "").startswith("Not saved: the store is busy with another save")
    at.button(key="form_checked_P1__try_again").click().run()
    assert not at.exception and not at.error
    store = db.open_store(f"sqlite:///{app_db}")
    try:
        with store.read() as conn:
            by = conn.execute(select(db.partners.c.verified_by).where(db.partners.c.partner_id == "P1")).scalar_one()
    finally:
        store.dispose()
    assert by == "local admin"
