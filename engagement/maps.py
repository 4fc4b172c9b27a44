"""The Partner map: the school, its distance rings, every placed partner coloured by layer and
shaped by segment, families aggregated by postcode sector, and a legend, as a folium map that
draws with no request leaving the app's own server except for map tiles.

Where the map's scripts come from. folium and streamlit-folium load Leaflet, jQuery, Bootstrap,
Font Awesome and Leaflet.markercluster from public CDNs, which a school network may block (and
this machine cannot reach): the map is then blank. Here every element that carries links
(``default_js``/``default_css``) is a subclass pointing at ``/app/static/vendor/...``; only
Leaflet and Leaflet.markercluster are needed, because markers are inline-SVG ``DivIcon``s and
circles (no icon font, no jQuery, no Bootstrap). The files come from the pinned pip packages
``XStatic-Leaflet`` and ``XStatic-Leaflet-MarkerCluster`` (see requirements.txt), copied by
:func:`install_assets` into ``static/vendor/`` (git-ignored, about 250 KB, re-copied when the
package version changes), which Streamlit serves at ``/app/static/`` (``enableStaticServing``).
Streamlit only serves files that really sit in ``static/`` (it resolves symlinks and refuses
anything outside), hence a copy rather than a link to the package directory.

How it is shown. ``st_folium`` puts the map's HTML and script into its component frame and
renders the whole map again on every rerun; a new script means a new frame, losing pan and zoom.
So the map comes in two parts (:class:`MapParts`): a *base* that depends only on the school, the
window and its families (school, rings, family sectors, legend), and the *partner groups*, one
``FeatureGroup`` per layer with all its markers in one ``FastMarkerCluster`` data array, which
the page passes as ``feature_group_to_add``: a filter change swaps only those groups in the open
map, and the first of them (:class:`FitShown`) fits the view to the partners shown and the school.
The family areas have a pane of their own under the rings and the partners. Clustering is
client-side (Leaflet.markercluster); below ``[map] cluster_above`` partners it is switched off
(``disableClusteringAtZoom``).

Escaping. folium inserts tooltip and popup text raw into HTML, inside a JavaScript template
literal where ``${...}`` runs. Every user string goes through :func:`safe_text` (HTML-escaped,
with backtick, ``$`` and backslash as entities) and partner data travel as JSON (Jinja's
``tojson`` escapes ``<``, ``>`` and ``&``). Partners have tooltips, no popups.

>>> safe_text("<img src=x onerror=alert(1)>"), safe_text("${alert(1)}`")
('&lt;img src=x onerror=alert(1)&gt;', '&#36;&#123;alert(1)&#125;&#96;')
"""

from __future__ import annotations

import datetime
import html
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import folium
import numpy as np
import pandas as pd
from branca.element import CssLink, Element, Figure, JavascriptLink, MacroElement
from folium.map import FitBounds
from folium.plugins import FastMarkerCluster
from folium.template import Template

from engagement import disclosure, geo, privacy
from engagement import store as db
from engagement.frames import Frames, load_school_frames
from engagement.scoring import reached_families
from engagement.settings import MapSettings, load_settings
from engagement.terms import default_window
from engagement.typology import LOCAL_OFFER, load_typology

STATIC_DIR = db.PROJECT_DIR / "static"
VENDOR = "vendor"
DEFAULT_ASSETS_URL = MapSettings.model_fields["assets_url"].default

SHAPES = {"agencies": "square", "businesses": "triangle", "community": "circle"}
SHAPE_SVG = {  # 20x20 view box; filled or hollow is set on the element
    "circle": '<circle cx="10" cy="10" r="7.5"/>',
    "square": '<rect x="3" y="3" width="14" height="14" rx="1.5"/>',
    "triangle": '<path d="M10 2 L18 17 L2 17 Z"/>',
    "diamond": '<path d="M10 1.5 L18.5 10 L10 18.5 L1.5 10 Z"/>',
}
SHAPE_ORDER = ("circle", "square", "triangle", "diamond")
# Reach of a postcode sector, light (none) to dark (all): a purple ramp apart from the layer hues.
REACH_RAMP = ("#f3e8f0", "#dcb9d3", "#c289b3", "#a05890", "#7a2d6b", "#4f0f45")
SCHOOL_COLOUR = "#111111"
FAMILY_OUTLINE = "#5b1f52"
# Leaflet's panes, bottom to top: tiles 200, overlays (the rings) 400, markers (partners and the
# school) 600, tooltips 650. The family areas go under all but the tiles.
FAMILY_PANE, FAMILY_PANE_Z = "familyAreas", 350


# ---------------------------------------------------------------- assets


def _asset_sources() -> dict[str, Path]:
    import xstatic.pkg.leaflet as leaflet
    import xstatic.pkg.leaflet_markercluster as cluster

    base, mc = Path(leaflet.BASE_DIR), Path(cluster.BASE_DIR)
    files = {
        "leaflet.js": base / "leaflet.js",
        "leaflet.css": base / "leaflet.css",
        "leaflet.markercluster.js": mc / "leaflet.markercluster.js",
        "MarkerCluster.css": mc / "MarkerCluster.css",
    }
    for image in sorted((base / "images").glob("*.png")):
        files[f"images/{image.name}"] = image
    return files


def assets_version() -> str:
    import xstatic.pkg.leaflet as leaflet
    import xstatic.pkg.leaflet_markercluster as cluster

    return f"leaflet {leaflet.VERSION}, markercluster {cluster.VERSION}"


def install_assets(static_dir: str | Path = STATIC_DIR) -> Path:
    """Copy Leaflet and Leaflet.markercluster from their pip packages into ``static/vendor``
    (only when missing or from another version); returns the vendor directory. Cheap when done."""
    target = Path(static_dir) / VENDOR
    stamp = target / "VERSION"
    version = assets_version()
    if stamp.exists() and stamp.read_text() == version:
        return target
    for name, source in _asset_sources().items():
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    stamp.write_text(version)
    return target


def _js(assets_url: str) -> list[tuple[str, str]]:
    return [("leaflet", f"{assets_url}/leaflet.js"), ("markerclusterjs", f"{assets_url}/leaflet.markercluster.js")]


def _css(assets_url: str) -> list[tuple[str, str]]:
    return [("leaflet_css", f"{assets_url}/leaflet.css"), ("markerclustercss", f"{assets_url}/MarkerCluster.css")]


class LocalMap(folium.Map):
    """A folium Map whose scripts and styles are the app's own (set per instance)."""

    def __init__(self, *args, assets_url: str = DEFAULT_ASSETS_URL, **kwargs):
        super().__init__(*args, **kwargs)
        # Markercluster comes with the base map so a filter that adds the first clusters
        # later finds it loaded (st_folium loads scripts only when the frame is created).
        self.default_js = _js(assets_url)
        self.default_css = _css(assets_url)


class _Rendered(Element):
    """Already-rendered script, added to the page as it is. branca would wrap it in a new Jinja
    template and compile it (70 ms for 5,000 partners, on every rerun; and evaluating any
    ``{{ }}`` left in the data)."""

    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


class LocalFastMarkerCluster(FastMarkerCluster):
    def __init__(self, *args, assets_url: str = DEFAULT_ASSETS_URL, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_js = _js(assets_url)[1:]
        self.default_css = _css(assets_url)[1:]

    def render(self, **kwargs):
        figure = cast(Figure, self.get_root())  # a map is always drawn into a branca Figure
        for name, url in self.default_js:
            figure.header.add_child(JavascriptLink(url), name=name)
        for name, url in self.default_css:
            figure.header.add_child(CssLink(url), name=name)
        figure.script.add_child(_Rendered(self._template.module.script(self, kwargs)), name=self.get_name())


# ---------------------------------------------------------------- text


def safe_text(value) -> str:
    """User text made inert for folium: HTML-escaped, and the characters that mean something in a
    JavaScript template literal (backtick, ``$``, backslash) or in a Jinja template (braces)
    written as entities."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = html.escape(str(value), quote=True)
    # Braces too: branca compiles every rendered script as a Jinja template again, so a name
    # holding "{{ ... }}" would be evaluated on the server.
    return (
        text.replace("\\", "&#92;")
        .replace("`", "&#96;")
        .replace("$", "&#36;")
        .replace("{", "&#123;")
        .replace("}", "&#125;")
    )


# ---------------------------------------------------------------- data


@dataclass
class FamilySectors:
    """Families by postcode sector, only sectors at or above the privacy threshold."""

    shown: pd.DataFrame  # sector, families, reached, reach, latitude, longitude
    hidden_families: int | None  # in small sectors, or with no known location (None: not told)
    threshold: int
    rounded: bool = False  # counts rounded for governors

    def for_governors(self) -> FamilySectors:
        """The sectors as governors see them: families and reached rounded to the threshold, a
        sector's reach hidden when its reached or unreached families are a small count, and the
        hidden families not counted (see :func:`engagement.privacy.governor_row`)."""
        shown = self.shown.copy()
        t = self.threshold
        small = [
            privacy.is_small(n, t) or privacy.is_small(f - n, t) for n, f in zip(shown["reached"], shown["families"])
        ]
        # A shown reach is coarsened beside the rounded counts, so it gives no denominator back
        # (engagement.disclosure, the rule for every governor's share).
        shown["reach"] = [float("nan") if hide else disclosure.coarse(r) for r, hide in zip(shown["reach"], small)]
        shown["families"] = [privacy.governor_count(n, t) for n in shown["families"]]
        shown["reached"] = [
            float("nan") if hide else privacy.governor_count(n, t) for n, hide in zip(shown["reached"], small)
        ]
        return FamilySectors(shown, None, t, rounded=True)


def family_sectors(
    store: db.Store,
    school_id: str,
    window: tuple[datetime.date, datetime.date],
    threshold: int | None = None,
    *,
    frames: Frames | None = None,
) -> FamilySectors:
    """Families of the school grouped by postcode sector, placed at the mean of their postcodes'
    gazetteer coordinates, with reach = families reached in the window ÷ families of the sector.
    A sector with fewer than ``threshold`` families (config privacy threshold) is never returned:
    its families only add to ``hidden_families``.

    Families and reach are the Overview's own: the families on roll in ``frames`` (the school's,
    read from ``store`` when not given) and :func:`engagement.scoring.reached_families`, so the
    sectors add up to the family reach the scores show. The store is read for coordinates only."""
    threshold = load_settings().privacy.suppression_threshold if threshold is None else threshold
    empty = pd.DataFrame(columns=["sector", "families", "reached", "reach", "latitude", "longitude"])
    frames = frames if frames is not None else load_school_frames(store, school_id)
    if school_id not in frames.school_ids:
        return FamilySectors(empty, 0, threshold)
    school = frames.school(school_id)
    fams = pd.DataFrame(
        {
            "family_id": school.families["family_id"],
            "postcode": school.families["postcode"],
            "reached": reached_families(school, *window),
        }
    )
    if fams.empty:
        return FamilySectors(empty, 0, threshold)
    fams["postcode"] = fams["postcode"].map(geo.normalise_postcode)
    fams["sector"] = fams["postcode"].map(geo.postcode_sector)
    where = geo.gazetteer_lookup(store, fams["postcode"].dropna().unique())
    fams["latitude"] = fams["postcode"].map(lambda pc: where.get(pc, (np.nan, np.nan))[0])
    fams["longitude"] = fams["postcode"].map(lambda pc: where.get(pc, (np.nan, np.nan))[1])
    grouped = (
        fams.dropna(subset=["sector"])
        .groupby("sector")
        .agg(
            families=("family_id", "size"),
            reached=("reached", "sum"),
            latitude=("latitude", "mean"),
            longitude=("longitude", "mean"),
        )
        .reset_index()
    )
    ok = (grouped["families"] >= threshold) & grouped["latitude"].notna()
    shown = grouped[ok].copy()
    shown["reach"] = shown["reached"] / shown["families"]
    hidden = int(len(fams) - shown["families"].sum())
    return FamilySectors(
        shown[["sector", "families", "reached", "reach", "latitude", "longitude"]]
        .sort_values("sector")
        .reset_index(drop=True),
        hidden,
        threshold,
    )


def partners_at(
    partners: pd.DataFrame, lat: float, lng: float, tooltip: str | None = None, tolerance: float = 1e-6
) -> pd.DataFrame:
    """The partners drawn at a clicked point (a marker click reports the marker's own position);
    when several share the point, the clicked tooltip's first line narrows them to its name."""
    here = partners[
        ((partners["latitude"] - lat).abs() <= tolerance) & ((partners["longitude"] - lng).abs() <= tolerance)
    ]
    if len(here) > 1 and tooltip:
        named = here[[tooltip.strip().startswith(str(n).strip()) for n in here["name"]]]
        if len(named):
            return named
    return here


# ---------------------------------------------------------------- the folium map


STALE_COLOUR = "#8b1a1a"  # dark red: apart from every layer colour and the orange of "not engaged"
LOCAL_OFFER_COLOUR = "#56B4E9"  # sky blue (Okabe-Ito): apart from the layer colours, as in the charts


def _shape_svg(shape: str, colour: str, filled: bool, size: int = 20, stale: bool = False) -> str:
    fill, stroke, width = (colour, "#1a1a1a", 1.4) if filled else ("#ffffff", colour, 3)
    # A partner due for a check wears a dashed dark-red ring around its usual shape.
    ring = (
        (f'<circle cx="10" cy="10" r="9" fill="none" stroke="{STALE_COLOUR}" stroke-width="2" stroke-dasharray="3 2"/>')
        if stale
        else ""
    )
    inner = f'<g transform="translate(3 3) scale(0.7)">{SHAPE_SVG[shape]}</g>' if stale else SHAPE_SVG[shape]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 20 20">'
        f'<g fill="{fill}" stroke="{stroke}" stroke-width="{width}">{inner}</g>{ring}</svg>'
    )


def _marker_callback(colour: str, categories: list[str], statuses: list[str], size: int = 20) -> str:
    """The JavaScript that makes one marker from a data row (see :func:`_marker_data`). Icons are
    built once per shape and fill, from fixed SVG (no user text). The tooltip is put together
    here from the row's figures and the group's escaped ``categories`` and ``statuses``: sent as
    finished HTML it was two thirds of the page (1 MB at 5,000 partners) and 0.3 s of the time
    to first markers. The name (escaped) is unescaped into the marker's ``title``, its accessible
    name, which Leaflet sets as a DOM property: text, never parsed as HTML."""
    icons = {
        f"{shape}{int(filled)}{stale}": _shape_svg(shape, colour, filled, size, bool(stale))
        for shape in SHAPE_ORDER
        for filled in (True, False)
        for stale in (0, 1)
    }
    half = size // 2
    return (
        "(function () {"
        f" var svg = {json.dumps(icons)}; var cache = {{}};"
        f" var cats = {json.dumps([safe_text(c) for c in categories])};"
        f" var stats = {json.dumps([safe_text(v) for v in statuses])};"
        # The name arrives escaped like every user string; undone here for the title property.
        " var plain = function (s) { return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>')"
        ".replace(/&quot;/g, '\"').replace(/&#x27;/g, \"'\").replace(/&#(\\d+);/g, function (m, n) {"
        " return String.fromCharCode(+n); }).replace(/&amp;/g, '&'); };"
        " var tip = function (row) {"
        "  var t = '<b>' + row[4] + '</b><br>' + cats[row[5]] + ' \u00b7 layer ' + row[6];"
        "  if (row[7] !== null) { t += ' \u00b7 ' + row[7].toFixed(1) + ' km'; }"
        "  t += row[3] ? '<br>' + row[8] + ' contact' + (row[8] === 1 ? '' : 's') + ' in the window'"
        "   + (row[9] ? ', last ' + row[9] : '') : '<br>no contact in the window';"
        "  t = stats[row[10]] === 'active' ? t : t + '<br>' + stats[row[10]];"
        "  return row[11] ? t + '<br>due for a check' : t; };"
        " return function (row) {"
        "  var k = row[2] + row[3] + (row[11] ? 1 : 0);"
        f"  var icon = cache[k] || (cache[k] = L.divIcon({{html: svg[k], className: 'partner-mark',"
        f" iconSize: [{size}, {size}], iconAnchor: [{half}, {half}]}}));"
        "  return L.marker([row[0], row[1]], {icon: icon, riseOnHover: true, title: plain(row[4])})"
        f"   .bindTooltip(tip(row), {{direction: 'top', offset: [0, -{half}], className: 'partner-tip'}});"
        " }; })()"
    )


def _marker_data(rows: pd.DataFrame) -> tuple[list[list], list[str], list[str]]:
    """One compact row per partner for the map's script: [lat, lng, shape, engaged (0/1), name
    (escaped), category index, layer, distance km (1 dp, or null), contacts in the window, last
    contact (dd/mm/yyyy or ""), status index, due for a check (0/1)], with the category and status
    lists the indexes point into."""
    rows = rows if "map_label" in rows else with_marker_text(rows)
    categories = pd.Categorical(rows["category"].fillna("").astype(str))
    statuses = pd.Categorical(rows["status"].fillna("").astype(str))
    # Python's round, as the record beside the map formats it (numpy's rounds 1.05 to 1.0).
    distance = [None if d != d or d is None else round(float(d), 1) for d in rows["distance_km"].tolist()]
    data = [
        list(t)
        for t in zip(
            rows["latitude"].astype(float).round(6).tolist(),
            rows["longitude"].astype(float).round(6).tolist(),
            rows["segment"].map(lambda v: SHAPES.get(v, "diamond")).tolist(),
            rows["engaged"].astype(bool).astype(int).tolist(),
            rows["map_label"].tolist(),
            categories.codes.tolist(),
            rows["layer"].astype(int).tolist(),
            distance,
            rows["interactions"].fillna(0).astype(int).tolist(),
            rows["map_last"].tolist(),
            statuses.codes.tolist(),
            (rows["stale"].fillna(False).astype(bool).astype(int).tolist() if "stale" in rows else [0] * len(rows)),
            strict=True,
        )
    ]
    return data, list(categories.categories), list(statuses.categories)


def _cluster_icon(colour: str) -> str:
    return (
        "function (cluster) { var n = cluster.getChildCount();"
        " var s = n < 10 ? 30 : (n < 100 ? 36 : 44);"
        f" return L.divIcon({{html: '<div style=\"background:{colour};width:' + s + 'px;height:' + s + 'px;"
        "line-height:' + s + 'px\">' + n + '</div>', className: 'partner-cluster', iconSize: [s, s]}); }"
    )


def with_marker_text(partners: pd.DataFrame) -> pd.DataFrame:
    """``partners`` with each marker's escaped name (``map_label``) and last contact as text
    (``map_last``) worked out once, so a page that caches this table does not escape 5,000
    names on every filter change. :func:`build_map` uses them when present."""
    last = [
        f"{d:%d/%m/%Y}" if isinstance(d, datetime.date) and engaged else ""
        for d, engaged in zip(partners["last_contact"], partners["engaged"])
    ]
    return partners.assign(map_label=partners["name"].map(safe_text), map_last=last)


class IconPath(MacroElement):
    """Points Leaflet's default marker images at the app's copy: a folium Marker is created with
    the default icon before its DivIcon is set, and Leaflet would guess the path wrongly."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            L.Icon.Default.imagePath = {{ this.path|tojson }};
        {% endmacro %}
    """)

    def __init__(self, path: str):
        super().__init__()
        self._name = "IconPath"
        self.path = path


# Leaflet's habits that hurt inside Streamlit's component frame, patched once per map.
#
# Focus. Leaflet focuses the map on the first mousedown (for its arrow-key panning) without
# ``preventScroll``; when the frame is partly below the fold, Chrome scrolls the page to show the
# whole map, the marker moves away under the pointer, and the click lands on empty map: the first
# click was lost (Leaflet issues 1228, 1605, 5392; streamlit-folium 177). Focusing with
# ``preventScroll`` keeps the keyboard working and the page still.
#
# Tooltips. A tooltip above a marker near the map's edge ran out of the map and was cut off
# (the map clips its panes). One that would leave the map is put on the side with room (right of
# a marker near the left edge, left near the right edge, below near the top), and then moved
# inside the map if it still does not fit. Sticky tooltips (the family sectors) follow the pointer
# and are left to Leaflet.
LEAFLET_FIXES_JS = """
(function () {
  if (L.__engagementFixes) { return; }
  L.__engagementFixes = true;
  L.__leafletMouseDown = L.Map.Keyboard.prototype._onMouseDown;
  L.Map.Keyboard.prototype._onMouseDown = function () {
    if (!this._focused) { this._map._container.focus({preventScroll: true}); }
  };
  var place = L.Tooltip.prototype._setPosition;
  var outside = function (tooltip) {
    var map = tooltip._map, c = tooltip._container, size = map.getSize();
    var at = map.layerPointToContainerPoint(L.DomUtil.getPosition(c));
    return {at: at, left: -at.x, right: at.x + c.offsetWidth - size.x, top: -at.y,
            bottom: at.y + c.offsetHeight - size.y};
  };
  L.Tooltip.prototype._setPosition = function (pos) {
    place.call(this, pos);
    if (!this._map || this.options.sticky) { return; }
    var o = outside(this);
    if (o.left <= 0 && o.right <= 0 && o.top <= 0 && o.bottom <= 0) { return; }
    var wanted = this.options.direction, offset = this.options.offset;
    var gap = Math.max(Math.abs(L.point(offset).x), Math.abs(L.point(offset).y));
    var side = o.left > 0 ? 'right' : (o.right > 0 ? 'left' : (o.top > 0 ? 'bottom' : 'top'));
    this.options.direction = side;
    this.options.offset = {right: [gap, 0], left: [-gap, 0], bottom: [0, gap], top: [0, -gap]}[side];
    place.call(this, pos);
    this.options.direction = wanted;
    this.options.offset = offset;
    o = outside(this);
    var dx = o.left > 0 ? o.left : (o.right > 0 ? -o.right : 0);
    var dy = o.top > 0 ? o.top : (o.bottom > 0 ? -o.bottom : 0);
    if (dx || dy) {
      L.DomUtil.setPosition(this._container, L.DomUtil.getPosition(this._container).add([dx, dy]));
    }
  };
})();
"""


class LeafletFixes(MacroElement):
    """Adds :data:`LEAFLET_FIXES_JS` to the map's script: focus without scrolling the page, and
    tooltips kept inside the map."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            {{ this.js }}
            (function (map) {
              // The map bound the old handler when it was made: swap it for the patched one.
              if (!map.keyboard || !map.keyboard.enabled()) { return; }
              L.DomEvent.off(map.getContainer(), 'mousedown', L.__leafletMouseDown, map.keyboard);
              L.DomEvent.on(map.getContainer(), 'mousedown', map.keyboard._onMouseDown, map.keyboard);
            })({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self):
        super().__init__()
        self._name = "LeafletFixes"
        self.js = LEAFLET_FIXES_JS


class FitShown(MacroElement):
    """Fits the map to the partners shown and the school: added to a partner group, so it runs
    when a filter swaps the groups in the open map (st_folium's ``feature_group_to_add``), where
    a change to the base map would draw a new map and lose the reader's pan and zoom. folium's
    own ``FitBounds`` would call ``fitBounds`` on the group, not the map (streamlit-folium issue
    152), hence the map by name. It fits only when the view it wants has changed since it last
    fitted, so a filter that keeps the same view, or a rerun, leaves the reader's pan and zoom
    alone. Not animated, as the base map's fit (see :func:`build_map`)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            (function (map) {
              var bounds = {{ this.bounds|tojson }};
              var key = JSON.stringify(bounds);
              if (map.__engagementFitted === key) { return; }
              map.__engagementFitted = key;
              map.fitBounds(bounds, {animate: false});
            })({{ this._parent._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, bounds: list[list[float]]):
        super().__init__()
        self._name = "FitShown"
        self.bounds = [[round(float(v), 6) for v in corner] for corner in bounds]


class Legend(MacroElement):
    """The map's key, as HTML beside the map (every label escaped)."""

    _template = Template("""
        {% macro header(this, kwargs) %}
        <style>
          .map-legend {position: absolute; left: 8px; bottom: 34px; z-index: 1000; background: rgba(255,255,255,.94);
            border: 1px solid #777; border-radius: 6px; padding: 6px 9px; font: 13px/1.3 sans-serif;
            color: #111; box-shadow: 0 1px 4px rgba(0,0,0,.3); max-width: 300px;}
          .map-legend summary {font-weight: bold; cursor: pointer;}
          .map-legend .kh {margin: 5px 0 2px; font-size: 13px; font-weight: bold;}
          .map-legend .grid {display: grid; grid-template-columns: auto auto; column-gap: 10px;}
          .map-legend .row {display: flex; align-items: center; gap: 5px; margin: 1px 0;}
          .map-legend .sw {display: inline-block; width: 13px; height: 13px; border: 1px solid #333; border-radius: 2px;}
          .map-legend .ramp {display: inline-block; width: 90px; height: 10px; border: 1px solid #555;}
          .map-legend .note {font-size: 12px; color: #333; margin-top: 3px;}
          {{ this.shape_css }}
          .partner-mark {background: none; border: none;}
          .partner-cluster div {border-radius: 50%; color: #fff; font: bold 14px sans-serif; text-align: center;
            border: 2px solid #fff; box-shadow: 0 0 0 1.5px #333; text-shadow: 0 0 2px #000;}
          .ring-label {background: none; border: none; font: bold 13px sans-serif; color: #222;
            text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 3px #fff; white-space: nowrap;}
          .partner-tip, .sector-tip {font-size: 13px;}
        </style>
        {% endmacro %}
        {% macro html(this, kwargs) %}
        {% if this.body %}<div class="map-legend" id="map-legend"><details open><summary>Key</summary>{{ this.body }}</details></div>{% endif %}
        {% endmacro %}
    """)

    def __init__(self, body: str):
        super().__init__()
        self._name = "Legend"
        self.body = body
        self.shape_css = _SHAPE_CSS.format(scope=".map-legend")


def _key_shape(shape: str, colour: str = "#555555", filled: bool = True) -> str:
    """A shape for the key drawn with CSS (an inline SVG would be stripped by db.html's sanitiser)."""
    fill, border = (colour, "#1a1a1a") if filled else ("#ffffff", colour)
    return f'<span class="shape {shape}" style="background:{fill};border-color:{border}"></span>'


def _legend_body(typology, layers: list[int], sectors: FamilySectors | None, window) -> str:
    rows = ['<div class="kh">Partners: colour is the layer</div>']
    for layer in layers:
        colour = typology.layer_colour(layer)
        rows.append(
            f'<div class="row"><span class="sw" style="background:{safe_text(colour)}"></span>'
            f"{layer}: {safe_text(typology.layer_name(layer))}</div>"
        )
    rows.append('<div class="kh">Shape is the segment</div><div class="grid">')
    for segment, shape in SHAPES.items():
        label = typology.segments.get(segment, {}).get("label", segment)
        rows.append(f'<div class="row">{_key_shape(shape)} {safe_text(label)}</div>')
    rows.append(f'<div class="row">{_key_shape("school", SCHOOL_COLOUR)} the school</div></div>')
    rows.append(
        f'<div class="grid"><div class="row">{_key_shape("circle")} contacted</div>'
        f'<div class="row">{_key_shape("circle", "#555555", False)} not contacted</div></div>'
    )
    months = load_settings().directory.stale_after_months
    rows.append(
        f'<div class="row"><span class="stale-ring" style="border-color:{STALE_COLOUR}"></span>'
        f" dashed ring: due for a check (not checked for over {months} months)</div>"
    )
    if sectors is not None:
        ramp = ", ".join(REACH_RAMP)
        rows.append('<div class="kh">Families by postcode sector</div>')
        rows.append(
            f'<div class="row">size: families; reach 0% <span class="ramp" '
            f'style="background:linear-gradient(90deg,{ramp})"></span> 100%</div>'
        )
        if sectors.hidden_families is None:
            # For governors the number is not given: with the roll and the drawn sectors it would
            # complete a subtraction.
            rows.append(
                f'<div class="note">Not shown: families in sectors of fewer than {sectors.threshold} '
                "or with no known location.</div>"
            )
        elif sectors.hidden_families:
            n = sectors.hidden_families
            count = f"fewer than {sectors.threshold}" if n < sectors.threshold else f"{n}"
            rows.append(
                f'<div class="note">Not shown: {count} families in sectors of fewer than '
                f"{sectors.threshold} or with no known location.</div>"
            )
    start, end = window
    rows.append(
        f'<div class="note">Contact window {start:%d/%m/%Y} to {end:%d/%m/%Y}. '
        "Dashed rings: distance from the school.</div>"
    )
    return "".join(rows)


_SHAPE_CSS = """
{scope} .shape {{display: inline-block; width: 14px; height: 14px; box-sizing: border-box; border: 2px solid;}}
{scope} .shape.circle {{border-radius: 50%;}}
{scope} .stale-ring {{display: inline-block; width: 14px; height: 14px; box-sizing: border-box; border: 2px dashed;
  border-radius: 50%;}}
{scope} .shape.square {{border-radius: 2px;}}
{scope} .shape.triangle {{clip-path: polygon(50% 0, 100% 100%, 0 100%); border: none;}}
{scope} .shape.diamond {{clip-path: polygon(50% 0, 100% 50%, 50% 100%, 0 50%); border: none;}}
{scope} .shape.school {{clip-path: polygon(50% 0, 100% 38%, 100% 100%, 0 100%, 0 38%); border: none;}}
"""


KEY_CSS = """
.map-key {font: 14px/1.35 sans-serif; color: #111;}
.map-key .kh {margin: 6px 0 2px; font-size: 14px; font-weight: 700;}
.map-key .grid {display: grid; grid-template-columns: auto auto; column-gap: 12px;}
.map-key .row {display: flex; align-items: center; gap: 6px; margin: 1px 0;}
.map-key .sw {display: inline-block; width: 14px; height: 14px; border: 1px solid #333; border-radius: 2px;}
.map-key .ramp {display: inline-block; width: 100px; height: 11px; border: 1px solid #555;}
.map-key .note {font-size: 13px; color: #333; margin-top: 4px;}
""" + _SHAPE_CSS.format(scope=".map-key")


def legend_html(sectors: FamilySectors | None, window) -> str:
    """The map's key as HTML (fixed text and escaped labels only), for beside the map or in it."""
    typology = load_typology()
    return _legend_body(typology, [n for n in sorted(typology.layers) if n != 1], sectors, window)


def _school_svg(size: int = 26) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 26 26">'
        f'<path d="M13 2 L24 10 L24 24 L2 24 L2 10 Z" fill="{SCHOOL_COLOUR}" stroke="#fff" stroke-width="1.5"/>'
        '<rect x="10" y="15" width="6" height="9" fill="#fff"/></svg>'
    )


def _reach_colour(reach: float) -> str:
    idx = min(len(REACH_RAMP) - 1, max(0, int(reach * len(REACH_RAMP))))
    return REACH_RAMP[idx]


@dataclass
class MapParts:
    """A map in the two parts st_folium needs: the ``base`` (fixed while only filters change) and
    the partner ``groups`` (one FeatureGroup per layer) with a ``control`` to toggle them."""

    base: folium.Map
    groups: list[folium.FeatureGroup] = field(default_factory=list)
    control: folium.LayerControl | None = None
    shown: int = 0

    def html(self) -> str:
        """The whole map as one standalone HTML page (groups and control added to the base)."""
        for group in self.groups:
            group.add_to(self.base)
        if self.control is not None:
            self.control.add_to(self.base)
        return self.base.get_root().render()


def initial_bounds(school: dict, partners: pd.DataFrame, rings_km) -> list[list[float]]:
    """A view centred on the school that holds it and the ``partners`` within the largest ring
    (all of them when none is that near), never tighter than the 1 km ring. From all the school's
    partners it is where the map opens (the base map's fit, which filters do not move); from the
    partners a filter shows, it is the view the map then fits to (:class:`FitShown`)."""
    lat0, lon0 = float(school["latitude"]), float(school["longitude"])
    outer = max(rings_km) if rings_km else 5.0
    placed = partners.dropna(subset=["latitude", "longitude"])
    distance = (
        placed["distance_km"]
        if "distance_km" in placed
        else pd.Series(geo.distance_km(lat0, lon0, placed["latitude"], placed["longitude"]), index=placed.index)
    )
    near = distance[distance <= outer]
    near = near if len(near) else distance
    reach_km = max(1.0, float(near.max()) if len(near) else 1.0)
    dlat = reach_km / 111.2
    dlon = reach_km / (111.2 * math.cos(math.radians(lat0)))
    return [[lat0 - dlat, lon0 - dlon], [lat0 + dlat, lon0 + dlon]]


def build_map(
    school: dict,
    partners: pd.DataFrame,
    sectors: FamilySectors | None = None,
    *,
    window: tuple[datetime.date, datetime.date] | None = None,
    bounds=None,
    settings: dict | None = None,
    legend: bool = True,
) -> MapParts:
    """The Partner map for ``school`` (a row of the schools table, placed) showing ``partners``
    (rows of :func:`partner_table`, already filtered) and family ``sectors``."""
    # Overrides (a test without tiles, the bench) are checked like the settings file itself.
    cfg = MapSettings.model_validate({**load_settings().map.model_dump(), **(settings or {})})
    typology = load_typology()
    window = window or default_window()
    assets = cfg.assets_url
    lat0, lon0 = float(school["latitude"]), float(school["longitude"])
    tiles_url = cfg.tiles_url
    # maxZoom on the map itself: markercluster needs it, and with no tile layer nothing else sets it.
    base = LocalMap(
        location=[lat0, lon0],
        zoom_start=14,
        tiles=None,
        control_scale=True,
        maxZoom=19,
        prefer_canvas=False,
        assets_url=assets,
    )
    IconPath(f"{assets}/images/").add_to(base)
    LeafletFixes().add_to(base)
    if tiles_url:
        folium.TileLayer(
            tiles=tiles_url, attr=cfg.tiles_attribution, name="Street map", max_zoom=19, control=False
        ).add_to(base)
    # Not animated: the map is already drawn at zoom_start, and an animated fit would end after
    # the partners are clustered, making Leaflet.markercluster cluster them all again with
    # animations (measured: 2.3 s to first markers at 5,000 partners, 0.9 s without).
    fit = FitBounds(bounds or initial_bounds(school, partners, cfg.rings_km))
    fit.options["animate"] = False
    base.add_child(fit, name="fit_bounds")

    rings = folium.FeatureGroup(name="Distance rings", control=False).add_to(base)
    for km in sorted(cfg.rings_km):
        folium.Circle(
            [lat0, lon0],
            radius=float(km) * 1000,
            color="#333333",
            weight=1.5,
            dash_array="6 5",
            fill=False,
            interactive=False,
        ).add_to(rings)
        label = f"{km:g} km"
        folium.Marker(
            [lat0 + float(km) / 111.2, lon0],
            interactive=False,
            keyboard=False,
            icon=folium.DivIcon(
                html=f"<span>{safe_text(label)}</span>",
                class_name="ring-label",
                icon_size=(60, 16),
                icon_anchor=(30, 8),
            ),
        ).add_to(rings)

    if sectors is not None and len(sectors.shown):
        # The family areas in a pane of their own under the partners' (Leaflet's markerPane, 600)
        # and the rings' (overlayPane, 400): big discs over small marks hid the partners.
        folium.map.CustomPane(FAMILY_PANE, z_index=FAMILY_PANE_Z, pointer_events=True).add_to(base)
        fam = folium.FeatureGroup(name="Families by postcode sector", control=False).add_to(base)
        biggest = max(1, int(sectors.shown["families"].max()))
        for row in sectors.shown.itertuples(index=False):
            radius = 8 + 22 * math.sqrt(row.families / biggest)
            known = row.reach == row.reach  # NaN: hidden from governors (privacy.governor_row)
            reach = f"reach {row.reach:.0%} (two-way contact in the window)" if known else "reach not shown"
            about = "about " if sectors.rounded else ""
            tip = f"<b>Postcode sector {safe_text(row.sector)}</b><br>{about}{int(row.families)} families<br>{reach}"
            circle = folium.CircleMarker(
                [row.latitude, row.longitude],
                radius=radius,
                color=FAMILY_OUTLINE,
                weight=1.5,
                fill=True,
                fill_color=_reach_colour(row.reach) if known else "#bbbbbb",
                fill_opacity=0.6,
                tooltip=folium.Tooltip(tip, class_name="sector-tip"),
            )
            circle.options["pane"] = FAMILY_PANE  # folium's path options drop a "pane" argument
            circle.add_to(fam)

    folium.Marker(
        [lat0, lon0],
        keyboard=False,
        z_index_offset=1000,
        title="The school",
        icon=folium.DivIcon(html=_school_svg(), class_name="partner-mark", icon_size=(26, 26), icon_anchor=(13, 20)),
        tooltip=folium.Tooltip(f"<b>{safe_text(school['name'])}</b><br>the school"),
    ).add_to(base)
    # The page draws the key beside the map (inside, it would hide partners); a saved map keeps it.
    Legend(legend_html(sectors, window) if legend else "").add_to(base)

    parts = MapParts(base=base)
    placed = partners.dropna(subset=["latitude", "longitude"])
    parts.shown = len(placed)
    # The view fits what is shown ("within 1 km" zooms to the 1 km ring): an invisible group of
    # its own, first, so it is there even when no partner is shown.
    view = folium.FeatureGroup(name="View", control=False)
    FitShown(initial_bounds(school, placed, cfg.rings_km)).add_to(view)
    parts.groups.append(view)
    cluster = len(placed) > cfg.cluster_above
    # The local offer (the authority's directory, not yet the school's partners) is a layer of its
    # own, switched on and off apart from the school's partners.
    local = (placed["status"] == LOCAL_OFFER).to_numpy() if "status" in placed else np.zeros(len(placed), bool)
    groups = [
        (
            placed[(placed["layer"] == layer).to_numpy() & ~local],
            typology.layer_colour(layer),
            f"Layer {layer}: {typology.layer_name(layer)}",
        )
        for layer in sorted(typology.layers)
        if layer != 1
    ]
    groups.append((placed[local], LOCAL_OFFER_COLOUR, "Local offer: the authority's directory, not yet partners"))
    for rows, colour, title in groups:
        if rows.empty:
            continue
        data, categories, statuses = _marker_data(rows)
        group = folium.FeatureGroup(name=safe_text(f"{title} ({len(rows)})"))
        # No chunkedLoading: its pauses between chunks delayed the first clusters by 0.15 s at
        # 5,000 partners, and a school's partners are far fewer.
        options = (
            {
                "maxClusterRadius": 45,
                "disableClusteringAtZoom": 17,
                "showCoverageOnHover": False,
                "spiderfyOnMaxZoom": False,
            }
            if cluster
            else {"disableClusteringAtZoom": 1, "showCoverageOnHover": False}
        )
        LocalFastMarkerCluster(
            data,
            callback=_marker_callback(colour, categories, statuses),
            icon_create_function=_cluster_icon(colour),
            control=False,
            assets_url=assets,
            **options,
        ).add_to(group)
        parts.groups.append(group)
    parts.control = folium.LayerControl(collapsed=False, position="topright")
    return parts
