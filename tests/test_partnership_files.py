"""partnerships.csv, partnership_members.csv and action_plan.csv through the registry of record
kinds: imported all or nothing with row, column and reason, checked by a dry run, exported safe in
Excel and identical on a second round, and a family's memberships erased with it."""

from __future__ import annotations

import sqlalchemy as sa

from engagement import records
from engagement import store as db
from engagement.privacy import erase_family

SCHOOLS = b"school_id,name,postcode\nS1,Oak,B30 2AA\nS2,Elm,B30 2AB\n"
PARTNERS = b"partner_id,school_id,name,category\nP1,S1,Play scheme,community SEND group\nP2,S2,Library,library\n"
FAMILIES = b"family_id,school_id\nF1,S1\nF2,S1\nF3,S2\n"
PARTNERSHIPS = (
    b"partnership_id,name,partners,aims,epstein_type,start,review,status,school_id\n"
    b"PS1,=Saturday play,P1,Play together,Collaborating with Community,12/09/2026,2027-03-20,,S1\n"
)
MEMBERS = b"partnership_id,family_id,joined,left\nPS1,F1,,\nPS1,F2,2026-10-01,2026-11-30\n"
PLAN = (
    b"plan_id,school_id,year,epstein_type,goal,activity,owner,due,measure,target,baseline,status\n"
    b"A1,S1,2026-27,communicating,More conversations,-Phone new families,FLO,2026-12-18,communication.open,0.5,,"
    b"in progress\n"
    b"A2,S1,2026-27,volunteering,More volunteers,,,,events.volunteer_hours,40,12.5,\n"
)


def _base(store) -> None:
    files = [("schools.csv", SCHOOLS), ("partners.csv", PARTNERS), ("families.csv", FAMILIES)]
    run = records.import_records(store, files)
    assert run.ok, run.format()


def _three() -> list[tuple[str, bytes]]:
    return [("partnerships.csv", PARTNERSHIPS), ("partnership_members.csv", MEMBERS), ("action_plan.csv", PLAN)]


def _count(store, table: sa.Table) -> int:
    with store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_the_three_files_import_and_export_again_identical(store, tmp_path):
    _base(store)
    run = records.import_records(store, _three(), actor="head")
    assert run.ok, run.format()
    (engine, report), *_ = [(e, r) for e, r in run.reports if e.name == "partnerships"]
    assert report.counts == {
        "partnerships": {"inserted": 1, "updated": 0, "unchanged": 0},
        "partnership_members": {"inserted": 2, "updated": 0, "unchanged": 0},
        "action_plan": {"inserted": 2, "updated": 0, "unchanged": 0},
    }
    with store.read() as conn:
        row = conn.execute(sa.select(db.partnerships)).mappings().one()
    # The type is stored in the typology's words, the status defaults to active, the name as typed.
    assert (row["epstein_type"], row["status"], row["name"]) == (
        "collaborating with community",
        "active",
        "=Saturday play",
    )
    paths = {p.name: p for p in records.export_records(store, tmp_path / "one", school_id="S1")}
    text = paths["partnerships.csv"].read_text(encoding="utf-8-sig").splitlines()
    assert text[0] == "partnership_id,name,school_id,schools,partners,aims,epstein_type,start,review,status"
    assert (
        text[1] == "PS1,'=Saturday play,S1,,P1,Play together,collaborating with community,2026-09-12,2027-03-20,active"
    )
    plan = paths["action_plan.csv"].read_text(encoding="utf-8-sig").splitlines()
    assert plan[1].split(",")[5] == "'-Phone new families"  # Excel-safe
    assert plan[2].split(",")[9:11] == ["40", "12.5"]
    members = paths["partnership_members.csv"].read_text(encoding="utf-8-sig").splitlines()
    assert members == ["partnership_id,family_id,joined,left", "PS1,F1,,", "PS1,F2,2026-10-01,2026-11-30"]
    # The export read back changes nothing, and exports again byte for byte.
    again = records.import_records(store, [(p.name, p.read_bytes()) for p in paths.values()])
    assert again.ok, again.format()
    for engine, report in again.reports:
        assert all(c["inserted"] == c["updated"] == 0 for c in report.counts.values()), engine.name
    second = {p.name: p.read_bytes() for p in records.export_records(store, tmp_path / "two", school_id="S1")}
    assert second == {name: p.read_bytes() for name, p in paths.items()}


def test_a_file_with_problems_changes_nothing_and_says_row_column_and_reason(store):
    _base(store)
    partnerships = b"partnership_id,name,partners,start\nPS1,Play,P1;P2,2026-09-12\nPS2,Read,P9,2026-13-01\n"
    members = b"partnership_id,family_id\nPS1,F3\nPS7,F1\nPS1,F1\nPS1,F1\n"
    plan = b"plan_id,year,epstein_type,goal,measure,status\nA1,2026-27,parenting,Goal,attendance.rate,doing\n"
    run = records.import_records(
        store,
        [("partnerships.csv", partnerships), ("partnership_members.csv", members), ("action_plan.csv", plan)],
        school_id="S1",
    )
    assert not run.ok
    (_, report), *_ = [(e, r) for e, r in run.reports if e.name == "partnerships"]
    found = sorted((p.file, p.row, p.column) for p in report.errors)
    assert found == [
        ("action_plan.csv", 2, "measure"),
        ("action_plan.csv", 2, "status"),
        ("partnership_members.csv", 5, "family_id"),  # the same member twice
        ("partnerships.csv", 3, "start"),
    ]
    assert "is also on row 4" in next(p.reason for p in report.errors if p.row == 5)
    # Those fixed, the store's own checks: another school's partner, a family of another school,
    # a partnership that exists nowhere.
    partnerships = b"partnership_id,name,partners,start\nPS1,Play,P1;P2,2026-09-12\n"
    members = b"partnership_id,family_id\nPS1,F3\nPS7,F1\n"
    run = records.import_records(
        store, [("partnerships.csv", partnerships), ("partnership_members.csv", members)], school_id="S1"
    )
    (_, report), *_ = [(e, r) for e, r in run.reports if e.name == "partnerships"]
    assert [(p.file, p.row, p.column) for p in report.errors] == [
        ("partnerships.csv", 2, "partners"),
        ("partnership_members.csv", 2, "family_id"),
        ("partnership_members.csv", 3, "partnership_id"),
    ]
    assert "another school's" in report.errors[0].reason
    assert "not of the partnership's school" in report.errors[1].reason
    assert _count(store, db.partnerships) == _count(store, db.partnership_members) == 0


def test_a_dry_run_counts_and_writes_nothing(store):
    _base(store)
    run = records.import_records(store, _three(), dry_run=True)
    assert run.ok, run.format()
    (engine, report), *_ = [(e, r) for e, r in run.reports if e.name == "partnerships"]
    assert report.counts["action_plan"] == {"inserted": 2, "updated": 0, "unchanged": 0}
    assert "Checked (nothing written)" in engine.report_text(report)
    assert _count(store, db.partnerships) == _count(store, db.action_plan) == 0


def test_the_kind_is_told_from_the_file_name_and_the_command_line_offers_it():
    assert records.kind_of_file("Partnership members (autumn).xlsx") == "partnership_members"
    assert records.kind_of_file("2026-27 action plan.csv") == "action_plan"
    assert records.kind_of_file("partnerships.csv") == "partnerships"
    assert records.kind_of_file("family_partners.csv") == "family_partners"
    assert records.kind_of_file("partners.csv") == "partners"
    assert {"partnerships", "partnership_members", "action_plan"} <= set(records.kind_names())


def test_erasing_a_family_takes_its_memberships_and_their_audit_images(store):
    _base(store)
    assert records.import_records(store, _three(), actor="head").ok
    erase_family(store, "F2", actor="dpo")
    with store.read() as conn:
        left = list(conn.execute(sa.select(db.partnership_members.c.family_id)).scalars())
        log = db.audit_log
        images = conn.execute(
            sa.select(sa.func.count()).where(log.c.table_name == "partnership_members", log.c.after.like("%F2%"))
        ).scalar_one()
    assert left == ["F1"]
    assert images == 0
