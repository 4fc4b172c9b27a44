"""The Schools page's benchmark lines (``python -m engagement bench``, section ``schools``): every
school's figures of the Schools page (scores and their change, reach, equity, shared partners,
neighbours) counted in the database, on SQLite and on PostgreSQL, against the very same queries in
DuckDB over the same rows (one thread, as our code runs on one core); and one school's Overview
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
    "families": ["family_id", "school_id", "postcode", "pupil_premium", "send", "eal", "looked_after", "young_carer"],
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
}


def _shaped(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly the columns :data:`COLUMNS` names (missing ones empty)."""
    out = frame.reindex(columns=COLUMNS[name])
    if name == "interactions":
        out["direction"] = out["direction"].fillna("to family")
        out["date"] = pd.to_datetime(out["date"]).dt.date
    if name == "schools":
        out["demo"] = out["demo"].fillna(True).astype(bool)
    return out


def store_tables(store) -> dict[str, pd.DataFrame]:
    """The four tables the Schools figures read, as they are in ``store`` (every column)."""
    with store.read() as conn:
        return {
            name: pd.DataFrame(conn.execute(sa.select(db.TABLES[name])).mappings().all())
            for name in ("schools", "partners", "families", "interactions")
        }


def duckdb_with(tables: dict[str, pd.DataFrame], threads: int = 1):
    """A DuckDB connection holding ``tables`` (schools, partners, families, interactions) under the
    store's table names, dates as DATE and flags as BOOLEAN, so the store's queries run unchanged."""
    import duckdb

    con = duckdb.connect(config={"threads": threads})
    for name in ("schools", "partners", "families", "interactions"):
        frame = _shaped(name, tables[name])
        con.register("incoming", frame)
        casts = {
            "date": "CAST(date AS DATE) AS date",
            "archived_on": "CAST(archived_on AS DATE) AS archived_on",
            "layer": "CAST(layer AS INTEGER) AS layer",
            "latitude": "CAST(latitude AS DOUBLE) AS latitude",
            "longitude": "CAST(longitude AS DOUBLE) AS longitude",
            "oruk_organisation_id": "CAST(oruk_organisation_id AS VARCHAR) AS oruk_organisation_id",
            "postcode": "CAST(postcode AS VARCHAR) AS postcode",
            "partner_id": "CAST(partner_id AS VARCHAR) AS partner_id",
            "family_id": "CAST(family_id AS VARCHAR) AS family_id",
            "demo": "CAST(demo AS BOOLEAN) AS demo",
            **{flag: f"CAST({flag} AS BOOLEAN) AS {flag}" for flag in ("two_way", *COLUMNS["families"][3:])},
        }
        columns = ", ".join(casts.get(c, c) for c in COLUMNS[name])
        con.execute(f"CREATE TABLE {name} AS SELECT {columns} FROM incoming")
        con.unregister("incoming")
    return con


def copy_to_postgres(store: db.Store, tables: dict[str, pd.DataFrame], chunk: int = 500_000) -> None:
    """Write ``tables`` into the (empty, migrated) PostgreSQL ``store`` with ``COPY``, then ANALYZE."""
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for name in ("schools", "partners", "families", "interactions"):
            frame = _shaped(name, tables[name])
            for begin in range(0, len(frame), chunk):
                text = frame.iloc[begin : begin + chunk].to_csv(index=False, header=False)
                with cursor.copy(f"COPY {name} ({', '.join(COLUMNS[name])}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(text)
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def schools_figures(store: db.Store, windows, run=None) -> dict:
    """What the Schools page counts for every school (its figures, their change, shared partners and
    neighbours), with the queries run in the store or by ``run``: the unit the benchmark times."""
    partners = compare.partner_contacts(store, windows, run)
    now = compare.cards(store, windows, True, partners=partners, run=run)
    before = compare.cards(store, compare.comparison_windows(windows), True, run=run)
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

    con = duckdb_with(tables, threads=1)
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
                f"Schools figures, same SQL in DuckDB (1 thread) vs {where}",
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
