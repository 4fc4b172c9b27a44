"""The Partner map page with AppTest: it renders without exception, the filters change how many
partners it shows, a chosen partner's record and history show beside the map, a contact can be
logged there, and the geocoding section places partners and lists what it could not place."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import streamlit
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from engagement import store as db
from engagement.text import md_escape

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "partner_map.py"


@pytest.fixture
def app_db(demo_app_db):
    return demo_app_db


def shown_count(at) -> tuple[int, int]:
    for caption in at.caption:
        m = re.search(r"Showing (\d+) of (\d+) partners", caption.value)
        if m:
            return int(m.group(1)), int(m.group(2))
    raise AssertionError("no 'Showing N of M partners' caption")


def run_page() -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_page_renders_the_map_and_filters_change_the_count(app_db):
    at = run_page()
    shown, total = shown_count(at)
    assert shown == total == 120
    assert at.title[0].value == "Partner map"
    at.sidebar.multiselect(key="map_layers").set_value([3]).run()
    layer3, _ = shown_count(at)
    assert 0 < layer3 < total
    at.sidebar.radio(key="map_engaged").set_value("Not contacted").run()
    not_contacted, _ = shown_count(at)
    assert not_contacted < layer3
    at.sidebar.text_input(key="map_search").set_value("no partner is called this").run()
    assert shown_count(at)[0] == 0
    assert not at.exception


def test_a_chosen_partner_shows_its_record_and_a_contact_can_be_logged(app_db):
    at = run_page()
    store = db.open_store(app_db)
    with store.read() as conn:
        partner_id, name = conn.execute(
            select(db.partners.c.partner_id, db.partners.c.name).order_by(db.partners.c.partner_id).limit(1)
        ).one()
        earlier = set(
            conn.execute(
                select(db.interactions.c.interaction_id).where(db.interactions.c.partner_id == partner_id)
            ).scalars()
        )
    before = len(earlier)
    at.session_state["map_open"] = [partner_id]
    at.run()
    assert not at.exception
    assert any(h.value.replace("\\", "") == name for h in at.subheader)
    # The record in full, as lines of escaped text (a table cut long addresses short).
    record = next(m.value for m in at.markdown if "**Reference:**" in m.value)
    assert f"**Reference:** {md_escape(partner_id)}" in record and "**Distance from the school:** " in record
    assert not re.search(r"\bnan\b|\bNone\b", record), record  # an empty field is a dash
    assert "**Notes:** —" in record, record  # the demo partner has no notes
    assert any(f"**History** ({before} contacts)" == m.value for m in at.markdown)
    form_staff = next(t for t in at.text_input if t.label == "Staff")
    form_staff.set_value("FLO")
    # The same two-way question as the family form's, asked of the partner.
    question = at.radio(key="map_two_way")
    assert question.label == "Two-way: did the partner respond?" and question.value == "As usual"
    question.set_value("No")
    next(b for b in at.button if b.label == "Log contact").click().run()
    assert not at.exception
    # The new contact is the one row that was not there before (the demo may hold other contacts
    # with this partner by "FLO", depending on the day it was made for).
    with store.read() as conn:
        now_held = conn.execute(
            select(db.interactions.c.interaction_id, db.interactions.c.two_way, db.interactions.c.staff).where(
                db.interactions.c.partner_id == partner_id
            )
        ).all()
    new = [row for row in now_held if row.interaction_id not in earlier]
    assert len(now_held) == before + 1 and len(new) == 1
    assert new[0].staff == "FLO" and new[0].two_way is False  # "No", as answered
    # Said beside the form, in the record that stays open.
    assert any(s.value.startswith("Contact on ") and s.value.endswith(" logged.") for s in at.success)
    assert any(h.value.replace("\\", "") == name for h in at.subheader)
    assert any(f"**History** ({before + 1} contacts)" == m.value for m in at.markdown)


def test_the_geocode_section_places_partners_from_the_gazetteer(app_db):
    at = run_page()
    store = db.open_store(app_db)
    with store.write("test") as conn:
        # Two partners lose their coordinates: one postcode the gazetteer knows, one it does not.
        known = conn.execute(select(db.gazetteer.c.postcode).limit(1)).scalar()
        ids = list(conn.execute(select(db.partners.c.partner_id).order_by(db.partners.c.partner_id).limit(2)).scalars())
        conn.execute(
            db.partners.update()
            .where(db.partners.c.partner_id == ids[0])
            .values(latitude=None, longitude=None, postcode=known)
        )
        conn.execute(
            db.partners.update()
            .where(db.partners.c.partner_id == ids[1])
            .values(latitude=None, longitude=None, postcode="ZZ9 9ZZ")
        )
    streamlit.cache_data.clear()  # written behind the app's back, so its cache must be told
    at.run()
    assert shown_count(at) == (118, 120)
    at.toggle(key="geocode_online").set_value(False)
    at.button(key="geocode_run").click().run()
    assert not at.exception
    assert any(s.value == "Placed 1 of 2." for s in at.success)
    table = at.dataframe[-1].value
    assert list(table["Reference"]) == [ids[1]]
    assert "not in the gazetteer" in table["Reason"].iloc[0]
    assert shown_count(at) == (119, 120)


def test_within_a_distance_and_a_search_with_one_match(app_db):
    at = run_page()
    at.radio(key="map_within").set_value(1.0).run()
    near, total = shown_count(at)
    store = db.open_store(app_db)
    from engagement.partners import partner_directory

    school_id = db.list_schools(store)[0]["school_id"]
    distances = partner_directory(store, school_id)["distance_km"]
    assert 0 < near == int((distances <= 1.0).sum()) < total
    table = at.dataframe[0].value
    assert len(table) == near and table["distance_km"].is_monotonic_increasing
    assert any(s.value == "Partners shown within 1 km of the school" for s in at.header)
    name = table["name"].iloc[0]
    at.radio(key="map_within").set_value(None).run()
    at.sidebar.text_input(key="map_search").set_value(name).run()
    assert any(h.value.replace("\\", "") == name for h in at.subheader)  # the record, opened


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_no_streamlit_deprecation_warning_when_the_tables_are_shown(app_db):
    """Streamlit logs a deprecation (for example of ``use_container_width``) on every run that
    uses it; the page's two tables, a partner's history and the partners it could not place, are
    both shown here with the warnings of that run captured."""
    store = db.open_store(app_db)
    with store.write("test") as conn:
        partner_id = conn.execute(select(db.partners.c.partner_id).order_by(db.partners.c.partner_id).limit(1)).scalar()
        conn.execute(
            db.partners.update()
            .where(db.partners.c.partner_id == partner_id)
            .values(latitude=None, longitude=None, postcode="ZZ9 9ZZ")
        )
    streamlit.cache_data.clear()
    # Streamlit's loggers do not propagate to the root logger, so pytest's caplog would not see them.
    logger = logging.getLogger("streamlit.deprecation_util")
    records = _Records()
    logger.addHandler(records)
    try:
        at = AppTest.from_file(str(PAGE), default_timeout=60)
        at.session_state["map_open"] = [partner_id]
        at.run()
        at.toggle(key="geocode_online").set_value(False)
        at.button(key="geocode_run").click().run()
    finally:
        logger.removeHandler(records)
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.value.startswith("**History** (") for m in at.markdown)  # the history table was shown
    unplaced = [d.value for d in at.dataframe if "Reference" in d.value.columns]
    assert list(unplaced[0]["Reference"]) == [partner_id]  # and the table of partners it could not place
    assert records.messages == []
