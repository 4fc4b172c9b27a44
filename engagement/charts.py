"""Figures for the pages, built with plotly from the engagement module's tables.

Every chart here is colour-blind safe (the Okabe-Ito palette, with shapes as a second cue),
titled, labelled, and safe with user text: partner names reach plotly only through
``customdata`` and are HTML-escaped first, so a name like ``<img src=x onerror=alert(1)>`` or
``%{x}`` shows as itself in a hover label and never runs or gets templated.

>>> import pandas as pd
>>> table = pd.DataFrame([{"partner_id": "P1", "name": "<b>Library</b>", "category": "library", "layer": 3,
...     "segment": "community", "status": "active", "interactions": 4, "last_contact": None, "engaged": True}])
>>> figure = layers_diagram(table, pupils=600, staff=60)
>>> [t.meta for t in figure.data if t.meta in ENGAGEMENT_STATES and len(t.x)]
['engaged']
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engagement.explanations import SEGMENT_LABELS
from engagement.settings import fewer_than
from engagement.typology import PARTNER_LAYERS, SEGMENTS, Typology, load_typology

# Okabe-Ito: distinguishable with every common colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}

# How a partner stands in the window: colour and shape, so the state reads without colour too.
ENGAGEMENT_STATES = {
    "engaged": {"label": "Engaged in the window", "colour": OKABE_ITO["blue"], "symbol": "circle"},
    "not engaged": {
        "label": "Active, not engaged in the window",
        "colour": OKABE_ITO["vermillion"],
        "symbol": "circle-open",
    },
    "prospective": {"label": "Prospective", "colour": OKABE_ITO["purple"], "symbol": "diamond-open"},
    "lapsed": {"label": "Lapsed", "colour": OKABE_ITO["grey"], "symbol": "x-thin-open"},
    "local offer": {"label": "Local offer, not yet a partner", "colour": OKABE_ITO["sky"], "symbol": "circle-open-dot"},
}

SEGMENT_COLOURS = {
    "families": OKABE_ITO["blue"],
    "agencies": OKABE_ITO["vermillion"],
    "businesses": OKABE_ITO["green"],
    "community": OKABE_ITO["orange"],
    "overall": OKABE_ITO["black"],
}
SEGMENT_SYMBOLS = {
    "families": "circle",
    "agencies": "square",
    "businesses": "diamond",
    "community": "triangle-up",
    "overall": "star",
}

# A slot at twelve o'clock is kept free of partners so each ring's name can be written there.
LABEL_GAP_DEGREES = 24.0

FONT = dict(family="Arial, Helvetica, sans-serif", size=15, color="#1a1a1a")


def text_for_plotly(value) -> str:
    """User text made safe for a plotly label: HTML-escaped, so it shows as written."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def engagement_state(status: str, engaged: bool) -> str:
    if status in ("lapsed", "local offer"):  # neither counts as engaged, whatever the contact
        return status
    if engaged:
        return "engaged"
    if status == "prospective":
        return "prospective"
    return "not engaged"


def _tint(hex_colour: str, amount: float) -> str:
    """The colour mixed with white (amount 0 = white, 1 = the colour)."""
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    mix = lambda c: round(255 - (255 - c) * amount)  # noqa: E731
    return f"rgb({mix(r)},{mix(g)},{mix(b)})"


def layer_sectors(typology: Typology) -> pd.DataFrame:
    """One row per category: its layer and its angular sector (degrees) in the diagram. Every
    category of a layer gets an equal share of the ring, so an empty category shows as a gap."""
    rows = []
    for layer in PARTNER_LAYERS:
        cats = typology.categories_of_layer(layer)
        width = (360.0 - LABEL_GAP_DEGREES) / len(cats)
        for i, cat in enumerate(cats):
            start = LABEL_GAP_DEGREES / 2 + i * width
            rows.append(
                {"layer": layer, "category": cat.name, "start": start, "width": width, "centre": start + width / 2}
            )
    return pd.DataFrame(rows)


def place_partners(table: pd.DataFrame, typology: Typology) -> pd.DataFrame:
    """Angle and radius for every partner: in its layer's ring, inside its category's sector,
    spread on a small grid so marks do not sit on each other. Deterministic (sorted by name)."""
    sectors = layer_sectors(typology).set_index(["layer", "category"])
    placed = []
    for (layer, category), group in table.sort_values(["layer", "category", "name", "partner_id"]).groupby(
        ["layer", "category"], sort=False
    ):
        if (layer, category) not in sectors.index:
            continue
        sector = sectors.loc[(layer, category)]
        n = len(group)
        rows_in_ring = min(4, math.ceil(n / 4))
        per_row = math.ceil(n / rows_in_ring)
        k = np.arange(n)
        row, col = k // per_row, k % per_row
        theta = sector["start"] + sector["width"] * (col + 0.5) / per_row
        # Marks keep to the inner part of the ring; its outer edge carries the category's name.
        radius = (layer - 1) + 0.72 * (row + 1) / (rows_in_ring + 1)
        placed.append(group.assign(theta=theta, r=radius))
    if not placed:
        return table.assign(theta=pd.Series(dtype=float), r=pd.Series(dtype=float))
    return pd.concat(placed)


def _xy(r, theta_degrees):
    """Polar to the page: angle clockwise from twelve o'clock, as a clock face reads."""
    t = np.radians(np.asarray(theta_degrees, dtype=float))
    r = np.asarray(r, dtype=float)
    return r * np.sin(t), r * np.cos(t)


def _wedge(inner: float, outer: float, start: float, width: float, steps: int = 24):
    """The outline of a ring's sector, as x and y lists for a filled scatter trace."""
    angles = np.linspace(start, start + width, steps)
    xo, yo = _xy(np.full(steps, outer), angles)
    xi, yi = _xy(np.full(steps, inner), angles[::-1])
    return list(xo) + list(xi) + [xo[0]], list(yo) + list(yi) + [yo[0]]


def layers_diagram(
    partner_table: pd.DataFrame,
    *,
    pupils: int | None,
    staff: int | None,
    typology: Typology | None = None,
    title: str = "The school's community, layer by layer",
) -> go.Figure:
    """The concentric layers: pupils and staff at the centre, then close partners, linked
    organisations and the wider community. Each partner is a mark in its ring, in its category's
    sector, sized by its interactions in the window and coloured and shaped by its state.

    Drawn on ordinary x/y axes rather than plotly's polar ones: Streamlit reports a clicked
    point only on cartesian charts, and selecting a partner is how its record opens.

    ``partner_table`` has one row per partner: partner_id, name, category, layer, segment,
    status, interactions, last_contact, engaged.
    """
    typology = typology or load_typology()
    sectors = layer_sectors(typology)
    counts = (
        partner_table.groupby(["layer", "category"]).agg(partners=("partner_id", "size"), engaged=("engaged", "sum"))
        if len(partner_table)
        else None
    )
    fig = go.Figure()

    # The rings: one shaded wedge per category, so empty sectors read as gaps.
    for layer in PARTNER_LAYERS:
        colour = _tint(typology.layer_colour(layer), 0.18 + 0.06 * (layer % 2))
        for sector in sectors[sectors["layer"] == layer].itertuples():
            known = counts is not None and (layer, sector.category) in counts.index
            n = int(counts.loc[(layer, sector.category), "partners"]) if counts is not None and known else 0
            e = int(counts.loc[(layer, sector.category), "engaged"]) if counts is not None and known else 0
            x, y = _wedge(layer - 1, layer, sector.start, sector.width)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    fill="toself",
                    fillcolor=colour,
                    line=dict(color="white", width=1.5),
                    hoveron="fills",
                    hoverinfo="text",
                    text=f"{text_for_plotly(sector.category)}: {n} partners, {e} engaged",
                    name=f"Layer {layer}: {typology.layer_name(layer)}",
                    showlegend=False,
                )
            )
    x, y = _wedge(0, 1, 0, 360, steps=90)
    fig.add_trace(
        go.Scatter(
            x=x[:90],
            y=y[:90],
            mode="lines",
            fill="toself",
            fillcolor=_tint("#555555", 0.25),
            line=dict(width=0),
            hoveron="fills",
            hoverinfo="text",
            text=f"Layer 1, core: {pupils or 0:,} pupils and {staff or 0:,} staff",
            name="Layer 1: Core",
            showlegend=False,
        )
    )

    placed = place_partners(partner_table, typology) if len(partner_table) else partner_table
    if len(placed):
        placed = placed.assign(
            state=[engagement_state(s, bool(e)) for s, e in zip(placed["status"], placed["engaged"])]
        )
        sizes = 9 + 5 * np.sqrt(placed["interactions"].fillna(0).clip(upper=60).to_numpy(dtype=float))
        placed = placed.assign(size=sizes)
    for state, style in ENGAGEMENT_STATES.items():
        part = placed[placed["state"] == state] if len(placed) else placed
        last = [
            d.strftime("%d %b %Y") if pd.notna(d) and d is not None else "none"
            for d in part.get("last_contact", pd.Series(dtype=object))
        ]
        custom = (
            np.column_stack(
                [
                    part["partner_id"].to_numpy(dtype=object) if len(part) else np.array([], dtype=object),
                    [text_for_plotly(v) for v in part.get("name", [])],
                    [text_for_plotly(v) for v in part.get("category", [])],
                    last,
                    part["interactions"].fillna(0).astype(int).to_numpy() if len(part) else np.array([], dtype=int),
                    [style["label"]] * len(part),
                ]
            )
            if len(part)
            else np.empty((0, 6), dtype=object)
        )
        x, y = _xy(part["r"], part["theta"]) if len(part) else ([], [])
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="markers",
                legendgroup=state,
                name=style["label"],
                meta=state,
                marker=dict(
                    size=part["size"] if len(part) else [],
                    color=style["colour"],
                    symbol=style["symbol"],
                    line=dict(color=style["colour"], width=2),
                    opacity=0.95,
                ),
                customdata=custom,
                hovertemplate=(
                    "<b>%{customdata[1]}</b><br>%{customdata[2]}<br>Last contact: %{customdata[3]}"
                    "<br>Interactions in the window: %{customdata[4]}<br>%{customdata[5]}<extra></extra>"
                ),
                showlegend=True,
            )
        )

    # A partner due for a check (engagement.directory) gets a dark-red open hexagon around its mark.
    due = len(placed) and "stale" in placed
    stale = placed[placed["stale"].fillna(False).astype(bool)] if due else placed.iloc[0:0]
    if len(stale):
        x, y = _xy(stale["r"], stale["theta"])
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="markers",
                name="Due for a check",
                meta="stale",
                legendgroup="stale",
                marker=dict(size=stale["size"] + 10, symbol="hexagon-open", color="#8b1a1a", line=dict(width=2.5)),
                customdata=np.column_stack(
                    [stale["partner_id"].to_numpy(dtype=object), [text_for_plotly(v) for v in stale["name"]]]
                ),
                hovertemplate="<b>%{customdata[1]}</b><br>due for a check<extra></extra>",
                showlegend=True,
            )
        )

    # Ring numbers in the slot at twelve o'clock, category names along each ring's outer edge,
    # the core's counts in the middle.
    fig.add_trace(
        go.Scatter(
            x=[0, 0, 0, 0],
            y=[0.0] + [layer - 0.5 for layer in PARTNER_LAYERS],
            mode="text",
            text=[f"<b>Pupils and staff</b><br>{pupils or 0:,} pupils<br>{staff or 0:,} staff"]
            + [f"<b>{layer}</b>" for layer in PARTNER_LAYERS],
            textfont=dict(size=16, color="#1a1a1a"),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    x, y = _xy(sectors["layer"] - 0.13, sectors["centre"])
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="text",
            text=[_short(c) for c in sectors["category"]],
            textfont=dict(size=11, color="#333333"),
            hoverinfo="skip",
            showlegend=False,
        )
    )
    hidden = dict(visible=False, range=[-4.1, 4.1], fixedrange=True)
    fig.update_layout(
        title=dict(
            text=title,
            font=dict(size=20),
            subtitle=dict(
                text=(
                    "Rings: 1 pupils and staff · "
                    + " · ".join(
                        f"{layer} {text_for_plotly(typology.layer_name(layer)).lower()}" for layer in PARTNER_LAYERS[:1]
                    )
                    + "<br>"
                    + " · ".join(
                        f"{layer} {text_for_plotly(typology.layer_name(layer)).lower()}" for layer in PARTNER_LAYERS[1:]
                    )
                ),
                font=dict(size=14),
            ),
        ),
        font=FONT,
        height=780,
        margin=dict(l=30, r=30, t=95, b=30),
        xaxis=hidden,
        yaxis=dict(hidden, scaleanchor="x", scaleratio=1),
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend=dict(
            title=dict(text="Partner in the window"),
            orientation="h",
            y=-0.02,
            x=0.5,
            xanchor="center",
            font=dict(size=14),
            itemsizing="constant",
        ),
        dragmode=False,
        clickmode="event+select",
        hovermode="closest",
    )
    return fig


def selected_partner(figure: go.Figure, points: list[dict]) -> str | None:
    """The partner_id of the first selected partner mark (a selection may also catch a ring)."""
    for point in points or []:
        curve, index = point.get("curve_number"), point.get("point_index", point.get("point_number"))
        if curve is None or index is None or curve >= len(figure.data):
            continue
        trace = figure.data[curve]
        if (trace.meta in ENGAGEMENT_STATES or trace.meta == "stale") and index < len(trace.customdata):
            return str(trace.customdata[index][0])
    return None


def _short(category: str) -> str:
    """A category's name for a ring's edge, escaped, broken onto two lines when long."""
    words = category.split()
    if len(category) <= 12 or len(words) == 1:
        return text_for_plotly(category)
    half = math.ceil(len(words) / 2)
    return text_for_plotly(" ".join(words[:half])) + "<br>" + text_for_plotly(" ".join(words[half:]))


# ---------------------------------------------------------------- the governors' Overview

# In the equity chart: the group a dot, the rest of the school a diamond, in two Okabe-Ito colours.
EQUITY_STYLE = {
    "group": {"name": "The group", "colour": OKABE_ITO["blue"], "symbol": "circle"},
    "rest": {"name": "The rest of the school", "colour": OKABE_ITO["orange"], "symbol": "diamond"},
}


def _overview_layout(fig: go.Figure, title: str, subtitle: str, height: int) -> go.Figure:
    fig.update_layout(
        title=dict(
            text=title, x=0, xanchor="left", font=dict(size=19), subtitle=dict(text=subtitle, font=dict(size=14))
        ),
        font=FONT,
        height=height,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=20, r=20, t=80, b=10),
        legend=dict(orientation="h", y=-0.18, x=0, font=dict(size=14), itemsizing="constant"),
        hoverlabel=dict(font_size=15),
        dragmode=False,
    )
    fig.update_xaxes(
        showline=True, linecolor="#555", gridcolor="#e5e5e5", tickfont=dict(size=14), fixedrange=True, automargin=True
    )
    fig.update_yaxes(
        showline=True,
        linecolor="#555",
        gridcolor="#e5e5e5",
        tickfont=dict(size=14),
        fixedrange=True,
        zeroline=False,
        automargin=True,
    )
    return fig


def equity_chart(
    equity: pd.DataFrame, title: str = "Reach of each group and of the rest", fewer_text: str | None = None
) -> go.Figure:
    """A dot chart of equity: per group (pupil premium, SEND, ...), the group's reach as a blue dot
    and the rest's as an orange diamond, joined by a line whose length is the gap. A suppressed
    group keeps its row, with ``fewer_text`` written in it (by default "fewer than 10 on one side:
    not shown", the words following the threshold in force) and no mark.

    ``equity`` has one row per group: label, group_reach, rest_reach (fractions), suppressed.

    >>> rows = pd.DataFrame([{"label": "SEND", "group_reach": 0.5, "rest_reach": 0.8, "suppressed": False},
    ...                      {"label": "Looked after", "group_reach": None, "rest_reach": None, "suppressed": True}])
    >>> fig = equity_chart(rows)
    >>> [list(t.x) for t in fig.data if t.meta in EQUITY_STYLE]
    [[50.0], [80.0]]
    >>> fig.layout.annotations[0].text
    'fewer than 10 on one side: not shown'
    """
    fewer_text = fewer_text or f"{fewer_than()} on one side: not shown"
    labels = [text_for_plotly(v) for v in equity["label"]]
    shown = equity[~equity["suppressed"].astype(bool)]
    fig = go.Figure()
    lines_x, lines_y = [], []
    for _, row in shown.iterrows():
        lines_x += [100 * row["group_reach"], 100 * row["rest_reach"], None]
        lines_y += [text_for_plotly(row["label"])] * 2 + [None]
    fig.add_trace(
        go.Scatter(
            x=lines_x, y=lines_y, mode="lines", line=dict(color="#8c8c8c", width=3), hoverinfo="skip", showlegend=False
        )
    )
    for side, style in EQUITY_STYLE.items():
        values = [100 * float(v) for v in shown[f"{side}_reach"]]
        fig.add_trace(
            go.Scatter(
                x=values,
                y=[text_for_plotly(v) for v in shown["label"]],
                mode="markers",
                name=style["name"],
                marker=dict(
                    size=17, color=style["colour"], symbol=style["symbol"], line=dict(color="white", width=1.5)
                ),
                customdata=[[style["name"]]] * len(values),
                hovertemplate="%{y}: %{customdata[0]} reached %{x:.1f}%<extra></extra>",
            )
        )
        fig.data[-1].meta = side
    for _, row in equity[equity["suppressed"].astype(bool)].iterrows():
        fig.add_annotation(
            x=0.02,
            xref="paper",
            xanchor="left",
            y=text_for_plotly(row["label"]),
            # A governor's row says which side is small (engagement.disclosure).
            text=text_for_plotly(f"not shown: {row['reason']}" if isinstance(row.get("reason"), str) else fewer_text),
            showarrow=False,
            font=dict(size=14, color="#333333"),
        )
    _overview_layout(
        fig, title, "Two-way contact in the window; the grey line is the gap", height=130 + 62 * len(labels)
    )
    # A dot chart is read by position, not length, so the axis starts near the lowest reach shown,
    # where a few points' gap is still visible on a projector.
    shown_values = [100 * float(v) for side in EQUITY_STYLE for v in shown[f"{side}_reach"]]
    low = max(0, 10 * math.floor((min(shown_values, default=0) - 5) / 10))
    fig.update_xaxes(
        title=dict(text="Families reached (%)", font=dict(size=15)),
        range=[low, 101],
        ticksuffix="%",
        dtick=10 if low >= 50 else 20,
    )
    fig.update_yaxes(categoryorder="array", categoryarray=labels[::-1], type="category")
    fig.update_layout(legend=dict(y=-0.1 - 0.6 / max(len(labels), 1)))
    return fig


def _trend_chart(
    trends: pd.DataFrame, columns: dict[str, str], title: str, subtitle: str, axis: str, percent: bool
) -> go.Figure:
    # "Autumn 2026 (to 23 Nov)" on two lines, so a narrow chart keeps every term's name whole.
    periods = [text_for_plotly(v).replace(" (", "<br>(") for v in trends["label"]]
    # A term so far has fewer school days than a whole one: its marks are hollow, the same shape,
    # so "not yet comparable" reads without colour; its label says how many school days it holds.
    partial = [bool(p) for p in trends["partial"]] if "partial" in trends else [False] * len(periods)
    fig = go.Figure()
    for segment, column in columns.items():
        values = [
            None if v is None or (isinstance(v, float) and math.isnan(v)) else (100 * v if percent else v)
            for v in trends[column]
        ]
        symbol = SEGMENT_SYMBOLS[segment]
        fig.add_trace(
            go.Scatter(
                x=periods,
                y=values,
                mode="lines+markers",
                name=SEGMENT_LABELS[segment],
                line=dict(color=SEGMENT_COLOURS[segment], width=3, dash="dot" if segment == "overall" else "solid"),
                marker=dict(
                    size=14,
                    symbol=[f"{symbol}-open" if cut else symbol for cut in partial] if any(partial) else symbol,
                    color=SEGMENT_COLOURS[segment],
                    line=dict(color=SEGMENT_COLOURS[segment], width=2),
                ),
                hovertemplate=f"{SEGMENT_LABELS[segment]}, %{{x}}: %{{y:.1f}}{'%' if percent else ''}<extra></extra>",
            )
        )
        fig.data[-1].meta = segment
    if any(partial):
        subtitle += "; hollow marks: a term so far, not yet a whole term"
    _overview_layout(fig, title, subtitle, height=480)
    fig.update_layout(legend=dict(yanchor="top", y=-0.3))
    fig.update_xaxes(title=dict(text="Term", font=dict(size=15)), type="category")
    fig.update_yaxes(
        title=dict(text=axis, font=dict(size=15)), range=[0, 103], dtick=20, ticksuffix="%" if percent else ""
    )
    return fig


def score_trend_chart(trends: pd.DataFrame, title: str = "Scores per term") -> go.Figure:
    """Each segment's score and the overall score per term, 0-100, one colour and marker shape per
    segment. ``trends`` has one row per term: label, ``<segment>_score``, ``overall_score``.

    >>> rows = pd.DataFrame([{"label": "Spring 2026", "families_score": 80.0, "agencies_score": 60.0,
    ...     "businesses_score": 50.0, "community_score": 40.0, "overall_score": 65.0}])
    >>> [(t.name, t.marker.symbol) for t in score_trend_chart(rows).data][:2]
    [('Families', 'circle'), ('Agencies', 'square')]
    """
    columns = {seg: f"{seg}_score" for seg in SEGMENTS} | {"overall": "overall_score"}
    return _trend_chart(
        trends, columns, title, "Out of 100; overall is their weighted mean", "Score (0–100)", percent=False
    )


def reach_trend_chart(trends: pd.DataFrame, title: str = "Reach per term") -> go.Figure:
    """Family reach and each partner segment's reach per term, in %. ``trends`` has one row per
    term: label and ``<segment>_reach`` (fractions)."""
    columns = {seg: f"{seg}_reach" for seg in SEGMENTS}
    return _trend_chart(
        trends, columns, title, "Families with two-way contact; listed partners contacted", "Reached (%)", percent=True
    )


def communication_chart(groups: pd.DataFrame, title: str = "Family reach by channel and by language") -> go.Figure:
    """Family reach of each group shown on the communication panel (preferred channel, home
    language), as horizontal bars in one colour with the value written at the end of each, so it
    reads without colour; the two kinds of group are named on the axis. ``groups`` has kind
    (channel or language), group and reach (a fraction); groups under the threshold never reach it.

    >>> rows = pd.DataFrame([{"kind": "channel", "group": "phone", "reach": 0.7},
    ...                      {"kind": "language", "group": "<b>Urdu</b>", "reach": 0.5}])
    >>> list(communication_chart(rows).data[0].y)
    ['Channel: phone', 'Language: &lt;b&gt;Urdu&lt;/b&gt;']
    """
    names = [
        f"{text_for_plotly(kind).capitalize()}: {text_for_plotly(group)}"
        for kind, group in zip(groups["kind"], groups["group"], strict=True)
    ]
    values = [100 * float(v) for v in groups["reach"]]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            marker=dict(color=OKABE_ITO["blue"]),
            text=[f"{v:.1f}%" for v in values],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f}% reached<extra></extra>",
        )
    )
    _overview_layout(fig, title, "Families with two-way contact in the window, by group", height=130 + 44 * len(names))
    fig.update_xaxes(title=dict(text="Families reached (%)", font=dict(size=15)), range=[0, 110], ticksuffix="%")
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1], type="category")
    return fig
