"""The living directory in plain tests (the migration of the tags: test_migrations.py): a save from an older version
is refused with who and when, "checked today", stale and the "Due for a check" order, archive and
delete, likely duplicates, one set of rules with the import, services.csv in and out, service
filters and outreach reasons. On SQLite and PostgreSQL where the store matters."""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from engagement import directory as d
from engagement import outreach as o
from engagement import store as db
from engagement.interchange import export_all, import_files
from engagement.partners import partner_directory
from engagement.service_vocabulary import parse_sessions
from engagement.services import import_services, service_fit

TODAY = datetime.date(2026, 11, 23)


def seed(store):
    with store.write("setup") as conn:
        conn.execute(
            db.schools.insert().values(
                school_id="S1", name="Hollybrook", postcode="B30 2QX", latitude=52.43, longitude=-1.92
            )
        )
        blank = {"postcode": None, "latitude": None, "longitude": None, "last_verified": None}
        conn.execute(
            db.partners.insert(),
            [
                {**blank, **row}
                for row in [
                    {
                        "partner_id": "P1",
                        "school_id": "S1",
                        "name": "Stirchley Food Bank",
                        "category": "food bank",
                        "layer": 3,
                        "postcode": "B30 2AA",
                        "latitude": 52.431,
                        "longitude": -1.921,
                        "last_verified": datetime.date(2025, 10, 1),
                    },
                    {
                        "partner_id": "P2",
                        "school_id": "S1",
                        "name": "Oak Library",
                        "category": "library",
                        "layer": 3,
                        "last_verified": datetime.date(2026, 9, 1),
                    },
                    {
                        "partner_id": "P3",
                        "school_id": "S1",
                        "name": "Youth Club",
                        "category": "youth organisation",
                        "layer": 3,
                    },
                ]
            ],
        )
        conn.execute(
            db.services.insert(),
            [
                {
                    "service_id": "P1-S1",
                    "partner_id": "P1",
                    "name": "Food parcels",
                    "tags": "food",
                    "cost": "free",
                    "min_age": None,
                    "max_age": None,
                },
                {
                    "service_id": "P3-S1",
                    "partner_id": "P3",
                    "name": "Youth night",
                    "tags": "youth club",
                    "min_age": 11,
                    "max_age": 18,
                    "cost": None,
                },
            ],
        )
        conn.execute(
            db.families.insert(),
            [
                {"family_id": "F1", "school_id": "S1", "needs": "food", "year_groups": "3"},
                {"family_id": "F2", "school_id": "S1", "needs": "youth club;food", "year_groups": None},
            ],
        )
        conn.execute(
            db.interactions.insert(),
            [
                {
                    "interaction_id": f"I{n}",
                    "school_id": "S1",
                    "date": TODAY - datetime.timedelta(days=n * 10),
                    "partner_id": "P3",
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                }
                for n in range(3)
            ],
        )
        conn.execute(db.gazetteer.insert().values(postcode="B29 6AB", latitude=52.44, longitude=-1.94))
    return store


@pytest.fixture
def seeded(store):
    return seed(store)


# ---------------------------------------------------------------- editing


def test_a_new_partner_is_checked_by_the_import_rules_and_placed_from_the_gazetteer(seeded):
    bad = d.save_partner(
        seeded, "flo@x", "S1", {"name": "", "category": "food bnk", "layer": "7", "since": "31/02/2026"}
    )
    assert set(bad.problems) == {"name", "category", "layer", "since"}
    assert "is not a category of the typology" in bad.problems["category"]
    assert "'31/02/2026' is not a date" in bad.problems["since"]
    done = d.save_partner(
        seeded,
        "flo@x",
        "S1",
        {"name": "Hay Green Scouts", "category": "youth organisation", "postcode": "b29 6ab"},
        online=False,
    )
    assert done.ok and done.partner_id == "S1-P001" and done.version == 1
    assert done.placed == "Placed on the map from the postcode list (B29 6AB)."
    row = partner_directory(seeded, "S1").set_index("partner_id").loc["S1-P001"]
    assert (row["layer"], row["latitude"], row["longitude"], row["status"]) == (3, 52.44, -1.94, "active")
    unplaced = d.save_partner(
        seeded, "flo@x", "S1", {"name": "Corner shop", "category": "business", "postcode": "B1 1ZZ"}, online=False
    )
    assert unplaced.ok and unplaced.placed.startswith("Not placed on the map: postcode B1 1ZZ is not in the gazetteer")
    assert unplaced.not_placed and not done.not_placed  # the page warns of the one, and confirms the other


def test_a_partner_entered_today_is_checked_today_by_whoever_entered_it(seeded):
    from engagement import clock

    before = d.stale_count(seeded, "S1")
    done = d.save_partner(seeded, "flo@x", "S1", {"name": "Hay Green Scouts", "category": "youth organisation"})
    assert done.ok
    row = partner_directory(seeded, "S1").set_index("partner_id").loc[done.partner_id]
    assert (row["last_verified"], row["verified_by"], bool(row["stale"])) == (clock.today(), "flo@x", False)
    assert done.partner_id not in d.due_for_check(seeded, "S1")["partner_id"].tolist()
    assert d.stale_count(seeded, "S1") == (before[0], before[1] + 1)
    # An edit is not a check: a partner's "last checked" moves only when someone says so.
    edited = d.save_partner(seeded, "head@x", "S1", {"notes": "Rang"}, "P1", 1)
    assert edited.ok
    p1 = partner_directory(seeded, "S1").set_index("partner_id").loc["P1"]
    assert (p1["last_verified"], bool(p1["stale"])) == (datetime.date(2025, 10, 1), True)


def test_the_second_of_two_saves_is_refused_with_who_and_when_and_nothing_is_overwritten(seeded):
    first_opened = second_opened = 1  # both people opened version 1
    d.save_partner(seeded, "head@x", "S1", {"notes": "New contact from January"}, "P2", first_opened)
    with pytest.raises(d.VersionConflict) as refused:
        d.save_partner(seeded, "flo@x", "S1", {"notes": "Closed on Mondays"}, "P2", second_opened)
    assert refused.value.who == "head@x" and refused.value.when is not None
    assert str(refused.value).startswith("Not saved: head@x changed this partner at ")
    row = partner_directory(seeded, "S1").set_index("partner_id").loc["P2"]
    assert (row["notes"], row["version"]) == ("New contact from January", 2)
    with seeded.read() as conn:
        audit = conn.execute(select(db.audit_log).where(db.audit_log.c.record_id == "P2")).mappings().all()
    assert [(a["action"], a["actor"], json.loads(a["after"])) for a in audit] == [
        ("update", "head@x", {"notes": "New contact from January", "version": 2})
    ]


def test_an_import_raises_the_version_so_an_edit_begun_before_it_is_refused(seeded):
    text = b"partner_id,name,category\nP2,Oak Library (Cotteridge),library\n"
    report = import_files(seeded, [("partners.csv", text)])
    assert report.ok, report.format()
    with pytest.raises(d.VersionConflict, match="import"):
        d.save_partner(seeded, "flo@x", "S1", {"notes": "x"}, "P2", 1)


def test_checked_today_stale_and_the_due_list_in_order_of_reliance(seeded):
    assert d.stale_count(seeded, "S1", TODAY) == (2, 3)  # P1 checked 14 months ago, P3 never
    due = d.due_for_check(seeded, "S1", TODAY)
    # P3: 3 contacts this year; P1: none, but its food meets the needs of both families.
    assert due[["partner_id", "contacts", "families"]].values.tolist() == [["P3", 3, 1], ["P1", 0, 2]]
    d.verify_partner(seeded, "flo@x", "P1", today=TODAY)
    assert d.due_for_check(seeded, "S1", TODAY)["partner_id"].tolist() == ["P3"]
    row = partner_directory(seeded, "S1", today=TODAY).set_index("partner_id").loc["P1"]
    assert (row["last_verified"], row["verified_by"], bool(row["stale"]), row["version"]) == (TODAY, "flo@x", False, 2)


def test_stale_follows_the_setting(monkeypatch):
    from engagement import partners, settings

    real = settings.load_settings()
    monkeypatch.setattr(
        partners,  # the rule of when a partner is due for a check lives with the partners' directory
        "load_settings",
        lambda: real.model_copy(update={"directory": real.directory.model_copy(update={"stale_after_months": 3})}),
    )
    assert d.is_stale(datetime.date(2026, 8, 22), TODAY) and not d.is_stale(datetime.date(2026, 8, 23), TODAY)


def test_archive_hides_a_partner_everywhere_and_delete_is_for_administrators(seeded):
    d.archive_partner(seeded, "head@x", "P3", today=TODAY)
    assert "P3" not in partner_directory(seeded, "S1")["partner_id"].tolist()
    assert "P3" in partner_directory(seeded, "S1", archived=True)["partner_id"].tolist()
    assert "P3" not in o.load_frames(seeded, "S1", TODAY).partners["partner_id"].tolist()
    d.restore_partner(seeded, "head@x", "P3")
    with pytest.raises(PermissionError):
        d.delete_partner(seeded, "flo@x", "flo", "P3")
    gone = d.delete_partner(seeded, "data@x", "admin", "P3")
    assert gone == {"services": 1, "interactions": 3, "referrals": 0, "family_partners": 0}
    with seeded.read() as conn:
        deleted = conn.execute(select(db.audit_log).where(db.audit_log.c.action == "delete")).mappings().all()
    entry = next(e for e in deleted if e["table_name"] == "partners")
    assert entry["actor"] == "data@x" and json.loads(entry["before"])["name"] == "Youth Club"
    # Each child row went with a copy of itself (issue 26).
    assert sorted(e["table_name"] for e in deleted) == ["interactions"] * 3 + ["partners", "services"]


def test_likely_duplicates_by_name_nearby_or_postcode_and_category(seeded):
    listed = partner_directory(seeded, "S1")
    near = d.likely_duplicates(listed, "Stirchley Foodbank", latitude=52.4312, longitude=-1.9212)
    assert near["partner_id"].tolist() == ["P1"] and near["why"].iloc[0].startswith("a very similar name")
    same_place = d.likely_duplicates(listed, "Community Pantry", postcode="b30 2aa", category="Food bank")
    assert same_place["why"].tolist() == ["the same postcode (B30 2AA) and category"]
    assert d.likely_duplicates(listed, "Stirchley Foodbank", latitude=52.50, longitude=-1.92).empty


# ---------------------------------------------------------------- services


def test_a_services_file_imports_all_or_nothing_and_exports_back_unchanged(seeded, tmp_path):
    text = (
        "service_id,partner_id,name,tags,min_age,max_age,cost,languages,delivery,sessions,access,"
        "send_inclusive\n"
        "P2-S1,P2,Rhyme time,early years;reading,0,4,free,English;Polish,in person,Sat 10:00-11:00,drop-in,yes\n"
        "P2-S2,P2,Homework club,homework,7,11,£1,,In Person;online,wed 15:30-17:00,self-referral,no\n"
    )
    bad = text + "P9-S1,P9,Ghost,x,,,,,,,,\nP2-S3,P2,Late,x,9,5,,,by post,Mon 17:00-09:00,walk in,maybe\n"
    refused = import_services(seeded, [("services.csv", bad.encode())])
    assert {(p.row, p.column) for p in refused.errors} == {
        (5, "delivery"),
        (5, "sessions"),
        (5, "access"),
        (5, "send_inclusive"),
        (5, "max_age"),
    }
    # Partners are looked up once every cell reads right, as for every kind.
    ghost = import_services(seeded, [("services.csv", (text + "P9-S1,P9,Ghost,x,,,,,,,,\n").encode())])
    assert [(p.row, p.column) for p in ghost.errors] == [(4, "partner_id")], ghost.format()
    assert "there is no partner 'P9'" in ghost.errors[0].reason
    assert services_count(seeded) == 2
    done = import_services(seeded, [("services.csv", text.encode())], actor="flo@x")
    assert done.ok and done.counts["services"] == {"inserted": 2, "updated": 0, "unchanged": 0}
    export_all(seeded, tmp_path, school_id="S1")
    rows = {r["service_id"]: r for r in read(tmp_path / "services.csv")}
    assert rows["P2-S2"]["delivery"] == "in person;online" and rows["P2-S2"]["sessions"] == "Wed 15:30-17:00"
    assert rows["P2-S1"]["send_inclusive"] == "yes" and rows["P2-S1"]["max_age"] == "4"
    partners = {r["partner_id"]: r for r in read(tmp_path / "partners.csv")}
    assert partners["P2"]["services"] == "early years;reading;homework"
    again = import_files(seeded, [tmp_path / "partners.csv", tmp_path / "services.csv"])
    assert again.ok and again.counts["services"] == {"inserted": 0, "updated": 0, "unchanged": 4}


def services_count(store) -> int:
    with store.read() as conn:
        return conn.execute(select(sa.func.count()).select_from(db.services)).scalar_one()


def test_a_partners_file_services_column_adds_and_removes_tags_on_its_services(seeded):
    report = import_files(
        seeded,
        [
            (
                "partners.csv",
                b"partner_id,name,category,services\n"
                b"P1,Stirchley Food Bank,food bank,food;clothing\n"
                b"P2,Oak Library,library,reading\n",
            )
        ],
    )
    assert report.ok, report.format()
    tags = partner_directory(seeded, "S1").set_index("partner_id")["services"]
    assert (tags["P1"], tags["P2"]) == ("food;clothing", "reading")


def test_a_service_form_uses_the_same_rules(seeded):
    bad = d.save_service(
        seeded, "flo@x", "P2", {"name": "Club", "min_age": "11", "max_age": "5", "sessions": "Someday 9-10"}
    )
    assert set(bad.problems) == {"sessions"}
    bad = d.save_service(seeded, "flo@x", "P2", {"name": "Club", "min_age": "11", "max_age": "5"})
    assert bad.problems == {"max_age": "the maximum age 5 is below the minimum age 11"}
    done = d.save_service(seeded, "flo@x", "P2", {"name": "Club", "delivery": "Online", "cost": "Free"})
    assert done.ok and done.partner_id == "P2-S1"


def test_sessions_and_how_a_service_fits_a_family():
    assert parse_sessions("Tuesday 9.30-11:00") == [("Tue", "09:30", "11:00")]
    with pytest.raises(ValueError, match="must end after it starts"):
        parse_sessions("Mon 17:00-09:00")
    assert not service_fit({"min_age": 11, "max_age": 18}, {"year_groups": "R;2"}).fits
    assert service_fit({"min_age": 11, "max_age": 18}, {"year_groups": "R;7"}).why == ["ages 11-18 fit Year 7"]


def test_service_filters(seeded):
    listed = partner_directory(seeded, "S1")
    from engagement.services import services_of

    services = services_of(seeded, "S1")
    pick = lambda **kw: d.filter_by_services(listed, services, d.ServiceFilter(**kw))["partner_id"].tolist()  # noqa: E731
    assert pick(free=True) == ["P1"]
    assert pick(age=12) == ["P1", "P3"]  # the food bank has no age limit
    assert pick(age=8, tags=("youth club",)) == []
    assert pick() == ["P1", "P2", "P3"]


def test_outreach_suggests_fitting_services_free_first_for_pupil_premium_with_reasons():
    families = pd.DataFrame(
        [
            {
                "family_id": "F1",
                "postcode": None,
                "needs": "club",
                "year_groups": "4",
                "pupil_premium": True,
                "language": "Polish",
                "preferred_channel": "phone",
            }
        ]
    )
    partners = pd.DataFrame(
        [
            {"partner_id": "A", "name": "Paid club", "category": "sports club", "services": "club", "status": "active"},
            {
                "partner_id": "B",
                "name": "Free club",
                "category": "youth organisation",
                "services": "club",
                "status": "active",
            },
            {
                "partner_id": "C",
                "name": "Teen club",
                "category": "youth organisation",
                "services": "club",
                "status": "active",
            },
        ]
    )
    services = pd.DataFrame(
        [
            {
                "service_id": "A1",
                "partner_id": "A",
                "name": "Saturday club",
                "tags": "club",
                "min_age": 5,
                "max_age": 11,
                "cost": "£3",
                "languages": None,
                "delivery": "in person",
                "status": "active",
            },
            {
                "service_id": "B1",
                "partner_id": "B",
                "name": "After school",
                "tags": "club",
                "min_age": 5,
                "max_age": 11,
                "cost": "free",
                "languages": "English;Polish",
                "delivery": "in person;phone",
                "status": "active",
            },
            {
                "service_id": "C1",
                "partner_id": "C",
                "name": "Teen night",
                "tags": "club",
                "min_age": 13,
                "max_age": 18,
                "cost": "free",
                "languages": None,
                "delivery": "in person",
                "status": "active",
            },
        ]
    )
    frames = o.frames_from_tables("S1", families, partners=partners, services=services, today=TODAY)
    sug = o.partner_suggestions(frames, family_id="F1")
    assert sug["partner_id"].tolist() == ["B", "A"]  # free first; the teen club serves other ages
    assert sug["why"].tolist() == [
        "offers club; ages 5-11 fit Year 4; in Polish; by phone; free",
        "offers club; ages 5-11 fit Year 4",
    ]
    assert "free ones first (pupil premium)" in sug.attrs["basis"]


def read(path: Path) -> list[dict]:
    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def test_a_partner_moves_between_prospective_active_and_lapsed_by_the_import_rules(seeded):
    for status in ("prospective", "lapsed", "active"):
        version = int(partner_directory(seeded, "S1").set_index("partner_id").loc["P2", "version"])
        done = d.save_partner(seeded, "head@x", "S1", {"status": status}, "P2", version)
        assert done.ok and partner_directory(seeded, "S1").set_index("partner_id").loc["P2", "status"] == status
    refused = d.save_partner(seeded, "head@x", "S1", {"status": "retired"}, "P2", done.version)
    assert "is not a partner status" in refused.problems["status"]
