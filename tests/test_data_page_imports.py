"""The Data page's import sections (ui.imports.check_then_import) with AppTest: a file is checked
whole first, its problems listed by file, row, column and reason with nothing written; a valid one
says what it would do and is written only on the click, audited under the signed-in name. AppTest
has no file uploader, so the section is run as the page runs it, with the uploaded bytes given."""

from __future__ import annotations

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from engagement import store as db


def section(url: str, name: str, text: str, which: str) -> None:
    from engagement import interchange, week_files
    from engagement import store as db
    from ui.imports import check_then_import

    importer = {"main": interchange.import_files, "week": week_files.import_week_files}[which]
    store = db.open_store(url)
    check_then_import(store, importer, [(name, text.encode())], {}, key="t", button="Import")


def run(url: str, name: str, text: str, which: str = "main") -> AppTest:
    at = AppTest.from_function(section, args=(url, name, text, which), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def count(url: str, table) -> int:
    store = db.open_store(url)
    try:
        with store.read() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()
    finally:
        store.dispose()


def test_a_bad_file_lists_each_problem_and_writes_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    at = run(url, "schools.csv", "school_id,name,postcode\nS1,,B30 2AA\nS2,Elm,\n")
    assert at.error[0].value.startswith("Nothing can be imported yet: 2 problems to fix.")
    problems = at.dataframe[0].value
    assert problems[["file", "row", "column"]].values.tolist() == [
        ["schools.csv", 2, "name"],
        ["schools.csv", 3, "postcode"],
    ]
    assert not [b for b in at.button if b.key == "t_go"]  # no way to import a file with problems
    assert count(url, db.schools) == 0


def test_a_valid_file_says_what_it_would_do_and_is_written_only_on_the_click(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    at = run(url, "schools.csv", "school_id,name,postcode\nS1,<img src=x onerror=alert(1)>,B30 2AA\n")
    # Shown as text: markdown's escapes aside, the words are the report's.
    assert at.success[0].value.replace("\\", "") == "Every row is valid. schools: 1 to add, 0 to update, 0 unchanged"
    assert "<img" not in at.success[0].value
    assert count(url, db.schools) == 0
    at.button(key="t_go").click().run()
    assert at.success[-1].value.replace("\\", "") == "Imported. schools: 1 new, 0 updated, 0 unchanged"
    assert count(url, db.schools) == 1
    store = db.open_store(url)
    try:
        with store.read() as conn:
            actor = conn.execute(select(db.audit_log.c.actor).order_by(db.audit_log.c.id.desc())).scalars().first()
    finally:
        store.dispose()
    assert actor == "local admin"


def test_the_weeks_files_are_checked_the_same_way(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    run(url, "schools.csv", "school_id,name,postcode\nS1,Hollybrook,B30 2AA\n").button(key="t_go").click().run()
    at = run(
        url,
        "events.csv",
        'event_id,date,activity,family_id,notes\nE1,2026-09-14,coffee morning,F1,"Mum upset\n',
        "week",
    )
    assert at.error[0].value.startswith("Nothing can be imported yet: 1 problem to fix.")
    assert at.dataframe[0].value[["file", "row"]].values.tolist() == [["events.csv", 2]], at.dataframe[0].value.to_dict(
        "records"
    )
    assert count(url, db.events) == 0
