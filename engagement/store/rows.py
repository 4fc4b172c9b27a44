"""Many rows at once: look rows up by key in chunks, insert them in bulk (COPY on PostgreSQL), update
them a set of columns at a time, insert only those not there, and upsert with an audit row each."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    String,
    Table,
    func,
    select,
)
from sqlalchemy.engine import Connection

from engagement import clock

if TYPE_CHECKING:  # pandas is imported where a frame is built: the store itself never needs it
    import pandas as pd
from engagement.store.auditing import audit_values
from engagement.store.tables import KEY_OF, TABLES, audit_log, event_contacts, interactions

# ---------------------------------------------------------------- many rows at once

# Ids per statement when rows are looked up by key: one JSON array (SQLite) or one array
# parameter (PostgreSQL) per chunk, so 100,000 ids cost a few statements, not 200.
KEY_CHUNK = 50_000
# Rows per executemany or COPY batch: big enough to be fast, small enough that a batch's Python
# tuples never grow with the file.
WRITE_CHUNK = 20_000
SQLITE_BULK_CACHE_KB = 256_000


def _key_in(conn: Connection, column, keys: list[str]):
    """``column IN keys`` as one parameter, whatever the number of keys."""
    if conn.dialect.name == "sqlite":
        each = func.json_each(json.dumps(keys)).table_valued("value")
        return column.in_(select(each.c.value).scalar_subquery())
    if conn.dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, keys, type_=ARRAY(String)))
    return column.in_(keys)


def _chunks_by_key(
    conn: Connection,
    table_name: str,
    keys: Iterable[str],
    columns: Iterable[str] | None,
    distinct: bool,
    by: str | None = None,
) -> Iterator[tuple[list[str], list[Any]]]:
    table, key = TABLES[table_name], by or KEY_OF[table_name]
    wanted = [table.c[c] for c in columns] if columns is not None else list(table.c)
    names = [c.name for c in wanted]
    unique = keys if distinct and isinstance(keys, list) else list(dict.fromkeys(k for k in keys if k is not None))
    for start in range(0, len(unique), KEY_CHUNK):
        query = select(*wanted).where(_key_in(conn, table.c[key], unique[start : start + KEY_CHUNK]))
        yield names, list(conn.execute(query).all())


def tuples(rows: Iterable[Sequence[Any]]) -> list[tuple]:
    """Rows as plain tuples, to build a pandas frame from. Given SQLAlchemy ``Row`` objects, pandas
    (3.x) takes its slowest path: it asks every row for a ``dtype`` attribute, which a ``Row``
    answers by building and raising an exception (about 5 microseconds a row: a fifth of a second
    for the demo school's 44,000 contacts, on every page that reads them), and then turns each row
    into a tuple anyway. The frame is the same; built from tuples it costs an eighth of the time.

    >>> import pandas as pd
    >>> from sqlalchemy import create_engine, text
    >>> with create_engine("sqlite://").connect() as conn:
    ...     pd.DataFrame(tuples(conn.execute(text("SELECT 1, 'a'"))), columns=["n", "s"]).to_dict("records")
    [{'n': 1, 's': 'a'}]
    """
    return [tuple(row) for row in rows]


def rows_by_key(
    conn: Connection, table_name: str, keys: Iterable[str], columns: Iterable[str] | None = None, by: str | None = None
) -> Iterator[dict[str, Any]]:
    """The stored rows (all columns, or ``columns``) whose key is one of ``keys``; keys not stored
    are skipped. Read in chunks of :data:`KEY_CHUNK` keys. ``by``: another column to match
    ``keys`` in (the services of some partners: ``by="partner_id"``)."""
    for names, rows in _chunks_by_key(conn, table_name, keys, columns, distinct=False, by=by):
        for row in rows:
            yield dict(zip(names, row, strict=True))


def frame_by_key(
    conn: Connection, table_name: str, keys: Iterable[str], columns: Iterable[str] | None = None, distinct: bool = False
) -> pd.DataFrame:
    """:func:`rows_by_key` as one frame of Python values (object columns; None for NULL), indexed
    by the key: what an import compares a file's rows with. ``distinct``: ``keys`` is a list with
    no key twice and no None (a million ids need no second pass to make them so)."""
    import pandas as pd

    table, key = TABLES[table_name], KEY_OF[table_name]
    names = [c.name for c in table.c] if columns is None else list(columns)
    found: list[Any] = []
    for _, rows in _chunks_by_key(conn, table_name, keys, names, distinct):
        found += rows
    # Object columns built directly: pandas would otherwise infer text columns and turn None into NaN.
    by_column = list(zip(*found, strict=True)) if found else [()] * len(names)
    frame = pd.DataFrame({n: pd.Series(v, dtype=object) for n, v in zip(names, by_column, strict=True)})
    return frame.set_index(pd.Index(frame[key], dtype=object, name=None), drop=False)


def _for_driver(conn: Connection, table: Table, columns: list[str], values: Mapping[str, Any]) -> list[list[Any]]:
    """Each column's values as the driver takes them (SQLAlchemy's own conversions for this
    database: SQLite stores a date as ISO text and a boolean as 0 or 1), so a raw executemany
    writes what Core would. Each distinct value is converted once (a column of a million dates
    holds a few hundred days)."""
    out = []
    for name in columns:
        process = table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        column = values[name]
        if process is None:
            out.append(list(column))
            continue
        done: dict[Any, Any] = {None: None}
        out.append([done[v] if v in done else done.setdefault(v, process(v)) for v in column])
    return out


def bulk_insert(conn: Connection, table_name: str, values: Mapping[str, Any], rows: Any = None) -> int:
    """Insert many rows given column by column (lists or numpy arrays, every column the same length;
    only the positions ``rows``, in that order, when given), in the caller's transaction: PostgreSQL's COPY,
    elsewhere one prepared INSERT run over batches of tuples. Returns how many rows went in. No
    audit rows: the caller writes one event for the batch."""
    table = TABLES[table_name]
    columns = list(values)
    total = len(rows) if rows is not None else len(values[columns[0]]) if columns else 0
    if not total:
        return 0

    def batches() -> Iterator[dict[str, Any]]:
        # Taken a batch at a time, so no second copy of every column is ever made.
        for start in range(0, total, WRITE_CHUNK):
            if rows is None:
                yield {c: values[c][start : start + WRITE_CHUNK] for c in columns}
            else:
                which = rows[start : start + WRITE_CHUNK]
                yield {
                    c: [values[c][i] for i in which] if isinstance(values[c], list) else values[c][which]
                    for c in columns
                }

    names = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    target = conn.dialect.identifier_preparer.format_table(table)
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        assert driver is not None  # a connection in a transaction has its driver's connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for batch in batches():
                for row in zip(*batch.values(), strict=True):
                    copy.write_row(row)
        return total
    statement = f"INSERT INTO {target} ({names}) VALUES ({', '.join('?' for _ in columns)})"
    cache = None
    if conn.dialect.name == "sqlite" and total > WRITE_CHUNK:
        # SQLite's page cache (2 MB by default) would spill a big transaction's pages to disk
        # again and again; for this transaction it may grow to 256 MB.
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        conn.exec_driver_sql(f"PRAGMA cache_size = {-SQLITE_BULK_CACHE_KB}")
    rebuilt = _indexes_set_aside(conn, table.name, total) if conn.dialect.name == "sqlite" else []
    try:
        for batch in batches():
            if conn.dialect.paramstyle == "qmark":  # SQLite: the driver's executemany, SQLAlchemy's conversions
                conn.exec_driver_sql(statement, list(zip(*_for_driver(conn, table, columns, batch), strict=True)))
            else:
                conn.execute(
                    table.insert(), [dict(zip(columns, row, strict=True)) for row in zip(*batch.values(), strict=True)]
                )
        for sql in rebuilt:  # in the same transaction: a failed import leaves them as they were
            conn.exec_driver_sql(sql)
    finally:
        if cache is not None:
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(cache)}")
    return total


# New rows from which SQLite builds a table's indexes again after the insert rather than
# growing them a row at a time: a sorted build beats scattered inserts, and the write lock is held
# for that time (400,000 interactions into the demo school: 4.0-4.2 s of CPU in the write against
# 4.9-5.6 s, measured 30 November 2026).
SQLITE_REBUILD_INDEXES_FROM = 100_000


def _indexes_set_aside(conn: Connection, table_name: str, adding: int) -> list[str]:
    """Drop ``table_name``'s secondary indexes when ``adding`` rows is a large import for the table
    (at least :data:`SQLITE_REBUILD_INDEXES_FROM`, and at least half what it holds), returning the
    statements that build them again; otherwise nothing. Readers see the last committed state
    (WAL), indexes included, throughout."""
    if adding < SQLITE_REBUILD_INDEXES_FROM:
        return []
    held = conn.exec_driver_sql(f'SELECT max(rowid) FROM "{table_name}"').scalar() or 0
    if adding * 2 < held:
        return []
    indexes = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
        (table_name,),
    ).all()
    for name, _ in indexes:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return [sql for _, sql in indexes]


def bulk_update(conn: Connection, table_name: str, keys: Sequence[str], values: Mapping[str, Any]) -> int:
    """Set ``values`` (the same columns for every row, given column by column) on the rows of
    ``keys``, in batches; returns how many rows were matched. No audit rows, as for
    :func:`bulk_insert`."""
    table, key = TABLES[table_name], KEY_OF[table_name]
    columns = list(values)
    if not keys or not columns:
        return 0
    from sqlalchemy import bindparam

    statement = table.update().where(table.c[key] == bindparam("k_")).values({c: bindparam(f"v_{c}") for c in columns})
    matched = 0
    for start in range(0, len(keys), WRITE_CHUNK):
        names = ["k_", *(f"v_{c}" for c in columns)]
        batch = zip(
            keys[start : start + WRITE_CHUNK], *(values[c][start : start + WRITE_CHUNK] for c in columns), strict=True
        )
        params = [dict(zip(names, row, strict=True)) for row in batch]
        matched += conn.execute(statement, params).rowcount
    return matched


def insert_if_absent(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[tuple]:
    """Insert the rows whose key is not stored yet, in the caller's transaction, and return the keys
    (primary key tuples) of those that went in. The database decides (``INSERT ... ON CONFLICT DO
    NOTHING``), not a look beforehand: two staff adding the same row at once get one row, on
    PostgreSQL (where the second insert waits for the first to commit, then does nothing) as on
    SQLite, and neither sees a duplicate-key error."""
    if not rows:
        return []
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing().returning(*table.primary_key.columns)
    return [tuple(r) for r in conn.execute(statement, rows).all()]


def link_to_events(conn: Connection, links: Sequence[tuple[str, str]], if_absent: bool = False) -> set[str]:
    """Put contacts on event registers: ``links`` are (interaction_id, event_id) pairs of contacts
    already stored. Each link carries its contact's family, read here from the contact itself, so
    the unique key (event, family) holds whoever writes. ``if_absent`` leaves out, without an
    error, a link whose contact or family is on that register already (a save made meanwhile);
    otherwise such a link fails the transaction. Returns the interaction ids linked."""
    if not links:
        return set()
    ids = [i for i, _ in links]
    families: dict[str, str | None] = {}
    for start in range(0, len(ids), WRITE_CHUNK):
        chunk = ids[start : start + WRITE_CHUNK]
        query = select(interactions.c.interaction_id, interactions.c.family_id)
        families.update((i, f) for i, f in conn.execute(query.where(interactions.c.interaction_id.in_(chunk))))
    rows = [{"interaction_id": i, "event_id": e, "family_id": families.get(i)} for i, e in links]
    if if_absent:
        return {k for (k,) in insert_if_absent(conn, event_contacts, rows)}
    for start in range(0, len(rows), WRITE_CHUNK):
        conn.execute(event_contacts.insert(), rows[start : start + WRITE_CHUNK])
    return set(ids)


def refresh_event_families(conn: Connection, interaction_ids: Sequence[str]) -> None:
    """After contacts' families were changed (an import's update), their register links carry the
    new family, so the key (event, family) keeps checking what the registers really hold."""
    ec, i = event_contacts, interactions
    family = select(i.c.family_id).where(i.c.interaction_id == ec.c.interaction_id).scalar_subquery()
    ids = list(interaction_ids)
    for start in range(0, len(ids), WRITE_CHUNK):
        conn.execute(
            ec.update().where(ec.c.interaction_id.in_(ids[start : start + WRITE_CHUNK])).values(family_id=family)
        )


def upsert(conn: Connection, table_name: str, rows: list[dict]) -> dict[str, int]:
    """Insert new records and update changed ones by their id, auditing each change with its
    before and after. Returns how many were inserted, updated and left unchanged. (Imports use
    :func:`bulk_insert` and :func:`bulk_update` with one audit event per import instead.)"""
    table, key = TABLES[table_name], KEY_OF[table_name]
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    existing = {stored[key]: stored for stored in rows_by_key(conn, table_name, [r[key] for r in rows])}
    now = clock.now()
    entries, new_rows = [], []
    versioned = "version" in table.c
    for row in rows:
        before = existing.get(row[key])
        if before is None:
            new_rows.append({**row, "version": row.get("version") or 1} if versioned else row)
            continue
        changed = {k: v for k, v in row.items() if before.get(k) != v and k != "version"}
        if not changed:
            counts["unchanged"] += 1
            continue
        # A change raises the version too, so an edit begun before it is refused (engagement.directory).
        changed_values = {**changed, **({"version": (before.get("version") or 1) + 1} if versioned else {})}
        conn.execute(table.update().where(table.c[key] == row[key]).values(**changed_values))
        entries.append(
            audit_values(
                conn,
                "update",
                table_name,
                row[key],
                {k: before.get(k) for k in changed_values},
                changed_values,
                None,
                now,
            )
        )
        counts["updated"] += 1
    if new_rows:
        conn.execute(table.insert(), new_rows)
        entries += [audit_values(conn, "insert", table_name, row[key], None, row, None, now) for row in new_rows]
        counts["inserted"] = len(new_rows)
    if entries:  # one executemany for the audit rows, not one statement each
        conn.execute(audit_log.insert(), entries)
    return counts
