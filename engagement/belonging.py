"""Belonging: parent and pupil voice from the school's surveys, as shares agreeing per question, by
group, with the change since the last round; the families who answered with low belonging; and
the Overview's section for belonging and transitions.

A *round* is one survey on one date (``survey_responses.csv``, one row per answer). The share
agreeing of a question is its answers on the agreeing side of the scale over its scored answers
(a "don't know" is not scored), shown only from ``privacy.suppression_threshold`` scored answers
up; by group (pupil premium, SEND, EAL) only for surveys that carry family references, each group
under the same rule. For governors the counts are rounded to the threshold and a share is hidden
when the answers agreeing, or the others, number 1 to threshold - 1 (as for every family rate,
:mod:`engagement.privacy`). The change is against the same question in the survey's round before.

The seed (``shared/seeds/001``): "the key value a community-based service provides to SEND
children and young people is 'belonging'"; every family should feel it belongs beyond the gates.

>>> import datetime
>>> rows = pd.DataFrame({"survey": "belonging", "date": datetime.date(2026, 10, 1), "question": "belong",
...                      "answer": ["agree"] * 8 + ["disagree"] * 4, "family_id": None, "respondent": "parent"})
>>> share_agreeing(rows, load_surveys().survey("belonging"))
(12, 8, 0.6667)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from engagement import disclosure
from engagement import store as db
from engagement import transitions as moves_module
from engagement.plans_and_surveys import Survey, load_surveys
from engagement.privacy import governor_count
from engagement.settings import load_settings

GROUPS = {"pupil_premium": "Pupil premium", "send": "SEND", "eal": "EAL"}
RESPONSE_COLUMNS = ["survey", "date", "question", "answer", "family_id", "respondent", *GROUPS]


def load_responses(store: db.Store, school_id: str) -> pd.DataFrame:
    """Every answer of the school's surveys, with the answering family's group flags (False for an
    anonymous answer): columns :data:`RESPONSE_COLUMNS`."""
    r, f = db.survey_responses, db.families
    with store.read() as conn:
        rows = conn.execute(
            sa.select(
                r.c.survey, r.c.date, r.c.question, r.c.answer, r.c.family_id, r.c.respondent, *(f.c[g] for g in GROUPS)
            )
            .select_from(r.outerjoin(f, f.c.family_id == r.c.family_id))
            .where(r.c.school_id == school_id)
        ).all()
    frame = pd.DataFrame(db.tuples(rows), columns=RESPONSE_COLUMNS)
    for group in GROUPS:
        frame[group] = frame[group].fillna(False).astype(bool)
    return frame


def rounds(responses: pd.DataFrame, survey: str, until: datetime.date | None = None) -> list[datetime.date]:
    """The dates of a survey's rounds, oldest first (up to ``until`` when given)."""
    dates = responses.loc[responses["survey"] == survey, "date"]
    return sorted(d for d in set(dates) if until is None or d <= until)


def share_agreeing(answers: pd.DataFrame, survey: Survey) -> tuple[int, int, float | None]:
    """(scored answers, agreeing answers, share agreeing) of ``answers``; the share is None for none."""
    scored = answers[~answers["answer"].isin(survey.unscored)]
    agree = int(scored["answer"].isin(survey.agree).sum())
    return len(scored), agree, (round(agree / len(scored), 4) if len(scored) else None)


def _shown(n: int, agree: int, share: float | None, threshold: int, for_governor: bool) -> float | None:
    if share is None or n < threshold:
        return None
    if for_governor:
        # Neither side 1-9, and coarsened beside the rounded count of answers (engagement.disclosure).
        return disclosure.share(agree, n, threshold).value
    return share


def _responses_count(n: int, threshold: int, for_governor: bool) -> int | None:
    if not for_governor:
        return n
    shown = governor_count(n, threshold)
    return None if shown != shown else int(shown)


_NO_ANSWERS = (0, 0, None)


def _question_counts(
    answers: pd.DataFrame, survey: Survey, groups: list[str]
) -> dict[tuple[str, str | None], tuple[int, int, float | None]]:
    """:func:`share_agreeing` of every question of ``answers`` at once, keyed (question, None), and
    of each group's answers to it, keyed (question, group): one grouped sum of the round instead of
    a filtered copy of it per question and group (the Overview draws three rounds on every run)."""
    scored = ~answers["answer"].isin(survey.unscored)
    agreeing = scored & answers["answer"].isin(survey.agree)
    columns: dict[tuple[str | None, str], pd.Series] = {(None, "n"): scored, (None, "agree"): agreeing}
    for group in groups:
        columns |= {(group, "n"): scored & answers[group], (group, "agree"): agreeing & answers[group]}
    sums = pd.DataFrame(columns).groupby(answers["question"].to_numpy()).sum()
    out: dict[tuple[str, str | None], tuple[int, int, float | None]] = {}
    for question, row in zip(sums.index, sums.to_numpy(dtype=np.int64).tolist(), strict=True):
        for i, of_group in enumerate([None, *groups]):
            n, agree = row[2 * i], row[2 * i + 1]
            out[(question, of_group)] = (n, agree, round(agree / n, 4) if n else None)
    return out


def question_table(
    responses: pd.DataFrame,
    survey: Survey,
    date: datetime.date,
    previous: datetime.date | None = None,
    *,
    threshold: int | None = None,
    for_governor: bool = False,
    groups: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per question of a round: question, text, responses, agree (share), change (points
    on the previous round), and one share per group of ``groups`` (:data:`GROUPS` by default: a
    boolean column of ``responses`` each), None when suppressed, and always for an anonymous survey."""
    groups = GROUPS if groups is None else groups
    threshold = threshold or load_settings().privacy.suppression_threshold
    now = responses[(responses["survey"] == survey.key) & (responses["date"] == date)]
    before = (
        responses[(responses["survey"] == survey.key) & (responses["date"] == previous)]
        if previous is not None
        else now.iloc[0:0]
    )
    by_group = [] if survey.anonymous else list(groups)
    counted, counted_before = _question_counts(now, survey, by_group), _question_counts(before, survey, [])
    rows = []
    for question in survey.questions:
        n, agree, share = counted.get((question.key, None), _NO_ANSWERS)
        shown = _shown(n, agree, share, threshold, for_governor)
        n0, agree0, share0 = counted_before.get((question.key, None), _NO_ANSWERS)
        earlier = _shown(n0, agree0, share0, threshold, for_governor)
        change = None if shown is None or earlier is None else round(100 * (shown - earlier), 1)
        row = {
            "question": question.key,
            "text": question.text,
            "responses": _responses_count(n, threshold, for_governor),
            "agree": shown,
            "change": change,
        }
        for group in groups:
            if survey.anonymous:
                row[group] = None
                continue
            g_n, g_agree, g_share = counted.get((question.key, group), _NO_ANSWERS)
            row[group] = _shown(g_n, g_agree, g_share, threshold, for_governor)
        rows.append(row)
    table = pd.DataFrame(rows, columns=["question", "text", "responses", "agree", "change", *groups]).astype(object)
    return table.where(table.notna(), None)  # a figure not shown is None, never NaN


def headline(
    responses: pd.DataFrame, end: datetime.date, *, threshold: int | None = None, for_governor: bool = False
) -> dict | None:
    """``score --json``'s ``belonging`` key: the headline question ("families who feel they belong")
    of the latest round up to ``end``: survey, date, responses, agree (and ``suppressed``);
    ``change`` on the round before, in points. None when there is no such round."""
    threshold = threshold or load_settings().privacy.suppression_threshold
    survey = load_surveys().headline
    if survey is None or survey.headline is None:
        return None
    dates = rounds(responses, survey.key, end)
    if not dates:
        return None
    table = question_table(
        responses,
        survey,
        dates[-1],
        dates[-2] if len(dates) > 1 else None,
        threshold=threshold,
        for_governor=for_governor,
    )
    row = table[table["question"] == survey.headline].iloc[0]
    return {
        "survey": survey.key,
        "date": dates[-1].isoformat(),
        "responses": None if pd.isna(row["responses"]) else int(row["responses"]),
        "agree": None if pd.isna(row["agree"]) else float(row["agree"]),
        "change": None if pd.isna(row["change"]) else float(row["change"]),
        "suppressed": bool(pd.isna(row["agree"])),
    }


def low_belonging_families(responses: pd.DataFrame) -> pd.DataFrame:
    """The families who answered on the low side of a non-anonymous survey, in its latest round:
    family_id, survey, date, questions (the question keys they answered low). Only the latest
    round counts: a family that answered low last year and well since is not raised."""
    out = []
    for survey in load_surveys().surveys:
        if survey.anonymous or not survey.low:
            continue
        dates = rounds(responses, survey.key)
        if not dates:
            continue
        latest = responses[
            (responses["survey"] == survey.key)
            & (responses["date"] == dates[-1])
            & responses["family_id"].notna()
            & responses["answer"].isin(survey.low)
        ]
        for family_id, answers in latest.groupby("family_id", sort=True):
            out.append(
                {
                    "family_id": str(family_id),
                    "survey": survey.title,
                    "date": dates[-1],
                    "questions": ";".join(sorted(set(answers["question"]))),
                }
            )
    return pd.DataFrame(out, columns=["family_id", "survey", "date", "questions"])


# ---------------------------------------------------------------- the Overview's section


@dataclass(frozen=True)
class SurveyRound:
    """One survey's latest round up to the window's end, as the Overview shows it."""

    survey: str
    title: str
    anonymous: bool
    date: datetime.date
    previous: datetime.date | None
    questions: pd.DataFrame
    groups: dict[str, str] = field(default_factory=lambda: dict(GROUPS))


@dataclass(frozen=True)
class VoiceSection:
    """Belonging and transitions for the Overview and the report: aggregates only.
    ``transitions`` is :func:`engagement.transitions.figures` of the school year ``year``."""

    year: tuple[datetime.date, datetime.date]
    transitions: dict
    belonging: dict | None
    rounds: list[SurveyRound] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def voice_section(
    store: db.Store,
    school_id: str,
    end: datetime.date,
    *,
    for_governor: bool = False,
    today: datetime.date | None = None,
) -> VoiceSection:
    """The section of the Overview for ``school_id``: transitions of the school year of ``end``
    (every move of the year, SEND and not, and the share with a complete plan), the headline of
    belonging and each survey's latest round up to ``end``, per question and group."""
    threshold = load_settings().privacy.suppression_threshold
    year = moves_module.school_year(end)
    moved = moves_module.load_transitions(store, school_id, today, *year)
    responses = load_responses(store, school_id)
    surveys = []
    for survey in load_surveys().surveys:
        dates = rounds(responses, survey.key, end)
        if not dates:
            continue
        previous = dates[-2] if len(dates) > 1 else None
        surveys.append(
            SurveyRound(
                survey.key,
                survey.title,
                survey.anonymous,
                dates[-1],
                previous,
                question_table(responses, survey, dates[-1], previous, threshold=threshold, for_governor=for_governor),
            )
        )
    return VoiceSection(
        year=year,
        transitions=moves_module.figures(moved, threshold, for_governor),
        belonging=headline(responses, end, threshold=threshold, for_governor=for_governor),
        rounds=surveys,
    )


def percent(value) -> str:
    """A share as a whole-ish percentage, or "not shown".

    >>> percent(0.7123), percent(None)
    ('71.2%', 'not shown')
    """
    return "not shown" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{100 * value:.1f}%"


def count_text(value) -> str:
    from engagement.settings import fewer_than

    return fewer_than() if value is None else f"{value:,}"


def question_rows(round_: SurveyRound, agree: str = "Agree") -> list[dict[str, str]]:
    """A round's questions in words for a table (page and report alike); ``agree`` heads the
    share of everyone who answered (beside groups, "All families" says who that is)."""
    rows = []
    for row in round_.questions.to_dict("records"):
        cells = {
            "Question": row["text"],
            "Answers": count_text(row["responses"]),
            agree: percent(row["agree"]),
            "Change (points)": "–"
            if row["change"] is None or pd.isna(row["change"])
            else f"{row['change']:+.1f}".replace("-", "−"),
        }
        if not round_.anonymous:
            cells |= {label: percent(row[group]) for group, label in round_.groups.items()}
        rows.append(cells)
    return rows


def transition_rows(section: VoiceSection) -> list[dict[str, str]]:
    """The transitions of the year in words: all, SEND and not, each with the share with a complete plan."""
    t = section.transitions
    return [
        {
            "Children moving": "All",
            "Transitions": count_text(t["count"]),
            "With a complete plan": percent(t["plan_complete"]),
        },
        {
            "Children moving": "With SEND",
            "Transitions": count_text(t["send"]),
            "With a complete plan": percent(t["send_plan_complete"]),
        },
        {
            "Children moving": "Without SEND",
            "Transitions": count_text(t["not_send"]),
            "With a complete plan": percent(t["not_send_plan_complete"]),
        },
    ]


# ---------------------------------------------------------------- the Transitions page

MOVING = "send_moving"
SEND_GROUPS = {"send": "SEND", MOVING: "SEND, moving"}


def send_belonging(
    store: db.Store,
    school_id: str,
    moves: pd.DataFrame,
    end: datetime.date,
    *,
    for_governor: bool = False,
) -> list[SurveyRound]:
    """Belonging by group beside the moves of children with SEND (the SENCO's Transitions page):
    each survey that carries family references, its latest round up to ``end``, per question the
    share agreeing of all families, of families with SEND, and of the SEND families with a move in
    ``moves`` (rows of :func:`engagement.transitions.load_transitions`). The Overview's rule for
    every group: a share from fewer than ``privacy.suppression_threshold`` scored answers is not
    shown, and for governors it is coarsened (:mod:`engagement.disclosure`)."""
    threshold = load_settings().privacy.suppression_threshold
    responses = load_responses(store, school_id)
    moving = set(moves.loc[moves["send"].astype(bool), "family_id"]) if len(moves) else set()
    responses[MOVING] = responses["send"] & responses["family_id"].isin(moving)
    out = []
    for survey in load_surveys().surveys:
        dates = rounds(responses, survey.key, end)
        if survey.anonymous or not dates:
            continue  # an anonymous survey has no groups
        previous = dates[-2] if len(dates) > 1 else None
        table = question_table(
            responses,
            survey,
            dates[-1],
            previous,
            threshold=threshold,
            for_governor=for_governor,
            groups=SEND_GROUPS,
        )
        out.append(SurveyRound(survey.key, survey.title, False, dates[-1], previous, table, dict(SEND_GROUPS)))
    return out
