"""Open Referral UK 3.0 (issue 18): a school starts its directory from a local authority's feed
(files, pages or a feed URL on a local server), keeps it up to date by importing again without
losing its own notes and statuses, and exports a directory that validates against the official
compiled schemas and imports back unchanged. The feeds are tests/fixtures/oruk (untidy on purpose:
missing phones, closed services, multi-line addresses, non-ASCII names, one organisation with
several services and places, impossible coordinates, a term no category maps)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import func, select

from engagement import openreferral as oruk
from engagement import store as db
from engagement.directory import save_partner, save_service
from engagement.partners import partner_record, partners_in_window
from engagement.store import open_store
from tests import oruk_feed
from tests.cli_inprocess import run_cli
from tests.shared_specs import STANDARDS

feed_server = oruk_feed.feed_server  # the local feed (a fixture)

FIXTURES = Path(__file__).parent / "fixtures" / "oruk"
FEED = FIXTURES / "la_feed.json"
CHANGED = FIXTURES / "la_feed_changed.json"
PAGES = [FIXTURES / "la_feed_page1.json", FIXTURES / "la_feed_page2.json"]
STANDARD = STANDARDS / "oruk-3.0"  # the official schemas, in ../shared/ beside the repository
COMPILED = STANDARD / "schema" / "compiled"


def add_school(store, school_id="S1"):
    with store.write("test") as conn:
        conn.execute(db.schools.insert().values(school_id=school_id, name="Hollybrook", postcode="B30 2AA"))


def partners(store, school_id="S1") -> dict[str, dict]:
    with store.read() as conn:
        rows = conn.execute(select(db.partners).where(db.partners.c.school_id == school_id)).mappings()
        return {r["name"]: dict(r) for r in rows}


def services(store) -> dict[str, dict]:
    with store.read() as conn:
        return {r["name"]: dict(r) for r in conn.execute(select(db.services)).mappings()}


def imports(store) -> list[dict]:
    with store.read() as conn:
        a = db.audit_log
        return [dict(r) for r in conn.execute(select(a).where(a.c.action == "import").order_by(a.c.id)).mappings()]


def by_name(report, name):
    return [c for c in report.changes if c.name == name]


# ---------------------------------------------------------------- validating against the standard


def _validator(name: str):
    schema = json.loads((COMPILED / name).read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _page_validator():
    page = json.loads((STANDARD / "schema" / "openapi.json").read_text())["components"]["schemas"]["Page"]
    schema = {
        "allOf": [page],
        "required": [
            "total_items",
            "total_pages",
            "page_number",
            "size",
            "first_page",
            "last_page",
            "empty",
            "contents",
        ],
        "properties": {
            "contents": {"type": "array", "items": json.loads((COMPILED / "service_list.json").read_text())}
        },
    }
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def assert_valid_export(folder: Path) -> list[dict]:
    full = _validator("service.json")
    records = []
    for path in sorted((folder / "services").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        errors = [f"{path.name}: {'/'.join(map(str, e.path))}: {e.message}" for e in full.iter_errors(record)]
        assert not errors, errors
        assert path.stem == oruk.file_stem(record["id"])
        records.append(record)
    page = json.loads((folder / "services.json").read_text(encoding="utf-8"))
    errors = [f"services.json: {'/'.join(map(str, e.path))}: {e.message}" for e in _page_validator().iter_errors(page)]
    assert not errors, errors
    assert page["total_items"] == len(records) == len(page["contents"])
    # No field the profile does not define: the schemas would not say so themselves.
    schema = json.loads((COMPILED / "service.json").read_text())

    def no_extras(value, schema, where):
        if isinstance(value, dict):
            assert set(value) <= set(schema["properties"]), (where, set(value) - set(schema["properties"]))
            for k, v in value.items():
                no_extras(v, schema["properties"][k], f"{where}.{k}")
        elif isinstance(value, list):
            for v in value:
                no_extras(v, schema["items"], where)

    for record in records:
        no_extras(record, schema, record["id"])
    return records


def test_the_validator_catches_a_record_the_profile_refuses():
    # A test that cannot fail is a defect: the same validator refuses a wrong status and a bad uuid.
    full = _validator("service.json")
    assert list(full.iter_errors({"id": "not-a-uuid", "name": "x", "status": "closed"}))
    assert not list(full.iter_errors(json.loads((STANDARD / "examples" / "service_full.json").read_text())))


# ---------------------------------------------------------------- done when


def test_a_school_starts_from_the_authority_directory_keeps_its_notes_and_exports_a_valid_directory(store, tmp_path):
    add_school(store)
    assert partners(store) == {}
    # The feed's two /services pages, as files; "Bingo" maps to no category, so it takes the default.
    first = oruk.import_oruk(store, PAGES, "S1", actor="head", default_category="community centre")
    assert first.ok and first.written, first.format()
    found = partners(store)
    assert len(found) == 8
    hub = found["Birmingham Family Hubs – Northfield Family Hub"]
    assert (hub["latitude"], hub["longitude"], hub["postcode"]) == (52.415, -1.97, "B31 2LB")
    assert hub["oruk_source"] == "la_feed_page1.json, la_feed_page2.json" and hub["oruk_imported_at"] is not None

    # On the map: the partners loader the map draws from, with their services.
    shown = partners_in_window(store, "S1", datetime.date(2026, 9, 1), datetime.date(2026, 12, 19)).set_index("name")
    assert shown.loc["Stirchley Food Bank", "services"] == "Food banks"  # the debt clinic is closed for now
    assert shown.loc["Stirchley Food Bank", "latitude"] == pytest.approx(52.43)
    assert shown.loc["Kings Norton Library", "category"] == "library"
    # Beside the map, each partner says where it came from and when it was last imported.
    origin = partner_record(shown.loc["Stirchley Food Bank"])["From the authority's directory"]
    assert origin.startswith("la_feed_page1.json, la_feed_page2.json, last imported ")

    # The school's own knowledge: a note, a contact it corrected, a status it set on a partner and a service.
    food = found["Stirchley Food Bank"]
    saved = save_partner(
        store,
        "flo",
        "S1",
        {
            "notes": "Ask for Jo; vouchers from the office",
            "contact_email": "jo@stirchleyfood.example",
            "status": "prospective",
        },
        partner_id=food["partner_id"],
        expected_version=food["version"],
        online=False,
    )
    assert not saved.problems, saved.problems
    rhyme = services(store)["Rhyme Time"]
    assert not save_service(
        store, "flo", rhyme["partner_id"], {"status": "temporarily closed"}, rhyme["service_id"]
    ).problems

    # The authority's feed changes; the dry run says what would change, and writes nothing.
    audit_before = len(imports(store))
    dry = oruk.import_oruk(store, [CHANGED], "S1", dry_run=True, default_category="community centre")
    assert dry.ok and not dry.written
    assert len(imports(store)) == audit_before
    assert [c.action for c in by_name(dry, "Friday Youth Club")] == ["close"]
    assert [c.action for c in by_name(dry, "Lego Club")] == ["add"]
    assert by_name(dry, "Stay and Play")[0].fields == ["sessions"]
    assert services(store)["Stay and Play"]["sessions"] == "Mon 09:30-11:30;Wed 09:30-11:30"

    second = oruk.import_oruk(store, [CHANGED], "S1", actor="head", default_category="community centre")
    assert second.ok and second.written, second.format()
    after = partners(store)
    food = after["Stirchley Food Bank"]
    assert food["notes"] == "Ask for Jo; vouchers from the office"
    assert food["contact_email"] == "jo@stirchleyfood.example"
    assert food["status"] == "prospective"
    assert food["last_verified"] == datetime.date(2026, 10, 1)  # the feed's new assured_date still applies
    assert after["Kings Norton Library"]["address"] == "Library Walk, Pershore Road South, Birmingham, West Midlands"
    now = services(store)
    assert now["Rhyme Time"]["status"] == "temporarily closed"  # the school's own
    assert now["Stay and Play"]["sessions"] == "Mon 09:30-11:30;Wed 09:30-11:30;Fri 09:30-11:30"
    assert now["Friday Youth Club"]["status"] == "inactive"  # gone from the feed: closed, not deleted
    assert after["Cotteridge Youth Club"]["status"] == "lapsed"
    assert now["Lego Club"]["partner_id"] == after["Kings Norton Library"]["partner_id"]
    assert len(imports(store)) == audit_before + 1

    # The export validates, and imported again changes nothing.
    oruk.export_oruk(store, tmp_path / "out", "S1")
    assert_valid_export(tmp_path / "out")
    again = oruk.import_oruk(store, [tmp_path / "out" / "services.json"], "S1")
    assert again.ok, again.format()
    assert [c for c in again.changes if c.action != "keep"] == [], again.format()
    assert {k: {c: v for c, v in p.items() if not c.startswith("oruk_")} for k, p in partners(store).items()} == {
        k: {c: v for c, v in p.items() if not c.startswith("oruk_")} for k, p in after.items()
    }
    assert services(store) == now
    # Its one event says the partners were found again, and changed nothing else.
    event = json.loads(imports(store)[-1]["detail"])
    assert event["partners found again"] == 8 and set(event["counts"].values()) == {0}


# ---------------------------------------------------------------- the mapping


def test_each_field_of_a_service_lands_where_the_directory_keeps_it(sqlite_store):
    add_school(sqlite_store)
    report = oruk.import_oruk(sqlite_store, [FEED], "S1")
    assert report.ok, report.format()
    p, s = partners(sqlite_store), services(sqlite_store)
    hub = p["Birmingham Family Hubs – Northfield Family Hub"]
    # A multi-line address on one line; the postcode in its usual form; the contact and a phone
    # from the international shape (contacts[].phones[]); the service email before the organisation's.
    assert hub["address"] == "Northfield Family Hub, Church Road, Birmingham, West Midlands"
    assert (hub["contact_name"], hub["contact_phone"]) == ("Hub reception", "0121 000 0001")
    assert hub["contact_email"] == "northfield.hub@example.gov.uk"
    assert hub["last_verified"] == datetime.date(2026, 6, 1) and hub["category"] == "early help" and hub["layer"] == 2
    stay = s["Stay and Play"]
    assert (stay["min_age"], stay["max_age"], stay["cost"], stay["languages"]) == (0, 5, "free", "English;Urdu")
    assert (stay["sessions"], stay["delivery"], stay["status"]) == (
        "Mon 09:30-11:30;Wed 09:30-11:30",
        "in person",
        "active",
    )
    assert s["Parenting Programme"]["eligibility"] == "Parents and carers of children aged 0-19 in Birmingham"
    send = s["SEND Drop-in"]
    assert (
        send["send_inclusive"] is True
        and send["delivery"] == "in person;phone"
        and send["sessions"] == "Thu 13:00-15:00"
    )
    assert s["Emergency Food Parcels"]["cost"] == "£0 with a voucher"
    assert s["Friday Youth Club"]["cost"] == "£1 a session"  # the deprecated fees text, when no cost options
    # Non-ASCII names as they are; an organisation's services at one place are one partner.
    assert "Polska Szkoła Sobotnia – Żabki" in p and s["Sobotnia szkoła języka polskiego"]["languages"] == "Polish"
    assert {x["name"] for x in s.values() if x["partner_id"] == p["Stirchley Food Bank"]["partner_id"]} == {
        "Emergency Food Parcels",
        "Debt Advice Clinic",
    }
    # Missing phone: imports. Impossible coordinates (100, 101): left unplaced, said in a note.
    assert p["Cotteridge Youth Club"]["contact_phone"] is None
    assert p["Café Cymraeg Ysgol Sul"]["latitude"] is None and p["Café Cymraeg Ysgol Sul"]["postcode"] == "B30 1AA"
    assert any("without usable coordinates" in n for n in report.notes)
    # Statuses: new organisations are the local offer; temporarily closed keeps it so; all services
    # defunct would lapse it.
    assert s["Debt Advice Clinic"]["status"] == "temporarily closed"
    assert p["Stirchley Food Bank"]["status"] == "local offer"
    assert s["Homework Club"]["status"] == "defunct" and p["Kings Norton Library"]["status"] == "local offer"


def test_a_partner_whose_services_are_all_closed_is_lapsed(sqlite_store):
    add_school(sqlite_store)
    feed = json.loads(FEED.read_text())
    for record in feed:
        if record["organization"]["name"] == "Kings Norton Library":
            record["status"] = "defunct"
    assert oruk.import_oruk(sqlite_store, [("feed.json", json.dumps(feed).encode())], "S1").ok
    assert partners(sqlite_store)["Kings Norton Library"]["status"] == "lapsed"


def test_services_whose_terms_map_to_nothing_are_listed_and_left_out_or_given_the_default(sqlite_store, tmp_path):
    add_school(sqlite_store)
    left = oruk.import_oruk(sqlite_store, [FEED], "S1", dry_run=True)
    assert [(u["name"], u["terms"], u["what"]) for u in left.unmapped] == [("Bingo Nights", "Bingo", "left out")]
    assert not by_name(left, "Bingo Nights") and "Bingo Nights: Bingo (left out)" in left.format()
    given = oruk.import_oruk(sqlite_store, [FEED], "S1", dry_run=True, default_category="community centre")
    assert by_name(given, "Bingo Nights")[0].action == "add"
    # The school edits the mapping: the term now maps, nothing is listed.
    mapping = tmp_path / "map.toml"
    mapping.write_text(oruk.CATEGORY_MAP_FILE.read_text() + '"bingo" = "business"\n')
    mapped = oruk.import_oruk(sqlite_store, [FEED], "S1", category_map=oruk.load_category_map(mapping))
    assert mapped.unmapped == [] and partners(sqlite_store)["Northfield Bingo Hall"]["category"] == "business"


def test_a_mapping_file_naming_no_category_is_refused_with_the_term(tmp_path):
    bad = tmp_path / "map.toml"
    bad.write_text('[terms]\n"food banks" = "food bnk"\n')
    with pytest.raises(oruk.CategoryMapError, match="'food banks' maps to 'food bnk'"):
        oruk.load_category_map(bad)
    assert oruk.load_category_map().category_of([{"name": "  FOOD   banks "}]) == "food bank"


def test_records_that_cannot_be_imported_are_reported_with_id_and_field_and_nothing_is_written(store):
    add_school(store)
    report = oruk.import_oruk(store, [FIXTURES / "bad_feed.json"], "S1")
    assert not report.ok and not report.written
    assert [(p.field, p.where) for p in report.problems] == [
        ("name", "bad_feed.json, item 1"),
        ("status", "bad_feed.json, item 2"),
        ("maximum_age", "bad_feed.json, item 3"),
        ("assured_date", "bad_feed.json, item 4"),
        ("organization", "bad_feed.json, item 5"),
    ]
    feed = json.loads((FIXTURES / "bad_feed.json").read_text())
    assert report.problems[1].record_id == feed[1]["id"]
    assert "'closed' is not one of active, inactive, defunct, temporarily closed" in report.format()
    assert partners(store) == {} and services(store) == {} and imports(store) == []


def test_a_file_that_is_not_json_or_not_services_refuses_the_whole_batch(sqlite_store):
    add_school(sqlite_store)
    report = oruk.import_oruk(sqlite_store, [FEED, ("broken.json", b'{"contents": [')], "S1")
    assert not report.ok and "broken.json: is not valid JSON" in report.failures[0]
    report = oruk.import_oruk(sqlite_store, [("other.json", b'{"hello": 1}')], "S1")
    assert "other.json: not Open Referral services" in report.failures[0]
    assert partners(sqlite_store) == {}


def test_the_same_service_twice_is_one_and_twice_with_other_values_is_refused(sqlite_store):
    add_school(sqlite_store)
    feed = json.loads(FEED.read_text())
    twice = json.dumps(feed + feed[:1]).encode()
    assert oruk.import_oruk(sqlite_store, [("twice.json", twice)], "S1", dry_run=True).ok
    other = dict(feed[0], name="Another name")
    report = oruk.import_oruk(sqlite_store, [("clash.json", json.dumps([*feed, other]).encode())], "S1")
    assert not report.ok and report.problems[0].field == "id" and report.problems[0].record_id == feed[0]["id"]


def test_the_official_full_service_example_imports(sqlite_store):
    add_school(sqlite_store)
    report = oruk.import_oruk(
        sqlite_store, [STANDARD / "examples" / "service_full.json"], "S1", default_category="mental health service"
    )
    assert report.ok, report.format()
    partner = partners(sqlite_store)["Example Organization Inc."]
    service = services(sqlite_store)["Community Counselling"]
    assert (service["min_age"], service["max_age"], service["sessions"]) == (12, 100, "Thu 10:00-18:00;Fri 10:00-18:00")
    assert service["delivery"] == "in person;online" and service["cost"] == "£35 per 1 hour session"
    assert partner["last_verified"] == datetime.date(2005, 1, 1) and partner["latitude"] is None  # 100, 101


def test_one_audit_event_per_import(store):
    add_school(store)
    assert oruk.import_oruk(store, [FEED], "S1", actor="cli:head").written
    events = imports(store)
    assert len(events) == 1 and events[0]["actor"] == "cli:head" and events[0]["table_name"] == "partners,services"
    detail = json.loads(events[0]["detail"])
    assert detail["counts"]["services add"] == 10 and detail["left out (no category)"]
    added = json.loads(events[0]["after"])["added"]
    assert len(added["partners"]) == 7 and len(added["services"]) == 10
    first = partners(store)["Kings Norton Library"]
    again = oruk.import_oruk(store, [("again.json", FEED.read_bytes())], "S1")
    assert again.ok and again.written and len(imports(store)) == 2 and again.changes == []
    # Found again: where from and when are recorded, nothing else moves (not even the version).
    kings = partners(store)["Kings Norton Library"]
    assert kings["oruk_source"] == "again.json" and kings["oruk_imported_at"] > first["oruk_imported_at"]
    assert kings["version"] == first["version"]
    changed = oruk.import_oruk(store, [CHANGED], "S1")
    assert changed.written and len(imports(store)) == 3
    before = json.loads(imports(store)[2]["before"])
    assert any(v.get("status") == "active" for v in before["services"].values())  # the closed one's before-image


def test_a_change_by_import_raises_the_version_so_an_open_form_is_refused(sqlite_store):
    add_school(sqlite_store)
    oruk.import_oruk(sqlite_store, [FEED], "S1")
    kings = partners(sqlite_store)["Kings Norton Library"]
    oruk.import_oruk(sqlite_store, [CHANGED], "S1")
    assert partners(sqlite_store)["Kings Norton Library"]["version"] == kings["version"] + 1


def test_a_store_locked_by_someone_else_refuses_the_import_in_words_and_nothing_is_written(sqlite_store, monkeypatch):
    """The directory import goes through the one runner of imports, as files do: a store that
    stays locked past the busy timeout is a refusal in the report (the command's and the Data
    page's words), not an exception, and nothing of the feed is written."""
    import sqlite3

    add_school(sqlite_store)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    importer = open_store(sqlite_store.url)  # its connections take the short wait
    holder = sqlite3.connect(sqlite_store.url.removeprefix("sqlite:///"))
    try:
        holder.execute("BEGIN IMMEDIATE")  # a save in another process holding the write lock
        report = oruk.import_oruk(importer, [FEED], "S1", actor="head")
    finally:
        holder.rollback()
        holder.close()
        importer.dispose()
    assert not report.ok and not report.written
    assert report.failures == ["the database refused the import, so nothing was written: database is locked"]
    assert "database is locked" in report.format()
    assert partners(sqlite_store) == {} and imports(sqlite_store) == []


def test_an_import_that_changes_nothing_takes_no_write_lock(sqlite_store, monkeypatch):
    """The same feed again with nothing to change (every service left out, no partner found
    again) is done once checked: someone else holding the write lock does not refuse it."""
    import sqlite3

    add_school(sqlite_store)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    importer = open_store(sqlite_store.url)
    holder = sqlite3.connect(sqlite_store.url.removeprefix("sqlite:///"))
    try:
        holder.execute("BEGIN IMMEDIATE")
        report = oruk.import_oruk(importer, [FEED], "S1", category_map=oruk.CategoryMap({}, "none"))
    finally:
        holder.rollback()
        holder.close()
        importer.dispose()
    assert report.ok and not report.written and report.changes == [], report.format()
    assert report.unmapped and partners(sqlite_store) == {} and imports(sqlite_store) == []


def test_a_school_placed_by_its_postcode_plans_in_a_store_held_in_memory():
    """The plan reads the school's place (its coordinates, else its postcode's in the gazetteer)
    on its own read: an in-memory store has one connection, and a second read beside it failed."""
    store = open_store("sqlite://")
    with store.write("test") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
        conn.execute(db.gazetteer.insert().values(postcode="B30 2AA", latitude=52.41, longitude=-1.93))
    report = oruk.import_oruk(store, [FEED], "S1", dry_run=True)
    assert report.ok and report.changes, report.format()
    assert report.notes == [] or all("no coordinates" not in n for n in report.notes)


def test_a_directory_write_longer_than_others_wait_is_said(sqlite_store, monkeypatch):
    """As for a file: on SQLite the import holds the write lock while it writes; a write that
    outlasts the busy timeout is said, since someone's save meanwhile was refused."""
    add_school(sqlite_store)
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 0)
    report = oruk.import_oruk(sqlite_store, [FEED], "S1", actor="head")
    assert report.ok and report.written and report.seconds["write"] > 0
    assert "longer than others wait for the store" in report.format()


# ---------------------------------------------------------------- export


def test_the_export_validates_and_gives_the_same_directory_in_another_store(tmp_path, empty_sqlite_file):
    source = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    add_school(source)
    assert oruk.import_oruk(source, [FEED], "S1", default_category="community centre").ok
    # A partner of the school's own, typed in, with a service of its own: it goes out too.
    from engagement.interchange import import_files

    own = import_files(
        source,
        [
            (
                "partners.csv",
                b"partner_id,school_id,name,category,address,postcode,contact_name,contact_email\n"
                b"S1-OWN,S1,Oak Tree Allotments,community garden,Allotment Lane,B30 9ZZ,Sam,sam@oak.example\n",
            ),
            (
                "services.csv",
                b"service_id,partner_id,name,tags,min_age,max_age,cost,languages,delivery,sessions,access,"
                b"eligibility,send_inclusive,status\nS1-OWN-S1,S1-OWN,Family gardening,gardening;outdoors,4,11,"
                b"\xc2\xa32 a family,English;Punjabi,in person,Sat 10:00-12:00,drop-in,families of the school,yes,active\n",
            ),
        ],
        actor="test",
    )
    assert own.ok, own.format()
    oruk.export_oruk(source, tmp_path / "out", "S1")
    records = assert_valid_export(tmp_path / "out")
    assert len(records) == 12

    target = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    add_school(target)
    report = oruk.import_oruk(target, [tmp_path / "out" / "services.json"], "S1")
    assert report.ok and report.unmapped == [], report.format()

    def directory(store):
        keep_p = (
            "name",
            "category",
            "layer",
            "address",
            "postcode",
            "latitude",
            "longitude",
            "contact_email",
            "last_verified",
        )
        keep_s = (
            "name",
            "tags",
            "min_age",
            "max_age",
            "cost",
            "languages",
            "delivery",
            "sessions",
            "access",
            "eligibility",
            "send_inclusive",
            "status",
        )
        ps = partners(store)
        names = {p["partner_id"]: p["name"] for p in ps.values()}
        return (
            {n: {k: p[k] for k in keep_p} for n, p in ps.items()},
            {(names[s["partner_id"]], s["name"]): {k: s[k] for k in keep_s} for s in services(store).values()},
        )

    assert directory(target) == directory(source)
    # What the export leaves out on purpose: contact names (people), and the school's own standing
    # with a partner: in another school's store every organisation is the local offer (or lapsed).
    assert {p["contact_name"] for p in partners(target).values()} == {None}
    assert "Sam" not in (tmp_path / "out" / "services.json").read_text() + "".join(
        f.read_text() for f in (tmp_path / "out" / "services").iterdir()
    )
    assert {p["status"] for p in partners(target).values()} == {"local offer"}
    source.dispose()
    target.dispose()


# ---------------------------------------------------------------- a feed on a local server (tests/oruk_feed.py)


def polite(**options) -> tuple[oruk.FeedClient, list[float]]:
    waits: list[float] = []
    client = oruk.FeedClient(timeout=0.5, retries=2, backoff=0.01, interval=0.0, sleep=waits.append, **options)
    return client, waits


def test_a_feed_is_read_page_by_page_from_its_base_url(feed_server, sqlite_store):
    add_school(sqlite_store)
    client, _ = polite()
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client)
    assert report.ok and report.written, report.format()
    assert feed_server.seen == ["/api/services?page=1", "/api/services?page=2"]
    assert len(partners(sqlite_store)) == 7
    assert partners(sqlite_store)["Kings Norton Library"]["oruk_source"] == feed_server.url


def test_flat_list_items_are_read_again_whole(feed_server, sqlite_store):
    add_school(sqlite_store)
    for page in feed_server.pages.values():
        page["contents"] = [oruk.list_item(r) for r in page["contents"]]
    client, _ = polite()
    assert oruk.import_oruk(sqlite_store, [feed_server.url + "/services"], "S1", client=client).ok
    assert len([s for s in feed_server.seen if "/services/" in s]) == 11
    assert services(sqlite_store)["Stay and Play"]["sessions"] == "Mon 09:30-11:30;Wed 09:30-11:30"


def test_429_with_retry_after_5xx_and_a_slow_page_are_tried_again(feed_server, sqlite_store):
    add_school(sqlite_store)
    feed_server.trouble["/api/services?page=1"] = [(429, {"Retry-After": "3"}, b"slow down", 0), (503, {}, b"", 0)]
    feed_server.trouble["/api/services?page=2"] = [(200, {}, b"{}", 1.5)]  # slower than the timeout
    client, waits = polite()
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client)
    assert report.ok, report.format()
    assert feed_server.seen.count("/api/services?page=1") == 3 and feed_server.seen.count("/api/services?page=2") == 2
    assert waits[0] == 3.0  # the server's Retry-After, honoured
    assert waits[1:] == [0.02, 0.01]  # backoff, doubling: the 503 (second try), the timeout (first try)
    assert len(partners(sqlite_store)) == 7


def test_a_feed_that_keeps_failing_or_sends_bad_json_writes_nothing_and_says_where(feed_server, sqlite_store):
    add_school(sqlite_store)
    feed_server.trouble["/api/services?page=2"] = [(500, {}, b"", 0)] * 3
    client, _ = polite()
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client)
    assert not report.ok and not report.written
    assert report.failures == [
        f"{feed_server.url}/services?page=2&per_page=200: the server has an error: HTTP 500 after 3 tries; "
        "try again later"
    ]
    feed_server.trouble["/api/services?page=2"] = [(200, {}, b'{"contents": [{"id"', 0)]
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client)
    assert "page=2&per_page=200: the answer is not valid JSON" in report.failures[0]
    feed_server.trouble["/api/services?page=1"] = [(200, {}, b'{"items": []}', 0)]
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client)
    assert "page 1: not a /services page" in report.failures[0]
    feed_server.trouble["/api/services?page=1"] = [(404, {}, b"", 0)]
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client)
    assert "the server refused it: HTTP 404" in report.failures[0]
    assert partners(sqlite_store) == {} and imports(sqlite_store) == []


def test_an_answer_bigger_than_a_file_may_be_is_refused_unread(feed_server, sqlite_store):
    add_school(sqlite_store)
    feed_server.trouble["/api/services?page=1"] = [(200, {}, b'{"contents": [' + b" " * 20_000 + b"]}", 0)]
    client, _ = polite(max_answer_mb=0.01)
    report = oruk.import_oruk(sqlite_store, [feed_server.url], "S1", client=client)
    assert report.failures == [
        f"{feed_server.url}/services?page=1&per_page=200: the answer is over 0.01 MB, the limit for one answer "
        "([open_referral] max_answer_mb); ask for smaller pages or save the feed as files"
    ]
    assert partners(sqlite_store) == {}


# ---------------------------------------------------------------- the command line


def test_the_commands_import_export_and_refuse_with_the_exit_codes_of_the_others(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = open_store(db_url)
    add_school(store)
    store.dispose()
    dry = run_cli("import-oruk", str(FEED), "--dry-run", "--db", db_url)
    assert dry.returncode == 0 and "Checked (nothing written)" in dry.stdout and "+ partner" in dry.stdout
    assert "Bingo Nights: Bingo (left out)" in dry.stdout
    done = run_cli("import-oruk", *map(str, PAGES), "--default-category", "business", "--db", db_url)
    assert done.returncode == 0 and "partners: 8 added" in done.stdout, done.stderr
    refused = run_cli("import-oruk", str(FIXTURES / "bad_feed.json"), "--db", db_url)
    assert refused.returncode == 1 and "item 2 (id " in refused.stderr and "status:" in refused.stderr
    assert run_cli("import-oruk", str(FEED), "--school", "NOPE", "--db", db_url).returncode == 2
    wrong = run_cli("import-oruk", str(FEED), "--default-category", "bingo hall", "--db", db_url)
    assert wrong.returncode == 2 and "not a category" in wrong.stderr
    bad_map = tmp_path / "map.toml"
    bad_map.write_text("[terms]\nx = 'nowhere'\n")
    assert run_cli("import-oruk", str(FEED), "--category-map", str(bad_map), "--db", db_url).returncode == 2
    out = run_cli("export-oruk", str(tmp_path / "export"), "--db", db_url)
    assert out.returncode == 0 and "services.json" in out.stdout
    assert len(assert_valid_export(tmp_path / "export")) == 11
    store = open_store(db_url)
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(db.services)).scalar() == 11
    store.dispose()


# ---------------------------------------------------------------- the bench


def test_the_bench_times_a_feed_from_files_and_its_memory(tmp_path, sqlite_store):
    from engagement import bench

    paths = bench.write_oruk_feed(tmp_path, 250, per_page=100)
    assert len(paths) == 3 and json.loads(paths[-1].read_text())["last_page"] is True
    add_school(sqlite_store)
    report = oruk.import_oruk(sqlite_store, paths, "S1", default_category="community centre")
    assert report.ok and report.count("service", "add") == 250, report.format()
    timings = bench.oruk_section(None, services=120)
    assert [t.target for t in timings] == ["< 30 s", "< 30 s", "< 400 MB"]
    assert all(bench.verdict(t) == "ok" for t in timings), [(t.what, t.seconds, t.megabytes) for t in timings]
    assert "120 services" in timings[0].what and timings[2].megabytes is not None


def test_a_write_refused_at_its_commit_is_reported_as_nothing_written(sqlite_store):
    """The write's last step, its commit, refused (a disk full, an I/O error): the report says the
    database refused it and that nothing was written, and nothing of the feed is in the store, though
    every row had gone in before the commit was asked for."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    add_school(sqlite_store)
    importer = open_store(sqlite_store.url)
    asked: list[str] = []

    def refuse(conn) -> None:
        asked.append("commit")
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    event.listen(importer.engine, "commit", refuse)
    try:
        report = oruk.import_oruk(importer, [FEED], "S1", actor="head")
    finally:
        importer.dispose()
    assert asked, "no commit was asked for: the import stopped before its write"
    assert not report.ok and not report.written, report.format()
    assert report.failures == ["the database refused the import, so nothing was written: disk I/O error"]
    assert partners(sqlite_store) == {} and imports(sqlite_store) == []
