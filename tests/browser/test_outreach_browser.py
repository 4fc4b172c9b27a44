"""The Outreach planner in headless Chromium: the page as an FLO sees it (screenshots at 1280x800
before and after), and logging a two-way contact takes the family off the worklist."""

from __future__ import annotations

import re

import pytest

from engagement import outreach
from engagement import store as engagement_store
from engagement.contacts import interaction_history

from . import harness as h

pytestmark = pytest.mark.browser
VIEWPORT = (1280, 800)


def picked_family(page) -> str:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Family to work on")
    shown = box.inner_text() + " " + " ".join(box.locator("input").evaluate_all("els => els.map(e => e.value)"))
    found = re.search(r"(\S+) · priority", shown)
    assert found, box.inner_html()
    return found.group(1)


def test_logging_a_two_way_contact_takes_the_family_off_the_list(open_app_page, app_database):
    with open_app_page("/outreach", VIEWPORT) as (record, page):
        assert page.get_by_role("heading", name="Outreach planner").is_visible()
        family = picked_family(page)
        h.screenshot(page, h.SCREENSHOTS / "outreach-worklist-1280x800.png", VIEWPORT)

        form = page.locator('[data-testid="stForm"]')
        form.locator('[data-testid="stRadio"]').get_by_text("Yes", exact=True).click()
        form.locator("textarea").fill("Spoke about <img src=x onerror=alert(1)> clubs")
        form.get_by_role("button", name="Log contact").click()
        # The confirmation is what the rerun after the click draws: wait for it, not for a time.
        page.locator('[data-testid="stAlert"]').filter(has_text="Logged a").wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)

        message = page.locator('[data-testid="stAlert"]').filter(has_text="Logged a").inner_text()
        assert f"with family {family}" in message and "has left the worklist" in message
        assert picked_family(page) != family
        assert form.locator("textarea").input_value() == "", "the form should be clean for the next contact"
        h.screenshot(page, h.SCREENSHOTS / "outreach-after-logging-1280x800.png", VIEWPORT)
        # With the confirmation showing, the page still passes axe-core.
        serious = h.describe_violations(h.axe_violations(page))
        assert not serious, "\n".join(serious)

    assert not record.problems(), "\n".join(record.problems())
    assert not record.markup, record.markup
    store = engagement_store.open_store(app_database)
    try:
        school = engagement_store.school_ids(store)[0]
        assert family not in outreach.worklist(store, school)["family_id"].tolist()
        history = interaction_history(store, family_id=family, role="flo").to_dict("records")
        logged = [r for r in history if isinstance(r["notes"], str) and "clubs" in r["notes"]]
        assert len(logged) == 1 and logged[0]["two_way"]
    finally:
        store.dispose()
