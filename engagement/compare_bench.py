"""The Schools page's benchmark lines (``python -m engagement bench``, section ``schools``): every
school's figures of the Schools page (scores and their change, reach, equity, shared partners,
neighbours) counted in the database, on SQLite and on PostgreSQL, against the very same queries in
DuckDB over the same rows (on as many threads as the machine has cores: on PostgreSQL ours counts
the window and its comparison window at the same time, on connections of their own); and one school's Overview
read out of a store holding all of them.

PostgreSQL gets the demo's rows by ``COPY`` into a schema of its own (dropped afterwards), so the
two stores hold the same rows; DuckDB gets them as tables of the same names and columns.
"""

from __future__ import annotations

import os

import pandas as pd
import sqlalchemy as sa

from engagement import compare
from engagement import store as db
from engagement.bench_timing import DEFAULT_POSTGRES, Bench, Timing, median_seconds, postgres_schema

# The columns the Schools figures read, per table (what DuckDB and the PostgreSQL copy hold).
COLUMNS = {
    "schools": ["school_id", "name", "postcode", "latitude", "longitude", "demo"],
    "partners": [*compare.PARTNER_COLUMNS, "archived_on"],
    "families": [
        "family_id",
        "school_id",
        "postcode",
        "pupil_premium",
        "send",
        "eal",
        "looked_after",
        "young_carer",
        "joined",
        "year_groups",
    ],
    "interactions": [
        "interaction_id",
        "school_id",
        "date",
        "family_id",
        "partner_id",
        "activity",
        "channel",
        "two_way",
        "direction",
    ],
    "transitions": ["transition_id", "school_id", "family_id", "kind", "direction", "date", "send"],
    "transition_steps": ["step_id", "transition_id", "step", "title", "due", "done"],
    "referrals": ["referral_id", "school_id", "family_id", "partner_id", "date", "status", "status_date"],
}
# In the order they refer to each other (what COPY fills first).
TABLES = tuple(COLUMNS)
# Dates, flags and numbers as DuckDB is to hold them (pandas gives it objects and text).
_CASTS = {
    **dict.fromkeys(("date", "archived_on", "joined", "due", "status_date"), "DATE"),
    **dict.fromkeys(
        ("two_way", "demo", "send", "done", "pupil_premium", "eal", "looked_after", "young_carer"), "BOOLEAN"
    ),
    "layer": "INTEGER",
    **dict.fromkeys(("latitude", "longitude"), "DOUBLE"),
    **dict.fromkeys(("oruk_organisation_id", "postcode", "partner_id", "family_id", "year_groups"), "VARCHAR"),
}


def _shaped(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the columns :data:`COLUMNS` names (missing ones empty)."""
    out = frame.reindex(columns=COLUMNS[name])
    if name == "interactions":
        out["direction"] = out["direction"].fillna("to family")
    for column in ("date", "joined", "due", "status_date"):
        if column in out:
            out[column] = pd.to_datetime(out[column]).dt.date
    if name == "schools":
        out["demo"] = out["demo"].fillna(True).astype(bool)
    return out


def store_tables(store) -> dict[str, pd.DataFrame]:
    """The tables the Schools figures read (:data:`TABLES`), as they are in ``store`` (their columns
    of :data:`COLUMNS`)."""
    with store.read() as conn:
        return {
            name: pd.DataFrame(
                db.tuples(conn.execute(sa.select(*[db.TABLES[name].c[c] for c in COLUMNS[name]]))),
                columns=COLUMNS[name],
            )
            for name in TABLES
        }


def duckdb_with(tables: dict[str, pd.DataFrame], threads: int = 1):
    """A DuckDB connection holding ``tables`` (:data:`TABLES`) under the store's table names, dates
    as DATE and flags as BOOLEAN, so the store's queries run unchanged."""
    import duckdb

    con = duckdb.connect(config={"threads": threads})
    for name in TABLES:
        frame = _shaped(name, tables[name]) if name in tables else pd.DataFrame(columns=COLUMNS[name])
        con.register("incoming", frame)
        columns = ", ".join(f"CAST({c} AS {_CASTS[c]}) AS {c}" if c in _CASTS else c for c in COLUMNS[name])
        con.execute(f"CREATE TABLE {name} AS SELECT {columns} FROM incoming")
        con.unregister("incoming")
    return con


def copy_to_postgres(store: db.Store, tables: dict[str, pd.DataFrame], chunk: int = 500_000) -> None:
    """Write ``tables`` into the (empty, migrated) PostgreSQL ``store`` with ``COPY``, then VACUUM
    ANALYZE (as autovacuum leaves a store that has settled: index-only scans need the visibility
    map it writes)."""
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name in [n for n in TABLES if n in tables]:
            frame = _shaped(name, tables[name])
            for begin in range(0, len(frame), chunk):
                text = frame.iloc[begin : begin + chunk].to_csv(index=False, header=False)
                with cursor.copy(f"COPY {name} ({', '.join(COLUMNS[name])}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(text)
        raw.commit()
    finally:
        raw.close()
    # VACUUM runs outside a transaction.
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {', '.join(n for n in TABLES if n in tables)}")


def schools_figures(store: db.Store, windows, run=None) -> dict:
    """What the Schools page counts for every school (its figures, their change, shared partners and
    neighbours), with the queries run in the store or by ``run``: the unit the benchmark times."""
    partners, now, before = compare.now_and_before(store, windows, True, run)
    shared = compare.shared_partners(partners)
    neighbours = compare.neighbours_have(windows, partners)
    return {"now": now, "before": before, "shared": shared, "neighbours": len(neighbours)}


def _overview(store: db.Store, school_id: str, start, end, today):
    """One school's Overview as its page reads it: its frames, calendar and messages from the store."""
    from engagement.calendar import load_calendar
    from engagement.communication import load_messages
    from engagement.frames import load_school_frames
    from engagement.overview import overview

    return overview(
        load_school_frames(store, school_id),
        school_id,
        start,
        end,
        today=today,
        calendar=load_calendar(store, school_id),
        messages=load_messages(store, school_id),
        for_governor=True,
    )


def schools_section(bench: Bench) -> list[Timing]:
    n = max(1, bench.repeats // 2)
    authority = bench.scale == "authority"
    # The store as the sections before this one left it (the register and import sections add
    # rows), so DuckDB counts the very rows the store does.
    tables = store_tables(bench.store)
    windows = compare.school_windows(bench.store, today=bench.today)
    count = len(windows)
    first = windows[0]
    out: list[Timing] = []

    t_sqlite, ours = median_seconds(lambda: schools_figures(bench.store, windows), n)
    out.append(Timing(f"Schools figures, all {count} schools (SQLite)", t_sqlite, n, "< 5 s" if authority else ""))

    threads = os.cpu_count() or 1
    con = duckdb_with(tables, threads=threads)
    try:
        run = compare.duckdb_runner(con)
        t_duck, duck = median_seconds(lambda: schools_figures(bench.store, windows, run), n)
    finally:
        con.close()
    if duck["now"] != ours["now"] or duck["before"] != ours["before"]:
        raise AssertionError("DuckDB and the store disagree on the Schools figures")

    postgres = bench.postgres_url or os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    t_pg = float("nan")
    note = ""
    try:
        url, drop = postgres_schema(postgres)
    except Exception as error:  # no server here: the line says so rather than the bench failing
        note = f"PostgreSQL not reached: {type(error).__name__}"
    else:
        pg = db.open_store(url)
        try:
            copy_to_postgres(pg, tables)
            pg_windows = compare.school_windows(pg, today=bench.today)
            t_pg, on_pg = median_seconds(lambda: schools_figures(pg, pg_windows), n)
            if on_pg["now"] != ours["now"]:
                raise AssertionError("PostgreSQL and SQLite disagree on the Schools figures")
            t_pg_overview, _ = median_seconds(
                lambda: _overview(pg, first.school_id, first.start, first.end, bench.today), n
            )
        finally:
            pg.dispose()
            drop()
    out.append(
        Timing(f"Schools figures, all {count} schools (PostgreSQL)", t_pg, n, "< 3 s" if authority else "", note)
    )
    for where, seconds in (("SQLite", t_sqlite), ("PostgreSQL", t_pg)):
        out.append(
            Timing(
                f"Schools figures, same SQL in DuckDB ({threads} thread{'s' * (threads > 1)}) vs {where}",
                t_duck,
                n,
                "ours within 2x",
                note=f"ours / DuckDB = {seconds / t_duck:.2f}" if seconds == seconds else "",
            )
        )
    t_overview, _ = median_seconds(
        lambda: _overview(bench.store, first.school_id, first.start, first.end, bench.today), n
    )
    out.append(Timing(f"one school's Overview in a store of {count} (SQLite)", t_overview, n, "< 1 s"))
    if t_pg == t_pg:
        out.append(Timing(f"one school's Overview in a store of {count} (PostgreSQL)", t_pg_overview, n, "< 1 s"))
    return out
