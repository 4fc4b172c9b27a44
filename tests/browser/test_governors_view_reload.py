"""The Governors' view on a projector survives F5 (issue 24): a member of staff switches it on in a
real Chromium, reloads the page, and still sees the governors' menu (no Outreach planner), with the
switch on and ``?view=governors`` in the address; switching it off asks first."""

from __future__ import annotations

import pytest

from . import harness as h

pytestmark = pytest.mark.browser


def _menu(page) -> list[str]:
    return [p.name for p in h.discover_pages(page)]


def test_a_reload_keeps_the_governors_view(open_app_page):
    with open_app_page("/", (1280, 800)) as (record, page):
        assert "outreach-planner" in _menu(page), "local mode starts as an administrator"
        page.get_by_text("Governors' view", exact=False).first.click()
        page.wait_for_function("() => location.search.includes('view=governors')", timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        assert "outreach-planner" not in _menu(page)

        page.reload(wait_until="domcontentloaded")
        h.wait_ready(page)
        assert "view=governors" in page.url
        assert "outreach-planner" not in _menu(page), "F5 brought the staff menu back"
        switch = page.locator('[data-testid="stSidebar"] input[type="checkbox"]').first
        assert switch.is_checked()

        # Off only after a question: the governors' menu stays until it is answered.
        page.get_by_text("Governors' view", exact=False).first.click()
        h.wait_ready(page)
        assert page.get_by_text("Leave the governors' view?").is_visible()
        assert "outreach-planner" not in _menu(page)
    assert not record.problems(), "\n".join(record.problems())
