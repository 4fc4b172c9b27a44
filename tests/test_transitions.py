"""SEND transitions and belonging (issue 19), on a hand-worked school of 24 families, on SQLite and
PostgreSQL: the files import all-or-nothing and export back unchanged; each transition gets its
plan; the figures governors and staff see are worked out by hand below; outreach raises a SEND
child moving soon without a meeting and low belonging, with the reasons for FLOs only; and
``score --json`` carries both keys.

The school: families F01-F24, F01-F12 with SEND (F01-F06 also pupil premium).
Moves (all dated 2026-10-01 to 2026-12-31, in the window of the score): T01-T12 of the SEND
children, T13-T20 of F13-F20 without. Plans complete (every step ticked): T01-T10 and T13.
  count 20, send 12, complete 11 -> plan_complete 11/20 = 0.55;
  SEND 10/12 = 0.8333; not SEND 1 of 8 -> fewer than 10 moves: not shown.
  Governors: count 20 -> 20, send 12 -> 10, not SEND 8 -> hidden; plan_complete hidden (9 not
  complete is 1-9), SEND's hidden (2 not complete).
Belonging, question "belong": round 2026-05-06, F01-F20 answer, 12 agree -> 0.6;
round 2026-09-29, F01-F20 answer, 15 agree (F06-F20), 5 disagree (F01-F05) -> 0.75, change +15.0.
  SEND in the later round: F01-F12 answered, F06-F12 agree -> 7/12 = 0.5833. EAL: no answers.
  Governors: 5 disagreeing is 1-9 -> the share is hidden; responses 20 -> 20.
"""

from __future__ import annotations

import datetime
import io
import json
from contextlib import redirect_stdout

import pytest
import sqlalchemy as sa

from engagement import belonging, outreach, transitions
from engagement import send_belonging_files as files
from engagement import store as db
from engagement.interchange import import_files as import_directory

TODAY = datetime.date(2026, 11, 23)


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


FAMILIES = csv(
    "family_id,school_id,send,pupil_premium,year_groups",
    *[f"F{n:02d},S1,{'yes' if n <= 12 else 'no'},{'yes' if n <= 6 else 'no'},5" for n in range(1, 25)],
)
MOVES = csv(
    "transition_id,family_id,kind,direction,other_setting,date,send",
    *[f"T{n:02d},F{n:02d},in-year move,leaving,P1,2026-12-{n:02d},{'yes' if n <= 12 else 'no'}" for n in range(1, 21)],
)


def answers(date: str, agreeing: range) -> list[str]:
    return [f"belonging,{date},belong,{'agree' if n in agreeing else 'disagree'},F{n:02d},parent" for n in range(1, 21)]


SURVEY = csv(
    "survey,date,question,answer,family_id,respondent",
    *answers("2026-05-06", range(9, 21)),
    *answers("29/09/2026", range(6, 21)),
    "parent view,2026-09-29,happy,Don't know,,parent",
)


@pytest.fixture
def school(store):
    return oak_school(store)


@pytest.fixture
def sqlite_school(sqlite_store):
    """The same school on SQLite only, for what reads the store once (the report)."""
    return oak_school(sqlite_store)


def oak_school(store):
    with store.write("test") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Oak School", postcode="B30 2AA"))
        conn.execute(
            db.partners.insert().values(
                partner_id="P1",
                school_id="S1",
                name="Oak Secondary",
                category="partner school",
                layer=3,
                status="active",
            )
        )
    assert import_directory(store, [("families.csv", FAMILIES)], actor="test").ok
    report = files.import_files(store, [("transitions.csv", MOVES), ("survey_responses.csv", SURVEY)], actor="test")
    assert report.ok, report.format()
    assert report.counts["transitions"]["inserted"] == 20
    steps = transitions.plan_steps(store, "S1", "T01", TODAY)
    complete = {f"T{n:02d}" for n in (*range(1, 11), 13)}
    with store.read() as conn:
        ids = conn.execute(sa.select(db.transition_steps.c.step_id, db.transition_steps.c.transition_id)).all()
    assert transitions.mark_steps(store, "senco@oak", "S1", {s: True for s, t in ids if t in complete}, TODAY) > 0
    assert list(steps["step"]) == ["meeting", "visits", "handover", "community", "follow_up"]
    return store


def test_each_move_gets_the_plan_and_the_progress_is_counted(school):
    moves = transitions.load_transitions(school, "S1", TODAY)
    assert len(moves) == 20 and moves["send"].iloc[:12].all()  # SEND first
    assert moves.loc[moves["transition_id"] == "T13", "steps"].item() == 4  # no SEND handover step
    assert moves["complete"].sum() == 11
    assert moves.loc[moves["transition_id"] == "T11", "setting_name"].item() == "Oak Secondary"
    t12 = moves[moves["transition_id"] == "T12"].iloc[0]
    # Due 60, 30, 14, 7 days before 12 December: the meeting (13 October) and visits (12 November) are late.
    assert (t12["late"], t12["done"], t12["next_step"]) == (2, 0, transitions.load_plan()[0].title)


def test_figures_for_staff_and_governors_as_worked_by_hand(school):
    moves = transitions.load_transitions(school, "S1", TODAY, datetime.date(2026, 9, 1), datetime.date(2026, 12, 31))
    assert transitions.figures(moves, 10) == {
        "count": 20,
        "send": 12,
        "plan_complete": 0.55,
        "not_send": 8,
        "send_plan_complete": 0.8333,
        "not_send_plan_complete": None,
        "suppressed": True,
    }
    assert transitions.figures(moves, 10, for_governor=True) == {
        "count": 20,
        "send": 10,
        "plan_complete": None,
        "not_send": None,
        "send_plan_complete": None,
        "not_send_plan_complete": None,
        "suppressed": True,
    }


def test_belonging_per_question_group_and_change(school):
    responses = belonging.load_responses(school, "S1")
    survey = belonging.load_surveys().survey("belonging")
    table = belonging.question_table(
        responses, survey, datetime.date(2026, 9, 29), datetime.date(2026, 5, 6), threshold=10
    )
    row = table[table["question"] == "belong"].iloc[0]
    assert (row["responses"], row["agree"], row["change"], row["send"]) == (20, 0.75, 15.0, 0.5833)
    assert row["eal"] is None and row["pupil_premium"] is None  # no EAL answers; 6 pupil premium answers
    assert table[table["question"] == "welcome"].iloc[0]["agree"] is None  # nobody answered it
    governor = belonging.question_table(
        responses, survey, datetime.date(2026, 9, 29), datetime.date(2026, 5, 6), threshold=10, for_governor=True
    )
    assert governor.iloc[0]["agree"] is None and governor.iloc[0]["responses"] == 20
    assert belonging.headline(responses, TODAY, threshold=10) == {
        "survey": "belonging",
        "date": "2026-09-29",
        "responses": 20,
        "agree": 0.75,
        "change": 15.0,
        "suppressed": False,
    }
    assert belonging.headline(responses, datetime.date(2026, 6, 1), threshold=10)["date"] == "2026-05-06"
    low = belonging.low_belonging_families(responses)
    assert list(low["family_id"]) == ["F01", "F02", "F03", "F04", "F05"]


def test_outreach_raises_send_moves_without_a_meeting_and_low_belonging_for_flos_only(school):
    today = datetime.date(2026, 11, 20)
    # F11 and F12 (SEND, moving 11 and 12 December, plans untouched) had two-way contact yesterday.
    from engagement.contacts import log_interaction

    for family in ("F11", "F12"):
        log_interaction(school, "flo", school_id="S1", family_id=family, date=today, activity="phone call", today=today)
    frame = outreach.worklist(school, "S1", today=today, days=42)
    reasons = dict(zip(frame["family_id"], frame["reasons"], strict=True))
    assert "SEND move in 22 days, no transition meeting yet +4" in reasons["F12"]
    assert "low belonging in the Belonging survey +2" in reasons["F01"]
    assert "F01" in reasons and "transition meeting" not in reasons["F01"]  # F01's plan is complete
    hidden = outreach.worklist(school, "S1", today=today, days=42, flo_reasons=False)
    hidden_reasons = dict(zip(hidden["family_id"], hidden["reasons"], strict=True))
    assert "SEND move" not in hidden_reasons["F12"]
    assert "reasons for family liaison officers +4" in hidden_reasons["F12"]
    assert "belonging" not in " ".join(hidden_reasons.values())
    # A logged transition meeting counts as held: F11 leaves the list, F12 stays.
    log_interaction(
        school, "flo", school_id="S1", family_id="F11", date=today, activity="transition meeting", today=today
    )
    after = outreach.worklist(school, "S1", today=today, days=42)
    assert "F11" not in set(after["family_id"]) and "F12" in set(after["family_id"])


def test_score_json_carries_transitions_and_belonging(school, tmp_path):
    from engagement import cli

    url = school.url

    def score(*extra):
        out = io.StringIO()
        with redirect_stdout(out):
            assert cli.main(["score", "--db", url, "--from", "2026-09-01", "--to", "2026-12-31", "--json", *extra]) == 0
        return json.loads(out.getvalue())

    staff, governor = score(), score("--for", "governor")
    assert staff["transitions"] == {"count": 20, "send": 12, "plan_complete": 0.55, "suppressed": False}
    assert governor["transitions"] == {"count": 20, "send": 10, "plan_complete": None, "suppressed": True}
    assert staff["belonging"]["agree"] == 0.75 and governor["belonging"]["agree"] is None
    assert governor["belonging"]["suppressed"] is True


def test_a_file_with_problems_changes_nothing_and_says_where(school):
    bad_moves = csv(
        "transition_id,family_id,kind,date",
        "T90,F01,Year 6 to Year 7,2027-07-21",
        "T91,F99,in-year move,2027-01-10",
        "T92,F02,gap year,2027-01-10",
    )
    bad_answers = csv("survey,date,question,answer,family_id", "parent view,2026-11-01,happy,agree,F01")
    report = files.import_files(
        school, [("transitions.csv", bad_moves), ("survey_responses.csv", bad_answers)], actor="test"
    )
    assert [(p.file, p.row, p.column) for p in report.errors] == [
        ("transitions.csv", 4, "kind"),
        ("survey_responses.csv", 2, "family_id"),
    ]
    report = files.import_files(school, [("transitions.csv", bad_moves[: bad_moves.index(b"T92")])], actor="test")
    assert [(p.row, p.column) for p in report.errors] == [(3, "family_id")]
    assert "there is no family 'F99'" in report.errors[0].reason
    assert len(transitions.load_transitions(school, "S1", TODAY)) == 20  # T90 was not written either


def test_export_imports_back_unchanged_and_a_round_is_replaced_not_doubled(school, tmp_path):
    paths = files.export_files(school, tmp_path, "S1")
    assert [p.name for p in paths] == ["transitions.csv", "transition_steps.csv", "survey_responses.csv"]
    again = files.import_files(school, paths, actor="test")
    assert again.ok, again.format()
    assert again.counts["transitions"] == {"inserted": 0, "updated": 0, "unchanged": 20}
    with school.read() as conn:
        answers = conn.execute(sa.select(sa.func.count()).select_from(db.survey_responses)).scalar()
    assert answers == 41
    # Ticked steps survive a re-import of the moves.
    assert transitions.load_transitions(school, "S1", TODAY)["complete"].sum() == 11


def test_steps_of_another_school_are_refused_and_marking_is_audited(school):
    with pytest.raises(transitions.UnknownStep):
        transitions.mark_steps(school, "x", "S2", {"T11/meeting": True})
    assert transitions.mark_steps(school, "senco@oak", "S1", {"T11/meeting": True}, TODAY) == 1
    with school.read() as conn:
        entry = (
            conn.execute(
                sa.select(db.audit_log)
                .where(db.audit_log.c.record_id == "T11/meeting")
                .order_by(db.audit_log.c.id.desc())
            )
            .mappings()
            .first()
        )
    assert entry["actor"] == "senco@oak" and json.loads(entry["after"])["done"] is True


def test_the_community_step_says_what_it_can_until_family_partner_links_exist(school):
    names, note = transitions.community_activities(school, "F01", datetime.date(2026, 12, 1))
    if "family_partners" in db.TABLES:
        assert isinstance(names, list)
    else:
        assert names is None and "not recorded in the app yet" in note


def test_the_report_shows_the_governors_figures_and_keeps_to_one_sheet(sqlite_school):
    import dataclasses

    from engagement import report
    from engagement.frames import load_school_frames
    from engagement.overview import overview

    school = sqlite_school
    view = overview(
        load_school_frames(school, "S1"), "S1", datetime.date(2026, 9, 1), TODAY, today=TODAY, for_governor=True
    )
    view = dataclasses.replace(view, voice=belonging.voice_section(school, "S1", TODAY, for_governor=True))
    html = report.overview_report_html(view)
    assert "<b>Families who feel they belong:</b> not shown (–" not in html
    assert "<b>Families who feel they belong:</b> not shown" in html  # 5 disagreeing: 1-9
    assert "<b>Transitions 2026–27:</b> 20, of them 10 of children with SEND" in html
    assert "F0" not in html.split("<h2>Belonging and transitions</h2>")[1]
    import io

    import pypdf

    # The PDF the page offers fits its type to one A4 sheet (engagement.report._FIT_SIZES).
    pdf = report.overview_report_pdf(html)
    assert pdf.startswith(b"%PDF") and len(pypdf.PdfReader(io.BytesIO(pdf)).pages) == 1


def test_plain_score_prints_the_moves_and_belonging_as_json_has_them(school):
    from engagement import cli

    def score(*extra):
        out = io.StringIO()
        with redirect_stdout(out):
            assert cli.main(["score", "--db", school.url, "--from", "2026-09-01", "--to", "2026-12-31", *extra]) == 0
        return out.getvalue()

    staff, governor = score(), score("--for", "governor")
    assert "  moves               20, of which SEND 12\n  complete plans      55.0%" in staff
    assert (
        "  moves               20, of which SEND 10\n  complete plans      not shown (fewer than 10 moves)" in governor
    )
    assert "  feel they belong    75.0%" in staff
    assert "  feel they belong    fewer than 10" in governor
