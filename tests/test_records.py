"""The registry of record kinds: a whole store out and back in, file for file, on both databases;
the backup ZIP the Data page offers is the same files; and guards derived from the store's tables,
so that a new table cannot be left out of the export, the backup or a family's erasure."""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest
import sqlalchemy as sa

from engagement import records
from engagement import store as db
from engagement.cli import main
from engagement.demo import load_demo
from engagement.privacy import erase_family


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory, demo_store_file):
    """The demo school's whole export (every file with rows), made once for the module. The demo is
    the suite's (built for the suite's day, which a restore must not find in the future: built for
    a fixed 25 November, the restores failed on 31 October), copied, not generated again."""
    folder = tmp_path_factory.mktemp("demo-export")
    shutil.copyfile(demo_store_file, folder / "demo.db")
    store = db.open_store(f"sqlite:///{folder / 'demo.db'}")
    try:
        # The demo follows the default terms; a school's own terms travel too.
        school = db.list_schools(store)[0]["school_id"]
        own = b"kind,name,start,end\nterm,Autumn 2026,2026-09-03,2026-12-18\nholiday,Half-term,2026-10-26,2026-10-30\n"
        assert records.import_records(store, [("terms.csv", own)], school_id=school).ok
        paths = records.export_records(store, folder / "out")
        backup = records.backup_zip(store)
    finally:
        store.dispose()
    return {p.name: p.read_bytes() for p in paths}, backup


def test_the_demo_exports_every_kind_of_record(demo_export):
    files, _ = demo_export
    assert list(files) == [k.file_name for k in records.RECORD_KINDS]  # each kind, in the registry's order
    steps = files["transition_steps.csv"].decode("utf-8-sig").splitlines()
    assert steps[0] == "transition_id,step,title,owner,due,done,done_on,done_by"
    assert sum(",yes," in line for line in steps) > 0  # plan progress travels
    history = files["referral_steps.csv"].decode("utf-8-sig").splitlines()
    assert history[0] == "referral_id,status,date,note,staff"
    referrals = files["referrals.csv"].decode("utf-8-sig").splitlines()
    assert len(history) > len(referrals)  # more steps than referrals: whole histories, not the last status


def test_the_backup_zip_holds_exactly_what_export_writes(demo_export):
    files, backup = demo_export
    with zipfile.ZipFile(io.BytesIO(backup)) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == files


def test_a_backup_restored_into_an_empty_store_exports_again_identical(store, demo_export, tmp_path):
    files, backup = demo_export
    run = records.import_records(store, [("backup.zip", backup)], actor="restore")
    assert run.ok, run.format()
    again = {p.name: p.read_bytes() for p in records.export_records(store, tmp_path / "again")}
    assert list(again) == list(files)
    for name in files:
        assert again[name] == files[name], name


def test_restoring_with_one_import_command(sqlite_store, demo_export, tmp_path):
    _, backup = demo_export
    (tmp_path / "backup.zip").write_bytes(backup)
    url = str(sqlite_store.engine.url)
    assert main(["import", str(tmp_path / "backup.zip"), "--db", url]) == 0
    with sqlite_store.read() as conn:
        done = conn.execute(sa.select(sa.func.count()).where(db.transition_steps.c.done)).scalar_one()
    assert done > 0


def test_a_referrals_history_is_replaced_by_its_steps_file(sqlite_store, demo_export):
    files, _ = demo_export
    first = [f for f in ("schools", "partners", "families", "referrals")]
    run = records.import_records(sqlite_store, [(f"{k}.csv", files[f"{k}.csv"]) for k in first])
    assert run.ok, run.format()
    lines = files["referral_steps.csv"].decode("utf-8-sig").splitlines()
    one = lines[1].split(",")[0]
    mine = [lines[0], *(line for line in lines[1:] if line.split(",")[0] == one)]
    run = records.import_records(sqlite_store, [("referral_steps.csv", "\r\n".join(mine).encode())])
    assert run.ok, run.format()
    with sqlite_store.read() as conn:
        stored = conn.execute(
            sa.select(db.referral_steps.c.status).where(db.referral_steps.c.referral_id == one)
        ).scalars()
        assert list(stored) == [line.split(",")[1] for line in mine[1:]]


def test_a_step_of_an_unknown_transition_is_refused_with_row_and_column(sqlite_store):
    data = b"transition_id,step,done\nT-none,meeting,yes\n"
    run = records.import_records(sqlite_store, [("transition_steps.csv", data)])
    assert not run.ok
    (problem,) = run.reports[0][1].errors
    assert (problem.row, problem.column) == (2, "transition_id")
    assert "no transition" in problem.reason


def test_a_zip_that_would_unpack_past_the_limit_is_refused_unopened(sqlite_store):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("families.csv", b"family_id\n" + b"F\n" * 60_000_000)
    run = records.import_records(sqlite_store, [("bomb.zip", buffer.getvalue())])
    assert not run.ok
    assert "refused unopened" in run.format()


def test_a_zip_member_cannot_name_a_path_outside():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../etc/families.csv", "family_id\nF1\n")
    assert [name for name, _ in records.expand([("x.zip", buffer.getvalue())])] == ["families.csv"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("family_partners.csv", "family_partners"),
        ("2026 referral_steps.xlsx", "referral_steps"),
        ("referrals-oct.csv", "referrals"),
        ("transition_steps.csv", "transition_steps"),
        ("transitions.csv", "transitions"),
        ("terms.csv", "terms"),
        ("2026-partners-export.xlsx", "partners"),
    ],
)
def test_a_files_kind_is_told_from_its_name(name, kind):
    assert records.kind_of_file(name) == kind


# ---------------------------------------------------------------- guards derived from the store's tables


def test_every_table_is_carried_by_a_kind_or_named_as_not_exported():
    carried, exempt = records.tables_carried(), set(records.NOT_EXPORTED)
    assert not carried & exempt
    assert set(db.metadata.tables) == carried | exempt, "a new table needs a record kind, or a reason"


def test_every_kind_has_a_template_with_its_columns():
    for kind in records.RECORD_KINDS:
        assert kind.template.exists(), kind.name


def test_every_kind_is_a_choice_of_the_command_line():
    from engagement.cli import build_parser

    import_command = build_parser()._subparsers._group_actions[0].choices["import"]  # type: ignore[union-attr]
    (kind_option,) = [a for a in import_command._actions if a.dest == "kind"]
    assert list(kind_option.choices) == records.kind_names()


def _references_to_families(table: sa.Table, seen: frozenset[str] = frozenset()) -> bool:
    """Whether rows of ``table`` belong to a family: a foreign key to families, directly or through
    another table's."""
    for fk in table.foreign_keys:
        parent = fk.column.table
        if parent.name == "families" or (
            parent.name not in seen and _references_to_families(parent, seen | {table.name})
        ):
            return True
    return False


def test_erasing_a_family_leaves_no_row_of_it_in_any_table(sqlite_store, demo_export):
    _, backup = demo_export
    assert records.import_records(sqlite_store, [("backup.zip", backup)]).ok
    family_tables = [t for t in db.metadata.sorted_tables if _references_to_families(t)]
    assert {"interactions", "referrals", "referral_steps", "transition_steps", "survey_responses"} <= {
        t.name for t in family_tables
    }
    with sqlite_store.read() as conn:
        busiest = conn.execute(
            sa.select(db.referrals.c.family_id)
            .join(db.transitions, db.transitions.c.family_id == db.referrals.c.family_id)
            .limit(1)
        ).scalar_one()
    erase_family(sqlite_store, busiest, actor="dpo")
    with sqlite_store.read() as conn:
        for table in family_tables:
            # A row is the family's if following its foreign keys leads to the family.
            query = sa.select(sa.func.count()).select_from(table)
            path, current = [], table
            while "family_id" not in current.c:
                fk = next(fk for fk in current.foreign_keys if _references_to_families(fk.column.table))
                path.append(fk)
                current = fk.column.table
            for fk in path:
                query = query.join(fk.column.table, fk.parent == fk.column)
            left = conn.execute(query.where(current.c.family_id == busiest)).scalar_one()
            assert left == 0, table.name


def test_the_audit_log_is_filtered_by_every_table_of_the_registry(sqlite_store, demo_export):
    from engagement.privacy import audit_entries

    _, backup = demo_export
    assert records.import_records(sqlite_store, [("backup.zip", backup)], actor="restore").ok
    for table in records.audited_tables():
        if table == "event_contacts":
            continue  # a register's links are audited as its event's import (events.csv)
        found = audit_entries(sqlite_store, table_name=table, actor="restore")
        assert len(found), table
        assert all(table in str(t).split(",") for t in found["table_name"]), table


def test_clearing_the_demo_leaves_no_row_of_it_in_any_table(sqlite_store):
    load_demo(sqlite_store, actor="first start")
    with sqlite_store.read() as conn:
        filled = {
            t.name
            for t in db.metadata.sorted_tables
            if conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        }
    assert records.tables_carried() - {"terms"} <= filled  # the demo fills every kind but terms
    # Foreign keys off: what goes must go by the clear itself, not by a cascade of the database.
    sa.event.listen(sqlite_store.engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA foreign_keys = OFF"))
    sqlite_store.engine.dispose()
    db.clear_demo_data(sqlite_store, actor="head")
    with sqlite_store.read() as conn:
        left = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables
            if t.name not in records.NOT_EXPORTED
        }
    assert not any(left.values()), left


def test_an_export_onto_a_full_disk_says_so_and_leaves_the_folder_as_it_was(tmp_path, demo_copy):
    """Issue 26: `export` onto a full disk printed a 15-line traceback and left a cut interactions.csv
    beside complete files. Root (as CI is) fills a real 1 MB tmpfs; otherwise the disk is said full by
    the exporter of the largest file, after it has written part of it."""
    import errno
    import os
    import subprocess

    from tests.cli_inprocess import run_cli

    folder = tmp_path / "small"
    folder.mkdir()
    mounted = os.geteuid() == 0
    if mounted:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], check=True)
    try:
        (folder / "last-week.txt").write_text("kept")
        if not mounted:
            records_engine = records.ENGINE["records"]

            def fills_the_disk(store, directory, school_id):
                (directory / "interactions.csv").write_text("interaction_id,da")
                raise OSError(errno.ENOSPC, "No space left on device")

            original = records.ENGINES
            records.ENGINES = (records.Engine(**{**vars(records_engine), "exporter": fills_the_disk}), *original[1:])
        try:
            run = run_cli("export", str(folder), "--db", demo_copy())
        finally:
            if not mounted:
                records.ENGINES = original
        assert run.returncode == 1
        assert run.stderr.strip().startswith("Not exported: No space left on device")
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
        assert sorted(p.name for p in folder.iterdir()) == ["last-week.txt"]  # no cut file, no stray folder
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=True)


def test_an_export_into_the_folder_of_an_earlier_one_leaves_no_file_of_a_kind_now_empty(sqlite_store, tmp_path):
    school = b"school_id,name,postcode\nS1,Oak,B30 2AA\n"
    terms = b"kind,name,start,end\nterm,Autumn 2026,2026-09-03,2026-12-18\n"
    assert records.import_records(sqlite_store, [("schools.csv", school), ("terms.csv", terms)]).ok
    first = records.export_records(sqlite_store, tmp_path / "out")
    assert [p.name for p in first] == ["schools.csv", "terms.csv"]
    with sqlite_store.write("head") as conn:
        conn.execute(db.terms.delete())
    (tmp_path / "out" / "notes.txt").write_text("the school's own")
    again = records.export_records(sqlite_store, tmp_path / "out")
    assert [p.name for p in again] == ["schools.csv"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["notes.txt", "schools.csv"]
