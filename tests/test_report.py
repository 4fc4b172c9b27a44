"""The Overview's figures and its one-page report, without streamlit: the figures are the score
card's for the window, the change is on the same number of school days into the previous term, the
report names school, window, what was compared, filters and date, shows every score and "fewer than
10" where a group is suppressed, holds no family reference, escapes the school's name, loads nothing
from outside, and its PDF is one A4 page whose text carries the scores."""

from __future__ import annotations

import datetime
import html
import io
import re
from html.parser import HTMLParser

import pypdf
import pytest
from pypdf.generic import ContentStream
from sqlalchemy import select, update

from engagement import explanations, overview, report, scoring, terms
from engagement import store as db
from engagement.demo import load_demo
from engagement.frames import load_school_frames
from engagement.typology import load_typology

TODAY = datetime.date(2026, 11, 23)
# The default terms for England: autumn 2026 starts on 3 Sep; by 23 Nov it has had 53 school days (3-4 Sep,
# seven weeks to 23 Oct, half-term, three weeks to 20 Nov and Monday 23 Nov). Summer 2026 ran from 13 Apr to
# 22 Jul; its first 53 school days (the 4 May bank holiday and the 25-29 May half-term out) end on 2 Jul.
AUTUMN = (datetime.date(2026, 9, 3), TODAY)
SUMMER = (datetime.date(2026, 4, 13), datetime.date(2026, 7, 22))
SUMMER_SO_FAR = (datetime.date(2026, 4, 13), datetime.date(2026, 7, 2))
HOSTILE = "<img src=x onerror=alert(1)>"


def _demo(store, name: str | None = None) -> str:
    load_demo(store, actor="tests", today=TODAY)
    school_id = db.school_ids(store)[0]
    if name is not None:
        with store.write(actor="tests") as conn:
            conn.execute(update(db.schools).where(db.schools.c.school_id == school_id).values(name=name))
    return school_id


def _family_ids(store) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(select(db.families.c.family_id)).scalars())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo school under a hostile name, its frames, the autumn view and its report."""
    store = db.open_store(f"sqlite:///{tmp_path_factory.mktemp('report') / 'demo.db'}")
    school_id = _demo(store, name=HOSTILE)
    frames = load_school_frames(store, school_id)
    view = overview.school_overview(store, school_id, *AUTUMN, for_governor=False, today=TODAY)
    yield {
        "store": store,
        "school_id": school_id,
        "frames": frames,
        "view": view,
        "html": report.overview_report_html(view),
        "families": _family_ids(store),
    }
    store.dispose()


@pytest.fixture(scope="module")
def demo_pdf(demo) -> bytes:
    """The demo report's PDF, rendered once for the module (a render is seconds of WeasyPrint; the
    tests that read this PDF only read it)."""
    return report.overview_report_pdf(demo["html"])


class _Text(HTMLParser):
    """The text a reader of the report sees (styles and the SVG's own title left out)."""

    def __init__(self):
        super().__init__()
        self.parts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "title")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def _cards(page: str) -> dict[str, str]:
    """The report's score cards: segment label -> the score as printed."""
    return dict(re.findall(r'<div class="seg"[^>]*>([^<]+)</div><div class="score">([^<]+)<', page))


# ---------------------------------------------------------------- the figures


def test_the_figures_are_the_score_card_of_the_window_on_both_databases(store):
    school_id = _demo(store)
    frames = load_school_frames(store, school_id)
    view = overview.overview(frames, school_id, *AUTUMN, today=TODAY)
    card = scoring.score_card(frames, school_id, *AUTUMN)
    assert view.card == card
    by_segment = {row["segment"]: row for row in view.segments}
    for seg in ("families", "agencies", "businesses", "community"):
        assert by_segment[seg]["score"] == card[seg]["score"]
        assert by_segment[seg]["rate"] == card[seg]["reach"]
    assert by_segment["overall"]["score"] == card["overall"]


def test_the_change_is_on_the_same_school_days_of_the_previous_term(demo):
    view, frames, school_id = demo["view"], demo["frames"], demo["school_id"]
    assert view.previous == SUMMER_SO_FAR
    assert view.previous_text == "Summer term 2026, 13 Apr – 2 Jul 2026"
    assert view.comparison_text == (
        "the first 53 school days of autumn 2026 (3 Sep – 23 Nov 2026) against the "
        "first 53 school days of summer 2026 (13 Apr – 2 Jul 2026)"
    )
    # The demo holds no autumn 2025: nothing is said of last year.
    assert view.comparison.last_year.dates == (datetime.date(2025, 9, 3), datetime.date(2025, 11, 21))
    assert not view.last_year and all(row["score_change_last_year"] is None for row in view.segments)
    now, before = view.card, scoring.score_card(frames, school_id, *SUMMER_SO_FAR)
    rows = {row["segment"]: row for row in view.segments}
    for seg in ("families", "agencies", "businesses", "community"):
        assert rows[seg]["score_change"] == pytest.approx(now[seg]["score"] - before[seg]["score"], abs=0.051)
        assert rows[seg]["rate_change"] == pytest.approx(100 * (now[seg]["reach"] - before[seg]["reach"]), abs=0.051)
    assert rows["overall"]["score_change"] == pytest.approx(now["overall"] - before["overall"], abs=0.051)
    # The demo's autumn is not its summer: a change of nothing everywhere would mean the windows were mixed up.
    assert any(row["score_change"] != 0 for row in view.segments)


def test_a_custom_window_is_compared_with_as_many_school_days_just_before():
    # 5 Oct - 6 Nov: 15 school days to 23 Oct, half-term, 5 from 2 Nov = 20; the 20 before are 7 Sep - 2 Oct.
    start, end = datetime.date(2026, 10, 5), datetime.date(2026, 11, 6)
    assert terms.window_text(start, end) == "5 Oct – 6 Nov 2026"
    assert terms.comparison_window(start, end) == (datetime.date(2026, 9, 7), datetime.date(2026, 10, 2))
    assert terms.compare(start, end).text() == (
        "the 20 school days from 5 Oct 2026 (5 Oct – 6 Nov 2026) "
        "against the 20 school days before 5 Oct 2026 (7 Sep – 2 Oct 2026)"
    )
    assert terms.comparison_window(*AUTUMN) == SUMMER_SO_FAR
    # A whole term is compared with the whole term before it.
    assert terms.compare(*SUMMER).text() == (
        "all 67 school days of summer 2026 (13 Apr – 22 Jul 2026) against "
        "all 55 school days of spring 2026 (5 Jan – 27 Mar 2026)"
    )


def test_each_explanation_adds_up_to_its_score(demo):
    explained = explanations.explain(demo["frames"], demo["school_id"], *AUTUMN)
    for row in demo["view"].segments:
        parts = [float(p) for p in re.findall(r"gives ([\d.]+) of", row["drivers"])]
        assert len(parts) == len(explained[row["segment"]]["components"]) > 0
        assert sum(parts) == pytest.approx(row["score"], abs=0.3)
        assert row["advice"] == explained[row["segment"]]["advice"]


def test_equity_rows_follow_the_card_and_say_fewer_than_10_when_suppressed(demo):
    view = demo["view"]
    suppressed = [flag for flag, e in view.card["equity"].items() if e["suppressed"]]
    assert suppressed, "the demo school has a group under 10 (looked after children)"
    for _, row in view.equity.iterrows():
        words = overview.equity_text(row)
        if row["suppressed"]:
            assert words["Families"] == "fewer than 10 on one side"
            assert not any(ch.isdigit() for key, value in words.items() for ch in value if key != "Families")
        else:
            entry = view.card["equity"][row["flag"]]
            assert words["Group reach"] == f"{100 * entry['group_reach']:.1f}%"
            assert words["Families"] == f"{entry['group']} of {entry['group'] + entry['rest']}"


def test_layer_coverage_names_each_missing_category_by_its_gap_phrase(demo):
    view = demo["view"]
    missing = scoring.gaps(demo["frames"], demo["school_id"], *AUTUMN)
    typology = load_typology()
    for _, row in view.layers.iterrows():
        assert len(row["missing"]) == row["categories"] - row["covered"]
        assert row["missing"] == [typology.category(name).gap for name in missing[row["layer"]]]
    assert "no intergenerational link" in view.layers.explode("missing")["missing"].tolist()


def test_trends_run_per_term_to_the_window_and_match_each_terms_card(demo):
    view, frames, school_id = demo["view"], demo["frames"], demo["school_id"]
    assert list(view.trends["label"]) == ["Spring 2026", "Summer 2026", "Autumn 2026 (so far: 53 of 72 school days)"]
    assert list(view.trends["partial"]) == [False, False, True]
    summer = scoring.score_card(frames, school_id, *SUMMER)
    row = view.trends.iloc[1]
    assert row["families_score"] == summer["families"]["score"]
    assert row["agencies_reach"] == summer["agencies"]["reach"]
    assert row["overall_score"] == summer["overall"]
    assert view.trends.iloc[-1]["families_score"] == view.card["families"]["score"]


def test_each_window_is_computed_once(demo, monkeypatch):
    """The card, the explanations, the change and the trend share their windows' metrics: the term
    so far is also the trend's last term, the previous term its one before."""
    computed = []
    metrics = scoring.metrics
    monkeypatch.setattr(
        scoring,
        "metrics",
        lambda frames, start, end, settings=None, calendar=None: (
            computed.append((start, end)) or metrics(frames, start, end, settings, calendar)
        ),
    )
    again = overview.overview(demo["frames"], demo["school_id"], *AUTUMN, today=TODAY)
    assert sorted(computed) == [(datetime.date(2026, 1, 5), datetime.date(2026, 3, 27)), SUMMER_SO_FAR, SUMMER, AUTUMN]
    assert again.segments == demo["view"].segments and again.trends.equals(demo["view"].trends)


# ---------------------------------------------------------------- the report


def test_the_report_names_school_window_filters_and_date(demo):
    text = _text(demo["html"])
    assert f"{HOSTILE}: community engagement overview" in text
    assert "Window: Autumn term 2026, 3 Sep – 23 Nov 2026 · Filters:" in text
    assert (
        "Changes compare the first 53 school days of autumn 2026 (3 Sep – 23 Nov 2026) against the first 53 "
        "school days of summer 2026 (13 Apr – 2 Jul 2026)."
    ) in text
    assert "on Summer 2026" in text  # each card's change, in a few words
    assert f"Filters: school {HOSTILE} ({demo['school_id']}) · Generated" in text
    assert "Generated 23 November 2026" in text


def test_the_report_shows_every_score_and_rate_of_the_card(demo):
    page, card = demo["html"], demo["view"].card
    expected = {
        "Families": card["families"]["score"],
        "Agencies": card["agencies"]["score"],
        "Businesses": card["businesses"]["score"],
        "Community": card["community"]["score"],
        "Overall": card["overall"],
    }
    assert _cards(page) == {label: f"{score:.1f}" for label, score in expected.items()}
    text = _text(page)
    assert f"Family reach: {100 * card['families']['reach']:.1f}%" in text
    for seg in ("agencies", "businesses", "community"):
        assert f"Partner reach: {100 * card[seg]['reach']:.1f}%" in text


def test_the_report_says_fewer_than_10_for_a_suppressed_group_and_never_a_number(demo):
    rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>(.*?)</td>", demo["html"])
    by_group = {html.unescape(group): (families, reach) for group, families, reach in rows}
    assert by_group["Looked after"] == ("fewer than 10 on one side", "not shown")
    assert by_group["SEND"][0].endswith(f"of {demo['view'].card['families']['on_roll']}")


def test_a_school_under_the_threshold_shows_no_family_figure(sqlite_store):
    with sqlite_store.write(actor="tests") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Tiny School", postcode="B30 2AA"))
        conn.execute(
            db.families.insert(), [{"family_id": f"TINY-{i}", "school_id": "S1", "send": i < 3} for i in range(7)]
        )
    frames = load_school_frames(sqlite_store, "S1")
    view = overview.overview(frames, "S1", *AUTUMN, today=TODAY)
    page = report.overview_report_html(view)
    text = _text(page)
    assert "fewer than 10 families on roll: not shown" in text
    assert _cards(page)["Families"] == "–"
    assert not re.search(r"\b7 of\b|\b3 of\b", text)
    assert text.count("fewer than 10 on one side") == 5
    assert "TINY-" not in page


def test_the_report_holds_no_family_reference(demo):
    page = demo["html"]
    assert demo["families"] and not [f for f in demo["families"] if f in page]
    assert not re.search(r"\d+-F\d{4}", page)


def test_the_school_name_is_escaped(demo):
    page = demo["html"]
    assert "<img" not in page and "onerror=alert(1)&gt;" in page
    assert html.escape(HOSTILE) in page


def test_the_report_is_self_contained_and_prints_on_a4(demo):
    page = demo["html"]
    assert not re.search(r"https?://", page), "nothing may point outside the file"
    assert not re.search(r"<script|<link|<iframe|<object|<embed|\bsrc=\"|url\(|@import", page)
    assert "@page { size: A4;" in page and "<svg" in page
    assert page.count("<svg") == 2 and page.lstrip().startswith("<!DOCTYPE html>")


def test_the_pdf_is_one_a4_page_with_the_scores(demo, demo_pdf):
    pdf = demo_pdf
    assert pdf.startswith(b"%PDF")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width * 25.4 / 72), round(height * 25.4 / 72)) == (210, 297)
    text = " ".join(reader.pages[0].extract_text().split())
    card = demo["view"].card
    for score in (
        card["families"]["score"],
        card["agencies"]["score"],
        card["businesses"]["score"],
        card["community"]["score"],
        card["overall"],
    ):
        assert f"{score:.1f} / 100" in text
    assert HOSTILE in text and "fewer than 10 on one side" in text
    assert not [f for f in demo["families"] if f in text]


def test_a_long_name_still_fits_one_page(demo):
    view = demo["view"]
    long = overview.Overview(
        **{**view.__dict__, "school_name": "The Federation of " + "Very Long Named " * 12 + "Primary Schools"}
    )
    reader = pypdf.PdfReader(io.BytesIO(report.overview_report_pdf(report.overview_report_html(long))))
    assert len(reader.pages) == 1
    assert "Primary Schools" in " ".join(reader.pages[0].extract_text().split())
    assert not overlaps(glyph_boxes(reader.pages[0]))


def test_the_fitted_report_leaves_room_at_the_foot_for_a_browsers_layout(sqlite_store):
    """A browser lays the HTML file out a pixel or two longer than WeasyPrint: the staff report of
    the demo's summer term, made on 31 August 2027, was 1,056.0 px high in WeasyPrint (2.3 px to
    spare on the sheet) and 1,058.0 px in Chromium (tests/browser/test_overview_browser.py allows
    1,058). The type is chosen to leave room at the foot."""
    import weasyprint

    day = datetime.date(2027, 8, 31)
    load_demo(sqlite_store, actor="tests", today=day)
    school_id = db.school_ids(sqlite_store)[0]
    summer = (datetime.date(2027, 4, 5), datetime.date(2027, 7, 22))
    view = overview.school_overview(sqlite_store, school_id, *summer, for_governor=False, today=day)
    fitted = report.one_page_report_html(report.overview_report_html(view))
    room = 2  # millimetres; Chromium was 2.0 px (0.5 mm) longer
    shorter = fitted.replace("</style>", f"@page {{ margin-bottom: {report.PAGE_FOOT_MM + room}mm; }}</style>", 1)
    assert len(weasyprint.HTML(string=shorter).render().pages) == 1


def test_the_file_name_says_what_the_report_holds(demo):
    assert report.report_file_name(demo["view"], "html") == (
        f"engagement-overview-{demo['school_id']}-2026-09-03-to-2026-11-23.html"
    )


# ---------------------------------------------------------------- the printed page, glyph by glyph


def _mul(a, b):
    """The product of two PDF matrices [a b c d e f] (a applied first)."""
    return [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]


def _apply(m, x, y):
    return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]


class _Font:
    def __init__(self, font):
        font = font.get_object()
        descendant = font["/DescendantFonts"][0].get_object()
        self.default = float(descendant.get("/DW", 1000))
        self.widths: dict[int, float] = {}
        w = list(descendant.get("/W", []))
        i = 0
        while i < len(w):
            first = int(w[i])
            if isinstance(w[i + 1].get_object() if hasattr(w[i + 1], "get_object") else w[i + 1], list):
                for k, width in enumerate(w[i + 1]):
                    self.widths[first + k] = float(width)
                i += 2
            else:
                for cid in range(first, int(w[i + 1]) + 1):
                    self.widths[cid] = float(w[i + 2])
                i += 3
        cmap = font["/ToUnicode"].get_object().get_data().decode("latin1") if "/ToUnicode" in font else ""
        self.text = {
            int(a, 16): bytes.fromhex(b).decode("utf-16-be", "replace")
            for a, b in re.findall(r"<([0-9a-fA-F]{4})>\s*<([0-9a-fA-F]+)>", cmap.split("beginbfchar", 1)[-1])
        }


def glyph_boxes(page):
    """Every glyph drawn on the page as (x0, y0, x1, y1, size, char), in points, read from the
    PDF's own drawing operators: text, and the form objects WeasyPrint draws a chart's anchored
    labels in, each through its transformation, so a size is the size as printed."""
    out = []

    def run(content, resources, ctm):
        fonts = (
            {name: _Font(f) for name, f in (resources.get("/Font") or {}).get_object().items()}
            if resources.get("/Font")
            else {}
        )
        xobjects = resources.get("/XObject") or {}
        xobjects = xobjects.get_object() if hasattr(xobjects, "get_object") else xobjects
        stack, tm, font, size = [], [1, 0, 0, 1, 0, 0], None, 0.0
        for operands, op in ContentStream(content, page.pdf).operations:
            if op == b"q":
                stack.append(ctm)
            elif op == b"Q":
                ctm = stack.pop()
            elif op == b"cm":
                ctm = _mul([float(v) for v in operands], ctm)
            elif op == b"BT":
                tm = [1, 0, 0, 1, 0, 0]
            elif op == b"Tm":
                tm = [float(v) for v in operands]
            elif op == b"Td":
                tm = _mul([1, 0, 0, 1, float(operands[0]), float(operands[1])], tm)
            elif op == b"Tf":
                font, size = fonts[operands[0]], float(operands[1])
            elif op in (b"TJ", b"Tj"):
                items = operands[0] if op == b"TJ" else [operands[0]]
                for item in items:
                    if isinstance(item, (int, float)) or hasattr(item, "as_numeric"):
                        tm = _mul([1, 0, 0, 1, -float(item) / 1000 * size, 0], tm)
                        continue
                    data = bytes(item.original_bytes if hasattr(item, "original_bytes") else item)
                    for k in range(0, len(data), 2):
                        cid = int.from_bytes(data[k : k + 2], "big")
                        advance = font.widths.get(cid, font.default) / 1000 * size
                        m = _mul(tm, ctm)
                        corners = [_apply(m, x, y) for x in (0, advance) for y in (-0.15 * size, 0.7 * size)]
                        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
                        scale = (m[2] ** 2 + m[3] ** 2) ** 0.5
                        out.append((min(xs), min(ys), max(xs), max(ys), size * scale, font.text.get(cid, "?")))
                        tm = _mul([1, 0, 0, 1, advance, 0], tm)
            elif op == b"Do":
                form = xobjects[operands[0]].get_object()
                if form.get("/Subtype") == "/Form":
                    matrix = [float(v) for v in form.get("/Matrix", [1, 0, 0, 1, 0, 0])]
                    run(form, form.get("/Resources") or resources, _mul(matrix, ctm))

    run(page.get_contents(), page["/Resources"], [1, 0, 0, 1, 0, 0])
    return out


def overlaps(glyphs, share=0.15):
    """Pairs of glyphs drawn over each other by more than ``share`` of their size (kerning, as in
    "To", overlaps a little and is allowed)."""
    cells = {}
    found = []
    for i, (x0, y0, x1, y1, size, ch) in enumerate(glyphs):
        if not ch.strip():
            continue
        for cx in range(int(x0 // 10), int(x1 // 10) + 1):
            for cy in range(int(y0 // 10), int(y1 // 10) + 1):
                for j in cells.get((cx, cy), ()):
                    a = glyphs[j]
                    slack = share * min(size, a[4])
                    if x0 + slack < a[2] and a[0] + slack < x1 and y0 + slack < a[3] and a[1] + slack < y1:
                        found.append((glyphs[j], glyphs[i]))
                cells.setdefault((cx, cy), []).append(i)
    return found


def _sizes_of(glyphs, phrase: str) -> list[float]:
    """The printed sizes of the glyphs of ``phrase``, found in drawing order (spaces left out)."""
    chars = [g for g in glyphs if g[5].strip()]
    text = "".join(g[5] for g in chars)
    at = text.find(phrase.replace(" ", ""))
    assert at >= 0, f"{phrase!r} is not printed"
    return [g[4] for g in chars[at : at + len(phrase.replace(" ", ""))]]


def test_the_pdf_prints_every_text_readable_and_nothing_on_top_of_anything(demo, demo_pdf):
    """Issue 15: the trend charts printed their titles, ticks and keys huge and on top of one
    another ("Spring 2026Summer 2026", "00%"), as WeasyPrint ignores CSS classes inside an SVG."""
    page = pypdf.PdfReader(io.BytesIO(demo_pdf)).pages[0]
    glyphs = glyph_boxes(page)
    assert len(glyphs) > 2000
    clashes = overlaps(glyphs)
    assert not clashes, [f"{a[5]!r} and {b[5]!r} at ({a[0]:.0f}, {a[1]:.0f}), {a[4]:.1f} pt" for a, b in clashes[:10]]
    # Everything at least 6 pt as printed; the charts' words smaller than the section headings.
    assert min(g[4] for g in glyphs) >= 6.0
    heading = max(_sizes_of(glyphs, "Trends per term"))
    for phrase in ("Scores per term (0–100)", "Reach per term (% of families or listed partners)", "Spring 2026"):
        sizes = _sizes_of(glyphs, phrase)
        assert min(sizes) >= 6.0 and max(sizes) < heading, (phrase, sizes)
    # The largest print is the scores'.
    score = f"{demo['view'].card['overall']:.1f}"
    assert max(_sizes_of(glyphs, score + " / 100")[: len(score)]) == max(g[4] for g in glyphs)
    # Every chart label inside the sheet's width.
    width = float(page.mediabox[2])
    assert all(g[0] > 0 and g[2] < width for g in glyphs)


def test_the_report_says_how_many_partners_are_due_for_a_check_and_still_fits_one_page(demo):
    import dataclasses

    line = "Directory: 37 of 120 partners are due for a check (not checked for over 12 months)."
    html = report.overview_report_html(dataclasses.replace(demo["view"], directory_line=line))
    assert line in html
    reader = pypdf.PdfReader(io.BytesIO(report.overview_report_pdf(html)))
    assert len(reader.pages) == 1 and line in " ".join(reader.pages[0].extract_text().split())
    assert not overlaps(glyph_boxes(reader.pages[0]))


def test_the_report_holds_the_events_and_referrals_table_the_page_shows(demo, demo_pdf):
    """The page's table of the school's week is built from the same view, in the same words; the
    report used to leave it out."""
    rows = overview.week_rows(demo["view"].week)
    text = _text(demo["html"])
    assert "events and referrals" in text
    for row in rows:
        assert f"{row['In the window']}" in text and row["Count"] in text
    reader = pypdf.PdfReader(io.BytesIO(demo_pdf))
    assert len(reader.pages) == 1 and "Referrals made" in " ".join(reader.pages[0].extract_text().split())


def test_score_json_is_the_views_serialisation(demo):
    """``score --json`` is the view serialised: the same card, comparison, events and referrals."""
    card = overview.score_json(demo["view"])
    assert card["families"] == demo["view"].card["families"]
    assert card["events"] == {k: v for k, v in demo["view"].week["events"].items() if k != "money_raised"}
    assert card["belonging"] == demo["view"].voice.belonging
