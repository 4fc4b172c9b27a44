"""The Data page with AppTest: it renders on the demo school and on an empty store, offers a template of
each kind and the export, loads the demo school on request. Uploading is hard to drive in AppTest, so
the import itself is the plain engagement call tested in test_import.py; here the page's own wiring is."""

import io
import zipfile
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engagement import contacts, records
from engagement import store as db
from engagement.interchange import import_files

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "data.py"


def open_data_page(monkeypatch, url, demo=True):
    monkeypatch.setenv("DATABASE_URL", url)
    if not demo:
        monkeypatch.setenv("ENGAGEMENT_NO_DEMO", "1")
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def download_labels(at) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def test_renders_on_the_demo_school_with_templates_and_export(demo_copy, monkeypatch):
    at = open_data_page(monkeypatch, demo_copy())
    assert at.title[0].value == "Data"
    assert [h.value for h in at.header] == [
        "Import",
        "School terms",
        "Local authority directory (Open Referral UK)",
        "Templates",
        "Export",
        "Demo school",
    ]
    # One import section per engine of the registry (terms have their own, with the editor).
    assert [h.value for h in at.subheader] == [
        *[e.title for e in records.ENGINES if e.name != "calendar"],
        "Restore a backup",
    ]
    for engine in records.ENGINES:
        if engine.name != "calendar":
            options = at.selectbox(key=f"{engine.name}_import_kind").options
            assert options == ["guess from the file name", *records.kinds_of(engine.name)]
    labels = download_labels(at)
    assert labels[0] == "Export our directory (Open Referral UK, ZIP)" and labels[-1] == "Download the data (ZIP)"
    assert sorted(labels[1:-1]) == sorted(k.file_name for k in records.RECORD_KINDS)  # a template of every kind
    assert any("Demo data" in m.value for m in at.markdown)
    assert not [b for b in at.button if b.key == "load_demo"]  # the demo is already there


def test_empty_store_offers_the_demo_school_and_loads_it(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    at = open_data_page(monkeypatch, url, demo=False)
    assert db.is_empty(db.open_store(url))
    at.button(key="load_demo").click().run()
    assert not at.exception, at.exception
    assert db.has_demo_data(db.open_store(url))
    assert any("Demo data" in m.value for m in at.markdown)


def test_imported_names_show_as_text_and_the_page_still_renders(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = db.open_store(url)
    report = import_files(
        store,
        [
            ("schools.csv", b"school_id,name,postcode\nS1,<img src=x onerror=alert(1)>,B30 2AA\n"),
            ("partners.csv", b'partner_id,name,category\nP1,"=HYPERLINK(""http://x"",""y"")",business\n'),
        ],
        actor="test",
    )
    assert report.ok, report.format()
    at = open_data_page(monkeypatch, url, demo=False)
    assert at.selectbox(key="import_school").options[1] == "<img src=x onerror=alert(1)> (S1)"


def test_the_templates_import_as_they_stand(sqlite_store):
    # The templates are what a school copies: they must pass the same checks as any file, all of
    # them together in one import, as the registry lists them.
    templates = Path(__file__).resolve().parent.parent / "data" / "templates"
    assert sorted(p.name for p in templates.glob("*.csv")) == sorted(k.file_name for k in records.RECORD_KINDS)
    run = records.import_records(sqlite_store, sorted(templates.glob("*.csv")), actor="test")
    assert run.ok, run.format()
    counts = {kind: c for _, report in run.reports for kind, c in report.counts.items()}
    assert {k: counts[k]["inserted"] for k in ("schools", "partners", "services", "families", "interactions")} == {
        "schools": 1,
        "partners": 2,
        "services": 2,
        "families": 2,
        "interactions": 5,
    }
    assert counts["referral_steps"]["steps"] == 2 and counts["plan steps"]["updated"] == 1
    terms = next(report for engine, report in run.reports if engine.name == "calendar")
    assert terms.notes == ["terms: 3 terms and 4 holidays for school 100001 (replacing 0 rows)"]


def test_a_backup_is_restored_from_the_page_into_an_empty_store(demo_copy, tmp_path, monkeypatch):
    source = db.open_store(demo_copy("source.db"))
    backup = records.backup_zip(source)
    source.dispose()
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    at = open_data_page(monkeypatch, url, demo=False)
    at.file_uploader(key="restore_upload").set_value([("backup.zip", backup, "application/zip")]).run()
    at.button(key="restore_go").click().run()
    assert not at.exception, at.exception
    assert any("Restored" in s.value for s in at.success), [e.value for e in at.error]
    again = records.backup_zip(db.open_store(url))
    with zipfile.ZipFile(io.BytesIO(again)) as mine, zipfile.ZipFile(io.BytesIO(backup)) as theirs:
        assert {n: mine.read(n) for n in mine.namelist()} == {n: theirs.read(n) for n in theirs.namelist()}


def test_contacts_dated_after_today_are_listed_for_the_data_lead(tmp_path, monkeypatch):
    """A contact dated after today is refused as new, but one with its interaction_id (a backup, another
    system) is kept as given: the Data page lists it with its reference so the date can be checked, and
    says nothing once no contact is ahead of today."""
    url = f"sqlite:///{tmp_path / 'd.db'}"
    store = db.open_store(url)
    files = [
        ("schools.csv", b"school_id,name,postcode\nS1,Hollybrook,B30 2AA\n"),
        ("families.csv", b"family_id,school_id\nF1,S1\n"),
        (
            "interactions.csv",
            b"interaction_id,school_id,family_id,date,activity,staff\n"
            b"I-PAST,S1,F1,2026-11-02,phone call,FLO\nI-AHEAD,S1,F1,2027-11-20,phone call,<b>FLO</b>\n",
        ),
    ]
    report = import_files(store, files, actor="test")
    assert report.ok, report.format()
    monkeypatch.setenv("ENGAGEMENT_TODAY", "2026-11-25")
    at = open_data_page(monkeypatch, url, demo=False)
    assert at.subheader[-2].value == "Contacts dated after today"  # after the import sections, before restoring
    warnings = [w.value for w in at.warning if "dated after today" in w.value]
    assert warnings == [
        "1 contact is dated after today: each will count from its date as if it had happened. Check the date "
        "with whoever logged it, then correct it in the interactions.csv of an export and import that file back "
        "(a row with its interaction_id replaces the contact stored)."
    ]
    (listed,) = [d.value for d in at.dataframe if list(d.value.columns) == contacts.DATED_AFTER_TODAY_COLUMNS]
    assert listed["interaction_id"].tolist() == ["I-AHEAD"] and listed["family_id"].tolist() == ["F1"]
    assert listed["staff"].tolist() == ["<b>FLO</b>"]  # a table cell: shown as the text it is

    monkeypatch.setenv("ENGAGEMENT_TODAY", "2027-11-20")  # the day has come: nothing is ahead of it
    at = open_data_page(monkeypatch, url, demo=False)
    assert not [w for w in at.warning if "dated after today" in w.value]
    assert not [d for d in at.dataframe if list(d.value.columns) == contacts.DATED_AFTER_TODAY_COLUMNS]
