""" "Today" is injected: engagement.clock is the one place that reads the real calendar, and
``ENGAGEMENT_TODAY`` fixes the day for the app, its pages and its command line (the suite runs on
2026-11-25 unless told otherwise; see tests/conftest.py)."""

from __future__ import annotations

import ast
import datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engagement import clock, demo
from engagement.settings import SettingsError

ROOT = Path(__file__).resolve().parent.parent
# Files that may still read the clock themselves, each with its reason.
EXEMPT = {
    "engagement/clock.py": "the one place that reads the real calendar",
}
READS = {("date", "today"), ("datetime", "today"), ("datetime", "now"), ("datetime", "utcnow"), ("time", "time")}


def clock_reads(path: Path) -> list[str]:
    """Calls such as ``datetime.date.today()``, ``dt.datetime.now(UTC)`` or ``time.time()`` in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.func.attr) in READS:
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_only_the_clock_reads_the_real_date():
    files = [
        ROOT / "app.py",
        *(p for d in ("engagement", "ui", "app_pages", "tests") for p in sorted((ROOT / d).rglob("*.py"))),
    ]
    files += sorted((ROOT / "app_pages").rglob("*.py"))
    checked = [p for p in files if str(p.relative_to(ROOT)) not in EXEMPT]
    assert len(checked) > 60
    assert [read for path in checked for read in clock_reads(path)] == []


def test_the_guard_sees_each_way_of_reading_the_clock(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import datetime, time\nimport datetime as dt\nfrom datetime import date\n"
        "a = datetime.date.today()\nb = dt.datetime.now(dt.UTC)\nc = date.today()\nd = time.time()\n"
        "e = clock.today()\nf = time.perf_counter()\n"
    )
    assert clock_reads(sample) == [
        "sample.py:4 datetime.date.today()",
        "sample.py:5 dt.datetime.now(dt.UTC)",
        "sample.py:6 date.today()",
        "sample.py:7 time.time()",
    ]


def test_the_suite_runs_on_its_fixed_day_unless_told_another():
    assert clock.fixed_today() is not None  # tests/conftest.py set it, or whoever ran the suite did
    assert clock.today() == clock.fixed_today() and clock.now().date() == clock.today()


def test_a_day_that_is_not_a_date_is_refused_with_how_to_write_it(monkeypatch):
    monkeypatch.setenv(clock.TODAY_VARIABLE, "next Tuesday")
    with pytest.raises(SettingsError, match=r"ENGAGEMENT_TODAY: 'next Tuesday' is not a date; write it as 2026-10-31"):
        clock.today()


def test_the_demo_and_a_page_take_the_injected_day(monkeypatch, demo_app_db):
    monkeypatch.setenv(clock.TODAY_VARIABLE, "2027-08-31")
    # The demo's school year is the one that ends on that day: September 2026 to the summer term's end.
    dates = demo.generate("school", seed=1).interactions["date"]
    assert (dates.min(), dates.max()) == (datetime.date(2026, 9, 3), datetime.date(2027, 7, 22))
    at = AppTest.from_file(str(ROOT / "app_pages" / "audit.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.date_input[1].label == "To" and at.date_input[1].value == datetime.date(2027, 8, 31)
    assert at.date_input[0].value == datetime.date(2027, 8, 1)
