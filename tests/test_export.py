"""Exporting: the four files in the import formats, safe in Excel, and a round trip that changes nothing."""

import csv
import datetime
import io
import json
import zipfile
from pathlib import Path

import pytest
from cli_inprocess import run_cli
from sqlalchemy import select

from engagement import records
from engagement import store as db
from engagement.demo import load_demo
from engagement.interchange import EXPORT_COLUMNS, export_all, import_files
from engagement.store import open_store

PROJECT = Path(__file__).resolve().parent.parent
NASTY = [
    '=HYPERLINK("http://x","y")',
    "-1+2",
    "@SUM(A1)",
    "\tTabbed",
    "\rReturned",
    "+44 121 496 0000",
    "'=already quoted",
    "<img src=x onerror=alert(1)>",
    "Café £5",
]


def dump(store) -> dict:
    """Every row of every table, in a fixed order: equal dumps mean an unchanged store."""
    with store.read() as conn:
        return {
            name: sorted(
                json.dumps(dict(r), default=str, sort_keys=True) for r in conn.execute(select(table)).mappings()
            )
            for name, table in db.TABLES.items()
        }


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def fill(store):
    def insert(conn, table, rows):
        for row in rows:  # rows name different columns
            conn.execute(table.insert().values(**row))

    with store.write("setup") as conn:
        insert(
            conn,
            db.schools,
            [
                {
                    "school_id": "S1",
                    "name": "Hollybrook",
                    "postcode": "B30 2AA",
                    "latitude": 52.4312345678,
                    "longitude": -1.9254321,
                    "pupils": 420,
                    "staff": None,
                    "demo": False,
                },
                {"school_id": "S2", "name": "Elmside", "postcode": "B29 1AA", "demo": False},
            ],
        )
        insert(
            conn,
            db.partners,
            [
                {
                    "partner_id": f"P{i}",
                    "school_id": "S1",
                    "name": name,
                    "category": "business",
                    "layer": 4,
                    "contact_phone": name,
                    "since": None,
                }
                for i, name in enumerate(NASTY)
            ],
        )
        # A partner's services tags are its services' (engagement.services).
        insert(
            conn,
            db.services,
            [
                {"service_id": f"P{i}-S1", "partner_id": f"P{i}", "name": name, "tags": "food;mentoring"}
                for i, name in enumerate(NASTY)
            ],
        )
        insert(
            conn,
            db.families,
            [
                {
                    "family_id": "F1",
                    "school_id": "S1",
                    "pupils": 2,
                    "year_groups": "R;3",
                    "send": True,
                    "needs": "SEND inclusive;food",
                    "preferred_channel": "phone",
                },
                {"family_id": "F2", "school_id": "S2"},
            ],
        )
        insert(
            conn,
            db.interactions,
            [
                {
                    "interaction_id": "I1",
                    "school_id": "S1",
                    "date": datetime.date(2026, 9, 14),
                    "family_id": "F1",
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                    "notes": "=1+1",
                },
                {
                    "interaction_id": "I2",
                    "school_id": "S1",
                    "date": datetime.date(2026, 9, 15),
                    "partner_id": "P0",
                    "activity": "newsletter",
                    "channel": "digital",
                    "two_way": False,
                },
            ],
        )
    return store


@pytest.fixture
def filled(store):
    return fill(store)


def test_formulas_are_neutralised_and_text_survives(filled, tmp_path):
    paths = export_all(filled, tmp_path)
    assert [p.name for p in paths] == [
        "schools.csv",
        "partners.csv",
        "services.csv",
        "families.csv",
        "interactions.csv",
    ]
    assert all(p.read_bytes().startswith(b"\xef\xbb\xbf") for p in paths)  # BOM: Excel shows £ right
    names = [r["name"] for r in read_csv(tmp_path / "partners.csv")]
    assert sorted(names) == sorted(
        [
            '\'=HYPERLINK("http://x","y")',
            "'-1+2",
            "'@SUM(A1)",
            "'\tTabbed",
            "'\rReturned",
            "'+44 121 496 0000",
            "''=already quoted",
            "<img src=x onerror=alert(1)>",
            "Café £5",
        ]
    )
    assert read_csv(tmp_path / "interactions.csv")[0]["notes"] == "'=1+1"
    # Numbers stay numbers: a negative longitude is not text and is not quoted.
    school = read_csv(tmp_path / "schools.csv")[0]
    assert (school["longitude"], school["latitude"], school["pupils"], school["staff"]) == (
        "-1.9254321",
        "52.4312345678",
        "420",
        "",
    )


def test_columns_are_the_import_formats_plus_school_id(filled, tmp_path):
    export_all(filled, tmp_path)
    for kind, columns in EXPORT_COLUMNS.items():
        with open(tmp_path / f"{kind}.csv", encoding="utf-8-sig") as f:
            assert next(csv.reader(f)) == columns
        # A service's school is its partner's: services.csv has exactly the columns of FORMATS.md.
        assert ("school_id" in columns) == (kind != "services")
    family = {r["family_id"]: r for r in read_csv(tmp_path / "families.csv")}["F1"]
    assert (family["send"], family["eal"], family["year_groups"], family["pupils"]) == ("yes", "no", "R;3", "2")
    first = read_csv(tmp_path / "interactions.csv")[0]
    assert (first["date"], first["two_way"], first["partner_id"]) == ("2026-09-14", "yes", "")


def test_reimporting_an_export_changes_nothing(filled, tmp_path):
    before = dump(filled)
    report = import_files(filled, export_all(filled, tmp_path), actor="round trip")
    assert report.ok, report.format()
    assert all(c["inserted"] == 0 and c["updated"] == 0 for c in report.counts.values()), report.counts
    assert dump(filled) == before  # not even an audit row


def test_one_school_only(filled, tmp_path):
    export_all(filled, tmp_path, school_id="S2")
    assert [r["school_id"] for r in read_csv(tmp_path / "schools.csv")] == ["S2"]
    assert read_csv(tmp_path / "partners.csv") == []
    assert [r["family_id"] for r in read_csv(tmp_path / "families.csv")] == ["F2"]


def test_the_demo_school_round_trips_and_zips(sqlite_store, tmp_path):
    load_demo(sqlite_store, seed=3, actor="demo")
    before = dump(sqlite_store)
    report = import_files(sqlite_store, export_all(sqlite_store, tmp_path), actor="round trip")
    assert report.ok, report.format()
    assert report.counts["interactions"]["unchanged"] > 10_000 and report.counts["partners"]["updated"] == 0
    assert dump(sqlite_store) == before
    archive = zipfile.ZipFile(io.BytesIO(records.backup_zip(sqlite_store)))
    # Every kind the demo holds (all but terms: it follows the default terms), nothing else.
    assert sorted(archive.namelist()) == sorted(k.file_name for k in records.RECORD_KINDS if k.name != "terms")
    assert archive.read("families.csv") == (tmp_path / "families.csv").read_bytes()


def test_cli_export(sqlite_store, tmp_path):
    filled = fill(sqlite_store)
    out = tmp_path / "out"
    run = run_cli("export", out, "--db", filled.url, cwd=PROJECT)
    assert run.returncode == 0, run.stderr
    # The files with rows, in the registry's order; a kind with no rows writes no file.
    written = [str(out / k.file_name) for k in records.RECORD_KINDS if (out / k.file_name).exists()]
    assert run.stdout.split() == written
    assert written[:5] == [
        str(out / f"{k}.csv") for k in ("schools", "partners", "services", "families", "interactions")
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.rsplit("/", 1)[1] for p in written)  # no stray file
    assert len(read_csv(out / "partners.csv")) == len(NASTY)


@pytest.fixture
def demo_source(tmp_path):
    source = open_store(f"sqlite:///{tmp_path / 'source.db'}")
    yield source
    source.dispose()


def test_export_then_import_into_an_empty_store_gives_the_same_tables(store, tmp_path, demo_source):
    """Issue 13: the demo store exported and imported into an empty store is the same store, the demo
    flag and empty text (not a missing value) included; before, the demo school came back as a real
    one and 19 partners' empty services came back missing."""
    sqlite_store = demo_source
    load_demo(sqlite_store, seed=3, actor="demo")
    with sqlite_store.write("setup") as conn:  # empty text and missing values side by side
        conn.execute(
            db.partners.update().where(db.partners.c.partner_id == db.partners.c.partner_id).values(contact_name="")
        )
        conn.execute(db.families.update().where(db.families.c.family_id.like("%1")).values(language=""))
    exported = records.export_records(sqlite_store, tmp_path / "export")
    run = records.import_records(store, exported, actor="restore")
    assert run.ok, run.format()
    for kind in sorted(records.tables_carried()):
        table = db.TABLES[kind]
        original, restored = (content_of(s, table) for s in (sqlite_store, store))
        assert len(original) == len(restored) and original == restored, kind
    assert len(rows_of(store, db.services)) > 50  # the demo's services (issue 16), every column the same
    school = rows_of(store, db.schools)[0]
    assert school["demo"] is True
    assert {p["contact_name"] for p in rows_of(store, db.partners)} == {""}


def content_of(store, table) -> list[dict]:
    """The table's rows without a surrogate key (a number the database gives each row, which a
    restore gives anew), in a stable order."""
    surrogate = [c.name for c in table.primary_key.columns if c.autoincrement is True or c.name in ("id",)]
    surrogate += [c.name for c in table.c if c.name in ("term_id", "response_id")]
    rows = [{k: v for k, v in r.items() if k not in surrogate} for r in rows_of(store, table)]
    return sorted(rows, key=lambda r: [(v is None, str(v)) for v in r.values()])


def rows_of(store, table) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


def test_empty_text_is_written_quoted_and_a_missing_value_as_nothing(filled, tmp_path):
    with filled.write("setup") as conn:
        conn.execute(db.families.update().where(db.families.c.family_id == "F1").values(language=""))
    export_all(filled, tmp_path)
    lines = (tmp_path / "families.csv").read_text(encoding="utf-8-sig").splitlines()
    f1, f2 = (next(line for line in lines if line.startswith(f)) for f in ("F1,", "F2,"))
    assert f1.endswith(',phone,"",') and f2.endswith(",,")  # language, then joined (empty)
    # Excel shows both as blank cells; a plain CSV reader reads both as "".
    assert {r["family_id"]: r["language"] for r in read_csv(tmp_path / "families.csv")} == {"F1": "", "F2": ""}
