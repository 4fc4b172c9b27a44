"""Every page of the app's menu in headless Chromium, opened by its URL and through the menu: no
Streamlit exception box, no console or page error, no request outside the app, no dialog, the
page asked for is the page shown, and a screenshot of each at 1280x800 and 1920x1080."""

from __future__ import annotations

import struct

import pytest

from . import harness as h

pytestmark = pytest.mark.browser


def _visits(page_visits):
    return [record for records in page_visits.values() for record in records]


def _report(page_visits, *kinds: str) -> str:
    def pick(record: h.Visit) -> list[str]:
        # A page that never settled has nothing else to say, so its failure counts under every check.
        return [f"did not settle: {f}" for f in record.failures] + [
            line for kind in kinds for line in getattr(record, kind)
        ]

    return h.problem_report(_visits(page_visits), pick)


def test_the_menu_lists_the_pages_once_each_with_the_overview_as_the_main_page(nav_pages):
    paths = [p.path for p in nav_pages]
    assert len(paths) == len(set(paths)), nav_pages
    assert len({p.name for p in nav_pages}) == len(nav_pages), "two pages would share a screenshot name"
    main = [p for p in nav_pages if p.path == "/"]
    assert main and main[0].label == "Overview", nav_pages


def test_no_page_shows_a_streamlit_exception(page_visits):
    report = _report(page_visits, "exceptions")
    assert not report, f"exception boxes (see artifacts/screenshots/pages/):\n{report}"


def test_no_page_logs_a_console_or_page_error(page_visits):
    report = _report(page_visits, "console_errors", "page_errors")
    assert not report, f"browser errors:\n{report}"


def test_no_page_requests_anything_outside_the_app(page_visits):
    report = _report(page_visits, "outside")
    assert not report, f"requests to hosts other than the app's own (all were aborted):\n{report}"


def test_every_page_opens_by_its_url_without_a_dialog(page_visits):
    def pick(record: h.Visit) -> list[str]:
        return [
            line for line in record.problems() if line.startswith(("harness", "dialog", "Streamlit said", "opened "))
        ]

    report = h.problem_report(_visits(page_visits), pick)
    assert not report, report


def _png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_every_page_has_a_screenshot_at_each_size(page_visits, nav_pages):
    print("\n".join(f"{r.label}: {r.seconds:.1f} s" for r in _visits(page_visits)))
    for nav in nav_pages:
        for width, height in h.VIEWPORTS:
            shot = h.PAGE_SHOTS / f"{nav.name}-{width}x{height}.png"
            assert shot.exists(), f"no screenshot of {nav.label}: {shot}"
            shot_width, shot_height = _png_size(shot)
            assert shot_width == width and shot_height >= height, (shot, shot_width, shot_height)


def test_the_menu_reaches_every_page_cleanly_in_one_session(app_tab, app_server, nav_pages):
    problems = []
    with app_tab.visit("menu navigation", h.VIEWPORTS[0]) as (record, page):
        h.open_path(page, record, "/")
        problems += [f"/ (first load): {p}" for p in record.problems()]
        for nav in nav_pages:
            for recorded in (record.outside, record.console_errors, record.page_errors, record.dialogs):
                recorded.clear()
            h.nav_link(page, nav.path).click()
            page.wait_for_url(app_server.url + nav.path)
            h.wait_ready(page)
            h.collect(page, record)
            record.expected_path = nav.path
            problems += [f"{nav.label} via the menu: {p}" for p in record.problems()]
    app_server.assert_alive()
    assert not problems, "\n".join(problems)
