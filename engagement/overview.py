"""The governors' Overview as the page shows it: every figure gathered once for one school and
window, and put into the words the page and the report print.

:func:`overview` asks :mod:`engagement.scoring` for the window's figures, the change on the
previous term, the layers' missing categories and the trend per term, and
:mod:`engagement.explanations` for what drives each score and what would raise it, and returns
them as one :class:`Overview`. Every window follows the school's calendar
(:mod:`engagement.terms`): a term so far is compared with the same number of school days into the
previous term, and into the same term last year when the store reaches back that far, and the
Overview says in words exactly what was compared. With the school's messages
(:mod:`engagement.communication`) it also measures how the school communicates. The page shows
that object and :mod:`engagement.report` prints it, so the report holds exactly what the page shows.
Only aggregates ever enter it: counts of
families under the privacy threshold are "fewer than 10" (the words follow the setting), never a number, and no family reference
appears anywhere.

>>> import datetime
>>> from engagement.store import open_store, schools
>>> from engagement.frames import load_school_frames
>>> store = open_store("sqlite://")
>>> with store.write(actor="doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="Oak School", postcode="B30 2AA"))
>>> view = overview(load_school_frames(store), "S1", datetime.date(2026, 9, 3), datetime.date(2026, 11, 30),
...                 today=datetime.date(2026, 11, 30))
>>> view.window_text, view.previous_text
('Autumn term 2026, 3 Sep – 30 Nov 2026', 'Summer term 2026, 13 Apr – 9 Jul 2026')
>>> view.comparison_text
'the first 58 school days of autumn 2026 (3 Sep – 30 Nov 2026) against the first 58 school days of summer 2026 \
(13 Apr – 9 Jul 2026)'

>>> [row["label"] for row in view.segments]
['Families', 'Agencies', 'Businesses', 'Community', 'Overall']
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from dataclasses import dataclass, field

import pandas as pd

from engagement import belonging, clock, directory, disclosure, explanations, scoring
from engagement.belonging import VoiceSection
from engagement.calendar import load_calendar
from engagement.communication import Communication, Messages, load_messages, measure
from engagement.disclosure import governor_metrics
from engagement.explanations import SEGMENT_LABELS
from engagement.frames import FLAGS, Frames, load_school_frames
from engagement.settings import Settings, fewer_than, load_settings
from engagement.store import Store
from engagement.terms import (
    Calendar,
    Comparison,
    compare,
    day_number,
    default_calendar,
    is_partial,
    period_label,
    window_text,
)
from engagement.transitions import score_figures
from engagement.typology import PARTNER_LAYERS, SEGMENTS, load_typology
from engagement.week import week_card

SEGMENT_ORDER = (*SEGMENTS, "overall")
RATE_LABELS = {
    "families": "Family reach",
    "agencies": "Partner reach",
    "businesses": "Partner reach",
    "community": "Partner reach",
}
# How many terms the trend charts go back, at most.
TREND_TERMS = 4


@dataclass(frozen=True)
class Overview:
    """What the Overview shows for one school and window.

    ``segments``: one dict per segment and overall (segment, label, score, score_change,
    rate_label, rate, rate_change, counts, drivers, advice, suppressed); rates are fractions,
    changes in points. ``equity``: one row per group (label, group, rest, group_reach, rest_reach,
    gap_pp, parity, suppressed). ``layers``: one row per layer 2-4 (layer, name, covered, categories,
    coverage, missing). ``trends``: one row per term (period, label, partial, ``<segment>_score``,
    ``<segment>_reach``, ``overall_score``); a term cut short (the current one so far) is
    ``partial`` and its label says so.

    ``previous`` is the window the changes are measured against (None when there is nothing to
    compare); ``comparison`` the windows compared and ``comparison_text`` the same in words;
    ``last_year`` whether the same point of last year's term is in the store (each segment's
    ``score_change_last_year`` and ``rate_change_last_year`` then hold the change on it);
    ``communication`` the five measures of seed 003 when the school's messages were given."""

    school_id: str
    school_name: str
    start: datetime.date
    end: datetime.date
    window_text: str
    previous: tuple[datetime.date, datetime.date] | None
    previous_text: str
    card: dict
    segments: list[dict]
    equity: pd.DataFrame
    layers: pd.DataFrame
    trends: pd.DataFrame
    generated: datetime.date
    notes: list[str] = field(default_factory=list)
    comparison: Comparison | None = None
    comparison_text: str = ""
    last_year: bool = False
    communication: Communication | None = None
    # What :func:`school_overview` adds from the store (None when the view was built from frames
    # alone): belonging and transitions of the school year (engagement.belonging.voice_section),
    # how many partners are due for a check, the window's events and referrals
    # (engagement.week.week_card, with money raised) and the transitions dated in the window and
    # the belonging headline as ``score --json`` gives them.
    voice: VoiceSection | None = None
    directory_line: str | None = None
    week: dict | None = None
    window_transitions: dict | None = None


# ---------------------------------------------------------------- the figures


def percent_text(x) -> str:
    """A fraction as a percentage, a dash when missing.

    >>> percent_text(0.8625), percent_text(None)
    ('86.2%', '–')
    """
    return "–" if x is None else f"{100 * x:.1f}%"


def points_text(x) -> str:
    """A change in points with its sign (a true minus), a dash when missing.

    >>> points_text(-4.3), points_text(2)
    ('−4.3', '+2.0')
    """
    return "–" if x is None else f"{x:+.1f}".replace("-", "−")


def _drivers(entry: dict, segment: str) -> str:
    """The score as the sum of its parts, biggest first: "family reach 86.2% gives 34.5 of 40 points; ..."."""
    parts = []
    for comp in sorted(entry["components"], key=lambda c: -(c["contribution"] or 0)):
        value = comp["value"]
        if segment == "overall":
            shown = f"{comp['label'].lower()} {value:g}"
        elif comp["component"] in ("reach", "informed_reach", "regularity", "category_coverage"):
            shown = f"{comp['label'].lower()} {percent_text(value)}"
        elif comp["component"] == "recency":
            shown = "last two-way contact " + (
                "–" if value is None else f"{value:g} school days before the end (median)"
            )
        elif comp["component"] == "breadth":
            shown = f"{'–' if value is None else f'{value:g}'} Epstein types per reached family"
        else:
            shown = f"{'–' if value is None else f'{value:g}'} interactions per engaged partner"
        parts.append(f"{shown} gives {comp['contribution']:.1f} of {100 * comp['weight']:.0f} points")
    text = "; ".join(parts) + "." if parts else ""
    return text[:1].upper() + text[1:]


def _family_counts(figures: dict, score, for_governor: bool) -> str:
    if figures.get("on_roll") is None:
        return f"{fewer_than()} families on roll: not shown"
    if figures.get("reached") is None:
        return (
            f"Reach not shown: {fewer_than()} families were reached, or {fewer_than()} were not, "
            "so the figure could identify them."
        )
    about = "about " if for_governor else ""
    return f"{about}{figures['reached']:,} of {about}{figures['on_roll']:,} families had two-way contact"


def _segments(card: dict, changes: dict, explanation: dict, for_governor: bool = False) -> list[dict]:
    rows = []
    for seg in SEGMENT_ORDER:
        entry = explanation[seg]
        if seg == "overall":
            score, rate, rate_label, counts = card["overall"], None, None, ""
        else:
            figures = card[seg]
            score, rate, rate_label = figures["score"], figures["reach"], RATE_LABELS[seg]
            if seg == "families":
                counts = _family_counts(figures, score, for_governor)
            elif not figures["listed"]:
                kind = {"agencies": "agency", "businesses": "business"}.get(seg, seg)
                counts = f"No {kind} partners are listed yet: add them on the Data page."
            else:
                counts = f"{figures['engaged']} of {figures['listed']} listed partners had contact"
        key = "overall" if seg == "overall" else f"{seg}.score"
        rate_change = changes.get(f"{seg}.reach")
        rows.append(
            {
                "segment": seg,
                "label": SEGMENT_LABELS[seg],
                "score": score,
                "score_change": changes.get(key),
                "rate_label": rate_label,
                "rate": rate,
                "rate_change": None if rate_change is None else round(100 * rate_change, 1),
                "counts": counts,
                "drivers": _drivers(entry, seg),
                "advice": entry["advice"],
                "suppressed": bool(entry.get("suppressed", False)),
            }
        )
    return rows


def _equity(card: dict, row: dict, families: pd.DataFrame) -> pd.DataFrame:
    """One row per group; ``reason``, for governors, says which side of a hidden group is small
    (engagement.disclosure), None for staff and for a group shown. A group the metrics hid for its
    size is named from the roll: the group, or the rest of the school."""
    rows = []
    threshold = load_settings().privacy.suppression_threshold
    for flag in FLAGS:
        e = card["equity"][flag]
        reason = row.get(f"equity.{flag}.reason")
        if isinstance(reason, str) and flag in families:
            in_group = int(families[flag].astype(bool).sum())
            if in_group < threshold:
                reason = disclosure.equity_reason(
                    {f"equity.{flag}.group": in_group, f"equity.{flag}.rest": 10**6}, flag
                )
            elif len(families) - in_group < threshold:
                reason = disclosure.equity_reason({f"equity.{flag}.group": 10**6, f"equity.{flag}.rest": 0}, flag)
        rows.append(
            {
                "flag": flag,
                "label": explanations.FLAG_LABELS[flag],
                **{k: e[k] for k in ("group", "rest", "group_reach", "rest_reach", "gap_pp", "parity")},
                "suppressed": e["suppressed"],
                "reason": reason if isinstance(reason, str) else None,
            }
        )
    return pd.DataFrame(rows)


def _layers(card: dict, missing: dict[int, list[str]]) -> pd.DataFrame:
    typology = load_typology()
    rows = []
    for layer in PARTNER_LAYERS:
        entry = card["layers"][str(layer)]
        rows.append(
            {
                "layer": layer,
                "name": typology.layer_name(layer),
                "covered": entry["covered"],
                "categories": entry["categories"],
                "coverage": entry["coverage"],
                "missing": [typology.known_category(name).gap for name in missing[layer]],
            }
        )
    return pd.DataFrame(rows)


def _trends(
    frames: Frames, school_id: str, start: datetime.date, end: datetime.date, metrics_of, calendar: Calendar
) -> pd.DataFrame:
    school = frames.interactions["date"]
    first = school.min() if len(school) else pd.NaT
    begin = min(start, first.date()) if pd.notna(first) else start
    terms = calendar.terms_between(begin, end)[-TREND_TERMS:]
    if not terms:  # a window in a holiday, with no contact before it: no term to chart
        terms = [calendar.term_of(end)]
    table = scoring.trends(frames, school_id, terms[0].start, end, by="term", metrics_of=metrics_of, calendar=calendar)
    wanted = {f"{seg}.score": f"{seg}_score" for seg in scoring.SEGMENTS}
    wanted |= {f"{seg}.reach": f"{seg}_reach" for seg in scoring.SEGMENTS}
    wanted["overall"] = "overall_score"
    table = table[table["figure"].isin(wanted)]
    wide = table.pivot(index=["period", "period_start", "period_end"], columns="figure", values="value").rename(
        columns=wanted
    )
    wide = wide.reset_index().sort_values("period_start")
    for column in wanted.values():
        if column not in wide:
            wide[column] = None
    spans = list(zip(wide["period"], wide["period_start"], wide["period_end"]))
    wide["label"] = [period_label(p, a, b, calendar) for p, a, b in spans]
    wide["partial"] = [is_partial(a, b, calendar) for _, a, b in spans]
    columns = [
        "period",
        "label",
        "partial",
        *[f"{seg}_score" for seg in scoring.SEGMENTS],
        "overall_score",
        *[f"{seg}_reach" for seg in scoring.SEGMENTS],
    ]
    out = wide[columns].reset_index(drop=True)
    return out.astype({c: object for c in columns[3:]}).where(out.notna(), None)


def _changes(card: dict, metrics_of, window: tuple[datetime.date, datetime.date] | None) -> dict:
    """Each figure's change on the card of ``window`` (empty with no window to compare)."""
    if window is None:
        return {}
    before = scoring.card_from_row(metrics_of(*window).iloc[0].to_dict(), *window)
    compared = scoring.card_changes(card, before)
    return {
        figure: None if change is None or pd.isna(change) else float(change)
        for figure, change in zip(compared["figure"], compared["change"])
    }


def _reaches_back(frames: Frames, day: datetime.date) -> bool:
    """Whether the school's records reach back to ``day``: its first contact in that day's first
    week or before (a term whose first days hold no record at all is not compared)."""
    days = frames.interactions["day"]
    return bool(len(days)) and int(days.min()) <= day_number(day) + 6


def comparison_json(frames: Frames, start: datetime.date, end: datetime.date, calendar: Calendar | None = None) -> dict:
    """The ``comparison`` and ``comparison_last_year`` keys of ``score --json`` (FORMATS.md) for one
    school's frames: the windows its changes are measured against, each left out when there is
    none (last year's also when the school's records do not reach back to it)."""
    comparison = compare(start, end, calendar)
    out = {}
    if comparison.previous is not None:
        out["comparison"] = comparison.previous.json()
    if comparison.last_year is not None and _reaches_back(frames, comparison.last_year.start):
        out["comparison_last_year"] = comparison.last_year.json()
    return out


def overview(
    frames: Frames,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    *,
    today: datetime.date | None = None,
    settings: Settings | None = None,
    calendar: Calendar | None = None,
    messages: Messages | None = None,
    for_governor: bool = False,
) -> Overview:
    """Everything the Overview shows for ``school_id`` in ``[start, end]``: the card, each score's
    change on the window it is fairly compared with (see :func:`engagement.terms.compare`), what
    drives it and what would raise it, the equity gaps, the missing categories of each layer, the
    trend per term up to ``end`` and, given the school's ``messages``, how it communicates.
    ``calendar`` is the school's (the default terms for England when None). ``for_governor``: what
    a governor may see (:func:`engagement.disclosure.governor_row`)."""
    cfg = settings or load_settings()
    cal = calendar or default_calendar(cfg)
    sub = frames.school(school_id)
    # The card, its explanations, the change and the trend ask for the same windows again (the
    # window is often the current term, the comparison the previous one): each is computed once.
    threshold = cfg.privacy.suppression_threshold

    def window_metrics(a: datetime.date, b: datetime.date) -> pd.DataFrame:
        table = scoring.metrics(sub, a, b, cfg, cal)
        # Governors see rounded counts and no figure that gives a small count back (disclosure.governor_row).
        return governor_metrics(table, threshold) if for_governor else table

    metrics_of = functools.cache(window_metrics)
    row = metrics_of(start, end).iloc[0].to_dict()
    card = scoring.card_from_row(row, start, end)
    comparison = compare(start, end, cal)
    previous = comparison.previous.dates if comparison.previous is not None else None
    changes = _changes(card, metrics_of, previous)
    last = comparison.last_year
    last_year = last is not None and _reaches_back(sub, last.start)
    changes_last_year = _changes(card, metrics_of, last.dates if last is not None and last_year else None)
    missing = scoring.gaps(sub, school_id, start, end)
    explanation = explanations.explain_row(row, missing, cfg)
    notes = [
        f"Counts of families under {threshold} are shown as “{cfg.privacy.fewer_than}”, never as a number; "
        "an equity group is not shown when it or the rest of the school has fewer."
    ]
    if for_governor:
        notes.append(
            f"For governors, counts of families are rounded to the nearest {threshold} and shares to "
            f"{100 * disclosure.SHARE_STEP:.0f} points; a figure that could single out {cfg.privacy.fewer_than} "
            "families is not shown."
        )
    notes.append(
        "Terms and school days: the school's own calendar."
        if cal.own
        else "Terms and school days: the default terms for England."
    )
    segments = _segments(card, changes, explanation, for_governor)
    for entry in segments:
        key = "overall" if entry["segment"] == "overall" else f"{entry['segment']}.score"
        rate = changes_last_year.get(f"{entry['segment']}.reach")
        entry["score_change_last_year"] = changes_last_year.get(key)
        entry["rate_change_last_year"] = None if rate is None else round(100 * rate, 1)
    return Overview(
        school_id=school_id,
        school_name=str(sub.schools["name"].iloc[0]),
        start=start,
        end=end,
        window_text=window_text(start, end, cal),
        previous=previous,
        previous_text="nothing before it" if previous is None else window_text(*previous, cal),
        card=card,
        segments=segments,
        equity=_equity(card, row, sub.families),
        layers=_layers(card, missing),
        trends=_trends(sub, school_id, start, end, metrics_of, cal),
        generated=today or clock.today(),
        notes=notes,
        comparison=comparison,
        comparison_text=comparison.text(last_year),
        last_year=last_year,
        communication=None if messages is None else measure(messages, start, end, cal, cfg, for_governor=for_governor),
    )


def school_overview(
    store: Store,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    *,
    for_governor: bool,
    today: datetime.date | None = None,
    frames: Frames | None = None,
    calendar: Calendar | None = None,
    messages: Messages | None = None,
    settings: Settings | None = None,
) -> Overview:
    """The one assembly of the governors' figures: everything the Overview page shows, the report
    prints and ``score`` serialises (:func:`score_json`), for ``school_id`` in ``[start, end]``.
    ``frames``, ``calendar`` and ``messages`` are read from ``store`` unless given (the page passes
    its cached ones); everything else (belonging, transitions, the directory, events and referrals)
    is read here, so no caller patches the view afterwards."""
    cal = calendar or load_calendar(store, school_id)
    view = overview(
        frames if frames is not None else load_school_frames(store, school_id),
        school_id,
        start,
        end,
        today=today,
        settings=settings,
        calendar=cal,
        messages=messages if messages is not None else load_messages(store, school_id),
        for_governor=for_governor,
    )
    return dataclasses.replace(
        view,
        voice=belonging.voice_section(store, school_id, end, for_governor=for_governor, today=today),
        # Partners, not families: a count of the directory's own records.
        directory_line=directory.stale_text(*directory.stale_count(store, school_id, today)),
        week=week_card(store, school_id, start, end, with_money=True, governor=for_governor),
        window_transitions=score_figures(store, school_id, start, end, for_governor=for_governor, today=today),
    )


def score_json(view: Overview) -> dict:
    """``score --json`` (FORMATS.md) serialised from the view: the card, the windows compared, how
    the school communicates, events, referrals, transitions and belonging. A governor's view gives
    a governor's JSON: nothing here computes a figure again."""
    card = dict(view.card)
    comparison = view.comparison
    if comparison is not None and comparison.previous is not None:
        card["comparison"] = comparison.previous.json()
    if comparison is not None and comparison.last_year is not None and view.last_year:
        card["comparison_last_year"] = comparison.last_year.json()
    if view.communication is not None:
        card["communication"] = view.communication.card
    if view.week is not None:
        events = {k: v for k, v in view.week["events"].items() if k != "money_raised"}
        if not events.get("suppressed", True):
            events.pop("suppressed")  # said only where a figure is hidden, as FORMATS.md's example has it
        card |= {"events": events, "referrals": view.week["referrals"]}
    if view.window_transitions is not None:
        card["transitions"] = view.window_transitions
    if view.voice is not None:
        card["belonging"] = view.voice.belonging
    return card


REFERRAL_LABELS = {
    "made": "made",
    "open": "open (sent or accepted)",
    "sent": "sent, no reply yet",
    "accepted": "accepted",
    "declined": "declined",
    "completed": "completed",
    "no_longer_needed": "no longer needed",
}


def week_rows(week: dict | None) -> list[dict[str, str]]:
    """The window's events and referrals in words, one row per figure (page and report alike);
    none for a view assembled without the week."""
    if week is None:
        return []
    held, made = week["events"], week["referrals"]
    rows = [
        ("Events held", f"{held['held']:,}"),
        ("Attendance at events", fewer_than() if held["attendance"] is None else f"{held['attendance']:,}"),
        ("Volunteer hours", f"{held['volunteer_hours']:g}"),
        ("Money raised", f"£{held['money_raised']:,.2f}"),
        *(
            (f"Referrals {label}", fewer_than() if made[key] is None else f"{made[key]:,}")
            for key, label in REFERRAL_LABELS.items()
        ),
    ]
    return [{"In the window": label, "Count": text} for label, text in rows]


def equity_text(row) -> dict[str, str]:
    """An equity row's cells as words: where suppressed, why (for governors the small side, in
    their words: "not shown: fewer than 10 families in the group were not reached")."""
    if row["suppressed"]:
        reason = row.get("reason")
        return {
            "Group": row["label"],
            "Families": f"not shown: {reason}" if isinstance(reason, str) else f"{fewer_than()} on one side",
            "Group reach": "not shown",
            "Rest reach": "not shown",
            "Gap (points)": "not shown",
            "Parity": "not shown",
        }
    return {
        "Group": row["label"],
        "Families": f"{int(row['group'])} of {int(row['group'] + row['rest'])}",
        "Group reach": percent_text(row["group_reach"]),
        "Rest reach": percent_text(row["rest_reach"]),
        "Gap (points)": points_text(row["gap_pp"]),
        "Parity": "–" if row["parity"] is None else f"{row['parity']:.2f}",
    }


def layer_text(row) -> dict[str, str]:
    """A layer row's cells as words, its missing categories by their gap phrase."""
    return {
        "Layer": f"{row['layer']} · {row['name']}",
        "Categories covered": f"{row['covered']} of {row['categories']} ({percent_text(row['coverage'])})",
        "Missing": "; ".join(row["missing"]) if row["missing"] else "none: every category has an engaged partner",
    }


def trend_text(trends: pd.DataFrame) -> pd.DataFrame:
    """The trend table in words: one row per term, a score and a reach column per segment."""
    out = pd.DataFrame({"Term": trends["label"]})
    for seg in scoring.SEGMENTS:
        out[f"{SEGMENT_LABELS[seg]} score"] = [
            fewer_than() if v is None and seg == "families" else _score_text(v) for v in trends[f"{seg}_score"]
        ]
    out["Overall score"] = [_score_text(v) for v in trends["overall_score"]]
    for seg in scoring.SEGMENTS:
        out[f"{SEGMENT_LABELS[seg]} reach"] = [
            fewer_than() if v is None and seg == "families" else percent_text(v) for v in trends[f"{seg}_reach"]
        ]
    return out


def _score_text(v) -> str:
    return "–" if v is None else f"{v:.1f}"
