"""The Partnerships page as a dated one-page evaluation report, for the school, its trust or the
local authority: a self-contained HTML page for an A4 sheet, and a PDF made from it (WeasyPrint,
as the Overview's report).

It writes out a :class:`engagement.partnerships.PartnershipsView`, the object the page shows, in
the page's own words (:func:`engagement.partnerships.evaluation_rows` and
:func:`~engagement.partnerships.plan_rows`), so page and report cannot differ. It says what was
compared and that a comparison is not a cause; every text is HTML-escaped; it loads nothing.

>>> import datetime
>>> from engagement.store import open_store, schools
>>> from engagement.partnerships import partnerships_view
>>> store = open_store("sqlite://")
>>> with store.write(actor="doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="<b>Oak</b>", postcode="B30 2AA"))
>>> page = partnership_report_html(partnerships_view(store, "S1", datetime.date(2026, 9, 1),
...                                                  datetime.date(2026, 11, 23)), datetime.date(2026, 11, 23))
>>> "&lt;b&gt;Oak&lt;/b&gt;" in page and "<b>Oak" not in page
True
"""

from __future__ import annotations

import datetime
import html
import re

from engagement.partnerships import (
    EVALUATION_COLUMNS,
    PartnershipsView,
    day_text,
    evaluation_rows,
    plan_rows,
)
from engagement.report import one_page_report_html, overview_report_pdf
from engagement.settings import load_settings
from engagement.terms import date_range_text

_CSS = """
@page { size: A4; margin: 10mm 12mm 9mm 12mm; }
* { box-sizing: border-box; }
html { font-family: Arial, Helvetica, "Liberation Sans", "DejaVu Sans", sans-serif; color: #1a1a1a;
       font-size: 8pt; line-height: 1.22; background: white; }
body { margin: 0 auto; max-width: 186mm; }
h1 { font-size: 1.8rem; margin: 0 0 1mm; }
h2 { font-size: 1.25rem; margin: 2.4mm 0 0.8mm; border-bottom: 0.4mm solid #0072B2; padding-bottom: 0.6mm; }
h3 { font-size: 1.05rem; margin: 1.6mm 0 0.6mm; }
p { margin: 0 0 1mm; }
.meta { color: #333; margin: 0 0 0.6mm; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1mm; }
th, td { text-align: left; vertical-align: top; padding: 0.5mm 1.4mm; border-bottom: 0.2mm solid #ccc; }
th { background: #f2f2f2; font-weight: bold; }
td.num, th.num { text-align: right; white-space: nowrap; }
.small { font-size: 0.92rem; color: #333; }
.overdue { color: #9a3a00; font-weight: bold; }
footer { margin-top: 2mm; font-size: 0.88rem; color: #444; border-top: 0.2mm solid #999; padding-top: 1mm; }
@media screen { body { padding: 8mm; } }
"""


def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _table(rows: list[dict[str, str]], columns: list[str], numeric: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th{' class=num' if c in numeric else ''}>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if c in numeric else ''}>{_e(r.get(c, ''))}</td>" for c in columns)
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def partnership_report_html(view: PartnershipsView, generated: datetime.date) -> str:
    """The view as one self-contained HTML page for an A4 sheet: what was compared, each
    partnership's figures with their counts and sentences, the action plan with its figures and
    progress per Epstein type. No scripts, no outside resources, every text escaped."""
    threshold = load_settings().privacy.suppression_threshold
    window = date_range_text(view.start, view.end)
    audience = (
        f"as governors see them: counts rounded, no figure resting on fewer than {threshold} families, no goal's words"
        if view.for_governor
        else f"as school staff see them: no figure resting on fewer than {threshold} families"
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en-GB"><head><meta charset="utf-8">',
        f"<title>Partnerships · {_e(view.school_name)} · {_e(window)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(view.school_name)}: school–community partnerships</h1>",
        f'<p class="meta"><b>Window:</b> {_e(window)} · <b>Generated</b> {generated.day} {generated:%B %Y} · '
        f"<b>Figures</b> {_e(audience)}</p>",
        '<p class="meta"><b>What is compared.</b> For each partnership, the families it serves (its members at '
        "the latest belonging survey after it began) with the school's other families: the share who feel they "
        "belong in the latest round before the partnership began and the latest since, the change of each group "
        "and the difference between the changes (a difference in differences), family reach by two-way contact "
        "in the window, and referrals to the partnership's own groups. These compare groups of families; they "
        "do not show that a partnership caused a change.</p>",
        "<h2>Partnerships evaluated</h2>",
    ]
    if not view.evaluations:
        out.append("<p>No partnership had begun by the window's end.</p>")
    for evaluation in view.evaluations:
        f = evaluation.figures
        out.append(
            f"<h3>{_e(evaluation.name)} <span class=small>· {_e(f['status'])} since {_e(day_text(f['start']))}</span></h3>"
        )
        out.append(_table(evaluation_rows(f, threshold), EVALUATION_COLUMNS))
        out.append("".join(f'<p class="small">{_e(s)}</p>' for s in evaluation.sentences))
    out.append(f"<h2>Partnership action plan {_e(view.year)}</h2>")
    rows = plan_rows(view.plan, view.for_governor)
    if rows:
        out.append(_table(rows, list(rows[0])))
        out.append(
            f'<p class="small">On track: the figure has met its target, or moved from its baseline toward it by at '
            f"least the share of the school year gone ({100 * view.share_gone:.0f}% of its school days); "
            f"{_e(view.baseline_text)}.</p>"
        )
    else:
        out.append("<p>No goals for this school year yet.</p>")
    out.append("<h3>Progress per Epstein type</h3>")
    progress = view.progress.astype(str).to_dict("records")
    out.append(_table(progress, list(view.progress.columns), numeric=tuple(view.progress.columns[1:])))
    if view.overdue:
        out.append(
            '<p class="overdue">Overdue: '
            + "; ".join(_e(f"{r.get('goal') or r['plan_id']} (due {day_text(r['due'])})") for r in view.overdue)
            + "</p>"
        )
    out.append(
        "<footer>The community engagement map for schools · belonging is the headline question of the school's "
        "belonging survey · family references never appear in this report.</footer></body></html>"
    )
    return "\n".join(out)


def report_file_name(view: PartnershipsView, extension: str) -> str:
    """A file name that says what the report holds and is safe on any system."""
    school = re.sub(r"[^A-Za-z0-9]+", "-", view.school_id).strip("-") or "school"
    return f"partnerships-{school}-{view.start.isoformat()}-to-{view.end.isoformat()}.{extension}"


def partnership_report_pdf(report_html: str) -> bytes:
    """The report as a one-page A4 PDF, made as the Overview's is (WeasyPrint, fetching nothing,
    the type a little smaller when that keeps it to one sheet)."""
    return overview_report_pdf(report_html)


def fitted_report_html(report_html: str) -> str:
    """The HTML report with the type that keeps it to one A4 sheet."""
    return one_page_report_html(report_html)
