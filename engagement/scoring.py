"""The engagement metrics of the design: how well a school reaches its families, agencies,
businesses and community in a window of dates, whether that reach is equitable, which layers and
categories of its community are covered, and a 0-100 score per segment built from parts that
add up to it.

Everything here is plain pandas and numpy over :class:`engagement.frames.Frames`, computed for
every school of the frames at once (so an authority's 400 cards are one pass, not 400). Windows
are inclusive dates. Weights, scaling and the suppression threshold come from the settings (:mod:`engagement.settings`).

Decisions the design leaves open, made here:

- **Two-way** is the stored ``two_way`` column of each interaction, never the activity's default.
- **Breadth** counts the distinct Epstein types of a family's *two-way* interactions: a newsletter
  pushed to every home says nothing about how a family takes part.
- **Regularity, breadth, recency** are over reached families; with none reached they are empty
  (null) and score 0.
- **School days**: recency counts the school days (of the school's calendar, :mod:`engagement.terms`)
  after a family's last two-way contact up to the window's end, so a half-term or the summer
  holiday adds nothing; regularity's months are *school months*, runs of ``school_month_days``
  (20) school days from the window's start (a contact on a non-school day counts with the school
  day before it), so two windows of as many school days hold as many months. Without a calendar
  given, the default terms for England apply.
- **Partners**: listed = status active or prospective (never lapsed); engaged = listed with at least
  one interaction of any kind in the window; interactions with lapsed partners count nowhere.
- **Category and layer coverage** use the typology's categories; a category belongs to its
  typology layer and segment (a partner's own layer override moves its mark on the diagram, not
  the category's coverage).
- **Privacy**: a count of families under the threshold is never shown. An equity entry is
  suppressed whole (group, rest, both reaches, gap and parity are null) when either side is under
  it, since the on-roll total shown beside it would give the small side away. When a school has
  fewer families on roll than the threshold, every family figure and the family score are null,
  and the overall score is the weighted mean of the partner segments.

Figures only: which windows there are (the default one, the previous one, terms and months) is
for :mod:`engagement.terms` to say, and :mod:`engagement.explanations` puts a score into words.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from engagement.frames import FLAGS, Frames
from engagement.settings import Settings, load_settings
from engagement.terms import Calendar, default_calendar, periods, previous_window
from engagement.typology import LISTED_STATUSES, PARTNER_LAYERS, PARTNER_SEGMENTS, SEGMENTS, load_typology

FAMILY_COMPONENTS = ("reach", "informed_reach", "regularity", "breadth", "recency")
PARTNER_COMPONENTS = ("reach", "intensity", "category_coverage")
# How each figure is rounded wherever it leaves this module (FORMATS.md: rates 4, scores 1).
_DIGITS = {
    "reach": 4,
    "informed_reach": 4,
    "regularity": 4,
    "breadth": 2,
    "recency_days": 1,
    "score": 1,
    "group_reach": 4,
    "rest_reach": 4,
    "gap_pp": 1,
    "parity": 4,
    "interactions_per_engaged": 2,
    "category_coverage": 4,
    "coverage": 4,
    "overall": 1,
}
_COUNTS = {"on_roll", "reached", "group", "rest", "listed", "engaged", "categories", "covered"}


def _day(value) -> int:
    return int(np.datetime64(value, "D").astype(np.int64))


def _weights(section: dict, names: Iterable[str]) -> np.ndarray:
    w = np.array([float(section.get(n, 0.0)) for n in names])
    total = w.sum()
    return w / total if total > 0 else w


def _ratio(num, den) -> np.ndarray:
    num, den = np.asarray(num, float), np.asarray(den, float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


Calendars = Calendar | Mapping[str, Calendar] | None


def _school_days_through(
    frames: Frames, calendars: Calendars, days: np.ndarray, schools: np.ndarray, settings: Settings | None = None
) -> np.ndarray:
    """For each day number, the school days on or before it in the calendar of the school (a
    position in ``frames.schools``) beside it: one calendar for all, or one per school_id (the
    default terms for England for a school without one)."""
    days = np.asarray(days, dtype=np.int64)
    if calendars is None or isinstance(calendars, Calendar):
        return (calendars or default_calendar(settings)).school_days_through(days)
    out = np.zeros(len(days), np.int64)
    groups: dict[int, tuple[Calendar, list[int]]] = {}
    for k, school_id in enumerate(frames.school_ids):
        cal = calendars.get(school_id) or default_calendar(settings)
        groups.setdefault(id(cal), (cal, []))[1].append(k)
    for cal, codes in groups.values():
        mine = np.isin(schools, codes)
        out[mine] = cal.school_days_through(days[mine])
    return out


def _family_flags(
    frames: Frames, start_day: int, end_day: int, calendars: Calendars = None, settings: Settings | None = None
):
    """Per family: informed, reached, regular, distinct Epstein types, school days from the last
    two-way contact to the window's end (meaningful for reached families)."""
    inter = frames.interactions
    n_fam = len(frames.families)
    fam_school = frames.families["school_id"].cat.codes.to_numpy().astype(np.int64)
    day = inter["day"].to_numpy()
    fam = inter["family"].to_numpy()
    sel = (day >= start_day) & (day <= end_day) & (fam >= 0)
    f = fam[sel]
    informed = np.zeros(n_fam, bool)
    informed[f] = True
    two_way = inter["two_way"].to_numpy()[sel]
    f2, d2 = f[two_way], day[sel][two_way]
    reached = np.zeros(n_fam, bool)
    reached[f2] = True
    # School months: the window's school days in runs of ``school_month_days``, counted from its start.
    month_days = (settings or load_settings()).calendar.school_month_days
    school_of = np.arange(len(frames.schools), dtype=np.int64)
    before = _school_days_through(frames, calendars, np.full(len(school_of), start_day - 1), school_of, settings)
    through_end = _school_days_through(frames, calendars, np.full(len(school_of), end_day), school_of, settings)
    n_months = max(1, int(-(-(through_end - before).max(initial=0) // month_days)))
    s2 = fam_school[f2]
    m2 = (
        np.clip(
            (_school_days_through(frames, calendars, d2, s2, settings) - before[s2] - 1) // month_days, 0, n_months - 1
        )
        if len(f2)
        else np.zeros(0, np.int64)
    )
    if n_fam * n_months <= 50_000_000:
        seen = np.zeros((n_fam, n_months), bool)
        seen[f2, m2] = True
        months = seen.sum(axis=1)
    else:  # a window of many years over many schools: count distinct pairs instead
        pairs = np.unique(f2.astype(np.int64) * n_months + m2)
        months = np.bincount(pairs // n_months, minlength=n_fam)
    e2 = inter["epstein"].cat.codes.to_numpy()[sel][two_way]
    known = e2 >= 0
    types = np.zeros((n_fam, len(inter["epstein"].cat.categories)), bool)
    types[f2[known], e2[known]] = True
    last = np.full(n_fam, np.iinfo(np.int64).min)
    np.maximum.at(last, f2, d2.astype(np.int64))
    last[~reached] = end_day  # no two-way contact, no gap: read for reached families only
    recency = through_end[fam_school] - _school_days_through(frames, calendars, last, fam_school, settings)
    return informed, reached, reached & (months >= 2), types.sum(axis=1), recency


def metrics(
    frames: Frames,
    start: datetime.date,
    end: datetime.date,
    settings: Settings | None = None,
    calendar: Calendars = None,
) -> pd.DataFrame:
    """Every figure of every school in ``frames`` for the window ``[start, end]``, one row per
    school (index: school_id), flat columns such as ``families.reach``,
    ``equity.send.gap_pp``, ``agencies.score``, ``layers.3.coverage``, ``overall``, plus the
    scaled components (``families.scaled.reach``) that the explanations use. Unrounded, and
    already suppressed: a figure under the threshold is NaN with its ``suppressed`` flag set.
    ``calendar`` (one for every school, or one per school_id) says which days are school days."""
    if end < start:
        raise ValueError(f"the window ends ({end}) before it starts ({start})")
    cfg = settings or load_settings()
    scaling = cfg.scoring.scaling
    threshold = cfg.privacy.suppression_threshold
    typology = load_typology()
    s, e = _day(start), _day(end)
    n_schools = len(frames.schools)
    out: dict[str, np.ndarray] = {}

    def per_school(codes, weights=None):
        return np.bincount(codes, weights=weights, minlength=n_schools).astype(float)

    # ---- families
    fam_school = frames.families["school_id"].cat.codes.to_numpy().astype(np.int64)
    informed, reached, regular, n_types, gap = _family_flags(frames, s, e, calendar, cfg)
    on_roll = per_school(fam_school)
    reached_n = per_school(fam_school, reached)
    recency = pd.Series(gap[reached].astype(float)).groupby(fam_school[reached]).median()
    out["families.on_roll"] = on_roll
    out["families.reached"] = reached_n
    out["families.reach"] = _ratio(reached_n, on_roll)
    out["families.informed_reach"] = _ratio(per_school(fam_school, informed), on_roll)
    out["families.regularity"] = _ratio(per_school(fam_school, regular), reached_n)
    out["families.breadth"] = _ratio(per_school(fam_school, n_types * reached), reached_n)
    out["families.recency_days"] = recency.reindex(range(n_schools)).to_numpy(float)
    fam_scaled = {
        "reach": np.nan_to_num(out["families.reach"]),
        "informed_reach": np.nan_to_num(out["families.informed_reach"]),
        "regularity": np.nan_to_num(out["families.regularity"]),
        "breadth": np.clip(np.nan_to_num(out["families.breadth"]) / scaling.breadth_full, 0, 1),
        "recency": np.where(
            np.isnan(out["families.recency_days"]),
            0.0,
            np.clip(1 - np.nan_to_num(out["families.recency_days"]) / scaling.recency_zero_days, 0, 1),
        ),
    }
    w = _weights(cfg.scoring.families.model_dump(), FAMILY_COMPONENTS)
    for name, weight in zip(FAMILY_COMPONENTS, w):
        out[f"families.scaled.{name}"] = fam_scaled[name]
        out[f"families.weight.{name}"] = np.full(n_schools, weight)
    out["families.score"] = 100 * sum(wi * fam_scaled[n] for n, wi in zip(FAMILY_COMPONENTS, w))
    small_school = on_roll < threshold
    out["families.suppressed"] = small_school
    for col in [c for c in out if c.startswith("families.") and c != "families.suppressed"]:
        out[col] = np.where(small_school, np.nan, out[col])

    # ---- equity
    for flag in FLAGS:
        in_group = frames.families[flag].to_numpy()
        group = per_school(fam_school, in_group)
        group_reached = per_school(fam_school, in_group & reached)
        rest, rest_reached = on_roll - group, reached_n - group_reached
        group_reach, rest_reach = _ratio(group_reached, group), _ratio(rest_reached, rest)
        hidden = (group < threshold) | (rest < threshold)
        figures = {
            "group": group,
            "rest": rest,
            "group_reach": group_reach,
            "rest_reach": rest_reach,
            "gap_pp": 100 * (group_reach - rest_reach),
            "parity": _ratio(group_reach, rest_reach),
        }
        for key, value in figures.items():
            out[f"equity.{flag}.{key}"] = np.where(hidden, np.nan, value)
        out[f"equity.{flag}.suppressed"] = hidden

    # ---- partners
    partners = frames.partners
    inter = frames.interactions
    day = inter["day"].to_numpy()
    par = inter["partner"].to_numpy()
    counts = np.bincount(par[(day >= s) & (day <= e) & (par >= 0)], minlength=len(partners))
    par_school = partners["school_id"].cat.codes.to_numpy().astype(np.int64)
    listed = partners["status"].isin(LISTED_STATUSES).to_numpy()
    engaged = listed & (counts > 0)
    segment = partners["segment"].cat.codes.to_numpy()
    cat_names = [c.name for c in typology.categories]
    # -1 for a category the typology no longer knows: it covers nothing. (A Categorical built with
    # such values warns in pandas 3 and is to raise.)
    cat_code = pd.Index(cat_names).get_indexer(partners["category"])
    covered = np.zeros((n_schools, len(cat_names)), bool)
    hit = engaged & (cat_code >= 0)
    covered[par_school[hit], cat_code[hit]] = True
    cat_segment = np.array([PARTNER_SEGMENTS.index(c.segment) for c in typology.categories])
    cat_layer = np.array([c.layer for c in typology.categories])
    pw = _weights(cfg.scoring.partners.model_dump(), PARTNER_COMPONENTS)
    for k, seg in enumerate(PARTNER_SEGMENTS):
        mine = listed & (segment == k)
        listed_n = per_school(par_school[mine])
        engaged_n = per_school(par_school[mine & engaged])
        inter_n = per_school(par_school[mine & engaged], counts[mine & engaged])
        of_segment = cat_segment == k
        out[f"{seg}.listed"] = listed_n
        out[f"{seg}.engaged"] = engaged_n
        out[f"{seg}.reach"] = _ratio(engaged_n, listed_n)
        out[f"{seg}.interactions_per_engaged"] = _ratio(inter_n, engaged_n)
        out[f"{seg}.category_coverage"] = _ratio(
            covered[:, of_segment].sum(axis=1), np.full(n_schools, of_segment.sum())
        )
        scaled = {
            "reach": np.nan_to_num(out[f"{seg}.reach"]),
            "intensity": np.clip(np.nan_to_num(out[f"{seg}.interactions_per_engaged"]) / scaling.intensity_full, 0, 1),
            "category_coverage": np.nan_to_num(out[f"{seg}.category_coverage"]),
        }
        for name, weight in zip(PARTNER_COMPONENTS, pw):
            out[f"{seg}.scaled.{name}"] = scaled[name]
            out[f"{seg}.weight.{name}"] = np.full(n_schools, weight)
        out[f"{seg}.score"] = 100 * sum(wi * scaled[n] for n, wi in zip(PARTNER_COMPONENTS, pw))

    # ---- layers
    for layer in PARTNER_LAYERS:
        of_layer = cat_layer == layer
        out[f"layers.{layer}.categories"] = np.full(n_schools, float(of_layer.sum()))
        out[f"layers.{layer}.covered"] = covered[:, of_layer].sum(axis=1).astype(float)
        out[f"layers.{layer}.coverage"] = _ratio(out[f"layers.{layer}.covered"], out[f"layers.{layer}.categories"])

    # ---- overall: a segment without a score (too few families to show) drops out of the mean
    ow = np.array([float(getattr(cfg.scoring.overall, seg)) for seg in SEGMENTS])
    seg_scores = np.vstack([out[f"{seg}.score"] for seg in SEGMENTS])
    present = ~np.isnan(seg_scores)
    weight_sum = (ow[:, None] * present).sum(axis=0)
    out["overall"] = _ratio((ow[:, None] * np.nan_to_num(seg_scores)).sum(axis=0), weight_sum)
    for k, seg in enumerate(SEGMENTS):
        out[f"overall.weight.{seg}"] = _ratio(ow[k] * present[k], weight_sum)
    return pd.DataFrame(out, index=pd.Index(frames.schools["school_id"], name="school_id"))


# ---------------------------------------------------------------- the card (FORMATS.md)


def rounded(key: str, value):
    """One figure as FORMATS.md prints it: None when missing, counts whole, the rest rounded
    (``key`` is the figure's last name: ``reach``, ``on_roll``, ``recency_days``...).

    >>> rounded("reach", 0.123456), rounded("on_roll", 20.0), rounded("recency_days", 12.0)
    (0.1235, 20, 12)
    >>> rounded("score", float("nan")) is None
    True
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if key in _COUNTS:
        return int(value)
    value = round(float(value), _DIGITS.get(key, 4))
    if key == "recency_days" and value == int(value):
        return int(value)
    return value


def card_from_row(row: dict, start: datetime.date, end: datetime.date) -> dict:
    """The ``score --json`` object from one row of :func:`metrics` (as a dict)."""
    fam_keys = ("on_roll", "reached", "reach", "informed_reach", "regularity", "breadth", "recency_days", "score")
    families = {k: rounded(k, row[f"families.{k}"]) for k in fam_keys}
    if row["families.suppressed"]:
        families["suppressed"] = True
    card = {"window": {"from": start.isoformat(), "to": end.isoformat()}, "families": families, "equity": {}}
    for flag in FLAGS:
        entry = {
            k: rounded(k, row[f"equity.{flag}.{k}"])
            for k in ("group", "rest", "group_reach", "rest_reach", "gap_pp", "parity")
        }
        entry["suppressed"] = bool(row[f"equity.{flag}.suppressed"])
        card["equity"][flag] = entry
    for seg in PARTNER_SEGMENTS:
        card[seg] = {
            k: rounded(k, row[f"{seg}.{k}"])
            for k in ("listed", "engaged", "reach", "interactions_per_engaged", "category_coverage", "score")
        }
    card["layers"] = {
        str(layer): {k: rounded(k, row[f"layers.{layer}.{k}"]) for k in ("categories", "covered", "coverage")}
        for layer in PARTNER_LAYERS
    }
    card["overall"] = rounded("overall", row["overall"])
    return card


def score_card(
    frames: Frames,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    settings: Settings | None = None,
    calendar: Calendar | None = None,
) -> dict:
    """The score card of one school for ``[start, end]``, exactly the ``score --json`` object.

    >>> from engagement.store import open_store, schools, families
    >>> from engagement.frames import load_school_frames
    >>> store = open_store("sqlite://")
    >>> with store.write(actor="doctest") as conn:
    ...     _ = conn.execute(schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
    ...     _ = conn.execute(families.insert(), [{"family_id": f"F{i}", "school_id": "S1"} for i in range(3)])
    >>> card = score_card(load_school_frames(store), "S1", datetime.date(2026, 9, 1), datetime.date(2026, 12, 19))
    >>> card["families"]["on_roll"], card["families"]["suppressed"], card["agencies"]["listed"]
    (None, True, 0)
    """
    sub = frames.school(school_id)
    row = metrics(sub, start, end, settings, calendar).iloc[0].to_dict()
    return card_from_row(row, start, end)


def score_cards(
    frames: Frames,
    start: datetime.date,
    end: datetime.date,
    settings: Settings | None = None,
    calendars: Calendars = None,
) -> dict[str, dict]:
    """Every school's card for ``[start, end]``, computed in one vectorised pass."""
    table = metrics(frames, start, end, settings, calendars)
    return {sid: card_from_row(row, start, end) for sid, row in _rows(table).items()}


def reached_families(frames: Frames, start: datetime.date, end: datetime.date) -> np.ndarray:
    """For each family of ``frames.families``, whether it was reached in ``[start, end]``: at least
    one two-way interaction in the window. An interaction counts for its family's school, whichever
    school it was logged under. Every figure of reach (the card, the map's postcode sectors) starts
    from here."""
    return _family_flags(frames, _day(start), _day(end))[1]


def _rows(table: pd.DataFrame) -> dict[str, dict]:
    """Each school's row of a :func:`metrics` table as a plain dict of Python values, the same
    that ``to_dict("index")`` gives: that goes through pandas' indexing for every one of the
    hundred-odd columns, 5 to 25 ms even for one school, where reading the values once takes
    under a millisecond."""
    columns = list(table.columns)
    return {sid: dict(zip(columns, values)) for sid, values in zip(table.index, table.to_numpy(object))}


def family_reach(frames: Frames, start: datetime.date, end: datetime.date) -> pd.Series:
    """Family reach of every school (unsuppressed fractions; for benchmarks and checks, not for
    governors)."""
    reached = reached_families(frames, start, end)
    codes = frames.families["school_id"].cat.codes.to_numpy()
    n = len(frames.schools)
    return pd.Series(
        _ratio(np.bincount(codes, weights=reached, minlength=n), np.bincount(codes, minlength=n)),
        index=pd.Index(frames.schools["school_id"], name="school_id"),
        name="reach",
    )


# ---------------------------------------------------------------- partners and gaps


def partner_engagement(frames: Frames, school_id: str, start: datetime.date, end: datetime.date) -> pd.DataFrame:
    """One row per partner of the school: partner_id, name, category, layer, segment, status,
    interactions (in the window), last_contact (latest interaction on or before the window's end,
    any time; NaT when never), engaged (listed and contacted in the window)."""
    sub = frames.school(school_id)
    partners = sub.partners
    inter = sub.interactions
    s, e = _day(start), _day(end)
    day, par = inter["day"].to_numpy(), inter["partner"].to_numpy()
    upto = (par >= 0) & (day <= e)
    counts = np.bincount(par[upto & (day >= s)], minlength=len(partners))
    last = np.full(len(partners), np.iinfo(np.int64).min)
    np.maximum.at(last, par[upto], day[upto].astype(np.int64))
    last_contact = pd.Series(
        np.where(
            last == np.iinfo(np.int64).min, np.datetime64("NaT"), (np.maximum(last, 0) * 86400).view("datetime64[s]")
        )
    )
    table = partners[["partner_id", "name", "category", "layer", "segment", "status"]].copy()
    table["interactions"] = counts
    table["last_contact"] = last_contact.to_numpy()
    table["engaged"] = table["status"].isin(LISTED_STATUSES).to_numpy() & (counts > 0)
    return table.reset_index(drop=True)


def gaps(frames: Frames, school_id: str, start: datetime.date, end: datetime.date) -> dict[int, list[str]]:
    """For layers 2 to 4, the typology's categories with no engaged partner in the window, in
    typology order: what the Community layers page names as gaps ("no care home linked")."""
    table = partner_engagement(frames, school_id, start, end)
    engaged = set(table.loc[table["engaged"], "category"])
    typology = load_typology()
    return {
        layer: [c.name for c in typology.categories_of_layer(layer) if c.name not in engaged]
        for layer in PARTNER_LAYERS
    }


# ---------------------------------------------------------------- trends and comparison


def flatten(card: dict) -> dict[str, float | None]:
    """A card as ``{"families.reach": 0.73, "equity.send.gap_pp": -4.1, ...}``: its figures only."""
    out = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif not isinstance(value, (bool, str)):
            out[prefix] = value

    walk("", {k: v for k, v in card.items() if k != "window"})
    return out


def trends(
    frames: Frames,
    school_id: str | None,
    start: datetime.date,
    end: datetime.date,
    by: str = "term",
    settings: Settings | None = None,
    *,
    metrics_of: Callable[[datetime.date, datetime.date], pd.DataFrame] | None = None,
    calendar: Calendar | None = None,
) -> pd.DataFrame:
    """The score card per term (of ``calendar``: the school's own, or the default terms for
    England) or per month overlapping ``[start, end]``, as a tidy frame for plotly: school_id, period, period_start,
    period_end, figure (e.g. ``families.reach``), section, metric, value (rounded as on the card,
    None when suppressed). ``school_id`` None gives every school.

    ``metrics_of(a, b)``, when given, stands for :func:`metrics` of these frames: a caller that
    has already computed some of the periods (the Overview's window is often the current term)
    passes them in rather than have them computed again."""
    sub = frames if school_id is None else frames.school(school_id)
    metrics_of = metrics_of or (lambda a, b: metrics(sub, a, b, settings, calendar))
    rows = []
    for name, a, b in periods(start, end, by, calendar):
        for sid, row in _rows(metrics_of(a, b)).items():
            if school_id is not None and sid != school_id:
                continue
            for figure, value in flatten(card_from_row(row, a, b)).items():
                section, _, metric = figure.rpartition(".")
                rows.append((sid, name, a, b, figure, section or figure, metric, value))
    return pd.DataFrame(
        rows, columns=["school_id", "period", "period_start", "period_end", "figure", "section", "metric", "value"]
    )


def compare(
    frames: Frames,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    previous: tuple[datetime.date, datetime.date] | None = None,
    settings: Settings | None = None,
    calendar: Calendar | None = None,
) -> pd.DataFrame:
    """Each figure of the card beside its value in the previous window (by default the window of
    the same length just before; the Overview may pass the previous term): figure, current,
    previous, change (current - previous; None when either is missing or suppressed)."""
    prev = previous or previous_window(start, end)
    sub = frames.school(school_id)
    return card_changes(
        score_card(sub, school_id, start, end, settings, calendar),
        score_card(sub, school_id, prev[0], prev[1], settings, calendar),
    )


def card_changes(card: dict, before: dict) -> pd.DataFrame:
    """Each figure of ``card`` beside its value in the card ``before``: figure, current, previous,
    change (rounded as the figure is; None when either is missing or suppressed).

    >>> card_changes({"families": {"reach": 0.5}}, {"families": {"reach": 0.25}}).values.tolist()
    [['families.reach', 0.5, 0.25, 0.25]]
    """
    now, before = flatten(card), flatten(before)
    rows = []
    for figure, value in now.items():
        old = before.get(figure)
        change = None if value is None or old is None else value - old
        digits = _DIGITS.get(figure.rpartition(".")[2], 4)
        rows.append((figure, value, old, None if change is None else round(change, digits)))
    return pd.DataFrame(rows, columns=["figure", "current", "previous", "change"])
