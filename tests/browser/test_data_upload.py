"""The Data page's upload in headless Chromium, through the real file uploader: a file with
problems is refused with its rows listed and nothing written; a valid one is checked, then imported
on the click (screenshots at 1280x800)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from engagement import store as engagement_store

from . import harness as h

pytestmark = pytest.mark.browser
VIEWPORT = (1280, 800)


def _schools(url: str) -> list[dict]:
    store = engagement_store.open_store(url)
    try:
        with store.read() as conn:
            s = engagement_store.schools
            return [dict(r) for r in conn.execute(select(s.c.school_id, s.c.name, s.c.postcode)).mappings()]
    finally:
        store.dispose()


def _upload(page, name: str, data: bytes) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )
    h.wait_ready(page)  # the upload, then the rerun it asks for


def test_a_file_is_checked_whole_then_imported_on_the_click(open_app_page, app_database):
    before = _schools(app_database)
    with open_app_page("/data", VIEWPORT) as (record, page):
        _upload(page, "schools.csv", b"school_id,name,postcode\nNEW1,,B30 2AA\n")
        refused = page.locator('[data-testid="stAlert"]').filter(has_text="Nothing can be imported yet: 1 problem")
        refused.wait_for(timeout=h.READY_TIMEOUT_MS)
        assert page.get_by_role("button", name="Import", exact=True).count() == 0
        h.screenshot(page, h.SCREENSHOTS / "data-upload-refused-1280x800.png", VIEWPORT)
        assert _schools(app_database) == before
    assert not record.problems(), "\n".join(record.problems())

    # The school as it is: checked, imported on the click, and nothing changes.
    out = io.StringIO()
    writer = csv.DictWriter(out, ["school_id", "name", "postcode"])
    writer.writeheader()
    writer.writerows(before)
    with open_app_page("/data", VIEWPORT) as (record, page):
        _upload(page, "schools.csv", out.getvalue().encode())
        page.get_by_text("Every row is valid.").first.wait_for(timeout=h.READY_TIMEOUT_MS)
        page.get_by_role("button", name="Import", exact=True).click()
        page.get_by_text("Imported.").first.wait_for(timeout=h.READY_TIMEOUT_MS)
        h.screenshot(page, h.SCREENSHOTS / "data-upload-imported-1280x800.png", VIEWPORT)
    assert not record.problems(), "\n".join(record.problems())
    assert _schools(app_database) == before
