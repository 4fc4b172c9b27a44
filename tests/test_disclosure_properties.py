"""No count of 1-9 families is shown to a governor, or can be worked out from what is shown
together, on random schools (issue 24).

Each example is a school of 3 to 60 families with random groups (pupil premium, SEND, EAL), two-way
and one-way contacts, an event register, referrals by outcome, transitions with complete or open
plans and belonging survey answers. It builds the governors' assembly once
(:func:`engagement.overview.school_overview`), the Overview's words, the report and
``score --json --for governor`` from it, then:

- reads every text for counts of families written as numbers, and every family count of the view
  and the JSON: none may be 1-9;
- attacks the figures shown together, as a hostile governor would: it searches every school of up
  to 60 families (the sizes, groups, reached, answers, outcomes and plans) whose figures the
  disclosure rules would show exactly as shown, and fails if a hidden count (a group, those
  reached or not in it, a referral outcome, the complete plans of SEND moves, agreeing answers) is
  then pinned to one value of 1-9. The search restates the rules (round to 10, hide 1-9, shares in
  steps of 5 points shown when neither side is 1-9, SEND and not-SEND shares hidden together): the
  attacker knows them.

The number of examples is ``DISCLOSURE_EXAMPLES`` (CI keeps it modest; it was run once with 10,000).
"""

from __future__ import annotations

import datetime
import itertools
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from engagement import overview, report
from engagement import store as db
from engagement.belonging import question_rows, transition_rows

T = 10
STEP = 0.05
WINDOW = (datetime.date(2026, 9, 1), datetime.date(2026, 11, 27))
TODAY = datetime.date(2026, 11, 27)
N_MAX = 60
EXAMPLES = int(os.environ.get("DISCLOSURE_EXAMPLES", "15"))
FLAGS = ("pupil_premium", "send", "eal")
STATUSES = ("sent", "accepted", "declined", "completed", "no longer needed")


# ---------------------------------------------------------------- the rules, as the attacker knows them


def shown_count(n):
    """A count as shown (vectorised): -1 for "fewer than 10", else rounded to 10."""
    n = np.asarray(n)
    return np.where((n >= 1) & (n < T), -1, T * np.floor(n / T + 0.5))


def small(n):
    n = np.asarray(n)
    return (n >= 1) & (n < T)


def shown_share(part, whole):
    """A share as shown (vectorised): NaN when hidden (whole under 10, or either side 1-9)."""
    part, whole = np.asarray(part, float), np.asarray(whole, float)
    ok = (whole >= T) & ~small(part) & ~small(whole - part)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.round(STEP * np.floor(part / whole / STEP + 0.5), 4)
    return np.where(ok, value, np.nan)


def count_code(value) -> float:
    """A count of the view or JSON in the attacker's code: None is -1 ("fewer than 10")."""
    return -1 if value is None else float(value)


def share_matches(candidate, shown) -> np.ndarray:
    if shown is None:
        return np.isnan(candidate)
    return np.isclose(candidate, shown)


def pinned_small(values: np.ndarray) -> int | None:
    """The one value of 1-9 every candidate agrees on, if there is one."""
    found = np.unique(values)
    if len(found) == 1 and 1 <= found[0] < T:
        return int(found[0])
    return None


# ---------------------------------------------------------------- the attacks


def attack_reach(fam: dict) -> list[tuple[int, int]]:
    """The (on roll, reached) pairs consistent with the families' figures shown."""
    n, r = np.meshgrid(np.arange(N_MAX + 1), np.arange(N_MAX + 1), indexing="ij")
    ok = r <= n
    ok &= shown_count(n) == count_code(fam["on_roll"])
    ok &= share_matches(shown_share(r, n), fam["reach"])
    if fam["reach"] is not None:
        ok &= shown_count(r) == count_code(fam["reached"])
    pairs = list(zip(n[ok].tolist(), r[ok].tolist(), strict=True))
    assert pairs, "the true school must be among the candidates"
    assert pinned_small(np.array([p[1] for p in pairs])) is None, "reached families pinned"
    assert pinned_small(np.array([p[0] - p[1] for p in pairs])) is None, "families not reached pinned"
    return pairs


def attack_equity(flag: str, entry: dict, pairs: list[tuple[int, int]]) -> None:
    """A group beside the rest: its size, reached and not reached, on each side."""
    g, gr = np.meshgrid(np.arange(N_MAX + 1), np.arange(N_MAX + 1), indexing="ij")
    sizes, reached_in, not_reached_in, rests, rest_reached = [], [], [], [], []
    for n, r in pairs:
        ok = (g <= n) & (gr <= g) & (gr <= r) & (r - gr <= n - g)
        rest, rr = n - g, r - gr
        fine = (g >= T) & (rest >= T) & ~small(gr) & ~small(g - gr) & ~small(rr) & ~small(rest - rr)
        if entry["suppressed"]:
            ok &= ~fine
        else:
            ok &= fine
            ok &= (shown_count(g) == entry["group"]) & (shown_count(rest) == entry["rest"])
            ok &= share_matches(shown_share(gr, g), entry["group_reach"])
            ok &= share_matches(shown_share(rr, rest), entry["rest_reach"])
        sizes.append(g[ok])
        reached_in.append(gr[ok])
        not_reached_in.append((g - gr)[ok])
        rests.append((n - g)[ok])
        rest_reached.append((r - gr)[ok])
    for what, values in (
        ("group", sizes),
        ("reached in the group", reached_in),
        ("not reached in the group", not_reached_in),
        ("rest", rests),
        ("reached in the rest", rest_reached),
    ):
        joined = np.concatenate(values)
        assert len(joined), f"{flag}: the true school must be among the candidates"
        assert pinned_small(joined) is None, f"{flag}: {what} pinned to {pinned_small(joined)}"


def count_range(value) -> np.ndarray:
    """Every true count a shown count can stand for: 1-9 for "fewer than 10", 0 for 0, else the
    counts of 10 and over that round to it."""
    if value is None:
        return np.arange(1, T)
    if value == 0:
        return np.array([0])
    return np.arange(max(T, value - T // 2), value + T // 2)


def attack_transitions(moves: dict) -> None:
    """All moves, SEND and not, each with its share of complete plans."""
    totals, sends = count_range(moves["count"]), count_range(moves["send"])
    n, ns, done, ds = np.meshgrid(totals, sends, np.arange(totals.max() + 1), np.arange(sends.max() + 1), indexing="ij")
    ok = (ns <= n) & (done <= n) & (ds <= ns) & (ds <= done) & (done - ds <= n - ns)
    ok &= shown_count(n) == count_code(moves["count"])
    ok &= shown_count(ns) == count_code(moves["send"])
    ok &= shown_count(n - ns) == count_code(moves["not_send"])
    ok &= share_matches(shown_share(done, n), moves["plan_complete"])
    send_share, other_share = shown_share(ds, ns), shown_share(done - ds, n - ns)
    both = ~np.isnan(send_share) & ~np.isnan(other_share)  # the pair is shown together or not at all
    ok &= share_matches(np.where(both, send_share, np.nan), moves["send_plan_complete"])
    ok &= share_matches(np.where(both, other_share, np.nan), moves["not_send_plan_complete"])
    assert ok.any(), "the true school must be among the candidates"
    for what, values in (
        ("SEND moves", ns),
        ("other moves", n - ns),
        ("complete plans", done),
        ("complete SEND plans", ds),
        ("open SEND plans", ns - ds),
        ("complete other plans", done - ds),
        ("open other plans", (n - ns) - (done - ds)),
    ):
        assert pinned_small(values[ok]) is None, f"transitions: {what} pinned to {pinned_small(values[ok])}"


def attack_referrals(made: dict) -> None:
    """The outcomes are a partition of those made, and open = sent + accepted."""
    keys = ("sent", "accepted", "declined", "completed", "no_longer_needed")
    ranges = [count_range(made[key]) for key in keys]
    grid = np.array(list(itertools.product(*ranges)))
    ok = shown_count(grid.sum(axis=1)) == count_code(made["made"])
    ok &= shown_count(grid[:, 0] + grid[:, 1]) == count_code(made["open"])
    assert ok.any(), "the true referrals must be among the candidates"
    for i, key in enumerate(keys):
        assert pinned_small(grid[ok, i]) is None, f"referrals {key} pinned"


def attack_answers(responses, agree) -> None:
    n, a = np.meshgrid(np.arange(N_MAX + 1), np.arange(N_MAX + 1), indexing="ij")
    ok = (a <= n) & (shown_count(n) == count_code(responses))
    ok &= share_matches(np.where(n >= T, shown_share(a, n), np.nan), agree)
    assert ok.any()
    assert pinned_small(a[ok]) is None and pinned_small((n - a)[ok]) is None, "agreeing answers pinned"


# ---------------------------------------------------------------- random schools


schools = st.integers(min_value=3, max_value=N_MAX).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "families": st.lists(
                st.tuples(st.booleans(), st.booleans(), st.booleans(), st.sampled_from(["English", "Polish", "Urdu"])),
                min_size=n,
                max_size=n,
            ),
            "contacts": st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 80), st.booleans()), max_size=3 * n),
            "event": st.lists(st.integers(0, n - 1), max_size=n, unique=True),
            "referrals": st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(STATUSES)), max_size=n),
            "moves": st.lists(st.tuples(st.integers(0, n - 1), st.booleans(), st.booleans()), max_size=n),
            "answers": st.lists(
                st.tuples(st.integers(0, n - 1), st.sampled_from(["agree", "disagree", "strongly agree"])),
                max_size=n,
            ),
        }
    )
)

_counter = itertools.count()


@pytest.fixture(scope="module")
def shared_store():
    """One in-memory store for the module; each example is a school of its own in it."""
    store = db.open_store("sqlite://")
    yield store
    store.dispose()


def write_school(store: db.Store, school: dict) -> str:
    sid = f"S{next(_counter)}"
    fid = [f"{sid}-F{i}" for i in range(len(school["families"]))]
    with store.write("property test") as conn:
        conn.execute(db.schools.insert().values(school_id=sid, name="Oak", postcode="B30 2AA"))
        conn.execute(
            db.families.insert(),
            [
                {
                    "family_id": fid[i],
                    "school_id": sid,
                    "pupil_premium": pp,
                    "send": send,
                    "eal": eal,
                    "language": language,
                }
                for i, (pp, send, eal, language) in enumerate(school["families"])
            ],
        )
        conn.execute(
            db.partners.insert().values(
                partner_id=f"{sid}-P", school_id=sid, name="Food bank", category="food bank", layer=3
            )
        )
        contacts = [
            {
                "interaction_id": f"{sid}-I{k}",
                "school_id": sid,
                "family_id": fid[i],
                "date": WINDOW[0] + datetime.timedelta(days=day),
                "activity": "phone call" if two_way else "newsletter",
                "channel": "phone" if two_way else "digital",
                "two_way": two_way,
            }
            for k, (i, day, two_way) in enumerate(school["contacts"])
        ]
        if school["event"]:
            conn.execute(
                db.events.insert().values(
                    event_id=f"{sid}-E", school_id=sid, date=datetime.date(2026, 10, 7), activity="parents evening"
                )
            )
            contacts += [
                {
                    "interaction_id": f"{sid}-E{i}",
                    "school_id": sid,
                    "family_id": fid[i],
                    "date": datetime.date(2026, 10, 7),
                    "activity": "parents evening",
                    "channel": "in person",
                    "two_way": True,
                }
                for i in school["event"]
            ]
        if contacts:
            conn.execute(db.interactions.insert(), contacts)
        if school["event"]:
            conn.execute(
                db.event_contacts.insert(),
                [{"interaction_id": f"{sid}-E{i}", "event_id": f"{sid}-E"} for i in school["event"]],
            )
        if school["referrals"]:
            conn.execute(
                db.referrals.insert(),
                [
                    {
                        "referral_id": f"{sid}-R{k}",
                        "school_id": sid,
                        "family_id": fid[i],
                        "partner_id": f"{sid}-P",
                        "date": datetime.date(2026, 9, 20),
                        "status": status,
                        "status_date": datetime.date(2026, 9, 25),
                    }
                    for k, (i, status) in enumerate(school["referrals"])
                ],
            )
        if school["moves"]:
            conn.execute(
                db.transitions.insert(),
                [
                    {
                        "transition_id": f"{sid}-T{k}",
                        "school_id": sid,
                        "family_id": fid[i],
                        "kind": "phase",
                        "direction": "leaving",
                        "date": datetime.date(2026, 10, 1),
                        "send": send,
                    }
                    for k, (i, send, _) in enumerate(school["moves"])
                ],
            )
            conn.execute(
                db.transition_steps.insert(),
                [
                    {"step_id": f"{sid}-T{k}/plan", "transition_id": f"{sid}-T{k}", "step": "plan", "title": "Plan"}
                    | {"done": complete}
                    for k, (_, _, complete) in enumerate(school["moves"])
                ],
            )
        if school["answers"]:
            conn.execute(
                db.survey_responses.insert(),
                [
                    {
                        "school_id": sid,
                        "survey": "belonging",
                        "date": datetime.date(2026, 10, 10),
                        "question": "belong",
                        "answer": answer,
                        "family_id": fid[i],
                    }
                    for i, answer in school["answers"]
                ],
            )
    return sid


# "12 families", "about 20 of about 30 families", "Families: 7" and the like.
FAMILY_WORDS = re.compile(r"(?<![\d.,%£])(\d[\d,]*)(?= families)|(?<![\d.,%£])(\d[\d,]*) of (?:about )?\d[\d,]* famil")


def _counts_in(text: str) -> list[int]:
    return [int((a or b).replace(",", "")) for a, b in FAMILY_WORDS.findall(text)]


def _words_of(view: overview.Overview) -> str:
    parts = [row["counts"] for row in view.segments]
    parts += [" ".join(overview.equity_text(row).values()) for _, row in view.equity.iterrows()]
    parts += [" ".join(overview.layer_text(row).values()) for _, row in view.layers.iterrows()]
    parts += [" ".join(map(str, r.values())) for r in overview.trend_text(view.trends).to_dict("records")]
    parts += [" ".join(r.values()) for r in overview.week_rows(view.week or {})]
    if view.voice is not None:
        parts += [" ".join(r.values()) for r in transition_rows(view.voice)]
        parts += [" ".join(r.values()) for rnd in view.voice.rounds for r in question_rows(rnd)]
    if view.communication is not None:
        parts += [f"{r['value']} {r['explanation']}" for r in view.communication.rows]
    parts += view.notes
    return "\n".join(parts)


# The red team's school (issue 24), in every run: 40 families, an event of 8, 12 referrals, 31 moves
# of which 10 SEND with 1 complete plan and 21 others with 11, 4 answers with 1 agreeing.
RED_TEAM = {
    "families": [(i < 12, i < 10, i < 4, "Polish" if i < 12 else "English") for i in range(40)],
    "contacts": [(i, 10, i % 3 != 0) for i in range(40)],
    "event": list(range(8)),
    "referrals": [(i, STATUSES[i % 5]) for i in range(12)],
    "moves": [(i, i < 10, i == 0 or 10 <= i < 21) for i in range(31)],
    "answers": [(0, "agree"), (1, "disagree"), (2, "disagree"), (3, "disagree")],
}


@example(RED_TEAM)
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=EXAMPLES < 100)
@given(schools)
def test_no_count_of_1_to_9_families_is_shown_or_derivable(shared_store, school):
    sid = write_school(shared_store, school)
    view = overview.school_overview(shared_store, sid, *WINDOW, for_governor=True, today=TODAY)
    card = overview.score_json(view)

    # Shown: no count of 1-9 families in the words, the report or the JSON's family counts.
    text = _words_of(view) + "\n" + report.overview_report_html(view)
    assert not [c for c in _counts_in(text) if 1 <= c < T], _counts_in(text)
    counts = [card["families"]["on_roll"], card["families"]["reached"], card["events"]["attendance"]]
    counts += [card["referrals"][k] for k in card["referrals"] if k != "suppressed"]
    counts += [card["transitions"]["count"], card["transitions"]["send"]]
    counts += [e[k] for e in card["equity"].values() for k in ("group", "rest")]
    if card.get("belonging"):
        counts.append(card["belonging"]["responses"])
    assert not [c for c in counts if c is not None and 1 <= c < T], counts

    # Derivable: the attacker's search over every school the figures fit.
    pairs = attack_reach(card["families"])
    for flag in FLAGS:
        attack_equity(flag, card["equity"][flag], pairs)
    assert view.voice is not None
    attack_transitions(view.voice.transitions)
    attack_referrals(card["referrals"])
    for rnd in view.voice.rounds:
        for row in rnd.questions.to_dict("records"):
            attack_answers(row["responses"], row["agree"])
