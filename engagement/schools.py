"""The Schools page's content for a trust lead or a local authority's officer: every school they
may see side by side (scores and their change, reach per segment, the pupil-premium gap,
communication, transitions, referrals), a CSV of it safe in Excel, a map of the schools coloured by
a chosen figure with the partners they share, a network of schools and shared partners, and what
each school's neighbours work with that it does not.

The figures come from :mod:`engagement.compare` (counted in the database grouped by school, each
school on its own calendar, hidden for governors and trust boards as each school's own ``score
--json`` hides them), communication, transitions and referrals included. Pages call
:func:`schools_view` and draw what it returns.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import folium
import pandas as pd

from engagement import compare
from engagement import store as db
from engagement.maps import DEFAULT_ASSETS_URL, REACH_RAMP, LocalMap, safe_text
from engagement.settings import load_settings
from engagement.typology import PARTNER_SEGMENTS

# The table's figures: column -> (what the page calls it, True for a share shown as a percentage).
FIGURES: dict[str, tuple[str, bool]] = {
    "overall": ("Overall score", False),
    "families_score": ("Families score", False),
    "agencies_score": ("Agencies score", False),
    "businesses_score": ("Businesses score", False),
    "community_score": ("Community score", False),
    "overall_change": ("Overall change", False),
    "families_change": ("Families change", False),
    "agencies_change": ("Agencies change", False),
    "businesses_change": ("Businesses change", False),
    "community_change": ("Community change", False),
    "families_on_roll": ("Families on roll", False),
    "families_reach": ("Family reach", True),
    "agencies_reach": ("Agencies reach", True),
    "businesses_reach": ("Businesses reach", True),
    "community_reach": ("Community reach", True),
    "pupil_premium_gap_pp": ("Pupil-premium gap (points)", False),
    "communication_open": ("Communication open", True),
    "communication_early": ("Communication early", True),
    "transitions_plan_complete": ("Transitions with a complete plan", True),
    "referrals_open": ("Referrals open", False),
}
MAP_FIGURES = [k for k in FIGURES if k not in ("families_on_roll",)]
SEGMENTS = ("families", *PARTNER_SEGMENTS)


@dataclass
class SchoolsView:
    """What the Schools page shows. ``table``: one row per school (school_id, school, window,
    postcode, latitude, longitude, then :data:`FIGURES`; None where hidden or not measured);
    ``shared``: :func:`engagement.compare.shared_partners`; ``shared_table`` one row per shared
    partner and school; ``neighbours``: :func:`engagement.compare.neighbours_have`."""

    table: pd.DataFrame
    shared: list[dict]
    shared_table: pd.DataFrame
    neighbours: pd.DataFrame
    partners: pd.DataFrame = field(repr=False)
    for_governor: bool = False


def schools_view(
    store: db.Store,
    school_ids: Sequence[str],
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    today: datetime.date | None = None,
    for_governor: bool = True,
    neighbour_km: float = compare.NEIGHBOUR_KM,
) -> SchoolsView:
    """The Schools page for ``school_ids`` (those the account may see, never more): each school's
    own term so far unless dates are given."""
    windows = compare.school_windows(store, school_ids, start, end, today)
    partners, now, before = compare.now_and_before(store, windows, for_governor)
    rows = []
    for w in windows:
        card, old = now[w.school_id], before.get(w.school_id)
        row = {
            "school_id": w.school_id,
            "school": w.name,
            "window": f"{w.start:%d %b %Y} – {w.end:%d %b %Y}",
            "postcode": w.postcode,
            "latitude": w.latitude,
            "longitude": w.longitude,
            "overall": card["overall"],
            "overall_change": _change(card["overall"], old and old["overall"], 1),
            "families_on_roll": card["families"]["on_roll"],
            "families_reach": card["families"]["reach"],
            "pupil_premium_gap_pp": card["equity"]["pupil_premium"]["gap_pp"],
        }
        for seg in SEGMENTS:
            row[f"{seg}_score"] = card[seg]["score"]
            row[f"{seg}_change"] = _change(card[seg]["score"], old and old[seg]["score"], 1)
            if seg != "families":
                row[f"{seg}_reach"] = card[seg]["reach"]
        row |= {
            "communication_open": card["communication"]["open"],
            "communication_early": card["communication"]["early"],
            "transitions_plan_complete": card["transitions"]["plan_complete"],
            "referrals_open": card["referrals"]["open"],
        }
        rows.append(row)
    columns = ["school_id", "school", "window", "postcode", "latitude", "longitude", *FIGURES]
    table = pd.DataFrame(rows, columns=columns).astype({k: object for k in FIGURES})
    shared = compare.shared_partners(partners)
    names = {w.school_id: w.name for w in windows}
    return SchoolsView(
        table=table,
        shared=shared,
        shared_table=compare.shared_partner_table(shared, names),
        neighbours=compare.neighbours_have(windows, partners, neighbour_km),
        partners=partners,
        for_governor=for_governor,
    )


def _change(now, before, digits: int):
    return None if now is None or before is None else round(now - before, digits)


def filtered(table: pd.DataFrame, text: str = "", figure: str | None = None, at_least=None) -> pd.DataFrame:
    """The schools whose name or reference holds ``text`` (any case) and, when ``figure`` and
    ``at_least`` are given, whose figure is at least that (a hidden figure never passes)."""
    out = table
    if text.strip():
        needle = text.strip().casefold()
        out = out[
            out["school"].str.casefold().str.contains(needle, regex=False)
            | out["school_id"].str.casefold().str.contains(needle, regex=False)
        ]
    if figure and at_least is not None:
        values = pd.to_numeric(out[figure], errors="coerce")
        out = out[values >= at_least]
    return out


def schools_csv(table: pd.DataFrame) -> bytes:
    """The table as CSV for Excel: UTF-8 with BOM, headings in words, formula-like cells made inert."""
    from engagement.interchange import excel_safe

    shown = table.drop(columns=["latitude", "longitude"], errors="ignore").rename(
        columns={"school_id": "School reference", "school": "School", "window": "Window", "postcode": "Postcode"}
        | {k: label for k, (label, _) in FIGURES.items()}
    )
    return shown.astype(object).map(excel_safe).to_csv(index=False).encode("utf-8-sig")


def figure_text(figure: str, value) -> str:
    """A figure as the page writes it: a share as a percentage, else the number; "not shown" when hidden."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not shown"
    return f"{100 * value:.0f}%" if FIGURES[figure][1] else f"{value:g}"


def _colour(value, low: float, high: float) -> str:
    if value is None or high <= low:
        return "#bbbbbb" if value is None else REACH_RAMP[len(REACH_RAMP) // 2]
    k = int((value - low) / (high - low) * (len(REACH_RAMP) - 1) + 0.5)
    return REACH_RAMP[max(0, min(len(REACH_RAMP) - 1, k))]


def schools_map(view: SchoolsView, figure: str, assets_url: str = DEFAULT_ASSETS_URL) -> folium.Map:
    """The schools on a map, each a disc coloured by ``figure`` (light low, dark high; grey where
    hidden), with the shared partners and a line from each to the schools it works with. Scripts and
    styles are the app's own (:class:`engagement.maps.LocalMap`)."""
    cfg = load_settings().map
    placed = view.table.dropna(subset=["latitude", "longitude"])
    centre = [float(placed["latitude"].mean()), float(placed["longitude"].mean())] if len(placed) else [52.48, -1.9]
    base = LocalMap(location=centre, zoom_start=12, tiles=None, control_scale=True, maxZoom=19, assets_url=assets_url)
    if cfg.tiles_url:
        folium.TileLayer(tiles=cfg.tiles_url, attr=cfg.tiles_attribution, name="Street map", control=False).add_to(base)
    values = [v for v in placed[figure] if v is not None and v == v]
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    where = {r.school_id: (float(r.latitude), float(r.longitude)) for r in placed.itertuples(index=False)}
    links = folium.FeatureGroup(name="Shared partners").add_to(base)
    partners = view.partners.set_index("partner_id")
    for s in view.shared:
        for record in s["records"]:
            p = partners.loc[record["partner_id"]]
            if p["latitude"] is None or p["latitude"] != p["latitude"] or record["school_id"] not in where:
                continue
            here = (float(p["latitude"]), float(p["longitude"]))
            folium.PolyLine([here, where[record["school_id"]]], color="#7a7a7a", weight=1, opacity=0.6).add_to(links)
            folium.CircleMarker(
                here,
                radius=4,
                color="#555555",
                fill=True,
                fill_opacity=0.8,
                tooltip=folium.Tooltip(
                    f"<b>{safe_text(s['name'])}</b><br>{safe_text(s['category'])}<br>"
                    f"works with {len(s['schools'])} schools"
                ),
            ).add_to(links)
    label = FIGURES[figure][0]
    for r in placed.itertuples(index=False):
        value = getattr(r, figure)
        folium.CircleMarker(
            [float(r.latitude), float(r.longitude)],
            radius=11,
            color="#111111",
            weight=1.5,
            fill=True,
            fill_color=_colour(value, low, high),
            fill_opacity=0.9,
            tooltip=folium.Tooltip(
                f"<b>{safe_text(r.school)}</b><br>{safe_text(label)}: {safe_text(figure_text(figure, value))}"
            ),
        ).add_to(base)
    if len(placed) > 1:
        base.fit_bounds(
            [
                [float(placed["latitude"].min()), float(placed["longitude"].min())],
                [float(placed["latitude"].max()), float(placed["longitude"].max())],
            ]
        )
    return base


def network_figure(view: SchoolsView):
    """Schools and the partners they share as a network (plotly): schools on a circle, each shared
    partner at the middle of its schools, a line per school it works with, partners sized by their
    contacts this term."""
    import plotly.graph_objects as go

    schools = list(view.table["school_id"])
    names = dict(zip(view.table["school_id"], view.table["school"]))
    used = sorted({sid for s in view.shared for sid in s["schools"]})
    ring = used or schools
    position = {
        sid: (math.cos(2 * math.pi * k / max(1, len(ring))), math.sin(2 * math.pi * k / max(1, len(ring))))
        for k, sid in enumerate(ring)
    }
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    px, py, size, text = [], [], [], []
    for s in view.shared:
        x = sum(position[sid][0] for sid in s["schools"]) / len(s["schools"]) * 0.6
        y = sum(position[sid][1] for sid in s["schools"]) / len(s["schools"]) * 0.6
        for sid in s["schools"]:
            edge_x += [x, position[sid][0], None]
            edge_y += [y, position[sid][1], None]
        total = sum(s["contacts"].values())
        px.append(x)
        py.append(y)
        size.append(8 + 4 * math.sqrt(total))
        per_school = "<br>".join(f"{names.get(k, k)}: {n} contacts" for k, n in s["contacts"].items())
        text.append(f"<b>{safe_text(s['name'])}</b><br>{safe_text(per_school)}")
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=edge_x, y=edge_y, mode="lines", line={"color": "#999999", "width": 1}, hoverinfo="skip")
    )
    figure.add_trace(
        go.Scatter(
            x=px,
            y=py,
            mode="markers",
            marker={"size": size, "color": "#a05890"},
            hovertext=text,
            hoverinfo="text",
            name="shared partner",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=[position[sid][0] for sid in ring],
            y=[position[sid][1] for sid in ring],
            mode="markers+text",
            marker={"size": 16, "color": "#111111", "symbol": "square"},
            text=[safe_text(names.get(sid, sid)) for sid in ring],
            textposition="top center",
            hoverinfo="text",
            name="school",
        )
    )
    figure.update_layout(
        showlegend=False,
        xaxis={"visible": False},
        yaxis={"visible": False, "scaleanchor": "x"},
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        height=480,
    )
    return figure


__all__ = [
    "FIGURES",
    "MAP_FIGURES",
    "SchoolsView",
    "figure_text",
    "filtered",
    "network_figure",
    "schools_csv",
    "schools_map",
    "schools_view",
]
