"""The Directory in headless Chromium: a partner marked "Checked today" leaves the "Due for a check"
list, a new partner is added with the form, and the map and the layers diagram draw partners due
for a check with their ring, in the key; no console error or outside request."""

from __future__ import annotations

import re

import pytest

from . import harness as h

pytestmark = pytest.mark.browser


def _due(page) -> int:
    label = page.get_by_role("tab", name=re.compile(r"Due for a check \(\d+\)")).inner_text()
    return int(re.search(r"\((\d+)\)", label).group(1))


def test_checked_today_and_a_new_partner_show_on_the_map_and_diagram(open_app_page):
    with open_app_page("/directory", (1280, 800)) as (record, page):
        before = _due(page)
        h.screenshot(page, h.SCREENSHOTS / "directory-due-1280x800.png", (1280, 800))
        page.get_by_role("button", name="Checked today").first.click()
        page.get_by_text("as checked today").wait_for(timeout=20_000)
        h.wait_ready(page)
        assert _due(page) == before - 1

        page.get_by_role("tab", name="Add or edit").click()
        page.get_by_label("Name", exact=True).fill("Hay Green Family Hub")
        page.get_by_label("Postcode", exact=True).fill("B30 1AA")
        page.get_by_label("Latitude (blank: placed from the postcode)").fill("52.4300")
        page.get_by_label("Longitude", exact=True).fill("-1.9300")
        page.get_by_role("combobox", name="Category").click()
        page.keyboard.type("community centre")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_text("Saved").first.wait_for(timeout=20_000)
        h.wait_ready(page)
        h.screenshot(page, h.SCREENSHOTS / "directory-saved-1280x800.png", (1280, 800))
        assert page.get_by_role("heading", name="Services").is_visible()
    assert not record.problems(), "\n".join(record.problems())

    with open_app_page("/partner_map", (1280, 800)) as (record, page):
        page.get_by_text("due for a check (not checked for over 12 months)").first.wait_for(timeout=20_000)
        h.screenshot(page, h.SCREENSHOTS / "directory-map-1280x800.png", (1280, 800))
    assert not record.problems(), "\n".join(record.problems())

    with open_app_page("/layers", (1280, 800)) as (record, page):
        assert page.get_by_text("Due for a check").first.is_visible()
        h.screenshot(page, h.SCREENSHOTS / "directory-layers-1280x800.png", (1280, 800))
    assert not record.problems(), "\n".join(record.problems())
