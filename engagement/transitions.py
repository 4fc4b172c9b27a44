"""SEND transitions: a child moving between settings, the plan that keeps their relationships and
community activities across the move, and the figures governors see.

The seed (``shared/seeds/001``) puts transitions at the heart of SEND school-community
partnerships: children with SEND face more, longer and more upsetting moves, and community clubs
are "a precious thread of continuity". So every transition (imported from ``transitions.csv``)
gets the steps of the school's plan template (``data/transition_plan.toml``), each with an owner
and a due date counted back from the move; staff mark steps done on the Transitions page (each
change audited). A step is *late* when it is not done and its due date has passed; a plan is
*complete* when every step is done. The community step lists the family's partner links that go
on past the move, once the school records them (the ``family_partners`` table); until then it
says so.

Figures (:func:`figures`): the transitions dated in a window, how many of a child with SEND, and
the share with a complete plan, overall and SEND and not. Governors see counts rounded to the
privacy threshold and no share that would single out 1 to 9 moves.

>>> import datetime
>>> move = {"transition_id": "T1", "date": datetime.date(2027, 7, 20), "send": False}
>>> [(s["step"], s["due"].isoformat()) for s in plan_rows(move)][:2]
[('meeting', '2027-05-21'), ('visits', '2027-06-20')]
>>> [s["step"] for s in plan_rows({**move, "send": True})]
['meeting', 'visits', 'handover', 'community', 'follow_up']
>>> school_year(datetime.date(2027, 3, 1))
(datetime.date(2026, 9, 1), datetime.date(2027, 8, 31))
"""

from __future__ import annotations

import datetime
import math

import pandas as pd
import sqlalchemy as sa

from engagement import clock, disclosure
from engagement import store as db
from engagement.plans_and_surveys import PlanStep, load_plan
from engagement.privacy import governor_count, is_small
from engagement.settings import load_settings

# The kinds of move of transitions.csv, as FORMATS.md writes them.
KINDS = (
    "nursery to reception",
    "infant to junior",
    "year 6 to year 7",
    "year 11 to post-16",
    "in-year move",
    "to special school",
    "from special school",
)
DIRECTIONS = ("leaving", "joining")
MEETING_ACTIVITY = "transition meeting"

TRANSITION_COLUMNS = [
    "transition_id",
    "family_id",
    "kind",
    "direction",
    "other_setting",
    "setting_name",
    "date",
    "send",
    "days_to_go",
    "steps",
    "done",
    "late",
    "complete",
    "meeting_held",
    "next_step",
    "next_due",
]


def school_year(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The school year (1 September to 31 August) that ``day`` falls in."""
    first = day.year if day.month >= 9 else day.year - 1
    return datetime.date(first, 9, 1), datetime.date(first + 1, 8, 31)


def plan_rows(transition: dict, steps: tuple[PlanStep, ...] | None = None) -> list[dict]:
    """The plan's steps for one transition (``transition_id``, ``date``, ``send``), each due
    ``due_days`` before the move; steps for a child with SEND only are left out of the others'."""
    steps = steps if steps is not None else load_plan()
    rows = []
    for step in steps:
        if step.send_only and not transition["send"]:
            continue
        rows.append(
            {
                "step_id": f"{transition['transition_id']}/{step.key}",
                "transition_id": transition["transition_id"],
                "step": step.key,
                "title": step.title,
                "owner": step.owner or None,
                "due": transition["date"] - datetime.timedelta(days=step.due_days),
                "done": False,
                "done_on": None,
                "done_by": None,
            }
        )
    return rows


def sync_plans(conn: sa.Connection, transitions: list[dict]) -> dict[str, int]:
    """Give each transition the steps of the plan it lacks, and move the due dates of its steps
    not yet done when the move's date changed. Steps already done, and their dates, are never
    touched. Every change goes through :func:`engagement.store.upsert`, so each is audited."""
    ids = [t["transition_id"] for t in transitions]
    stored: dict[str, dict] = {}
    s = db.transition_steps
    for start in range(0, len(ids), 500):
        for found in conn.execute(sa.select(s).where(s.c.transition_id.in_(ids[start : start + 500]))).mappings():
            stored[found["step_id"]] = dict(found)
    rows: list[dict] = []
    for transition in transitions:
        for step in plan_rows(transition):
            before = stored.get(step["step_id"])
            if before is None:
                rows.append(step)
            elif not before["done"] and before["due"] != step["due"]:
                rows.append({"step_id": step["step_id"], "due": step["due"]})
    return db.upsert(conn, "transition_steps", rows) if rows else {"inserted": 0, "updated": 0, "unchanged": 0}


# ---------------------------------------------------------------- reading


def _setting_names(conn, school_id: str) -> dict[str, str]:
    p = db.partners
    return dict(conn.execute(sa.select(p.c.partner_id, p.c.name).where(p.c.school_id == school_id)).all())


def meetings_held(conn, school_id: str, moves: pd.DataFrame, lookback_days: int | None = None) -> set[str]:
    """The transitions (of ``moves``: transition_id, family_id, date) whose meeting is held: the
    plan's meeting step is done, or a "transition meeting" contact with the family is logged in
    the ``lookback_days`` before the move (a FLO who logs the meeting need not also tick it)."""
    if moves.empty:
        return set()
    lookback = lookback_days or load_settings().transitions.meeting_lookback_days
    meeting_steps = [step.key for step in load_plan() if step.meeting]
    s, i = db.transition_steps, db.interactions
    held = set(
        conn.execute(
            sa.select(s.c.transition_id).where(
                s.c.transition_id.in_(moves["transition_id"].tolist()), s.c.step.in_(meeting_steps), s.c.done
            )
        ).scalars()
    )
    logged = pd.DataFrame(
        db.tuples(
            conn.execute(
                sa.select(i.c.family_id, i.c.date).where(
                    i.c.school_id == school_id,
                    i.c.family_id.in_(moves["family_id"].unique().tolist()),
                    sa.func.lower(i.c.activity) == MEETING_ACTIVITY,
                )
            )
        ),
        columns=["family_id", "date"],
    )
    if not logged.empty:
        pairs = moves[["transition_id", "family_id", "date"]].merge(logged, on="family_id", suffixes=("", "_met"))
        ok = (pairs["date_met"] <= pairs["date"]) & (
            pairs["date_met"] >= pairs["date"] - datetime.timedelta(days=lookback)
        )
        held |= set(pairs.loc[ok, "transition_id"])
    return held


def load_transitions(
    store: db.Store,
    school_id: str,
    today: datetime.date | None = None,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> pd.DataFrame:
    """The school's transitions (dated ``start`` to ``end`` when given) with their plan's progress
    as of ``today``: columns :data:`TRANSITION_COLUMNS`, children with SEND first, then by date."""
    today = today or clock.today()
    t, s = db.transitions, db.transition_steps
    query = sa.select(
        t.c.transition_id, t.c.family_id, t.c.kind, t.c.direction, t.c.other_setting, t.c.date, t.c.send
    ).where(t.c.school_id == school_id)
    if start is not None:
        query = query.where(t.c.date >= start)
    if end is not None:
        query = query.where(t.c.date <= end)
    with store.read() as conn:
        moves = pd.DataFrame(
            db.tuples(conn.execute(query)),
            columns=["transition_id", "family_id", "kind", "direction", "other_setting", "date", "send"],
        )
        steps = pd.DataFrame(
            db.tuples(
                conn.execute(
                    sa.select(s.c.transition_id, s.c.step, s.c.title, s.c.due, s.c.done)
                    .join(t, t.c.transition_id == s.c.transition_id)
                    .where(t.c.school_id == school_id)
                )
            ),
            columns=["transition_id", "step", "title", "due", "done"],
        )
        names = _setting_names(conn, school_id)
        held = meetings_held(conn, school_id, moves)
    if moves.empty:
        return pd.DataFrame(columns=TRANSITION_COLUMNS)
    steps = steps[steps["transition_id"].isin(set(moves["transition_id"]))]
    steps = steps.assign(late=~steps["done"].astype(bool) & (steps["due"] < today))
    by = steps.groupby("transition_id")
    counts = pd.DataFrame({"steps": by.size(), "done": by["done"].sum(), "late": by["late"].sum()})
    open_steps = steps[~steps["done"].astype(bool)].sort_values(["due", "step"])
    first_open = open_steps.groupby("transition_id").first()
    out = moves.merge(counts, left_on="transition_id", right_index=True, how="left")
    out[["steps", "done", "late"]] = out[["steps", "done", "late"]].fillna(0).astype(int)
    out["setting_name"] = [names.get(v, v) if isinstance(v, str) else None for v in out["other_setting"]]
    out["days_to_go"] = [(d - today).days for d in out["date"]]
    out["complete"] = (out["steps"] > 0) & (out["done"] == out["steps"])
    out["meeting_held"] = out["transition_id"].isin(held)
    out["next_step"] = out["transition_id"].map(first_open["title"]).astype(object)
    out["next_due"] = out["transition_id"].map(first_open["due"]).astype(object)
    out = out.where(out.notna(), None)
    out["send"] = out["send"].astype(bool)
    # SEND first; then the coming moves soonest first, then the past ones most recent first.
    out["_past"] = out["days_to_go"] < 0
    out["_order"] = [abs(d) for d in out["days_to_go"]]
    out = out.sort_values(
        ["send", "_past", "_order", "transition_id"], ascending=[False, True, True, True], kind="mergesort"
    )
    return out[TRANSITION_COLUMNS].reset_index(drop=True)


def plan_steps(store: db.Store, school_id: str, transition_id: str, today: datetime.date | None = None) -> pd.DataFrame:
    """One transition's steps, in the plan's order: step_id, step, title, owner, due, done, late,
    done_on, done_by. Empty for a transition of another school (the page never shows it)."""
    today = today or clock.today()
    t, s = db.transitions, db.transition_steps
    with store.read() as conn:
        rows = conn.execute(
            sa.select(s.c.step_id, s.c.step, s.c.title, s.c.owner, s.c.due, s.c.done, s.c.done_on, s.c.done_by)
            .join(t, t.c.transition_id == s.c.transition_id)
            .where(t.c.school_id == school_id, s.c.transition_id == transition_id)
        ).all()
    frame = pd.DataFrame(
        db.tuples(rows), columns=["step_id", "step", "title", "owner", "due", "done", "done_on", "done_by"]
    )
    order = {step.key: n for n, step in enumerate(load_plan())}
    frame["_order"] = frame["step"].map(lambda k: order.get(k, len(order)))
    frame = frame.sort_values(["_order", "due"], kind="mergesort").drop(columns="_order").reset_index(drop=True)
    frame["done"] = frame["done"].astype(bool)
    frame["late"] = ~frame["done"] & (frame["due"] < today)
    return frame[["step_id", "step", "title", "owner", "due", "done", "late", "done_on", "done_by"]]


class UnknownStep(LookupError):
    """A step that is not one of the school's: nothing is written."""


def mark_steps(
    store: db.Store, actor: str, school_id: str, changes: dict[str, bool], today: datetime.date | None = None
) -> int:
    """Mark plan steps done (True) or not done (False), in one audited transaction: who and when
    are kept with a step marked done. Steps of another school are refused whole. Returns how many
    steps changed."""
    if not changes:
        return 0
    today = today or clock.today()
    t, s = db.transitions, db.transition_steps
    with store.write(actor) as conn:
        stored = {
            r["step_id"]: dict(r)
            for r in conn.execute(
                sa.select(s)
                .join(t, t.c.transition_id == s.c.transition_id)
                .where(t.c.school_id == school_id, s.c.step_id.in_(list(changes)))
            ).mappings()
        }
        unknown = sorted(set(changes) - set(stored))
        if unknown:
            raise UnknownStep(f"no step {unknown[0]!r} in this school's transition plans")
        rows = []
        for step_id, done in changes.items():
            if bool(stored[step_id]["done"]) == bool(done):
                continue
            rows.append(
                {
                    "step_id": step_id,
                    "done": bool(done),
                    "done_on": today if done else None,
                    "done_by": actor if done else None,
                }
            )
        return db.upsert(conn, "transition_steps", rows)["updated"] if rows else 0


def community_activities(store: db.Store, family_id: str, on: datetime.date) -> tuple[list[str] | None, str]:
    """The partners (names) whose activities the family keeps up after a move on ``on``: its
    family-partner links still open on that day. ``(None, note)`` while the school records no such
    links (the ``family_partners`` table comes with issue 17)."""
    links = db.TABLES.get("family_partners")
    if links is None:
        return None, (
            "The family's community activities are not recorded in the app yet (family-partner links "
            "come in a later release): list the clubs and groups the child goes to with the family."
        )
    p = db.partners
    with store.read() as conn:
        query = (
            sa.select(p.c.name, *(links.c[c] for c in ("relation",) if c in links.c))
            .join(p, p.c.partner_id == links.c.partner_id)
            .where(links.c.family_id == family_id)
        )
        if "end" in links.c:
            query = query.where(sa.or_(links.c["end"].is_(None), links.c["end"] >= on))
        names = sorted({str(row[0]) for row in conn.execute(query).all()}, key=str.lower)
    if not names:
        return [], "No community activity is linked to this family yet: ask which clubs and groups the child goes to."
    return names, "These go on after the move: tell each one about the move and the new setting."


# ---------------------------------------------------------------- figures


def _share(part: int, whole: int, threshold: int, for_governor: bool) -> float | None:
    """``part / whole``, or None when ``whole`` is under the threshold or, for governors, when the
    part or the rest is 1 to threshold - 1 (a share and a count give it back)."""
    if whole < threshold or whole == 0:
        return None
    if for_governor and (is_small(part, threshold) or is_small(whole - part, threshold)):
        return None
    return round(part / whole, 4)


def _count(n: int, threshold: int, for_governor: bool) -> int | None:
    if not for_governor:
        return int(n)
    shown = governor_count(n, threshold)
    return None if math.isnan(shown) else int(shown)


def _governor_figures(n: int, n_send: int, done: int, done_send: int, threshold: int) -> dict:
    """The transitions as governors see them (engagement.disclosure): counts rounded, shares
    coarsened and shown only when neither side is 1-9, and the shares of SEND and not SEND, a
    partition of every move, hidden together, so the whole and one part cannot give the other back."""
    # The counts need no partner hidden with them: each is rounded to 10 either way, so the whole
    # less a shown part leaves a hidden part anywhere in a range of ten (the property test checks).
    send, not_send = disclosure.count(n_send, threshold), disclosure.count(n - n_send, threshold)
    words = {"counted": "had a complete plan", "not_counted": "did not have a complete plan"}
    send_share, not_send_share = disclosure.pair(
        (done_send, n_send), (done - done_send, n - n_send), threshold, **words
    )
    total = disclosure.count(n, threshold).value
    return {
        "count": None if total is None else int(total),
        "send": None if send.value is None else int(send.value),
        "plan_complete": disclosure.share(done, n, threshold, **words).value,
        "not_send": None if not_send.value is None else int(not_send.value),
        "send_plan_complete": send_share.value,
        "not_send_plan_complete": not_send_share.value,
    }


def figures(moves: pd.DataFrame, threshold: int | None = None, for_governor: bool = False) -> dict:
    """The counts of ``moves`` (a :func:`load_transitions` frame) as FORMATS.md's ``transitions``
    key: ``count``, ``send``, ``plan_complete``; plus ``not_send``, ``send_plan_complete`` and
    ``not_send_plan_complete`` for the Overview. A suppressed figure is None, with
    ``"suppressed": True`` beside the figures.

    >>> moves = pd.DataFrame({"send": [True] * 12 + [False] * 20, "complete": [True] * 9 + [False] * 23})
    >>> figures(moves, 10)
    {'count': 32, 'send': 12, 'plan_complete': 0.2812, 'not_send': 20, 'send_plan_complete': 0.75, \
'not_send_plan_complete': 0.0, 'suppressed': False}
    >>> figures(moves, 10, for_governor=True)
    {'count': 30, 'send': 10, 'plan_complete': None, 'not_send': 20, 'send_plan_complete': None, \
'not_send_plan_complete': None, 'suppressed': True}
    """
    send = moves["send"].astype(bool).to_numpy() if len(moves) else []
    complete = moves["complete"].astype(bool).to_numpy() if len(moves) else []
    done_send = int(sum(c and s for c, s in zip(complete, send, strict=True)))
    return figures_of_counts(len(moves), int(sum(send)), int(sum(complete)), done_send, threshold, for_governor)


def figures_of_counts(
    n: int, n_send: int, done: int, done_send: int, threshold: int | None = None, for_governor: bool = False
) -> dict:
    """:func:`figures` from the counts it rests on: ``n`` moves, ``n_send`` of children with SEND,
    ``done`` with a complete plan, ``done_send`` of them with SEND (what :mod:`engagement.compare`
    counts for many schools at once in the database)."""
    threshold = threshold or load_settings().privacy.suppression_threshold
    if for_governor:
        out = _governor_figures(n, n_send, done, done_send, threshold)
    else:
        out = {
            "count": _count(n, threshold, for_governor),
            "send": _count(n_send, threshold, for_governor),
            "plan_complete": _share(done, n, threshold, for_governor),
            "not_send": _count(n - n_send, threshold, for_governor),
            "send_plan_complete": _share(done_send, n_send, threshold, for_governor),
            "not_send_plan_complete": _share(done - done_send, n - n_send, threshold, for_governor),
        }
    # A share of no moves at all is no figure, not a suppressed one.
    hidden = [
        k
        for k, v in out.items()
        if v is None
        and not (
            (k == "plan_complete" and n == 0)
            or (k == "send_plan_complete" and n_send == 0)
            or (k == "not_send_plan_complete" and n == n_send)
        )
    ]
    out["suppressed"] = bool(hidden)
    return out


def score_figures(
    store: db.Store,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    for_governor: bool = False,
    today: datetime.date | None = None,
) -> dict:
    """``score --json``'s ``transitions`` key: the transitions dated in the window."""
    return score_keys(figures(load_transitions(store, school_id, today, start, end), for_governor=for_governor))


def score_keys(full: dict) -> dict:
    """``score --json``'s ``transitions`` key from :func:`figures`."""
    out = {k: full[k] for k in ("count", "send", "plan_complete")}
    out["suppressed"] = (
        out["count"] is None or out["send"] is None or (out["plan_complete"] is None and full["count"] != 0)
    )
    return out


def send_moves_without_meeting(
    store: db.Store, school_id: str, today: datetime.date, days: int | None = None
) -> pd.DataFrame:
    """The SEND moves of the coming ``days`` (``[transitions] meeting_warning_days``) with no
    transition meeting held yet: family_id, transition_id, date, days_to_go (soonest first)."""
    days = days or load_settings().transitions.meeting_warning_days
    t = db.transitions
    with store.read() as conn:
        moves = pd.DataFrame(
            db.tuples(
                conn.execute(
                    sa.select(t.c.transition_id, t.c.family_id, t.c.date).where(
                        t.c.school_id == school_id,
                        t.c.send,
                        t.c.date >= today,
                        t.c.date <= today + datetime.timedelta(days=days),
                    )
                )
            ),
            columns=["transition_id", "family_id", "date"],
        )
        held = meetings_held(conn, school_id, moves)
    moves = moves[~moves["transition_id"].isin(held)].copy()
    moves["days_to_go"] = [(d - today).days for d in moves["date"]]
    return moves.sort_values(["date", "transition_id"]).reset_index(drop=True)
