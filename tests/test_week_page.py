"""The Events and referrals page with AppTest: the test week of tests/test_week.py recorded through
the page (an event of 80 families, picked and pasted, an unknown reference refused with nothing
saved; four referrals moved through their statuses; six families linked to a club) gives the same
figures as the functions and the CSV imports, on the Overview and in ``score --json``."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from engagement import store as db
from engagement.week import week_card
from engagement.week_files import week_tables
from tests.test_week import CAME, CLUB, END, EXPECTED_WEEK, START, write_school

APP = Path(__file__).resolve().parent.parent / "app.py"
SAVE = "FormSubmitter:week_register-Save register"
D = datetime.date


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    # The week is recorded with fixed dates (September and October 2026) and read back on a fixed
    # day of that term: a referral sent on 1 October is 55 days without a reply, the parents'
    # evening of 7 October over 42 days ago, and the Overview's term window holds them all.
    monkeypatch.setenv("ENGAGEMENT_TODAY", "2026-11-25")
    store = db.open_store(url)
    write_school(store)
    store.dispose()
    return url


def open_page(page: str = "app_pages/week.py") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    # Straight to the page, as a visitor opening its address: the app routes the first run there
    # (an Overview first would cost its whole run).
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def count(url: str, table) -> int:
    store = db.open_store(url)
    try:
        with store.read() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar()
    finally:
        store.dispose()


def referral_ids(url: str) -> dict[str, str]:
    store = db.open_store(url)
    try:
        with store.read() as conn:
            return dict(conn.execute(select(db.referrals.c.family_id, db.referrals.c.referral_id)).all())
    finally:
        store.dispose()


def table_with(at: AppTest, column: str):
    """The first table of the page holding ``column`` (AppTest finds dataframes by place, not key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def record_the_week(at: AppTest, url: str) -> AppTest:
    # The register: 70 picked from the list, 10 pasted, one pasted reference unknown.
    at.date_input(key="week_event_date").set_value(D(2026, 10, 7))
    at.selectbox(key="week_event_activity").set_value("parents evening")
    at.multiselect(key="week_event_partners").set_value(["P3"])
    at.number_input(key="week_event_attendees").set_value(95)
    at.number_input(key="week_event_hours").set_value(6.5)
    at.multiselect(key="week_event_families").set_value(CAME[:70])
    at.text_area(key="week_event_paste").set_value("\n".join(CAME[70:]) + "\nF999")
    at.button(key=SAVE).click().run()
    assert not at.exception
    assert "Nothing was saved" in at.error[0].value
    assert table_with(at, "Unknown reference")["Unknown reference"].tolist() == ["F999"]
    assert count(url, db.events) == 0 and count(url, db.interactions) == 0
    at.text_area(key="week_event_paste").set_value("\n".join(CAME[70:]))
    at.button(key=SAVE).click().run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("Saved: 80 families added to the register")
    # Referrals, then their replies and outcomes.
    for family, partner, day in (
        ("F001", "P1", D(2026, 9, 10)),
        ("F002", "P1", D(2026, 9, 15)),
        ("F003", "P2", D(2026, 9, 20)),
        ("F085", "P2", D(2026, 10, 1)),
    ):
        at.selectbox(key="week_ref_family").set_value(family)
        at.selectbox(key="week_ref_partner").set_value(partner).run()
        at.date_input(key="week_ref_date").set_value(day)
        at.button(key="week_ref_go").click().run()
        assert not at.exception and not at.error, at.error
    ids = referral_ids(url)
    for family, status, day, why in (
        ("F001", "accepted", D(2026, 9, 12), ""),
        ("F001", "completed", D(2026, 10, 1), ""),
        ("F002", "declined", D(2026, 9, 16), "no capacity"),
        ("F003", "no longer needed", D(2026, 10, 5), ""),
    ):
        at.selectbox(key="week_move_ref").set_value(ids[family]).run()
        at.selectbox(key="week_move_status").set_value(status)
        at.date_input(key="week_move_date").set_value(day)
        at.text_input(key="week_move_why").set_value(why)
        at.button(key="week_move_go").click().run()
        assert not at.exception and not at.error, at.error
    # Six families join the club.
    at.multiselect(key="week_link_families").set_value(CLUB)
    at.selectbox(key="week_link_partner").set_value("P3").run()
    at.date_input(key="week_link_start").set_value(D(2026, 9, 1))
    at.button(key="week_link_go").click().run()
    assert not at.exception and not at.error
    return at


def test_the_week_through_the_page_gives_the_worked_figures(app_db):
    at = record_the_week(open_page(), app_db)
    outstanding = table_with(at, "no_reply")
    assert outstanding["family_id"].tolist() == ["F085"]
    assert table_with(at, "current")["family_id"].tolist() == CLUB
    store = db.open_store(app_db)
    try:
        assert week_card(store, "S1", START, END) == EXPECTED_WEEK
        tables = week_tables(store)
        assert len(tables["events"]) == 80 and len(tables["family_partners"]) == 6
        assert sorted(tables["referrals"]["status"]) == ["completed", "declined", "no longer needed", "sent"]
    finally:
        store.dispose()
    # The Overview shows the same week.
    at.switch_page("app_pages/overview.py").run()
    assert not at.exception
    week = at.table[-1].value
    shown = dict(zip(week.iloc[:, 0], week.iloc[:, 1], strict=True))
    assert (shown["Events held"], shown["Attendance at events"], shown["Volunteer hours"]) == ("1", "95", "6.5")
    assert (shown["Referrals made"], shown["Referrals open (sent or accepted)"], shown["Referrals declined"]) == (
        "4",
        "1",
        "1",
    )


def test_the_partner_record_and_the_outreach_page_show_the_links(app_db):
    record_the_week(open_page(), app_db)
    at = open_page("app_pages/outreach.py")
    at.session_state["outreach_family"] = "F085"  # as its button in the list would
    at.run()
    assert any(h.value == "Family `F085`" or h.value.strip("` ").endswith("F085") for h in at.subheader)
    reasons = [m.value for m in at.markdown if m.value.startswith("**Why now:** ")][-1]  # the panel's
    assert "referral to Early Help Hub sent" in reasons and "no reply" in reasons
    # F010 came to the parents' evening over 42 days ago: on the list, with its club.
    at.session_state["outreach_family"] = "F010"
    at.run()
    assert table_with(at, "relation")["partner"].tolist() == ["Kings Heath Boxing Club"]


def test_a_family_marked_by_mistake_is_taken_off_the_register_after_a_confirmation(app_db):
    at = open_page()
    at.date_input(key="week_event_date").set_value(D(2026, 10, 7))
    at.multiselect(key="week_event_families").set_value(CAME[:3])
    at.button(key=SAVE).click().run()
    assert not at.exception and at.success[0].value.startswith("Saved: 3 families")
    assert at.selectbox(key="week_event_remove_family").options == sorted(CAME[:3])
    at.selectbox(key="week_event_remove_family").set_value(CAME[1]).run()
    assert at.button(key="week_event_remove").disabled  # not without the confirmation
    at.checkbox(key="week_event_remove_sure").check().run()
    at.button(key="week_event_remove").click().run()
    assert not at.exception and at.success[0].value == f"{CAME[1]} was taken off the register."
    assert count(app_db, db.interactions) == 2 and count(app_db, db.event_contacts) == 2
    assert at.selectbox(key="week_event_remove_family").options == [CAME[0], CAME[2]]
    store = db.open_store(app_db)
    try:
        with store.read() as conn:
            actions = conn.execute(select(db.audit_log.c.action, db.audit_log.c.detail)).all()
    finally:
        store.dispose()
    assert ("delete", "taken off the register of event " + at.selectbox(key="week_event").value) in actions


def test_a_registers_families_join_a_partnership_from_the_events_page(app_db):
    """Issue 29: members are added from the Events page: a session the partnership ran, its register."""
    from engagement import records

    store = db.open_store(app_db)
    try:
        with store.read() as conn:
            partner = conn.execute(select(db.partners.c.partner_id)).scalars().first()
        csv = f"partnership_id,name,partners,start\nPS1,Saturday inclusive play,{partner},2026-09-01\n".encode()
        assert records.import_records(store, [("partnerships.csv", csv)]).ok
    finally:
        store.dispose()
    at = open_page()
    at.date_input(key="week_event_date").set_value(D(2026, 10, 7))
    at.multiselect(key="week_event_families").set_value(CAME[:3])
    at.button(key=SAVE).click().run()
    assert not at.exception
    at.button(key="week_event_partnership_go").click().run()
    assert not at.exception, at.exception
    assert any("Saturday inclusive play" in s.value for s in at.success)
    store = db.open_store(app_db)
    try:
        with store.read() as conn:
            members = conn.execute(select(db.partnership_members.c.family_id, db.partnership_members.c.joined)).all()
    finally:
        store.dispose()
    assert sorted(members) == [(f, D(2026, 10, 7)) for f in sorted(CAME[:3])]
