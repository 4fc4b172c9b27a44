"""The Overview on a projector (issue 15): at 1280x800 a governor sees the scores first, under a
compact demo and local-mode line rather than a screen of chrome, and no figure is cut off. Also at
1440x900 and 1280x720. The governor's view is the app's with the governor role (local mode is an
administrator's, with the "Clear demo data" button at the foot of the page; a governor's has less above the scores)."""

from __future__ import annotations

import pytest

from . import harness as h
from .test_overview_browser import wait_for_cards

pytestmark = pytest.mark.browser
SIZES = [(1280, 800), (1440, 900), (1280, 720)]

_CUT_JS = """() => Array.from(document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stMetricLabel"], [data-testid="stMetricDelta"]'))
  .filter(el => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
  .map(el => el.innerText.trim())"""


@pytest.mark.parametrize("viewport", SIZES, ids=lambda v: f"{v[0]}x{v[1]}")
def test_the_scores_come_first_on_a_projector(open_app_page, viewport):
    with open_app_page("/", viewport) as (record, page):
        wait_for_cards(page)
        page.screenshot(path=str(h.SCREENSHOTS / f"overview-first-screen-{viewport[0]}x{viewport[1]}.png"))
        values = page.locator('[data-testid="stMetricValue"]')
        first = values.first.bounding_box()
        # Every score card's score on the first screen, in its upper part.
        for i in range(5):
            box = values.nth(i).bounding_box()
            assert box["y"] + box["height"] <= viewport[1], (i, box)
        if viewport[1] >= 800:
            assert first["y"] < 0.5 * viewport[1], first
        # The report's buttons say what they are in full.
        for name in ("Download report (HTML)", "Download report (PDF)"):
            button = page.get_by_role("button", name=name)
            assert button.evaluate("b => b.scrollWidth <= b.clientWidth + 1"), name
        # The reach under each score is on the first screen too, and nothing is cut off.
        reach = page.locator('[data-testid="stMetricLabel"]').filter(has_text="reach").first.bounding_box()
        assert reach["y"] + reach["height"] <= viewport[1], reach
        cut = page.evaluate(_CUT_JS)
        assert not cut, cut
        h.screenshot(page, h.SCREENSHOTS / f"overview-{viewport[0]}x{viewport[1]}.png", viewport)
    assert not record.problems(), "\n".join(record.problems())
