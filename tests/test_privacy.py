"""Retention and data subject erasure: the data goes, from the tables and from the audit log, and the
erasure itself is audited without its content. On SQLite and PostgreSQL."""

import datetime
import json

import pytest
from cli_inprocess import run_cli
from sqlalchemy import func, select

from engagement import privacy
from engagement import store as db
from engagement.interchange import import_files

TODAY = datetime.date(2026, 11, 23)


@pytest.fixture
def school(store):
    with store.write(actor="flo@school") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2QX"))
        db.upsert(
            conn,
            "families",
            [
                {"family_id": "F1", "school_id": "S1", "postcode": "B30 2AB"},
                {"family_id": "F2", "school_id": "S1", "postcode": "B29 6AB"},
            ],
        )
        db.upsert(
            conn,
            "interactions",
            [
                {
                    "interaction_id": "I-old",
                    "school_id": "S1",
                    "date": datetime.date(2023, 10, 2),
                    "family_id": "F1",
                    "activity": "home visit",
                    "channel": "home visit",
                    "two_way": True,
                    "notes": "Mum worried about housing",
                },
                {
                    "interaction_id": "I-new",
                    "school_id": "S1",
                    "date": datetime.date(2026, 10, 2),
                    "family_id": "F1",
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                    "notes": "Agreed a plan",
                },
                {
                    "interaction_id": "I-F2",
                    "school_id": "S1",
                    "date": datetime.date(2023, 10, 2),
                    "family_id": "F2",
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                    "notes": None,
                },
            ],
        )
    return store


def _audit_text(store):
    with store.read() as conn:
        return " ".join(str(v) for row in conn.execute(select(db.audit_log)).all() for v in row)


def test_retention_erases_old_notes_everywhere(school):
    assert "Mum worried about housing" in _audit_text(school)
    assert privacy.apply_retention(school, actor="admin", today=TODAY, days=730) == 1
    with school.read() as conn:
        notes = dict(conn.execute(select(db.interactions.c.interaction_id, db.interactions.c.notes)).all())
    assert notes == {"I-old": None, "I-new": "Agreed a plan", "I-F2": None}
    assert "Mum worried about housing" not in _audit_text(school)
    entries = privacy.audit_entries(school, action="retention")
    assert len(entries) == 1 and entries.iloc[0]["actor"] == "admin"
    assert "1 interactions dated before 2024-11-23" in entries.iloc[0]["detail"]
    # A second run has nothing left to erase.
    assert privacy.apply_retention(school, actor="admin", today=TODAY, days=730) == 0


def test_retention_erases_old_notes_from_audit_images_of_rows_since_changed_or_deleted(school):
    # The old note is changed, then the row deleted: its copies live on only in the audit log.
    with school.write(actor="flo@school") as conn:
        db.upsert(
            conn,
            "interactions",
            [
                {
                    "interaction_id": "I-old",
                    "school_id": "S1",
                    "date": datetime.date(2023, 10, 2),
                    "family_id": "F1",
                    "activity": "home visit",
                    "channel": "home visit",
                    "two_way": True,
                    "notes": "Second visit: still worried",
                }
            ],
        )
        conn.execute(db.interactions.delete().where(db.interactions.c.interaction_id == "I-old"))
    assert "Mum worried about housing" in _audit_text(school) and "still worried" in _audit_text(school)
    assert privacy.apply_retention(school, actor="admin", today=TODAY, days=730) == 0  # no row left to erase
    text = _audit_text(school)
    assert "Mum worried about housing" not in text and "still worried" not in text
    assert "Agreed a plan" in text  # a recent note is kept


def test_erase_family_removes_record_history_and_audit_content(school):
    assert privacy.erase_family(school, "F1", actor="dpo@school") == 2
    with school.read() as conn:
        assert (
            conn.execute(select(func.count()).select_from(db.families).where(db.families.c.family_id == "F1")).scalar()
            == 0
        )
        left = set(conn.execute(select(db.interactions.c.interaction_id)).scalars())
    assert left == {"I-F2"}
    text = _audit_text(school)
    assert "Mum worried about housing" not in text and "Agreed a plan" not in text and "B30 2AB" not in text
    erasure = privacy.audit_entries(school, action="erase family")
    assert list(erasure["record_id"]) == ["F1"] and list(erasure["actor"]) == ["dpo@school"]
    # The other family's audit trail is untouched.
    assert "B29 6AB" in text


def test_erase_unknown_family_is_refused(school):
    with pytest.raises(privacy.UnknownFamily):
        privacy.erase_family(school, "NOPE", actor="dpo")


def test_audit_entries_filters(school):
    everything = privacy.audit_entries(school)
    assert len(everything) == 5  # 2 families + 3 interactions inserted
    assert set(privacy.audit_entries(school, table_name="families")["record_id"]) == {"F1", "F2"}
    assert privacy.audit_entries(school, actor="nobody").empty
    assert len(privacy.audit_entries(school, start=TODAY + datetime.timedelta(days=3650))) == 0


def test_cli_erase_family_and_retention(tmp_path):
    db_path = tmp_path / "cli.db"
    run = lambda *a: run_cli(*a, "--db", db_path)  # noqa: E731
    assert run("demo", "--today", "2026-11-23").returncode == 0
    done = run("erase-family", "999001-F0001")
    assert done.returncode == 0, done.stderr
    assert "999001-F0001" in done.stdout
    missing = run("erase-family", "999001-F9999")
    assert missing.returncode == 1 and "no family" in missing.stderr
    kept = run("retention", "--days", "36500")
    assert kept.returncode == 0 and "0 interactions" in kept.stdout


# ---------------------------------------------------------------- imports are audited as one event each

ERASED = "FAM-ERASE-1"


@pytest.fixture
def imported(store):
    """A school whose families and contacts came in by import; a second import changed them, so the
    import events hold ids added and before-images with notes."""
    first = [
        ("schools.csv", b"school_id,name,postcode\nS1,Hollybrook,B30 2QX\n"),
        ("families.csv", f"family_id,postcode\n{ERASED},B30 2AB\nFAM-KEEP-2,B29 6AB\n".encode()),
        (
            "interactions.csv",
            (
                "interaction_id,date,family_id,activity,notes\n"
                f"I-old,2023-10-02,{ERASED},home visit,Mum worried about housing\n"
                f"I-new,2026-10-02,{ERASED},phone call,Agreed a plan\n"
                "I-keep,2023-10-02,FAM-KEEP-2,phone call,Dad works nights\n"
            ).encode(),
        ),
    ]
    second = [
        ("families.csv", f"family_id,postcode\n{ERASED},B30 9ZZ\nFAM-KEEP-2,B29 6XX\n".encode()),
        (
            "interactions.csv",
            (
                "interaction_id,date,family_id,activity,notes\n"
                f"I-old,2023-10-02,{ERASED},home visit,Second visit: still worried\n"
                f"I-new,2026-10-02,{ERASED},phone call,Plan reviewed\n"
                "I-keep,2023-10-02,FAM-KEEP-2,phone call,Dad now on days\n"
            ).encode(),
        ),
    ]
    for batch in (first, second):
        report = import_files(store, batch, actor="data lead")
        assert report.ok, report.format()
    return store


def _import_events(store) -> list[dict]:
    with store.read() as conn:
        rows = (
            conn.execute(select(db.audit_log).where(db.audit_log.c.action == "import").order_by(db.audit_log.c.id))
            .mappings()
            .all()
        )
    return [
        {
            "before": json.loads(r["before"]) if r["before"] else {},
            "after": json.loads(r["after"]) if r["after"] else {},
        }
        for r in rows
    ]


def test_erase_family_takes_it_out_of_import_events(imported):
    assert ERASED in _audit_text(imported) and "Mum worried about housing" in _audit_text(imported)
    assert privacy.erase_family(imported, ERASED, actor="dpo@school") == 2
    text = _audit_text(imported)
    for gone in ("I-old", "I-new", "Mum worried about housing", "Agreed a plan", "B30 2AB", "B30 9ZZ"):
        assert gone not in text, gone
    # The erasure's own audit row names the family (by design); no import event does any more.
    assert ERASED not in json.dumps(_import_events(imported))
    first, second = _import_events(imported)
    assert first["after"]["added"]["families"] == ["FAM-KEEP-2"]
    assert first["after"]["added"]["interactions"] == ["I-keep"]
    assert list(second["before"]["families"]) == ["FAM-KEEP-2"] and list(second["before"]["interactions"]) == ["I-keep"]
    assert "Dad works nights" in text and "B29 6AB" in text  # the other family's trail is whole


def test_retention_redacts_old_notes_in_import_before_images(imported):
    assert "Mum worried about housing" in _audit_text(imported)
    assert privacy.apply_retention(imported, actor="admin", today=TODAY, days=730) == 2  # I-old and I-keep
    text = _audit_text(imported)
    assert "Mum worried about housing" not in text and "Dad works nights" not in text
    images = _import_events(imported)[1]["before"]["interactions"]
    assert images["I-old"]["notes"] == privacy.REDACTED and images["I-keep"]["notes"] == privacy.REDACTED
    assert images["I-new"]["notes"] == "Agreed a plan"  # a recent note is kept
    assert images["I-old"]["date"] == "2023-10-02"  # only the note goes


def test_erase_family_leaves_nothing_of_its_week_moves_or_voice(school, tmp_path):
    """A family with a referral moved through its statuses, a link to a club, a move with its plan's
    steps marked done and survey answers: after erasure no table and no audit row holds its
    reference or anything recorded about it, and the other family's records are untouched."""
    from engagement import referrals, transitions
    from engagement.send_belonging_files import import_files as import_voice

    with school.write(actor="flo@school") as conn:
        db.upsert(
            conn,
            "partners",
            [
                {
                    "partner_id": "P1",
                    "school_id": "S1",
                    "name": "Northfield Food Bank",
                    "category": "food bank",
                    "layer": 2,
                },
                {
                    "partner_id": "P2",
                    "school_id": "S1",
                    "name": "Kings Norton Youth Club",
                    "category": "youth club",
                    "layer": 3,
                },
            ],
        )
    for family in ("F1", "F2"):
        made = referrals.refer(
            school,
            "flo@school",
            school_id="S1",
            family_id=family,
            partner_id="P1",
            date=TODAY,
            reasons=["food"],
            today=TODAY,
        )
        referrals.update_status(
            school, "flo@school", made, "declined", TODAY, decline_reason=f"Gran-Oakley case {family}", today=TODAY
        )
        referrals.link_family(
            school, "flo@school", school_id="S1", family_id=family, partner_id="P2", relation="member"
        )
    (tmp_path / "transitions.csv").write_text(
        "transition_id,family_id,kind,date,send\n"
        "T-F1,F1,year 6 to year 7,2027-09-02,yes\n"
        "T-F2,F2,year 6 to year 7,2027-09-02,no\n"
    )
    (tmp_path / "survey_responses.csv").write_text(
        "survey,date,question,answer,family_id\n"
        "belonging,2026-10-01,belong,disagree,F1\nbelonging,2026-10-01,belong,agree,F2\n"
    )
    assert import_voice(school, [tmp_path / "transitions.csv", tmp_path / "survey_responses.csv"], actor="senco").ok
    steps = transitions.plan_steps(school, "S1", "T-F1", today=TODAY)
    assert transitions.mark_steps(school, "senco", "S1", {steps["step_id"].iloc[0]: True}, today=TODAY) == 1

    privacy.erase_family(school, "F1", actor="dpo@school")

    with school.read() as conn:
        for table in (db.referrals, db.family_partners, db.transitions, db.survey_responses):
            assert set(conn.execute(select(table.c.family_id)).scalars()) == {"F2"}, table.name
        left_steps = set(conn.execute(select(db.transition_steps.c.transition_id)).scalars())
        assert left_steps == {"T-F2"}
    with school.read() as conn:
        entries = [dict(row) for row in conn.execute(select(db.audit_log)).mappings()]
    naming = [e for e in entries if "F1" in json.dumps(e, default=str)]
    # Only the family's own entries keep its reference, emptied; the erasure says so.
    assert naming and all(e["table_name"] == "families" and e["record_id"] == "F1" for e in naming), naming
    assert all(e["before"] is None and e["after"] is None for e in naming if e["action"] != "erase family")
    text = _audit_text(school)
    assert "Gran-Oakley case F1" not in text and "T-F1" not in text
    assert "F2" in text and "T-F2" in text  # the other family's trail is kept
