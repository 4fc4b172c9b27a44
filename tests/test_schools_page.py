"""The Schools page (app_pages/schools.py) with AppTest and a signed-in ``st.user``, as
tests/test_roles.py signs in: a trust lead given two of three schools sees those two only, in the
table, the shared partners, the neighbours and the CSV; a local authority's officer given every
school sees all three; the figures are the governors' (engagement.compare), never family detail;
a governor is refused the page. Also the Excel-safe CSV and the map's escaping."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_compare import TODAY, _fill
from test_roles import everything_shown, menu

from engagement import compare, schools
from engagement import store as db

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
PAGE = ROOT / "app_pages" / "schools.py"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "engagement",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:1/.well-known",
}
ROLES = {
    "ceo@hilltrust.org.uk": {"role": "trust lead", "schools": ["A1", "B1"]},
    "inclusion@city.gov.uk": {"role": "local authority", "schools": ["*"]},
    "@governors.hilltop.sch.uk": {"role": "governor", "schools": ["A1"]},
}
FAMILY_ID = re.compile(r"[ABC]1-F\d+")


@pytest.fixture
def three_schools_db(sqlite_store, monkeypatch):
    _fill(sqlite_store)
    monkeypatch.setenv("DATABASE_URL", sqlite_store.url)
    monkeypatch.setenv("ENGAGEMENT_NO_DEMO", "1")
    # The store's contacts are dated for this day of the autumn term (tests/test_compare.py):
    # the page reads "this term" on it, whatever day the suite runs on.
    monkeypatch.setenv("ENGAGEMENT_TODAY", TODAY.isoformat())
    return sqlite_store


def signed_in(email: str, script: Path = PAGE) -> AppTest:
    at = AppTest.from_file(str(script), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = ROLES
    at.user = {"is_logged_in": True, "email": email}
    return at


def test_a_trust_lead_sees_only_the_trusts_schools(three_schools_db):
    at = signed_in("ceo@hilltrust.org.uk").run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Schools"]
    table = at.dataframe[0].value
    assert list(table["school_id"]) == ["A1", "B1"]
    # The figures are the governors' figures of engagement.compare for these schools, and no more.
    expected = compare.compare_json(three_schools_db, ["A1", "B1"], for_governor=True)["schools"]
    assert [None if v != v else v for v in table["families_reach"]] == [s["families"]["reach"] for s in expected]
    assert [None if v != v else v for v in table["overall"]] == [s["overall"] for s in expected]
    shared = at.dataframe[1].value
    assert set(shared["school_id"]) == {"A1", "B1"}
    assert set(shared["partner_id"]) == {"PA-FOOD", "PB-FOOD", "PA-LIB", "PB-LIB"}
    shown = everything_shown(at)  # the map's script and the network chart included
    assert "Moor End" not in shown and "PC-MUS" not in shown
    assert not FAMILY_ID.search(shown)
    csv = pd.read_csv(io.BytesIO(schools.schools_csv(table)), encoding="utf-8-sig", dtype=str)
    assert list(csv["School reference"]) == ["A1", "B1"]


def test_a_trust_lead_finds_a_school_and_sees_what_its_neighbours_have(three_schools_db):
    at = signed_in("ceo@hilltrust.org.uk").run()
    # Communication, transitions and referrals come with every school's figures, however many schools.
    assert {"communication_open", "transitions_plan_complete", "referrals_open"} <= set(at.dataframe[0].value.columns)
    at.text_input(key="schools_find").input("oak").run()
    assert list(at.dataframe[0].value["school_id"]) == ["B1"]
    at.selectbox(key="schools_neighbours_of").select("A1").run()
    neighbours = at.dataframe[-1].value
    assert "care home" in set(neighbours["category"]) and "PB-CARE" in set(neighbours["partner_id"])


def test_the_menu_of_a_trust_lead_and_a_local_authority(three_schools_db):
    lead = signed_in("ceo@hilltrust.org.uk", APP).run()
    assert not lead.exception, lead.exception
    # School-level aggregates only: the Schools page and the pages governors read, no family work.
    assert menu(lead) == {"overview", "school", "layers", "map", "directory", "schools"}
    officer = signed_in("inclusion@city.gov.uk").run()
    assert list(officer.dataframe[0].value["school_id"]) == ["A1", "B1", "C1"]


def test_a_governor_is_refused_the_schools_page(three_schools_db):
    at = signed_in("chair@governors.hilltop.sch.uk").run()
    assert [t.value for t in at.title] == ["Not available to your role"]


def test_the_csv_is_safe_in_excel_and_the_map_escapes_names(store):
    _fill(store)
    with store.write(actor="test") as conn:
        conn.execute(db.schools.update().where(db.schools.c.school_id == "C1").values(name="=HYPERLINK(1)<script>"))
    view = schools.schools_view(store, ["A1", "B1", "C1"])
    csv = schools.schools_csv(view.table).decode("utf-8-sig")
    assert "'=HYPERLINK(1)<script>" in csv
    html = schools.schools_map(view, "overall").get_root().render()
    assert '<script>"' not in html and "HYPERLINK(1)&lt;script&gt;" in html
    assert "unpkg.com" not in html and "cdn.jsdelivr" not in html
