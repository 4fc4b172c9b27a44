"""`python -m engagement score` on the demo school, checked key by key against shared/FORMATS.md (the
command run in this process, see cli_inprocess.py)."""

from __future__ import annotations

import json

import pytest
from cli_inprocess import run_cli

from engagement import store as db
from engagement.communication import load_messages, measure
from engagement.frames import load_school_frames
from engagement.overview import comparison_json
from engagement.scoring import score_card
from engagement.week import week_card

# The `score --json` object of FORMATS.md, key by key, in its order.
FAMILY_KEYS = ["on_roll", "reached", "reach", "informed_reach", "regularity", "breadth", "recency_days", "score"]
EQUITY_KEYS = ["group", "rest", "group_reach", "rest_reach", "gap_pp", "parity", "suppressed"]
PARTNER_KEYS = ["listed", "engaged", "reach", "interactions_per_engaged", "category_coverage", "score"]
LAYER_KEYS = ["categories", "covered", "coverage"]
TOP_KEYS = [
    "window",
    "families",
    "equity",
    "agencies",
    "businesses",
    "community",
    "layers",
    "overall",
]
FLAGS = ["pupil_premium", "send", "eal", "looked_after", "young_carer"]


def run(*args, check=True):
    result = run_cli(*args)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    db_path = tmp_path_factory.mktemp("score") / "demo.db"
    run("demo", "--db", str(db_path), "--today", "2026-11-23")
    return db_path


def _places(x: float) -> int:
    text = repr(x)
    return len(text.split(".")[1]) if "." in text else 0


def test_score_json_matches_formats_key_by_key(demo_db):
    out = run("score", "--db", str(demo_db), "--json", "--to", "2026-11-23").stdout
    card = json.loads(out)  # one object, nothing else on stdout
    # The demo holds no autumn 2025, so there is no comparison_last_year.
    # Then FORMATS.md's optional keys: the comparison, communication, the week, transitions, belonging,
    # partnerships and the action plan.
    optional = ["comparison", "communication", "events", "referrals", "transitions", "belonging"]
    assert list(card) == [*TOP_KEYS, *optional, "partnerships", "action_plan"]
    # --to alone: the window is the term that day falls in (autumn 2026 starts on 3 Sep), up to that day.
    assert card["window"] == {"from": "2026-09-03", "to": "2026-11-23"}
    # 53 school days so far: compared with the first 53 school days of the summer term, not the whole of it.
    assert card["comparison"] == {
        "from": "2026-04-13",
        "to": "2026-07-02",
        "school_days": 53,
        "why": "first 53 school days of summer 2026",
    }
    comm = card["communication"]
    assert list(comm) == [
        "early",
        "regular_weeks",
        "longest_gap_days",
        "reliable",
        "open",
        "equitable",
        "suppressed",
        "suppressed_figures",
    ]
    for key in ("early", "regular_weeks", "reliable", "open"):
        assert 0 <= comm[key] <= 1 and _places(comm[key]) <= 4
    assert isinstance(comm["longest_gap_days"], int) and list(comm["equitable"]) == [
        "by_channel",
        "by_language",
        "widest_gap_pp",
    ]
    assert all(0 <= v <= 1 for kind in ("by_channel", "by_language") for v in comm["equitable"][kind].values())
    fam = card["families"]
    assert list(fam) == FAMILY_KEYS
    assert fam["on_roll"] == 420 and isinstance(fam["reached"], int) and 0 < fam["reached"] <= 420
    for key in ("reach", "informed_reach", "regularity"):
        assert 0 < fam[key] <= 1 and _places(fam[key]) <= 4
    assert fam["reach"] == round(fam["reached"] / fam["on_roll"], 4)
    assert fam["informed_reach"] >= fam["reach"]
    assert 1 <= fam["breadth"] <= 6 and 0 <= fam["recency_days"] <= 84
    assert 0 <= fam["score"] <= 100 and _places(fam["score"]) <= 1

    assert list(card["equity"]) == FLAGS
    gaps, suppressed = [], []
    for flag, entry in card["equity"].items():
        assert list(entry) == EQUITY_KEYS
        if entry["suppressed"]:
            suppressed.append(flag)
            assert [entry[k] for k in EQUITY_KEYS[:-1]] == [None] * 6
            continue
        assert entry["group"] >= 10 and entry["rest"] >= 10 and entry["group"] + entry["rest"] == fam["on_roll"]
        # The gap comes from the unrounded reaches: within rounding of the shown ones.
        assert abs(entry["gap_pp"] - 100 * (entry["group_reach"] - entry["rest_reach"])) < 0.06
        assert abs(entry["parity"] - entry["group_reach"] / entry["rest_reach"]) < 1e-3
        gaps.append(entry["gap_pp"])
    # About 1.5% of 420 families are looked after: fewer than 10, so never shown.
    assert "looked_after" in suppressed
    # Pupil premium families are reached less in the demo: a negative gap a governor should see.
    assert card["equity"]["pupil_premium"]["gap_pp"] < 0 and min(gaps) < 0

    for seg in ("agencies", "businesses", "community"):
        entry = card[seg]
        assert list(entry) == PARTNER_KEYS
        assert 0 < entry["engaged"] <= entry["listed"]
        assert entry["reach"] == round(entry["engaged"] / entry["listed"], 4)
        assert entry["interactions_per_engaged"] >= 1 and 0 < entry["category_coverage"] <= 1
        assert 0 <= entry["score"] <= 100
    assert list(card["layers"]) == ["2", "3", "4"]
    for entry in card["layers"].values():
        assert list(entry) == LAYER_KEYS
        assert entry["coverage"] == round(entry["covered"] / entry["categories"], 4)
    # The demo never links a care home: layer 3 cannot be fully covered.
    assert card["layers"]["3"]["covered"] < card["layers"]["3"]["categories"]
    assert 0 <= card["overall"] <= 100 and _places(card["overall"]) <= 1


def test_the_command_prints_what_the_library_computes(demo_db):
    import datetime

    card = json.loads(run("score", "--db", str(demo_db), "--json", "--from", "2026-09-01", "--to", "19/12/2026").stdout)
    assert card["window"] == {"from": "2026-09-01", "to": "2026-12-19"}
    store = db.open_store(str(demo_db))
    try:
        frames = load_school_frames(store)
        window = (datetime.date(2026, 9, 1), datetime.date(2026, 12, 19))
        expected = score_card(frames, "999001", *window)
        expected |= comparison_json(frames, *window)
        expected["communication"] = measure(load_messages(store, "999001"), *window).card
        expected.update(week_card(store, "999001", *window))
        from engagement.belonging import headline, load_responses
        from engagement.transitions import score_figures

        expected["transitions"] = score_figures(store, "999001", *window)
        expected["belonging"] = headline(load_responses(store, "999001"), window[1])
        from engagement import partnerships
        from engagement.calendar import load_calendar

        calendar = load_calendar(store, "999001")
        expected |= partnerships.score_json(store, "999001", *window, dict(expected), calendar=calendar)
    finally:
        store.dispose()
    assert card == expected
    # Not a term (it starts before autumn's first day): its 72 school days against the 72 just before it.
    assert card["comparison"]["why"] == "72 school days before 1 Sep 2026"


def test_human_readable_by_default(demo_db):
    out = run("score", "--db", str(demo_db), "--to", "2026-11-23").stdout
    assert out.startswith("Hollybrook Primary School: engagement from 2026-09-03 to 2026-11-23")
    assert (
        "Changes compare the first 53 school days of autumn 2026 (3 Sep – 23 Nov 2026) against the first 53 "
        "school days of summer 2026 (13 Apr – 2 Jul 2026)."
    ) in out
    assert "How the school communicates" in out and "Reliable" in out
    assert "Looked after   fewer than 10 families on one side: not shown" in out
    assert "Overall score:" in out and "{" not in out


def test_several_schools_need_school_and_bad_input_is_usage(demo_db, tmp_path):
    db_path = tmp_path / "two.db"
    db_path.write_bytes(demo_db.read_bytes())
    store = db.open_store(str(db_path))
    with store.write(actor="test") as conn:
        conn.execute(db.schools.insert().values(school_id="S2", name="Elm Road", postcode="B30 3AA"))
    store.dispose()
    several = run("score", "--db", str(db_path), "--json", check=False)
    assert several.returncode == 2 and "--school" in several.stderr and several.stdout == ""
    chosen = run("score", "--db", str(db_path), "--json", "--school", "S2", "--to", "2026-11-23")
    assert json.loads(chosen.stdout)["families"]["suppressed"] is True
    unknown = run("score", "--db", str(db_path), "--school", "nope", check=False)
    assert unknown.returncode == 2 and "no school 'nope'" in unknown.stderr
    backwards = run("score", "--db", str(demo_db), "--from", "2026-11-01", "--to", "2026-10-01", check=False)
    assert backwards.returncode == 2
    assert run("score", "--db", str(demo_db), "--to", "not a date", check=False).returncode == 2
