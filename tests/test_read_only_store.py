"""A read-only copy of a store (issue 26): the reading commands and every page read it, each page
with a banner saying nothing can be saved; a save or an import is refused in words. Before, it
could not even be read ("unable to open database file": SQLite tried to switch on its log).

The copy is really read-only: as root (who may write any file whatever its permissions) it sits on
a read-only mount, otherwise its permissions forbid writing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from engagement import clock
from engagement import store as db
from tests.cli_inprocess import run_cli

APP = Path(__file__).resolve().parent.parent / "app.py"


@pytest.fixture
def read_only_copy(tmp_path, demo_store_file):
    folder = tmp_path / "read-only"
    folder.mkdir()
    root = os.geteuid() == 0
    if root:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], check=True)
    shutil.copyfile(demo_store_file, folder / "app.db")
    if root:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        (folder / "app.db").chmod(0o444)
        folder.chmod(0o555)
    with pytest.raises(OSError):
        os.open(folder / "app.db", os.O_RDWR)  # what the tests rely on
    yield folder / "app.db"
    if root:
        subprocess.run(["umount", "-l", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def test_the_reading_commands_read_a_read_only_copy_and_a_write_is_refused_in_words(read_only_copy, tmp_path):
    store = db.open_store(str(read_only_copy))
    try:
        assert store.read_only
        with store.read() as conn:
            assert conn.execute(select(func.count()).select_from(db.schools)).scalar_one() == 1
    finally:
        store.dispose()
    score = run_cli("score", "--db", str(read_only_copy), "--json")
    assert score.returncode == 0, score.stderr
    assert '"families"' in score.stdout
    exported = run_cli("export", str(tmp_path / "out"), "--db", str(read_only_copy))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out" / "families.csv").exists()
    school = (tmp_path / "out" / "schools.csv").read_text().splitlines()[1].split(",")[0]
    (tmp_path / "families.csv").write_text(f"family_id,school_id\nF-NEW,{school}\n")
    refused = run_cli("import", str(tmp_path / "families.csv"), "--db", str(read_only_copy))
    assert refused.returncode == 1
    assert "readonly" in refused.stderr or "read-only" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr


def test_pages_read_a_read_only_copy_with_a_banner_and_a_save_says_not_saved(read_only_copy, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{read_only_copy}")
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception, at.exception
    assert any("This store is read-only here" in w.value for w in at.warning)
    at.switch_page("app_pages/week.py").run()
    assert not at.exception
    assert any("This store is read-only here" in w.value for w in at.warning)
    at.date_input(key="week_event_date").set_value(clock.today())
    families = at.multiselect(key="week_event_families")
    families.set_value(families.options[:2])
    at.button(key="FormSubmitter:week_register-Save register").click().run()
    assert not at.exception
    told = [e.value.replace("\\", "") for e in at.error]
    assert told and told[0].startswith("Not saved: the store is read-only here"), told
