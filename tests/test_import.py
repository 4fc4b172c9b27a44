"""Importing schools, partners, families and interactions: every bad input is refused with its row,
column and reason and leaves the store exactly as it was; good files from real MIS exports go in."""

import datetime
import hashlib
import io
import json
import random
from pathlib import Path

import pandas as pd
import pytest
from cli_inprocess import run_cli
from sqlalchemy import func, select

from engagement import store as db
from engagement.interchange import guess_kind, import_files

PROJECT = Path(__file__).resolve().parent.parent
# Where the first byte of no encoding is in the random bytes below: row 1, under no header yet.
RANDOM_AT = (1, "column 1")
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15"
    b"\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)

SCHOOLS = "school_id,name,postcode\nS1,Hollybrook Primary,B30 2AA\n"
PARTNERS = "partner_id,name,category\nP1,Stirchley Food Bank,food bank\n"
FAMILIES = "family_id,postcode\nF1,B30 2AD\n"


def dump(store) -> dict:
    """Every row of every table, in a fixed order: equal dumps mean an unchanged store."""
    out = {}
    with store.read() as conn:
        for name, table in db.TABLES.items():
            rows = conn.execute(select(table)).mappings().all()
            out[name] = sorted(json.dumps(dict(r), default=str, sort_keys=True) for r in rows)
    return out


def files(**named: str | bytes) -> list[tuple[str, bytes]]:
    return [(name.replace("_", "."), text.encode() if isinstance(text, str) else text) for name, text in named.items()]


def rows(store, table) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


@pytest.fixture
def seeded(store):
    """A store with one school, one partner and one family, imported the ordinary way."""
    report = import_files(
        store, files(schools_csv=SCHOOLS, partners_csv=PARTNERS, families_csv=FAMILIES), actor="setup"
    )
    assert report.ok, report.format()
    return store


def refused(store, sources, **kwargs):
    before = dump(store)
    report = import_files(store, sources, actor="test", **kwargs)
    assert not report.ok
    assert dump(store) == before, "a refused import changed the store"
    return report


def has(report, row, column, text):
    assert any(p.row == row and p.column == column and text in p.reason for p in report.errors), report.format()


# ---------------------------------------------------------------- bad input changes nothing

BAD = {
    "missing required column": (
        "partners.csv",
        "partner_id,name\nP2,Library\n",
        1,
        "category",
        "required column 'category' is missing",
    ),
    "unknown category": (
        "partners.csv",
        "partner_id,name,category\nP2,Spa,wellness retreat\n",
        2,
        "category",
        "'wellness retreat' is not a category of the typology. Known categories: social care, health",
    ),
    "unknown activity": (
        "interactions.csv",
        "date,family_id,activity\n2026-09-14,F1,skydiving\n",
        2,
        "activity",
        "Known activities: phone call, email",
    ),
    "duplicate id": ("families.csv", "family_id\nF2\nF3\nF2\n", 4, "family_id", "'F2' appears twice: already at row 2"),
    "unknown event": (
        "interactions.csv",
        "date,family_id,activity,event_id\n2026-09-14,F1,coffee morning,EV-NOPE\n",
        2,
        "event_id",
        "there is no event 'EV-NOPE' in the store: import events.csv first",
    ),
    "neither family nor partner": (
        "interactions.csv",
        "date,family_id,partner_id,activity\n2026-09-14,,,phone call\n",
        2,
        "family_id",
        "both are empty",
    ),
    "unknown family": (
        "interactions.csv",
        "date,family_id,activity\n2026-09-14,F404,phone call\n",
        2,
        "family_id",
        "no family 'F404' in the store or in this import",
    ),
    "unknown partner": (
        "interactions.csv",
        "date,partner_id,activity\n2026-09-14,P404,email\n",
        2,
        "partner_id",
        "no partner 'P404'",
    ),
    "31 February": (
        "interactions.csv",
        "date,family_id,activity\n31/02/2026,F1,phone call\n",
        2,
        "date",
        "'31/02/2026' is not a date",
    ),
    "yesterday": (
        "interactions.csv",
        "date,family_id,activity\nyesterday,F1,phone call\n",
        2,
        "date",
        "'yesterday' is not a date",
    ),
    "latitude 123": (
        "partners.csv",
        "partner_id,name,category,latitude,longitude\nP2,Library,library,123,-1.9\n",
        2,
        "latitude",
        "between -90 and 90",
    ),
    "longitude 200": (
        "schools.csv",
        "school_id,name,postcode,latitude,longitude\nS2,Elm,B1 1AA,52.4,200\n",
        2,
        "longitude",
        "between -180 and 180",
    ),
    "latitude without longitude": (
        "partners.csv",
        "partner_id,name,category,latitude\nP2,Library,library,52.4\n",
        2,
        "longitude",
        "needs its longitude",
    ),
    # A whole-file refusal says where too (issue 26): an empty file at row 1 under the first
    # column it needs; bytes that are not text at the row and column of the first of them.
    "empty file": ("families.csv", b"", 1, "family_id", "the file is empty"),
    "blank lines only": ("families.csv", b"\r\n  \r\n\r\n", 1, "family_id", "the file is empty"),
    "header then nothing but commas": ("families.csv", b",,,\n,,\n", 1, "family_id", "the file is empty"),
    "a header alone": ("families.csv", b"family_id,postcode\n\n", 2, "family_id", "a header but no rows"),
    "a PNG": ("families.csv", PNG, 2, "column 1", "not text"),
    "random bytes": ("families.csv", random.Random(7).randbytes(4096), RANDOM_AT[0], RANDOM_AT[1], "not text"),
    "a broken workbook": ("families.xlsx", b"PK\x03\x04 not really a zip", None, None, "not a readable Excel"),
    "layer 5": ("partners.csv", "partner_id,name,category,layer\nP2,Library,library,5\n", 2, "layer", "2, 3 or 4"),
    "unknown status": (
        "partners.csv",
        "partner_id,name,category,status\nP2,Library,library,closed\n",
        2,
        "status",
        "active, prospective, lapsed",
    ),
    "unknown preferred channel": (
        "families.csv",
        "family_id,preferred_channel\nF2,carrier pigeon\n",
        2,
        "preferred_channel",
        "in person, phone, digital, letter",
    ),
    "negative pupils": ("families.csv", "family_id,pupils\nF2,-1\n", 2, "pupils", "0 or more"),
    "pupils in words": ("families.csv", "family_id,pupils\nF2,two\n", 2, "pupils", "not a whole number"),
    "a boolean that is not": ("families.csv", "family_id,send\nF2,perhaps\n", 2, "send", "not yes or no"),
    "family_id too long": (
        "families.csv",
        f"family_id\n{'F' * 65}\n",
        2,
        "family_id",
        "too long: 65 characters, at most 64",
    ),
    "missing id in a row": ("families.csv", "family_id,postcode\n,B30 1AA\n", 2, "family_id", "missing"),
    "unknown school in the column": (
        "families.csv",
        "family_id,school_id\nF2,S404\n",
        2,
        "school_id",
        "no school 'S404'",
    ),
    "a family of another school moved": (
        "families.csv",
        "family_id,school_id\nF9,S1\n",
        2,
        "school_id",
        "already belongs to another school, not 'S1'",
    ),
    "an interaction with another school's family": (
        "interactions.csv",
        "date,family_id,activity,school_id\n2026-09-14,F9,phone call,S1\n",
        2,
        "family_id",
        "belongs to another school, not to 'S1'",
    ),
    "a name that is no kind": ("contacts.csv", FAMILIES, None, None, "cannot tell what this file holds"),
    "a cell beyond the header": ("families.csv", "family_id\nF2,oops\n", 2, None, "header names only 1 columns"),
    "a column twice": ("families.csv", "family_id,FAMILY_ID\nF2,F2\n", 1, "family_id", "appears twice in the header"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_with_row_column_reason_and_changes_nothing(seeded, case):
    name, content, row, column, reason = BAD[case]
    if "another school" in case:
        with seeded.write("setup") as conn:
            conn.execute(db.schools.insert().values(school_id="S2", name="Elmside", postcode="B29 1AA", demo=False))
            conn.execute(db.families.insert().values(family_id="F9", school_id="S2"))
    report = refused(seeded, files(**{name.replace(".", "_"): content}))
    has(report, row, column, reason)


def test_several_schools_and_no_school_id_is_refused(seeded):
    with seeded.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="S2", name="Elmside", postcode="B29 1AA", demo=False))
    report = refused(seeded, files(families_csv="family_id\nF2\nF3\n"))
    has(report, 2, "school_id", "school_id needed: the store holds several schools")
    assert len(report.errors) == 1  # one message for the file, not one per row
    # Saying which school is enough.
    assert import_files(seeded, files(families_csv="family_id\nF2\nF3\n"), school_id="S2").ok
    assert {r["family_id"]: r["school_id"] for r in rows(seeded, db.families)} == {"F1": "S1", "F2": "S2", "F3": "S2"}


def test_rows_without_a_school_never_fall_into_the_demo_school(store):
    with store.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="999001", name="Hollybrook", postcode="B30 2AA", demo=True))
    report = refused(store, files(families_csv="family_id\nF2\nF3\n"))
    has(report, 2, "school_id", "the only school in the store is the demo school; import your schools.csv first")
    # With the school's own schools.csv in the same import, the rows go to that school.
    assert import_files(store, files(schools_csv=SCHOOLS, families_csv="family_id,school_id\nF2,S1\n")).ok
    assert {r["family_id"]: r["school_id"] for r in rows(store, db.families)} == {"F2": "S1"}


def test_one_bad_file_refuses_the_whole_batch(store):
    report = refused(
        store,
        files(
            schools_csv=SCHOOLS,
            partners_csv=PARTNERS,
            interactions_csv="date,partner_id,activity\n2026-09-14,P1,time travel\n",
        ),
    )
    has(report, 2, "activity", "'time travel' is not an activity")
    assert rows(store, db.schools) == []


def test_every_problem_is_reported_not_only_the_first(seeded):
    report = refused(
        seeded,
        files(
            partners_csv=(
                "partner_id,name,category,layer\nP2,A,bogus,3\nP3,B,library,9\nP4,,library,\nP5,C,also bogus,\n"
            )
        ),
    )
    assert [(p.row, p.column) for p in report.errors] == [(4, "name"), (2, "category"), (5, "category"), (3, "layer")]
    # The list of known categories is given once, not on every row.
    assert "Known categories" in report.errors[1].reason and "listed above" in report.errors[2].reason


def test_row_4000_of_5000_bad_writes_none_of_the_others(seeded):
    lines = ["family_id,postcode,pupils,pupil_premium,send,year_groups,needs"]
    lines += [f"G{i:05d},B30 {i % 9}AA,{1 + i % 3},{'Y' if i % 4 == 0 else 'N'},no,R;3,food" for i in range(2, 5001)]
    lines[3999] = "G04000,B30 1AA,lots,Y,no,R,"  # spreadsheet row 4,000
    data = ("\n".join(lines) + "\n").encode()
    report = refused(seeded, [("families.csv", data)])  # how fast: bench's import section, not a timed test
    assert [(p.row, p.column) for p in report.errors] == [(4000, "pupils")]
    assert len(rows(seeded, db.families)) == 1
    # And the same file, mended, goes in whole.
    mended = data.replace(b"G04000,B30 1AA,lots", b"G04000,B30 1AA,2")
    report = import_files(seeded, [("families.csv", mended)], actor="test")
    assert report.ok and report.counts["families"]["inserted"] == 4999


def test_error_list_is_capped_when_printed(seeded):
    body = "".join(f"X{i},nowhere,bogus\n" for i in range(60))
    report = refused(seeded, files(partners_csv="partner_id,name,category\n" + body))
    text = report.format()
    assert len(report.errors) == 60 and "... and 10 more." in text
    assert text.count("bogus") == 50
    assert list(report.errors_frame().columns) == ["file", "row", "column", "reason"]


# ---------------------------------------------------------------- what real files look like is accepted


def test_windows_1252_bom_blank_lines_uk_dates_and_yes_n(store):
    schools = "school_id,name,postcode\r\nS1,Café Street Primary,B30 2AA\r\n".encode("cp1252")
    partners = (
        "\ufeff Partner_ID , NAME ,Category,Since,Notes\r\n\r\nP1,Café Bar,BUSINESS,14/09/2026,£5 vouchers\r\n,,,,\r\n"
    ).encode("utf-8")
    families = b"family_id,pupil_premium,send,eal,looked_after,young_carer\n\nF1,Yes,N,y,no,\n\n"
    report = import_files(
        store, [("schools.csv", schools), ("partners.csv", partners), ("families.csv", families)], actor="test"
    )
    assert report.ok, report.format()
    assert rows(store, db.schools)[0]["name"] == "Café Street Primary"
    partner = rows(store, db.partners)[0]
    assert (
        partner["name"],
        partner["category"],
        partner["layer"],
        partner["since"],
        partner["notes"],
        partner["status"],
        partner["school_id"],
    ) == ("Café Bar", "business", 4, datetime.date(2026, 9, 14), "£5 vouchers", "active", "S1")
    family = rows(store, db.families)[0]
    assert [family[k] for k in ("pupil_premium", "send", "eal", "looked_after", "young_carer", "pupils")] == [
        True,
        False,
        True,
        False,
        False,
        1,
    ]


def test_errors_name_rows_as_a_spreadsheet_does_blank_lines_counted(seeded):
    report = refused(seeded, files(families_csv="\nfamily_id,pupils\n\nF2,1\n\nF3,many\n"))
    has(report, 6, "pupils", "'many' is not a whole number")


def test_xlsx_first_sheet_with_numbers_dates_and_row_numbers(seeded):
    frame = pd.DataFrame(
        {
            "Date": [datetime.datetime(2026, 9, 14), datetime.datetime(2026, 9, 15)],
            "family_id": ["F1", "F1"],
            "Activity": ["Phone Call", "Home Visit"],
            "two_way": [None, "N"],
        }
    )
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name="contacts")
        pd.DataFrame({"x": [1]}).to_excel(writer, index=False, sheet_name="ignored")
    report = import_files(seeded, [("2026-interactions-export.xlsx", buffer.getvalue())], actor="test")
    assert report.ok, report.format()
    got = sorted((r["date"], r["activity"], r["channel"], r["two_way"]) for r in rows(seeded, db.interactions))
    assert got == [
        (datetime.date(2026, 9, 14), "phone call", "phone", True),
        (datetime.date(2026, 9, 15), "home visit", "home visit", False),
    ]
    bad = frame.assign(Activity=["phone call", "juggling"])
    buffer = io.BytesIO()
    bad.to_excel(buffer, index=False)
    report = refused(seeded, [("interactions.xlsx", buffer.getvalue())])
    has(report, 3, "activity", "'juggling' is not an activity")


def test_semicolon_separated_csv_from_a_european_excel(seeded):
    report = import_files(seeded, files(families_csv="family_id;needs\nF2;food\n"), actor="test")
    assert report.ok, report.format()
    assert rows(seeded, db.families)[1]["needs"] == "food"


def test_kind_guessed_from_the_name_or_given():
    assert [
        guess_kind(n)
        for n in (
            "partners.csv",
            "2026-partners-export.xlsx",
            "Families.CSV",
            "hollybrook-school-interactions.csv",
            "school.csv",
            "data.csv",
            "partners-and-families.csv",
        )
    ] == ["partners", "partners", "families", "interactions", "schools", None, None]


def test_kind_given_overrides_the_name(seeded):
    report = import_files(seeded, files(export_csv="family_id\nF2\n"), kind="families", actor="test")
    assert report.ok and report.counts["families"]["inserted"] == 1


# ---------------------------------------------------------------- what an import writes


def test_batch_in_dependency_order_whatever_the_order_given(store):
    interactions = (
        "interaction_id,date,family_id,partner_id,activity\n"
        "I1,2026-09-14,F1,,Parents' Evening\n,15/09/2026,,P1,newsletter\n,2026-09-16,F1,,email\n"
    )
    report = import_files(
        store,
        files(interactions_csv=interactions, families_csv=FAMILIES, partners_csv=PARTNERS, schools_csv=SCHOOLS),
        actor="data lead",
    )
    assert report.ok, report.format()
    assert report.counts == {
        k: {"inserted": n, "updated": 0, "unchanged": 0}
        for k, n in (("schools", 1), ("partners", 1), ("families", 1), ("interactions", 3))
    }
    got = rows(store, db.interactions)
    assert len({r["interaction_id"] for r in got}) == 3 and "I1" in {r["interaction_id"] for r in got}
    first = next(r for r in got if r["interaction_id"] == "I1")
    assert (first["activity"], first["channel"], first["two_way"], first["school_id"]) == (
        "parents evening",
        "in person",
        True,
        "S1",
    )
    newsletter = next(r for r in got if r["activity"] == "newsletter")
    assert newsletter["two_way"] is False and newsletter["partner_id"] == "P1"
    # One audit event for the whole import (issue 13), not a copy of every row: who, the files with
    # their checksums, the counts and the ids added.
    with store.read() as conn:
        audit = conn.execute(select(db.audit_log)).mappings().all()
    assert [(a["actor"], a["action"], a["table_name"]) for a in audit] == [
        ("data lead", "import", "schools,partners,families,interactions")
    ]
    detail = json.loads(audit[0]["detail"])
    assert [f["name"] for f in detail["files"]] == ["interactions.csv", "families.csv", "partners.csv", "schools.csv"]
    assert detail["files"][3]["sha256"] == hashlib.sha256(SCHOOLS.encode()).hexdigest()
    assert detail["counts"] == report.counts
    added = json.loads(audit[0]["after"])["added"]
    assert (added["schools"], added["partners"], added["families"]) == (["S1"], ["P1"], ["F1"])
    assert sorted(added["interactions"]) == sorted(r["interaction_id"] for r in got)
    assert audit[0]["before"] is None  # nothing was changed, only added


def test_upsert_by_id_updates_only_what_changed_and_audits_it(seeded):
    report = import_files(
        seeded,
        files(
            partners_csv=(
                "partner_id,name,category,status\nP1,Stirchley Food Bank,food bank,lapsed\nP2,Library,library,\n"
            )
        ),
        actor="data lead",
    )
    assert report.counts["partners"] == {"inserted": 1, "updated": 1, "unchanged": 0}
    assert rows(seeded, db.partners)[0]["status"] == "lapsed"
    # The import's one audit event holds the whole row P1 was before, and the id it added.
    with seeded.read() as conn:
        event = conn.execute(select(db.audit_log).where(db.audit_log.c.actor == "data lead")).mappings().one()
    assert event["action"] == "import" and event["table_name"] == "partners"
    before = json.loads(event["before"])["partners"]
    assert list(before) == ["P1"]
    assert before["P1"]["status"] == "active" and before["P1"]["name"] == "Stirchley Food Bank"
    assert json.loads(event["after"]) == {"added": {"partners": ["P2"]}}
    again = import_files(
        seeded,
        files(
            partners_csv=(
                "partner_id,name,category,status\nP1,Stirchley Food Bank,food bank,lapsed\nP2,Library,library,\n"
            )
        ),
    )
    assert again.counts["partners"] == {"inserted": 0, "updated": 0, "unchanged": 2}


def test_columns_a_file_lacks_are_left_alone(seeded):
    with seeded.write("setup") as conn:
        conn.execute(db.partners.update().values(latitude=52.43, longitude=-1.92, notes="kept", layer=2))
    # A directory without coordinates, notes or layer does not wipe them.
    assert import_files(seeded, files(partners_csv="partner_id,name,category\nP1,Food Bank,food bank\n")).ok
    partner = rows(seeded, db.partners)[0]
    assert (partner["name"], partner["latitude"], partner["longitude"], partner["notes"], partner["layer"]) == (
        "Food Bank",
        52.43,
        -1.92,
        "kept",
        2,
    )
    # Blank coordinates keep the geocoded ones while the postcode stays; a new postcode clears them.
    assert import_files(
        seeded,
        files(partners_csv=("partner_id,name,category,postcode,latitude,longitude\nP1,Food Bank,food bank,,,\n")),
    ).ok
    assert rows(seeded, db.partners)[0]["latitude"] == 52.43
    assert import_files(
        seeded,
        files(partners_csv=("partner_id,name,category,postcode,latitude,longitude\nP1,Food Bank,food bank,B1 1AA,,\n")),
    ).ok
    assert rows(seeded, db.partners)[0]["latitude"] is None


def test_dry_run_checks_without_writing(seeded):
    before = dump(seeded)
    report = import_files(
        seeded,
        files(
            families_csv="family_id,postcode\nF1,B30 2AD\nF2,\nF3,\n",
            partners_csv="partner_id,name,category\nP1,Renamed,food bank\n",
        ),
        dry_run=True,
    )
    assert report.ok and "Checked (nothing written)" in report.format()
    assert "families: 2 to add, 0 to update, 1 unchanged" in report.format()
    assert report.counts["partners"] == {"inserted": 0, "updated": 1, "unchanged": 0}
    assert dump(seeded) == before


# ---------------------------------------------------------------- the command line


def cli(*args, cwd=PROJECT):
    return run_cli(*args, cwd=cwd)


def test_cli_import_exit_codes(tmp_path):
    db_path = str(tmp_path / "cli.db")
    (tmp_path / "schools.csv").write_text(SCHOOLS)
    (tmp_path / "partners.csv").write_text(PARTNERS)
    (tmp_path / "bad-interactions.csv").write_text("date,partner_id,activity\nyesterday,P1,email\n")
    ok = cli("import", str(tmp_path / "partners.csv"), str(tmp_path / "schools.csv"), "--db", db_path)
    assert ok.returncode == 0, ok.stderr
    assert "partners: 1 new" in ok.stdout and "schools: 1 new" in ok.stdout
    bad = cli("import", str(tmp_path / "bad-interactions.csv"), "--db", db_path)
    assert bad.returncode == 1
    assert "bad-interactions.csv, row 2, date: 'yesterday' is not a date" in bad.stderr
    assert "Nothing was imported" in bad.stderr
    usage = cli("import", str(tmp_path / "partners.csv"), "--kind", "pets", "--db", db_path)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr
    missing = cli("import", str(tmp_path / "nope.csv"), "--kind", "partners", "--db", db_path)
    assert missing.returncode == 1 and "cannot be read" in missing.stderr


def test_an_import_is_one_audit_event_not_a_copy_of_every_row(seeded):
    """Issue 13: one audit row for an import, however many rows it writes: who, when, the files with
    their SHA-256, the counts, the ids added and the before-image of each row changed."""
    contacts = "interaction_id,date,family_id,activity,notes\n" + "".join(
        f"J{i:04d},2026-09-14,F1,phone call,private note {i}\n" for i in range(2000)
    )
    families = "family_id,postcode\nF1,B29 6AB\nF2,B30 1AA\n"
    sources = files(interactions_csv=contacts, families_csv=families)
    with seeded.read() as conn:
        last = conn.execute(select(func.max(db.audit_log.c.id))).scalar_one()
    report = import_files(seeded, sources, actor="data lead")
    assert report.ok, report.format()
    with seeded.read() as conn:
        events = conn.execute(select(db.audit_log).where(db.audit_log.c.id > last)).mappings().all()
    assert len(events) == 1
    event = events[0]
    assert (event["actor"], event["action"], event["table_name"], event["at"] is not None) == (
        "data lead",
        "import",
        "families,interactions",
        True,
    )
    detail = json.loads(event["detail"])
    assert detail["files"] == [
        {"name": "interactions.csv", "sha256": hashlib.sha256(contacts.encode()).hexdigest(), "bytes": len(contacts)},
        {"name": "families.csv", "sha256": hashlib.sha256(families.encode()).hexdigest(), "bytes": len(families)},
    ]
    assert detail["counts"] == {
        "families": {"inserted": 1, "updated": 1, "unchanged": 0},
        "interactions": {"inserted": 2000, "updated": 0, "unchanged": 0},
    }
    added = json.loads(event["after"])["added"]
    assert added["families"] == ["F2"] and sorted(added["interactions"]) == [f"J{i:04d}" for i in range(2000)]
    before = json.loads(event["before"])
    assert before == {"families": {"F1": {**rows(seeded, db.families)[0], "postcode": "B30 2AD"}}}
    assert "private note" not in json.dumps(dict(event), default=str)  # the ids, not a copy of the rows


def test_a_write_longer_than_others_wait_is_said(sqlite_store, monkeypatch):
    """On SQLite an import holds the write lock while it writes; if that outlasts the busy timeout,
    someone's save meanwhile failed, and the data lead is told so."""
    assert import_files(sqlite_store, files(schools_csv=SCHOOLS)).ok
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 0)
    report = import_files(sqlite_store, files(families_csv=FAMILIES), actor="test")
    assert report.ok and report.seconds["write"] > 0
    assert "longer than others wait for the store" in report.format()


def test_a_family_at_a_partners_session_names_both_and_its_register(seeded, tmp_path):
    """FORMATS.md: both family_id and partner_id when a family took part in a partner's session;
    event_id puts the contact on an event's register. Export gives both back, re-import changes
    nothing."""
    from engagement.events import save_register

    save_register(
        seeded,
        "flo",
        school_id="S1",
        event_id="EV-1",
        date=datetime.date(2026, 9, 14),
        activity="coffee morning",
        family_ids=[],
        today=datetime.date(2026, 9, 30),
    )
    report = import_files(
        seeded,
        files(
            interactions_csv=(
                "interaction_id,date,family_id,partner_id,activity,event_id\n"
                "I1,2026-09-14,F1,P1,coffee morning,EV-1\nI2,2026-09-15,F1,,phone call,\n"
            )
        ),
        actor="flo",
    )
    assert report.ok, report.format()
    (both,) = [r for r in rows(seeded, db.interactions) if r["interaction_id"] == "I1"]
    assert (both["family_id"], both["partner_id"]) == ("F1", "P1")
    assert [(r["interaction_id"], r["event_id"]) for r in rows(seeded, db.event_contacts)] == [("I1", "EV-1")]
    from engagement.interchange import export_all

    exported = export_all(seeded, tmp_path)
    text = next(p for p in exported if p.name == "interactions.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].endswith(",event_id") and ",EV-1" in text
    before = dump(seeded)
    # The files with rows, as `export DIR` writes them (a file of a header alone is refused).
    again = import_files(seeded, [p for p in exported if len(p.read_text().splitlines()) > 1], actor="flo")
    assert again.ok and dump(seeded) == before
