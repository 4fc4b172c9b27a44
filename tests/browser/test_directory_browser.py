"""Issue 16's "Done when" in headless Chromium, on a store of its own (the demo school, so the other
browser tests' store is not changed): a family liaison officer marks a partner "Checked today"
(it leaves the "Due for a check" list), adds a partner with two services, and, in the same server
run, sees the partner on the Partner map (its marker), the layers diagram with stale partners in
the key, and the exported ZIP (partners.csv and services.csv). No console error or outside
request. Screenshots of the Directory at 1280x800 and 1440x900, the map and the layers."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest

from engagement import clock

from . import harness as h

pytestmark = pytest.mark.browser
HUB = "Hay Green Family Hub"


@pytest.fixture(scope="module")
def directory_server(tmp_path_factory):
    """The app on an empty store of its own: it loads the demo school at its first start."""
    url = f"sqlite:///{tmp_path_factory.mktemp('directory') / 'app.db'}"
    config = h.offline_config(tmp_path_factory.mktemp("directory-config") / "config.toml")
    server = h.start_app_server(
        h.ARTIFACTS / "browser" / "server-directory.log", env={"DATABASE_URL": url, "ENGAGEMENT_CONFIG": str(config)}
    )
    yield server
    server.stop()


def _due(page) -> int:
    label = page.get_by_role("tab", name=re.compile(r"Due for a check \(\d+\)")).inner_text()
    return int(re.search(r"\((\d+)\)", label).group(1))


def _add_service(page, name: str, tags: str, ages: tuple[str, str], cost: str, when: str) -> None:
    for label, value in (
        ("Service name", name),
        ("Tags (; between)", tags),
        ("From age", ages[0]),
        ("To age", ages[1]),
        ("Cost (free, or what it costs)", cost),
        ("When (weekly, e.g. Mon 09:00-11:30;Thu 15:30-17:00)", when),
    ):
        page.get_by_role("textbox", name=label, exact=True).fill(value)
    page.get_by_role("button", name="Save the service").click()
    page.get_by_text(f"Saved the service {name}").first.wait_for(timeout=20_000)
    h.wait_ready(page)


def test_a_partner_checked_and_one_added_with_two_services_show_everywhere(open_app_page, directory_server):
    with open_app_page("/directory", (1280, 800), server=directory_server) as (record, page):
        before = _due(page)
        assert before > 0
        h.screenshot(page, h.SCREENSHOTS / "directory-due-1280x800.png", (1280, 800))
        page.get_by_role("button", name="Checked today").first.click()
        page.get_by_text("as checked today").first.wait_for(timeout=20_000)
        h.wait_ready(page)
        assert _due(page) == before - 1

        page.get_by_role("tab", name="Add or edit").click()
        page.get_by_label("Name", exact=True).fill(HUB)
        page.get_by_label("Postcode", exact=True).fill("B30 1AA")
        page.get_by_label("Latitude (blank: placed from the postcode)").fill("52.4300")
        page.get_by_label("Longitude", exact=True).fill("-1.9300")
        page.get_by_role("combobox", name="Category").click()
        page.keyboard.type("community centre")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_text("Saved").first.wait_for(timeout=20_000)
        h.wait_ready(page)
        assert page.get_by_role("heading", name="Services").is_visible()
        _add_service(page, "Stay and play", "parenting support;early years", ("0", "4"), "free", "Tue 09:30-11:30")
        _add_service(page, "Homework club", "homework;after-school", ("7", "11"), "£1", "Wed 15:30-17:00")
        h.screenshot(page, h.SCREENSHOTS / "directory-partner-1280x800.png", (1280, 800))
        page.get_by_role("tab", name=re.compile(r"Due for a check")).click()
        h.wait_ready(page)
        assert _due(page) == before - 1  # whoever enters a partner has just checked it
    assert not record.problems(), "\n".join(record.problems())

    with open_app_page("/directory", (1440, 900), server=directory_server) as (record, page):
        h.screenshot(page, h.SCREENSHOTS / "directory-due-1440x900.png", (1440, 900))
        page.get_by_role("tab", name=re.compile(r"^Partners \(")).click()
        h.wait_ready(page)
        h.screenshot(page, h.SCREENSHOTS / "directory-list-1440x900.png", (1440, 900))
    assert not record.problems(), "\n".join(record.problems())

    with open_app_page("/partner_map", (1280, 800), server=directory_server) as (record, page):
        page.get_by_text("Key: colours, shapes and rings").click()  # the key starts collapsed
        page.get_by_text("due for a check (not checked for over 12 months)").first.wait_for(timeout=20_000)
        # Each marker's accessible name is its partner's name.
        page.frame_locator("iframe").first.locator(f'[title="{HUB}"]').wait_for(timeout=20_000)
        h.screenshot(page, h.SCREENSHOTS / "directory-map-1280x800.png", (1280, 800))
    assert not record.problems(), "\n".join(record.problems())

    with open_app_page("/layers", (1280, 800), server=directory_server) as (record, page):
        page.get_by_text("Due for a check").first.wait_for(timeout=20_000)
        h.screenshot(page, h.SCREENSHOTS / "directory-layers-1280x800.png", (1280, 800))
    assert not record.problems(), "\n".join(record.problems())

    with open_app_page("/data", (1280, 800), server=directory_server) as (record, page):
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Download the data (ZIP)").click()
        archive = zipfile.ZipFile(download.value.path())
    assert not record.problems(), "\n".join(record.problems())
    rows = list(csv.DictReader(io.StringIO(archive.read("partners.csv").decode("utf-8-sig"))))
    (hub_row,) = [r for r in rows if r["name"] == HUB]
    hub = hub_row["partner_id"]
    assert hub_row["services"] == "parenting support;early years;homework;after-school"
    services = [
        (r["name"], r["min_age"], r["max_age"], r["cost"], r["sessions"])
        for r in csv.DictReader(io.StringIO(archive.read("services.csv").decode("utf-8-sig")))
        if r["partner_id"] == hub
    ]
    assert services == [
        ("Stay and play", "0", "4", "free", "Tue 09:30-11:30"),
        ("Homework club", "7", "11", "£1", "Wed 15:30-17:00"),
    ]
    today = clock.today().isoformat()
    checked = [r["name"] for r in rows if r["last_verified"] == today]
    # The one marked "Checked today", and the one entered today.
    assert len(checked) == 2 and HUB in checked, sorted({r["last_verified"] for r in rows})[-5:]


def _open_tab(page) -> str:
    return page.get_by_role("tab", selected=True).inner_text()


def test_after_adding_a_partner_the_page_stays_on_it_and_it_is_not_due_for_a_check(open_app_page, directory_server):
    """Issue 27, item 4: a fresh session adds a partner. After the save the "Add or edit" tab is
    still open on the partner just entered (its services below), and it is not due for a check."""
    name = "Lifford Lane Allotments"
    with open_app_page("/directory", (1280, 720), server=directory_server) as (record, page):
        before = _due(page)
        page.get_by_role("tab", name="Add or edit").click()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Postcode", exact=True).fill("B30 3BW")
        page.get_by_role("combobox", name="Category").click()
        page.keyboard.type("charity")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_text("Saved").first.wait_for(timeout=20_000)
        h.wait_ready(page)
        assert _open_tab(page) == "Add or edit"
        assert page.get_by_role("heading", name="Services").is_visible()
        assert name in page.get_by_role("combobox", name="Partner", exact=True).input_value()
        assert page.get_by_label("Name", exact=True).input_value() == name
        assert page.get_by_text("Last checked:").first.is_visible()
        assert _due(page) == before
        # Saved, and warned apart (not in a green box) that the partner is not on the map.
        warning = page.locator('[data-testid="stAlertContentWarning"]').filter(has_text="Not placed on the map")
        assert warning.count() == 1
        assert "Not placed" not in " ".join(page.locator('[data-testid="stAlertContentSuccess"]').all_inner_texts())
        for viewport in ((1440, 900), (1280, 800), (1280, 720), (390, 844)):
            page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
            h.wait_ready(page)
            h.screenshot(page, h.SCREENSHOTS / f"directory-added-{viewport[0]}x{viewport[1]}.png", viewport)
    assert not record.problems(), "\n".join(record.problems())
