"""The governors' Overview: every figure it shows, gathered once, and the same figures as a dated
one-page report (a self-contained HTML file that prints on one A4 sheet, and a PDF made from it).

:func:`overview` asks the scoring module for the window's score card, its explanations, the change
on the previous term, the equity gaps, the layers' missing categories and the trend per term, and
returns them as one :class:`Overview`. The page shows that object and :func:`overview_report_html`
writes it out, so the report holds exactly what the page shows. Only aggregates ever enter it:
counts of families under the privacy threshold are "fewer than 10", never a number, and no family
reference appears anywhere. School names and every other text are HTML-escaped; the report loads
nothing from outside (its charts are inline SVG drawn here, its styles inline).

>>> import datetime
>>> from engagement.store import open_store, schools
>>> from engagement.frames import load_school_frames
>>> store = open_store("sqlite://")
>>> with store.write(actor="doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="<b>Oak</b> School", postcode="B30 2AA"))
>>> view = overview(load_school_frames(store), "S1", datetime.date(2026, 9, 1), datetime.date(2026, 11, 23),
...                 today=datetime.date(2026, 11, 23))
>>> view.window_text, view.previous_text
('Autumn term 2026, 1 Sep – 23 Nov 2026', 'Summer term 2026, 1 Apr – 31 Aug 2026')
>>> page = overview_report_html(view)
>>> "&lt;b&gt;Oak&lt;/b&gt; School" in page and "<b>Oak" not in page
True
"""

from __future__ import annotations

import datetime
import html
import math
import re
from dataclasses import dataclass, field

import pandas as pd

from engagement import explanations, scoring
from engagement.charts import OKABE_ITO, SEGMENT_COLOURS
from engagement.config import load_config
from engagement.frames import FLAGS, Frames
from engagement.terms import comparison_window, period_label, short_window_text, terms_between, window_text
from engagement.typology import PARTNER_LAYERS, PARTNER_SEGMENTS, load_typology

SEGMENT_ORDER = ("families", *PARTNER_SEGMENTS, "overall")
SEGMENT_LABELS = {"families": "Families", "agencies": "Agencies", "businesses": "Businesses",
                  "community": "Community", "overall": "Overall"}
RATE_LABELS = {"families": "Family reach", "agencies": "Partner reach", "businesses": "Partner reach",
               "community": "Partner reach"}
FEWER = "fewer than 10"
# How many terms the trend charts go back, at most.
TREND_TERMS = 4


@dataclass(frozen=True)
class Overview:
    """What the Overview shows for one school and window.

    ``segments``: one dict per segment and overall (segment, label, score, score_change,
    rate_label, rate, rate_change, counts, drivers, advice, suppressed); rates are fractions,
    changes in points. ``equity``: one row per group (label, group, rest, group_reach, rest_reach,
    gap_pp, parity, suppressed). ``layers``: one row per layer 2-4 (layer, name, covered, categories,
    coverage, missing). ``trends``: one row per term (period, label, ``<segment>_score``,
    ``<segment>_reach``, ``overall_score``)."""
    school_id: str
    school_name: str
    start: datetime.date
    end: datetime.date
    window_text: str
    previous: tuple[datetime.date, datetime.date]
    previous_text: str
    card: dict
    segments: list[dict]
    equity: pd.DataFrame
    layers: pd.DataFrame
    trends: pd.DataFrame
    generated: datetime.date
    notes: list[str] = field(default_factory=list)

    @property
    def filters(self) -> list[tuple[str, str]]:
        """The page's filters as the report names them."""
        return [("School", f"{self.school_name} ({self.school_id})"), ("Window", self.window_text),
                ("Change compared with", self.previous_text)]


# ---------------------------------------------------------------- the figures

def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _points(x) -> str:
    return "–" if x is None else f"{x:+.1f}".replace("-", "−")


def _drivers(entry: dict, segment: str) -> str:
    """The score as the sum of its parts, biggest first: "family reach 86.2% gives 34.5 of 40 points; ..."."""
    parts = []
    for comp in sorted(entry["components"], key=lambda c: -(c["contribution"] or 0)):
        value = comp["value"]
        if segment == "overall":
            shown = f"{comp['label'].lower()} {value:g}"
        elif comp["component"] in ("reach", "informed_reach", "regularity", "category_coverage"):
            shown = f"{comp['label'].lower()} {_pct(value)}"
        elif comp["component"] == "recency":
            shown = "last two-way contact " + ("–" if value is None else f"{value:g} days before the end (median)")
        elif comp["component"] == "breadth":
            shown = f"{'–' if value is None else f'{value:g}'} Epstein types per reached family"
        else:
            shown = f"{'–' if value is None else f'{value:g}'} interactions per engaged partner"
        parts.append(f"{shown} gives {comp['contribution']:.1f} of {100 * comp['weight']:.0f} points")
    text = "; ".join(parts) + "." if parts else ""
    return text[:1].upper() + text[1:]


def _segments(card: dict, changes: dict, explanation: dict) -> list[dict]:
    rows = []
    for seg in SEGMENT_ORDER:
        entry = explanation[seg]
        if seg == "overall":
            score, rate, rate_label, counts = card["overall"], None, None, ""
        else:
            figures = card[seg]
            score, rate, rate_label = figures["score"], figures["reach"], RATE_LABELS[seg]
            if seg == "families":
                counts = (f"{figures['reached']} of {figures['on_roll']} families had two-way contact"
                          if score is not None else f"{FEWER} families on roll: not shown")
            else:
                counts = f"{figures['engaged']} of {figures['listed']} listed partners had contact"
        key = "overall" if seg == "overall" else f"{seg}.score"
        rate_change = changes.get(f"{seg}.reach")
        rows.append({
            "segment": seg, "label": SEGMENT_LABELS[seg], "score": score, "score_change": changes.get(key),
            "rate_label": rate_label, "rate": rate,
            "rate_change": None if rate_change is None else round(100 * rate_change, 1),
            "counts": counts, "drivers": _drivers(entry, seg), "advice": entry["advice"],
            "suppressed": bool(entry.get("suppressed", False)),
        })
    return rows


def _equity(card: dict) -> pd.DataFrame:
    rows = []
    for flag in FLAGS:
        e = card["equity"][flag]
        rows.append({"flag": flag, "label": explanations.FLAG_LABELS[flag], **{k: e[k] for k in (
            "group", "rest", "group_reach", "rest_reach", "gap_pp", "parity")}, "suppressed": e["suppressed"]})
    return pd.DataFrame(rows)


def _layers(card: dict, missing: dict[int, list[str]]) -> pd.DataFrame:
    typology = load_typology()
    rows = []
    for layer in PARTNER_LAYERS:
        entry = card["layers"][str(layer)]
        rows.append({"layer": layer, "name": typology.layer_name(layer), "covered": entry["covered"],
                     "categories": entry["categories"], "coverage": entry["coverage"],
                     "missing": [typology.category(name).gap for name in missing[layer]]})
    return pd.DataFrame(rows)


def _trends(frames: Frames, school_id: str, start: datetime.date, end: datetime.date, config) -> pd.DataFrame:
    school = frames.interactions["date"]
    first = school.min() if len(school) else pd.NaT
    begin = min(start, first.date()) if pd.notna(first) else start
    terms = terms_between(begin, end)[-TREND_TERMS:]
    table = scoring.trends(frames, school_id, terms[0].start, end, by="term", config=config)
    wanted = {f"{seg}.score": f"{seg}_score" for seg in scoring.SEGMENTS}
    wanted |= {f"{seg}.reach": f"{seg}_reach" for seg in scoring.SEGMENTS}
    wanted["overall"] = "overall_score"
    table = table[table["figure"].isin(wanted)]
    wide = table.pivot(index=["period", "period_start", "period_end"], columns="figure", values="value"
                       ).rename(columns=wanted)
    wide = wide.reset_index().sort_values("period_start")
    for column in wanted.values():
        if column not in wide:
            wide[column] = None
    wide["label"] = [period_label(p, a, b) for p, a, b in zip(wide["period"], wide["period_start"], wide["period_end"])]
    columns = ["period", "label", *[f"{seg}_score" for seg in scoring.SEGMENTS], "overall_score",
               *[f"{seg}_reach" for seg in scoring.SEGMENTS]]
    out = wide[columns].reset_index(drop=True)
    return out.astype({c: object for c in columns[2:]}).where(out.notna(), None)


def overview(frames: Frames, school_id: str, start: datetime.date, end: datetime.date, *,
             today: datetime.date | None = None, config: dict | None = None) -> Overview:
    """Everything the Overview shows for ``school_id`` in ``[start, end]``: the card, each score's
    change on the previous term (see :func:`comparison_window`), what drives it and what would raise
    it, the equity gaps, the missing categories of each layer and the trend per term up to ``end``."""
    cfg = config or load_config()
    sub = frames.school(school_id)
    card = scoring.score_card(sub, school_id, start, end, cfg)
    previous = comparison_window(start, end)
    compared = scoring.compare(sub, school_id, start, end, previous, cfg)
    changes = {figure: None if change is None or pd.isna(change) else float(change)
               for figure, change in zip(compared["figure"], compared["change"])}
    explanation = explanations.explain(sub, school_id, start, end, cfg)
    missing = scoring.gaps(sub, school_id, start, end)
    threshold = int(cfg["privacy"]["suppression_threshold"])
    notes = [f"Counts of families under {threshold} are shown as “{FEWER}”, never as a number; "
             "an equity group is not shown when it or the rest of the school has fewer."]
    return Overview(
        school_id=school_id, school_name=str(sub.schools["name"].iloc[0]), start=start, end=end,
        window_text=window_text(start, end), previous=previous, previous_text=window_text(*previous),
        card=card, segments=_segments(card, changes, explanation), equity=_equity(card),
        layers=_layers(card, missing), trends=_trends(sub, school_id, start, end, cfg),
        generated=today or datetime.date.today(), notes=notes,
    )


def equity_text(row) -> dict[str, str]:
    """An equity row's cells as words: "fewer than 10 families on one side" where suppressed."""
    if row["suppressed"]:
        return {"Group": row["label"], "Families": f"{FEWER} on one side", "Group reach": "not shown",
                "Rest reach": "not shown", "Gap (points)": "not shown", "Parity": "not shown"}
    return {"Group": row["label"], "Families": f"{int(row['group'])} of {int(row['group'] + row['rest'])}",
            "Group reach": _pct(row["group_reach"]), "Rest reach": _pct(row["rest_reach"]),
            "Gap (points)": _points(row["gap_pp"]),
            "Parity": "–" if row["parity"] is None else f"{row['parity']:.2f}"}


def layer_text(row) -> dict[str, str]:
    """A layer row's cells as words, its missing categories by their gap phrase."""
    return {"Layer": f"{row['layer']} · {row['name']}",
            "Categories covered": f"{row['covered']} of {row['categories']} ({_pct(row['coverage'])})",
            "Missing": "; ".join(row["missing"]) if row["missing"] else "none: every category has an engaged partner"}


def trend_text(trends: pd.DataFrame) -> pd.DataFrame:
    """The trend table in words: one row per term, a score and a reach column per segment."""
    out = pd.DataFrame({"Term": trends["label"]})
    for seg in scoring.SEGMENTS:
        out[f"{SEGMENT_LABELS[seg]} score"] = [FEWER if v is None and seg == "families" else _num(v)
                                               for v in trends[f"{seg}_score"]]
    out["Overall score"] = [_num(v) for v in trends["overall_score"]]
    for seg in scoring.SEGMENTS:
        out[f"{SEGMENT_LABELS[seg]} reach"] = [FEWER if v is None and seg == "families" else _pct(v)
                                               for v in trends[f"{seg}_reach"]]
    return out


def _num(v) -> str:
    return "–" if v is None else f"{v:.1f}"


# ---------------------------------------------------------------- the report

def _e(text) -> str:
    return html.escape("" if text is None else str(text), quote=True)


_SYMBOL_PATHS = {
    # Marker shapes around (0, 0), radius about 4: the same shape per segment as the page's charts.
    "circle": lambda x, y: f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.6"/>',
    "square": lambda x, y: f'<rect x="{x - 3.3:.1f}" y="{y - 3.3:.1f}" width="6.6" height="6.6"/>',
    "diamond": lambda x, y: f'<polygon points="{x:.1f},{y - 4.6:.1f} {x + 4.6:.1f},{y:.1f} {x:.1f},{y + 4.6:.1f} '
                            f'{x - 4.6:.1f},{y:.1f}"/>',
    "triangle-up": lambda x, y: f'<polygon points="{x:.1f},{y - 4.6:.1f} {x + 4.4:.1f},{y + 3.4:.1f} '
                                f'{x - 4.4:.1f},{y + 3.4:.1f}"/>',
    "star": lambda x, y: "<polygon points=\"" + " ".join(
        f"{x + r * math.sin(math.pi * k / 5):.1f},{y - r * math.cos(math.pi * k / 5):.1f}"
        for k, r in zip(range(10), [5.2, 2.2] * 5)) + '"/>',
}


def _svg_chart(title: str, labels: list[str], series: list[tuple[str, str, str, list]], unit: str) -> str:
    """A small line chart as inline SVG: 0-100 on the y axis, one line and marker shape per series."""
    from engagement.charts import SEGMENT_SYMBOLS

    width, height, left, right, top, bottom = 340, 140, 34, 8, 18, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(labels), 1)
    xs = [left + plot_w * (i + 0.5) / n for i in range(n)]

    def y_of(v):
        return top + plot_h * (1 - v / 100)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="t-{_e(title[:12])}">',
             f'<title id="t-{_e(title[:12])}">{_e(title)}</title>',
             f'<text x="{left}" y="13" class="ctitle">{_e(title)}</text>']
    for tick in (0, 25, 50, 75, 100):
        y = y_of(tick)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" class="tick" text-anchor="end">{tick}{_e(unit)}</text>')
    for x, label in zip(xs, labels):
        parts.append(f'<text x="{x:.1f}" y="{top + plot_h + 12}" class="tick" text-anchor="middle">'
                     f'{_e(label.split(" (")[0])}</text>')
    for name, colour, symbol, values in series:
        points = [(x, y_of(100 * v if unit == "%" else v)) for x, v in zip(xs, values) if v is not None]
        if len(points) > 1:
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                         + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        parts.append(f'<g fill="{colour}">' + "".join(_SYMBOL_PATHS[SEGMENT_SYMBOLS[symbol]](x, y)
                                                      for x, y in points) + "</g>")
    # The key, one row under the axis: shape and name of each series.
    x = left
    for name, colour, symbol, _ in series:
        parts.append(f'<g fill="{colour}">{_SYMBOL_PATHS[SEGMENT_SYMBOLS[symbol]](x + 4, height - 10)}</g>')
        parts.append(f'<text x="{x + 11}" y="{height - 6.5}" class="key">{_e(name)}</text>')
        x += 14 + 5.6 * len(name)
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
@page { size: A4; margin: 9mm 11mm 8mm 11mm; }
* { box-sizing: border-box; }
html { font-family: Arial, Helvetica, "Liberation Sans", "DejaVu Sans", sans-serif; color: #1a1a1a;
       font-size: 8.4pt; line-height: 1.25; background: white; }
body { margin: 0 auto; max-width: 186mm; }
h1 { font-size: 1.8rem; margin: 0 0 1mm; }
h2 { font-size: 1.25rem; margin: 2.6mm 0 1mm; border-bottom: 0.4mm solid #0072B2; padding-bottom: 0.6mm; }
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
.drivers td, .drivers th { font-size: 0.93rem; padding-top: 0.5mm; padding-bottom: 0.5mm; }
.bar { height: 2.6mm; display: inline-block; vertical-align: middle; margin-right: 1mm; }
.bars td { white-space: nowrap; }
.two { width: 100%; }
.two td { width: 50%; border: none; padding: 0 1mm 0 0; vertical-align: top; }
svg.chart { width: 100%; height: auto; }
svg text { font-family: Arial, Helvetica, "Liberation Sans", "DejaVu Sans", sans-serif; fill: #1a1a1a; }
svg .ctitle { font-size: 10px; font-weight: bold; }
svg .tick { font-size: 8.5px; fill: #333; }
svg .key { font-size: 8.5px; }
svg .grid { stroke: #ddd; stroke-width: 0.8; }
.small { font-size: 0.9rem; color: #333; }
table.trend th.group { text-align: center; border-bottom: 0.2mm solid #999; }
table.trend td.term { white-space: nowrap; }
footer { margin-top: 2mm; font-size: 0.88rem; color: #444; border-top: 0.2mm solid #999; padding-top: 1mm; }
@media screen { body { padding: 8mm; } }
@media print { body { padding: 0; } }
"""


def _score_card_cell(row: dict, previous: str) -> str:
    colour = SEGMENT_COLOURS[row["segment"]]
    if row["score"] is None:
        body = f'<div class="score">–</div><div class="change">{_e(row["counts"])}</div>'
    else:
        change = ("no earlier figure" if row["score_change"] is None
                  else f"{_points(row['score_change'])} on {previous}")
        body = (f'<div class="score">{row["score"]:.1f}<span class="outof"> / 100</span></div>'
                f'<div class="change">{_e(change)}</div>')
        if row["rate_label"]:
            rate_change = "" if row["rate_change"] is None else f" ({_points(row['rate_change'])} pts)"
            body += f'<div class="rate">{_e(row["rate_label"])}: <b>{_pct(row["rate"])}</b>{_e(rate_change)}</div>'
        else:
            body += '<div class="rate">Weighted mean of the four segments</div>'
    return f'<td><div class="seg" style="border-color:{colour}">{_e(row["label"])}</div>{body}</td>'


def overview_report_html(view: Overview) -> str:
    """The Overview as one self-contained HTML page for an A4 sheet: school, window, filters and
    date generated; the scores with their change and what drives them; equity; layer coverage;
    trends (inline SVG and a table). No scripts, no outside resources, every text escaped."""
    previous_short = short_window_text(*view.previous)
    generated = f"{view.generated.day} {view.generated:%B %Y}"
    out = ["<!DOCTYPE html>", '<html lang="en-GB"><head><meta charset="utf-8">',
           f"<title>Engagement overview · {_e(view.school_name)} · {_e(view.window_text)}</title>",
           f"<style>{_CSS}</style></head><body>",
           f"<h1>{_e(view.school_name)}: community engagement overview</h1>",
           f'<p class="meta"><b>Window:</b> {_e(view.window_text)} · <b>Change compared with:</b> '
           f"{_e(view.previous_text)}</p>",
           f'<p class="meta"><b>Filters:</b> school {_e(view.school_name)} ({_e(view.school_id)}); window '
           f"{_e(view.window_text)} · <b>Generated</b> {_e(generated)}</p>"]

    out.append("<h2>Scores out of 100, by segment</h2>")
    out.append('<table class="cards"><tr>' + "".join(_score_card_cell(r, previous_short) for r in view.segments)
               + "</tr></table>")
    out.append('<h2>What drives each score, and what would raise it</h2><table class="drivers">')
    for row in view.segments:
        out.append(f'<tr><th scope="row">{_e(row["label"])}</th><td>{_e(row["counts"] + ". " if row["counts"] else "")}'
                   f'{_e(row["drivers"])} <b>To raise it:</b> {_e(row["advice"])}</td></tr>')
    out.append("</table>")

    out.append("<h2>Equity: family reach of each group beside the rest of the school</h2>")
    out.append('<table class="bars"><tr><th>Group</th><th>Families in the group</th><th>Reach: group '
               f'<span class="bar" style="width:4mm;background:{OKABE_ITO["blue"]}"></span> and rest '
               f'<span class="bar" style="width:4mm;background:{OKABE_ITO["orange"]}"></span></th>'
               '<th class="num">Gap (points)</th><th class="num">Parity</th></tr>')
    for _, row in view.equity.iterrows():
        cells = equity_text(row)
        if row["suppressed"]:
            reach = "not shown"
        else:
            reach = (f'<span class="bar" style="width:{30 * row["group_reach"]:.1f}mm;background:{OKABE_ITO["blue"]}">'
                     f'</span>{_pct(row["group_reach"])} &nbsp; '
                     f'<span class="bar" style="width:{30 * row["rest_reach"]:.1f}mm;background:{OKABE_ITO["orange"]}">'
                     f'</span>{_pct(row["rest_reach"])}')
        out.append(f"<tr><td>{_e(cells['Group'])}</td><td>{_e(cells['Families'])}</td><td>{reach}</td>"
                   f'<td class="num">{_e(cells["Gap (points)"])}</td><td class="num">{_e(cells["Parity"])}</td></tr>')
    out.append("</table><p class=\"small\">Gap: group reach minus the rest's, in percentage points. "
               "Parity: group reach ÷ the rest's (1.00 = equal).</p>")

    out.append("<h2>Layer coverage: categories with an engaged partner</h2><table>"
               "<tr><th>Layer</th><th>Categories covered</th><th>Missing</th></tr>")
    for _, row in view.layers.iterrows():
        cells = layer_text(row)
        out.append("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in cells.values()) + "</tr>")
    out.append("</table>")

    labels = list(view.trends["label"])
    score_series = [(SEGMENT_LABELS[s], SEGMENT_COLOURS[s], s,
                     list(view.trends["overall_score" if s == "overall" else f"{s}_score"])) for s in SEGMENT_ORDER]
    reach_series = [(SEGMENT_LABELS[s], SEGMENT_COLOURS[s], s, list(view.trends[f"{s}_reach"]))
                    for s in scoring.SEGMENTS]
    out.append("<h2>Trends per term</h2><table class=\"two\"><tr>"
               f"<td>{_svg_chart('Scores per term (0–100)', labels, score_series, '')}</td>"
               f"<td>{_svg_chart('Reach per term (% of families or listed partners)', labels, reach_series, '%')}"
               "</td></tr></table>")
    table = trend_text(view.trends)
    n_scores = sum(c.endswith(" score") for c in table.columns)
    out.append('<table class="small trend"><tr><th rowspan="2">Term</th>'
               f'<th colspan="{n_scores}" class="group">Score out of 100</th>'
               f'<th colspan="{len(table.columns) - 1 - n_scores}" class="group">Reach</th></tr><tr>'
               + "".join(f'<th class="num">{_e(c.rsplit(" ", 1)[0])}</th>' for c in table.columns[1:]) + "</tr>")
    for term, *values in table.itertuples(index=False):
        out.append(f'<tr><td class="term">{_e(term)}</td>' + "".join(f'<td class="num">{_e(v)}</td>' for v in values)
                   + "</tr>")
    out.append("</table>")
    out.append("<footer>" + " ".join(_e(n) for n in view.notes)
               + f" Aggregates only: no family is named or identifiable. Generated {_e(generated)} by the "
               "community engagement map.</footer></body></html>")
    return "\n".join(out)


def report_file_name(view: Overview, extension: str) -> str:
    """A file name for the report that says what it holds and is safe on any system.

    >>> import datetime
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
_FIT_SIZES = ("8.4pt", "8pt", "7.6pt", "7.2pt", "6.8pt")


def overview_report_pdf(report_html: str) -> bytes:
    """The report as a one-page A4 PDF (WeasyPrint) from the same HTML, fetching nothing; the
    type is made a little smaller when that is what it takes to keep to one sheet."""
    import weasyprint  # imported here: it loads pango, which only the PDF needs

    page = weasyprint.HTML(string=report_html, url_fetcher=_refuse_fetch)
    for size in _FIT_SIZES:
        document = page.render(stylesheets=[weasyprint.CSS(string=f"html {{ font-size: {size} !important; }}")])
        if len(document.pages) == 1:
            break
    return document.write_pdf()
