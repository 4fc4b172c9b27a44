"""A batch of files of several kinds is all or nothing as a whole (issue 23): the engines' files are
written in one transaction, so a refused file of the last engine leaves the store exactly as it
was, the earlier engines' files included, on SQLite and PostgreSQL; and a batch whose later files
name rows its earlier files bring (a backup restored into an empty store) still goes in whole."""

from __future__ import annotations

import sqlalchemy as sa

from engagement import records
from engagement import store as db

SCHOOLS = b"school_id,name,postcode\nS1,Hollybrook,B30 2QX\n"
FAMILIES = b"family_id,school_id,send\nF01,S1,yes\nF02,S1,no\n"
PARTNERS = b"partner_id,school_id,name,category\nP1,S1,Reading club,library\n"
TERMS = b"kind,name,start,end\nterm,Autumn 2026,2026-09-03,2026-12-18\n"
TRANSITIONS = b"transition_id,family_id,kind,date\nT1,F01,year 6 to year 7,2027-09-01\n"
REFERRALS = b"referral_id,family_id,partner_id,date,status\nR1,F02,P1,2026-10-01,sent\n"


def counts(store) -> dict[str, int]:
    with store.read() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in db.metadata.tables.items()
        }


def batch(last: tuple[str, bytes]) -> list[tuple[str, bytes]]:
    return [
        ("schools.csv", SCHOOLS),
        ("partners.csv", PARTNERS),
        ("families.csv", FAMILIES),
        ("terms.csv", TERMS),
        ("referrals.csv", REFERRALS),
        ("transitions.csv", TRANSITIONS),
        last,
    ]


def test_a_batch_whose_last_engines_file_is_refused_by_the_store_changes_nothing(store):
    # Every file is right on its own; only the store can tell that partner P9 does not exist, and
    # it is told in the write transaction, after the earlier engines' rows were written in it.
    before = counts(store)
    bad = ("partnerships.csv", b"partnership_id,name,partners,start\nPS1,Reading club,P9,2026-09-01\n")
    run = records.import_records(store, batch(bad), actor="test", school_id="S1")
    assert not run.ok
    assert [(e.name, [(p.file, p.row, p.column) for p in r.errors]) for e, r in run.reports] == [
        ("partnerships", [("partnerships.csv", 2, "partners")])
    ]
    assert run.not_attempted == [
        "schools.csv",
        "partners.csv",
        "families.csv",
        "terms.csv",
        "referrals.csv",
        "transitions.csv",
    ]
    assert "Not imported either, since the files above were refused: schools.csv" in run.format()
    assert counts(store) == before  # no school, family, term, referral, transition, nor audit row


def test_a_batch_whose_last_file_cannot_be_read_changes_nothing(store):
    before = counts(store)
    run = records.import_records(store, batch(("action_plan.csv", b"plan_id,year\n")), actor="test")
    assert not run.ok
    (engine, report), *_ = run.reports
    # A header alone is refused before its columns are looked at (issue 26: nothing to import).
    assert engine.name == "partnerships" and (report.errors[0].row, report.errors[0].column) == (2, "plan_id")
    assert "no rows of data" in report.errors[0].reason
    assert counts(store) == before


def test_the_same_batch_made_right_goes_in_whole_in_one_call(store):
    good = ("partnerships.csv", b"partnership_id,name,partners,start\nPS1,Reading club,P1,2026-09-01\n")
    run = records.import_records(store, batch(good), actor="test", school_id="S1")
    assert run.ok, run.format()
    after = counts(store)
    assert {t: after[t] for t in ("schools", "families", "terms", "referrals", "transitions", "partnerships")} == {
        "schools": 1,
        "families": 2,
        "terms": 1,
        "referrals": 1,
        "transitions": 1,
        "partnerships": 1,
    }
