"""The Community layers page with AppTest: the diagram's marks, the named gaps, filters and the table."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "layers.py"


@pytest.fixture
def page(demo_app_db):
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.run()
    assert not at.exception
    return at


def _marks(at):
    import json

    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    # Plotly may encode numeric arrays as binary; customdata (mixed values) stays a plain list.
    return sum(
        len(t.get("customdata", []))
        for t in figure["data"]
        if t.get("meta") in ("engaged", "not engaged", "prospective", "lapsed")
    )


def _caption_count(at):
    text = next(c.value for c in at.caption if "partners shown" in c.value)
    shown, total = text.split(" partners shown")[0].split(" of ")
    return int(shown), int(total)


def test_every_partner_is_on_the_diagram_and_gaps_are_named(page):
    shown, total = _caption_count(page)
    assert shown == total == 120
    assert _marks(page) == 120
    text = " ".join(m.value for m in page.markdown)
    assert "No intergenerational link" in text
    assert "No business offering work experience" in text


def test_filters_narrow_diagram_and_table(page):
    page.multiselect[0].set_value(["agencies"]).run()  # segment
    shown, total = _caption_count(page)
    assert 0 < shown < total
    assert _marks(page) == shown
    page.multiselect[3].set_value(["lapsed"]).run()  # status, on top
    shown_lapsed, _ = _caption_count(page)
    assert shown_lapsed < shown and _marks(page) == shown_lapsed


def test_another_window_changes_the_gaps(page):
    before = " ".join(m.value for m in page.markdown)
    labels = page.sidebar.selectbox[0].options
    page.sidebar.selectbox[0].set_value(labels[-2]).run()  # an older term
    assert not page.exception
    assert page.caption[1].value != "" and labels[-2].split(" (")[0] in " ".join(c.value for c in page.caption)
    after = " ".join(m.value for m in page.markdown)
    assert before != after or "no gaps" in after
