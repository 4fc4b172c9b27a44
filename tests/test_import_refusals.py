"""Odd inputs the imports now refuse, with row and column, on both stores (issue 26): a survey
answer given twice by one family's parent in a round, and an unknown column one edit away from a
known one ("did you mean ...?") in the header check of every import engine."""

from __future__ import annotations

from sqlalchemy import func, select

from engagement import store as db
from engagement.send_belonging_files import import_files as import_send_belonging


def seed(store) -> None:
    with store.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2QX"))
        conn.execute(db.families.insert(), [{"family_id": f, "school_id": "S1"} for f in ("F01", "F02")])


def answers(store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(db.survey_responses)).scalar_one()


def test_a_survey_answer_repeated_by_one_familys_parent_is_refused(store):
    seed(store)
    text = (
        b"survey,date,question,answer,family_id,respondent\n"
        b"belonging,2026-05-06,belong,agree,F01,parent\n"
        b"belonging,2026-05-06,belong,agree,F02,parent\n"
        b"belonging,2026-05-06,belong,agree,F01,parent\n"
    )
    report = import_send_belonging(store, [("survey_responses.csv", text)])
    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == [(4, "family_id")]
    assert "already answered 'belong' in this round on row 2" in report.errors[0].reason
    assert answers(store) == 0
    # Anonymous answers alike are many parents, not one twice; a pupil may be one of several.
    text = (
        b"survey,date,question,answer,family_id,respondent\n"
        b"parent view,2026-09-29,happy,agree,,parent\n"
        b"parent view,2026-09-29,happy,agree,,parent\n"
        b"belonging,2026-05-06,belong,agree,F01,pupil\n"
        b"belonging,2026-05-06,belong,agree,F01,pupil\n"
    )
    report = import_send_belonging(store, [("survey_responses.csv", text)])
    assert report.ok, report.format()
    assert answers(store) == 4
