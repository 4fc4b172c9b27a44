"""Import and export in the formats of shared/FORMATS.md: CSV (UTF-8 with or without BOM, or
Windows-1252) and XLSX, validated whole before anything is written, upserted by id in one
transaction, each import audited as one event; exports safe to open in Excel.

A batch of files (schools, partners, services, families, interactions, in that order) is
all-or-nothing: every problem is collected as (file, row as a spreadsheet numbers it, column,
reason) and, if there is even one, the store is left exactly as it was.

A partner's services (``services.csv``, :mod:`engagement.services`) have a table of their own; the
``services`` column of partners.csv is the tags of the partner's active services. A partners file
with that column changes the services to match, after any services file of the same batch: tags it
adds go to the partner's first service (made, named after the partner, when it has none), tags it
drops leave every service (but not a partner the batch's services file describes: that file has
the last word), and the tags the services already hold change nothing. A change by
import raises the row's ``version``, so an edit begun in the Directory before it is refused.

Several people write at once (officers logging contacts while the data lead imports), so an import
holds the store's write lock only for writing. The files are read and checked first, in chunks of
rows (memory grows with the rows' typed columns, not with their text), against a read of the
store; then one short write transaction re-checks what may have changed since (the rows it will
update, the owners of the families and partners it refers to, the schools), writes with bulk
statements (COPY on PostgreSQL) and adds one audit event: who, when, the files with their SHA-256,
the counts, the ids added and the before-images of the rows changed. If the store changed under
the check, the check runs again.

A file with broken quoting is refused with the row where the open quote starts: the csv module
reads strictly, and a cell that runs over lines that look like rows of the file is never taken as
data (a note of several lines in quotes still is). Empty text and a missing value differ as in
PostgreSQL's CSV: ``""`` is empty text, an empty cell is missing, so an export read back gives the
same store.

A cell's text is read by the parsers of :mod:`engagement.cells`, which also keeps exports safe to
open in Excel.

>>> guess_kind("2026-partners-export.xlsx"), guess_kind("notes.csv") is None
('partners', True)
"""

from __future__ import annotations

import datetime
import gc
import json
import math
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.engine import Connection

from engagement import clock
from engagement import store as db
from engagement.cells import choice_reader, excel_safe, excel_unsafe, parse_bool, parse_date, parse_list
from engagement.communication import is_message_to_all
from engagement.contacts import not_happened_yet
from engagement.imports.reading import (
    EMPTY_FILE,
    EMPTY_TEXT,
    HEADER_ONLY,
    Refused,
    Source,
    file_rows,
    open_source,
    refuse_empty,
)
from engagement.imports.report import MAX_PRINTED_ERRORS, ImportReport
from engagement.imports.runner import Refusal, Scope, Steps, StoreChanged, check_unknown_columns, run_one
from engagement.service_vocabulary import partner_tags, rows_for_tags, service_readers
from engagement.typology import CHANNELS, PARTNER_LAYERS, PARTNER_STATUSES, load_typology

# ---------------------------------------------------------------- the formats

KINDS = ("schools", "partners", "services", "families", "interactions")
PREFERRED_CHANNELS = ("in person", "phone", "digital", "letter")
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "data" / "templates"
# Rows read, checked and converted at a time: the text of one chunk is all the text held at once.
CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class Field:
    """One column of a format: its name, how its text is read, whether a file must have it, and
    how people see it: ``label`` (from the name when not given: ``contact_email`` is "Contact
    email") and ``help``, a short hint for whoever fills it in. Forms and tables take them from
    here, so a column added to a format reaches its form with nothing else to list it in."""

    name: str
    kind: str
    required: bool = False
    limit: int | None = None
    label: str = ""
    help: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " ").capitalize())


FORMATS: dict[str, tuple[Field, ...]] = {
    "schools": (
        Field("school_id", "text", True, 64),
        Field("name", "text", True, 200),
        Field("postcode", "text", True, 16),
        Field("latitude", "latitude"),
        Field("longitude", "longitude"),
        Field("pupils", "count"),
        Field("staff", "count"),
        # Optional, so that an export read back into an empty store keeps the demo school a demo.
        Field("demo", "bool"),
    ),
    "partners": (
        Field("partner_id", "text", True, 64),
        Field("school_id", "text", False, 64),
        Field("name", "text", True, 300),
        Field("category", "category", True),
        Field("layer", "layer", help="blank: from the category"),
        Field("address", "text"),
        Field("postcode", "text", False, 16),
        Field("latitude", "latitude", help="blank: placed from the postcode"),
        Field("longitude", "longitude"),
        Field("contact_name", "text", False, 200),
        Field("contact_email", "text", False, 200),
        Field("contact_phone", "text", False, 50),
        Field("services", "list"),
        Field("status", "status"),
        Field("since", "date", label="Partner since", help="dd/mm/yyyy"),
        Field("last_verified", "date", label="Last checked"),
        Field("notes", "text"),
    ),
    # Each column maps onto Open Referral UK 3.0 (see engagement.services for which field).
    "services": (
        Field("service_id", "text", True, 100),
        Field("partner_id", "text", True, 64),
        Field("name", "text", True, 300),
        Field("tags", "list"),
        Field("min_age", "count"),
        Field("max_age", "count"),
        Field("cost", "text"),
        Field("languages", "list"),
        Field("delivery", "delivery", False, 100),
        Field("sessions", "sessions"),
        Field("access", "access"),
        Field("eligibility", "text"),
        Field("send_inclusive", "bool"),
        Field("status", "service_status"),
    ),
    "families": (
        Field("family_id", "text", True, 64),
        Field("school_id", "text", False, 64),
        Field("postcode", "text", False, 16),
        Field("pupils", "count"),
        Field("year_groups", "list", False, 100),
        Field("pupil_premium", "bool"),
        Field("send", "bool"),
        Field("eal", "bool"),
        Field("looked_after", "bool"),
        Field("young_carer", "bool"),
        Field("needs", "list"),
        Field("preferred_channel", "preferred_channel"),
        Field("language", "text", False, 60),
        Field("joined", "date"),
    ),
    "interactions": (
        Field("interaction_id", "text", False, 64),
        Field("school_id", "text", False, 64),
        Field("date", "date", True),
        Field("family_id", "text", False, 64),
        Field("partner_id", "text", False, 64),
        Field("activity", "activity", True),
        Field("channel", "channel"),
        Field("two_way", "bool"),
        Field("staff", "text", False, 200),
        Field("notes", "text"),
        Field("direction", "direction"),
        Field("event_id", "text", False, 64),
    ),
}
KEY = {
    "schools": "school_id",
    "partners": "partner_id",
    "services": "service_id",
    "families": "family_id",
    "interactions": "interaction_id",
}
SINGULAR = {
    "schools": "school",
    "partners": "partner",
    "services": "service",
    "families": "family",
    "interactions": "interaction",
}
# Columns of a file that are not columns of the kind's table: written to a table of their own.
LINKED = {"interactions": {"event_id": "event_contacts"}}
# Kinds of column whose empty text ("") is kept as empty text; elsewhere "" is just a blank cell.
_TEXT_KINDS = ("text", "list")


def guess_kind(filename: str) -> str | None:
    """The kind of file a name suggests ("2026-partners-export.xlsx" is partners), or None."""
    words = re.findall(r"[a-z]+", Path(filename).stem.lower())
    for names in (KINDS, tuple(SINGULAR[k] for k in KINDS)):
        found = {KINDS[names.index(w)] for w in words if w in names}
        if len(found) == 1:
            return found.pop()
        if found:
            return None
    return None


# ---------------------------------------------------------------- the report


def _clean(cell: str) -> str:
    return excel_unsafe(cell.strip())


def _blank_row(cells: list[str]) -> bool:
    if cells and cells[0] != EMPTY_TEXT and cells[0].strip():
        return False  # the usual row, decided by its first cell
    return not any(c.strip() and c != EMPTY_TEXT for c in cells)


@dataclass
class _Table:
    """One file read whole: typed values (None where blank), one object column per field of the
    format, ``_row`` (the spreadsheet row) and ``_src`` (the file's place in the batch)."""

    name: str
    kind: str
    frame: pd.DataFrame
    present: set[str]


def _read_table(report: ImportReport, source: Source, kind: str, src: int, converters) -> _Table | None:
    """Read, check and convert one file a chunk of rows at a time; problems go to the report."""
    name = source.name
    required = [f.name for f in FORMATS[kind] if f.required] or [f.name for f in FORMATS[kind]][:1]
    try:
        rows = file_rows(source)
    except Refused as exc:
        if str(exc) == EMPTY_FILE:
            refuse_empty(report, name, required)
        else:
            report.error(name, exc.row, exc.column, str(exc))
        return None
    header: list[str] | None = None
    header_at = 1
    columns: dict[str, int] = {}
    chunks: list[dict[str, np.ndarray]] = []
    numbers: list[int] = []
    body: list[list[str]] = []
    shown: set[str] = set()
    try:
        for number, cells in enumerate(rows, start=1):
            if _blank_row(cells):
                continue
            if header is None:
                header = [("" if h == EMPTY_TEXT else h).strip().lower() for h in cells]
                header_at = number
                known = _check_header(report, name, kind, number, header)
                if known is None:
                    return None
                columns = known
                continue
            if len(cells) > len(header) and any(c.strip() and c != EMPTY_TEXT for c in cells[len(header) :]):
                report.error(
                    name,
                    number,
                    None,
                    f"the row has {len(cells)} cells but the header names only {len(header)} columns",
                )
            numbers.append(number)
            body.append(cells)
            if len(body) >= CHUNK_ROWS:
                chunks.append(_convert(report, name, kind, src, header, columns, numbers, body, converters, shown))
                numbers, body = [], []
    except Refused as exc:
        report.error(name, exc.row, exc.column, str(exc))
        return None
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # restores the csv module's field limit at once
    if header is None:
        refuse_empty(report, name, required)
        return None
    if not body and not chunks:
        report.error(name, header_at + 1, required[0], HEADER_ONLY)
        return None
    if body or not chunks:
        chunks.append(_convert(report, name, kind, src, header, columns, numbers, body, converters, shown))
    return _Table(name, kind, _stack(chunks), set(columns))


def _stack(chunks: list[dict[str, Any]]) -> pd.DataFrame:
    """The chunks as one frame, a column at a time, each chunk's part let go as soon as it is
    copied: the values are never held twice over more than one column. A column some chunk kept
    in Arrow is kept in Arrow whole (see :func:`_as_objects`)."""
    out: dict[str, pd.Series] = {}
    for name in list(chunks[0]):
        parts = [chunk.pop(name) for chunk in chunks]
        if any(isinstance(part, pa.Array) for part in parts):
            arrow = pa.chunked_array(
                [
                    part if isinstance(part, pa.Array) else pa.array(part, type=pa.string(), from_pandas=True)
                    for part in parts
                ],
                type=pa.string(),
            )
            out[name] = pd.Series(pd.arrays.ArrowExtensionArray(arrow), copy=False)
        else:
            values = np.concatenate(parts) if len(parts) > 1 else parts[0]
            out[name] = pd.Series(values, dtype=values.dtype, copy=False)
        del parts
    return pd.DataFrame(out, copy=False)


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its Arrow columns as Python objects (None where missing), as the checks
    against the store and the writing read them."""
    arrow = [c for c in frame.columns if isinstance(frame[c].dtype, pd.ArrowDtype)]
    if not arrow:
        return frame.copy(deep=False)
    out = frame.copy(deep=False)
    for column in arrow:
        out[column] = pd.Series(frame[column].to_numpy(dtype=object, na_value=None), dtype=object, index=frame.index)
    return out


def _check_header(report: ImportReport, name: str, kind: str, row: int, header: list[str]) -> dict[str, int] | None:
    """The known columns and where they are, or None (with the problems reported) if the header
    does not make a file of this kind."""
    known = {f.name for f in FORMATS[kind]}
    errors_before = report.problem_count
    seen: set[str] = set()
    for h in header:
        if h and h in seen:
            report.error(name, row, h, f"the column {h!r} appears twice in the header")
        seen.add(h)
    for f in FORMATS[kind]:
        if f.required and f.name not in seen:
            report.error(
                name,
                row,
                f.name,
                f"the required column {f.name!r} is missing (a {kind} file needs "
                f"{', '.join(x.name for x in FORMATS[kind] if x.required)}; "
                f"found: {', '.join(h for h in header if h) or 'nothing'})",
            )
    if kind == "interactions" and not {"family_id", "partner_id"} & seen:
        report.error(name, row, "family_id", "an interactions file needs a family_id or a partner_id column (or both)")
    check_unknown_columns(report, name, kind, row, header, known)
    if report.problem_count > errors_before:
        return None
    return {h: j for j, h in enumerate(header) if h in known}


# ---------------------------------------------------------------- reading cells into values


class _Bad:
    """A reason a cell was refused, travelling in the cell's place through a column of values."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def _known_list(what: str, names: Iterable[str]) -> str:
    return f"Known {what}: " + ", ".join(names) + "."


def _converters() -> dict[str, Callable[[str], Any]]:
    typology = load_typology()

    def count(text):
        try:
            value = float(text)
        except ValueError:
            return _Bad(f"{text!r} is not a whole number")
        if not value.is_integer() or value < 0:
            return _Bad(f"{text!r} is not a whole number of 0 or more")
        return int(value)

    def coordinate(limit, what):
        def read(text):
            try:
                value = float(text)
            except ValueError:
                return _Bad(f"{text!r} is not a number (a {what} in decimal degrees, e.g. 52.4862)")
            if not math.isfinite(value) or not -limit <= value <= limit:
                return _Bad(f"{text} is not a {what}: it must lie between -{limit} and {limit}")
            return value

        return read

    def date(text):
        value = parse_date(text)
        return value if value is not None else _Bad(f"{text!r} is not a date: write it as 2026-09-14 or 14/09/2026")

    def boolean(text):
        value = parse_bool(text)
        return value if value is not None else _Bad(f"{text!r} is not yes or no (Y/N, yes/no, true/false, 1/0)")

    def category(text):
        found = typology.category(text)
        return (
            found.name
            if found
            else _Bad(
                f"{text!r} is not a category of the typology. " + _known_list("categories", typology.category_names())
            )
        )

    def activity(text):
        found = typology.activity(text)
        return (
            found.name
            if found
            else _Bad(
                f"{text!r} is not an activity of the catalogue. " + _known_list("activities", typology.activity_names())
            )
        )

    def layer(text):
        value = count(text)
        return value if value in PARTNER_LAYERS else _Bad(f"{text!r} is not a layer: a partner is in layer 2, 3 or 4")

    return {
        **service_readers(_Bad),
        "text": str,
        "count": count,
        "latitude": coordinate(90, "latitude"),
        "longitude": coordinate(180, "longitude"),
        "date": date,
        "bool": boolean,
        "list": lambda text: ";".join(parse_list(text)),
        "category": category,
        "activity": activity,
        "layer": layer,
        "status": choice_reader(PARTNER_STATUSES, "a partner status", _Bad),
        "channel": choice_reader(CHANNELS, "a channel", _Bad),
        "preferred_channel": choice_reader(PREFERRED_CHANNELS, "a preferred channel", _Bad),
        "direction": choice_reader(("to family", "from family"), "a direction (who started the contact)", _Bad),
    }


def _objects(values, n: int | None = None) -> pd.Series:
    """An object column (pandas would otherwise read a column of text as its string type, None as NaN)."""
    if n is not None:
        return pd.Series(np.full(n, values, dtype=object), dtype=object)
    return pd.Series(values, dtype=object)


def _read_values(uniques: np.ndarray, f: Field, convert: Callable[[str], Any]) -> tuple[np.ndarray, ...]:
    """Each distinct cell of a column read: (values, refused, blank), one entry per text."""
    values = np.empty(len(uniques), dtype=object)
    bad = np.zeros(len(uniques), dtype=bool)
    blank = np.zeros(len(uniques), dtype=bool)
    for k, text in enumerate(_clean(u) for u in uniques):
        if text == "" or (text == EMPTY_TEXT and (f.kind not in _TEXT_KINDS or f.required)):
            blank[k] = True
        elif text == EMPTY_TEXT:
            values[k] = ""  # written "": empty text, kept as such
        else:
            value = convert(text)
            if not isinstance(value, _Bad) and f.limit and isinstance(value, str) and len(value) > f.limit:
                value = _Bad(f"is too long: {len(value)} characters, at most {f.limit}")
            bad[k] = isinstance(value, _Bad)
            values[k] = value
    return values, bad, blank


# Text that :func:`_clean` would change: space at either end, or a leading apostrophe. The texts
# are joined with the unit separator, a control character no file that is read can hold.
_NEEDS_CLEANING = re.compile("(?:^|\x1f)(?:\\s|')|\\s(?:\x1f|$)")


def _read_texts(uniques: np.ndarray, f: Field) -> tuple[np.ndarray, ...]:
    """:func:`_read_values` for a column of mostly distinct texts (ids, notes), a whole column at a
    time: one search tells whether any needs cleaning, and the checks are array operations."""
    if _NEEDS_CLEANING.search("\x1f".join(uniques)):
        uniques = np.fromiter((_clean(u) for u in uniques), dtype=object, count=len(uniques))
    blank = (uniques == "") | ((uniques == EMPTY_TEXT) if f.required else False)
    values = np.array(uniques, dtype=object)
    values[uniques == EMPTY_TEXT] = ""  # written "": empty text, kept as such
    values[blank] = None
    bad = np.zeros(len(uniques), dtype=bool)
    if f.limit:
        lengths = np.fromiter(map(len, uniques), dtype=np.int64, count=len(uniques))
        bad = ~blank & (lengths > f.limit)
        for k in np.flatnonzero(bad):
            values[k] = _Bad(f"is too long: {lengths[k]} characters, at most {f.limit}")
    return values, bad, blank


def _convert(
    report: ImportReport,
    name: str,
    kind: str,
    src: int,
    header: list[str],
    columns: dict[str, int],
    numbers: list[int],
    body: list[list[str]],
    converters,
    shown: set[str],
) -> dict[str, np.ndarray]:
    """One chunk of rows as typed values; blank cells become None, problems go to the report.

    Each distinct text of a column is read once (a column of a million dates holds a few hundred
    days), so reading costs a hash per cell and the values share their objects."""
    n, width = len(body), len(header)
    fixed = [cells if len(cells) == width else cells[:width] + [""] * (width - len(cells)) for cells in body]
    by_column = list(zip(*fixed, strict=True)) if n else [()] * width
    del fixed
    out: dict[str, np.ndarray] = {}
    for f in FORMATS[kind]:
        if f.name not in columns:
            out[f.name] = np.full(n, None, dtype=object)
            continue
        codes, uniques = pd.factorize(np.asarray(by_column[columns[f.name]], dtype=object))
        if f.kind == "text" and len(uniques) > 1_000:
            values, bad, blank = _read_texts(uniques, f)
        else:
            values, bad, blank = _read_values(uniques, f, converters[f.kind])
        column = values[codes] if n else np.empty(0, dtype=object)
        refused = bad[codes] | (blank[codes] if f.required else False) if n else np.zeros(0, dtype=bool)
        for i in np.flatnonzero(refused):
            value = column[i]
            reason = value.reason if isinstance(value, _Bad) else f"the {f.name} is missing; every row needs one"
            if f.kind in ("category", "activity") and isinstance(value, _Bad):
                if f.name in shown:  # the full list of known names once per column is enough
                    reason = reason.split(". Known")[0] + " (the known ones are listed above)."
                shown.add(f.name)
            report.error(name, numbers[i], f.name, reason)
        column[refused] = None
        if f.kind == "text" and len(uniques) > n // 2 and n >= 1_000:
            # Mostly distinct texts (ids, notes) are kept in one Arrow buffer rather than as a Python
            # object each, scattered among the chunk's freed ones: memory then stays the size of the
            # text, not of the file read so far.
            out[f.name] = pa.array(column, type=pa.string(), from_pandas=True)
        else:
            out[f.name] = column
    out["_row"] = np.asarray(numbers, dtype=np.int64)
    out["_src"] = np.full(n, src, dtype=np.int32)
    return out


# ---------------------------------------------------------------- checks across rows, files and the store


@dataclass
class _Batch:
    """The files of one import, read and converted: per kind, one frame of every file's rows."""

    names: list[str]
    sources: list[Source]
    frames: dict[str, pd.DataFrame]
    present: dict[int, set[str]]  # per file (its _src), the columns it has


def _where(frame: pd.DataFrame, i, names: list[str]) -> tuple[str, int]:
    return names[int(frame.at[i, "_src"])], int(frame.at[i, "_row"])


def _duplicates(report: ImportReport, frame: pd.DataFrame, key: str, names: list[str]) -> pd.DataFrame:
    ids = frame[key]
    if isinstance(ids.dtype, pd.ArrowDtype):
        # Counted in Arrow: pandas would first make a Python text of every id to look for copies.
        arrow = ids.array.__arrow_array__()
        if pc.count_distinct(arrow).as_py() == len(arrow) - arrow.null_count:
            return frame
    dup = ids.notna() & ids.duplicated(keep=False)
    if not dup.any():
        return frame
    later = dup & ids.duplicated(keep="first")
    first_at = {v: _where(frame, i, names) for i, v in ids[dup & ~later].items()}
    for i in frame.index[later]:
        file, row = _where(frame, i, names)
        where_first = first_at[ids[i]]
        place = f"row {where_first[1]}" + ("" if where_first[0] == file else f" of {where_first[0]}")
        report.error(file, row, key, f"{key} {ids[i]!r} appears twice: already at {place}")
    # Later copies go, so the checks that follow report each problem once.
    return frame.drop(frame.index[later]).reset_index(drop=True)


def _check_coordinates(report: ImportReport, frame: pd.DataFrame, names: list[str]) -> None:
    lat, lon = frame["latitude"].isna(), frame["longitude"].isna()
    for i in frame.index[lat != lon]:
        column = "longitude" if lon[i] else "latitude"
        report.error(*_where(frame, i, names), column, "a latitude needs its longitude and the other way round")


def _check_ages(report: ImportReport, frame: pd.DataFrame, names: list[str]) -> None:
    low, high = frame["min_age"], frame["max_age"]
    both = low.notna() & high.notna()
    for i in frame.index[both][(low[both].astype(int) > high[both].astype(int)).to_numpy()]:
        report.error(
            *_where(frame, i, names), "max_age", f"the maximum age {high[i]} is below the minimum age {low[i]}"
        )


def _check_not_future(report: ImportReport, frame: pd.DataFrame, names: list[str]) -> None:
    """A new contact dated after today is refused, as the contact form and the registers refuse
    it: a mistyped year would otherwise sit in the store as the family's latest contact. One that
    carries its ``interaction_id`` is a record another system or a backup holds as it is (an
    export always carries the ids), so it is kept as given, and the report says so."""
    dates = frame["date"]
    known = dates.notna()
    # Each distinct date judged once (an import of a million contacts holds a few hundred days),
    # against one reading of the clock.
    today = clock.today()
    reasons = {d: reason for d in pd.unique(dates[known]) if (reason := not_happened_yet(d, today))}
    if not reasons:
        return
    late = (known & dates.isin(list(reasons))).to_numpy()
    kept = late & frame["interaction_id"].notna().to_numpy()
    for i in frame.index[late & ~kept]:
        report.error(*_where(frame, i, names), "date", reasons[dates[i]])
    if kept.any():
        first = frame.index[kept][0]
        file, row = _where(frame, first, names)
        n = int(kept.sum())
        report.notes.append(
            f"{n} contact{'s' * (n != 1)} with an interaction_id {'are' if n != 1 else 'is'} dated after today "
            f"(first: {file}, row {row}, {dates[first]:%d/%m/%Y}), kept as the file gives "
            f"{'them' if n != 1 else 'it'}: a backup restores what it holds. Check the date with whoever logged it"
        )


def _read_batch(report: ImportReport, items: list, kind: str | None) -> _Batch:
    """Every file read and checked on its own, then the checks across rows of each kind."""
    converters = _converters()
    names: list[str] = []
    sources: list[Source] = []
    tables: dict[str, list[_Table]] = {}
    present: dict[int, set[str]] = {}
    for item in items:
        try:
            source = open_source(item)
        except OSError as exc:
            report.files.append(str(item))
            report.error(str(item), None, None, f"the file cannot be read: {exc.strerror or exc}")
            continue
        except Refused as refused:
            report.files.append(Path(str(item)).name)
            report.error(Path(str(item)).name, None, None, str(refused))
            continue
        report.files.append(source.name)
        file_kind = kind or guess_kind(source.name)
        if file_kind is None:
            report.error(
                source.name,
                None,
                None,
                "cannot tell what this file holds from its name: call it "
                "schools, partners, services, families or interactions (e.g. partners.csv) or choose the kind",
            )
            continue
        src = len(names)
        names.append(source.name)
        sources.append(source)
        try:
            table = _read_table(report, source, file_kind, src, converters)
        except OSError as exc:
            report.error(source.name, None, None, f"the file cannot be read: {exc.strerror or exc}")
            continue
        if table is None:
            continue
        # The id, the school and (for interactions) who it was with are always written whole.
        always = (
            {KEY[file_kind]}
            | ({"school_id"} if file_kind not in ("schools", "services") else set())
            | ({"family_id", "partner_id"} if file_kind == "interactions" else set())
        )
        present[src] = table.present | always
        tables.setdefault(file_kind, []).append(table)
    frames = {}
    for k in KINDS:
        if k not in tables:
            continue
        parts = [t.frame for t in tables[k]]
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        frame = _duplicates(report, frame, KEY[k], names)
        if k in ("schools", "partners"):
            _check_coordinates(report, frame, names)
        if k == "services":
            _check_ages(report, frame, names)
        if k == "interactions":
            _check_not_future(report, frame, names)
        frames[k] = frame
    return _Batch(names, sources, frames, present)


def _resolve_schools(
    report: ImportReport, conn: Connection, frames: dict[str, pd.DataFrame], school_id: str | None, names: list[str]
) -> None:
    """Give every partner, family and interaction row its school, or report why it has none."""
    store_schools = set(conn.execute(select(db.schools.c.school_id)).scalars())
    demo_schools = set(conn.execute(select(db.schools.c.school_id).where(db.schools.c.demo)).scalars())
    batch_schools = set(frames["schools"]["school_id"].dropna()) if "schools" in frames else set()
    known = store_schools | batch_schools
    fallback, why_not = None, ""  # why_not is read only when fallback is None, and each such branch sets it
    if school_id is not None:
        fallback = school_id if school_id in known else None
        why_not = f"there is no school {school_id!r} in the store or in this import"
    elif len(known) == 1 and not (known & demo_schools and not batch_schools):
        fallback = next(iter(known))
    elif len(known) == 1:
        # The app starts on the demo school: a school's real families must never land in it unseen.
        why_not = (
            "school_id needed: the only school in the store is the demo school; import your schools.csv "
            "first (or with this file), so that your rows go to your own school"
        )
    elif not known:
        why_not = "there is no school yet: import a schools file first (or with this one)"
    else:
        why_not = (
            "school_id needed: the store holds several schools; add a school_id column "
            "or choose the school the rows belong to"
        )
    for kind in ("partners", "families", "interactions"):
        if kind not in frames:
            continue
        frame = frames[kind]
        given = frame["school_id"]
        unknown = given.notna() & ~given.isin(known)
        for i in frame.index[unknown]:
            report.error(
                *_where(frame, i, names), "school_id", f"there is no school {given[i]!r} in the store or in this import"
            )
        missing = given.isna()
        if missing.any() and fallback is None:
            for src in frame.loc[missing, "_src"].unique():
                rows = frame.loc[missing & (frame["_src"] == src), "_row"]
                report.error(
                    names[int(src)],
                    int(rows.iloc[0]),
                    "school_id",
                    why_not + (f" ({len(rows)} rows have no school_id)" if len(rows) > 1 else ""),
                )
        frame["school_id"] = _objects(np.where(missing.to_numpy(), fallback, given.to_numpy(dtype=object)))


def _check_allowed_schools(
    report: ImportReport, frames: dict[str, pd.DataFrame], allowed: Collection[str], names: list[str]
) -> None:
    """Staff of one school import rows for their own schools only."""
    for kind, frame in frames.items():
        outside = frame["school_id"].notna() & ~frame["school_id"].isin(set(allowed))
        for i in frame.index[outside][:MAX_PRINTED_ERRORS]:
            school = frame.at[i, "school_id"]
            if kind == "services":  # a service's school is its partner's
                report.error(
                    *_where(frame, i, names),
                    "partner_id",
                    f"partner {frame.at[i, 'partner_id']!r} is not of a school your account may change",
                )
                continue
            report.error(
                *_where(frame, i, names),
                "school_id",
                f"school {school!r} is not one of the schools your account may change",
            )


def _service_owners(
    report: ImportReport, conn: Connection, frames: dict[str, pd.DataFrame], names: list[str]
) -> dict[str, str]:
    """Give each service row its partner's school (as ``school_id``, read by the school checks, not
    written), or report a partner that is in neither the store nor the batch. Returns the stored
    partners' schools, to see at write time that they still hold."""
    frame = frames["services"]
    wanted = list(dict.fromkeys(v for v in frame["partner_id"].to_numpy(dtype=object) if v is not None))
    stored = db.frame_by_key(conn, "partners", wanted, columns=["partner_id", "school_id"], distinct=True)
    stored_owners = dict(zip(stored["partner_id"], stored["school_id"], strict=True))
    owners = dict(stored_owners)
    if "partners" in frames:
        owners.update(zip(frames["partners"]["partner_id"], frames["partners"]["school_id"], strict=True))
    owner = _lookup(frame["partner_id"].to_numpy(dtype=object), owners)
    for i in np.flatnonzero(pd.isna(owner)):
        report.error(
            *_where(frame, i, names),
            "partner_id",
            f"there is no partner {frame.at[i, 'partner_id']!r} in the store or in this import: import its "
            "partners.csv first (or with this file)",
        )
    frame["school_id"] = _objects(owner)
    return stored_owners


def _check_service_partners(
    report: ImportReport, frame: pd.DataFrame, existing: pd.DataFrame, names: list[str]
) -> None:
    """A stored service stays with its partner: an import does not move it to another."""
    if existing.empty:
        return
    stored = existing["partner_id"].reindex(_ids(frame["service_id"])).to_numpy(dtype=object)
    given = frame["partner_id"].to_numpy(dtype=object)
    for i in np.flatnonzero(pd.notna(stored) & (stored != given)):
        report.error(
            *_where(frame, i, names),
            "partner_id",
            f"service {frame.at[i, 'service_id']!r} belongs to partner {stored[i]!r}; a service does not move "
            "between partners",
        )


def _ids(values) -> pd.Index:
    """Ids as an index of Python strings, to align stored rows with a file's (pandas would
    otherwise convert them to its own string type first, a copy of every id)."""
    return pd.Index(np.asarray(values, dtype=object), dtype=object)


def _check_owners(
    report: ImportReport, frame: pd.DataFrame, kind: str, existing: pd.DataFrame, names: list[str]
) -> None:
    """A partner, family or interaction belongs to one school; an import does not move it."""
    key = KEY[kind]
    if existing.empty:
        return
    stored = existing["school_id"].reindex(_ids(frame[key])).to_numpy(dtype=object)
    school = frame["school_id"].to_numpy(dtype=object)
    moved = pd.notna(stored) & pd.notna(school) & (stored != school)
    for i in np.flatnonzero(moved):
        report.error(
            *_where(frame, i, names),
            "school_id",
            # Never which school: the importer may not be one of its staff.
            f"{SINGULAR[kind]} {frame.at[i, key]!r} already belongs to another school, not {school[i]!r}",
        )


def _owners(conn: Connection, frames: dict[str, pd.DataFrame]) -> dict[str, dict[str, str]]:
    """The school of every family and partner the interactions name, as the store holds it."""
    frame = frames["interactions"]
    out = {}
    for column, kind in (("family_id", "families"), ("partner_id", "partners")):
        # A set of the few hundred families named, not pandas' unique (a hash table the size of the column).
        wanted = list(dict.fromkeys(v for v in frame[column].to_numpy(dtype=object) if v is not None))
        stored = db.frame_by_key(conn, kind, wanted, columns=[KEY[kind], "school_id"], distinct=True)
        out[kind] = dict(zip(stored[KEY[kind]], stored["school_id"], strict=True))
    return out


def _check_references(
    report: ImportReport, frames: dict[str, pd.DataFrame], stored: dict[str, dict[str, str]], names: list[str]
) -> None:
    """Each interaction names a family or a partner or both (the family took part in the partner's
    session), known to the store or this batch, of the interaction's own school."""
    frame = frames["interactions"]
    fam, par = frame["family_id"].notna(), frame["partner_id"].notna()
    # Neither: a message to all families of the school (engagement.communication.is_message_to_all).
    for i in frame.index[~fam & ~par & ~frame["activity"].map(is_message_to_all)]:
        report.error(
            *_where(frame, i, names),
            "family_id",
            "an interaction needs a family_id or a partner_id: both are empty (only a message to all "
            "families, a one-way activity of type communicating such as a newsletter, leaves both empty)",
        )
    for column, kind in (("family_id", "families"), ("partner_id", "partners")):
        owners = dict(stored[kind])
        if kind in frames:
            owners.update(zip(frames[kind][KEY[kind]], frames[kind]["school_id"], strict=True))
        who = SINGULAR[kind]
        wanted = frame[column]
        owner = _lookup(wanted.to_numpy(dtype=object), owners)
        school = frame["school_id"].to_numpy(dtype=object)
        named = wanted.notna().to_numpy()
        unknown = named & pd.isna(owner)
        elsewhere = named & ~unknown & pd.notna(school) & (owner != school)
        for i in np.flatnonzero(unknown | elsewhere):
            rid = wanted.iat[i]
            if unknown[i]:
                report.error(
                    *_where(frame, i, names), column, f"there is no {who} {rid!r} in the store or in this import"
                )
            else:
                report.error(
                    *_where(frame, i, names),
                    column,
                    f"{who} {rid!r} belongs to another school, not to {school[i]!r}",
                )


# ---------------------------------------------------------------- building the rows written

_DEFAULTS: dict[str, dict[str, object]] = {
    "schools": {"demo": False},
    "partners": {"status": "active"},
    "services": {"send_inclusive": False, "status": "active"},
    "families": {
        "pupils": 1,
        "pupil_premium": False,
        "send": False,
        "eal": False,
        "looked_after": False,
        "young_carer": False,
    },
    "interactions": {"direction": "to family"},
}


def _new_interaction_ids(n: int) -> list[str]:
    """``n`` fresh interaction references, as :func:`engagement.contacts.new_interaction_id` makes
    them (random, so two people logging at once never clash), from one call for random bytes."""
    raw = os.urandom(16 * n)
    return ["I-" + raw[i : i + 16].hex() for i in range(0, 16 * n, 16)]


def _lookup(values: np.ndarray, table: dict) -> np.ndarray:
    """Each value looked up in ``table`` (None when absent). A dictionary lookup per row: pandas'
    ``map`` would build a hash table the size of the column, for a few hundred distinct values."""
    get = table.get
    return np.fromiter((get(v) for v in values), dtype=object, count=len(values))


def _pick(where: np.ndarray, then: np.ndarray | Any, otherwise: np.ndarray) -> np.ndarray:
    """``np.where`` for object columns that copies nothing when ``where`` is all one way (a
    million new rows need no second copy of their columns)."""
    if not where.any():
        return otherwise
    if where.all() and isinstance(then, np.ndarray):
        return then
    if not isinstance(then, np.ndarray):
        then = np.full(len(where), then, dtype=object)
    return np.where(where, then, otherwise)


Records = dict[str, np.ndarray]


def _records(frame: pd.DataFrame, kind: str, existing: pd.DataFrame, present: dict[int, set[str]]) -> Records:
    """The rows to write, every column of the table (object arrays aligned with ``frame``). A
    column the file does not have keeps the stored value; a blank cell takes the format's default;
    coordinates left blank keep the stored ones while the postcode is the same (they are geocoded,
    not typed); a blank cell where the store holds empty text keeps the empty text."""
    typology = load_typology()
    table = db.TABLES[kind]
    defaults = _DEFAULTS[kind]
    n = len(frame)
    keys = frame[KEY[kind]].to_numpy(dtype=object)
    is_new = ~_ids(keys).isin(existing.index) if len(existing) else np.ones(n, dtype=bool)
    stored = existing.reindex(_ids(keys)) if not is_new.all() else None
    nothing = np.full(n, None, dtype=object)
    src = frame["_src"].to_numpy()

    def before_of(column: str) -> np.ndarray:
        if stored is None:
            return nothing
        values = stored[column].to_numpy(dtype=object)
        return _pick(pd.isna(values), None, values)

    out: Records = {}
    given: Records = {}
    has: dict[str, np.ndarray] = {}
    for column in (c.name for c in table.columns):
        file_value = frame[column].to_numpy(dtype=object) if column in frame else nothing
        before = before_of(column)
        in_file = np.isin(src, [s for s, cols in present.items() if column in cols])
        value = _pick(in_file, file_value, before)
        if column in defaults:
            value = _pick(pd.isna(value) & (in_file | is_new), defaults[column], value)
        if stored is not None:
            value = _pick(pd.isna(value) & ~is_new & (before == ""), "", value)
        out[column], given[column], has[column] = value, file_value, in_file
    if kind == "partners":
        layers = {c.name: c.layer for c in typology.categories}
        blank = pd.isna(out["layer"])
        if blank.any():
            out["layer"] = _pick(blank, _lookup(out["category"], layers), out["layer"])
        if stored is not None:
            # A check date that came in a file was not made by whoever last said "checked today".
            redated = ~is_new & np.array(
                [a != b for a, b in zip(out["last_verified"], before_of("last_verified"), strict=True)], dtype=bool
            )
            out["verified_by"] = _pick(redated, None, out["verified_by"])
    if kind == "interactions":
        channel = _lookup(out["activity"], {a.name: a.channel for a in typology.activities})
        two_way = _lookup(out["activity"], {a.name: a.two_way for a in typology.activities})
        out["channel"] = _pick(pd.isna(out["channel"]) | (out["channel"] == ""), channel, out["channel"])
        blank = pd.isna(out["two_way"]) | (has["two_way"] & pd.isna(given["two_way"]))
        out["two_way"] = _pick(blank, two_way, out["two_way"])
    if "latitude" in out and "postcode" in out and stored is not None:
        keep = (
            ~is_new & pd.isna(out["latitude"]) & pd.isna(out["longitude"]) & (out["postcode"] == before_of("postcode"))
        )
        out["latitude"] = _pick(keep, before_of("latitude"), out["latitude"])
        out["longitude"] = _pick(keep, before_of("longitude"), out["longitude"])
    return out


def _services_from_tags(
    conn: Connection, partners: pd.DataFrame | None, records: dict[str, Records], present: dict[int, set[str]]
) -> Records | None:
    """The services rows to write once the ``services`` tags of the batch's partners files are
    applied (after its services files: see the module's paragraph), or None when no partners file
    has that column. ``partners`` is the partners frame, aligned with ``records["partners"]``."""
    if partners is None or "services" not in partners:
        return None
    with_tags = np.isin(partners["_src"].to_numpy(), [s for s, cols in present.items() if "services" in cols])
    if not with_tags.any():
        return None
    columns = [c.name for c in db.services.c]
    people = records["partners"]
    current: dict[str, dict[str, dict[str, Any]]] = {}
    for row in db.rows_by_key(conn, "services", list(people["partner_id"][with_tags]), by="partner_id"):
        current.setdefault(row["partner_id"], {})[row["service_id"]] = row
    final: dict[str, dict[str, Any]] = {}
    given = records.get("services")
    described: set[str] = set()  # partners the batch's services files describe: the tags only add
    if given is not None:  # the batch's services files come first
        for i in range(len(given["service_id"])):
            row = {c: given[c][i] for c in columns}
            final[row["service_id"]] = current.setdefault(row["partner_id"], {})[row["service_id"]] = row
            described.add(row["partner_id"])
    tags = partners["services"].to_numpy(dtype=object)
    for at in np.flatnonzero(with_tags):
        pid = people["partner_id"][at]
        held = sorted(current.get(pid, {}).values(), key=lambda r: r["service_id"])
        for row in rows_for_tags(pid, people["name"][at], parse_list(tags[at]), held, pid not in described):
            final[row["service_id"]] = {c: row.get(c) for c in columns}
    if given is None and not final:
        return None
    out: Records = {}
    for c in columns:
        out[c] = np.empty(len(final), dtype=object)
        out[c][:] = [r[c] for r in final.values()]
    return out


@dataclass
class _KindPlan:
    """What an import will do to one table: the rows (every column), which are new, which changed
    and in which columns, and the stored rows they change (the before-images)."""

    kind: str
    records: Records
    new: np.ndarray
    changes: np.ndarray  # rows x columns: the value differs from the stored one
    insert_order: np.ndarray  # the new rows, in key order
    before: dict[str, dict[str, Any]]

    @property
    def keys(self) -> np.ndarray:
        return self.records[KEY[self.kind]]

    @property
    def changed(self) -> np.ndarray:
        return ~self.new & self.changes.any(axis=1)

    def counts(self) -> dict[str, int]:
        new, changed = int(self.new.sum()), int(self.changed.sum())
        return {"inserted": new, "updated": changed, "unchanged": len(self.new) - new - changed}


@dataclass
class _Plan:
    kinds: dict[str, _KindPlan]
    schools: set[tuple[str, bool]]  # the store's schools and whether each is a demo
    owners: dict[str, dict[str, str]]  # the stored owners of the families and partners named
    event_links: list[tuple[str, str]] = field(default_factory=list)  # (interaction, event) pairs
    audit: dict[str, Any] | None = None  # the import's audit row, made before the write


def _plan(
    report: ImportReport,
    conn: Connection,
    batch: _Batch,
    school_id: str | None,
    allowed_schools: Collection[str] | None,
    events_to_come: Collection[str] = (),
) -> _Plan | None:
    """Check the batch against the store as ``conn`` sees it and work out every row to write.
    None (with the problems reported) if the batch cannot go in."""
    frames = {k: _as_objects(f) for k, f in batch.frames.items()}  # the batch itself stays as read
    names = batch.names
    schools = {(s, bool(d)) for s, d in conn.execute(select(db.schools.c.school_id, db.schools.c.demo))}
    _resolve_schools(report, conn, frames, school_id, names)
    service_owners = _service_owners(report, conn, frames, names) if "services" in frames else {}
    if allowed_schools is not None:
        _check_allowed_schools(report, frames, allowed_schools, names)
    if "interactions" in frames:
        frame = frames["interactions"]
        missing = frame["interaction_id"].isna().to_numpy()
        if missing.any():
            ids = frame["interaction_id"].to_numpy(dtype=object, copy=True)
            ids[missing] = _new_interaction_ids(int(missing.sum()))
            frame["interaction_id"] = _objects(ids)
    existing = {}
    for k, frame in frames.items():
        # The ids of a kind are distinct already (_duplicates dropped the copies).
        existing[k] = db.frame_by_key(conn, k, frame[KEY[k]].dropna().tolist(), distinct=True)
        if k == "services":
            _check_service_partners(report, frame, existing[k], names)
        elif k != "schools":
            _check_owners(report, frame, k, existing[k], names)
    owners: dict[str, dict[str, str]] = {}
    event_links: list[tuple[str, str]] = []
    if "interactions" in frames:
        owners = _owners(conn, frames)
        _check_references(report, frames, owners, names)
        event_links = _event_links(report, conn, frames["interactions"], names, events_to_come)
    if service_owners:
        owners.setdefault("partners", {}).update(service_owners)
    if report.errors:
        return None
    all_records = {k: _records(frame, k, existing[k], batch.present) for k, frame in frames.items()}
    tagged = _services_from_tags(conn, frames.get("partners"), all_records, batch.present)
    if tagged is not None:
        all_records["services"] = tagged
        existing["services"] = db.frame_by_key(conn, "services", list(tagged["service_id"]), distinct=True)
    kinds = {}
    for k in KINDS:
        if k not in all_records:
            continue
        records = all_records[k]
        keys = records[KEY[k]]
        new = ~_ids(keys).isin(existing[k].index) if len(existing[k]) else np.ones(len(keys), dtype=bool)
        columns = list(records)
        changes = np.zeros((len(keys), len(columns)), dtype=bool)
        old = np.flatnonzero(~new)
        if len(old):
            stored = existing[k].reindex(_ids(keys[old]))
            for j, column in enumerate(columns):
                a, b = records[column][old], stored[column].to_numpy(dtype=object)
                changes[old, j] = np.array([x != y for x, y in zip(a, b, strict=True)], dtype=bool)
        if "version" in records:
            # New rows start at 1; a changed row's version goes up by one (a form opened before is refused).
            j = columns.index("version")
            version = np.array(records["version"], dtype=object, copy=True)
            version[new] = 1
            bumped = ~new & changes.any(axis=1)
            version[bumped] = [int(v or 1) + 1 for v in version[bumped]]
            changes[bumped, j] = True
            records["version"] = version
        # New rows go in in key order: each lands next to the last in the key's index.
        order = np.flatnonzero(new)
        order = order[np.argsort(keys[order], kind="stable")]
        plan = _KindPlan(k, records, new, changes, order, {})
        changed_ids = keys[plan.changed]
        images = existing[k].loc[_ids(changed_ids)].to_dict("records") if len(changed_ids) else []
        plan.before = dict(zip(changed_ids, images, strict=True))
        kinds[k] = plan
    return _Plan(kinds, schools, owners, event_links)


def _event_links(
    report: ImportReport,
    conn: Connection,
    frame: pd.DataFrame,
    names: list[str],
    events_to_come: Collection[str] = (),
) -> list[tuple[str, str]]:
    """The (interaction, event) pairs of the rows that name the event of a register: the event
    must be in the store (import events.csv first) and of the interaction's school, or one of
    ``events_to_come``, which an events.csv of the same command brings next: its register then
    takes these contacts on (:func:`engagement.events.register_in`). The column leaves the
    frame: it is not a column of the interactions table."""
    if "event_id" not in frame:
        return []
    wanted = frame.pop("event_id")
    named = wanted.notna().to_numpy().copy()
    if not named.any():
        return []
    asked = sorted(set(wanted[named]))
    stored = db.frame_by_key(conn, "events", asked, columns=["event_id", "school_id"])
    owners = dict(zip(stored["event_id"], stored["school_id"], strict=True))
    school = frame["school_id"].to_numpy(dtype=object)
    coming = set(events_to_come) - set(owners)
    for i in np.flatnonzero(named):
        event = wanted.iat[i]
        if event in coming:
            named[i] = False
        elif event not in owners:
            report.error(
                *_where(frame, frame.index[i], names),
                "event_id",
                f"there is no event {event!r} in the store: import events.csv first",
            )
        elif pd.notna(school[i]) and owners[event] != school[i]:
            report.error(
                *_where(frame, frame.index[i], names),
                "event_id",
                f"event {event!r} belongs to another school, not to {school[i]!r}",
            )
    _families_twice_on_a_register(report, conn, frame, wanted, names)
    ids = frame["interaction_id"].to_numpy(dtype=object)
    pairs = [(str(ids[i]), str(wanted.iat[i])) for i in np.flatnonzero(named)]
    # A re-imported export changes nothing: the pairs already stored are left out.
    stored = db.frame_by_key(conn, "event_contacts", [i for i, _ in pairs], columns=["interaction_id", "event_id"])
    stored_pairs = set(zip(stored["interaction_id"], stored["event_id"], strict=True))
    return [pair for pair in pairs if pair not in stored_pairs]


def _families_twice_on_a_register(
    report: ImportReport, conn: Connection, frame: pd.DataFrame, wanted: pd.Series, names: list[str]
) -> None:
    """A family is on an event's register once (the store's key): a row naming an event for a
    family that an earlier row of the file, or a contact the file leaves in place, already puts on
    that register is refused, naming the row it repeats."""
    if "family_id" not in frame:
        return
    both = wanted.notna() & frame["family_id"].notna()
    if not both.any():
        return
    pairs = pd.DataFrame({"event": wanted[both].astype(object), "family": frame.loc[both, "family_id"].astype(object)})
    first: dict[tuple[str, str], tuple[str, int]] = {}
    for i, event, family in pairs.itertuples(name=None):
        where = _where(frame, i, names)
        seen = first.setdefault((event, family), where)
        if seen != where:
            report.error(
                *where,
                "event_id",
                f"family {family!r} is on the register of event {event!r} already, by row {seen[1]}: "
                "a family is on a register once",
            )
    ec = db.event_contacts
    replaced = set(frame.loc[wanted.notna(), "interaction_id"].astype(object))
    events = sorted(set(pairs["event"]))
    for start in range(0, len(events), db.WRITE_CHUNK):
        stored = conn.execute(
            select(ec.c.event_id, ec.c.family_id, ec.c.interaction_id).where(
                ec.c.event_id.in_(events[start : start + db.WRITE_CHUNK]), ec.c.family_id.is_not(None)
            )
        )
        for event, family, contact in stored:
            if contact not in replaced and (event, family) in first:
                report.error(
                    *first[(event, family)],
                    "event_id",
                    f"family {family!r} is on the register of event {event!r} already (contact {contact!r}): "
                    "a family is on a register once",
                )


# ---------------------------------------------------------------- writing


def _still_as_checked(conn: Connection, plan: _Plan) -> bool:
    """Inside the write transaction, cheaply: are the schools, the rows about to be updated and the
    owners of the families and partners named still as the check saw them? (A row inserted
    meanwhile under an id the import adds makes the insert fail: that is checked again too.)"""
    schools = {(s, bool(d)) for s, d in conn.execute(select(db.schools.c.school_id, db.schools.c.demo))}
    if schools != plan.schools:
        return False
    for kind, kind_plan in plan.kinds.items():
        if kind_plan.before:
            now = {r[KEY[kind]]: r for r in db.rows_by_key(conn, kind, list(kind_plan.before))}
            if now != kind_plan.before:
                return False
    for kind, owners in plan.owners.items():
        if owners:
            stored = db.frame_by_key(conn, kind, list(owners), columns=[KEY[kind], "school_id"])
            if dict(zip(stored[KEY[kind]], stored["school_id"], strict=True)) != owners:
                return False
    return True


def _write(conn: Connection, plan: _Plan) -> None:
    """New rows by bulk insert (COPY on PostgreSQL); changed rows by one UPDATE per set of changed
    columns, setting only those, so an edit made meanwhile to another column of the row stays."""
    for kind in KINDS:
        if kind not in plan.kinds:
            continue
        p = plan.kinds[kind]
        if len(p.insert_order):
            db.bulk_insert(conn, kind, p.records, rows=p.insert_order)
        changed = np.flatnonzero(p.changed)
        if not len(changed):
            continue
        columns = list(p.records)
        patterns = pd.Series([p.changes[i].tobytes() for i in changed], dtype=object)
        for _, group in patterns.groupby(patterns, sort=False):
            rows = changed[group.index.to_numpy()]
            which = [c for j, c in enumerate(columns) if p.changes[rows[0], j]]
            db.bulk_update(conn, kind, list(p.keys[rows]), {c: p.records[c][rows] for c in which})
            if kind == "interactions" and "family_id" in which:
                db.refresh_event_families(conn, list(p.keys[rows]))
    if plan.event_links:
        # A contact is on one register at most: the file's event replaces any other.
        ec = db.event_contacts
        ids = [i for i, _ in plan.event_links]
        for start in range(0, len(ids), db.WRITE_CHUNK):
            conn.execute(ec.delete().where(ec.c.interaction_id.in_(ids[start : start + db.WRITE_CHUNK])))
        db.link_to_events(conn, plan.event_links)


def _audit_event(batch: _Batch, plan: _Plan, counts: dict[str, dict[str, int]]) -> dict[str, Any] | None:
    """The one audit row of an import, built before the write transaction: who and when are added
    as it is written. None when the import changes nothing (a re-imported export leaves no trace)."""
    changed = [k for k in KINDS if k in counts and (counts[k]["inserted"] or counts[k]["updated"])]
    if not changed and not plan.event_links:
        return None
    added = {}
    before = {}
    for k in changed:
        p = plan.kinds[k]
        if p.new.any():
            added[k] = p.keys[p.new].tolist()
        if p.before:
            before[k] = p.before
    detail = {
        "files": [{"name": s.name, "sha256": s.sha256, "bytes": s.size} for s in batch.sources],
        "counts": {k: counts[k] for k in KINDS if k in counts},
    }
    if plan.event_links:  # which contacts are on which register (the ids only)
        added["event_contacts"] = [f"{i}@{e}" for i, e in plan.event_links]
        changed = [*changed, "event_contacts"]
    return {
        "table_name": ",".join(changed),
        "before": db.to_json(before) if before else None,
        "after": db.to_json({"added": added}) if added else None,
        "detail": json.dumps(detail, ensure_ascii=False),
    }


# ---------------------------------------------------------------- the whole batch


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Reading makes millions of short lists and tuples and frees them as it goes, none in a cycle;
    Python's cycle collector would walk every live one again and again (a third of the time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _read(report: ImportReport, sources: list, kind: str | None) -> _Batch:
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    with _no_cycle_collection():
        return _read_batch(report, sources, kind)


def _check(report: ImportReport, batch: _Batch, conn: Connection, scope: Scope) -> _Plan | None:
    """Checked against a read of the store, outside the write transaction: the lock is held only
    to write (and to see that what was checked still holds). The audit row is made here too."""
    with _no_cycle_collection():
        plan = _plan(report, conn, batch, scope.school_id, scope.allowed_schools, scope.coming.get("events", ()))
    if plan is not None:
        report.counts = {k: p.counts() for k, p in plan.kinds.items()}
        plan.audit = _audit_event(batch, plan, report.counts)
    return plan


def _write_checked(report: ImportReport, batch: _Batch, plan: _Plan | None, conn: Connection, scope: Scope) -> None:
    if plan is None:
        plan = _check(report, batch, conn, scope)  # on the store as this transaction sees it
        if plan is None:
            raise Refusal
    elif not _still_as_checked(conn, plan):
        raise StoreChanged
    _write(conn, plan)
    if plan.audit is not None:
        db.audit(conn, "import", **plan.audit)


STEPS = Steps("records", KINDS, _read, _check, _write_checked)


def import_files(store: db.Store, paths, kind: str | None = None, **options) -> ImportReport:
    """Import a batch of files, all or nothing, in one transaction.

    ``paths`` are file paths, (name, bytes) pairs or uploaded files; ``kind`` applies to every
    file (else each kind is guessed from its name); ``school_id`` is the school of rows that do
    not name one. With ``dry_run`` the batch is only checked. ``allowed_schools`` (the schools
    of the signed-in account; ``None``: any) refuses rows of any other school. The report says
    what happened.
    """
    return run_one(STEPS, store, paths, kind, **options)


# ---------------------------------------------------------------- export

EXPORT_COLUMNS = {kind: [f.name for f in FORMATS[kind]] for kind in KINDS}


def _export_text(value):
    """A text cell as exported: safe in Excel, and empty text marked so it is written "" (a
    missing value is written as nothing)."""
    if value == "":
        return EMPTY_TEXT
    return excel_safe(value.replace(EMPTY_TEXT, "") if isinstance(value, str) else value)


def _export_frame(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for f in FORMATS[kind]:
        values = frame[f.name]
        if f.kind == "bool":
            out[f.name] = values.map(lambda v: "yes" if v else "no")
        elif f.kind in ("count", "layer"):
            out[f.name] = values.astype("Int64")
        elif f.kind in ("latitude", "longitude"):
            out[f.name] = values.astype("Float64")
        elif f.kind == "date":
            out[f.name] = values.map(lambda v: v.isoformat() if isinstance(v, datetime.date) else v)
        else:
            out[f.name] = values.map(_export_text)
    return out


def export_all(store: db.Store, directory, school_id: str | Collection[str] | None = None) -> list[Path]:
    """Write schools.csv, partners.csv, services.csv, families.csv and interactions.csv into
    ``directory`` in the import formats (plus school_id), UTF-8 with a BOM so Excel reads £ right,
    every text cell made safe for Excel, empty text written "" and a missing value as nothing.
    Re-importing them changes nothing, and importing them into an empty store gives the same rows.
    Returns the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with store.read() as conn:
        for kind in KINDS:
            table = db.TABLES[kind]
            order = [table.c.date, table.c[KEY[kind]]] if kind == "interactions" else [table.c[KEY[kind]]]
            # A partner's services column is not stored: it is the tags of its services; a
            # contact's event is its register's (a contact is on one register at most).
            linked = LINKED.get(kind, {})
            stored = [c for c in EXPORT_COLUMNS[kind] if c in table.c or c in linked]
            query = select(*(db.TABLES[linked[c]].c[c] if c in linked else table.c[c] for c in stored)).order_by(*order)
            for other in dict.fromkeys(linked.values()):
                joined = db.TABLES[other]
                query = query.outerjoin(joined, joined.c[KEY[kind]] == table.c[KEY[kind]])
            school = table.c.school_id if "school_id" in table.c else db.partners.c.school_id
            if kind == "services":  # a service's school is its partner's
                query = query.join(db.partners, db.partners.c.partner_id == table.c.partner_id)
            if isinstance(school_id, str):
                query = query.where(school == school_id)
            elif school_id is not None:  # the schools an account may see, no other
                query = query.where(school.in_(list(school_id)))
            path = directory / f"{kind}.csv"
            result = conn.execute(query.execution_options(yield_per=50_000))
            with open(path, "w", encoding="utf-8-sig", newline="") as out:
                header = True
                for chunk in result.partitions():
                    columns = list(zip(*chunk, strict=True))
                    frame = pd.DataFrame({c: _objects(v) for c, v in zip(stored, columns, strict=True)})
                    if kind == "partners":
                        tags = partner_tags(conn, list(frame["partner_id"]))
                        frame["services"] = _objects([tags.get(p) for p in frame["partner_id"]])
                        frame = frame[EXPORT_COLUMNS[kind]]
                    text = _export_frame(frame, kind).to_csv(index=False, header=header, lineterminator="\r\n")
                    out.write(text.replace(EMPTY_TEXT, '""'))
                    header = False
                if header:
                    out.write(",".join(EXPORT_COLUMNS[kind]) + "\r\n")
            written.append(path)
    return written


def template_path(kind: str) -> Path:
    """The example file of a kind under data/templates, for a school to copy."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return TEMPLATES_DIR / f"{kind}.csv"
