"""School–community partnerships, evaluated, and the year's partnership action plan, measured: the
``partnerships`` and ``action_plan`` keys of ``score --json`` (``shared/FORMATS.md``), and what
the Partnerships page and its one-page report show.

**Evaluation** of a partnership, for a window. *Members* are its families at the *after* round
(joined on or before it, the partnership's start when no date is given, and not left before it;
at the window's end when there is no such round);
*others* are the school's other families. On the belonging survey's headline question, *before*
is the latest round dated before the partnership's start and *after* the latest round after the
start up to the window's end; a share agreeing counts the families (parents) who answered the
question in that round. The members' change minus the others' change, in points, is a
difference in differences: it compares two groups of families, it never shows that the
partnership caused a change, and the sentences say so. Family reach is two-way contact in the
window, for members and others; referrals are the members' referrals to the partnership's own
groups made in the window, and how many are completed.

**Small numbers.** A share or change that rests on fewer families than the threshold
(``privacy.suppression_threshold``) is ``None`` with ``"suppressed": true`` for everyone; as the
others are the school less the members, the other side's figure goes with it (the school's own
reach and belonging would give it back by subtraction). A partnership with fewer members than the
threshold shows no figure at all. For governors counts are rounded as every count they see, and
a share is hidden when the families agreeing (or reached), or the rest, number 1 to threshold - 1.

**Action plan.** Each goal of the school year of the window's end may name a figure of
``score --json`` by its path (``measure``). ``now`` is that figure over the window; ``baseline``
is the row's own, or else the figure over the last whole term before the school year's first
term; ``on_track`` is true when ``now`` has met the target, or moved from the baseline toward it
by at least the share of the school year's school days gone by at the window's end; ``overdue``
is a goal not done whose due date is before the window's end.

>>> figure({"families": {"reach": 0.73}, "equity": {"send": {"gap_pp": -4.2}}}, "equity.send.gap_pp")
-4.2
>>> on_track(now=0.42, baseline=0.3, target=0.5, share_gone=0.5), on_track(0.35, 0.3, 0.5, 0.5)
(True, False)
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from engagement import store as db
from engagement.belonging import load_responses, share_agreeing
from engagement.cells import parse_list
from engagement.imports.report import ImportReport
from engagement.plans_and_surveys import load_surveys
from engagement.privacy import governor_count, is_small
from engagement.settings import load_settings
from engagement.terms import Calendar, Term, date_range_text
from engagement.transitions import school_year

# The score card's sections that engagement.scoring computes in one go.
SCORE_SECTIONS = frozenset({"families", "equity", "agencies", "businesses", "community", "layers", "overall"})


def _threshold(threshold: int | None) -> int:
    return threshold or load_settings().privacy.suppression_threshold


def _share(n: int, agree: int) -> float | None:
    return round(agree / n, 4) if n else None


def _points(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else round(100 * (after - before), 1)


# ---------------------------------------------------------------- reading the store


def load_partnerships(store: db.Store, school_id: str) -> pd.DataFrame:
    """The school's partnerships, newest start first: every column of ``partnerships``."""
    p = db.partnerships
    with store.read() as conn:
        rows = conn.execute(
            sa.select(p).where(p.c.school_id == school_id).order_by(p.c.start.desc(), p.c.partnership_id)
        ).mappings()
        return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in p.c])


def load_members(store: db.Store, school_id: str) -> pd.DataFrame:
    """The members of the school's partnerships: partnership_id, family_id, joined, left, and
    ``since`` (joined, else the partnership's start)."""
    p, m = db.partnerships, db.partnership_members
    with store.read() as conn:
        rows = conn.execute(
            sa.select(m.c.partnership_id, m.c.family_id, m.c.joined, m.c.left, p.c.start)
            .join(p, p.c.partnership_id == m.c.partnership_id)
            .where(p.c.school_id == school_id)
            .order_by(m.c.partnership_id, m.c.family_id)
        ).all()
    frame = pd.DataFrame(
        db.tuples(rows), columns=["partnership_id", "family_id", "joined", "left", "start"], dtype=object
    )
    frame["since"] = [j or s for j, s in zip(frame["joined"], frame["start"], strict=True)]
    return frame.drop(columns=["start"])


def members_on(members: pd.DataFrame, partnership_id: str, day: datetime.date) -> set[str]:
    """The partnership's families on ``day``: joined on or before it and not left before it."""
    mine = members[members["partnership_id"] == partnership_id]
    return {
        str(f)
        for f, since, left in zip(mine["family_id"], mine["since"], mine["left"], strict=True)
        if since <= day and (left is None or left >= day)
    }


def _school_families(conn, school_id: str) -> set[str]:
    f = db.families
    return set(conn.execute(sa.select(f.c.family_id).where(f.c.school_id == school_id)).scalars())


def _reached(conn, school_id: str, start: datetime.date, end: datetime.date) -> set[str]:
    """The school's families with a two-way contact in the window (as ``families.reached`` counts them)."""
    f, i = db.families, db.interactions
    query = (
        sa.select(i.c.family_id)
        .distinct()
        .join(f, f.c.family_id == i.c.family_id)
        .where(f.c.school_id == school_id, i.c.two_way, i.c.date >= start, i.c.date <= end)
    )
    return set(conn.execute(query).scalars())


def _member_referrals(
    conn, families: set[str], partners: list[str], start: datetime.date, end: datetime.date
) -> tuple[int, int]:
    """(made, completed): referrals of ``families`` to ``partners`` made in the window."""
    if not families or not partners:
        return 0, 0
    r = db.referrals
    rows = conn.execute(
        sa.select(r.c.family_id, r.c.status).where(r.c.partner_id.in_(partners), r.c.date >= start, r.c.date <= end)
    ).all()
    mine = [status for family, status in rows if family in families]
    return len(mine), sum(status == "completed" for status in mine)


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class RoundCounts:
    """One round of the headline question, for members and others: families who answered, agreeing."""

    date: datetime.date
    members_answered: int
    members_agreeing: int
    others_answered: int
    others_agreeing: int


@dataclass(frozen=True)
class Evaluation:
    """One partnership's evaluation: the counts behind it, and ``figures``, its ``score --json``
    object as the audience may see it (``sentences`` are made from those figures alone)."""

    partnership_id: str
    name: str
    members: set[str]
    figures: dict
    sentences: list[str] = field(default_factory=list)


class SchoolReads:
    """What the figures of one school read from the store, each read once however many figures
    need it: the Partnerships page's view read the survey answers three times (the plan's figures
    now and at their baseline, the evaluations) and the contacts twice. A view's functions share
    one; given none, each reads for itself."""

    def __init__(self, store: db.Store, school_id: str):
        self.store, self.school_id = store, school_id

    @functools.cached_property
    def responses(self) -> pd.DataFrame:
        return load_responses(self.store, self.school_id)

    @functools.cached_property
    def messages(self):
        from engagement.communication import load_messages

        return load_messages(self.store, self.school_id)

    @functools.cached_property
    def frames(self):
        from engagement.frames import load_school_frames

        return load_school_frames(self.store, self.school_id)


def _headline_answers(reads: SchoolReads):
    """The headline survey, its question, every round's date, and the parents' answers to the
    headline question, one per family and round."""
    survey = load_surveys().headline
    responses = reads.responses
    if survey is None or survey.headline is None:
        return None, [], responses.iloc[0:0]
    of_survey = responses[responses["survey"] == survey.key]
    dates = sorted(set(of_survey["date"]))
    answers = of_survey[
        (of_survey["question"] == survey.headline)
        & of_survey["family_id"].notna()
        & (of_survey["respondent"] == "parent")
    ].drop_duplicates(["date", "family_id"], keep="last")
    return survey, dates, answers


def _round_counts(survey, answers: pd.DataFrame, day: datetime.date, members: set[str], others: set[str]):
    of_day = answers[answers["date"] == day]
    mine = of_day["family_id"].isin(members)
    theirs = of_day["family_id"].isin(others)
    m_n, m_agree, _ = share_agreeing(of_day[mine], survey)
    o_n, o_agree, _ = share_agreeing(of_day[theirs], survey)
    return RoundCounts(day, m_n, m_agree, o_n, o_agree)


def _count(n: int | None, threshold: int, for_governor: bool) -> int | None:
    if n is None or not for_governor:
        return n
    shown = governor_count(n, threshold)
    return None if shown != shown else int(shown)


def _agree(figures: dict | None, side: str) -> float | None:
    return None if figures is None else figures[f"{side}_agree"]


def _round_figures(counts: RoundCounts | None, threshold: int, for_governor: bool, small: bool) -> dict | None:
    """A round's shares, both hidden when either side rests on too few families (or, for
    governors, when the agreeing or the rest of either side are 1 to threshold - 1)."""
    if counts is None:
        return None
    hidden = small or counts.members_answered < threshold or counts.others_answered < threshold
    if for_governor:
        hidden = hidden or any(
            is_small(n, threshold)
            for n in (
                counts.members_agreeing,
                counts.members_answered - counts.members_agreeing,
                counts.others_agreeing,
                counts.others_answered - counts.others_agreeing,
            )
        )
    return {
        "date": counts.date.isoformat(),
        "members_agree": None if hidden else _share(counts.members_answered, counts.members_agreeing),
        "others_agree": None if hidden else _share(counts.others_answered, counts.others_agreeing),
        "members_answered": None if small else _count(counts.members_answered, threshold, for_governor),
        "others_answered": None if small else _count(counts.others_answered, threshold, for_governor),
    }


def evaluate(
    store: db.Store,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    *,
    for_governor: bool = False,
    threshold: int | None = None,
    reads: SchoolReads | None = None,
) -> list[Evaluation]:
    """Every partnership of the school begun by the window's end (a planned one is not yet
    evaluated), newest first, evaluated for the window ``[start, end]``."""
    threshold = _threshold(threshold)
    reads = reads or SchoolReads(store, school_id)
    partnerships = load_partnerships(store, school_id)
    partnerships = partnerships[(partnerships["status"] != "planned") & (partnerships["start"] <= end)]
    members = load_members(store, school_id)
    survey, dates, answers = _headline_answers(reads)
    out = []
    with store.read() as conn:
        everyone = _school_families(conn, school_id)
        reached = _reached(conn, school_id, start, end)
        for row in partnerships.to_dict("records"):
            began = row["start"]
            before_day = max((d for d in dates if d < began), default=None)
            after_day = max((d for d in dates if began < d <= end), default=None)
            mine = members_on(members, row["partnership_id"], after_day or end) & everyone
            others = everyone - mine
            small = len(mine) < threshold
            rounds = [
                None if day is None or survey is None else _round_counts(survey, answers, day, mine, others)
                for day in (before_day, after_day)
            ]
            before, after = (_round_figures(c, threshold, for_governor, small) for c in rounds)
            m_reached, o_reached = len(mine & reached), len(others & reached)
            reach_hidden = small or len(others) < threshold
            if for_governor:
                reach_hidden = reach_hidden or any(
                    is_small(n, threshold)
                    for n in (m_reached, len(mine) - m_reached, o_reached, len(others) - o_reached)
                )
            made, completed = _member_referrals(conn, mine, parse_list(row["partners"]), start, end)
            change_members = _points(_agree(after, "members"), _agree(before, "members"))
            change_others = _points(_agree(after, "others"), _agree(before, "others"))
            difference = None
            if change_members is not None and change_others is not None and before and after:
                # From the shares themselves, not the rounded changes: one rounding, at the end.
                exact = (after["members_agree"] - before["members_agree"]) - (
                    after["others_agree"] - before["others_agree"]
                )
                difference = round(100 * exact, 1)
            figures = {
                "partnership_id": row["partnership_id"],
                "name": row["name"],
                "status": row["status"],
                "start": began.isoformat(),
                "members": _count(len(mine), threshold, for_governor),
                "others": _count(len(others), threshold, for_governor),
                "members_reach": None if reach_hidden else _share(len(mine), m_reached),
                "others_reach": None if reach_hidden else _share(len(others), o_reached),
                "before": before,
                "after": after,
                "change_members_pp": change_members,
                "change_others_pp": change_others,
                "difference_pp": difference,
                "referrals": {
                    "made": None if small else _count(made, threshold, for_governor),
                    "completed": None if small else _count(completed, threshold, for_governor),
                },
            }
            figures["suppressed"] = (
                small or reach_hidden or any(r is not None and r["members_agree"] is None for r in (before, after))
            )
            out.append(Evaluation(row["partnership_id"], row["name"], mine, figures, sentences(figures, threshold)))
    return out


def day_text(text: str) -> str:
    """An ISO date as the page writes it: 18 May 2026."""
    day = datetime.date.fromisoformat(text)
    return f"{day.day} {day:%b %Y}"


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _n(value: int | None, threshold: int) -> str:
    return f"fewer than {threshold}" if value is None else f"{value:,}"


def sentences(figures: dict, threshold: int | None = None) -> list[str]:
    """What a partnership's figures say, in plain words, made from the figures alone (so a
    governor's sentences hold nothing their figures hide), each with the counts it rests on and,
    where the numbers are too small, saying so rather than guessing.

    >>> figures = {"members": 6, "others": 34, "members_reach": None, "others_reach": None, "before": None,
    ...            "after": None, "change_members_pp": None, "change_others_pp": None, "difference_pp": None,
    ...            "referrals": {"made": None, "completed": None}, "suppressed": True}
    >>> sentences(figures, 10)[0]
    'Fewer than 10 families are members: too few to tell anything about them, so no figure is shown.'
    """
    threshold = _threshold(threshold)
    members, others = figures["members"], figures["others"]
    if members is None or members < threshold:
        return [
            f"Fewer than {threshold} families are members: too few to tell anything about them, so no figure is shown."
        ]
    out = [f"Compared: the {members:,} member families with the school's {_n(others, threshold)} other families."]
    if figures["members_reach"] is None:
        out.append(
            f"Family reach: not shown, as it would rest on, or give away, fewer than {threshold} families: "
            "too few to tell."
        )
    else:
        out.append(
            f"Family reach (two-way contact in the window): {_pct(figures['members_reach'])} of members, "
            f"{_pct(figures['others_reach'])} of other families."
        )
    before, after = figures["before"], figures["after"]
    if before is None:
        out.append("Belonging: no survey round before the partnership began, so there is nothing to compare with.")
    if after is None:
        out.append("Belonging: no survey round since the partnership began, up to the window's end.")
    for word, r in (("before", before), ("after", after)):
        if r is None:
            continue
        if r["members_agree"] is None:
            members_n, others_n = r["members_answered"], r["others_answered"]
            if members_n is None or members_n < threshold:
                who = f"fewer than {threshold} member families answered"
            elif others_n is None or others_n < threshold:
                who = f"fewer than {threshold} other families answered"
            else:
                who = f"on one side fewer than {threshold} families agreed, or did not, so the share is not shown"
            out.append(f"Belonging {word} ({day_text(r['date'])}): {who}: too few to tell.")
        else:
            out.append(
                f"Belonging {word} ({day_text(r['date'])}): {_pct(r['members_agree'])} of the "
                f"{_n(r['members_answered'], threshold)} member families who answered feel they belong, "
                f"{_pct(r['others_agree'])} of the {_n(r['others_answered'], threshold)} other families."
            )
    if figures["difference_pp"] is not None:
        out.append(
            f"Members' share changed by {points(figures['change_members_pp'])} points, other families' by "
            f"{points(figures['change_others_pp'])}: a difference of {points(figures['difference_pp'])} points. "
            "This compares two groups of families; it does not show that the partnership caused the change."
        )
    referrals = figures["referrals"]
    if referrals["made"] is not None or referrals["completed"] is not None:
        out.append(
            f"Referrals of members to the partnership's groups in the window: {_n(referrals['made'], threshold)} "
            f"made, {_n(referrals['completed'], threshold)} completed."
        )
    return out


# ---------------------------------------------------------------- the action plan


def figure(card: Mapping, path: str) -> float | None:
    """The number at ``path`` (dotted) of a ``score --json`` object, or None when it is missing,
    suppressed or not a number."""
    node: object = card
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, int | float) or node != node:
        return None
    return float(node)


def on_track(now: float | None, baseline: float | None, target: float | None, share_gone: float) -> bool | None:
    """Whether ``now`` has met ``target``, or moved from ``baseline`` toward it by at least
    ``share_gone`` of the way; None when a figure is missing."""
    if now is None or baseline is None or target is None:
        return None
    direction = 1 if target >= baseline else -1
    if (now - target) * direction >= 0:
        return True
    if target == baseline:  # a target of holding a figure, and it has slipped
        return False
    return (now - baseline) / (target - baseline) >= share_gone - 1e-9


def year_label(day: datetime.date) -> str:
    """The school year of ``day`` as the plan writes it.

    >>> year_label(datetime.date(2026, 11, 25)), year_label(datetime.date(2027, 7, 1))
    ('2026-27', '2026-27')
    """
    first, _ = school_year(day)
    return f"{first.year}-{(first.year + 1) % 100:02d}"


def year_bounds(year: str) -> tuple[datetime.date, datetime.date]:
    """1 September to 31 August of a school year written ``2026-27``."""
    first = int(year[:4])
    return datetime.date(first, 9, 1), datetime.date(first + 1, 8, 31)


def baseline_term(year: str, calendar: Calendar) -> Term | None:
    """The last whole term before the school year's first term."""
    first_day, last_day = year_bounds(year)
    first = next((t for t in calendar.terms if first_day <= t.start <= last_day), None)
    return calendar.previous_term(first) if first is not None else None


def share_of_year_gone(year: str, end: datetime.date, calendar: Calendar) -> float:
    """The share of the school year's school days on or before ``end``."""
    first_day, last_day = year_bounds(year)
    total = calendar.count_school_days(first_day, last_day)
    return calendar.count_school_days(first_day, min(end, last_day)) / total if total else 0.0


def score_sections(
    store: db.Store,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    sections: set[str],
    *,
    calendar: Calendar,
    for_governor: bool = False,
    reads: SchoolReads | None = None,
) -> dict:
    """The sections of ``score --json`` a plan needs, for a window, computed as ``score`` computes
    them (and as governors see them, with ``for_governor``); only the sections asked for."""
    reads = reads or SchoolReads(store, school_id)
    card: dict = {}
    if sections & SCORE_SECTIONS:
        from engagement.privacy import governor_row
        from engagement.scoring import card_from_row, metrics

        row = metrics(reads.frames.school(school_id), start, end, calendar=calendar).iloc[0].to_dict()
        card |= card_from_row(governor_row(row) if for_governor else row, start, end)
    if "communication" in sections:
        from engagement.communication import measure

        card["communication"] = measure(reads.messages, start, end, calendar, for_governor=for_governor).card
    if sections & {"events", "referrals"}:
        from engagement.week import week_card

        card |= week_card(store, school_id, start, end, governor=for_governor)
    if "transitions" in sections:
        from engagement.transitions import score_figures

        card["transitions"] = score_figures(store, school_id, start, end, for_governor=for_governor)
    if "belonging" in sections:
        from engagement.belonging import headline

        card["belonging"] = headline(reads.responses, end, for_governor=for_governor)
    return card


def load_plan(store: db.Store, school_id: str, year: str | None = None) -> pd.DataFrame:
    """The school's action plan (one year's, when given), by year, type and reference."""
    a = db.action_plan
    query = sa.select(a).where(a.c.school_id == school_id)
    if year is not None:
        query = query.where(a.c.year == year)
    with store.read() as conn:
        rows = conn.execute(query.order_by(a.c.year, a.c.plan_id)).mappings()
        frame = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in a.c])
    return frame.astype(object).where(frame.notna(), None)


def plan_figures(
    store: db.Store,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    *,
    calendar: Calendar,
    card: Mapping | None = None,
    for_governor: bool = False,
    reads: SchoolReads | None = None,
) -> list[dict]:
    """``score --json``'s ``action_plan``: each goal of the school year of ``end`` with its
    figure's baseline, now, target and whether it is on track, its status and whether it is
    overdue. ``card`` is the window's ``score --json`` object when the caller has it."""
    reads = reads or SchoolReads(store, school_id)
    sections_of = functools.partial(score_sections, store, school_id, calendar=calendar, for_governor=for_governor)
    year = year_label(end)
    plan = load_plan(store, school_id, year)
    measures = {m for m in plan["measure"] if m}
    sections = {m.split(".")[0] for m in measures}
    now_card = dict(card) if card is not None else sections_of(start, end, sections, reads=reads)
    missing = {m.split(".")[0] for m in measures if m.split(".")[0] not in now_card}
    if missing:
        now_card |= sections_of(start, end, missing, reads=reads)
    need_baseline = {m.split(".")[0] for m, b in zip(plan["measure"], plan["baseline"], strict=True) if m and b is None}
    term = baseline_term(year, calendar)
    base_card = (
        sections_of(term.start, term.end, need_baseline, reads=reads) if need_baseline and term is not None else {}
    )
    gone = share_of_year_gone(year, end, calendar)
    out = []
    for row in plan.to_dict("records"):
        measure = row["measure"]
        now = figure(now_card, measure) if measure else None
        baseline = row["baseline"] if row["baseline"] is not None else (figure(base_card, measure) if measure else None)
        target = row["target"]
        out.append(
            {
                "plan_id": row["plan_id"],
                "year": row["year"],
                "epstein_type": row["epstein_type"],
                "measure": measure,
                "baseline": baseline,
                "now": now,
                "target": target,
                "on_track": on_track(now, baseline, target, gone) if measure else None,
                "status": row["status"],
                "due": row["due"].isoformat() if row["due"] else None,
                "overdue": bool(row["due"] is not None and row["due"] < end and row["status"] != "done"),
            }
        )
    return out


def baseline_text(year: str, calendar: Calendar) -> str:
    """Where an empty baseline comes from, in words."""
    term = baseline_term(year, calendar)
    if term is None:
        return "no term before the school year's first is known, so an empty baseline stays empty"
    return f"an empty baseline is the figure over {term.label} ({date_range_text(term.start, term.end)})"


def score_json(
    store: db.Store,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    card: Mapping,
    *,
    calendar: Calendar,
    for_governor: bool = False,
) -> dict:
    """The ``partnerships`` and ``action_plan`` keys of ``score --json`` for the window, ``card``
    being the rest of that object (the plan's ``now`` is read from it)."""
    return {
        "partnerships": [e.figures for e in evaluate(store, school_id, start, end, for_governor=for_governor)],
        "action_plan": plan_figures(
            store, school_id, start, end, calendar=calendar, card=card, for_governor=for_governor
        ),
    }


# ---------------------------------------------------------------- the page and the report


@dataclass(frozen=True)
class PartnershipsView:
    """Everything the Partnerships page and its report show for a window, from one call. For
    governors (``for_governor``) only aggregates: no member list, no goal's words or owner, the
    evaluations as governors see them and the plan's progress per Epstein type."""

    school_id: str
    school_name: str
    start: datetime.date
    end: datetime.date
    for_governor: bool
    partnerships: pd.DataFrame
    members: pd.DataFrame
    evaluations: list[Evaluation]
    plan: list[dict]
    overdue: list[dict]
    progress: pd.DataFrame
    year: str
    baseline_text: str
    share_gone: float


PROGRESS_COLUMNS = ["Epstein type", "Goals", "Done", "On track", "Not on track", "No figure yet"]


def plan_progress(plan: list[dict], types: list[str]) -> pd.DataFrame:
    """The plan's goals per Epstein type: how many, done, on track, not, and without a figure.
    Counts of goals, not of families: a governor may see them whole."""
    rows = []
    for kind in types:
        mine = [r for r in plan if r["epstein_type"] == kind]
        rows.append(
            [
                kind,
                len(mine),
                sum(r["status"] == "done" for r in mine),
                sum(r["on_track"] is True for r in mine),
                sum(r["on_track"] is False for r in mine),
                sum(r["on_track"] is None for r in mine),
            ]
        )
    return pd.DataFrame(rows, columns=PROGRESS_COLUMNS)


def partnerships_view(
    store: db.Store,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    *,
    for_governor: bool = False,
    calendar: Calendar | None = None,
) -> PartnershipsView:
    """The Partnerships page's content for ``[start, end]``: the school's partnerships with their
    members (staff only), each evaluated, and the year's action plan with its figures, the goals
    overdue and the progress per Epstein type."""
    from engagement.calendar import load_calendar
    from engagement.partnership_files import epstein_types

    calendar = calendar or load_calendar(store, school_id)
    school = db.get_school(store, school_id) or {"name": school_id}
    year = year_label(end)
    reads = SchoolReads(store, school_id)
    figures = plan_figures(store, school_id, start, end, calendar=calendar, for_governor=for_governor, reads=reads)
    stored = {r["plan_id"]: r for r in load_plan(store, school_id, year).to_dict("records")}
    plan = []
    for row in figures:
        words = stored[row["plan_id"]]
        extra = {} if for_governor else {k: words[k] for k in ("goal", "activity", "owner")}
        plan.append(row | extra)
    found = load_partnerships(store, school_id)
    members = load_members(store, school_id)
    if for_governor:
        found = found[["partnership_id", "name", "epstein_type", "start", "review", "status"]]
        members = members.iloc[0:0]
    return PartnershipsView(
        school_id=school_id,
        school_name=str(school["name"]),
        start=start,
        end=end,
        for_governor=for_governor,
        partnerships=found,
        members=members,
        # The ones with figures first: the first screen of a projector shows what can be told.
        evaluations=sorted(
            evaluate(store, school_id, start, end, for_governor=for_governor, reads=reads),
            key=lambda e: e.figures["suppressed"],
        ),
        plan=plan,
        overdue=[] if for_governor else [r for r in plan if r["overdue"]],
        progress=plan_progress(plan, epstein_types()),
        year=year,
        baseline_text=baseline_text(year, calendar),
        share_gone=share_of_year_gone(year, end, calendar),
    )


# ---------------------------------------------------------------- keeping partnerships and the plan


def new_reference(store: db.Store, school_id: str, kind: str) -> str:
    """The next free reference for a new partnership (``<school>-PS<n>``) or plan goal (``<school>-A<n>``)."""
    table, key, mark = (
        (db.partnerships, "partnership_id", "PS") if kind == "partnerships" else (db.action_plan, "plan_id", "A")
    )
    with store.read() as conn:
        taken = set(conn.execute(sa.select(table.c[key])).scalars())
    n = 1
    while f"{school_id}-{mark}{n}" in taken:
        n += 1
    return f"{school_id}-{mark}{n}"


def save_partnership(
    store: db.Store, actor: str, school_id: str, values: dict, expected_version: int | None = None
) -> ImportReport:
    """Add or change a partnership from the page's form (``partnerships.csv``'s columns; ``partners``
    a list or ``;``-separated), checked as an import checks it; a stale form raises
    :class:`engagement.directory.VersionConflict`. The report says what was refused and why."""
    from engagement.partnership_files import save_rows

    row = dict(values)
    if isinstance(row.get("partners"), list | tuple):
        row["partners"] = ";".join(row["partners"])
    row["school_id"] = school_id
    versions = {row["partnership_id"]: expected_version} if expected_version is not None else None
    return save_rows(store, "partnerships", [row], actor, school_id, expected_versions=versions)


def end_partnership(
    store: db.Store, actor: str, school_id: str, partnership_id: str, expected_version: int | None = None
) -> ImportReport:
    """Mark a partnership ended (kept, with its members and evaluation, for the record)."""
    found = load_partnerships(store, school_id)
    row = found[found["partnership_id"] == partnership_id].iloc[0].to_dict()
    return save_partnership(store, actor, school_id, row | {"status": "ended"}, expected_version)


def family_partnerships(store: db.Store, school_id: str, family_id: str) -> tuple[list[dict], list[dict]]:
    """The partnerships a family is in now, and those it could join (planned or active, not
    ended), each ``{"partnership_id", "name"}``: what the Outreach planner offers beside the family.

    >>> store = db.open_store("sqlite://")
    >>> family_partnerships(store, "S1", "F1")
    ([], [])
    """
    partnerships = load_partnerships(store, school_id)
    members = load_members(store, school_id)
    mine = set(members[(members["family_id"] == family_id) & members["left"].isna()]["partnership_id"])
    named = [{"partnership_id": r.partnership_id, "name": r.name} for r in partnerships.itertuples()]
    return (
        [p for p in named if p["partnership_id"] in mine],
        [p for p in joinable(store, school_id) if p["partnership_id"] not in mine],
    )


def joinable(store: db.Store, school_id: str) -> list[dict]:
    """The school's partnerships families can join now (planned or active, not ended), newest
    first, each ``{"partnership_id", "name"}``: what the Events page offers a register to."""
    partnerships = load_partnerships(store, school_id)
    open_ones = partnerships[partnerships["status"].fillna("active") != "ended"]
    return [{"partnership_id": r.partnership_id, "name": r.name} for r in open_ones.itertuples()]


def add_members(
    store: db.Store,
    actor: str,
    school_id: str,
    partnership_id: str,
    family_ids: list[str],
    joined: datetime.date | None = None,
) -> ImportReport:
    """Add families to a partnership from the day ``joined`` (the partnership's start when None).
    A family already a member stays as it is; one that had left joins again."""
    from engagement.partnership_files import save_rows

    members = load_members(store, school_id)
    mine = members[members["partnership_id"] == partnership_id]
    current = {f for f, left in zip(mine["family_id"], mine["left"], strict=True) if left is None}
    rows = [
        {"partnership_id": partnership_id, "family_id": f, "joined": joined, "left": None}
        for f in dict.fromkeys(family_ids)
        if f not in current
    ]
    return save_rows(store, "partnership_members", rows, actor, school_id)


def add_register(
    store: db.Store,
    actor: str,
    school_id: str,
    partnership_id: str,
    event_id: str,
    joined: datetime.date | None = None,
) -> ImportReport:
    """Add every family on an event's register (a session the partnership ran, say) to the
    partnership, joining on the event's day unless ``joined`` says otherwise."""
    from engagement.events import families_on_register

    if joined is None:
        with store.read() as conn:
            joined = conn.execute(sa.select(db.events.c.date).where(db.events.c.event_id == event_id)).scalar_one()
    return add_members(store, actor, school_id, partnership_id, families_on_register(store, event_id), joined)


def end_membership(
    store: db.Store, actor: str, school_id: str, partnership_id: str, family_id: str, left: datetime.date
) -> ImportReport:
    """A family leaves a partnership on ``left`` (its membership is kept, for the evaluation)."""
    from engagement.partnership_files import save_rows

    members = load_members(store, school_id)
    mine = members[(members["partnership_id"] == partnership_id) & (members["family_id"] == family_id)]
    joined = mine["joined"].iloc[0] if len(mine) else None
    row = {"partnership_id": partnership_id, "family_id": family_id, "joined": joined, "left": left}
    return save_rows(store, "partnership_members", [row], actor, school_id)


def save_goal(
    store: db.Store, actor: str, school_id: str, values: dict, expected_version: int | None = None
) -> ImportReport:
    """Add or change a goal of the action plan from the page's form (``action_plan.csv``'s columns),
    checked as an import checks it; a stale form raises :class:`engagement.directory.VersionConflict`."""
    from engagement.partnership_files import save_rows

    row = dict(values) | {"school_id": school_id}
    versions = {row["plan_id"]: expected_version} if expected_version is not None else None
    return save_rows(store, "action_plan", [row], actor, school_id, expected_versions=versions)


# ---------------------------------------------------------------- the same words on the page and in the report


def percent(value: float | None) -> str:
    """A share in words, or "not shown".

    >>> percent(0.6167), percent(None)
    ('61.7%', 'not shown')
    """
    return "not shown" if value is None else f"{100 * value:.1f}%"


def points(value: float | None) -> str:
    """A change in points, signed; a dash when there is none.

    >>> points(4.0), points(-8.8), points(None)
    ('+4.0', '−8.8', '–')
    """
    return "–" if value is None else f"{value:+.1f}".replace("-", "−")


def _answered(r: dict | None, side: str, threshold: int) -> str:
    """A round's share with the families it counts: "74.3% of 35", or why it is not shown."""
    if r is None:
        return "no round"
    n, share = r[f"{side}_answered"], r[f"{side}_agree"]
    if share is None:
        return "not shown" if n is None else f"not shown ({n:,} answered)"
    return f"{percent(share)} of {n:,}"


EVALUATION_COLUMNS = ["Figure", "Members", "Other families"]


def evaluation_rows(figures: dict, threshold: int | None = None) -> list[dict[str, str]]:
    """A partnership's figures as rows of words (the page's table and the report's), each with the
    counts it rests on."""
    threshold = _threshold(threshold)
    before, after = figures["before"], figures["after"]
    referrals = figures["referrals"]

    def n(value) -> str:
        return f"fewer than {threshold}" if value is None else f"{value:,}"

    def dated(word: str, r: dict | None) -> str:
        return f"Feel they belong, {word}" + (f" ({day_text(r['date'])})" if r else "")

    return [
        {"Figure": "Families", "Members": n(figures["members"]), "Other families": n(figures["others"])},
        {
            "Figure": "Family reach (two-way contact in the window)",
            "Members": percent(figures["members_reach"]),
            "Other families": percent(figures["others_reach"]),
        },
        {
            "Figure": dated("before", before),
            "Members": _answered(before, "members", threshold),
            "Other families": _answered(before, "others", threshold),
        },
        {
            "Figure": dated("after", after),
            "Members": _answered(after, "members", threshold),
            "Other families": _answered(after, "others", threshold),
        },
        {
            "Figure": "Change, before to after (points)",
            "Members": points(figures["change_members_pp"]),
            "Other families": points(figures["change_others_pp"]),
        },
        {
            "Figure": "Difference in differences (points)",
            "Members": points(figures["difference_pp"]),
            "Other families": "",
        },
        {
            "Figure": "Referrals to the partnership's groups: made, completed",
            "Members": "not shown"
            if referrals["made"] is None and referrals["completed"] is None
            else f"{n(referrals['made'])}, {n(referrals['completed'])}",
            "Other families": "",
        },
    ]


# The figures of score --json that are shares (fractions): a plan shows them as percentages.
SHARE_FIGURES = frozenset(
    {
        "reach",
        "informed_reach",
        "regularity",
        "agree",
        "open",
        "early",
        "reliable",
        "regular_weeks",
        "coverage",
        "category_coverage",
        "plan_complete",
        "group_reach",
        "rest_reach",
    }
)


def _figure_text(value: float | None, measure: str | None) -> str:
    """A plan's figure in its own units: a share as a percentage, anything else as it is.

    >>> _figure_text(0.342, "communication.open"), _figure_text(-11.2, "equity.send.gap_pp"), _figure_text(None, "x")
    ('34.2%', '-11.2', '–')
    """
    if value is None:
        return "–" if measure else ""
    if measure and measure.split(".")[-1] in SHARE_FIGURES:
        return percent(value)
    return f"{value:g}"


def plan_rows(plan: list[dict], for_governor: bool = False) -> list[dict[str, str]]:
    """The plan's goals as rows of words (page and report): for governors without the goal's words
    or owner."""
    rows = []
    for r in plan:
        verdict = {True: "on track", False: "not on track", None: "–"}[r["on_track"]]
        # The figures before the words of who and when: a projector's width shows them first.
        row = {"Type": r["epstein_type"]}
        if not for_governor:
            row["Goal"] = r.get("goal") or ""
        row |= {
            "Figure": r["measure"] or "",
            "Baseline": _figure_text(r["baseline"], r["measure"]),
            "Now": _figure_text(r["now"], r["measure"]),
            "Target": _figure_text(r["target"], r["measure"]),
            "On track": verdict,
            "Status": r["status"] + (" · overdue" if r["overdue"] else ""),
            "Due": day_text(r["due"]) if r["due"] else "",
        }
        if not for_governor:
            row["Owner"] = r.get("owner") or ""
        rows.append(row)
    return rows


def partner_choices(store: db.Store, school_id: str) -> dict[str, str]:
    """The school's partners a partnership may name: reference to name, by name."""
    p = db.partners
    with store.read() as conn:
        rows = conn.execute(
            sa.select(p.c.partner_id, p.c.name).where(p.c.school_id == school_id).order_by(p.c.name)
        ).all()
    return {str(k): str(v) for k, v in rows}


def family_choices(store: db.Store, school_id: str) -> list[str]:
    """The school's family references, in order."""
    f = db.families
    with store.read() as conn:
        return list(
            conn.execute(sa.select(f.c.family_id).where(f.c.school_id == school_id).order_by(f.c.family_id)).scalars()
        )
