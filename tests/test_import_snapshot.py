"""Every file import reads one snapshot of a file (issue 26): its bytes are read once, the checks and
the parse read those bytes, and the checksum the audit records is theirs. A file that changes
while it is being read (a MIS export still being written, a folder still syncing) is refused with
a plain message, never imported half as it was and half as it became.

The change is made deterministically: the test's ``open`` hands the importer a file that grows
at the moment the importer reaches its end, or closes it (no sleeps, no second process)."""

from __future__ import annotations

import builtins
import hashlib
import json

import pytest
import sqlalchemy as sa

from engagement import records
from engagement import store as db
from engagement.interchange import import_files

FAMILIES = b"family_id,school_id\nF01,S1\nF02,S1\n"
MORE = b"F03,S1\nF04,S1\n"


def seed(store) -> None:
    with store.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2QX"))


def families(store) -> list[str]:
    with store.read() as conn:
        return sorted(conn.execute(sa.select(db.families.c.family_id)).scalars())


class _Growing:
    """A file object that appends ``MORE`` to its file once: when it is first read to its end
    (``at="end"``), or when it is first closed (``at="close"``)."""

    done = False

    def __init__(self, handle, path, at: str):
        self._handle, self._path, self._at = handle, path, at

    def _grow(self) -> None:
        if not _Growing.done:
            _Growing.done = True
            with real_open(self._path, "ab") as f:
                f.write(MORE)

    def read(self, *args):
        data = self._handle.read(*args)
        if not data and self._at == "end":
            self._grow()
        return data

    def close(self):
        self._handle.close()
        if self._at == "close":
            self._grow()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __iter__(self):
        return iter(self._handle)

    def __getattr__(self, name):
        return getattr(self._handle, name)


real_open = builtins.open


@pytest.fixture
def grows(monkeypatch, tmp_path):
    """A path to families.csv, and a switch: grow it at the importer's first end of file or close."""
    path = tmp_path / "families.csv"
    path.write_bytes(FAMILIES)
    _Growing.done = False

    def arm(at: str):
        def hooked(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            if str(file) == str(path) and "b" in mode and "r" in mode:
                return _Growing(handle, path, at)
            return handle

        monkeypatch.setattr(builtins, "open", hooked)

    return path, arm


def test_a_file_that_grows_while_it_is_read_is_refused_and_nothing_is_written(store, grows):
    seed(store)
    path, arm = grows
    arm("end")
    report = import_files(store, [path], actor="test")
    assert _Growing.done
    assert not report.ok
    (problem,) = report.errors
    assert problem.file == "families.csv" and "changed while it was being read" in problem.reason
    assert families(store) == []


def test_a_file_that_grows_after_it_was_read_is_imported_as_read_with_that_checksum(store, grows):
    seed(store)
    path, arm = grows
    arm("close")
    report = import_files(store, [path], actor="test")
    assert _Growing.done and path.read_bytes() == FAMILIES + MORE  # it did grow, after the read
    assert report.ok, report.format()
    assert families(store) == ["F01", "F02"]  # the rows read, not the rows added since
    with store.read() as conn:
        detail = conn.execute(sa.select(db.audit_log.c.detail).where(db.audit_log.c.action == "import")).scalar_one()
    (file,) = json.loads(detail)["files"]
    assert file == {"name": "families.csv", "sha256": hashlib.sha256(FAMILIES).hexdigest(), "bytes": len(FAMILIES)}


def test_every_engine_reads_the_snapshot(sqlite_store, tmp_path, monkeypatch):
    # The terms engine (rows of text) too: a terms file growing as it is read is refused.
    seed(sqlite_store)
    path = tmp_path / "terms.csv"
    path.write_bytes(b"kind,name,start,end\nterm,Autumn 2026,2026-09-03,2026-12-18\n")
    _Growing.done = False

    def hooked(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        return _Growing(handle, path, "end") if str(file) == str(path) and "rb" in mode else handle

    monkeypatch.setattr(builtins, "open", hooked)
    run = records.import_records(sqlite_store, [path], actor="test")
    assert not run.ok
    assert "changed while it was being read" in run.format()
    with sqlite_store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.terms)).scalar_one() == 0


def test_a_large_files_snapshot_is_a_private_copy_removed_after_the_import(store, grows, monkeypatch, tmp_path):
    # Above the size held in memory, the snapshot is a temporary file of the import's own.
    import gc
    import tempfile

    from engagement.imports import reading

    seed(store)
    path, arm = grows
    monkeypatch.setattr(reading, "_IN_MEMORY", 10)
    monkeypatch.setattr(reading, "_BLOCK", 8)
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    made: list[str] = []
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        made.append(name)
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    arm("close")
    report = import_files(store, [path], actor="test")
    assert report.ok, report.format()
    assert families(store) == ["F01", "F02"]
    assert len(made) == 1 and made[0].startswith(str(spill))
    gc.collect()
    assert list(spill.iterdir()) == []
