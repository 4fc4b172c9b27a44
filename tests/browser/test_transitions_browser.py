"""The Transitions page in headless Chromium (issue 27, item 8): belonging by group for families
with SEND is shown under the moves, in a table that fits the page at every size (no sideways
scrolling), with a screenshot of each."""

from __future__ import annotations

import pytest

from . import harness as h

pytestmark = pytest.mark.browser
SIZES = [*h.WORKING_SIZES, (390, 844)]


@pytest.mark.parametrize("viewport", SIZES, ids=lambda v: f"{v[0]}x{v[1]}")
def test_belonging_of_send_families_is_shown_beside_the_moves(open_app_page, viewport):
    with open_app_page("/transitions", viewport) as (record, page):
        page.get_by_role("heading", name="Belonging of families with SEND").wait_for(timeout=30_000)
        table = page.locator('[data-testid="stTable"]').filter(has_text="SEND, moving").first
        table.wait_for(timeout=30_000)
        headers = table.locator("th").all_inner_texts()
        assert {"Question", "All families", "SEND", "SEND, moving"} <= {t.strip() for t in headers}, headers
        # The whole table fits its place on the page: no column hidden to the right, on a phone too.
        assert table.evaluate(
            "el => el.querySelector('table').getBoundingClientRect().right <= el.getBoundingClientRect().right + 1"
        )
        main = page.locator('[data-testid="stMain"]')
        assert main.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
        h.screenshot(page, h.SCREENSHOTS / f"transitions-belonging-{viewport[0]}x{viewport[1]}.png", viewport)
        if viewport == SIZES[0]:  # the bar: nothing critical, serious or moderate
            found = h.describe_violations(h.axe_violations(page), impacts=("critical", "serious", "moderate"))
            assert not found, "\n".join(found)
    assert not record.problems(), "\n".join(record.problems())
