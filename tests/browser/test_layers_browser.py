"""Community layers in headless Chromium: the diagram draws every partner at 1280x800 and 1920x1080
with no console error or outside request, and selecting a mark shows that partner's record."""

from __future__ import annotations

import pytest

from . import harness as h

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", h.VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_the_diagram_draws_every_partner(open_app_page, viewport):
    with open_app_page("/layers", viewport) as (record, page):
        chart = page.locator('[data-testid="stPlotlyChart"]').first
        marks = chart.locator(".scatterlayer .point")
        # Plotly draws after the element arrives: wait for the marks rather than count too soon.
        marks.nth(119).wait_for(state="attached", timeout=h.READY_TIMEOUT_MS)
        assert marks.count() >= 120  # the demo's 120 partners, plus hostile copies
        assert page.get_by_text("No intergenerational link").is_visible()
        h.screenshot(page, h.SCREENSHOTS / f"layers-diagram-{viewport[0]}x{viewport[1]}.png", viewport)
    assert not record.problems(), "\n".join(record.problems())


def test_selecting_a_mark_shows_the_partners_record(open_app_page):
    with open_app_page("/layers", (1920, 1080)) as (record, page):
        assert page.get_by_text("Select a partner's mark on the diagram").is_visible()
        chart = page.locator('[data-testid="stPlotlyChart"]').first
        # A partner's mark, clicked as a person would: the pointer moves over it (the hover label
        # names the partner), then clicks.
        mark = chart.locator(".scatterlayer .point").nth(3)
        mark.wait_for(state="attached", timeout=h.READY_TIMEOUT_MS)
        box = mark.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        chart.locator(".hoverlayer .hovertext").first.wait_for(state="attached", timeout=10_000)
        hovered = chart.locator(".hoverlayer").text_content().split("Last contact")[0]
        page.mouse.click(x, y)
        page.get_by_text("History (").wait_for(timeout=20_000)
        h.wait_ready(page)
        assert not page.get_by_text("Select a partner's mark on the diagram").is_visible()
        assert page.get_by_text("contacts in the window").first.is_visible()
        heading = page.locator("h3").filter(has_not_text="Gaps in this window").first.inner_text()
        assert heading and hovered.startswith(heading), (heading, hovered)
        # The record as lines of text, none cut short and none printing a missing value as "nan".
        fields = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="Distance from the school:")
        text = fields.first.inner_text()
        assert "Services:" in text and "Address:" in text and "Notes:" in text, text
        assert "nan" not in text.split() and "None" not in text.split(), text
        h.screenshot(page, h.SCREENSHOTS / "layers-selected-1920x1080.png", (1920, 1080))
    assert not record.problems(), "\n".join(record.problems())
