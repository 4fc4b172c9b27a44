"""The Partner map's first click (issue 15, item 3): with the map running below the fold, one press
on a marker opens that partner's record at 1440x900 and 1280x720, and the page does not
scroll under the pointer. Leaflet focused the map on the first mousedown without
``preventScroll``, so Chrome scrolled the page to show the whole map frame and the click landed on
empty map (see ``engagement.maps.LEAFLET_FIXES_JS``)."""

from __future__ import annotations

import pytest

from . import harness as h
from .test_partner_map import FRAME, map_frame

pytestmark = pytest.mark.browser
SIZES = h.WORKING_SIZES

# The partners' marks the pointer can reach, each alone at its point (a shared point asks which
# partner first), with their centres in the frame's coordinates.
REACHABLE_MARKS = """() => {
  const marks = [...document.querySelectorAll('.partner-mark')]
    .filter(m => !m.querySelector('svg[viewBox="0 0 26 26"]'));
  const at = m => { const r = m.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; };
  return marks.map(m => ({title: m.title, xy: at(m)})).filter(({xy}, i, all) => {
    const hit = document.elementFromPoint(xy[0], xy[1]);
    const alone = all.filter(o => Math.abs(o.xy[0] - xy[0]) < 1 && Math.abs(o.xy[1] - xy[1]) < 1).length === 1;
    return alone && hit && marks[i].contains(hit);
  });
}"""


def main_scroll(page) -> float:
    return page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollTop")


@pytest.mark.parametrize("viewport", SIZES, ids=lambda v: f"{v[0]}x{v[1]}")
def test_one_click_on_a_marker_below_the_fold_opens_its_record(open_app_page, viewport):
    width, height = viewport
    with open_app_page("/partner_map", viewport) as (record, page):
        _, raw = map_frame(page, 10)
        box = page.locator(FRAME).bounding_box()
        # The trap needs the map to run past the bottom of the screen; otherwise this proves nothing.
        # At 1440x900 the compact header (item 5) now fits the whole map on the screen: a window
        # a little shorter, of the same width, still has the trap.
        if box["y"] + box["height"] <= height:
            height = int(box["y"] + box["height"] - 120)
            page.set_viewport_size({"width": width, "height": height})
            h.wait_ready(page)
            box = page.locator(FRAME).bounding_box()
        assert box["y"] + box["height"] > height, box
        marks = [m for m in raw.evaluate(REACHABLE_MARKS) if box["y"] + m["xy"][1] < height - 12]
        lowest = max(marks, key=lambda m: m["xy"][1])
        before = main_scroll(page)
        page.mouse.click(box["x"] + lowest["xy"][0], box["y"] + lowest["xy"][1])
        heading = page.get_by_role("heading", name=lowest["title"], exact=True)
        heading.wait_for(timeout=30_000)
        h.wait_ready(page)
        assert main_scroll(page) == before, "the press on the marker scrolled the page"
        # The record opens where the reader is looking (issue 15, item 7): its name on the screen.
        where = heading.bounding_box()
        assert where and where["y"] >= 0 and where["y"] + where["height"] <= height, where
        h.screenshot(page, h.SCREENSHOTS / f"partner-map-first-click-{width}x{height}.png", viewport)
    assert not record.problems(), "\n".join(record.problems())
