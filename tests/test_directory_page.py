"""The Directory page with AppTest: a family liaison officer adds a partner with two services and
marks another checked, and both show on the map's data, the layers diagram, the outreach
suggestions and the export; two sessions saving the same partner (the second refused, its input
kept); governors read only."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engagement import outreach
from engagement.interchange import export_all
from engagement.partners import partners_in_window
from engagement.store import open_store
from engagement.terms import default_window

APP = Path(__file__).resolve().parent.parent / "app.py"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "engagement",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:1/.well-known",
}
ROLES = {
    "head@hollybrook.sch.uk": "head",
    "flo@hollybrook.sch.uk": "flo",
    "@governors.hollybrook.sch.uk": "governor",
    "data@hollybrook.sch.uk": "admin",
}


def open_as(email: str | None):
    at = AppTest.from_file(str(APP), default_timeout=120)
    if email:
        at.secrets["auth"] = AUTH
        at.secrets["roles"] = ROLES
        at.user = {"is_logged_in": True, "email": email}
    # Straight to the page, as a visitor opening its address: the app routes the first run there
    # (an Overview first would cost its whole run).
    at.switch_page("app_pages/directory.py").run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def db_url(demo_app_db):
    """The demo school, as the app's first start writes it (a copy of the session's)."""
    return demo_app_db


def fill_partner(at, **values):
    for name, value in values.items():
        widget = (
            at.selectbox(key=f"form_{name}")
            if name in ("category", "status")
            else (
                at.text_area(key=f"form_{name}") if name in ("address", "notes") else at.text_input(key=f"form_{name}")
            )
        )
        widget.set_value(value)


def save(at):
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, at.exception


def add_service(at, **values):
    at.selectbox(key="svc_pick").set_value("new").run()
    for name, value in values.items():
        if name == "delivery":
            at.multiselect(key="svc_delivery").set_value(value)
        else:
            at.text_input(key=f"svc_{name}").set_value(value)
    next(b for b in at.button if b.label == "Save the service").click().run()
    assert not at.exception, at.exception


def test_a_flo_adds_a_partner_with_two_services_and_checks_another_and_every_page_sees_it(db_url, tmp_path):
    at = open_as("flo@hollybrook.sch.uk")
    store = open_store(db_url)
    school_id = "999001"
    fill_partner(
        at,
        name="Hay Green Family Hub",
        category="community centre",
        postcode="B30 1AA",
        latitude="52.4300",
        longitude="-1.9300",
    )
    save(at)
    assert any(s.value.replace("\\", "").startswith("Saved Hay Green Family Hub.") for s in at.success), [
        s.value for s in at.success
    ]
    new_id = at.selectbox(key="dir_pick").value
    # Still on the partner just entered (the browser test checks its tab stays open).
    assert new_id != "A new partner"
    assert at.text_input(key="form_name").value == "Hay Green Family Hub"
    add_service(
        at,
        name="Stay and play",
        tags="parenting support;early years",
        min_age="0",
        max_age="4",
        cost="free",
        languages="English;Polish",
        sessions="Tue 09:30-11:30",
        delivery=["in person"],
    )
    add_service(
        at,
        name="Homework club",
        tags="homework;after-school",
        min_age="7",
        max_age="11",
        cost="£1",
        sessions="Wed 15:30-17:00",
        delivery=["in person", "online"],
    )
    # Another partner, due for a check, marked checked from the "Due for a check" tab.
    due_before = at.tabs[0].label
    picked = at.selectbox(key="due_pick").value
    next(b for b in at.button if b.label == "Checked today" and b.key == "due_checked").click().run()
    assert not at.exception
    assert int(at.tabs[0].label.split("(")[1][:-1]) == int(due_before.split("(")[1][:-1]) - 1

    start, end = default_window()
    table = partners_in_window(store, school_id, start, end).set_index("partner_id")
    assert table.loc[new_id, "services"] == "parenting support;early years;homework;after-school"
    assert not table.loc[new_id, "stale"]  # whoever entered the partner has just checked it
    assert not table.loc[picked, "stale"]
    # The map's data and the layers diagram.
    at.switch_page("app_pages/layers.py").run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    ids = {
        row[0]
        for t in figure["data"]
        if t.get("meta") in ("engaged", "not engaged", "prospective", "lapsed")
        for row in t.get("customdata", [])
    }
    stale_ids = {row[0] for t in figure["data"] if t.get("meta") == "stale" for row in t.get("customdata", [])}
    assert new_id in ids and picked not in stale_ids and new_id not in stale_ids
    at.switch_page("app_pages/partner_map.py").run()
    assert not at.exception
    # The outreach suggestions: a family with parenting needs near the hub, with the reasons.
    frames = outreach.load_frames(store, school_id)
    family = frames.families.iloc[0]["family_id"]
    frames.families.loc[0, ["needs", "year_groups", "latitude", "longitude", "language"]] = [
        "parenting support",
        "N",
        52.4301,
        -1.9301,
        "Polish",
    ]
    suggestions = outreach.partner_suggestions(frames, family_id=family).set_index("partner_id")
    assert suggestions.loc[new_id, "service"] == "Stay and play"
    assert suggestions.loc[new_id, "why"] == "offers parenting support; ages 0-4 fit Nursery; in Polish; free"
    # The export.
    export_all(store, tmp_path, school_id=school_id)
    services = [r for r in read(tmp_path / "services.csv") if r["partner_id"] == new_id]
    assert [(r["name"], r["sessions"], r["delivery"]) for r in services] == [
        ("Stay and play", "Tue 09:30-11:30", "in person"),
        ("Homework club", "Wed 15:30-17:00", "in person;online"),
    ]
    partner_rows = {r["partner_id"]: r for r in read(tmp_path / "partners.csv")}
    assert partner_rows[new_id]["name"] == "Hay Green Family Hub"


def test_two_sessions_the_second_save_is_refused_with_who_and_when_and_its_input_kept(db_url):
    head = open_as("head@hollybrook.sch.uk")
    flo = open_as("flo@hollybrook.sch.uk")
    from engagement.partners import partner_directory

    target = partner_directory(open_store(db_url), "999001")["partner_id"].iloc[0]
    for at in (head, flo):
        at.selectbox(key="dir_pick").set_value(target).run()
    fill_partner(head, notes="Rang: new opening hours")
    save(head)
    fill_partner(flo, notes="Closed on Mondays")
    save(flo)
    refused = [e.value.replace("\\", "") for e in flo.error]  # shown escaped: markdown never reads it
    assert any("Not saved: head@hollybrook.sch.uk changed this partner at" in e for e in refused), refused
    assert flo.text_area(key="form_notes").value == "Closed on Mondays"  # kept on screen to re-apply
    flo.text_area(key="form_notes").set_value("Closed on Mondays").run()
    stored = open_store(db_url)
    row = partner_directory(stored, "999001").set_index("partner_id").loc[target]
    assert row["notes"] == "Rang: new opening hours"
    next(b for b in flo.button if b.key == "form_reload").click().run()
    assert flo.text_area(key="form_notes").value == "Rang: new opening hours"


def test_a_likely_duplicate_is_shown_before_saving_with_a_link(db_url):
    at = open_as(None)
    from engagement.partners import partner_directory

    store = open_store(db_url)
    existing = partner_directory(store, "999001")["partner_id"].iloc[0]
    row = partner_directory(store, "999001").set_index("partner_id").loc[existing]
    at.selectbox(key="dir_pick").set_value("A new partner").run()
    fill_partner(at, name=row["name"], category=row["category"], postcode=row["postcode"])
    save(at)
    assert any("may already be in the directory" in w.value for w in at.warning)
    assert any(f"directory?partner={existing}" in m.value for m in at.markdown)
    assert len(partner_directory(store, "999001")) == 120


def test_governors_read_the_directory_but_cannot_change_it(db_url):
    """A governor reads the directory through the disclosure layer: a partner is its name,
    category, layer, services and public contact. The notes (one naming two families), who checked
    it, its contact's name and phone, its address and the count of families it could serve, all
    shown to governors before, are not on the page; nothing can be changed."""
    open_as(None)  # the first start loads the demo
    store = open_store(db_url)
    from sqlalchemy import select, update

    from engagement import store as db

    with store.write(actor="tests") as conn:
        partner = conn.execute(select(db.partners.c.partner_id, db.partners.c.name).limit(1)).one()
        conn.execute(
            update(db.partners)
            .where(db.partners.c.partner_id == partner.partner_id)
            .values(
                notes="Met families F012 and F013 at the door",
                verified_by="flo1@hollybrook.sch.uk",
                contact_name="Jo Bloggs",
                contact_phone="0121 496 0999",
                address="1 Secret Lane",
                last_verified=None,
            )
        )
    at = open_as("chair@governors.hollybrook.sch.uk")
    shown = " ".join(
        [e.value for e in (*at.markdown, *at.caption, *at.title)]
        + [t.value.to_csv() for t in at.table]
        + [t.value.to_csv() for t in at.dataframe]
    )
    assert partner.name in shown and "Public contact" in shown
    for secret in ("F012", "Met families", "flo1@", "Jo Bloggs", "0121 496 0999", "Secret Lane", "Checked by"):
        assert secret not in shown, secret
    assert "Families" not in [c for t in at.table for c in t.value.columns]
    assert "due for a check" in shown
    assert not [b for b in at.button if b.label in ("Checked today", "Archive", "Delete…", "Save")]
    assert not at.text_input and not at.text_area


def read(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def test_an_edit_that_renames_a_partner_as_another_is_warned_and_after_a_save_the_next_is_checked_again(db_url):
    at = open_as(None)
    from engagement.partners import partner_directory

    store = open_store(db_url)
    listed = partner_directory(store, "999001").set_index("partner_id")
    first, second = listed.index[:2]
    at.selectbox(key="dir_pick").set_value(second).run()
    fill_partner(at, name=listed.loc[first, "name"])
    save(at)
    assert any("may already be in the directory" in w.value for w in at.warning)
    assert partner_directory(store, "999001").set_index("partner_id").loc[second, "name"] == listed.loc[second, "name"]
    # An edit that leaves the name, postcode and category alone saves without the question.
    at.selectbox(key="dir_pick").set_value(first).run()
    fill_partner(at, notes="Rang on Tuesday")
    save(at)
    assert not any("may already be in the directory" in w.value for w in at.warning)
    # Saving a duplicate on purpose does not wave the next new partner through.
    at.selectbox(key="dir_pick").set_value("A new partner").run()
    fill_partner(
        at,
        name=listed.loc[first, "name"],
        category=listed.loc[first, "category"],
        postcode=listed.loc[first, "postcode"],
    )
    save(at)
    at.button(key="form_duplicates_save").click().run()
    save(at)
    assert len(partner_directory(store, "999001")) == 121
    at.selectbox(key="dir_pick").set_value("A new partner").run()
    fill_partner(
        at,
        name=listed.loc[second, "name"],
        category=listed.loc[second, "category"],
        postcode=listed.loc[second, "postcode"],
    )
    save(at)
    assert any("may already be in the directory" in w.value for w in at.warning)
    assert len(partner_directory(store, "999001")) == 121


def _tabs_open_first(at) -> list[int]:
    """The tab each of the page's tab sets opens on (a block whose proto is a tab container)."""
    found = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            proto = getattr(child, "proto", None)
            fields = getattr(getattr(proto, "DESCRIPTOR", None), "fields_by_name", {})
            if "tab_container" in fields and proto.HasField("tab_container"):
                found.append(proto.tab_container.default_tab_index)
            walk(child)

    walk(at._tree)
    return found


def test_a_link_to_a_partner_opens_its_record_in_the_tab_that_edits_it(db_url):
    from engagement.partners import partner_directory

    target = partner_directory(open_store(db_url), "999001")["partner_id"].iloc[3]
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("app_pages/directory.py")
    at.query_params["partner"] = target
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="dir_pick").value == target
    assert _tabs_open_first(at) == [2]
    plain = open_as("flo@hollybrook.sch.uk")  # opened from the menu: the list of those due first
    assert _tabs_open_first(plain) == [0]
