"""The Partner map in headless Chromium: Leaflet draws the markers inside the component frame from
the app's own copy of its scripts, nothing but tiles leaves the app's host, clicking a marker shows
that partner's record over the map, and hostile partner names open no dialog anywhere (tooltips
forced open, the record panel, the picker for partners sharing a point)."""

from __future__ import annotations

import re

import pytest

from . import harness as h

pytestmark = pytest.mark.browser
VIEWPORT = (1280, 800)
TILES = ["tile.openstreetmap.org"]
FRAME = "iframe[title='streamlit_folium.st_folium']"


def map_frame(page, marks: int = 2):
    """The map's frame once at least ``marks`` marks are drawn (the school's comes first, with
    the base map; the partners' when their groups are added)."""
    page.locator(FRAME).wait_for(timeout=30_000)
    raw = next(f for f in page.frames if "st_folium" in f.url)
    raw.wait_for_function("n => document.querySelectorAll('.partner-mark').length >= n", arg=marks, timeout=30_000)
    return page.frame_locator(FRAME), raw


UNCOVERED_MARK = """() => {
  const marks = [...document.querySelectorAll('.partner-mark')];
  for (let i = 0; i < marks.length; i++) {
    if (marks[i].querySelector('svg[viewBox="0 0 26 26"]')) continue;  // the school
    const r = marks[i].getBoundingClientRect();
    const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    if (hit && marks[i].contains(hit) && r.y > 60) return i;
  }
  return -1;
}"""


def uncovered_mark(raw) -> int:
    """The index of a partner's mark that the pointer can reach (nothing drawn over its centre),
    once there is one: the frame may still be laying out after a scroll or a closed tooltip."""
    raw.wait_for_function(f"() => ({UNCOVERED_MARK})() >= 0", polling=100, timeout=10_000)
    return raw.evaluate(UNCOVERED_MARK)


def heading_in_panel(page) -> str:
    """The name at the top of the partner's record, which opens over the page."""
    return page.get_by_role("dialog").locator("h3").first.inner_text().strip()


def test_the_map_draws_its_markers_from_the_apps_own_scripts(open_app_page):
    with open_app_page("/partner_map", VIEWPORT, allow_hosts=TILES) as (record, page):
        caption = page.get_by_text(re.compile(r"Showing \d+ of \d+ partners")).inner_text()
        shown = int(re.search(r"Showing (\d+)", caption).group(1))
        frame, raw = map_frame(page, shown + 1)
        # One mark per partner plus the school; every script of the frame comes from the app.
        assert frame.locator(".partner-mark").count() == shown + 1
        # The key is beside the map, where it hides no partner, and closed until asked for.
        key = page.locator(".map-key")
        assert not key.is_visible()
        page.get_by_text("Key: colours, shapes and rings").click()
        assert key.is_visible() and "Partners: colour is the layer" in key.inner_text()
        assert frame.locator(".leaflet-overlay-pane path").count() >= 4  # the rings and family sectors
        scripts = raw.evaluate("() => [...document.scripts].map(s => s.src).filter(Boolean)")
        assert any(s.endswith("/app/static/vendor/leaflet.js") for s in scripts), scripts
        assert all(s.startswith(record.origin) for s in scripts), scripts
        h.screenshot(page, h.SCREENSHOTS / "partner-map-1280x800.png", VIEWPORT)
    assert not record.problems(), "\n".join(record.problems())
    assert record.allowed_outside, "the map should have asked for its tiles"
    assert all("tile.openstreetmap.org" in url for url in record.allowed_outside)


def test_clicking_a_marker_shows_that_partners_record(open_app_page):
    with open_app_page("/partner_map", VIEWPORT, allow_hosts=TILES) as (record, page):
        frame, raw = map_frame(page)
        # Scrolled first, so the marker found uncovered is still where the pointer goes.
        page.locator(FRAME).scroll_into_view_if_needed()
        index = uncovered_mark(raw)
        assert index >= 0
        marker = frame.locator(".partner-mark").nth(index)
        marker.hover()
        tip = frame.locator(".partner-tip").last
        tip.wait_for(timeout=5_000)
        name = tip.locator("b").inner_text().strip()
        # The tooltip is put together in the browser from the marker's figures.
        lines = tip.inner_text().strip().split("\n")
        assert lines[0].strip() == name
        category = re.fullmatch(r"(.+) · layer ([234])(?: · \d+\.\d km)?", lines[1]).group(1)
        assert re.fullmatch(
            r"\d+ contacts? in the window(, last \d\d/\d\d/\d{4})?|no contact in the window", lines[2]
        ), lines
        marker.click()
        page.get_by_role("heading", name=name).wait_for(timeout=30_000)
        h.wait_ready(page)
        assert heading_in_panel(page) == name
        assert page.get_by_text(f"{category} · layer {lines[1].split('layer ')[1][0]}").is_visible()
        assert page.get_by_text(re.compile(r"History \(\d+ contacts\)")).is_visible()
        assert page.get_by_role("button", name="Log contact").is_visible()
        h.screenshot(page, h.SCREENSHOTS / "partner-map-record-1280x800.png", VIEWPORT)
    assert not record.problems(), "\n".join(record.problems())


def test_hostile_names_open_no_dialog_on_the_map(open_app_page):
    with open_app_page("/partner_map", VIEWPORT, allow_hosts=TILES) as (record, page):
        frame, raw = map_frame(page)
        everyone = frame.locator(".partner-mark").count()
        caption = (
            page.locator('[data-testid="stCaptionContainer"]')
            .filter(has_text=re.compile(r"Showing \d+ of \d+ partners"))
            .first.inner_text()
        )
        page.get_by_label("Name contains").fill("alert(1)")
        page.keyboard.press("Enter")
        # The filtered page is drawn when the caption says so and the map has redrawn with fewer marks.
        page.wait_for_function(
            """before => [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
            .some(c => /Showing \\d+ of \\d+ partners/.test(c.innerText) && c.innerText !== before)""",
            arg=caption,
            polling=100,
            timeout=h.READY_TIMEOUT_MS,
        )
        h.wait_ready(page)
        frame, raw = map_frame(page, 3)
        raw.wait_for_function(
            "n => document.querySelectorAll('.partner-mark').length < n",
            arg=everyone,
            polling=100,
            timeout=h.READY_TIMEOUT_MS,
        )
        assert frame.locator(".partner-mark").count() == 3  # two hostile partners and the school
        # Open every tooltip: this is where folium would have put the names as HTML.
        opened = raw.evaluate("""() => { let n = 0; window.map.eachLayer(l => {
            if (l.getTooltip && l.getTooltip()) { l.openTooltip(); n++; } }); return n; }""")
        raw.wait_for_function(
            "n => document.querySelectorAll('.leaflet-tooltip').length >= n", arg=opened, polling=100, timeout=10_000
        )
        text = raw.evaluate("() => document.body.innerText")
        assert "<img src=x onerror=alert(1)>" in text and "${alert(1)}" in text
        assert raw.evaluate("() => document.querySelectorAll('img[src=x]').length") == 0
        # Each marker's accessible name is the name itself, as text.
        titles = raw.evaluate("() => [...document.querySelectorAll('.partner-mark')].map(e => e.title)")
        assert {"<img src=x onerror=alert(1)>", "${alert(1)}"} <= set(titles)
        # Both sit on one point: a click offers the choice, and each record shows its name as text.
        page.locator(FRAME).scroll_into_view_if_needed()
        raw.evaluate("() => window.map.eachLayer(l => l.closeTooltip && l.closeTooltip())")
        frame.locator(".partner-mark").nth(uncovered_mark(raw)).click()
        page.get_by_text("Log a contact with this partner").wait_for(timeout=30_000)
        h.wait_ready(page)
        assert heading_in_panel(page) in ("<img src=x onerror=alert(1)>", "${alert(1)}")
    assert not record.dialogs, record.dialogs
    assert not record.markup, record.markup
    assert not record.problems(), "\n".join(record.problems())
