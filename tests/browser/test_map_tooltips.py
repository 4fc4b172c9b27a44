"""The Partner map's tooltips stay inside the map (issue 15, item 10): a partner's tooltip opens
above its marker, and beside or below it when the marker sits at the map's left, right or top
edge, never cut off by the edge. Checked with the pointer on a marker moved to each edge, at
1440x900 and 1280x720; a screenshot of the left edge at each size."""

from __future__ import annotations

import pytest

from . import harness as h
from .test_partner_map import FRAME, map_frame

pytestmark = pytest.mark.browser
SIZES = h.WORKING_SIZES

# Pans the map so that the partner's mark furthest towards ``edge`` sits 8 px inside it (for the
# top edge, also in the middle across, clear of the map's controls), and returns where its centre
# now is, in the frame's coordinates, with the partner's name.
MARK_AT_EDGE = """edge => {
  const map = window.map, size = map.getSize();
  const marks = [...document.querySelectorAll('.partner-mark')]
    .filter(m => !m.querySelector('svg[viewBox="0 0 26 26"]'));
  const box = document.querySelector('.leaflet-container').getBoundingClientRect();
  const centre = m => { const r = m.getBoundingClientRect(); return [r.x + r.width / 2 - box.x, r.y + r.height / 2 - box.y]; };
  const key = {left: c => c[0], right: c => -c[0], top: c => c[1]}[edge];
  const mark = marks.reduce((a, b) => key(centre(a)) <= key(centre(b)) ? a : b);
  const [x, y] = centre(mark);
  const shift = {left: [x - 8, 0], right: [x - (size.x - 8), 0], top: [x - size.x / 2, y - 8]}[edge];
  map.panBy(shift, {animate: false});
  const [nx, ny] = centre(mark);
  return {title: mark.title, x: nx + box.x, y: ny + box.y};
}"""

INSIDE = """() => {
  const map = document.querySelector('.leaflet-container').getBoundingClientRect();
  const tips = [...document.querySelectorAll('.leaflet-tooltip.partner-tip')];
  return tips.map(t => { const r = t.getBoundingClientRect();
    return {text: t.innerText, left: r.left - map.left, right: map.right - r.right, top: r.top - map.top,
            bottom: map.bottom - r.bottom}; });
}"""


@pytest.mark.parametrize("viewport", SIZES, ids=lambda v: f"{v[0]}x{v[1]}")
def test_a_partners_tooltip_is_not_cut_off_at_the_maps_edges(open_app_page, viewport):
    width, height = viewport
    with open_app_page("/partner_map", viewport) as (record, page):
        _, raw = map_frame(page, 10)
        page.locator(FRAME).scroll_into_view_if_needed()
        for edge in ("left", "right", "top"):
            page.mouse.move(1, 1)  # off the map: any open tooltip closes
            raw.wait_for_function("() => !document.querySelector('.leaflet-tooltip.partner-tip')", timeout=5_000)
            mark = raw.evaluate(MARK_AT_EDGE, edge)
            box = page.locator(FRAME).bounding_box()
            page.mouse.move(box["x"] + mark["x"], box["y"] + mark["y"])
            raw.wait_for_selector(".leaflet-tooltip.partner-tip", timeout=5_000)
            [tip] = raw.evaluate(INSIDE)
            assert tip["text"].split("\n")[0].strip() == mark["title"].strip(), (edge, tip)
            # Wholly inside the map, with the whole name readable.
            assert min(tip["left"], tip["right"], tip["top"], tip["bottom"]) >= 0, (edge, tip)
            if edge == "left":
                page.screenshot(path=str(h.SCREENSHOTS / f"partner-map-tooltip-left-edge-{width}x{height}.png"))
    assert not record.problems(), "\n".join(record.problems())
