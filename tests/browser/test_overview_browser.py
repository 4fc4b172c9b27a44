"""The Overview in headless Chromium, as a governor sees it on a projector: screenshots at 1280x800
and 1920x1080 with no console error or outside request; the report downloaded from the page opens
as a file in Chromium with nothing fetched, and its numbers are the page's (and the score card's)."""

from __future__ import annotations

import io
import re

import pypdf
import pytest

from engagement import clock, scoring
from engagement import store as engagement_store
from engagement.frames import load_school_frames
from engagement.terms import term_windows

from . import harness as h

pytestmark = pytest.mark.browser
A4 = (794, 1123)  # CSS pixels of an A4 sheet
# What the report's @page leaves to print on: 210 x 297 mm less 11 + 11 mm and 9 + 8 mm of margins.
PRINTABLE = (round(188 / 25.4 * 96), round(280 / 25.4 * 96))


# The score cards' nine figures, the communication panel's five, and the belonging and transitions
# section's four.
CARDS = 9 + 5 + 4


def wait_for_cards(page, count: int = CARDS) -> None:
    """Wait until every figure has drawn (every label and value), then until the page has settled
    again: the figures are read from the page as it is, never before it is."""
    page.wait_for_function(
        """n => document.querySelectorAll('[data-testid="stMetricValue"]').length >= n
                && document.querySelectorAll('[data-testid="stMetricLabel"]').length >= n""",
        arg=count,
        polling=100,
        timeout=h.READY_TIMEOUT_MS,
    )
    h.wait_ready(page)


def page_figures(page) -> dict[str, str]:
    """The figures as shown: metric label -> value (labels repeat, so numbered after the first),
    read once they have drawn."""
    wait_for_cards(page)
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    figures, seen = {}, {}
    for label, value in zip(labels, values):
        label = " ".join(label.split())
        seen[label] = seen.get(label, 0) + 1
        figures[label if seen[label] == 1 else f"{label} {seen[label]}"] = value.strip()
    return figures


def download(page, button: str, to) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=button).click()
    info.value.save_as(to)
    return to.read_bytes()


@pytest.mark.parametrize("viewport", h.VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_the_overview_on_a_projector(open_app_page, viewport):
    with open_app_page("/", viewport) as (record, page):
        wait_for_cards(page)
        assert page.get_by_role("heading", name="Scores out of 100").is_visible()
        # The window is said under the title, in a paragraph (ui.subtitle), not a heading.
        assert page.locator("p").filter(has_text=re.compile(r"^Engagement overview · ")).first.is_visible()
        assert len(page_figures(page)) == CARDS
        assert page.get_by_role("heading", name="How the school communicates with families").is_visible()
        # Every chart has drawn its marks (plotly draws points and bars as .point inside its layers):
        # equity, the communication panel's bars, and the two trends.
        charts = page.locator('[data-testid="stPlotlyChart"]')
        assert charts.count() >= 4
        for i in range(charts.count()):
            # Plotly draws after the element arrives: wait for the marks rather than count too soon.
            charts.nth(i).locator(".point").first.wait_for(state="attached", timeout=h.READY_TIMEOUT_MS)
            assert charts.nth(i).locator(".point").count() > 0
        h.screenshot(page, h.SCREENSHOTS / f"overview-projector-{viewport[0]}x{viewport[1]}.png", viewport)
    assert not record.problems(), "\n".join(record.problems())
    assert not record.markup, record.markup


def test_the_downloaded_report_opens_in_chromium_and_matches_the_page(open_app_page, chromium, app_database, tmp_path):
    with open_app_page("/", h.VIEWPORTS[0]) as (record, page):
        figures = page_figures(page)
        assert len(figures) == CARDS, figures
        window_heading = page.locator("p").filter(has_text=re.compile(r"^Engagement overview · ")).first.inner_text()
        html_bytes = download(page, "Download report (HTML)", tmp_path / "overview.html")
        pdf_bytes = download(page, "Download report (PDF)", tmp_path / "overview.pdf")
    assert not record.problems(), "\n".join(record.problems())

    # The page's numbers are the score card's for the current term.
    store = engagement_store.open_store(app_database)
    try:
        school_id = engagement_store.school_ids(store)[0]
        window = term_windows(clock.today(), 1)[0]
        card = scoring.score_card(load_school_frames(store, school_id), school_id, window.start, window.end)
    finally:
        store.dispose()
    assert figures["Families"] == f"{card['families']['score']:.1f}"
    assert figures["Overall"] == f"{card['overall']:.1f}"
    assert figures["Family reach"] == f"{100 * card['families']['reach']:.1f}%"

    # The report, opened as a file in a context of its own: it asks for nothing but itself.
    requests, errors = [], []
    context = chromium.new_context(viewport={"width": PRINTABLE[0], "height": PRINTABLE[1]})
    try:
        report_page = context.new_page()
        report_page.on("request", lambda r: requests.append(r.url))
        report_page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        report_page.on("pageerror", lambda e: errors.append(str(e)))
        report_page.goto((tmp_path / "overview.html").as_uri())
        report_page.emulate_media(media="print")
        text = " ".join(report_page.inner_text("body").split())
        report_page.screenshot(path=str(h.SCREENSHOTS / "overview-report-a4.png"), full_page=True)
        height = report_page.evaluate("document.body.getBoundingClientRect().bottom")
        # Printed as a reader's browser prints it: backgrounds off unless the page asks for them.
        printed = report_page.pdf(prefer_css_page_size=True, print_background=False)
        (h.ARTIFACTS / "overview-report-chromium.pdf").write_bytes(printed)
    finally:
        context.close()
    assert requests == [(tmp_path / "overview.html").as_uri()], requests
    assert not errors, errors
    assert html_bytes.startswith(b"<!DOCTYPE html>")

    scores = {
        label: value
        for label, value in figures.items()
        if label in ("Families", "Agencies", "Businesses", "Community", "Overall")
    }
    assert len(scores) == 5
    for label, value in scores.items():
        assert f"{label} {value} / 100" in text, (label, value)
    assert f"Family reach: {figures['Family reach']}" in text
    for _n, label in enumerate(("Partner reach", "Partner reach 2", "Partner reach 3")):
        assert f"Partner reach: {figures[label]}" in text
    assert window_heading.removeprefix("Engagement overview · ") in text
    assert "Hollybrook Primary School" in text and "fewer than 10 on one side" in text
    assert "Generated " + f"{clock.today().day} {clock.today():%B %Y}" in text
    # Issue 15: one printed sheet, equity bars included (they are backgrounds, which a browser
    # leaves out unless the page asks for them with print-color-adjust).
    assert height <= PRINTABLE[1], height
    sheets = pypdf.PdfReader(io.BytesIO(printed)).pages
    assert len(sheets) == 1
    drawing = sheets[0].get_contents().get_data().decode("latin1")
    # A bar: a rectangle filled Okabe-Ito blue, about 2.6 mm (10 px) high and wider than the key's
    # swatch (the headings' blue rules are 1 high); one per group shown.
    blue = re.compile(r"0 \.4471 \.698 rg\s+(?:/\w+ gs\s+)?[\d.]+ [\d.]+ ([\d.]+) ([\d.]+) re")
    bars = [(float(w), float(hh)) for w, hh in blue.findall(drawing) if 8 <= float(hh) <= 11 and float(w) >= 20]
    assert len(bars) >= 4, f"the equity bars are not printed: {blue.findall(drawing)}"

    assert pdf_bytes.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(pdf_bytes))
    assert len(reader.pages) == 1
    pdf_text = " ".join(reader.pages[0].extract_text().split())
    for value in scores.values():
        assert f"{value} / 100" in pdf_text
