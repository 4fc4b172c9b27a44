"""Schools side by side (engagement/compare.py, ``compare``): each school's figures equal its own
``score --json`` on its own calendar, shared partners and the neighbours' categories on a hand-made
store of three schools, and what ``--for governor`` hides. On SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime
import json

import pytest
import sqlalchemy as sa
from cli_inprocess import run_cli

from engagement import store as db
from engagement.compare import (
    _runner,
    cards,
    compare_json,
    comparison_windows,
    neighbours_have,
    now_and_before,
    partner_contacts,
    same_name_key,
    school_windows,
    shared_partners,
)
from engagement.schools import schools_view

TODAY = datetime.date(2026, 11, 23)
D = datetime.date

# Hill Top and Oak Way are about a kilometre apart; Moor End is a hundred kilometres north.
SCHOOLS = [
    {"school_id": "A1", "name": "Hill Top Primary", "postcode": "B29 6AA", "latitude": 52.440, "longitude": -1.930},
    {"school_id": "B1", "name": "Oak Way Primary", "postcode": "B29 7BB", "latitude": 52.450, "longitude": -1.930},
    {"school_id": "C1", "name": "Moor End Primary", "postcode": "LS1 1AA", "latitude": 53.400, "longitude": -1.930},
]
PARTNERS = [
    # The same food bank written two ways at one postcode: shared.
    ("A1", "PA-FOOD", "ACCEPTANCE  FOOD BANK", "food bank", 3, "B296AQ", None),
    ("B1", "PB-FOOD", "Acceptance Food Bank", "food bank", 3, "B29 6AQ", None),
    # The same name at another postcode: another organisation.
    ("A1", "PA-HOPE", "Hope Church", "faith group", 3, "B30 1AA", None),
    ("B1", "PB-HOPE", "Hope Church", "faith group", 3, "B31 2BB", None),
    # One Open Referral organisation under two names: shared.
    ("A1", "PA-LIB", "Library", "library", 3, None, "ORG-9"),
    ("B1", "PB-LIB", "Kings Heath Library", "library", 3, "B14 7SP", "ORG-9"),
    # What Oak Way works with and Hill Top does not (a care home), and a lapsed club that counts for no one.
    ("B1", "PB-CARE", "Lavender Care Home", "care home", 3, "B29 5CC", None),
    ("B1", "PB-CLUB", "Old Boxing Club", "sports club", 3, "B29 5DD", None),
    ("A1", "PA-HEALTH", "Selly Oak Health Visitors", "health", 2, "B29 6LL", None),
    ("A1", "PA-SHOP", "Corner Shop", "business", 4, "B29 6SS", None),
    # Moor End's museum is too far to be Hill Top's neighbour's.
    ("C1", "PC-MUS", "Moor Museum", "museum", 3, "LS1 2MM", None),
]
ACTIVITIES = ["phone call", "home visit", "parents evening", "newsletter", "family workshop", "email"]


def _fill(store: db.Store) -> None:
    partners = [
        {
            "partner_id": pid,
            "school_id": sid,
            "name": name,
            "category": category,
            "layer": layer,
            "postcode": postcode,
            "oruk_organisation_id": org,
            "status": "lapsed" if pid == "PB-CLUB" else "active",
        }
        for sid, pid, name, category, layer, postcode, org in PARTNERS
    ]
    families, interactions = [], []
    sizes = {"A1": 60, "B1": 12, "C1": 25}
    dates = [D(2026, 9, 8), D(2026, 9, 26), D(2026, 10, 14), D(2026, 10, 28), D(2026, 11, 2), D(2026, 11, 20)]
    n = 0
    for sid, size in sizes.items():
        for k in range(size):
            fid = f"{sid}-F{k:02d}"
            families.append(
                {"family_id": fid, "school_id": sid, "pupil_premium": k % 3 == 0, "send": k % 4 == 0, "eal": k < 11}
            )
            # Oak Way reaches three families only (a figure of 1-9 families); the others most.
            reached = k < 3 if sid == "B1" else k % 5 != 4
            for j in range(1 + k % 4):
                n += 1
                activity = ACTIVITIES[(k + j) % len(ACTIVITIES)]
                interactions.append(
                    {
                        "interaction_id": f"I{n}",
                        "school_id": sid,
                        "date": dates[(k * 2 + j) % len(dates)],
                        "family_id": fid,
                        "partner_id": None,
                        "activity": activity,
                        "channel": "phone",
                        "two_way": reached and activity != "newsletter",
                    }
                )
    partner_days = {
        "PA-FOOD": 2,
        "PB-FOOD": 3,
        "PA-LIB": 1,
        "PB-LIB": 1,
        "PB-CARE": 2,
        "PB-CLUB": 4,
        "PA-HEALTH": 1,
        "PC-MUS": 2,
    }
    for pid, count in partner_days.items():
        sid = next(p["school_id"] for p in partners if p["partner_id"] == pid)
        for j in range(count):
            n += 1
            interactions.append(
                {
                    "interaction_id": f"I{n}",
                    "school_id": sid,
                    "date": dates[j if pid.endswith("FOOD") else j + 1],
                    "family_id": None,
                    "partner_id": pid,
                    "activity": "multi-agency meeting",
                    "channel": "meeting",
                    "two_way": True,
                }
            )
    # A contact naming a family and a partner counts on both sides; one before the term on neither.
    interactions += [
        {
            "interaction_id": "I-BOTH",
            "school_id": "A1",
            "date": D(2026, 10, 3),
            "family_id": "A1-F01",
            "partner_id": "PA-HEALTH",
            "activity": "home visit",
            "channel": "visit",
            "two_way": True,
        },
        {
            "interaction_id": "I-OLD",
            "school_id": "A1",
            "date": D(2026, 7, 1),
            "family_id": "A1-F02",
            "partner_id": "PA-SHOP",
            "activity": "phone call",
            "channel": "phone",
            "two_way": True,
        },
    ]
    # Oak Way keeps its own terms: it starts later and its half-term is another week.
    terms = [
        {"school_id": "B1", "kind": "term", "name": "Summer 2026", "start": D(2026, 4, 20), "end": D(2026, 7, 17)},
        {"school_id": "B1", "kind": "term", "name": "Autumn 2026", "start": D(2026, 9, 14), "end": D(2026, 12, 18)},
        {"school_id": "B1", "kind": "holiday", "name": "Half term", "start": D(2026, 11, 2), "end": D(2026, 11, 6)},
    ]
    with store.write(actor="test") as conn:
        conn.execute(db.schools.insert(), SCHOOLS)
        conn.execute(db.partners.insert(), partners)
        conn.execute(db.families.insert(), families)
        conn.execute(db.interactions.insert(), interactions)
        conn.execute(db.terms.insert(), terms)


def _fill_more(store: db.Store) -> None:
    """:func:`_fill`, with what communication's "early", transitions and referrals count: families
    new this school year (joined this September, or in Reception with no date joined), SEND
    transitions with their plans' steps, referrals of every status, and some of each outside the
    window or not counting."""
    _fill(store)
    f = db.families
    joined = {f"A1-F{k:02d}": (D(2026, 9, 1), None) for k in range(20)}
    joined |= {f"A1-F{k:02d}": (None, "R;1") for k in range(20, 30)}
    joined |= {f"A1-F{k:02d}": (D(2025, 5, 1), "r") for k in range(30, 35)}  # joined last year: not new
    joined |= {"A1-F35": (None, " r ; 2"), "A1-F36": (None, "Year 3")}  # Reception written loosely; not Reception
    joined |= {f"B1-F{k:02d}": (D(2026, 9, 20), None) for k in range(5)}  # five: a figure of 1-9 families
    transitions, steps, referrals = [], [], []
    moves = [("A1", k, D(2026, 10, 1) + datetime.timedelta(days=k), k < 6) for k in range(14)]
    moves += [("A1", 14, D(2026, 7, 1), True)]  # before the window: not counted
    moves += [("B1", k, D(2026, 10, 5), k == 0) for k in range(3)]
    for sid, k, day, send in moves:
        tid = f"T-{sid}-{k}"
        transitions.append(
            {"transition_id": tid, "school_id": sid, "family_id": f"{sid}-F{k:02d}", "kind": "school move", "date": day}
            | {"send": send}
        )
        # Nine of A1's plans complete, one with no steps at all (not complete), the rest part done.
        done = [True, True, True] if k < 9 or k == 14 else [True, False, False]
        for n, is_done in enumerate([] if k == 13 else done):
            steps.append(
                {"step_id": f"{tid}/s{n}", "transition_id": tid, "step": f"s{n}", "title": f"Step {n}", "done": is_done}
            )
    statuses = ["sent"] * 5 + ["accepted"] * 4 + ["completed"] * 2 + ["declined", "no longer needed"]
    for k, status in enumerate([*statuses, "sent", "sent", "sent"]):
        sid = "B1" if k >= len(statuses) + 1 else "A1"
        day = D(2026, 6, 1) if k == len(statuses) else D(2026, 10, 12)  # one of A1's before the window
        referrals.append(
            {"referral_id": f"R{k}", "school_id": sid, "family_id": f"{sid}-F{k % 10:02d}", "date": day}
            | {"partner_id": "PA-HEALTH" if sid == "A1" else "PB-CARE", "status": status, "status_date": day}
        )
    # A Reception family's only two-way contact was before the school year: not early.
    old = {"interaction_id": "I-JUNE", "school_id": "A1", "date": D(2026, 6, 10), "family_id": "A1-F24"}
    old |= {"activity": "phone call", "channel": "phone", "two_way": True}
    with store.write(actor="test") as conn:
        conn.execute(db.interactions.insert(), [old])
        for family_id, (day, years) in joined.items():
            conn.execute(f.update().where(f.c.family_id == family_id).values(joined=day, year_groups=years))
        conn.execute(db.transitions.insert(), transitions)
        conn.execute(db.transition_steps.insert(), steps)
        conn.execute(db.referrals.insert(), referrals)


@pytest.fixture
def three_schools(store):
    _fill(store)
    return store


@pytest.fixture
def three_schools_more(store):
    _fill_more(store)
    return store


def _score(store, school, *extra):
    result = run_cli("score", "--db", store.url, "--json", "--school", school, "--to", str(TODAY), *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_each_schools_card_is_its_own_score_json_on_its_own_calendar(three_schools):
    windows = school_windows(three_schools, today=TODAY)
    assert {w.school_id: w.start for w in windows} == {"A1": D(2026, 9, 3), "B1": D(2026, 9, 14), "C1": D(2026, 9, 3)}
    for governor in (False, True):
        extra = ("--for", "governor") if governor else ()
        mine = cards(three_schools, windows, for_governor=governor)
        for school in ("A1", "B1", "C1"):
            score = _score(three_schools, school, *extra)
            assert {key: score[key] for key in mine[school]} == mine[school], (school, governor)


def test_an_activity_spelt_otherwise_counts_for_its_type_as_score_counts_it(three_schools):
    """The catalogue's own names (what the contact form and the imports write) are matched as they
    stand; any other spelling (an alias, capitals, spaces around) after lowering and trimming, as
    ``score`` reads it: the same Epstein types either way."""
    store = three_schools
    windows = school_windows(store, today=TODAY)
    as_written = cards(store, windows)["A1"]["families"]
    i = db.interactions
    respelt = {"email": " Homework Diary ", "phone call": "PHONE CALL", "parents evening": "Parents' Evening"}
    with store.write(actor="test") as conn:
        for old, new in respelt.items():
            conn.execute(i.update().where(i.c.school_id == "A1", i.c.activity == old).values(activity=new))
    mine = cards(store, windows)["A1"]["families"]
    assert mine == _score(store, "A1")["families"]
    # An email became homework diary (learning at home, a type of its own): the breadth moved.
    assert mine["breadth"] > as_written["breadth"]


def test_communication_transitions_and_referrals_of_each_school_are_its_own_score_json(three_schools_more):
    """Counted for every school at once, grouped by school in the database (failed before: there
    was no such count; the Schools page read them school by school, a second each)."""
    store = three_schools_more
    windows = school_windows(store, today=TODAY)
    for governor in (False, True):
        extra = ("--for", "governor") if governor else ()
        mine = cards(store, windows, for_governor=governor, more=True)
        for school in ("A1", "B1", "C1"):
            score = _score(store, school, *extra)
            assert mine[school]["communication"] == {k: score["communication"][k] for k in ("early", "open")}, school
            assert mine[school]["transitions"] == score["transitions"], (school, governor)
            assert mine[school]["referrals"] == score["referrals"], (school, governor)
    plain = cards(store, windows, more=True)
    # Figures, not only nulls: 20 families joined in September, 11 in Reception with no date.
    hill = plain["A1"]
    assert hill["communication"]["early"] is not None and hill["communication"]["open"] is not None
    assert hill["transitions"] == {"count": 14, "send": 6, "plan_complete": 0.6429, "suppressed": False}
    assert hill["referrals"]["open"] == 9 and hill["referrals"]["made"] == 13
    # Oak Way's five new families are a figure of 1-9 families.
    assert plain["B1"]["communication"]["early"] is None
    # The Schools page's columns are these figures.
    table = schools_view(store, ["A1", "B1", "C1"], today=TODAY, for_governor=False).table.set_index("school_id")
    assert table.loc["A1", "communication_early"] == hill["communication"]["early"]
    assert table.loc["A1", "transitions_plan_complete"] == 0.6429 and table.loc["A1", "referrals_open"] == 9


def test_compare_json_is_each_schools_score_json_and_the_shared_partners(three_schools):
    result = run_cli("compare", "--db", three_schools.url, "--json", "--to", str(TODAY))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert list(out) == ["schools", "shared_partners"]
    assert [s["school_id"] for s in out["schools"]] == ["A1", "B1", "C1"]
    for entry in out["schools"]:
        score = _score(three_schools, entry["school_id"])
        assert list(entry) == [
            "school_id",
            "name",
            "window",
            "families",
            "agencies",
            "businesses",
            "community",
            "overall",
            "equity",
        ]
        assert entry["window"] == score["window"]
        assert entry["families"] == {"on_roll": score["families"]["on_roll"], "reach": score["families"]["reach"]}
        for segment in ("agencies", "businesses", "community"):
            assert entry[segment] == {"reach": score[segment]["reach"]}
        assert entry["overall"] == score["overall"]
        pp = score["equity"]["pupil_premium"]
        assert entry["equity"] == {"pupil_premium": {"gap_pp": pp["gap_pp"], "suppressed": pp["suppressed"]}}
    assert out["schools"][0]["families"]["reach"] is not None  # a figure, not only nulls compared
    assert sorted(map(tuple, (s["partner_ids"] for s in out["shared_partners"]))) == [
        ("PA-FOOD", "PB-FOOD"),
        ("PA-LIB", "PB-LIB"),
    ]


def test_governor_compare_hides_a_figure_resting_on_few_families(three_schools):
    plain = compare_json(three_schools, today=TODAY)
    governor = compare_json(three_schools, today=TODAY, for_governor=True)
    oak_plain, oak_governor = plain["schools"][1], governor["schools"][1]
    # Oak Way reached 2 of its 12 families in its term: 0.1667 and 12 on roll give the 2 back.
    assert oak_plain["families"] == {"on_roll": 12, "reach": 0.1667}
    assert oak_governor["families"] == {"on_roll": 10, "reach": None, "suppressed": True}
    assert oak_governor["overall"] is None and oak_plain["overall"] is not None
    # Four pupil-premium families: the gap is hidden from everyone.
    assert oak_plain["equity"]["pupil_premium"] == {"gap_pp": None, "suppressed": True}
    # Hill Top's figures rest on enough families to be shown, rounded as a governor sees counts.
    hill = governor["schools"][0]
    assert hill["families"]["on_roll"] == 60 and hill["families"]["reach"] == plain["schools"][0]["families"]["reach"]
    cli = run_cli("compare", "--db", three_schools.url, "--json", "--to", str(TODAY), "--for", "governor")
    assert json.loads(cli.stdout) == governor


def test_shared_partners_by_name_and_postcode_or_organisation_id(three_schools):
    windows = school_windows(three_schools, today=TODAY)
    shared = shared_partners(partner_contacts(three_schools, windows))
    by_ids = {tuple(s["partner_ids"]): s for s in shared}
    assert set(by_ids) == {("PA-FOOD", "PB-FOOD"), ("PA-LIB", "PB-LIB")}
    food = by_ids[("PA-FOOD", "PB-FOOD")]
    assert food["schools"] == ["A1", "B1"]
    # Oak Way's term starts on 14 September: its contact of the 8th is not this term's.
    assert food["contacts"] == {"A1": 2, "B1": 2}
    assert by_ids[("PA-LIB", "PB-LIB")]["contacts"] == {"A1": 1, "B1": 1}
    assert same_name_key("ACCEPTANCE  FOOD BANK", "B296AQ") == same_name_key("Acceptance Food Bank", "B29 6AQ")
    assert same_name_key("Hope Church", "B30 1AA") != same_name_key("Hope Church", "B31 2BB")


def test_what_the_neighbours_have(three_schools):
    windows = school_windows(three_schools, today=TODAY)
    table = neighbours_have(windows, partner_contacts(three_schools, windows))
    hill = table[table["school_id"] == "A1"]
    # Oak Way's care home, in a category Hill Top has no engaged partner of; not its lapsed club,
    # not the library both have, not Moor End's museum a hundred kilometres away.
    assert hill[["category", "partner_id", "neighbour_id"]].values.tolist() == [["care home", "PB-CARE", "B1"]]
    oak = table[table["school_id"] == "B1"]
    # Hill Top's health visitors; not its shop, last contacted before this term.
    assert oak[["category", "partner_id"]].values.tolist() == [["health", "PA-HEALTH"]]
    assert table[table["school_id"] == "C1"].empty


def test_a_few_schools_of_a_store_count_as_they_do_among_all(three_schools):
    every = cards(three_schools, school_windows(three_schools, today=TODAY))
    some = cards(three_schools, school_windows(three_schools, ["B1", "A1"], today=TODAY))
    assert some == {"A1": every["A1"], "B1": every["B1"]}


def test_compare_in_words_and_a_window_that_ends_before_it_starts(three_schools):
    words = run_cli("compare", "--db", three_schools.url, "--to", str(TODAY))
    assert words.returncode == 0, words.stderr
    assert "Hill Top Primary" in words.stdout and "Moor End Primary" in words.stdout
    assert "Partners shared by two or more schools: 2" in words.stdout
    backwards = run_cli("compare", "--db", three_schools.url, "--from", "2026-11-20", "--to", "2026-11-01")
    assert backwards.returncode == 2 and "before it starts" in backwards.stderr
    # --from alone runs to each school's own today: a first day after it is refused, not counted.
    with pytest.raises(ValueError, match="before it starts"):
        school_windows(three_schools, start=D(2026, 12, 1), today=TODAY)


def test_the_comparison_windows_partner_contacts_counted_again_are_as_read_afresh(three_schools):
    windows = school_windows(three_schools, today=TODAY)
    before = comparison_windows(windows)
    again = partner_contacts(three_schools, before, again=partner_contacts(three_schools, windows))
    afresh = partner_contacts(three_schools, before)
    assert again.equals(afresh)
    assert afresh["contacts"].sum() > 0  # the comparison windows hold contacts: counts, not only zeros


def test_the_window_and_its_comparison_counted_at_once_are_as_counted_one_after_the_other(three_schools_more):
    store = three_schools_more
    windows = school_windows(store, today=TODAY)
    partners, now, before = now_and_before(store, windows, for_governor=True)
    assert partners.equals(partner_contacts(store, windows))
    assert now == cards(store, windows, for_governor=True, more=True)
    assert before == cards(store, comparison_windows(windows), for_governor=True)
    assert set(before) == {"A1", "B1", "C1"} and before["A1"]["families"]["on_roll"] == 60


def test_the_planner_settings_of_one_count_are_back_as_they_were_for_the_next(store):
    """The family count asks PostgreSQL's planner for a plan of its own (the family index in order,
    no parallel workers); the queries after it in the same transaction plan as before."""
    with _runner(store, None) as run:
        if store.dialect != "postgresql":
            assert run.planner is None  # SQLite has no such settings: the block changes nothing
            return
        setting = lambda name: run(sa.select(sa.func.current_setting(name)))[0][0]  # noqa: E731
        assert setting("enable_hashagg") == "on"
        with run.planned({"enable_hashagg": "off", "max_parallel_workers_per_gather": "0"}):
            assert setting("enable_hashagg") == "off" and setting("max_parallel_workers_per_gather") == "0"
        assert setting("enable_hashagg") == "on" and setting("max_parallel_workers_per_gather") != "0"


def test_a_store_held_in_memory_counts_its_windows_one_after_the_other():
    """An in-memory SQLite store is one connection, shared: its two windows cannot each have a
    read transaction of their own, so they are counted one after the other, to the same figures."""
    store = db.open_store("sqlite://")
    _fill_more(store)
    windows = school_windows(store, today=TODAY)
    partners, now, before = now_and_before(store, windows, for_governor=True)
    assert now == cards(store, windows, for_governor=True, more=True)
    assert before == cards(store, comparison_windows(windows), for_governor=True)
    assert partners.equals(partner_contacts(store, windows))


def test_the_cycle_collector_waits_while_the_figures_are_counted_and_is_back_after_the_last_count(three_schools):
    """Paused while counting (each full collection walked the heap to free next to nothing),
    on again once the last of counts running at once has ended, even one that failed; left off
    when it was off."""
    import gc

    from engagement.compare import _cyclic_gc_paused

    assert gc.isenabled()
    seen = []
    with _cyclic_gc_paused():
        with _cyclic_gc_paused():  # another count, in another thread of the page
            seen.append(gc.isenabled())
        seen.append(gc.isenabled())  # the first is still counting
    assert seen == [False, False] and gc.isenabled()
    with pytest.raises(RuntimeError), _cyclic_gc_paused():
        raise RuntimeError("a count that failed")
    assert gc.isenabled()
    now_and_before(three_schools, school_windows(three_schools, today=TODAY))
    assert gc.isenabled()
    gc.disable()
    try:
        now_and_before(three_schools, school_windows(three_schools, today=TODAY))
        assert not gc.isenabled()
    finally:
        gc.enable()
