"""The map builder: the HTML folium makes holds the right markers, escaped names, no CDN address,
and never a postcode sector below the privacy threshold; the per-partner engagement and the
filters behind the page."""

from __future__ import annotations

import datetime
import json
import re

import pandas as pd
import pytest
from sqlalchemy import select

from engagement import maps
from engagement import store as db
from engagement.demo import load_demo
from engagement.frames import load_school_frames
from engagement.overview import overview
from engagement.partners import PartnerFilter, filter_partners, only_match, partner_record, partners_in_window
from engagement.terms import default_window
from engagement.text import record_lines

TODAY = datetime.date(2026, 11, 23)
WINDOW = default_window(TODAY)
CDN_HOSTS = [
    "cdn.jsdelivr",
    "unpkg",
    "cdnjs",
    "code.jquery",
    "bootstrapcdn",
    "googleapis",
    "gstatic",
    "fontawesome",
    "netdna",
]
HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "${alert(1)}",
    "`backtick`\\",
    "</script><script>alert(1)</script>",
    "{{ 7*7 }} {% if true %}ran{% endif %}",
]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    store = db.open_store(f"sqlite:///{tmp_path_factory.mktemp('maps') / 'demo.db'}")
    load_demo(store, today=TODAY)
    with store.write("test") as conn:
        first = dict(conn.execute(select(db.partners).order_by(db.partners.c.partner_id).limit(1)).mappings().one())
        for n, name in enumerate(HOSTILE):
            conn.execute(
                db.partners.insert().values(
                    {
                        **first,
                        "partner_id": f"H{n}",
                        "name": name,
                        "category": name if n == 0 else first["category"],
                        "latitude": first["latitude"] + 0.001 * (n + 1),
                    }
                )
            )
    yield store
    store.dispose()


def school_of(store):
    return db.list_schools(store)[0]


def marker_rows(html: str) -> list[list]:
    """The data arrays of every FastMarkerCluster in the page."""
    rows = []
    for match in re.finditer(r"var data = (\[.*?\]);\n", html):
        rows.extend(json.loads(match.group(1)))
    return rows


def test_partner_table_counts_engagement_in_the_window(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW)
    with demo_store.read() as conn:
        rows = conn.execute(
            select(db.interactions.c.partner_id, db.interactions.c.date).where(
                db.interactions.c.partner_id.is_not(None)
            )
        ).all()
    in_window = pd.Series([p for p, d in rows if WINDOW[0] <= d <= WINDOW[1]]).value_counts()
    some = table[table["interactions"] > 0].iloc[0]
    assert some["interactions"] == in_window[some["partner_id"]]
    assert some["last_contact"] == pd.Timestamp(max(d for p, d in rows if p == some["partner_id"] and d <= WINDOW[1]))
    # Engaged means what the scores mean: listed (not lapsed) and contacted in the window.
    listed = table["status"] != "lapsed"
    assert (table["engaged"] == (listed & table["partner_id"].isin(in_window.index))).all()
    assert (table.loc[~listed, "interactions"] > 0).any()  # the demo has lapsed partners still in touch
    assert table["distance_km"].between(0, 6).all()
    assert set(table["segment"]) == {"agencies", "businesses", "community"}


def test_every_partners_record_reads_cleanly(demo_store):
    """The record beside the map and the layers diagram (one function for both pages): every
    field of every demo partner, a dash where empty, never "nan" or "None"."""
    table = partners_in_window(demo_store, school_of(demo_store)["school_id"], *WINDOW)
    for _, row in table.iterrows():
        record = partner_record(row)
        assert list(record)[:3] == ["Distance from the school", "Contacts in the window", "Last contact in the window"]
        assert record["Reference"] == row["partner_id"]
        assert not re.search(r"\bnan\b|\bNone\b|\bNaT\b", record_lines(record)), row["partner_id"]


def test_the_map_holds_one_marker_per_placed_partner_and_no_cdn(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW)
    sectors = maps.family_sectors(demo_store, school["school_id"], WINDOW)
    html = maps.build_map(school, table, sectors, window=WINDOW).html()
    rows = marker_rows(html)
    assert len(rows) == len(table)
    for host in CDN_HOSTS:
        assert host not in html, host
    assert '<script src="/app/static/vendor/leaflet.js"></script>' in html
    assert "/app/static/vendor/leaflet.markercluster.js" in html
    # Partners drawn in their layer's colour (Okabe-Ito), one toggleable group per layer.
    for layer, colour in {2: "#0072B2", 3: "#E69F00", 4: "#009E73"}.items():
        assert f"Layer {layer}: " in html and colour in html
    assert html.count("L.featureGroup(") >= 3 and "L.control.layers(" in html
    # Rings labelled, the school marked, a legend.
    assert html.count('"className": "ring-label"') == 4
    for km in ("0.5 km", "1 km", "2 km", "5 km"):
        assert f"\\u003cspan\\u003e{km}\\u003c/span\\u003e" in html
    assert "Hollybrook Primary School" in html and 'id="map-legend"' in html


def test_names_are_escaped_for_html_and_template_literals(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW)
    hostile = table[table["partner_id"].str.startswith("H")]
    html = maps.build_map(school, hostile, None, window=WINDOW).html()
    assert "<img src=x" not in html and "${alert" not in html and "</script><script>alert" not in html
    # branca compiles rendered scripts as Jinja templates: a name must not be evaluated there.
    assert "49" not in " ".join(t for t in [row[4] for row in marker_rows(html)] if "7*7" in t or "49" in t)
    assert any(
        "&#123;&#123; 7*7 &#125;&#125; &#123;% if true %&#125;ran&#123;% endif %&#125;" in t
        for t in [row[4] for row in marker_rows(html)]
    )
    tips = [row[4] for row in marker_rows(html)]
    assert any("&lt;img src=x onerror=alert(1)&gt;" in t for t in tips)
    assert any("&#36;&#123;alert(1)&#125;" in t for t in tips)
    assert any("&#96;backtick&#96;&#92;" in t for t in tips)
    # The school's own name and the sector labels go through the same escaping.
    evil_school = {**school, "name": "${alert(1)} <img src=x onerror=alert(1)> {{ 'ev' ~ 'aluated' }}"}
    html = maps.build_map(evil_school, table.head(3), None, window=WINDOW).html()
    assert "<img src=x" not in html and "${alert" not in html and "evaluated" not in html


def test_small_sectors_are_never_shown(demo_store):
    school = school_of(demo_store)
    sectors = maps.family_sectors(demo_store, school["school_id"], WINDOW, threshold=25)
    assert (sectors.shown["families"] >= 25).all() and len(sectors.shown)
    with demo_store.read() as conn:
        postcodes = list(conn.execute(select(db.families.c.postcode)).scalars())
    by_sector = pd.Series([maps.geo.postcode_sector(p) for p in postcodes]).value_counts()
    small = sorted(by_sector[by_sector < 25].index)
    assert small, "the demo must have a sector under the threshold for this test to mean anything"
    assert sectors.hidden_families == int(by_sector[by_sector < 25].sum())
    html = maps.build_map(
        school, partners_in_window(demo_store, school["school_id"], *WINDOW).head(0), sectors, window=WINDOW
    ).html()
    for sector in small:
        assert f"Postcode sector {sector}<" not in html
    for sector in sectors.shown["sector"]:
        assert f"Postcode sector {sector}<" in html
    assert f"Not shown: {sectors.hidden_families} families" in html
    # Reach is families with two-way contact in the window over families of the sector.
    row = sectors.shown.iloc[0]
    assert row["reach"] == pytest.approx(row["reached"] / row["families"])


def test_the_sectors_add_up_to_the_overviews_family_reach(demo_store):
    school_id = school_of(demo_store)["school_id"]
    frames = load_school_frames(demo_store, school_id)
    card = overview(frames, school_id, *WINDOW, today=TODAY).card["families"]
    # Before suppression (a threshold of 1) every demo family is in a placed sector.
    every = maps.family_sectors(demo_store, school_id, WINDOW, threshold=1, frames=frames)
    assert every.hidden_families == 0
    assert every.shown["families"].sum() == card["on_roll"]
    assert every.shown["reached"].sum() == card["reached"] > 0
    # Read from the store or given the page's frames, the sectors are the same.
    assert every.shown.equals(maps.family_sectors(demo_store, school_id, WINDOW, threshold=1).shown)


def test_a_contact_logged_under_another_school_counts_for_the_familys_school():
    """The scores count an interaction for its family's school, whatever school it was logged
    under (a sibling's school, a shared family liaison officer); the map counts it the same way."""
    store = db.open_store("sqlite://")
    with store.write("test") as conn:
        conn.execute(
            db.schools.insert(),
            [
                {"school_id": "S1", "name": "Oak", "postcode": "B30 2QX"},
                {"school_id": "S2", "name": "Elm", "postcode": "B29 6AA"},
            ],
        )
        postcodes = [f"B30 2A{letter}" for letter in "ABCDEFGHIJKL"]
        conn.execute(
            db.families.insert(),
            [
                {"family_id": f"F{n:02}", "school_id": "S1", "postcode": postcode}
                for n, postcode in enumerate(postcodes)
            ],
        )
        conn.execute(
            db.gazetteer.insert(),
            [{"postcode": postcode, "latitude": 52.43, "longitude": -1.93} for postcode in postcodes],
        )
        conn.execute(
            db.interactions.insert(),
            [
                {
                    "interaction_id": "I1",
                    "school_id": "S1",
                    "family_id": "F00",
                    "date": WINDOW[0],
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                },
                {
                    "interaction_id": "I2",
                    "school_id": "S2",
                    "family_id": "F01",
                    "date": WINDOW[0],
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                },
                {
                    "interaction_id": "I3",
                    "school_id": "S1",
                    "family_id": "F02",
                    "date": WINDOW[0],
                    "activity": "newsletter",
                    "channel": "digital",
                    "two_way": False,
                },
            ],
        )
    frames = load_school_frames(store)
    assert overview(frames, "S1", *WINDOW, today=TODAY).card["families"]["reached"] == 2
    sectors = maps.family_sectors(store, "S1", WINDOW, frames=frames)
    assert sectors.shown[["sector", "families", "reached"]].values.tolist() == [["B30 2", 12, 2]]
    assert maps.family_sectors(store, "S2", WINDOW, frames=frames).shown.empty
    store.dispose()


def test_a_hidden_count_under_the_threshold_is_not_printed():
    shown = pd.DataFrame(
        {
            "sector": ["B30 2"],
            "families": [40],
            "reached": [20],
            "reach": [0.5],
            "latitude": [52.43],
            "longitude": [-1.93],
        }
    )
    body = maps._legend_body(maps.load_typology(), [2, 3, 4], maps.FamilySectors(shown, 3, 10), WINDOW)
    assert "Not shown: fewer than 10 families" in body and " 3 families" not in body


def test_filters_narrow_the_partners(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW)
    layer3 = filter_partners(table, PartnerFilter(layers=(3,)))
    assert len(layer3) and (layer3["layer"] == 3).all() and len(layer3) < len(table)
    engaged = filter_partners(table, PartnerFilter(engaged=False))
    assert not engaged["engaged"].any()
    food = filter_partners(table, PartnerFilter(services=("food",)))
    assert all("food" in s.split(";") for s in food["services"])
    assert len(filter_partners(table, PartnerFilter(search="${alert"))) == 1
    html = maps.build_map(school, layer3, None, window=WINDOW).html()
    assert len(marker_rows(html)) == len(layer3)


def test_many_partners_are_clustered_few_are_not(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW)
    few = maps.build_map(school, table, None, window=WINDOW, settings={"cluster_above": 1000}).html()
    many = maps.build_map(school, table, None, window=WINDOW, settings={"cluster_above": 10}).html()
    assert '"disableClusteringAtZoom": 1,' in few and '"maxClusterRadius": 45' not in few
    assert '"maxClusterRadius": 45' in many


def test_no_tiles_configured_still_draws_every_layer(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW)
    html = maps.build_map(
        school,
        table,
        maps.family_sectors(demo_store, school["school_id"], WINDOW),
        window=WINDOW,
        settings={"tiles_url": ""},
    ).html()
    assert "L.tileLayer(" not in html and len(marker_rows(html)) == len(table)
    assert '"maxZoom": 19' in html  # markercluster refuses a map with no maxZoom, and no tile layer sets one
    assert "tile.openstreetmap.org" not in html


def test_a_click_finds_the_partner_even_when_several_share_a_point():
    frame = pd.DataFrame(
        {
            "partner_id": ["A", "B", "C"],
            "name": ["Library", "Food Bank", "Far"],
            "latitude": [52.1, 52.1, 52.3],
            "longitude": [-1.9, -1.9, -1.8],
        }
    )
    assert maps.partners_at(frame, 52.1, -1.9)["partner_id"].tolist() == ["A", "B"]
    assert maps.partners_at(frame, 52.1, -1.9, "Food Bank community 1.2 km")["partner_id"].tolist() == ["B"]
    assert maps.partners_at(frame, 52.2, -1.9).empty


def test_assets_are_copied_from_the_pinned_packages(tmp_path):
    vendor = maps.install_assets(tmp_path)
    import xstatic.pkg.leaflet as leaflet

    assert (vendor / "leaflet.js").read_bytes() == (maps.Path(leaflet.BASE_DIR) / "leaflet.js").read_bytes()
    for name in ("leaflet.css", "leaflet.markercluster.js", "MarkerCluster.css", "images/layers.png"):
        assert (vendor / name).stat().st_size > 0
    total = sum(p.stat().st_size for p in vendor.rglob("*") if p.is_file())
    assert total < 400_000
    assert (vendor / "VERSION").read_text() == maps.assets_version()


def test_without_a_window_the_map_uses_the_default_reach_window(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *default_window())
    html = maps.build_map(school, table, None).html()
    assert len(marker_rows(html)) == len(table)


def test_the_first_view_is_fitted_without_animation(demo_store):
    # An animated fit ends after the partners are clustered and makes markercluster redo it all.
    school = school_of(demo_store)
    html = maps.build_map(
        school, partners_in_window(demo_store, school["school_id"], *WINDOW), None, window=WINDOW
    ).html()
    fit = re.search(r"\.fitBounds\(\s*(\[\[.*?\]\]),\s*(\{.*?\})\s*\);", html, re.S)
    assert fit and json.loads(fit.group(2)) == {"animate": False}
    (south, west), (north, east) = json.loads(fit.group(1))
    assert south < school["latitude"] < north and west < school["longitude"] < east


def test_marker_text_worked_out_ahead_gives_the_same_markers(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW)
    plain = marker_rows(maps.build_map(school, table, None, window=WINDOW).html())
    ahead = marker_rows(maps.build_map(school, maps.with_marker_text(table), None, window=WINDOW).html())
    assert ahead == plain and any("&lt;img src=x" in row[4] for row in ahead)


def test_each_marker_carries_the_figures_its_tooltip_is_made_of(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW)
    table = table.dropna(subset=["latitude"]).reset_index(drop=True)
    data, categories, statuses = maps._marker_data(table)
    assert len(data) == len(table)
    for row, partner in zip(data, table.itertuples()):
        lat, lng, _shape, engaged, name, cat, layer, km, contacts, last, status, stale = row
        assert stale == int(partner.stale)  # drawn with a dashed ring: due for a check
        assert (lat, lng) == (round(partner.latitude, 6), round(partner.longitude, 6))
        assert name == maps.safe_text(partner.name) and categories[cat] == partner.category
        assert layer == partner.layer and km == round(partner.distance_km, 1)
        assert engaged == int(partner.engaged) and contacts == partner.interactions
        assert last == (f"{partner.last_contact:%d/%m/%Y}" if partner.engaged else "")
        assert statuses[status] == partner.status


def test_marker_rows_round_distances_as_the_record_does_and_never_point_outside_their_lists(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW).head(4).copy()
    table["distance_km"] = [1.05, 0.15, float("nan"), 2.25]
    table.loc[table.index[0], "category"] = None
    table.loc[table.index[1], "status"] = None
    data, categories, statuses = maps._marker_data(table)
    # The same figure as the record's f"{km:.1f}" (numpy's round gave 1.0 and 0.2 for the first two).
    assert [row[7] for row in data] == [float(f"{d:.1f}") for d in (1.05, 0.15)] + [None, float(f"{2.25:.1f}")]
    assert all(0 <= row[5] < len(categories) and 0 <= row[10] < len(statuses) for row in data)
    assert categories[data[0][5]] == "" and statuses[data[1][10]] == ""


def test_a_name_search_finds_its_words_in_any_case_and_order():
    """Issue 27, item 7: "Food Bank" found none of 25 imported food banks written "Foodbank"."""
    names = ["Acceptance Foodbank", "B30 FOOD BANK", "Bank of Food and Friends", "Stirchley Library"]
    table = pd.DataFrame({"partner_id": [f"P{i}" for i in range(4)], "name": names})
    found = filter_partners(table, PartnerFilter(search="Food Bank"))
    assert found["name"].tolist() == names[:3]
    assert only_match(table, "library STIRCHLEY") == "P3"


def test_within_1_km_the_map_fits_the_partners_shown_and_the_school(demo_store):
    """Issue 27, item 5: the map zooms to what a filter shows, not to every partner."""
    school = school_of(demo_store)
    every = partners_in_window(demo_store, school["school_id"], *WINDOW)
    near = filter_partners(every, PartnerFilter(within_km=1.0))
    assert 0 < len(near) < len(every)
    opening = maps.initial_bounds(school, every, [0.5, 1, 2, 5])
    parts = maps.build_map(school, near, None, window=WINDOW, bounds=opening)
    html = parts.html()
    fitted = re.findall(r"var bounds = (\[\[.*?\]\]);", html)
    assert len(fitted) == 1, fitted
    (south, west), (north, east) = json.loads(fitted[0])
    # The fit holds every partner shown and the school, and is the 1 km ring's box, far tighter
    # than the opening view (which reaches the farthest partner within 5 km).
    placed = near.dropna(subset=["latitude", "longitude"])
    assert placed["latitude"].between(south, north).all() and placed["longitude"].between(west, east).all()
    assert south < school["latitude"] < north and west < school["longitude"] < east
    assert (north - south) == pytest.approx(2 / 111.2, rel=0.01)
    assert (north - south) < 0.5 * (opening[1][0] - opening[0][0])
    # It runs after the opening fit, when the partners are added (the groups st_folium swaps in).
    assert html.index("var bounds = ") > html.index(".fitBounds(")
    # Not in the base map: a filter changes only the groups, so the open map is never drawn again.
    base_only = maps.build_map(school, near, None, window=WINDOW, bounds=opening).base.get_root().render()
    assert "var bounds = " not in base_only and ".fitBounds(" in base_only


def test_the_family_areas_are_drawn_under_the_partners(demo_store):
    school = school_of(demo_store)
    table = partners_in_window(demo_store, school["school_id"], *WINDOW)
    frames = load_school_frames(demo_store, school["school_id"])
    sectors = maps.family_sectors(demo_store, school["school_id"], WINDOW, frames=frames)
    html = maps.build_map(school, table, sectors, window=WINDOW).html()
    pane = re.search(r"createPane\(\s*\"familyAreas\"\);\s*\S+\.style\.zIndex = (\d+);", html)
    assert pane and int(pane.group(1)) < 400  # below the rings' overlay pane, and so the markers' (600)
    circles = re.findall(r"L\.circleMarker\(.*?\{(.*?)\}\s*\)", html, re.S)
    assert circles and all('"pane": "familyAreas"' in c for c in circles)
