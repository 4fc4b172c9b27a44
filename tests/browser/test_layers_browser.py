"""Community layers in headless Chromium: the diagram draws every partner at 1280x800 and 1920x1080
with no console error or outside request, and selecting a mark opens that partner's record on the
screen at 1440x900 and 1280x720 (over the page, not below the gaps list)."""

from __future__ import annotations

import re

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
        assert page.get_by_text("No intergenerational link").first.is_visible()  # beside the drawing
        h.screenshot(page, h.SCREENSHOTS / f"layers-diagram-{viewport[0]}x{viewport[1]}.png", viewport)
    assert not record.problems(), "\n".join(record.problems())


@pytest.mark.parametrize("viewport", h.WORKING_SIZES, ids=lambda v: f"{v[0]}x{v[1]}")
def test_selecting_a_mark_opens_the_partners_record_on_the_screen(open_app_page, viewport):
    width, height = viewport
    with open_app_page("/layers", viewport) as (record, page):
        chart = page.locator('[data-testid="stPlotlyChart"]').first
        # A partner's mark, clicked as a person would: the pointer moves over it (the hover label
        # names the partner), then clicks. The lowest mark on the screen: the record once opened
        # below the gaps list, off the screen (issue 15, item 7).
        marks = chart.locator(".scatterlayer .point")
        marks.nth(119).wait_for(state="attached", timeout=h.READY_TIMEOUT_MS)
        page.mouse.move(width / 2, height / 2)
        page.mouse.wheel(0, 400)  # down to the diagram, as a reader scrolls
        page.wait_for_timeout(500)
        boxes = [b for b in (marks.nth(i).bounding_box() for i in range(marks.count())) if b]
        box = max((b for b in boxes if b["y"] + b["height"] < height - 10), key=lambda b: b["y"])
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        chart.locator(".hoverlayer .hovertext").first.wait_for(state="attached", timeout=10_000)
        hovered = chart.locator(".hoverlayer").text_content().split("Last contact")[0]
        page.mouse.click(x, y)
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("History (").wait_for(timeout=20_000)
        h.wait_ready(page)
        heading = dialog.locator("h3").first
        assert heading.inner_text() and hovered.startswith(heading.inner_text()), (heading.inner_text(), hovered)
        where = heading.bounding_box()
        assert where["y"] >= 0 and where["y"] + where["height"] <= height, where
        # The record as lines of text, none cut short and none printing a missing value as "nan".
        fields = dialog.locator('[data-testid="stMarkdownContainer"]').filter(has_text="Distance from the school:")
        text = fields.first.inner_text()
        assert "Services:" in text and "Address:" in text and "Notes:" in text, text
        assert "nan" not in text.split() and "None" not in text.split(), text
        page.screenshot(path=str(h.SCREENSHOTS / f"layers-record-{width}x{height}.png"))
        # Closed, the same mark opens it again.
        page.keyboard.press("Escape")
        dialog.wait_for(state="detached", timeout=20_000)
        h.wait_ready(page)
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        page.get_by_role("dialog").get_by_text("History (").wait_for(timeout=20_000)
    assert not record.problems(), "\n".join(record.problems())


@pytest.mark.parametrize("viewport", [*h.WORKING_SIZES, (390, 844)], ids=lambda v: f"{v[0]}x{v[1]}")
def test_each_gap_names_whom_to_contact_and_the_contact_is_planned(open_app_page, viewport):
    """Issue 27, item 3, in the browser: beside the diagram each gap says whom to contact next
    (name, distance, status) and "Plan a contact" opens, over the page, whom to contact and the
    goal it becomes; the goal is added to the action plan, once (pressed again, it says so)."""
    width, height = viewport
    with open_app_page("/layers", viewport) as (record, page):
        gaps = page.locator('[class*="st-key-layers_gap_"]')
        gaps.first.wait_for(timeout=h.READY_TIMEOUT_MS)
        steps = [gaps.nth(i).inner_text() for i in range(gaps.count())]
        assert steps and all("Contact " in s or "is listed, nor in the local offer" in s for s in steps), steps
        first = next(i for i, s in enumerate(steps) if "Contact " in s)
        gap = gaps.nth(first)
        gap.scroll_into_view_if_needed()
        h.screenshot(page, h.SCREENSHOTS / f"layers-gaps-{width}x{height}.png", viewport)
        gap.get_by_role("button", name="Plan a contact").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("Whom to contact").wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        box = dialog.get_by_role("button", name="Add to the action plan").bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= height, box
        dialog.get_by_role("button", name="Add to the action plan").click()
        dialog.get_by_text(re.compile(r"(Planned|Already planned): goal ")).wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        page.screenshot(path=str(h.SCREENSHOTS / f"layers-plan-{width}x{height}.png"))
        # Pressed again, nothing is added twice: the goal already there is named.
        dialog.get_by_role("button", name="Add to the action plan").click()
        dialog.get_by_text("Already planned: goal ").wait_for(timeout=h.READY_TIMEOUT_MS)
    assert not record.problems(), "\n".join(record.problems())
