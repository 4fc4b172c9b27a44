"""The governors' Overview as a dated one-page report: a self-contained HTML file that prints on
one A4 sheet, and a PDF made from it.

:func:`overview_report_html` writes out an :class:`engagement.overview.Overview`, the object the
page shows, so the report holds exactly what the page shows, in the same words. School names and
every other text are HTML-escaped; the report loads nothing from outside (its charts are inline
SVG drawn here, its styles inline). It says exactly which windows its changes compare (the same
number of school days into the previous term, and last year's), marks a term so far as partial in
its trends, and, when the Overview measured it, shows how the school communicates.

>>> import datetime
>>> from engagement.store import open_store, schools
>>> from engagement.frames import load_school_frames
>>> from engagement.overview import overview
>>> store = open_store("sqlite://")
>>> with store.write(actor="doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="<b>Oak</b> School", postcode="B30 2AA"))
>>> view = overview(load_school_frames(store), "S1", datetime.date(2026, 9, 3), datetime.date(2026, 11, 23),
...                 today=datetime.date(2026, 11, 23))
>>> page = overview_report_html(view)
>>> "&lt;b&gt;Oak&lt;/b&gt; School" in page and "<b>Oak" not in page
True
"""

from __future__ import annotations

import html
import math
import re

from engagement import scoring
from engagement.charts import OKABE_ITO, SEGMENT_COLOURS
from engagement.explanations import SEGMENT_LABELS
from engagement.overview import (
    SEGMENT_ORDER,
    Overview,
    equity_text,
    layer_text,
    percent_text,
    points_text,
    trend_text,
    week_rows,
)
from engagement.terms import Span, date_range_text


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


_SYMBOL_PATHS = {
    # Marker shapes around (0, 0), radius about 4: the same shape per segment as the page's charts.
    "circle": lambda x, y: f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.6"/>',
    "square": lambda x, y: f'<rect x="{x - 3.3:.1f}" y="{y - 3.3:.1f}" width="6.6" height="6.6"/>',
    "diamond": lambda x, y: (
        f'<polygon points="{x:.1f},{y - 4.6:.1f} {x + 4.6:.1f},{y:.1f} {x:.1f},{y + 4.6:.1f} {x - 4.6:.1f},{y:.1f}"/>'
    ),
    "triangle-up": lambda x, y: (
        f'<polygon points="{x:.1f},{y - 4.6:.1f} {x + 4.4:.1f},{y + 3.4:.1f} {x - 4.4:.1f},{y + 3.4:.1f}"/>'
    ),
    "star": lambda x, y: (
        '<polygon points="'
        + " ".join(
            f"{x + r * math.sin(math.pi * k / 5):.1f},{y - r * math.cos(math.pi * k / 5):.1f}"
            for k, r in zip(range(10), [5.2, 2.2] * 5)
        )
        + '"/>'
    ),
}


def _svg_chart(
    title: str,
    labels: list[str],
    series: list[tuple[str, str, str, list]],
    unit: str,
    partial: list[bool] | None = None,
) -> str:
    """A small line chart as inline SVG: 0-100 on the y axis, one line and marker shape per series.
    A ``partial`` period (a term so far) has hollow marks and an asterisk after its name."""
    partial = partial or [False] * len(labels)
    from engagement.charts import SEGMENT_SYMBOLS

    width, height, left, right, top, bottom = 340, 116, 30, 10, 15, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(labels), 1)
    xs = [left + plot_w * (i + 0.5) / n for i in range(n)]

    def y_of(v):
        return top + plot_h * (1 - v / 100)

    # Sizes, weights and colours are presentation attributes, not CSS classes: WeasyPrint's SVG
    # renderer ignores the page's stylesheet, and printed its default 12pt+ text over the axes.
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="t-{_e(title[:12])}"'
        f' font-family="{_SVG_FONT}">',
        f'<title id="t-{_e(title[:12])}">{_e(title)}</title>',
        f'<text x="0" y="10" {_SVG_TEXT["title"]}>{_e(title)}</text>',
    ]
    for tick in (0, 25, 50, 75, 100):
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd" stroke-width="0.8"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" {_SVG_TEXT["tick"]}>{tick}{_e(unit)}</text>'
        )
    for x, label, cut in zip(xs, labels, partial):
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 11}" text-anchor="middle" {_SVG_TEXT["tick"]}>'
            f"{_e(label.split(' (')[0])}{'*' if cut else ''}</text>"
        )
    for _name, colour, symbol, values in series:
        points = [
            (x, y_of(100 * v if unit == "%" else v), cut) for x, v, cut in zip(xs, values, partial) if v is not None
        ]
        if len(points) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                + " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
                + '"/>'
            )
        parts.append(
            f'<g fill="{colour}">'
            + "".join(_SYMBOL_PATHS[SEGMENT_SYMBOLS[symbol]](x, y) for x, y, cut in points if not cut)
            + "</g>"
        )
        # A term so far: the same shape, hollow, so it reads as unfinished without colour.
        parts.append(
            f'<g fill="white" stroke="{colour}" stroke-width="1.4">'
            + "".join(_SYMBOL_PATHS[SEGMENT_SYMBOLS[symbol]](x, y) for x, y, cut in points if cut)
            + "</g>"
        )
    # The key, one row under the axis: shape and name of each series, each in a column of its own
    # so that no name runs into the next whatever the renderer's font.
    column = (width - left) / max(len(series), 1)
    for i, (name, colour, symbol, _) in enumerate(series):
        x = left + i * column
        parts.append(f'<g fill="{colour}">{_SYMBOL_PATHS[SEGMENT_SYMBOLS[symbol]](x + 4, height - 5)}</g>')
        parts.append(f'<text x="{x + 11}" y="{height - 2}" {_SVG_TEXT["key"]}>{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


_SVG_FONT = "Arial, Helvetica, Liberation Sans, DejaVu Sans, sans-serif"
# The charts' text in user units of a 340-wide chart drawn about 92 mm wide: 8.5 units print at about 6.5 pt.
_SVG_TEXT = {
    "title": 'font-size="10" font-weight="bold" fill="#1a1a1a"',
    "tick": 'font-size="8.5" fill="#333"',
    "key": 'font-size="8.5" fill="#1a1a1a"',
}


PAGE_FOOT_MM = 8  # the sheet's foot margin
_CSS = (
    f"\n@page {{ size: A4; margin: 9mm 11mm {PAGE_FOOT_MM}mm 11mm; }}"
    """
* { box-sizing: border-box; }
html { font-family: Arial, Helvetica, "Liberation Sans", "DejaVu Sans", sans-serif; color: #1a1a1a;
       font-size: 8pt; line-height: 1.2; background: white;
       /* A browser prints the equity bars (backgrounds) only when told to (WeasyPrint, which
          always does, logs that it ignores this). */
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0 auto; max-width: 186mm; }
h1 { font-size: 1.8rem; margin: 0 0 1mm; }
h2 { font-size: 1.2rem; margin: 1.6mm 0 0.7mm; border-bottom: 0.4mm solid #0072B2; padding-bottom: 0.6mm; }
p { margin: 0 0 1mm; }
.meta { color: #333; margin: 0 0 0.6mm; }
.meta b { color: #1a1a1a; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.6mm 1.4mm; border-bottom: 0.2mm solid #ccc; }
th { background: #f2f2f2; font-weight: bold; }
td.num, th.num { text-align: right; white-space: nowrap; }
table.cards td { width: 20%; border: 0.3mm solid #999; padding: 1.6mm 2mm; vertical-align: top; }
table.cards { border-collapse: separate; border-spacing: 1.4mm 0; margin: 0 -1.4mm; width: calc(100% + 2.8mm); }
.seg { font-weight: bold; font-size: 1.13rem; border-left: 1.4mm solid; padding-left: 1.4mm; }
.score { font-size: 2.25rem; font-weight: bold; line-height: 1.1; margin-top: 1mm; }
.outof { font-size: 0.95rem; font-weight: normal; color: #444; }
.change { font-size: 0.95rem; color: #333; }
.rate { margin-top: 0.8mm; }
table.comm td, table.comm th { font-size: 0.93rem; line-height: 1.18; padding-top: 0.4mm; padding-bottom: 0.4mm; }
.drivers td, .drivers th { font-size: 0.93rem; line-height: 1.18; padding-top: 0.4mm; padding-bottom: 0.4mm; }
table.layers td, table.layers th { font-size: 0.93rem; line-height: 1.18; padding-top: 0.4mm; padding-bottom: 0.4mm; }
table.layers td:first-child, table.layers td:nth-child(2) { white-space: nowrap; }
.bar { height: 2.6mm; display: inline-block; vertical-align: middle; margin-right: 1mm; }
.bars td { white-space: nowrap; padding-top: 0.4mm; padding-bottom: 0.4mm; }
.bars td:nth-child(2) { white-space: normal; }
.two { width: 100%; }
.two > tbody > tr > td { width: 50%; border: none; padding: 0 1mm 0 0; vertical-align: top; }
svg.chart { width: 100%; height: auto; }
.small { font-size: 0.9rem; color: #333; line-height: 1.15; }
table.trend th.group { text-align: center; border-bottom: 0.2mm solid #999; }
footer { margin-top: 2mm; font-size: 0.9rem; color: #444; border-top: 0.2mm solid #999; padding-top: 1mm; }
@media screen { body { padding: 8mm; } }
@media print { body { padding: 0; } }
"""
)


def _score_card_cell(row: dict, previous: str, last_year: str | None = None) -> str:
    colour = SEGMENT_COLOURS[row["segment"]]
    if row["score"] is None:
        body = f'<div class="score">–</div><div class="change">{_e(row["counts"])}</div>'
    else:
        change = (
            "no earlier figure" if row["score_change"] is None else f"{points_text(row['score_change'])} on {previous}"
        )
        if last_year and row.get("score_change_last_year") is not None:
            change += f"; {points_text(row['score_change_last_year'])} on {last_year}"
        body = (
            f'<div class="score">{row["score"]:.1f}<span class="outof"> / 100</span></div>'
            f'<div class="change">{_e(change)}</div>'
        )
        if row["rate_label"]:
            rate_change = "" if row["rate_change"] is None else f" ({points_text(row['rate_change'])} pts)"
            body += (
                f'<div class="rate">{_e(row["rate_label"])}: <b>{percent_text(row["rate"])}</b>{_e(rate_change)}</div>'
            )
        else:
            body += '<div class="rate">Weighted mean of the four segments</div>'
    return f'<td><div class="seg" style="border-color:{colour}">{_e(row["label"])}</div>{body}</td>'


def overview_report_html(view: Overview) -> str:
    """The Overview as one self-contained HTML page for an A4 sheet: school, window, filters and
    date generated; the scores with their change and what drives them; equity; layer coverage;
    trends (inline SVG and a table). No scripts, no outside resources, every text escaped."""
    comparison = view.comparison
    previous_short = _short(comparison.previous) if comparison and comparison.previous else "nothing before it"
    last_year_short = _short(comparison.last_year) if comparison and comparison.last_year and view.last_year else None
    generated = f"{view.generated.day} {view.generated:%B %Y}"
    compared = view.comparison_text or view.previous_text
    out = [
        "<!DOCTYPE html>",
        '<html lang="en-GB"><head><meta charset="utf-8">',
        f"<title>Engagement overview · {_e(view.school_name)} · {_e(view.window_text)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(view.school_name)}: community engagement overview</h1>",
        # The filters (school and window) and the date on one line, what the changes compare on the next.
        f'<p class="meta"><b>Window:</b> {_e(view.window_text)} · <b>Filters:</b> school {_e(view.school_name)} '
        f"({_e(view.school_id)}) · <b>Generated</b> {_e(generated)}</p>",
        f'<p class="meta"><b>Changes compare</b> {_e(compared)}.</p>',
    ]

    out.append("<h2>Scores out of 100, by segment</h2>")
    out.append(
        '<table class="cards"><tr>'
        + "".join(_score_card_cell(r, previous_short, last_year_short) for r in view.segments)
        + "</tr></table>"
    )
    out.append('<h2>What drives each score, and what would raise it</h2><table class="drivers">')
    for row in view.segments:
        out.append(
            f'<tr><th scope="row">{_e(row["label"])}</th><td>{_e(row["counts"] + ". " if row["counts"] else "")}'
            f"{_e(row['drivers'])} <b>To raise it:</b> {_e(row['advice'])}</td></tr>"
        )
    out.append("</table>")

    out.append("<h2>Equity: family reach of each group beside the rest of the school</h2>")
    out.append(
        '<table class="bars"><tr><th>Group</th><th>Families in the group</th><th>Reach: group '
        f'<span class="bar" style="width:4mm;background:{OKABE_ITO["blue"]}"></span> and rest '
        f'<span class="bar" style="width:4mm;background:{OKABE_ITO["orange"]}"></span></th>'
        '<th class="num">Gap (points)</th><th class="num">Parity</th></tr>'
    )
    for _, row in view.equity.iterrows():
        cells = equity_text(row)
        if row["suppressed"]:
            reach = "not shown"
        else:
            reach = (
                f'<span class="bar" style="width:{30 * row["group_reach"]:.1f}mm;background:{OKABE_ITO["blue"]}">'
                f"</span>{percent_text(row['group_reach'])} &nbsp; "
                f'<span class="bar" style="width:{30 * row["rest_reach"]:.1f}mm;background:{OKABE_ITO["orange"]}">'
                f"</span>{percent_text(row['rest_reach'])}"
            )
        out.append(
            f"<tr><td>{_e(cells['Group'])}</td><td>{_e(cells['Families'])}</td><td>{reach}</td>"
            f'<td class="num">{_e(cells["Gap (points)"])}</td><td class="num">{_e(cells["Parity"])}</td></tr>'
        )
    out.append(
        '</table><p class="small">Gap: group reach minus the rest\'s, in percentage points. '
        "Parity: group reach ÷ the rest's (1.00 = equal).</p>"
    )

    # Layer coverage and, beside it, how the school communicates: side by side, so one sheet holds both.
    beside = view.communication is not None
    if beside:
        out.append('<table class="two"><tr><td>')
    out.append(
        '<h2>Layer coverage: categories with an engaged partner</h2><table class="layers">'
        "<tr><th>Layer</th><th>Covered</th><th>Missing</th></tr>"
    )
    for _, row in view.layers.iterrows():
        cells = layer_text(row)
        out.append("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in cells.values()) + "</tr>")
    out.append("</table>")
    if view.directory_line:
        out.append(f'<p class="small">{_e(view.directory_line)}</p>')
    if beside:
        out += ["</td><td>", *_communication_section(view), "</td></tr></table>"]

    labels = list(view.trends["label"])
    partial = [bool(p) for p in view.trends["partial"]] if "partial" in view.trends else None
    score_series = [
        (
            SEGMENT_LABELS[s],
            SEGMENT_COLOURS[s],
            s,
            list(view.trends["overall_score" if s == "overall" else f"{s}_score"]),
        )
        for s in SEGMENT_ORDER
    ]
    reach_series = [
        (SEGMENT_LABELS[s], SEGMENT_COLOURS[s], s, list(view.trends[f"{s}_reach"])) for s in scoring.SEGMENTS
    ]
    reach_title = "Reach per term (% of families or listed partners)"
    cut = (
        ' <span class="outof">(* a term so far, drawn hollow: fewer school days than a whole term)</span>'
        if partial and any(partial)
        else ""
    )
    out.append(
        f'<h2>Trends per term{cut}</h2><table class="two"><tr>'
        f"<td>{_svg_chart('Scores per term (0–100)', labels, score_series, '', partial)}</td>"
        f"<td>{_svg_chart(reach_title, labels, reach_series, '%', partial)}"
        "</td></tr></table>"
    )
    table = trend_text(view.trends)
    n_scores = sum(c.endswith(" score") for c in table.columns)
    out.append(
        '<table class="small trend"><tr><th rowspan="2">Term</th>'
        f'<th colspan="{n_scores}" class="group">Score out of 100</th>'
        f'<th colspan="{len(table.columns) - 1 - n_scores}" class="group">Reach</th></tr><tr>'
        + "".join(f'<th class="num">{_e(c.rsplit(" ", 1)[0])}</th>' for c in table.columns[1:])
        + "</tr>"
    )
    for term, *values in table.itertuples(index=False):
        out.append(
            f'<tr><td class="term">{_e(term)}</td>' + "".join(f'<td class="num">{_e(v)}</td>' for v in values) + "</tr>"
        )
    out.append("</table>")
    if view.voice is not None:
        out.append(_voice_html(view.voice))
    if view.week is not None:
        out.append(_week_html(view.week))
    out.append(
        "<footer>"
        + " ".join(_e(n) for n in view.notes)
        + f" Aggregates only: no family is named or identifiable. Generated {_e(generated)} by the "
        "community engagement map.</footer></body></html>"
    )
    return "\n".join(out)


def _short(span: Span) -> str:
    """A compared window in a card's few words: its term ("Summer 2026"), else its dates."""
    if " of " in span.why:
        term = span.why.split(" of ", 1)[1].split(",")[0]
        return term[:1].upper() + term[1:]
    return date_range_text(*span.dates)


def _communication_section(view: Overview) -> list[str]:
    """How the school communicates: the five measures of seed 003, each with its explanation."""
    if view.communication is None:
        return []
    # Each figure with its meaning in a few words: the page has the full sentences.
    out = [
        "<h2>How the school communicates with families</h2>",
        '<table class="comm"><tr><th>Principle</th><th class="num">Figure</th><th>What it measures</th></tr>',
    ]
    for row in view.communication.rows:
        out.append(
            f'<tr><td><b>{_e(row["principle"])}</b></td><td class="num"><b>{_e(row["value"])}</b></td>'
            f"<td>{_e(row['short'])}</td></tr>"
        )
    out.append("</table>")
    return out


def _voice_html(voice) -> str:
    """Belonging and transitions in three lines (the report keeps to one sheet): the headline, the
    moves of the school year, and the headline survey's questions (every text escaped)."""
    from engagement.belonging import GROUPS, count_text, percent, question_rows

    start, end = voice.year
    t, b = voice.transitions, voice.belonging
    if b is None:
        feel = "no belonging survey imported yet"
    else:
        change = "" if b["change"] is None else f" ({points_text(b['change'])} points on the round before)"
        feel = f"{percent(b['agree'])}{change}, survey of {b['date']}"
    lines = [
        f"<b>Families who feel they belong:</b> {_e(feel)}.",
        f"<b>Transitions {start:%Y}–{end:%y}:</b> {_e(count_text(t['count']))}, of them "
        f"{_e(count_text(t['send']))} of children with SEND; with a complete plan: "
        f"{_e(percent(t['plan_complete']))} (SEND {_e(percent(t['send_plan_complete']))}, others {_e(percent(t['not_send_plan_complete']))}).",
    ]
    # Every survey's latest round, as the page's tables have it (answers, share agreeing and, for
    # a survey with family references, each group's share), in a line each.
    for survey_round in voice.rounds:
        rows = question_rows(survey_round)
        answers = {row["Answers"] for row in rows}
        cells = []
        for row in rows:
            groups = [
                f"{label} {row[label]}" for label in GROUPS.values() if label in row and row[label] != "not shown"
            ]
            extra = f" ({', '.join(groups)})" if groups else ""
            each = "" if len(answers) == 1 else f", {row['Answers']} answers"
            cells.append(f"{_e(row['Question'])} {_e(row['Agree'])}{_e(extra)}{_e(each)}")
        counted = f" ({_e(answers.pop())} answers each)" if len(answers) == 1 else ""
        lines.append(
            f"<b>{_e(survey_round.title)}, round of {survey_round.date:%d/%m/%Y}{counted}, agreeing:</b> "
            + "; ".join(cells)
            + "."
        )
    return "<h2>Belonging and transitions</h2>" + "".join(f'<p class="small">{line}</p>' for line in lines)


def _week_html(week: dict) -> str:
    """The window's events and referrals: the page's table as one line of figures (the report
    keeps to one sheet)."""
    figures = " · ".join(f"{_e(r['In the window'])} <b>{_e(r['Count'])}</b>" for r in week_rows(week))
    return f'<p class="small"><b>The school\'s week: events and referrals in the window:</b> {figures}</p>'


def report_file_name(view: Overview, extension: str) -> str:
    """A file name for the report that says what it holds and is safe on any system.

    >>> import datetime
    >>> import pandas as pd
    >>> view = Overview("../<S1>", "x", datetime.date(2026, 9, 1), datetime.date(2026, 11, 23), "", (None, None), "",
    ...                 {}, [], pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), datetime.date(2026, 11, 23))
    >>> report_file_name(view, "pdf")
    'engagement-overview-S1-2026-09-01-to-2026-11-23.pdf'
    """
    school = re.sub(r"[^A-Za-z0-9]+", "-", view.school_id).strip("-") or "school"
    return f"engagement-overview-{school}-{view.start.isoformat()}-to-{view.end.isoformat()}.{extension}"


def _refuse_fetch(url: str, *args, **kwargs):
    # The report is self-contained; anything it would fetch is a bug, and a fetch must never leave the server.
    raise ValueError(f"the report may not load {url!r}")


# Type sizes to fall back on, largest first, when a report's text (a long name, many gaps) would
# spill onto a second sheet: every size in the report's CSS is relative to this one.
_FIT_SIZES = ("8pt", "7.6pt", "7.2pt", "7pt", "6.8pt", "6.4pt", "6pt")
# Room the fitting leaves at the foot of the sheet. A browser lays the same text out a pixel or
# two longer than WeasyPrint (a staff report of 31 August 2027: 1,056.0 px high in WeasyPrint,
# 2.3 px short of the sheet's 280 mm, and 1,058.0 px in Chromium, with nothing to spare): the type
# is chosen for a sheet this much shorter, and the HTML file keeps the whole sheet.
FIT_SLACK_MM = 3
_FIT_PAGE = f"@page {{ margin-bottom: {PAGE_FOOT_MM + FIT_SLACK_MM}mm; }}"


def _fitted(report_html: str):
    """The report's HTML with the largest type that keeps it to one A4 sheet, with
    ``FIT_SLACK_MM`` to spare, written into its own styles, and WeasyPrint's rendering of it (on
    the sheet shortened by that room: the PDF's foot margin is the slack's wider)."""
    import weasyprint  # imported here: it loads pango, which only the PDF and the fitting need

    for size in _FIT_SIZES:
        # The size goes in as the last rule of the page's own <style>, so a browser printing the
        # HTML file sets the type exactly as the PDF does.
        fitted = report_html.replace("</style>", f"html {{ font-size: {size}; }}\n</style>", 1)
        shortened = fitted.replace("</style>", f"{_FIT_PAGE}\n</style>", 1)
        document = weasyprint.HTML(string=shortened, url_fetcher=_refuse_fetch).render()
        if len(document.pages) == 1:
            break
    return fitted, document


def one_page_report_html(report_html: str) -> str:
    """The HTML report with its type made a little smaller when that is what it takes to print on
    one A4 sheet (measured with WeasyPrint, whose layout a browser's print follows closely)."""
    return _fitted(report_html)[0]


def overview_report_pdf(report_html: str) -> bytes:
    """The report as a one-page A4 PDF (WeasyPrint) from the same HTML, fetching nothing; the
    type is made a little smaller when that is what it takes to keep to one sheet."""
    return _fitted(report_html)[1].write_pdf()
