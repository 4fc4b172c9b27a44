"""The evaluation of partnerships and the action plan's figures, on a school small enough to work
out by hand (issue 29's "Done when"), through ``score --json`` on SQLite and PostgreSQL.

The school: 40 families F01-F40. Partnership PS-BIG (partner P1) began 7 Sep 2026 with F01-F16 (F16
joined on 1 Nov) and F23, who left on 15 Oct, before the "after" round: 16 members, 24 others.
PS-SMALL has F17-F22: 6 members. The belonging survey's headline question was answered on
20 Jun 2026 (before) and 20 Nov 2026 (after):

    before  members F01-F12 answered (12), F01-F06 agree (6): 0.5
            others  F17-F36 answered (20), F17-F27 agree (11): 0.55
            one answer without a family reference (agree): in the school's headline, in neither group
    after   members F01-F15 answered (15), F01-F10 agree (10): 0.6667
            others  F17-F36 answered (20), F17-F28 agree (12): 0.6
    change  members 66.67 - 50 = 16.7 points; others 60 - 55 = 5.0; difference 16.67 - 5 = 11.7

Window 1 Sep - 10 Dec 2026. Two-way contacts in it: members F01-F12 (12 of 16: 0.75), others
F17-F31 (15 of 24: 0.625); F13 had only a newsletter, F14 a call in August (outside). Referrals
in the window: members to P1 three (two completed), a member to P2 (completed: not the
partnership's), another family to P1 (sent): PS-BIG's are 3 made, 2 completed.

The plan (2026-27): the school's terms are summer 2026 (13 Apr - 22 Jul), autumn 2026 (1 Sep -
18 Dec, half-term 26-30 Oct), spring 2027 (4 Jan - 26 Mar) and summer 2027 (12 Apr - 21 Jul):
74 + 60 + 73 = 207 school days, 68 of them by 10 Dec: 0.3285 of the year gone.

    A1 families.reach       baseline 0.5 (given), now 27/40 = 0.675, target 0.9:
       (0.675 - 0.5) / 0.4 = 0.4375 of the way >= 0.3285: on track
    A2 belonging.agree      baseline over summer 2026: 18 of 33 = 0.5455; now 22 of 35 = 0.6286;
       target 0.9: 0.0831 / 0.3545 = 0.234 < 0.3285: not on track
    A3 referrals.completed  baseline 0, now 3 (two of PS-BIG's and the one to P2), target 6:
       0.5 >= 0.3285: on track; due 30 Nov, in progress: overdue
"""

from __future__ import annotations

import datetime
import io
import json

import pypdf
import pytest

from engagement import partnerships, records
from engagement import store as db
from engagement.calendar import load_calendar
from tests.cli_inprocess import run_cli

FAMILIES = [f"F{n:02d}" for n in range(1, 41)]
START, END = datetime.date(2026, 9, 1), datetime.date(2026, 12, 10)


def _csv(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def _answers(date: str, answered: range, agree: range) -> list[str]:
    return [f"belonging,{date},belong,{'agree' if n in agree else 'disagree'},F{n:02d}" for n in answered]


def hand_school() -> list[tuple[str, bytes]]:
    """The files of the school described above."""
    two_way = [*range(1, 13), *range(17, 32)]
    interactions = [f"2026-10-{5 + n % 20:02d},F{n:02d},phone call" for n in two_way]
    interactions += ["2026-10-09,F13,newsletter", "2026-08-20,F14,phone call"]
    before = _answers("2026-06-20", range(1, 13), range(1, 7)) + _answers("2026-06-20", range(17, 37), range(17, 28))
    after = _answers("2026-11-20", range(1, 16), range(1, 11)) + _answers("2026-11-20", range(17, 37), range(17, 29))
    return [
        ("schools.csv", b"school_id,name,postcode\nS1,Hand Count Primary,B30 2AA\n"),
        (
            "partners.csv",
            b"partner_id,name,category\nP1,Inclusive play scheme,community SEND group\nP2,Pantry,food bank\n",
        ),
        ("families.csv", _csv("family_id", FAMILIES)),
        (
            "terms.csv",
            _csv(
                "kind,name,start,end",
                [
                    "term,Summer 2026,2026-04-13,2026-07-22",
                    "term,Autumn 2026,2026-09-01,2026-12-18",
                    "holiday,Half-term,2026-10-26,2026-10-30",
                    "term,Spring 2027,2027-01-04,2027-03-26",
                    "term,Summer 2027,2027-04-12,2027-07-21",
                ],
            ),
        ),
        ("interactions.csv", _csv("date,family_id,activity", interactions)),
        (
            "referrals.csv",
            _csv(
                "referral_id,family_id,partner_id,date,status",
                [
                    "R1,F01,P1,2026-09-20,completed",
                    "R2,F02,P1,2026-10-01,completed",
                    "R3,F03,P1,2026-11-02,accepted",
                    "R4,F04,P2,2026-10-12,completed",
                    "R5,F20,P1,2026-10-12,sent",
                ],
            ),
        ),
        (
            "survey_responses.csv",
            _csv(
                "survey,date,question,answer,family_id",
                [*before, "belonging,2026-06-20,belong,agree,", *after],
            ),
        ),
        (
            "partnerships.csv",
            _csv(
                "partnership_id,name,partners,start",
                ["PS-BIG,Saturday inclusive play,P1,2026-09-07", "PS-SMALL,Reading buddies,P2,2026-09-07"],
            ),
        ),
        (
            "partnership_members.csv",
            _csv(
                "partnership_id,family_id,joined,left",
                [
                    *(f"PS-BIG,F{n:02d},," for n in range(1, 16)),
                    "PS-BIG,F16,2026-11-01,",
                    "PS-BIG,F23,,2026-10-15",
                    *(f"PS-SMALL,F{n:02d},," for n in range(17, 23)),
                ],
            ),
        ),
        (
            "action_plan.csv",
            _csv(
                "plan_id,year,epstein_type,goal,due,measure,target,baseline,status",
                [
                    "A1,2026-27,communicating,Reach more families,2027-07-16,families.reach,0.9,0.5,in progress",
                    "A2,2026-27,decision making,Families feel they belong,,belonging.agree,0.9,,in progress",
                    "A3,2026-27,collaborating with community,Referrals reach an outcome,2026-11-30,"
                    "referrals.completed,6,0,in progress",
                ],
            ),
        ),
    ]


@pytest.fixture
def hand_store(store):
    run = records.import_records(store, hand_school(), actor="test")
    assert run.ok, run.format()
    return store


def _url(store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def _score(store, *extra) -> dict:
    result = run_cli(
        "score", "--json", "--from", START.isoformat(), "--to", END.isoformat(), "--db", _url(store), *extra
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


BIG = {
    "partnership_id": "PS-BIG",
    "name": "Saturday inclusive play",
    "members": 16,
    "members_reach": 0.75,
    "others_reach": 0.625,
    "before": {"date": "2026-06-20", "members_agree": 0.5, "others_agree": 0.55},
    "after": {"date": "2026-11-20", "members_agree": 0.6667, "others_agree": 0.6},
    "change_members_pp": 16.7,
    "change_others_pp": 5.0,
    "difference_pp": 11.7,
    "suppressed": False,
}
PLAN = [
    {
        "plan_id": "A1",
        "epstein_type": "communicating",
        "measure": "families.reach",
        "baseline": 0.5,
        "now": 0.675,
        "target": 0.9,
        "on_track": True,
        "status": "in progress",
        "overdue": False,
    },
    {
        "plan_id": "A2",
        "epstein_type": "decision making",
        "measure": "belonging.agree",
        "baseline": 0.5455,
        "now": 0.6286,
        "target": 0.9,
        "on_track": False,
        "status": "in progress",
        "overdue": False,
    },
    {
        "plan_id": "A3",
        "epstein_type": "collaborating with community",
        "measure": "referrals.completed",
        "baseline": 0.0,
        "now": 3.0,
        "target": 6.0,
        "on_track": True,
        "status": "in progress",
        "overdue": True,
    },
]


def _formats_keys(item: dict, like: dict) -> dict:
    """``item`` cut to the keys of FORMATS.md's example (nested rounds too)."""
    return {k: ({kk: item[k][kk] for kk in v} if isinstance(v, dict) else item[k]) for k, v in like.items()}


def test_score_json_gives_the_hand_computed_figures(hand_store):
    card = _score(hand_store)
    big, small = (next(p for p in card["partnerships"] if p["partnership_id"] == i) for i in ("PS-BIG", "PS-SMALL"))
    assert _formats_keys(big, BIG) == BIG
    # The counts behind each figure travel with it.
    assert (big["others"], big["before"]["members_answered"], big["before"]["others_answered"]) == (24, 12, 20)
    assert (big["after"]["members_answered"], big["after"]["others_answered"]) == (15, 20)
    assert big["referrals"] == {"made": 3, "completed": 2}
    # The small partnership: every figure suppressed, for everyone.
    assert small["suppressed"] is True
    for key in ("members_reach", "others_reach", "change_members_pp", "change_others_pp", "difference_pp"):
        assert small[key] is None, key
    for side in ("before", "after"):
        assert small[side]["members_agree"] is None and small[side]["others_agree"] is None
    assert small["referrals"] == {"made": None, "completed": None}
    assert [_formats_keys(row, PLAN[0]) for row in card["action_plan"]] == PLAN
    # "now" is the very figure of the same object.
    assert card["families"]["reach"] == 0.675 and card["belonging"]["agree"] == 0.6286
    assert card["referrals"]["completed"] == 3


def test_governors_see_no_figure_that_rests_on_a_few_families(hand_store):
    card = _score(hand_store, "--for", "governor")
    big, small = (next(p for p in card["partnerships"] if p["partnership_id"] == i) for i in ("PS-BIG", "PS-SMALL"))
    # 16 members is shown as 20; 4 unreached members and 6 members agreeing before are too few
    # to show, so the shares that would give them back are hidden, with the other side's.
    assert (big["members"], big["others"]) == (20, 20)
    assert big["members_reach"] is None and big["others_reach"] is None
    assert big["before"]["members_agree"] is None and big["difference_pp"] is None
    assert big["suppressed"] is True
    assert small["members"] is None and small["suppressed"] is True
    assert small["before"]["members_answered"] is None
    # The plan's figures are the school's own, as governors see them: 3 completed referrals are
    # too few to show, so that goal has no figure and no verdict.
    assert [row["on_track"] for row in card["action_plan"]] == [True, False, None]
    assert card["action_plan"][2]["now"] is None


def test_the_page_figures_are_the_scores(hand_store):
    """What the page and the report show comes from the same call: the evaluation and the plan."""
    view = partnerships.partnerships_view(hand_store, "S1", START, END)
    big = next(e for e in view.evaluations if e.partnership_id == "PS-BIG")
    assert _formats_keys(big.figures, BIG) == BIG
    assert "does not show that the partnership caused" in " ".join(big.sentences)
    small = next(e for e in view.evaluations if e.partnership_id == "PS-SMALL")
    assert small.sentences == [
        "Fewer than 10 families are members: too few to tell anything about them, so no figure is shown."
    ]
    assert [_formats_keys(row, PLAN[0]) for row in view.plan] == PLAN
    assert [row["plan_id"] for row in view.overdue] == ["A3"]


def test_the_share_of_the_year_gone_counts_school_days(hand_store):
    calendar = load_calendar(hand_store, "S1")
    assert round(partnerships.share_of_year_gone("2026-27", END, calendar), 4) == round(68 / 207, 4)
    term = partnerships.baseline_term("2026-27", calendar)
    assert term is not None and (term.start, term.end) == (datetime.date(2026, 4, 13), datetime.date(2026, 7, 22))


def test_members_are_those_at_the_after_round(hand_store):
    members = partnerships.load_members(hand_store, "S1")
    on_the_day = partnerships.members_on(members, "PS-BIG", datetime.date(2026, 11, 20))
    assert len(on_the_day) == 16 and "F23" not in on_the_day and "F16" in on_the_day
    assert "F16" not in partnerships.members_on(members, "PS-BIG", datetime.date(2026, 10, 1))
    assert "F23" in partnerships.members_on(members, "PS-BIG", datetime.date(2026, 10, 1))


def test_a_plan_row_without_a_measure_has_no_figures(hand_store):
    with hand_store.write("test") as conn:
        conn.execute(
            db.action_plan.insert().values(
                plan_id="A4", school_id="S1", year="2026-27", epstein_type="volunteering", goal="More volunteers"
            )
        )
    rows = partnerships.plan_figures(hand_store, "S1", START, END, calendar=load_calendar(hand_store, "S1"))
    assert rows[-1] | {} == {
        "plan_id": "A4",
        "year": "2026-27",
        "epstein_type": "volunteering",
        "measure": None,
        "baseline": None,
        "now": None,
        "target": None,
        "on_track": None,
        "status": "not started",
        "due": None,
        "overdue": False,
    }


def _small_counts(value, path: str = "") -> list[str]:
    """Every count of families (an int) of 1 to 9 in a JSON object, by its path."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _small_counts(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _small_counts(v, f"{path}[{i}]")]
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 10:
        return [path]
    return []


def test_no_count_under_the_threshold_reaches_a_governor(hand_store):
    card = _score(hand_store, "--for", "governor")
    assert _small_counts(card["partnerships"]) == []
    staff = _score(hand_store)
    # Staff see the counts of their own partnerships: the small one's members, the big one's referrals.
    assert sorted(_small_counts(staff["partnerships"])) == [
        "[0].referrals.completed",
        "[0].referrals.made",
        "[1].members",
    ]


def test_the_report_holds_the_page_figures_on_one_sheet_and_escapes_names(hand_store):
    from engagement.partnership_report import partnership_report_html, partnership_report_pdf

    with hand_store.write("test") as conn:
        conn.execute(
            db.partnerships.update()
            .where(db.partnerships.c.partnership_id == "PS-BIG")
            .values(name="<script>alert(1)</script> play")
        )
    view = partnerships.partnerships_view(hand_store, "S1", START, END)
    page = partnership_report_html(view, END)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; play" in page
    big = next(e for e in view.evaluations if e.partnership_id == "PS-BIG")
    for cell in ("75.0%", "62.5%", "50.0% of 12", "55.0% of 20", "66.7% of 15", "60.0% of 20", "+16.7", "+11.7"):
        assert f"<td>{cell}</td>" in page, cell
    assert "does not show that the partnership caused the change" in page
    assert "Referrals reach an outcome (due 30 Nov 2026)" in page  # overdue
    for row in partnerships.plan_rows(view.plan):
        assert f"<td>{row['Now']}</td>" in page
    assert big.figures["difference_pp"] == 11.7
    reader = pypdf.PdfReader(io.BytesIO(partnership_report_pdf(page)))
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    assert "+11.7" in text and "66.7% of 15" in text


def test_a_stale_form_is_refused_and_a_bad_one_reported(hand_store):
    from engagement.directory import VersionConflict

    found = partnerships.load_partnerships(hand_store, "S1")
    big = found[found["partnership_id"] == "PS-BIG"].iloc[0].to_dict()
    report = partnerships.save_partnership(hand_store, "head", "S1", big | {"aims": "Play together"}, big["version"])
    assert report.ok, report.format()
    with pytest.raises(VersionConflict, match="Not saved: head changed this partnership"):
        partnerships.save_partnership(hand_store, "senco", "S1", big | {"aims": "Other aims"}, big["version"])
    refused = partnerships.save_partnership(hand_store, "head", "S1", big | {"partners": "P9"}, big["version"] + 1)
    assert [(p.column, p.reason) for p in refused.errors] == [
        ("partners", "there is no partner 'P9': import partners.csv first")
    ]
    ended = partnerships.end_partnership(hand_store, "head", "S1", "PS-BIG", big["version"] + 1)
    assert ended.ok
    assert (
        partnerships.load_partnerships(hand_store, "S1").set_index("partnership_id").loc["PS-BIG", "status"] == "ended"
    )


def test_members_join_and_leave_through_the_page_functions(hand_store):
    report = partnerships.add_members(hand_store, "head", "S1", "PS-SMALL", ["F17", "F30", "F31"], END)
    assert report.counts["partnership_members"] == {"inserted": 2, "updated": 0, "unchanged": 0}  # F17 already in
    assert partnerships.end_membership(hand_store, "head", "S1", "PS-SMALL", "F30", END).ok
    members = partnerships.load_members(hand_store, "S1")
    assert "F30" not in partnerships.members_on(members, "PS-SMALL", END + datetime.timedelta(days=1))
    refused = partnerships.add_members(hand_store, "head", "S1", "PS-SMALL", ["F99"])
    assert [(p.column, p.reason) for p in refused.errors] == [
        ("family_id", "there is no family 'F99': import families.csv first")
    ]
