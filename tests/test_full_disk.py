"""A full disk (issue 26's chaos test, its third part): ``export DIR`` onto it leaves no half-written
export and says so in one line with exit 1; a SQLite store on it refuses the save that does not fit
in plain words and loses nothing acknowledged before; a read that SQLite can only answer with "disk
I/O error" (it cannot make its write-ahead log's index on a full disk) is said plainly, on the
command line and on a page.

The disk is really full. As root (as CI and this machine run) it is a small tmpfs mounted for the
test and filled to its last byte. Where mounting is not allowed, the command under test runs in a
child process whose largest file size is limited (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored): a
write past the limit then fails half-way with ``EFBIG`` ("File too large") exactly as a write onto
a full disk fails with ``ENOSPC``, the same short write in the same place, so the code's handling
of a cut write is what is tested either way."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from engagement import records
from engagement import store as db

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
DAY = datetime.date(2026, 11, 2)


def _mount_allowed() -> bool:
    return os.geteuid() == 0 and not os.environ.get("ENGAGEMENT_TEST_NO_TMPFS")


@dataclass
class SmallDisk:
    """A folder on a small disk: a tmpfs of ``size`` bytes, or (where nothing can be mounted) a
    folder whose child processes may write no file larger than ``size``."""

    folder: Path
    size: int
    mounted: bool

    def fill(self, limit: int = 16 * 1024) -> None:
        """Take every byte left (a tmpfs); with a file-size limit instead, the child processes may
        write no file past ``limit`` bytes: by default less than SQLite's shared-memory index,
        which a reader then cannot make."""
        if not self.mounted:
            self.size = limit
            return
        with open(self.folder / "filler", "wb", buffering=0) as f:
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 4096)
            with contextlib.suppress(OSError):
                while True:
                    f.write(b"\0")
        assert os.statvfs(self.folder).f_bavail == 0

    def free(self) -> None:
        if self.mounted:
            for filler in self.folder.glob("filler*"):
                filler.unlink()
        else:
            self.size = 64 * 1024 * 1024

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """``python args...`` in a child process on this disk (limited, where it is not a tmpfs)."""

        def limited() -> None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, as ENOSPC, instead of a signal
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.size, self.size))

        return subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=None if self.mounted else limited,
        )


@pytest.fixture
def make_disk(tmp_path) -> Iterator[Callable[[int], SmallDisk]]:
    """Makes a small disk of so many bytes; every one made is unmounted at the end."""
    mounted: list[Path] = []

    def make(size: int) -> SmallDisk:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        if _mount_allowed():
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], check=True)
            mounted.append(folder)
            return SmallDisk(folder, size, True)
        return SmallDisk(folder, size, False)

    yield make
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_an_export_onto_a_full_disk_keeps_the_earlier_export_whole(make_disk, demo_copy):
    """An earlier complete export sits on the disk; the next one does not fit beside it. It is
    refused in one line, exit 1, and the earlier export is as it was, file for file, byte for byte."""
    small_disk = make_disk(4 * 1024 * 1024)  # the demo's export is about 1.8 MB
    out = small_disk.folder / "export"
    store = db.open_store(demo_copy())
    try:
        records.export_records(store, out)  # the earlier export, while there was room
    finally:
        store.dispose()
    before = _digests(out)
    assert "interactions.csv" in before and "families.csv" in before
    # (With a file-size limit: room for the store's own index, none for interactions.csv.)
    small_disk.fill(limit=256 * 1024)
    again = small_disk.run("-m", "engagement", "export", str(out), "--db", demo_copy("second.db"))
    assert again.returncode == 1
    reason = "No space left on device" if small_disk.mounted else "File too large"
    assert again.stderr.strip() == f"Not exported: {reason}." or again.stderr.strip().startswith(
        f"Not exported: {reason}"
    ), again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr
    assert _digests(out) == before  # no cut file, no stray staging folder, nothing of the old one lost


def _writer_script(url: str, notes: int) -> str:
    """A member of staff logging contacts until the store refuses one: each acknowledged save is
    printed as it returns, the refusal in the words the app would show."""
    return f"""
import datetime, sys
from engagement import records
from engagement import store as db
from engagement.contacts import log_interaction
store = db.open_store({url!r})
day = datetime.date(2026, 11, 2)
for n in range(100_000):
    try:
        saved = log_interaction(store, "flo", school_id="S1", date=day, activity="phone call",
                                family_id="F1", notes="n" * {notes}, today=day)
    except Exception as error:
        print("REFUSED", type(error).__name__, db.store_problem(error), flush=True)
        break
    print("ACK", saved, flush=True)
"""


def test_a_sqlite_store_on_a_full_disk_refuses_the_save_plainly_and_loses_nothing(make_disk):
    small_disk = make_disk(1024 * 1024)
    path = small_disk.folder / "store.db"
    store = db.open_store(str(path))
    with store.write(actor="test") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Oak", postcode="B30 2AA", demo=False))
        conn.execute(db.families.insert().values(family_id="F1", school_id="S1"))
    store.dispose()
    if small_disk.mounted:
        # Other files share the disk: removing them is how a data lead makes room again.
        (small_disk.folder / "filler-other").write_bytes(b"\0" * 256 * 1024)
    else:
        small_disk.size = max(p.stat().st_size for p in small_disk.folder.iterdir()) + 256 * 1024
    run = small_disk.run("-c", _writer_script(str(path), notes=3000))
    lines = run.stdout.splitlines()
    acknowledged = [line.split()[1] for line in lines if line.startswith("ACK ")]
    refused = [line for line in lines if line.startswith("REFUSED ")]
    assert run.returncode == 0, run.stderr
    assert len(acknowledged) >= 5, run.stdout  # the disk took some saves before it was full
    assert len(refused) == 1, run.stdout
    assert "the disk holding the store is full" in refused[0], refused[0]
    # Everything acknowledged is there, read while the disk is still full.
    store = db.open_store(str(path))
    try:
        with store.read() as conn:
            stored = set(conn.execute(sa.select(db.interactions.c.interaction_id)).scalars())
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert stored == set(acknowledged)
    finally:
        store.dispose()
    # With room again, the same save goes in.
    small_disk.free()
    again = small_disk.run("-c", _writer_script(str(path), notes=3000).replace("range(100_000)", "range(1)"))
    assert again.stdout.startswith("ACK "), again.stdout + again.stderr


def _store_on_a_full_disk(small_disk: SmallDisk, store_file: Path) -> Path:
    """A closed store (its write-ahead log folded in, its index removed) on the disk, then the disk
    filled: SQLite can open the file but not make the index it reads through."""
    import shutil

    path = small_disk.folder / "app.db"
    shutil.copyfile(store_file, path)
    assert sorted(p.name for p in small_disk.folder.iterdir()) == ["app.db"]
    small_disk.fill()
    return path


def test_a_read_on_a_full_disk_says_the_disk_is_full_in_one_line(make_disk, empty_sqlite_file):
    """Before: "error: the store cannot be used: disk I/O error", which tells a data lead nothing."""
    small_disk = make_disk(1024 * 1024)
    path = _store_on_a_full_disk(small_disk, empty_sqlite_file)
    run = small_disk.run("-m", "engagement", "score", "--json", "--db", str(path))
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stderr.strip().splitlines() == [
        "error: the store cannot be used: the disk holding the store is full or cannot be read "
        "(disk I/O error): free space on it, then try again"
    ]
    # With room again, the store reads as before.
    small_disk.free()
    store = db.open_store(str(path))
    try:
        with store.read() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(db.schools)).scalar_one() == 0
    finally:
        store.dispose()


PAGE_SCRIPT = f"""
import json
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(APP)!r}, default_timeout=120).run()
print(json.dumps({{"exceptions": [str(e.value) for e in at.exception], "errors": [e.value for e in at.error]}}))
"""


def test_a_page_read_on_a_full_disk_says_the_disk_is_full(make_disk, empty_sqlite_file):
    """The app's first page, run by AppTest in a child process on the full disk. Before: "The
    database cannot be used just now", with nothing a data lead could act on."""
    small_disk = make_disk(1024 * 1024)
    path = _store_on_a_full_disk(small_disk, empty_sqlite_file)
    run = small_disk.run("-c", PAGE_SCRIPT, env={"DATABASE_URL": f"sqlite:///{path}", "ENGAGEMENT_NO_DEMO": "1"})
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout.strip().splitlines()[-1])
    assert shown["exceptions"] == []
    assert len(shown["errors"]) == 1, shown
    assert shown["errors"][0].startswith(
        "The store cannot be read just now: the disk holding the store is full or cannot be read (disk I/O error), "
        "so this page could not be shown. Nothing you saved is lost."
    ), shown["errors"][0]
