"""The figures, built without streamlit: marks in the right ring and sector, states told by colour
and shape, user text escaped in hover labels."""

import datetime

import numpy as np
import pandas as pd
import pytest

from engagement import charts
from engagement.typology import load_typology

T = load_typology()


def _partner(pid, name, category, status="active", interactions=0):
    return {
        "partner_id": pid,
        "name": name,
        "category": category,
        "layer": T.category(category).layer,
        "segment": T.category(category).segment,
        "status": status,
        "interactions": interactions,
        "last_contact": datetime.date(2026, 10, 1) if interactions else None,
        "engaged": interactions > 0,
    }


@pytest.fixture
def table():
    return pd.DataFrame(
        [
            _partner("P1", "Stirchley Library", "library", interactions=3),
            _partner("P2", "Hazelwell Food Bank", "food bank", interactions=0),
            _partner("P3", "<img src=x onerror=alert(1)>", "business", interactions=1),
            _partner("P4", "%{x} ${alert(1)}", "employer", status="prospective"),
            _partner("P5", "Old Scouts", "youth organisation", status="lapsed", interactions=2),
            _partner("P6", "Early Help Hub", "early help", interactions=5),
        ]
    )


def _state_traces(fig):
    return {t.meta: t for t in fig.data if t.meta in charts.ENGAGEMENT_STATES}


def test_every_partner_is_one_mark_in_its_ring_and_sector(table):
    fig = charts.layers_diagram(table, pupils=600, staff=60)
    traces = _state_traces(fig)
    assert sum(len(t.x) for t in traces.values()) == len(table)
    sectors = charts.layer_sectors(T).set_index("category")
    for trace in traces.values():
        radius = np.hypot(trace.x, trace.y)
        angle = np.degrees(np.arctan2(trace.x, trace.y)) % 360  # clockwise from twelve o'clock
        for pid, r, theta in zip(trace.customdata[:, 0], radius, angle):
            row = table.set_index("partner_id").loc[pid]
            assert row["layer"] - 1 < r < row["layer"], pid
            sector = sectors.loc[row["category"]]
            assert sector["start"] <= theta <= sector["start"] + sector["width"], pid


def test_states_by_colour_and_shape(table):
    traces = _state_traces(charts.layers_diagram(table, pupils=1, staff=1))
    ids = {state: sorted(t.customdata[:, 0]) for state, t in traces.items()}
    assert ids == {
        "engaged": ["P1", "P3", "P6"],
        "not engaged": ["P2"],
        "prospective": ["P4"],
        "lapsed": ["P5"],
        "local offer": [],
    }
    symbols = {t.marker.symbol for t in traces.values()}
    assert len(symbols) == 5  # shape tells the state without colour


def test_hover_text_is_escaped_and_never_templated(table):
    fig = charts.layers_diagram(table, pupils=1, staff=1)
    names = [n for t in _state_traces(fig).values() for n in t.customdata[:, 1]]
    assert "&lt;img src=x onerror=alert(1)&gt;" in names
    assert not any("<img" in n for n in names)
    for trace in _state_traces(fig).values():
        # Names reach the label through customdata only, never through the template itself.
        assert "alert" not in trace.hovertemplate and "img" not in trace.hovertemplate
    html = fig.to_html(include_plotlyjs=False)
    assert "<img src=x" not in html


def test_empty_category_is_a_visible_sector(table):
    fig = charts.layers_diagram(table, pupils=1, staff=1)
    ring4 = [t for t in fig.data if t.name and t.name.startswith("Layer 4")]
    assert len(ring4) == len(T.categories_of_layer(4))
    assert any(t.text.startswith("transport provider: 0 partners") for t in ring4)


def test_marks_sized_by_interactions(table):
    traces = _state_traces(charts.layers_diagram(table, pupils=1, staff=1))
    engaged = traces["engaged"]
    size = dict(zip(engaged.customdata[:, 0], engaged.marker.size))
    assert size["P6"] > size["P1"] > size["P3"]


def test_empty_table_draws_rings_only():
    fig = charts.layers_diagram(
        pd.DataFrame(
            columns=[
                "partner_id",
                "name",
                "category",
                "layer",
                "segment",
                "status",
                "interactions",
                "last_contact",
                "engaged",
            ]
        ),
        pupils=0,
        staff=0,
    )
    assert sum(len(t.x) for t in _state_traces(fig).values()) == 0
