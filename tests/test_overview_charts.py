"""The Overview's charts, without streamlit: the equity dot chart puts each group's and the rest's
reach where they are and leaves a suppressed group without a mark; the trend charts carry one line
per segment with its own Okabe-Ito colour and marker shape, titles, axis titles and units; labels
are escaped."""

from __future__ import annotations

import pandas as pd
import pytest

from engagement import charts

EQUITY = pd.DataFrame(
    [
        {"label": "Pupil premium", "group_reach": 0.6102, "rest_reach": 0.7789, "suppressed": False},
        {"label": "SEND", "group_reach": 0.9412, "rest_reach": 0.8509, "suppressed": False},
        {"label": "Looked after", "group_reach": None, "rest_reach": None, "suppressed": True},
        {"label": "<img src=x onerror=alert(1)>", "group_reach": 0.5, "rest_reach": 0.55, "suppressed": False},
    ]
)
TRENDS = pd.DataFrame(
    [
        {
            "label": "Spring 2026",
            "families_score": 80.7,
            "agencies_score": 67.3,
            "businesses_score": 60.6,
            "community_score": 64.3,
            "overall_score": 70.7,
            "families_reach": 0.8738,
            "agencies_reach": 0.5455,
            "businesses_reach": 0.5833,
            "community_reach": 0.5067,
        },
        {
            "label": "Summer 2026",
            "families_score": None,
            "agencies_score": 82.0,
            "businesses_score": 70.8,
            "community_score": 72.5,
            "overall_score": 75.1,
            "families_reach": None,
            "agencies_reach": 0.7273,
            "businesses_reach": 0.6667,
            "community_reach": 0.5333,
        },
        {
            "label": "Autumn 2026 (to 23 Nov)",
            "families_score": 79.6,
            "agencies_score": 74.7,
            "businesses_score": 65.8,
            "community_score": 67.2,
            "overall_score": 73.4,
            "families_reach": 0.8619,
            "agencies_reach": 0.6818,
            "businesses_reach": 0.6667,
            "community_reach": 0.5467,
        },
    ]
)
OKABE = set(charts.OKABE_ITO.values())


def _marks(fig) -> dict:
    return {t.meta: t for t in fig.data if t.meta}


def test_equity_chart_places_group_and_rest_and_leaves_suppressed_groups_unmarked():
    fig = charts.equity_chart(EQUITY)
    marks = _marks(fig)
    assert list(marks["group"].x) == pytest.approx([61.02, 94.12, 50.0])
    assert list(marks["rest"].x) == pytest.approx([77.89, 85.09, 55.0])
    assert "Looked after" not in list(marks["group"].y) + list(marks["rest"].y)
    notes = [a for a in fig.layout.annotations if a.y == "Looked after"]
    assert len(notes) == 1 and notes[0].text.startswith("fewer than 10")
    # Every group keeps its row, suppressed ones included, in the table's order from the top.
    assert list(fig.layout.yaxis.categoryarray)[::-1][:3] == ["Pupil premium", "SEND", "Looked after"]


def test_equity_chart_is_labelled_and_colour_blind_safe():
    fig = charts.equity_chart(EQUITY)
    marks = _marks(fig)
    assert fig.layout.title.text and fig.layout.xaxis.title.text == "Families reached (%)"
    assert fig.layout.xaxis.ticksuffix == "%"
    assert {marks["group"].marker.color, marks["rest"].marker.color} <= OKABE
    assert marks["group"].marker.symbol != marks["rest"].marker.symbol
    assert {marks["group"].name, marks["rest"].name} == {"The group", "The rest of the school"}
    # The axis starts below the lowest reach shown, so no mark sits on or past its edge.
    low, high = fig.layout.xaxis.range
    assert low < 50 and high > 94.12


def test_equity_labels_are_escaped():
    fig = charts.equity_chart(EQUITY)
    labels = list(_marks(fig)["group"].y)
    assert "&lt;img src=x onerror=alert(1)&gt;" in labels
    assert not any("<img" in str(label) for label in labels)


def test_score_trend_has_a_line_per_segment_with_its_own_colour_and_shape():
    fig = charts.score_trend_chart(TRENDS)
    marks = _marks(fig)
    assert list(marks) == ["families", "agencies", "businesses", "community", "overall"]
    assert len({t.marker.symbol for t in marks.values()}) == 5
    assert len({t.line.color for t in marks.values()}) == 5 and {t.line.color for t in marks.values()} <= OKABE
    assert list(marks["agencies"].y) == [67.3, 82.0, 74.7]
    assert list(marks["overall"].y) == [70.7, 75.1, 73.4]
    assert list(marks["families"].y) == [80.7, None, 79.6], "a suppressed term stays a gap, never a zero"
    assert fig.layout.yaxis.title.text == "Score (0–100)" and fig.layout.xaxis.title.text == "Term"
    assert tuple(fig.layout.yaxis.range) == (0, 103)
    assert fig.layout.title.text == "Scores per term"


def test_reach_trend_is_in_percent():
    fig = charts.reach_trend_chart(TRENDS)
    marks = _marks(fig)
    assert list(marks) == ["families", "agencies", "businesses", "community"]
    assert list(marks["community"].y) == pytest.approx([50.67, 53.33, 54.67])
    assert fig.layout.yaxis.ticksuffix == "%" and "%" in fig.layout.yaxis.title.text
    assert "%" in marks["families"].hovertemplate


def test_term_names_keep_whole_on_two_lines():
    fig = charts.score_trend_chart(TRENDS)
    assert list(fig.data[0].x) == ["Spring 2026", "Summer 2026", "Autumn 2026<br>(to 23 Nov)"]
