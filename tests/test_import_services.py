"""services.csv in the import pipeline (issue 16): checked with the rest of the batch, written in
the same short transaction with one audit event; a partners file's ``services`` tags become
changes to the partner's services, after the batch's services file; a change by import raises the
version; the partner must exist and be of a school the account may change; an export read back
into an empty store gives the same services, byte for byte. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

from cli_inprocess import run_cli
from sqlalchemy import select

from engagement import store as db
from engagement.interchange import FORMATS, export_all, import_files
from engagement.store import open_store

SCHOOLS = b"school_id,name,postcode\nS1,Oak,B30 2AA\nS2,Elm,B29 1AA\n"
PARTNERS = (
    b"partner_id,school_id,name,category,services\n"
    b"P1,S1,Stirchley Food Bank,food bank,food;debt advice\n"
    b"P2,S1,Oak Library,library,reading\n"
    b"P3,S2,Elm Youth Club,youth organisation,\n"
)
SERVICES = (
    b"service_id,partner_id,name,tags,min_age,max_age,cost,languages,delivery,sessions,access,eligibility,"
    b"send_inclusive,status\n"
    b"P1-S1,P1,Food parcels,food,,,free,English;Polish,in person;phone,Tue 10:00-12:00;Fri 13:00-15:00,"
    b'professional referral,"families referred with a voucher, any age",no,active\n'
    b"P1-S2,P1,Holiday meals,holiday food,5,11,free,,in person,Mon 12:00-13:00,drop-in,,yes,active\n"
)


def rows(store, table) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


def test_services_csv_columns_are_the_shared_format():
    # shared/FORMATS.md, "services.csv": exactly these columns, in this order.
    assert [f.name for f in FORMATS["services"]] == [
        "service_id", "partner_id", "name", "tags", "min_age", "max_age", "cost", "languages", "delivery",
        "sessions", "access", "eligibility", "send_inclusive", "status",
    ]  # fmt: skip
    assert [f.name for f in FORMATS["services"] if f.required] == ["service_id", "partner_id", "name"]


def test_a_batch_with_services_is_one_transaction_and_one_audit_event(store):
    report = import_files(
        store,
        [("schools.csv", SCHOOLS), ("partners.csv", PARTNERS), ("services.csv", SERVICES)],
        actor="lead@x",
    )
    assert report.ok, report.format()
    assert report.counts["services"] == {"inserted": 3, "updated": 0, "unchanged": 0}
    services = {r["service_id"]: r for r in rows(store, db.services)}
    # The services file first; then P1's tags add "debt advice" to its first service, and P2's
    # "reading" makes it a service named after the partner. P3 has no tags and no service.
    assert services["P1-S1"]["tags"] == "food;debt advice"
    # Not among P1's tags in partners.csv, but the services file of the batch has the last word.
    assert services["P1-S2"]["tags"] == "holiday food"
    assert (services["P2-S1"]["name"], services["P2-S1"]["tags"]) == ("Oak Library", "reading")
    assert services["P1-S2"]["send_inclusive"] is True and services["P1-S2"]["min_age"] == 5
    assert {r["version"] for r in services.values()} == {1}
    audit = rows(store, db.audit_log)
    assert [(a["action"], a["actor"], a["table_name"]) for a in audit] == [
        ("import", "lead@x", "schools,partners,services")
    ]
    assert json.loads(audit[0]["after"])["added"]["services"] == ["P1-S1", "P1-S2", "P2-S1"]


def test_a_change_by_import_raises_the_version_and_an_unchanged_row_keeps_it(store):
    assert import_files(store, [("schools.csv", SCHOOLS), ("partners.csv", PARTNERS), ("services.csv", SERVICES)]).ok
    # P1-S1 holds the tag partners.csv added too, so only P1-S2 changes.
    changed = SERVICES.replace(b"Holiday meals", b"Holiday lunches").replace(
        b"parcels,food,", b"parcels,food;debt advice,"
    )
    report = import_files(store, [("services.csv", changed)])
    assert report.ok and report.counts["services"] == {"inserted": 0, "updated": 1, "unchanged": 1}
    versions = {r["service_id"]: r["version"] for r in rows(store, db.services)}
    assert versions == {"P1-S1": 1, "P1-S2": 2, "P2-S1": 1}
    renamed = b"partner_id,school_id,name,category\nP2,S1,Oak Library (Cotteridge),library\n"
    report = import_files(store, [("partners.csv", renamed)])
    assert report.ok and report.counts["partners"] == {"inserted": 0, "updated": 1, "unchanged": 0}
    assert {r["partner_id"]: r["version"] for r in rows(store, db.partners)} == {"P1": 1, "P2": 2, "P3": 1}
    # Without a services column the partners file leaves the services as they are.
    assert {r["service_id"]: r["version"] for r in rows(store, db.services)} == versions


def test_a_partners_file_that_drops_a_tag_takes_it_off_every_service(store):
    assert import_files(store, [("schools.csv", SCHOOLS), ("partners.csv", PARTNERS), ("services.csv", SERVICES)]).ok
    fewer = b"partner_id,school_id,name,category,services\nP1,S1,Stirchley Food Bank,food bank,food;holiday food\n"
    report = import_files(store, [("partners.csv", fewer)])
    assert report.ok and report.counts["services"] == {"inserted": 0, "updated": 1, "unchanged": 0}
    services = {r["service_id"]: r for r in rows(store, db.services)}
    assert (services["P1-S1"]["tags"], services["P1-S1"]["version"]) == ("food", 2)
    assert services["P1-S2"]["tags"] == "holiday food"


def test_services_of_unknown_or_other_schools_partners_are_refused_and_nothing_is_written(store):
    assert import_files(store, [("schools.csv", SCHOOLS), ("partners.csv", PARTNERS)]).ok
    before = rows(store, db.services)
    text = SERVICES + b"P3-S1,P3,Youth night,youth club,11,18,,,,,,,,\nP9-S1,P9,Ghost,,,,,,,,,,,\n"
    report = import_files(store, [("services.csv", text)], allowed_schools=["S1"])
    assert [(p.row, p.column) for p in report.errors] == [(5, "partner_id"), (4, "partner_id")]
    assert "there is no partner 'P9'" in report.errors[0].reason
    assert "is not of a school your account may change" in report.errors[1].reason
    assert "S2" not in report.errors[1].reason  # which school it is of is not the importer's to know
    moved = b"service_id,partner_id,name\nP2-S1,P1,Moved\n"
    report = import_files(store, [("services.csv", moved)])
    assert report.errors and "does not move between partners" in report.errors[0].reason
    assert rows(store, db.services) == before
    assert [a["action"] for a in rows(store, db.audit_log)] == ["import"]  # only the first, good import


def test_a_dry_run_counts_services_and_writes_nothing(store):
    assert import_files(store, [("schools.csv", SCHOOLS), ("partners.csv", PARTNERS)]).ok
    report = import_files(store, [("services.csv", SERVICES)], dry_run=True)
    # P1-S1 came from P1's tags (food;debt advice); the file says "food" only.
    assert report.ok and report.counts["services"] == {"inserted": 1, "updated": 1, "unchanged": 0}
    assert "services: 1 to add, 1 to update" in report.format()
    assert [r["service_id"] for r in rows(store, db.services)] == ["P1-S1", "P2-S1"]


def test_an_export_read_back_into_an_empty_store_is_byte_for_byte_the_same(store, tmp_path):
    tricky = SERVICES + 'P2-S2,P2,=Rhyme time,"a;b",0,4,£1 a session,,online,,self-referral,"",no,inactive\n'.encode()
    assert import_files(store, [("schools.csv", SCHOOLS), ("partners.csv", PARTNERS), ("services.csv", tricky)]).ok
    first = export_all(store, tmp_path / "first")
    # The files with rows, as `export DIR` writes them (a file of a header alone is refused).
    with_rows = [p for p in first if len(p.read_text(encoding="utf-8-sig").splitlines()) > 1]
    fresh = open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        report = import_files(fresh, with_rows, actor="restore")
        assert report.ok, report.format()
        assert rows(fresh, db.services) == rows(store, db.services)
        second = export_all(fresh, tmp_path / "second")
    finally:
        fresh.dispose()
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    text = (tmp_path / "first" / "services.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == ",".join(f.name for f in FORMATS["services"])
    assert "'=Rhyme time" in text and ',"",' in text  # Excel-safe; empty eligibility kept as empty text
    again = import_files(store, with_rows)
    assert again.ok and all(c["inserted"] == c["updated"] == 0 for c in again.counts.values())


def test_the_import_command_takes_services(sqlite_store, tmp_path):
    assert import_files(sqlite_store, [("schools.csv", SCHOOLS), ("partners.csv", PARTNERS)]).ok
    path = tmp_path / "2026 directory.csv"
    path.write_bytes(SERVICES)
    run = run_cli("import", path, "--kind", "services", "--db", sqlite_store.url)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "services: 1 new, 1 updated, 0 unchanged" in run.stdout  # P1-S1 was made from P1's tags
