"""Scores in plain words: what each part of a score is worth, the one change that would raise it
most, and the whole score card as text for a terminal or an email.

The figures come from :mod:`engagement.scoring`; this module only says them. The labels of the
equity groups and of each score's components are here, so the pages, the report and the command
line name things the same way. Counts of families under the privacy threshold stay unsaid.

>>> import datetime
>>> from engagement.store import open_store, schools, families
>>> from engagement.frames import load_school_frames
>>> store = open_store("sqlite://")
>>> with store.write(actor="doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
...     _ = conn.execute(families.insert(), [{"family_id": f"F{i}", "school_id": "S1"} for i in range(3)])
>>> why = explain(load_school_frames(store), "S1", datetime.date(2026, 9, 1), datetime.date(2026, 12, 19))
>>> why["families"]["advice"]
'Fewer than 10 families on roll: family figures are not shown.'
"""

from __future__ import annotations

import datetime

import numpy as np

from engagement.frames import Frames
from engagement.scoring import FAMILY_COMPONENTS, PARTNER_COMPONENTS, SEGMENTS, gaps, metrics, rounded
from engagement.settings import Settings, fewer_than, load_settings
from engagement.typology import PARTNER_LAYERS, PARTNER_SEGMENTS, load_typology

SEGMENT_LABELS = {
    "families": "Families",
    "agencies": "Agencies",
    "businesses": "Businesses",
    "community": "Community",
    "overall": "Overall",
}
FLAG_LABELS = {
    "pupil_premium": "Pupil premium",
    "send": "SEND",
    "eal": "EAL",
    "looked_after": "Looked after",
    "young_carer": "Young carers",
}
COMPONENT_LABELS = {
    "families": {
        "reach": "Family reach (two-way)",
        "informed_reach": "Informed reach (any contact)",
        "regularity": "Regular contact (2+ months)",
        "breadth": "Breadth (Epstein types)",
        "recency": "Recency of last two-way contact",
    },
    "partners": {
        "reach": "Partners engaged",
        "intensity": "Interactions per engaged partner",
        "category_coverage": "Categories with an engaged partner",
    },
}


def _count_text(n: float, threshold: int) -> str:
    return f"fewer than {threshold}" if n < threshold else f"{int(n)}"


def _advice(segment: str, component: str, row: dict, gap_list: list[str], cfg: Settings) -> str:
    scaling = cfg.scoring.scaling
    threshold = cfg.privacy.suppression_threshold
    if segment == "families":
        unreached = row["families.on_roll"] - row["families.reached"]
        return {
            "reach": f"Reach more families two-way: {_count_text(unreached, threshold)} families on roll have had "
            "no two-way contact (a call, a meeting, a visit) in this window.",
            "informed_reach": "Make sure every family hears from school: some families had no contact at all, "
            "not even a newsletter or portal message.",
            "regularity": f"Follow up: only {row['families.regularity'] or 0:.0%} of reached families had two-way "
            "contact in two or more school months (runs of 20 school days) of the window.",
            "breadth": f"Widen the ways families take part (volunteering, learning at home, decision making): "
            f"reached families average {row['families.breadth'] or 0:.1f} Epstein types; "
            f"full marks at {scaling.breadth_full:g}.",
            "recency": "Contact reached families again sooner: the typical family last had two-way contact "
            f"{row['families.recency_days'] or 0:.0f} school days before the window's end "
            f"(no credit at {scaling.recency_zero_days:g} school days).",
        }[component]
    label = {"agencies": "agency", "businesses": "business"}.get(segment, segment)
    not_engaged = int(row[f"{segment}.listed"] - row[f"{segment}.engaged"])
    return {
        "reach": f"Contact the {not_engaged} listed {label} partners who had no contact in this window.",
        "intensity": f"Deepen the links you have: engaged {label} partners had "
        f"{row[f'{segment}.interactions_per_engaged'] or 0:.1f} interactions each; "
        f"full marks at {scaling.intensity_full:g}.",
        "category_coverage": "Link with a partner in a category you do not yet reach"
        + (f", such as {', '.join(gap_list[:3])}." if gap_list else "."),
    }[component]


def explain(
    frames: Frames, school_id: str, start: datetime.date, end: datetime.date, settings: Settings | None = None
) -> dict:
    """Why each score is what it is. For each of families, agencies, businesses, community and
    overall: ``score``, ``components`` (a list of dicts: component, label, value, scaled, weight,
    contribution in points; contributions add up to the score) and ``advice``, a sentence naming
    the change that would raise the score most. Suppressed figures stay null here too."""
    cfg = settings or load_settings()
    sub = frames.school(school_id)
    return explain_row(metrics(sub, start, end, cfg).iloc[0].to_dict(), gaps(sub, school_id, start, end), cfg)


def explain_row(row: dict, missing: dict[int, list[str]], settings: Settings | None = None) -> dict:
    """:func:`explain` from figures already computed: ``row``, one school's row of
    :func:`engagement.scoring.metrics` as a dict, and ``missing``, its
    :func:`engagement.scoring.gaps` in the same window."""
    cfg = settings or load_settings()
    typology = load_typology()
    uncovered = [c for layer in PARTNER_LAYERS for c in missing[layer]]
    out: dict[str, dict] = {}
    for seg in SEGMENTS:
        names = FAMILY_COMPONENTS if seg == "families" else PARTNER_COMPONENTS
        labels = COMPONENT_LABELS["families" if seg == "families" else "partners"]
        value_key = {"recency": "recency_days", "intensity": "interactions_per_engaged"}
        comps = []
        for name in names:
            scaled, weight = row[f"{seg}.scaled.{name}"], row[f"{seg}.weight.{name}"]
            key = value_key.get(name, name)
            comps.append(
                {
                    "component": name,
                    "label": labels[name],
                    "value": rounded(key, row.get(f"{seg}.{key}")),
                    "scaled": rounded("reach", scaled),
                    "weight": round(float(weight), 4),
                    "contribution": rounded("score", 100 * weight * scaled),
                }
            )
        score = rounded("score", row[f"{seg}.score"])
        if score is None:
            out[seg] = {
                "score": None,
                "components": [],
                "suppressed": True,
                "advice": "Fewer than 10 families on roll: family figures are not shown.",
            }
            continue
        gains = [(row[f"{seg}.weight.{n}"] * (1 - row[f"{seg}.scaled.{n}"]), n) for n in names]
        gain, best = max(gains)
        seg_gaps = [c for c in uncovered if typology.known_category(c).segment == seg] if seg != "families" else []
        advice = (
            "Full marks."
            if gain <= 0
            else _advice(seg, best, row, seg_gaps, cfg) + f" This could add up to {100 * gain:.1f} points."
        )
        out[seg] = {"score": score, "components": comps, "advice": advice.strip()}
    seg_comps: list[dict] = []
    most: tuple[float, str] | None = None
    for seg in SEGMENTS:
        weight, score = row[f"overall.weight.{seg}"], row[f"{seg}.score"]
        if np.isnan(score):
            continue
        seg_comps.append(
            {
                "component": seg,
                "label": typology.segments[seg]["label"],
                "value": rounded("score", score),
                "scaled": rounded("reach", score / 100),
                "weight": round(float(weight), 4),
                "contribution": rounded("score", weight * score),
            }
        )
        gain = weight * (100 - score)
        if most is None or gain > most[0]:
            most = (gain, seg)
    overall_advice = (
        "Full marks."
        if most is None or most[0] <= 0
        else (
            f"The most to gain is in {typology.segments[most[1]]['label'].lower()} "
            f"(up to {most[0]:.1f} points): {out[most[1]]['advice']}"
        )
    )
    out["overall"] = {"score": rounded("overall", row["overall"]), "components": seg_comps, "advice": overall_advice}
    return out


# ---------------------------------------------------------------- plain text


def format_card(card: dict, school_name: str = "") -> str:
    """The card as a governor would read it on a terminal or in an email."""

    def pct(x):
        return fewer_than() if x is None else f"{100 * x:.1f}%"

    def shown(x, unit=""):
        return fewer_than() if x is None else f"{x:g}{unit}"

    fam = card["families"]
    w = card["window"]
    lines = [f"{school_name + ': ' if school_name else ''}engagement from {w['from']} to {w['to']}", ""]
    if fam.get("suppressed"):
        lines.append(f"Families: {fewer_than()} on roll, figures not shown.")
    else:
        lines += [
            f"Families (score {fam['score']:g} / 100)",
            f"  reached two-way     {fam['reached']} of {fam['on_roll']} ({pct(fam['reach'])})",
            f"  informed (any)      {pct(fam['informed_reach'])}",
            f"  regular (2+ months) {'-' if fam['regularity'] is None else pct(fam['regularity'])} of reached",
            f"  breadth             {'-' if fam['breadth'] is None else fam['breadth']} Epstein types on average",
            f"  recency             {'-' if fam['recency_days'] is None else fam['recency_days']} school days "
            "since last "
            "two-way contact (median)",
        ]
    lines += ["", "Equity (reach of the group against the rest)"]
    for flag, e in card["equity"].items():
        if e["suppressed"]:
            lines.append(f"  {FLAG_LABELS[flag]:<14} {fewer_than()} families on one side: not shown")
        else:
            lines.append(
                f"  {FLAG_LABELS[flag]:<14} {pct(e['group_reach'])} of {e['group']} against "
                f"{pct(e['rest_reach'])} of {e['rest']}: gap {e['gap_pp']:+.1f} points, "
                f"parity {e['parity'] if e['parity'] is not None else '-'}"
            )
    for seg in PARTNER_SEGMENTS:
        p = card[seg]
        lines += [
            "",
            f"{seg.capitalize()} (score {p['score']:g} / 100)",
            f"  engaged             {p['engaged']} of {p['listed']} listed"
            + ("" if p["reach"] is None else f" ({pct(p['reach'])})"),
            f"  interactions each   {'-' if p['interactions_per_engaged'] is None else p['interactions_per_engaged']}",
            f"  categories covered  {pct(p['category_coverage'])}",
        ]
    lines += ["", "Layers (categories with an engaged partner)"]
    typology = load_typology()
    for layer, entry in card["layers"].items():
        lines.append(
            f"  {layer} {typology.layer_name(int(layer)):<22} {entry['covered']} of {entry['categories']}"
            f" ({pct(entry['coverage'])})"
        )
    lines += ["", f"Overall score: {shown(card['overall'])} / 100"]
    lines += _week_moves_and_voice(card, pct, shown)
    return "\n".join(lines)


def _week_moves_and_voice(card: dict, pct, shown) -> list[str]:
    """The school's week (events, referrals), moves between settings and belonging, where the card
    has them (``score`` adds them; a governor's card has them suppressed as ``None``)."""
    lines: list[str] = []
    events, referrals = card.get("events"), card.get("referrals")
    if events is not None or referrals is not None:
        lines += ["", "The school's week"]
    if events is not None:
        lines.append(
            f"  events held         {shown(events.get('held'))}, attendance {shown(events.get('attendance'))}, "
            f"volunteer hours {shown(events.get('volunteer_hours'))}"
        )
    if referrals is not None:
        lines.append(
            f"  referrals made      {shown(referrals.get('made'))}: open {shown(referrals.get('open'))}, "
            f"accepted {shown(referrals.get('accepted'))}, declined {shown(referrals.get('declined'))}, "
            f"completed {shown(referrals.get('completed'))}"
        )
    moves = card.get("transitions")
    if moves is not None:
        lines += [
            "",
            "Moves between settings",
            f"  moves               {shown(moves.get('count'))}, of which SEND {shown(moves.get('send'))}",
            "  complete plans      "
            + (
                "-"
                if moves.get("count") == 0
                else f"not shown ({fewer_than()} moves)"
                if moves.get("plan_complete") is None
                else pct(moves["plan_complete"])
            ),
        ]
    voice = card.get("belonging")
    if voice is not None:
        change = voice.get("change")
        lines += [
            "",
            f"Belonging ({voice['survey']} survey of {voice['date']}, {shown(voice.get('responses'))} answers)",
            f"  feel they belong    {pct(voice.get('agree'))}"
            + ("" if change is None else f" ({change:+.1f} points since the round before)"),
        ]
    return lines
