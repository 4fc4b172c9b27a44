"""The Schools page's benchmark lines (engagement/compare_bench.py): the same queries give the same
figures in DuckDB over the store's rows as in the store. That ``bench`` prints the lines on SQLite,
PostgreSQL and DuckDB is tests/test_bench.py's ``bench --only schools`` (one run of the section for
both; the timings themselves are the benchmark's, never a test's)."""

from __future__ import annotations

from test_compare import TODAY, _fill_more

from engagement import compare
from engagement.compare_bench import duckdb_with, store_tables


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
