"""``python -m engagement bench``: it builds the demo at the chosen scale in a fresh store, times
every section and prints one table in which each timing with a target names it. The suite runs its
quick mode (every section, small sizes, no browser) so that a broken section fails CI; the map
page's browser timing runs a real server and Chromium (a minute): it is left to the command itself."""

from __future__ import annotations

import datetime
import os
import re
import sys

import pytest
from sqlalchemy import select

from engagement import bench, cli, map_bench
from engagement import store as db

TODAY = datetime.date(2026, 11, 23)


# The Schools lines' DuckDB runs on every core (ours counts on several connections on PostgreSQL).
SCHOOLS_THREADS = f"{os.cpu_count() or 1} thread{'s' * ((os.cpu_count() or 1) > 1)}"
# Every line ``bench --quick`` prints, section by section, with the target it names (sizes that
# have no target at the quick mode's small sizes name none).
QUICK_LINES = {
    "generate and write the demo data (once)": "",
    # engagement
    "load from the store, every school": "",
    "load from the store, one school": "",
    "score card, one school": "< 50 ms",
    "explanations, one school": "",
    "score cards, all 1 schools": "",
    "term trends, one school": "",
    "term trends, all 1 schools": "",
    "previous-period comparison, one school": "",
    "family reach, all schools (ours)": "",
    "family reach, all schools (DuckDB SQL, 1 thread)": "ours within 2x",
    # outreach
    "outreach: load one school from the store": "",
    "outreach: rank the worklist": "",
    "outreach: partners near one family": "",
    "outreach: worklist + partner suggestions, one school": "< 300 ms",
    "outreach: printable sheet, 25 families with partners": "",
    # register
    "event register of 80 families, saved": "< 1 s",
    "event register of 400 families, saved": "< 2 s",
    # map, with the page's rerun in a child process (scripts/bench_partner_map.py)
    "map: partners and family sectors of one school": "",
    "map: build and render, one school": "",
    "map: build, 200 partners": "",
    "map: build and render the HTML, 200 partners": "",
    "map page: rerun after a filter change, 200 partners (AppTest)": "",
    "map page: navigation to markers shown (headless Chromium)": "",
    # the Schools page (issue 28): the same SQL on both stores and in DuckDB
    "Schools figures, all 1 schools (SQLite)": "",
    "Schools figures, all 1 schools (PostgreSQL)": "",
    f"Schools figures, same SQL in DuckDB ({SCHOOLS_THREADS}) vs SQLite": "ours within 2x",
    f"Schools figures, same SQL in DuckDB ({SCHOOLS_THREADS}) vs PostgreSQL": "ours within 2x",
    "one school's Overview in a store of 1 (SQLite)": "< 1 s",
    "one school's Overview in a store of 1 (PostgreSQL)": "< 1 s",
    # imports, each database in a child process
    "import 500 interactions, SQLite": "",
    "import 500 interactions, SQLite: write lock held": "< 10 s",
    "import 500 interactions, SQLite: memory the import added": "",
    "import 500 interactions, PostgreSQL": "",
    "import 500 interactions, PostgreSQL: write transaction": "",
    "import 500 interactions, PostgreSQL: memory the import added": "",
    # Open Referral UK
    "import an Open Referral feed of 50 services, SQLite": "",
    "import an Open Referral feed of 50 services, SQLite: again, nothing new": "",
    "import an Open Referral feed of 50 services, SQLite: memory the import added": "",
}
FIGURE = re.compile(r"\d[\d,]*(\.\d+)? (ms|s|MB)")


def table_rows(table: str) -> dict[str, dict[str, str]]:
    """The rows of the bench's table by their first column, cut at the columns report() prints."""
    lines = table.splitlines()
    rule = next(i for i, line in enumerate(lines) if line and set(line) == {"-"})
    width = len(lines[rule]) - 52
    assert lines[rule - 1].split() == ["what", "median", "runs", "target", "note"]
    rows = {}
    for line in lines[rule + 1 :]:
        rows[line[:width].rstrip()] = {
            "figure": line[width + 2 : width + 12].strip(),
            "runs": line[width + 14 : width + 18].strip(),
            "target": line[width + 20 : width + 35].strip(),
            "verdict": line[width + 36 : width + 42].strip(),
            "note": line[width + 43 :],
        }
    return rows


def test_the_quick_benchmark_runs_every_section_and_prints_every_figure(capsys):
    """``bench --quick``, in this process, as CI runs it: every section at small sizes; a change
    that breaks any of them (the map section's KeyError of issue 23) fails here. Only the table's
    shape is checked, never how fast anything was."""
    assert cli.main(["bench", "--quick", "--today", TODAY.isoformat()]) == 0
    table = capsys.readouterr().out
    assert (
        "Benchmark, school scale (quick: small sizes, the figures are no measure): 1 school(s), 420 families" in table
    )
    rows = table_rows(table)
    expected = dict(QUICK_LINES)
    cores = os.cpu_count() or 1
    if cores > 1:  # DuckDB again on every core, after the line for one thread
        at = list(expected).index("family reach, all schools (DuckDB SQL, 1 thread)") + 1
        items = list(expected.items())
        expected = dict([*items[:at], (f"family reach, all schools (DuckDB SQL, {cores} threads)", ""), *items[at:]])
    assert list(rows) == list(expected)
    for what, row in rows.items():
        assert row["target"] == expected[what], what
        if what == "map page: navigation to markers shown (headless Chromium)":
            assert row["figure"] == "-" and row["runs"] == "0" and row["verdict"] == ""
            assert row["note"] == "not measured: the quick mode leaves the browser out"
            continue
        assert FIGURE.fullmatch(row["figure"]), (what, row)
        assert int(row["runs"]) >= 1
        assert row["verdict"] in (("ok", "MISSED") if row["target"] else ("",)), (what, row)
    assert rows["family reach, all schools (DuckDB SQL, 1 thread)"]["note"].startswith("ours / DuckDB = ")
    assert rows["map: partners and family sectors of one school"]["note"] == "120 partners"
    assert rows["map page: rerun after a filter change, 200 partners (AppTest)"]["note"].startswith(
        "rerun with nothing changed "
    )
    for name in ("SQLite", "PostgreSQL"):
        memory = rows[f"import 500 interactions, {name}: memory the import added"]
        assert memory["figure"].endswith(" MB") and "MB before the import" in memory["note"]


def test_the_map_page_timing_runs_on_every_column_the_partners_table_has(tmp_path):
    """The store the map page's timings run on has the demo's partners and synthetic ones, written
    through the table's own columns (a hand-written list of them broke when the table grew)."""
    store_url = map_bench.demo_with_partners(tmp_path / "bench.db", 150)
    store = db.open_store(store_url)
    try:
        with store.read() as conn:
            held = conn.execute(select(db.partners.c.school_id, db.partners.c.partner_id)).all()
    finally:
        store.dispose()
    assert len(held) == 150 and len({school for school, _ in held}) == 1
    assert sum(1 for _, partner in held if partner.startswith("B")) == 30  # the synthetic ones


def test_the_map_build_timing_counts_every_marker():
    result = map_bench.bench_map(300, seed=3)
    assert result["markers"] == 300 and 0 < result["html_bytes"] < map_bench.TARGETS["html_bytes"]
    lines = map_bench.format_results({**result, "rerun_s": 0.5})
    assert "map rerun_s" in lines and "OVER TARGET" in lines  # a miss is said, not hidden
    assert "map build_s" in lines and "(target < 1 s) ok" in lines


def test_each_timing_says_whether_it_met_its_target():
    assert bench.verdict(bench.Timing("card", 0.049, target="< 50 ms")) == "ok"
    assert bench.verdict(bench.Timing("card", 0.051, target="< 50 ms")) == "MISSED"
    assert bench.verdict(bench.Timing("map", 2.9, target="< 3 s")) == "ok"
    assert bench.verdict(bench.Timing("map", float("nan"), target="< 3 s")) == ""
    duck = bench.Timing("reach (DuckDB)", 0.01, target="ours within 2x", note="ours / DuckDB = 2.40")
    assert bench.verdict(duck) == "MISSED"
    assert bench.verdict(bench.Timing("load", 1.0)) == ""


def test_a_timing_that_could_not_be_taken_prints_a_dash():
    assert bench.format_seconds(float("nan")) == "-"
    assert bench.format_seconds(0.0123) == "12.3 ms" and bench.format_seconds(2.5) == "2.50 s"


def test_each_import_line_names_its_target_for_its_size():
    """Issue 13: imports are timed on SQLite and PostgreSQL (the quick benchmark above runs them),
    with the time the write lock was held and the memory the import added, each against its target
    for the file's size."""
    for name, writing, target in (("SQLite", "write lock held", "< 10 s"), ("PostgreSQL", "write transaction", "")):
        whole, lock, memory = bench.import_timings(20_000, name, 2.0, {"write": 0.5}, 100.0, 130.0, 2.1)
        assert (whole.what, lock.what, memory.what) == (
            f"import 20,000 interactions, {name}",
            f"import 20,000 interactions, {name}: {writing}",
            f"import 20,000 interactions, {name}: memory the import added",
        )
        assert whole.target == "< 3 s" and lock.target == target and memory.target == "< 50 MB"
        assert lock.seconds == 0.5 and memory.megabytes == 30.0 and bench.verdict(memory) == "ok"
        assert memory.note == "peak 130 MB, 100 MB before the import"
    whole, lock, memory = bench.import_timings(100_000, "SQLite", 12.0, {"write": 3.0}, 100.0, 400.0, 10.4)
    assert (whole.target, memory.target) == ("< 10 s", "< 150 MB")
    assert bench.verdict(whole) == "MISSED" and bench.verdict(memory) == "MISSED"


def test_a_memory_figure_meets_its_target_or_not():
    assert bench.verdict(bench.Timing("peak", float("nan"), target="< 250 MB", megabytes=120)) == "ok"
    assert bench.verdict(bench.Timing("peak", float("nan"), target="< 1,500 MB", megabytes=1_600)) == "MISSED"
    assert bench.format_value(bench.Timing("peak", float("nan"), megabytes=1234.4)) == "1,234 MB"


def test_a_child_that_dies_without_an_answer_fails_the_bench_at_once():
    """The import and Open Referral lines run in a child process; one that dies (killed, out of
    memory) used to leave the bench waiting an hour for its answer."""
    import multiprocessing

    from engagement.bench_timing import child_result

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=os._exit, args=(3,))
    child.start()
    child.join()
    try:
        child_result(child, results)
    except RuntimeError as error:
        assert "exit code 3" in str(error)
    else:
        raise AssertionError("a dead child's missing answer was not noticed")


def test_an_answer_put_just_before_the_child_ended_is_still_read():
    import multiprocessing

    from engagement.bench_timing import child_result

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=results.put, args=(("seconds", 1.5),))
    child.start()
    child.join()
    assert child_result(child, results) == ("seconds", 1.5)


def test_only_runs_the_sections_asked_for(capsys):
    """``bench --only schools`` times the Schools page's figures alone (an authority's run without
    the import and map sections), each line on SQLite, on PostgreSQL and in DuckDB with a figure
    taken; a misspelt section is refused, naming the real ones."""
    assert cli.main(["bench", "--quick", "--only", "schoolz"]) == 2
    error = capsys.readouterr().err
    assert "'schoolz'" in error and "schools" in error and "oruk" in error
    assert bench.section_names() == ["engagement", "outreach", "register", "map", "schools", "import", "oruk"]
    assert cli.main(["bench", "--quick", "--only", "schools", "--today", "2026-11-23"]) == 0
    printed = capsys.readouterr().out
    assert "import 2" not in printed and "score card, one school" not in printed
    rows = table_rows(printed)
    schools = [what for what in QUICK_LINES if "Schools figures" in what or "Overview in a store" in what]
    assert list(rows) == ["generate and write the demo data (once)", *schools]
    for what in schools:
        assert FIGURE.fullmatch(rows[what]["figure"]), (what, rows[what])
        assert float(rows[what]["figure"].split()[0].replace(",", "")) > 0, what
    assert rows[f"Schools figures, same SQL in DuckDB ({SCHOOLS_THREADS}) vs SQLite"]["note"].startswith(
        "ours / DuckDB = "
    )


def _says_whether_streamlit_is_loaded(results) -> None:
    results.put("streamlit" in sys.modules)


@pytest.fixture
def an_apptest_has_run():
    """This process as an earlier test may leave it: a Streamlit script run by AppTest, which makes
    that script the process's ``__main__`` (tests/conftest.py puts the real one back)."""
    from streamlit.testing.v1 import AppTest

    assert not AppTest.from_string("import streamlit as st\nst.write('a page')").run().exception
    assert sys.modules["__main__"].st.__name__ == "streamlit"  # the script's own namespace is __main__


def test_a_child_the_bench_spawns_after_an_apptest_run_does_not_run_the_script(an_apptest_has_run):
    """A spawned child runs its parent's ``__main__`` file first: with an AppTest's script left
    there, every bench child (and every officer of test_import_concurrency.py) ran the app, Streamlit
    and all, before its own work, a second or two each."""
    import multiprocessing

    from engagement.bench_timing import child_result

    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(target=_says_whether_streamlit_is_loaded, args=(results,))
    child.start()
    child.join()
    assert child_result(child, results) is False
