"""Odd inputs the imports now refuse, with row and column, on both stores (issue 26): a survey
answer given twice by one family's parent in a round, and an unknown column one edit away from a
known one ("did you mean ...?") in the header check of every import engine; and a contact dated
after today in interactions.csv, which the contact form and the registers already refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engagement import clock
from engagement import store as db
from engagement.contacts import InvalidInteraction, prepare_interaction
from engagement.interchange import import_files as import_records
from engagement.send_belonging_files import import_files as import_send_belonging


def seed(store) -> None:
    with store.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2QX"))
        conn.execute(db.families.insert(), [{"family_id": f, "school_id": "S1"} for f in ("F01", "F02")])


def rows(store, table) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def answers(store) -> int:
    return rows(store, db.survey_responses)


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


def contacts(store) -> int:
    return rows(store, db.interactions)


def test_a_contact_dated_after_today_is_refused_as_the_contact_form_refuses_it(store, monkeypatch):
    seed(store)
    monkeypatch.setenv(clock.TODAY_VARIABLE, "2026-11-25")
    text = (
        b"date,family_id,activity,school_id\n"
        b"2026-11-25,F01,phone call,S1\n"  # today: it has happened
        b"26/11/2026,F02,phone call,S1\n"  # tomorrow
        b"2062-11-20,F01,email,S1\n"  # a mistyped year
    )
    report = import_records(store, [("interactions.csv", text)])
    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == [(3, "date"), (4, "date")]
    with pytest.raises(InvalidInteraction) as form:
        prepare_interaction(school_id="S1", family_id="F02", date="2026-11-26", activity="phone call")
    assert (
        report.errors[0].reason
        == str(form.value)
        == ("The date 26/11/2026 is in the future; log a contact once it has happened.")
    )
    assert contacts(store) == 0, "all or nothing: today's row waits for the file to be put right"
    report = import_records(store, [("interactions.csv", text.rsplit(b"\n", 3)[0] + b"\n")])
    assert report.ok, report.format()
    assert contacts(store) == 1


def test_a_contact_after_today_that_carries_its_id_is_kept_and_said_so_a_backup_restores(store, monkeypatch):
    """An export carries every contact's interaction_id; one dated after today (logged before the
    rule, or on a clock ahead) is restored as it stands, and the report names the first."""
    seed(store)
    monkeypatch.setenv(clock.TODAY_VARIABLE, "2026-11-25")
    text = (
        b"interaction_id,date,family_id,activity,school_id\n"
        b"I-1,2026-11-20,F01,phone call,S1\n"
        b"I-2,2062-11-20,F02,phone call,S1\n"
    )
    report = import_records(store, [("interactions.csv", text)])
    assert report.ok, report.format()
    assert contacts(store) == 2
    assert "1 contact with an interaction_id is dated after today (first: interactions.csv, row 3, 20/11/2062)" in (
        report.format()
    )


MISSPELT = {
    "the main import": (
        ("engagement.interchange", "import_files"),
        "interactions.csv",
        b"date,family_id,activity,notess\n2026-09-14,F01,phone call,Rang about the trip\n",
        "notess",
        "notes",
    ),
    "the week's files": (
        ("engagement.week_files", "import_week_files"),
        "referrals.csv",
        b"referral_id,family_id,partner_id,date,status,decline_reasn\nR1,F01,P1,2026-09-01,declined,Full\n",
        "decline_reasn",
        "decline_reason",
    ),
    "transitions and surveys": (
        ("engagement.send_belonging_files", "import_files"),
        "survey_responses.csv",
        b"survey,date,question,answer,family_id,respondnet\nbelonging,2026-05-06,belong,agree,F01,pupil\n",
        "respondnet",
        "respondent",
    ),
    "partnerships and the action plan": (
        ("engagement.partnership_files", "import_files"),
        "partnerships.csv",
        b"partnership_id,name,partners,start,aimss\nPS1,Reading club,P1,2026-09-01,Read more at home\n",
        "aimss",
        "aims",
    ),
    "the school's terms": (
        ("engagement.calendar", "import_terms"),
        "terms.csv",
        b"kind,name,start,end,shcool_id\nterm,Autumn,2026-09-03,2026-12-18,S1\n",
        "shcool_id",
        "school_id",
    ),
}


@pytest.mark.parametrize("engine", list(MISSPELT))
def test_a_column_one_letter_from_a_known_one_is_refused_with_did_you_mean(store, engine):
    import importlib

    where, name, text, column, meant = MISSPELT[engine]
    importer = getattr(importlib.import_module(where[0]), where[1])
    seed(store)
    with store.write("setup") as conn:
        conn.execute(
            db.partners.insert().values(partner_id="P1", school_id="S1", name="Club", category="library", layer=3)
        )
    with store.read() as conn:
        before = [conn.execute(select(func.count()).select_from(t)).scalar_one() for t in db.TABLES.values()]
    report = importer(store, [(name, text)], school_id="S1")
    assert not report.ok
    assert [(e.file, e.row, e.column) for e in report.errors] == [(name, 1, column)], report.format()
    assert f"did you mean {meant!r}?" in report.errors[0].reason
    with store.read() as conn:
        assert [conn.execute(select(func.count()).select_from(t)).scalar_one() for t in db.TABLES.values()] == before
    # A column no known one is near is still only noted as ignored.
    fine = text.replace(column.encode(), b"our_own_column")
    assert importer(store, [(name, fine)], school_id="S1", dry_run=True).ok
