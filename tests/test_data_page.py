"""The Data page with AppTest: it renders on the demo school and on an empty store, offers a template of
each kind and the export, loads the demo school on request. Uploading is hard to drive in AppTest, so
the import itself is the plain engagement call tested in test_import.py; here the page's own wiring is."""

import io
import zipfile
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engagement import records
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
