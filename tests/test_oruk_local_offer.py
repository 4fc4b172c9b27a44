"""The local offer, brought in safely (issue 25), on SQLite and PostgreSQL: a food-bank directory
of 42 services across the United Kingdom imported into a Birmingham school moves none of its
scores, puts no partner on the "due for a check" list, leaves out (and counts) the far-away
services, is on the map as a layer of its own and in outreach suggestions, and one click takes a
food bank on as a partner. A re-import closes only its own feed's services; ids that look like
paths write nothing outside the export folder; the export says the school's statuses truthfully
and names no one."""

from __future__ import annotations

import datetime
import io
import json
import uuid
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from engagement import openreferral as oruk
from engagement import store as db
from engagement.directory import due_for_check, stale_count, verify_partner
from engagement.frames import load_school_frames
from engagement.maps import build_map
from engagement.openreferral.local_offer import take_on
from engagement.outreach import partner_suggestions
from engagement.partners import partner_directory
from engagement.scoring import score_card
from tests import oruk_feed, test_migrations
from tests.cli_inprocess import run_cli
from tests.test_migrations import _step

feed_server = oruk_feed.feed_server  # the local feed (a fixture), its host allowed
bare_engine = test_migrations.bare_engine  # a database with no tables yet (a fixture)

TODAY = datetime.date(2026, 11, 20)
TERM = (datetime.date(2026, 9, 1), datetime.date(2026, 12, 19))
LAST_TERM = (datetime.date(2026, 4, 13), datetime.date(2026, 7, 22))
SCHOOL = (52.4200, -1.9300)  # Hollybrook, Birmingham
NS = uuid.UUID("0f9b4c62-5bd1-4f3e-9d7c-1c2b3a4d5e6f")
NEAR = [(52.43 + 0.01 * (i % 5), -1.95 + 0.012 * (i // 5), f"Birmingham {i}") for i in range(17)]
FAR = [
    (55.86, -4.25, "Glasgow"),
    (55.95, -3.19, "Edinburgh"),
    (57.15, -2.09, "Aberdeen"),
    (54.60, -5.93, "Belfast"),
    (54.99, -7.31, "Derry"),
    (51.48, -3.18, "Cardiff"),
    (51.51, -0.13, "London"),
    (53.48, -2.24, "Manchester"),
    (53.80, -1.55, "Leeds"),
    (50.37, -4.14, "Plymouth"),
] * 3
FAR = FAR[:25]


def food_bank(i: int, lat: float, lon: float, town: str, status: str = "active") -> dict:
    return {
        "id": str(uuid.uuid5(NS, f"service {i}")),
        "name": "Emergency food parcels",
        "status": status,
        "assured_date": "2025-01-10",  # long ago: a school's own partner would be due for a check
        "organization": {"id": str(uuid.uuid5(NS, f"org {i}")), "name": f"{town} Food Bank"},
        "service_at_locations": [
            {
                "location": {
                    "id": str(uuid.uuid5(NS, f"place {i}")),
                    "name": town,
                    "latitude": lat,
                    "longitude": lon,
                    "addresses": [{"address_1": "1 High Street", "city": town, "postal_code": "B30 2AA"}],
                }
            }
        ],
        "contacts": [{"id": str(uuid.uuid5(NS, f"contact {i}")), "name": f"Volunteer {i}"}],
        "attributes": [{"taxonomy_term": {"name": "Food banks", "taxonomy": "esd"}}],
    }


FOOD_BANKS = [food_bank(i, *place) for i, place in enumerate(NEAR + FAR)]


def as_file(records: list[dict], name: str = "food_banks.json") -> tuple[str, bytes]:
    return name, json.dumps(records).encode()


def school(store) -> None:
    """Hollybrook: 12 families (six of them need food), an active community centre it works with,
    an active food bank it has not met this term, and contacts this term and last."""
    with store.write("test") as conn:
        conn.execute(
            db.schools.insert().values(
                school_id="S1", name="Hollybrook", postcode="B30 2AA", latitude=SCHOOL[0], longitude=SCHOOL[1]
            )
        )
        conn.execute(
            db.families.insert(),
            [
                {"family_id": f"F{i:02d}", "school_id": "S1", "needs": "Food banks" if i < 6 else None}
                for i in range(12)
            ],
        )
        conn.execute(
            db.partners.insert(),
            [
                {
                    "partner_id": "S1-OWN1",
                    "school_id": "S1",
                    "name": "Oak Community Centre",
                    "category": "community centre",
                    "layer": 3,
                    "status": "active",
                    "latitude": 52.421,
                    "longitude": -1.931,
                    "last_verified": datetime.date(2026, 10, 1),
                },
                {
                    "partner_id": "S1-OWN2",
                    "school_id": "S1",
                    "name": "Cotteridge Pantry",
                    "category": "food bank",
                    "layer": 3,
                    "status": "active",
                    "latitude": 52.415,
                    "longitude": -1.925,
                    "last_verified": datetime.date(2026, 10, 1),
                },
            ],
        )
        conn.execute(
            db.interactions.insert(),
            [
                {
                    "interaction_id": f"I{n}",
                    "school_id": "S1",
                    "date": day,
                    "family_id": family,
                    "partner_id": partner,
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                }
                for n, (day, family, partner) in enumerate(
                    [
                        (datetime.date(2026, 9, 10), "F01", None),
                        (datetime.date(2026, 10, 2), "F02", "S1-OWN1"),
                        (datetime.date(2026, 5, 5), "F03", "S1-OWN2"),
                        (datetime.date(2026, 6, 9), None, "S1-OWN1"),
                    ]
                )
            ],
        )


def cards(store) -> list[dict]:
    frames = load_school_frames(store, "S1")
    return [score_card(frames, "S1", *window) for window in (TERM, LAST_TERM)]


def partner_rows(store) -> dict[str, dict]:
    with store.read() as conn:
        return {r["name"]: dict(r) for r in conn.execute(select(db.partners)).mappings()}


def test_the_food_bank_feed_moves_no_score_and_puts_no_one_on_the_due_list(store):
    school(store)
    before, due_before, count_before = cards(store), due_for_check(store, "S1", TODAY), stale_count(store, "S1", TODAY)
    dry = oruk.import_oruk(store, [as_file(FOOD_BANKS)], "S1", dry_run=True)
    assert dry.ok and dry.count("partner", "add") == 17
    far_line = "25 services farther than 15 km from the school left out (119.7 to 526 km away"
    assert far_line in dry.format()  # the dry run says how many and how far, before anything is written

    report = oruk.import_oruk(store, [as_file(FOOD_BANKS)], "S1", actor="data lead")
    assert report.ok and report.written, report.format()
    assert far_line in report.format() and len(report.far) == 25
    found = partner_rows(store)
    brought = {n: p for n, p in found.items() if p["oruk_organisation_id"]}
    assert len(brought) == 17 and {p["status"] for p in brought.values()} == {"local offer"}
    assert not any(town in n for n in found for _, _, town in FAR)  # no food bank in Glasgow or Belfast
    # None of the scores moved, this term's or last term's.
    assert cards(store) == before
    # Nobody new is due for a check (their assured date is old), and the Overview's count is the same.
    assert list(due_for_check(store, "S1", TODAY)["partner_id"]) == list(due_before["partner_id"])
    assert stale_count(store, "S1", TODAY) == count_before
    assert not partner_directory(store, "S1", today=TODAY).set_index("status").loc["local offer", "stale"].any()
    # The audit event counts the services left out for their distance.
    with store.read() as conn:
        detail = json.loads(
            conn.execute(select(db.audit_log.c.detail).where(db.audit_log.c.action == "import")).scalar_one()
        )
    assert detail["left out (farther than 15 km)"] == 25


def test_max_km_is_a_setting_and_an_option(store, tmp_path):
    school(store)
    assert oruk.import_oruk(store, [as_file(FOOD_BANKS)], "S1", dry_run=True, max_km=0).count("partner", "add") == 42
    # Manchester (twice) is 119.7 km away: within 130 km, Leeds and the rest are not.
    assert oruk.import_oruk(store, [as_file(FOOD_BANKS)], "S1", dry_run=True, max_km=130).count("partner", "add") == 19


def test_the_local_offer_is_suggested_and_mapped_apart_and_one_click_takes_it_on(store):
    school(store)
    assert oruk.import_oruk(store, [as_file(FOOD_BANKS)], "S1").ok
    # Outreach: a family that needs food is offered the food banks of the local offer too.
    suggested = partner_suggestions(store, "S1", "F01", radius_km=50, today=TODAY)
    local = {p["partner_id"] for p in partner_rows(store).values() if p["status"] == "local offer"}
    assert len(local) == 17 and local <= set(suggested["partner_id"])
    # The map: the local offer is a layer of its own, which the layer control switches on and off.
    placed = partner_directory(store, "S1", today=TODAY).assign(
        segment="community", engaged=False, interactions=0, last_contact=None
    )
    parts = build_map(
        {"name": "Hollybrook", "latitude": SCHOOL[0], "longitude": SCHOOL[1]},
        placed,
        settings={"tiles_url": ""},
        legend=False,
    )
    names = [g.layer_name for g in parts.groups]
    assert "Local offer: the authority&#x27;s directory, not yet partners (17)" in names
    assert "Layer 3: Linked organisations (2)" in names  # the school's own partners only
    # One click (audited) takes a food bank on; from then on it counts.
    listed = cards(store)[0]["community"]["listed"]
    chosen = partner_rows(store)["Birmingham 3 Food Bank"]
    done = take_on(store, "flo1", "S1", chosen["partner_id"], "active", chosen["version"])
    assert not done.problems, done.problems
    assert partner_rows(store)["Birmingham 3 Food Bank"]["status"] == "active"
    with store.read() as conn:
        audit = (
            conn.execute(
                select(db.audit_log).where(db.audit_log.c.record_id == chosen["partner_id"]).order_by(db.audit_log.c.id)
            )
            .mappings()
            .all()
        )
    assert audit[-1]["actor"] == "flo1" and "local offer" in audit[-1]["before"] and "active" in audit[-1]["after"]
    assert cards(store)[0]["community"]["listed"] == listed + 1
    # A second click on the same (now active) partner is refused: it is no longer the local offer.
    again = take_on(store, "flo1", "S1", chosen["partner_id"], "prospective", chosen["version"] + 1)
    assert again.problems == {"status": "is active, not the local offer"}
    # A re-import keeps the school's choice.
    assert oruk.import_oruk(store, [as_file(FOOD_BANKS)], "S1").ok
    assert partner_rows(store)["Birmingham 3 Food Bank"]["status"] == "active"


def test_a_re_import_closes_only_the_services_of_its_own_source(store, feed_server):
    school(store)
    client = oruk.FeedClient(retries=0, interval=0.0)
    assert oruk.import_oruk(store, [feed_server.url], "S1", client=client, max_km=0).ok  # by URL
    with store.read() as conn:
        imported = set(conn.execute(select(db.services.c.oruk_id)).scalars())
    # Another directory, as a file, listing none of them: it adds its own and closes nothing of the feed's.
    other = oruk.import_oruk(store, [as_file(FOOD_BANKS[:1], "hub.json")], "S1")
    assert other.ok and other.count("service", "close") == 0 and other.count("service", "add") == 1
    # The feed again, without its second page: it closes its own page-2 services, not the file's.
    page1 = {**feed_server.pages[1], "last_page": True, "total_pages": 1}
    feed_server.trouble["/api/services?page=1"] = [(200, {}, json.dumps(page1).encode(), 0)]
    again = oruk.import_oruk(store, [feed_server.url], "S1", client=client, max_km=0)
    closed = {c.oruk_id for c in again.changes if c.action == "close" and c.kind == "service"}
    page2 = {r["id"] for r in feed_server.pages[2]["contents"]}
    open_page2 = {r["id"] for r in feed_server.pages[2]["contents"] if r["status"] in ("active", "temporarily closed")}
    assert closed and closed == open_page2 & imported and closed <= page2 and FOOD_BANKS[0]["id"] not in closed


def test_ids_that_look_like_paths_write_nothing_outside_the_export_folder(store, tmp_path):
    school(store)
    odd = [dict(FOOD_BANKS[i], id=bad) for i, bad in enumerate(["../../x", "a/b", "..", "/etc/passwd"])]
    assert oruk.import_oruk(store, [as_file(odd)], "S1").ok
    out = tmp_path / "deep" / "export"
    out.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*") if p.is_file()}
    paths = oruk.export_oruk(store, out, "S1")
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - before
    assert written == set(paths) and all(p.resolve().is_relative_to(out.resolve()) for p in written)
    assert len(list((out / "services").iterdir())) == 4  # the four odd ids, each a file of the folder
    # Each record is in the file its id maps to, and the export reads back as the same directory.
    for bad in ("../../x", "a/b", "..", "/etc/passwd"):
        assert json.loads((out / "services" / f"{oruk.file_stem(bad)}.json").read_text())["id"] == bad
    again = oruk.import_oruk(store, [out / "services.json"], "S1")
    assert again.ok and [c for c in again.changes if c.action != "keep"] == [], again.format()
    # The ZIP of the Data page too: every name inside it is a plain file name of the folder.
    with zipfile.ZipFile(io.BytesIO(oruk.export_zip(store, "S1"))) as archive:
        names = archive.namelist()
    assert len(names) == 5 and all(n == "services.json" or Path(n).parent == Path("services") for n in names)
    assert not any(".." in n or n.startswith("/") for n in names)


def test_the_export_says_each_status_truthfully_and_names_no_one(store, tmp_path):
    school(store)
    feed = [FOOD_BANKS[0], FOOD_BANKS[1], food_bank(2, *NEAR[2], status="inactive")]
    assert oruk.import_oruk(store, [as_file(feed)], "S1").ok
    with store.write("test") as conn:
        p = db.partners
        conn.execute(p.update().where(p.c.partner_id == "S1-OWN1").values(status="prospective"))
        conn.execute(p.update().where(p.c.partner_id == "S1-OWN2").values(status="lapsed", contact_name="Jo Bloggs"))
        conn.execute(
            db.services.insert(),
            [
                {"service_id": "S1-OWN1-S1", "partner_id": "S1-OWN1", "name": "Coffee morning", "status": "active"},
                {"service_id": "S1-OWN2-S1", "partner_id": "S1-OWN2", "name": "Pantry", "status": "active"},
            ],
        )
    verify_partner(store, "flo1@hollybrook.example", "S1-OWN2")
    oruk.export_oruk(store, tmp_path / "out", "S1")
    text = "".join(f.read_text() for f in (tmp_path / "out" / "services").iterdir())
    records = {r["name"] + " / " + r["organization"]["name"]: r for r in map(json.loads, _files(tmp_path / "out"))}
    statuses = {k: r["status"] for k, r in records.items()}
    assert statuses == {
        "Coffee morning / Oak Community Centre": "inactive",  # prospective: not the school's service yet
        "Pantry / Cotteridge Pantry": "inactive",  # lapsed
        "Emergency food parcels / Birmingham 0 Food Bank": "active",  # local offer, active in its source
        "Emergency food parcels / Birmingham 1 Food Bank": "active",
        "Emergency food parcels / Birmingham 2 Food Bank": "inactive",  # closed in its source
    }
    for name in ("Jo Bloggs", "Volunteer", "flo1"):
        assert name not in text


def _files(folder: Path) -> list[str]:
    return [p.read_text() for p in sorted((folder / "services").iterdir())]


def test_the_migration_to_the_local_offer_loses_nothing_up_down_and_up(bare_engine):
    """0009 widens the partner status check without rebuilding ``partners`` (on SQLite a rebuild
    deletes every contact with a partner by cascade); its downgrade keeps every row."""
    _step(bare_engine, "0008")
    insert = (
        "INSERT INTO partners (partner_id, school_id, name, category, layer, status, version) "
        "VALUES (:p, 'S1', :p, 'food bank', 3, :s, 1)"
    )
    with bare_engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO schools (school_id, name, postcode, demo) VALUES ('S1', 'Oak', 'B30 2AA', false)")
        )
        conn.execute(sa.text(insert), {"p": "P1", "s": "active"})
        conn.execute(
            sa.text(
                "INSERT INTO interactions (interaction_id, school_id, date, partner_id, activity, channel, two_way, "
                "direction) VALUES ('I1', 'S1', '2026-09-14', 'P1', 'meeting', 'in person', true, 'to family')"
            )
        )
        # Feed addresses kept before with who and a password (issue 24): the migration removes those.
        secret = "https://ann:hunter2@la.example/api?api_key=s3cr3t"
        conn.execute(sa.text("UPDATE partners SET oruk_source = :s WHERE partner_id = 'P1'"), {"s": secret})
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, action, table_name, detail) "
                "VALUES ('2026-09-14 10:00:00', 'head', 'import', 'partners', :d)"
            ),
            {"d": json.dumps({"standard": "Open Referral UK 3.0", "sources": secret})},
        )
    with pytest.raises(sa.exc.IntegrityError), bare_engine.begin() as conn:
        conn.execute(sa.text(insert), {"p": "P2", "s": "local offer"})
    _step(bare_engine, "head")
    with bare_engine.connect() as conn:
        kept = [
            conn.execute(sa.text("SELECT oruk_source FROM partners WHERE partner_id = 'P1'")).scalar(),
            conn.execute(sa.text("SELECT detail FROM audit_log")).scalar(),
        ]
    assert kept[0] == "https://la.example/api?api_key=REDACTED" and "https://la.example/api?api_key=REDACTED" in kept[1]
    assert not any(word in text for text in kept for word in ("ann", "hunter2", "s3cr3t"))
    # On the connections the migration used too: none keeps checking the old constraint.
    with bare_engine.begin() as conn:
        conn.execute(sa.text(insert), {"p": "P2", "s": "local offer"})
    with pytest.raises(sa.exc.IntegrityError), bare_engine.begin() as conn:
        conn.execute(sa.text(insert), {"p": "P3", "s": "bogus"})
    _step(bare_engine, "0008", down=True)
    with bare_engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT partner_id, status FROM partners")).all()) == {
            "P1": "active",
            "P2": "lapsed",
        }
        assert conn.execute(sa.text("SELECT count(*) FROM interactions")).scalar() == 1
    _step(bare_engine, "head")
    with bare_engine.begin() as conn:
        conn.execute(sa.text("UPDATE partners SET status = 'local offer' WHERE partner_id = 'P2'"))
        assert conn.execute(sa.text("SELECT count(*) FROM interactions")).scalar() == 1


def test_the_command_line_leaves_far_services_out_and_says_so(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = db.open_store(db_url)
    school(store)
    store.dispose()
    feed = tmp_path / "food_banks.json"
    feed.write_text(json.dumps(FOOD_BANKS))
    dry = run_cli("import-oruk", str(feed), "--dry-run", "--db", db_url)
    assert dry.returncode == 0 and "partners: 17 to add" in dry.stdout
    assert "25 services farther than 15 km from the school left out (119.7 to 526 km away" in dry.stdout
    everything = run_cli("import-oruk", str(feed), "--dry-run", "--max-km", "0", "--db", db_url)
    assert everything.returncode == 0 and "partners: 42 to add" in everything.stdout
    assert "farther than" not in everything.stdout
    wrong = run_cli("import-oruk", str(feed), "--max-km", "-1", "--db", db_url)
    assert wrong.returncode == 2 and "--max-km must be 0 (no limit) or more" in wrong.stderr
