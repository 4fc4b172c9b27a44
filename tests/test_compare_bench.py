"""The Schools page's benchmark lines (engagement/compare_bench.py): the same queries give the same
figures in DuckDB over the store's rows as in the store, and ``bench`` prints the lines on SQLite,
PostgreSQL and DuckDB (the timings themselves are the benchmark's, never a test's)."""

from __future__ import annotations

import datetime
import math
import os

from test_compare import TODAY, _fill_more

from engagement import bench, compare
from engagement.compare_bench import duckdb_with, store_tables

# DuckDB runs on every core, as our count runs the window and its comparison window at once.
THREADS = f"{os.cpu_count() or 1} thread{'s' * ((os.cpu_count() or 1) > 1)}"


def test_duckdb_runs_the_same_queries_to_the_same_figures(store):
    _fill_more(store)
    windows = compare.school_windows(store, today=TODAY)
    con = duckdb_with(store_tables(store))
    try:
        run = compare.duckdb_runner(con)
        in_duckdb = compare.cards(store, windows, run=run, more=True)
        partners = compare.partner_contacts(store, windows, run)
    finally:
        con.close()
    assert in_duckdb == compare.cards(store, windows, more=True)
    assert in_duckdb["A1"]["families"]["reach"] is not None
    assert in_duckdb["A1"]["communication"]["early"] is not None and in_duckdb["A1"]["referrals"]["open"] == 9
    mine = compare.partner_contacts(store, windows)
    assert partners[["partner_id", "contacts"]].values.tolist() == mine[["partner_id", "contacts"]].values.tolist()


def test_the_benchmark_prints_the_schools_lines():
    printed: list[str] = []
    results = bench.run_bench(
        "school", repeats=1, today=datetime.date(2026, 11, 23), echo=printed.append, sections=[bench.schools_section]
    )
    by_name = {t.what: t for t in results}
    for what in (
        "Schools figures, all 1 schools (SQLite)",
        "Schools figures, all 1 schools (PostgreSQL)",
        f"Schools figures, same SQL in DuckDB ({THREADS}) vs SQLite",
        f"Schools figures, same SQL in DuckDB ({THREADS}) vs PostgreSQL",
        "one school's Overview in a store of 1 (SQLite)",
        "one school's Overview in a store of 1 (PostgreSQL)",
    ):
        assert math.isfinite(by_name[what].seconds) and by_name[what].seconds > 0, what
        assert what in printed[-1]
    assert "ours / DuckDB = " in printed[-1]
