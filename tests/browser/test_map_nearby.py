""" "What is within 1 km?" on the Partner map (issue 15, item 4): choosing a distance keeps the
partners within it on the map and lists them in the table under it, nearest first; a row opens
that partner's record on the screen; and a name search that finds one partner opens its record.
At 1440x900 and 1280x720, with a screenshot of each."""

from __future__ import annotations

import re

import pytest

from . import harness as h
from .test_partner_map import map_frame

pytestmark = pytest.mark.browser
SIZES = h.WORKING_SIZES
ROW_PX = 35  # Streamlit's table rows and header


def table_rows(table) -> list[list[str]]:
    """The table's cells, row by row, from the grid's own accessible rows (the canvas draws them)."""
    rows = table.locator('[role="row"]')
    return [rows.nth(i).locator('[role="gridcell"]').all_inner_texts() for i in range(1, rows.count())]


def open_heading(page, height: int) -> str:
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Log a contact with this partner").wait_for(timeout=30_000)
    h.wait_ready(page)
    heading = dialog.locator("h3").first
    where = heading.bounding_box()
    assert where and where["y"] >= 0 and where["y"] + where["height"] <= height, where
    return heading.inner_text().strip()


@pytest.mark.parametrize("viewport", SIZES, ids=lambda v: f"{v[0]}x{v[1]}")
def test_within_1_km_lists_the_nearest_partners_and_a_row_opens_a_record(open_app_page, viewport):
    width, height = viewport
    with open_app_page("/partner_map", viewport) as (record, page):
        map_frame(page, 10)
        page.get_by_text("within 1 km", exact=True).click()
        page.get_by_role("heading", name="Partners shown within 1 km of the school").wait_for(timeout=30_000)
        h.wait_ready(page)
        caption = page.get_by_text(re.compile(r"Showing \d+ of \d+ partners")).inner_text()
        on_map = int(re.search(r"Showing (\d+)", caption).group(1))
        _, raw = map_frame(page, on_map + 1)
        assert raw.evaluate("() => document.querySelectorAll('.partner-mark').length") == on_map + 1
        table = page.locator('[data-testid="stDataFrame"]').last
        rows = table_rows(table)
        assert 0 < len(rows) == on_map, (on_map, rows)
        distances = [float(r[1]) for r in rows]
        assert distances == sorted(distances) and max(distances) <= 1.0, distances
        assert page.get_by_text(f"{len(rows)} partners. Choose a row").is_visible()
        h.screenshot(page, h.SCREENSHOTS / f"partner-map-within-1-km-{width}x{height}.png", viewport)
        # By name: A to Z.
        page.get_by_text("name", exact=True).click()
        wanted = sorted((r[0] for r in rows), key=str.lower)
        for _ in range(60):  # the table is drawn again once the rerun ends
            h.wait_ready(page)
            if [r[0] for r in table_rows(table)] == wanted:
                break
            page.wait_for_timeout(500)
        by_name = [r[0] for r in table_rows(table)]
        assert by_name == sorted(by_name, key=str.lower), by_name
        # A row opens that partner's record, where the reader is looking.
        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        page.mouse.click(box["x"] + 14, box["y"] + ROW_PX + ROW_PX / 2)
        assert open_heading(page, height) == by_name[0]
        page.screenshot(path=str(h.SCREENSHOTS / f"partner-map-record-from-table-{width}x{height}.png"))
    assert not record.problems(), "\n".join(record.problems())


def test_a_search_that_finds_one_partner_opens_its_record(open_app_page):
    with open_app_page("/partner_map", (1280, 800)) as (record, page):
        map_frame(page, 10)
        page.get_by_label("Name contains").fill("Cotteridge Care")
        page.keyboard.press("Enter")
        assert open_heading(page, 800) == "Cotteridge Care Home"
    assert not record.problems(), "\n".join(record.problems())


ZOOM_JS = "() => window.map.getZoom()"
# Every partner's mark (the school's is the one drawn 26 px wide) that lies in the map's view,
# with what the pointer would hit at its centre.
MARKS_JS = """() => {
  const box = window.map.getContainer().getBoundingClientRect();
  const families = window.map.getPane('familyAreas');
  return [...document.querySelectorAll('.partner-mark')]
    .filter(m => !m.querySelector('svg[viewBox="0 0 26 26"]'))
    .map(m => {
      const r = m.getBoundingClientRect();
      const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      return {inside: r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom,
              under_family: !!(hit && families && families.contains(hit))};
    });
}"""
PANES_JS = """() => [window.map.getPane('familyAreas'), window.map.getPane('markerPane')]
  .map(p => p ? +getComputedStyle(p).zIndex : null)"""


def test_within_1_km_zooms_the_map_to_those_partners_drawn_above_the_family_areas(open_app_page):
    """Issue 27, item 5: "within 1 km" zooms the map to the partners it shows and the school
    (before, the map kept the opening view and they were specks), every one of them on the map's
    screen; the family areas are drawn under the partners, so none covers a partner's mark."""
    for viewport in [(1280, 800), (1440, 900), (1280, 720), (390, 844)]:
        width, height = viewport
        with open_app_page("/partner_map", viewport) as (record, page):
            _, raw = map_frame(page, 10)
            opening = raw.evaluate(ZOOM_JS)
            families, markers = raw.evaluate(PANES_JS)
            assert families is not None and families < markers, (families, markers)
            page.get_by_text("within 1 km", exact=True).click()
            page.get_by_role("heading", name="Partners shown within 1 km of the school").wait_for(timeout=30_000)
            h.wait_ready(page)
            caption = page.get_by_text(re.compile(r"Showing \d+ of \d+ partners")).inner_text()
            on_map = int(re.search(r"Showing (\d+)", caption).group(1))
            _, raw = map_frame(page, on_map + 1)
            raw.wait_for_function(f"z => ({ZOOM_JS})() > z", arg=opening, timeout=20_000)
            marks = raw.evaluate(MARKS_JS)
            assert len(marks) == on_map > 0
            assert all(m["inside"] for m in marks), marks
            assert not any(m["under_family"] for m in marks), marks
            # Back to any distance: the opening view again.
            if viewport == (1280, 800):
                page.get_by_text("any distance", exact=True).click()
                h.wait_ready(page)
                raw.wait_for_function(f"z => ({ZOOM_JS})() === z", arg=opening, timeout=20_000)
                page.get_by_text("within 1 km", exact=True).click()
                h.wait_ready(page)
                raw.wait_for_function(f"z => ({ZOOM_JS})() > z", arg=opening, timeout=20_000)
            h.screenshot(page, h.SCREENSHOTS / f"partner-map-zoomed-1-km-{width}x{height}.png", viewport)
        assert not record.problems(), "\n".join(record.problems())
