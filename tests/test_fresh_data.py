"""Fresh data: a change written by another process (the command line, a second app server) shows
on the next run of a page, on SQLite and on PostgreSQL. Page caches are keyed on the store's
version (its newest audit entry), which every writer moves, whichever process it runs in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from streamlit.testing.v1 import AppTest

from engagement import store as db
from engagement.demo import load_demo

ROOT = Path(__file__).resolve().parent.parent


def _families_on_roll(at: AppTest) -> int:
    for caption in at.caption:
        found = re.search(r"of ([\d,]+) families", caption.value)
        if found:
            return int(found.group(1).replace(",", ""))
    raise AssertionError([c.value for c in at.caption])


def test_an_import_by_another_process_shows_on_the_next_page_run(store, tmp_path, monkeypatch):
    load_demo(store, actor="test")
    school_id = db.school_ids(store)[0]
    monkeypatch.setenv("DATABASE_URL", store.url)
    page = AppTest.from_file(str(ROOT / "app_pages" / "overview.py"), default_timeout=60).run()
    assert not page.exception
    before = _families_on_roll(page)

    new = tmp_path / "families.csv"
    new.write_text("family_id,school_id,postcode\n" + "".join(f"NEW-{i:03d},{school_id},B30 2AA\n" for i in range(12)))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "engagement", "import", str(new), "--db", store.url],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    page.run()
    assert not page.exception
    assert _families_on_roll(page) == before + 12
