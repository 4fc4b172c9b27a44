"""The disclosure layer: every figure a governor (or a trust board, or ``--for governor`` JSON)
sees is made here from the staff figures, and nowhere else.

Its rules, one place for every page, report and command:

- a count of families is rounded to the nearest multiple of the threshold (10), or, when it is 1
  to 9, not shown ("fewer than 10"); 0 stays 0;
- a rate (a share of families) is shown only when neither the families it counts nor those it
  leaves out number 1 to 9, and then coarsened to whole steps of :data:`SHARE_STEP` (5 points),
  so that a rate beside a rounded count does not give the exact denominator back;
- a partition (a group and its complement, the parts of a total) hides its parts together: when
  one part is hidden, so is the other, so the total minus the shown part cannot give it back;
- a hidden figure says why, in a governor's words: which side was small ("fewer than 10 families
  in the group were not reached"), never "on one side";
- free text (notes), staff identities ("checked by") and a contact's name, phone or address are
  dropped: a partner is its name, category, layer, services and public contact point.

What it hands out is typed: :class:`Shown` for one figure and :class:`GovernorTable` for a table
of them. The pages' governor views render only these (``ui.governor_table``), so a raw frame
handed to a governor's view fails at once rather than reaching a projector.

>>> count(417), count(7), count(0)
(Shown(text='about 420', value=420.0, reason=None), Shown(text='fewer than 10', value=None, \
reason='fewer than 10 families'), Shown(text='0', value=0.0, reason=None))
>>> share(20, 30).text, share(29, 30).reason
('65%', 'fewer than 10 families were not counted')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from engagement.settings import fewer_than, load_settings

# Governors' rates move in steps of 5 percentage points: with a count rounded to 10 families
# either side, no step of 5 points pins one denominator (the property test searches for one).
SHARE_STEP = 0.05


def threshold() -> int:
    return load_settings().privacy.suppression_threshold


def is_small(n: float | None, limit: int | None = None) -> bool:
    """A count a governor must not be able to read or work out: 1 to threshold - 1 families."""
    limit = limit or threshold()
    return bool(n is not None and n == n and 1 <= round(n) < limit)  # n == n: NaN (already hidden) is not small


def governor_count(n: float | None, limit: int | None = None) -> float:
    """A count of families as a governor sees it: rounded to the nearest multiple of the threshold,
    so that no count shown, and no difference of two counts shown, is 1 to threshold - 1; NaN
    (shown as "fewer than 10") under the threshold.

    >>> governor_count(417, 10), governor_count(15, 10), governor_count(7, 10), governor_count(0, 10)
    (420.0, 20.0, nan, 0.0)
    """
    limit = limit or threshold()
    if n is None or n != n or is_small(n, limit):
        return float("nan")
    return float(limit * math.floor(n / limit + 0.5))


def coarse(rate: float | None) -> float | None:
    """A rate as governors see it: to the nearest :data:`SHARE_STEP` (None and NaN stay hidden).

    >>> coarse(0.387), coarse(0.524), coarse(None)
    (0.4, 0.5, None)
    """
    if rate is None or rate != rate:
        return None
    return round(SHARE_STEP * math.floor(rate / SHARE_STEP + 0.5), 4)


# ---------------------------------------------------------------- one figure


@dataclass(frozen=True)
class Shown:
    """One figure as a governor may see it: its words, the (rounded) number behind them for a
    chart, None when hidden, and why it is hidden."""

    text: str
    value: float | None
    reason: str | None = None

    @property
    def hidden(self) -> bool:
        return self.value is None


def hidden(reason: str) -> Shown:
    return Shown("not shown", None, reason)


def count(n: float | None, limit: int | None = None) -> Shown:
    """A count of families: "about 420", "0", or "fewer than 10" (hidden)."""
    shown = governor_count(n, limit)
    if shown != shown:
        return Shown(fewer_than(), None, f"{fewer_than()} families")
    return Shown(f"{shown:,.0f}" if shown == 0 else f"about {shown:,.0f}", shown)


def share_reason(part: float, whole: float, limit: int, counted: str, not_counted: str) -> str | None:
    """Why a share of ``part`` in ``whole`` families may not be shown, in a governor's words (the
    small side named), or None when it may."""
    if whole != whole or part != part or whole < limit:
        return f"{fewer_than()} families in all"
    if is_small(part, limit):
        return f"{fewer_than()} families {counted}"
    if is_small(whole - part, limit):
        return f"{fewer_than()} families {not_counted}"
    return None


def share(
    part: float,
    whole: float,
    limit: int | None = None,
    *,
    counted: str = "were counted",
    not_counted: str = "were not counted",
) -> Shown:
    """``part`` of ``whole`` families as a share: hidden when either side is 1-9 (the reason says
    which), else coarsened to :data:`SHARE_STEP`."""
    limit = limit or threshold()
    reason = share_reason(part, whole, limit, counted, not_counted)
    if reason is not None:
        return hidden(reason)
    value = coarse(part / whole)
    assert value is not None
    return Shown(f"{100 * value:.0f}%", value)


def pair(
    group: tuple[float, float],
    rest: tuple[float, float],
    limit: int | None = None,
    *,
    counted: str = "were counted",
    not_counted: str = "were not counted",
) -> tuple[Shown, Shown]:
    """The shares of a two-part partition (a group and the rest of it): both shown or both hidden,
    so the whole and one part cannot give the other back."""
    a = share(*group, limit, counted=counted, not_counted=not_counted)
    b = share(*rest, limit, counted=counted, not_counted=not_counted)
    if a.hidden and not b.hidden:
        b = hidden(f"it would give away the other group ({a.reason})")
    elif b.hidden and not a.hidden:
        a = hidden(f"it would give away the other group ({b.reason})")
    return a, b


# ---------------------------------------------------------------- tables


class RawFigure(TypeError):
    """A figure that did not pass through this layer was about to be shown to a governor."""


@dataclass(frozen=True)
class GovernorTable:
    """A table a governor may see: words only, every cell made by this layer (or a label)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, object]]) -> GovernorTable:
        """From rows of labels (str) and :class:`Shown` figures; anything else is refused."""
        if isinstance(rows, pd.DataFrame):
            raise RawFigure("a DataFrame was handed to a governor's view: build it with engagement.disclosure")
        rows = list(rows)
        columns = tuple(rows[0]) if rows else ()
        cells = []
        for row in rows:
            out = []
            for name in columns:
                value = row[name]
                if isinstance(value, Shown):
                    out.append(value.text)
                elif isinstance(value, str):
                    out.append(value)
                else:
                    raise RawFigure(f"{name}: {type(value).__name__} is not a governor's figure")
            cells.append(tuple(out))
        return cls(columns, tuple(cells))


def for_governor(data: object) -> GovernorTable | Shown:
    """``data`` if it came from this layer; a :class:`RawFigure` error otherwise (a frame, a dict,
    a number handed to a governor's view)."""
    if isinstance(data, GovernorTable | Shown):
        return data
    raise RawFigure(f"a {type(data).__name__} was handed to a governor's view: build it with engagement.disclosure")


# ---------------------------------------------------------------- partners

# A partner's record for governors: what an organisation publishes about itself. Its contact's
# name and phone, its address, notes, who checked it and any feed URL are staff business.
PARTNER_FIELDS = {
    "name": "Partner",
    "category": "Category",
    "layer": "Layer",
    "services": "Services",
    "contact_email": "Public contact",
}


def partner_table(partners: pd.DataFrame, services_text=str) -> GovernorTable:
    """The directory as governors see it: :data:`PARTNER_FIELDS` only, and whether each partner
    is due for a check (a fact about the directory, not who checked it nor the families it serves)."""
    rows = []
    for record in partners.to_dict("records"):
        cell = {}
        for field, label in PARTNER_FIELDS.items():
            value = record.get(field)
            if field == "services":
                value = services_text(value)
            cell[label] = "" if value is None or (isinstance(value, float) and value != value) else str(value)
        if "stale" in record:
            cell["Check"] = "due" if record["stale"] else "up to date"
        rows.append(cell)
    columns = (*PARTNER_FIELDS.values(), *(("Check",) if "stale" in partners else ()))
    return GovernorTable.of(rows) if rows else GovernorTable(columns, ())


def partner_record(partner: Mapping) -> dict[str, object]:
    """One partner's record as governors read it beside the map and the layers diagram (the
    heading above it gives the name, category and layer): its services and public contact only."""
    services = partner.get("services")
    email = partner.get("contact_email")
    return {
        "Services": "; ".join(t.strip() for t in str(services or "").split(";") if t.strip()),
        "Public contact": "" if email is None or email != email else str(email),
    }


# ---------------------------------------------------------------- the metrics row


def _small_side(group: float, reach: float, limit: int, who: str) -> str | None:
    reached = group * reach
    if is_small(reached, limit):
        return f"{fewer_than()} families {who} were reached"
    if is_small(group - reached, limit):
        return f"{fewer_than()} families {who} were not reached"
    return None


def equity_reason(row: Mapping, flag: str, limit: int | None = None) -> str | None:
    """Why an equity group is hidden, naming the small side: the group or the rest of the school,
    its size, or those reached or not reached in it. None when it is shown."""
    limit = limit or threshold()
    nan = float("nan")
    group, rest = row.get(f"equity.{flag}.group", nan), row.get(f"equity.{flag}.rest", nan)
    if group != group or rest != rest:
        return f"{fewer_than()} families in the group or in the rest of the school"
    if group < limit:
        return f"{fewer_than()} families in the group"
    if rest < limit:
        return f"{fewer_than()} families in the rest of the school"
    return _small_side(group, row[f"equity.{flag}.group_reach"], limit, "in the group") or _small_side(
        rest, row[f"equity.{flag}.rest_reach"], limit, "in the rest of the school"
    )


def governor_row(row: dict, limit: int | None = None) -> dict:
    """One school's row of :func:`engagement.scoring.metrics` as governors may see it. Counts of
    families are rounded (:func:`governor_count`); a family rate is hidden (NaN) when the families
    it counts, or those it leaves out, number 1 to threshold - 1, and otherwise coarsened
    (:func:`coarse`), its score contribution with it; an equity group likewise for the reached and
    unreached on either side, with ``equity.<flag>.reason`` saying which. A hidden component also
    hides the family score and the overall score, which would give it back by subtraction.

    >>> row = {"families.on_roll": 20.0, "families.reached": 16.0, "families.reach": 0.8,
    ...        "families.informed_reach": 1.0, "families.regularity": 0.5, "families.score": 70.0,
    ...        "families.scaled.reach": 0.8, "families.suppressed": False, "overall": 60.0}
    >>> seen = governor_row(row, 10)
    >>> seen["families.on_roll"], seen["families.reach"], seen["families.score"], seen["families.suppressed"]
    (20.0, nan, nan, True)
    """
    limit = limit or threshold()
    out = dict(row)
    nan = float("nan")
    on_roll, reached = row.get("families.on_roll", nan), row.get("families.reached", nan)
    hidden_rates = []
    for rate, base in (("reach", on_roll), ("informed_reach", on_roll), ("regularity", reached)):
        value = row.get(f"families.{rate}", nan)
        if value != value or base != base:
            continue
        counted = value * base
        if is_small(counted, limit) or is_small(base - counted, limit):
            hidden_rates.append(rate)
    for rate in ("reach", "informed_reach", "regularity"):
        value = row.get(f"families.{rate}", nan)
        if rate in hidden_rates:
            out[f"families.{rate}"] = out[f"families.scaled.{rate}"] = nan
        elif value == value and f"families.{rate}" in row:
            out[f"families.{rate}"] = coarse(value)
            if f"families.scaled.{rate}" in row:
                out[f"families.scaled.{rate}"] = coarse(value)
    if "reach" in hidden_rates:
        out["families.reached"] = nan
    out["families.on_roll"] = governor_count(on_roll, limit)
    if out.get("families.reached", nan) == out.get("families.reached", nan):
        out["families.reached"] = governor_count(out["families.reached"], limit)
    if hidden_rates:
        out["families.suppressed"] = True
        out["families.score"] = nan
        out["overall"] = nan
    elif row.get("families.score", nan) == row.get("families.score", nan):
        # The score made of the coarsened parts, so it cannot give an exact rate back.
        names = [k[len("families.weight.") :] for k in row if k.startswith("families.weight.")]
        if names:
            score = 100 * sum(out[f"families.weight.{n}"] * out[f"families.scaled.{n}"] for n in names)
            if row.get("overall", nan) == row.get("overall", nan) and "overall.weight.families" in row:
                out["overall"] = row["overall"] + row["overall.weight.families"] * (score - row["families.score"])
            out["families.score"] = score
    for key in [k for k in row if k.startswith("equity.") and k.endswith(".suppressed")]:
        flag = key[len("equity.") : -len(".suppressed")]
        reason = equity_reason(row, flag, limit)
        if row[key] and reason is None:  # hidden by the metrics' own rule: a side under the threshold
            reason = f"{fewer_than()} families in the group or in the rest of the school"
        if reason is not None:
            out[key] = True
            out[f"equity.{flag}.reason"] = reason
            for figure in ("group", "rest", "group_reach", "rest_reach", "gap_pp", "parity"):
                out[f"equity.{flag}.{figure}"] = nan
        else:
            group_reach, rest_reach = (
                coarse(row[f"equity.{flag}.group_reach"]),
                coarse(row[f"equity.{flag}.rest_reach"]),
            )
            assert group_reach is not None and rest_reach is not None
            out[f"equity.{flag}.group"] = governor_count(row[f"equity.{flag}.group"], limit)
            out[f"equity.{flag}.rest"] = governor_count(row[f"equity.{flag}.rest"], limit)
            out[f"equity.{flag}.group_reach"] = group_reach
            out[f"equity.{flag}.rest_reach"] = rest_reach
            out[f"equity.{flag}.gap_pp"] = round(100 * (group_reach - rest_reach), 1)
            out[f"equity.{flag}.parity"] = round(group_reach / rest_reach, 2) if rest_reach else nan
    return out


def governor_metrics(table: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    """:func:`governor_row` over every row of a metrics table."""
    rows = [governor_row(row, limit) for row in table.to_dict("records")]
    columns = list(dict.fromkeys([*table.columns, *(k for r in rows for k in r)]))
    return pd.DataFrame(rows, index=table.index, columns=columns)
