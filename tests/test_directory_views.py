"""The directory as the other pages show it (issue 16), with AppTest on the demo store: the Partner
map and Community layers filter by what services offer (age, language, free, delivery, open on a
day), stale partners are drawn apart on both and named in their keys, the Overview says how many
partners are due for a check, and the Outreach planner says why each suggestion fits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engagement import directory as d
from engagement import store as db
from engagement.partners import partner_directory
from engagement.services import services_of
from engagement.text import md_escape

PAGES = Path(__file__).resolve().parent.parent / "app_pages"
SCHOOL = "999001"


def run(page: str) -> AppTest:
    at = AppTest.from_file(str(PAGES / page), default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def expected(url: str, **chosen) -> set[str]:
    """The partners engagement.directory lets through: what each page must show."""
    store = db.open_store(url)
    try:
        listed = partner_directory(store, SCHOOL)
        return set(d.filter_by_services(listed, services_of(store, SCHOOL), d.ServiceFilter(**chosen))["partner_id"])
    finally:
        store.dispose()


def map_count(at) -> int:
    caption = next(c.value for c in at.caption if "partners on the map" in c.value)
    shown = int(re.search(r"Showing (\d+) of", caption).group(1))
    more = re.search(r"(\d+) more have no coordinates", caption)
    return shown + (int(more.group(1)) if more else 0)


def diagram(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def marked(figure: dict, *metas: str) -> set[str]:
    return {row[0] for t in figure["data"] if t.get("meta") in metas for row in t.get("customdata", [])}


MARKS = ("engaged", "not engaged", "prospective", "lapsed")


def test_the_map_filters_by_what_services_offer(demo_app_db):
    at = run("partner_map.py")
    assert map_count(at) == 120
    at.sidebar.checkbox(key="map_offer_free").check().run()
    free = expected(demo_app_db, free=True)
    assert 0 < len(free) < 120 and map_count(at) == len(free)
    at.sidebar.number_input(key="map_offer_age").set_value(3).run()
    assert map_count(at) == len(expected(demo_app_db, free=True, age=3)) < len(free)
    at.sidebar.checkbox(key="map_offer_free").uncheck().run()
    at.sidebar.number_input(key="map_offer_age").set_value(None).run()
    for key, value, chosen in (
        ("map_offer_language", "Polish", {"language": "Polish"}),
        ("map_offer_day", "Sat", {"open_on": "Sat"}),
    ):
        at.sidebar.selectbox(key=key).set_value(value).run()
        want = expected(demo_app_db, **chosen)
        assert 0 < len(want) < 120 and map_count(at) == len(want), key
        at.sidebar.selectbox(key=key).set_value("").run()
    at.sidebar.multiselect(key="map_offer_delivery").set_value(["online"]).run()
    assert map_count(at) == len(expected(demo_app_db, delivery=("online",)))
    assert not at.exception


def test_the_map_key_names_partners_due_for_a_check(demo_app_db):
    at = run("partner_map.py")
    key = " ".join(h.proto.body for h in at.get("html"))
    assert "due for a check" in key and "stale-ring" in key


def test_the_layers_diagram_filters_by_services_and_draws_stale_partners_apart(demo_app_db):
    at = run("layers.py")
    figure = diagram(at)
    store = db.open_store(demo_app_db)
    try:
        listed = partner_directory(store, SCHOOL)
    finally:
        store.dispose()
    stale = set(listed.loc[listed["stale"], "partner_id"])
    assert 0 < len(stale) < 120
    assert marked(figure, "stale") == stale
    legend = [t["name"] for t in figure["data"] if t.get("showlegend")]
    assert "Due for a check" in legend
    at.selectbox(key="layers_offer_day").set_value("Wed").run()
    want = expected(demo_app_db, open_on="Wed")
    assert 0 < len(want) < 120
    assert marked(diagram(at), *MARKS) == want
    assert marked(diagram(at), "stale") == want & stale
    at.checkbox(key="layers_offer_free").check().run()
    assert marked(diagram(at), *MARKS) == expected(demo_app_db, open_on="Wed", free=True)


def test_the_overview_says_how_many_partners_are_due_for_a_check(demo_app_db):
    store = db.open_store(demo_app_db)
    try:
        stale, listed = d.stale_count(store, SCHOOL)
    finally:
        store.dispose()
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    line = f"Directory: {stale} of {listed} partners are due for a check (not checked for over 12 months)."
    assert any(m.value == md_escape(line) for m in at.markdown), [m.value for m in at.markdown][-8:]


def test_the_outreach_planner_says_why_each_suggestion_fits(demo_app_db):
    at = run("outreach.py")
    # Every family on the list with partners near home: at least one has suggestions.
    listed = [b.key.removeprefix("outreach_pick_") for b in at.button if (b.key or "").startswith("outreach_pick_")]
    for family in listed:
        at.session_state["outreach_family"] = family  # as its button in the list would
        at.run()
        frames = [f.value for f in at.dataframe if "why" in f.value.columns]
        if frames and len(frames[0]):
            break
    else:
        pytest.fail("no family near the top of the list has a partner suggestion")
    table = frames[0]
    # The panel's two columns (issue 27, item 10): the partner with its distance, and why it fits.
    assert table["why"].str.contains("offers ").all()
    assert table["partner"].str.contains(r"\d km", regex=True).all()
    config = json.loads(next(f for f in at.dataframe if "why" in f.value.columns).proto.columns)
    assert config["why"]["label"] == "Why it fits"
