"""The first visitor after a restart who opens a page by its address gets the app as designed: the
page settings and the menu of app.py, not Streamlit's file-name menu (see app.py's docstring)."""

from __future__ import annotations

import pytest

from . import harness as h

pytestmark = pytest.mark.browser


def test_a_fresh_server_opened_on_a_page_address_shows_the_apps_menu(chromium, app_database, tmp_path):
    server = h.start_app_server(
        tmp_path / "server.log",
        env={"DATABASE_URL": app_database, "ENGAGEMENT_CONFIG": str(h.offline_config(tmp_path / "config.toml"))},
    )
    try:
        with h.visit(chromium, server.url, "first visit") as (record, page):
            h.open_path(page, record, "/layers")
            menu = [" ".join(t.split()) for t in page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()]
            assert any(item.endswith("Community layers") for item in menu), menu
            assert not any(item in ("app", "audit", "layers") for item in menu), menu
            assert page.locator("h1").first.inner_text() == "Community layers"
        assert not record.problems(), "\n".join(record.problems())
    finally:
        server.stop()
