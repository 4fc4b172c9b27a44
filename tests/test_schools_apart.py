"""Schools kept apart: in a store holding two schools, an account given school A sees nothing of
school B (its name, reference, families, partners or notes) on any page its role opens, in any
picker, or in an import or export, whatever its role. A bare role (no school list) in a store of
several schools sees no school at all: it fails closed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engagement import access, clock, pages
from engagement import store as db
from engagement.interchange import import_files
from engagement.records import backup_zip

ROOT = Path(__file__).resolve().parent.parent
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "engagement",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:1/.well-known",
}
B_MARKS = ("Zebra", "ZB-", "ZEBRA-URN")


@pytest.fixture(scope="module")
def two_schools(tmp_path_factory, demo_store_file):
    """The demo school (A, a copy of the session's) and a small school B whose every text carries a
    mark to look for."""
    path = tmp_path_factory.mktemp("apart") / "two.db"
    shutil.copyfile(demo_store_file, path)
    store = db.open_store(f"sqlite:///{path}")
    today = clock.today()
    with store.write(actor="test") as conn:
        db.upsert(
            conn,
            "schools",
            [
                {
                    "school_id": "ZEBRA-URN",
                    "name": "Zebra Academy",
                    "postcode": "B29 6AB",
                    "latitude": 52.44,
                    "longitude": -1.94,
                    "demo": False,
                }
            ],
        )
        db.upsert(
            conn,
            "families",
            [
                {
                    "family_id": f"ZB-{i:02d}",
                    "school_id": "ZEBRA-URN",
                    "postcode": "B29 6AB",
                    "pupil_premium": i % 2 == 0,
                }
                for i in range(12)
            ],
        )
        db.upsert(
            conn,
            "partners",
            [
                {
                    "partner_id": "ZB-P1",
                    "school_id": "ZEBRA-URN",
                    "name": "Zebra Youth Club",
                    "category": "youth organisation",
                    "layer": 3,
                    "status": "active",
                    "postcode": "B29 6AB",
                    "latitude": 52.441,
                    "longitude": -1.941,
                }
            ],
        )
        db.upsert(
            conn,
            "interactions",
            [
                {
                    "interaction_id": f"ZB-I{i}",
                    "school_id": "ZEBRA-URN",
                    "date": today,
                    "family_id": f"ZB-{i:02d}",
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                    "notes": "Zebra note",
                    "staff": "Zebra staff",
                }
                for i in range(12)
            ],
        )
    demo_id = next(s for s in db.school_ids(store) if s != "ZEBRA-URN")
    store.dispose()
    return f"sqlite:///{path}", demo_id


def _everything(at: AppTest) -> str:
    """Every element's content, widgets' options and tables' bytes included."""
    out = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


@pytest.mark.parametrize("role", sorted(pages.ROLES))
def test_an_account_of_school_a_sees_nothing_of_school_b_on_any_page(two_schools, monkeypatch, role):
    url, school_a = two_schools
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = {"someone@a.sch.uk": {"role": role, "schools": [school_a]}}
    at.user = {"is_logged_in": True, "email": "someone@a.sch.uk", "email_verified": True}
    opened = 0
    for entry in pages.PAGES:
        if not access.can_open(role, entry.key):
            continue
        at.switch_page(entry.file).run()  # the first straight away, as a visitor opening its address
        assert not at.exception, (entry.key, at.exception)
        text = _everything(at)
        assert "Hollybrook" in text or entry.key == "audit", entry.key  # school A is there...
        leaked = [mark for mark in B_MARKS if mark in text]
        assert not leaked, f"{role} on {entry.key} sees school B: {leaked}"  # ...and nothing of B
        opened += 1
    assert opened == sum(role in p.roles for p in pages.PAGES)


def test_a_bare_role_in_a_store_of_several_schools_sees_no_school(two_schools, monkeypatch):
    url, _ = two_schools
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = {"head@a.sch.uk": "head"}
    at.user = {"is_logged_in": True, "email": "head@a.sch.uk"}
    at.run()
    assert not at.exception
    assert "not given any of the schools" in at.warning[0].value
    text = _everything(at)
    assert not [m for m in (*B_MARKS, "Hollybrook") if m in text.split("not given any")[1]]


def test_a_trust_wide_grant_sees_every_school(two_schools, monkeypatch):
    url, _ = two_schools
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = {"@trust.org.uk": {"role": "governor", "schools": ["*"]}}
    at.user = {"is_logged_in": True, "email": "chair@trust.org.uk"}
    at.run()
    assert not at.exception
    options = at.sidebar.selectbox(key="school_id").options
    assert len(options) == 2 and any("ZEBRA-URN" in o for o in options) and any("Hollybrook" in o for o in options)


def test_imports_and_exports_keep_to_the_accounts_schools(two_schools, tmp_path):
    url, school_a = two_schools
    store = db.open_store(url)
    allowed = access.importable_schools(frozenset({school_a}), db.school_ids(store))
    report = import_files(
        store, [("families.csv", b"family_id,school_id\nZB-99,ZEBRA-URN\n")], dry_run=True, allowed_schools=allowed
    )
    assert not report.ok and "not one of the schools your account may change" in report.errors[0].reason
    assert import_files(
        store,
        [("families.csv", f"family_id,school_id\nA-99,{school_a}\n".encode())],
        dry_run=True,
        allowed_schools=allowed,
    ).ok
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(backup_zip(store, school_id=[school_a]))) as archive:
        exported = " ".join(archive.read(name).decode("utf-8-sig") for name in archive.namelist())
    assert "Hollybrook" in exported and not [m for m in B_MARKS if m in exported]
