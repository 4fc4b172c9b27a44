"""Import and export in the formats of shared/FORMATS.md: CSV (UTF-8 with or without BOM, or
Windows-1252) and XLSX, validated whole before anything is written, upserted by id in one
transaction, every change audited; exports safe to open in Excel.

A batch of files (schools, partners, families, interactions, in that order) is all-or-nothing:
every problem is collected as (file, row as a spreadsheet numbers it, column, reason) and, if
there is even one, the store is left exactly as it was.

>>> parse_date("14/09/2026"), parse_bool("Yes"), parse_list(" a; b ;;")
(datetime.date(2026, 9, 14), True, ['a', 'b'])
>>> excel_safe("=HYPERLINK(\\"http://x\\",\\"y\\")")
'\\'=HYPERLINK("http://x","y")'
>>> excel_unsafe(excel_safe("-1+2")), excel_unsafe("'tis")
('-1+2', "'tis")
>>> guess_kind("2026-partners-export.xlsx"), guess_kind("notes.csv") is None
('partners', True)
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import re
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Collection
from typing import Any, Callable, Iterable

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from engagement import store as db
from engagement.settings import load_settings
from engagement.typology import CHANNELS, PARTNER_LAYERS, PARTNER_STATUSES, load_typology

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UK = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
TRUE_WORDS = {"y", "yes", "true", "1"}
FALSE_WORDS = {"n", "no", "false", "0", ""}


def parse_date(text) -> datetime.date | None:
    """An ISO (2026-09-14) or UK (14/09/2026) date, or None when it is neither or not a real day."""
    if isinstance(text, datetime.datetime):
        return text.date()
    if isinstance(text, datetime.date):
        return text
    text = str(text).strip()
    try:
        if _ISO.match(text):
            return datetime.date.fromisoformat(text)
        m = _UK.match(text)
        if m:
            return datetime.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None
    return None


def parse_bool(text) -> bool | None:
    """Y/N, yes/no, true/false, 1/0 in any case, empty = no; None when it is none of those."""
    if isinstance(text, bool):
        return text
    if text is None:
        return False
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def parse_list(text) -> list[str]:
    """A ;-separated list, items trimmed, empties dropped."""
    if text is None:
        return []
    return [item.strip() for item in str(text).split(";") if item.strip()]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _looks_like_formula(value: str) -> bool:
    # A value already escaped once ("'=x") is escaped again, so that reading it back with
    # excel_unsafe gives exactly what was stored, whatever it was.
    while value.startswith("'"):
        value = value[1:]
    return value.startswith(FORMULA_STARTS)


def excel_safe(value):
    """A text cell that Excel would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and _looks_like_formula(value):
        return "'" + value
    return value


def excel_unsafe(value):
    """The inverse of :func:`excel_safe`, so re-importing an export changes nothing."""
    if isinstance(value, str) and value.startswith("'") and _looks_like_formula(value[1:]):
        return value[1:]
    return value


# ---------------------------------------------------------------- the formats

KINDS = ("schools", "partners", "families", "interactions")
PREFERRED_CHANNELS = ("in person", "phone", "digital", "letter")
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "data" / "templates"
MAX_PRINTED_ERRORS = 50


@dataclass(frozen=True)
class Field:
    """One column of a format: its name, how its text is read, and whether a file must have it."""
    name: str
    kind: str
    required: bool = False
    limit: int | None = None


FORMATS: dict[str, tuple[Field, ...]] = {
    "schools": (
        Field("school_id", "text", True, 64), Field("name", "text", True, 200),
        Field("postcode", "text", True, 16), Field("latitude", "latitude"), Field("longitude", "longitude"),
        Field("pupils", "count"), Field("staff", "count"),
    ),
    "partners": (
        Field("partner_id", "text", True, 64), Field("school_id", "text", False, 64),
        Field("name", "text", True, 300), Field("category", "category", True), Field("layer", "layer"),
        Field("address", "text"), Field("postcode", "text", False, 16),
        Field("latitude", "latitude"), Field("longitude", "longitude"),
        Field("contact_name", "text", False, 200), Field("contact_email", "text", False, 200),
        Field("contact_phone", "text", False, 50), Field("services", "list"), Field("status", "status"),
        Field("since", "date"), Field("last_verified", "date"), Field("notes", "text"),
    ),
    "families": (
        Field("family_id", "text", True, 64), Field("school_id", "text", False, 64),
        Field("postcode", "text", False, 16), Field("pupils", "count"), Field("year_groups", "list", False, 100),
        Field("pupil_premium", "bool"), Field("send", "bool"), Field("eal", "bool"),
        Field("looked_after", "bool"), Field("young_carer", "bool"), Field("needs", "list"),
        Field("preferred_channel", "preferred_channel"), Field("language", "text", False, 60),
    ),
    "interactions": (
        Field("interaction_id", "text", False, 64), Field("school_id", "text", False, 64),
        Field("date", "date", True), Field("family_id", "text", False, 64),
        Field("partner_id", "text", False, 64), Field("activity", "activity", True),
        Field("channel", "channel"), Field("two_way", "bool"),
        Field("staff", "text", False, 200), Field("notes", "text"),
    ),
}
KEY = {"schools": "school_id", "partners": "partner_id", "families": "family_id",
       "interactions": "interaction_id"}
SINGULAR = {"schools": "school", "partners": "partner", "families": "family", "interactions": "interaction"}


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

def _shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out.

    >>> _shorten("x" * 500, 20)
    'xxxxxxxxxx… (490 more characters)'
    """
    if len(text) <= limit:
        return text
    keep = max(limit // 2, 1)
    return f"{text[:keep]}… ({len(text) - keep:,} more characters)"


@dataclass(frozen=True)
class Problem:
    """One reason a batch was refused. ``row`` is the spreadsheet row (the header is row 1)."""
    file: str
    row: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = [self.file] + ([f"row {self.row}"] if self.row else []) + ([self.column] if self.column else [])
        return f"{', '.join(where)}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did, or why it did nothing."""
    files: list[str] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, file: str, row: int | None, column: str | None, reason: str) -> None:
        # A report quotes what it refuses; a 300 MB header must not become a 300 MB report.
        self.errors.append(Problem(_shorten(file, 120), row, None if column is None else _shorten(column, 60),
                                   _shorten(reason, 400)))

    def errors_frame(self) -> pd.DataFrame:
        """The problems as a table (file, row, column, reason), for a page to show."""
        return pd.DataFrame([vars(p) for p in self.errors], columns=["file", "row", "column", "reason"])

    def rows(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def format(self, limit: int = MAX_PRINTED_ERRORS) -> str:
        """A readable account: counts per kind, or the first ``limit`` problems."""
        if not self.files:
            return "No files were given."
        lines = []
        if self.errors:
            n, files = len(self.errors), len({p.file for p in self.errors})
            lines.append(f"Nothing was imported: {n} problem{'s' * (n != 1)} in {files} "
                         f"file{'s' * (files != 1)}. The store is unchanged; fix the files and import again.")
            lines += [f"  {p}" for p in self.errors[:limit]]
            if n > limit:
                lines.append(f"  ... and {n - limit} more.")
        else:
            verb = "Checked (nothing written)" if self.dry_run else "Imported"
            lines.append(f"{verb}: {', '.join(self.files)}.")
            for kind in KINDS:
                if kind in self.counts:
                    c = self.counts[kind]
                    new, updated = ("to add", "to update") if self.dry_run else ("new", "updated")
                    lines.append(f"  {kind}: {c['inserted']} {new}, {c['updated']} {updated}, "
                                 f"{c['unchanged']} unchanged")
        lines += [f"  Note: {note}" for note in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------- reading a file into text cells

class _Refused(Exception):
    """A file that cannot be read at all; the message is the reason."""


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")        # strict: Windows-1252 bytes fail here
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                raise _Refused("the file is not text (it is neither UTF-8 nor Windows-1252): "
                               "save it as CSV or XLSX") from None
    if _CONTROL.search(text):
        raise _Refused("the file is not text (it holds binary bytes): save it as CSV or XLSX")
    return text


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would have held."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))                     # Excel stores every number as a float
    return str(value)


def _read_rows(name: str, data: bytes) -> list[list[str]]:
    """Every row of the file (blank ones included, so row numbers match a spreadsheet's)."""
    if not data.strip():
        raise _Refused("the file is empty: it needs a header row and rows of data")
    _check_size(len(data))
    limits = load_settings().imports
    suffix = Path(name).suffix.lower()
    if suffix in (".xlsx", ".xlsm") or (suffix not in (".csv", ".txt") and data.startswith(b"PK\x03\x04")):
        _check_workbook(data)
        try:
            sheet = pd.read_excel(io.BytesIO(data), sheet_name=0, header=None, dtype=object, engine="openpyxl")
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
            raise _Refused(f"the file is not a readable Excel workbook ({type(exc).__name__}): "
                           "save it again as .xlsx or CSV") from None
        rows = [[_cell_text(v) for v in row] for row in sheet.itertuples(index=False, name=None)]
        _check_rows(rows, limits.max_rows, limits.max_cell_chars)
        return rows
    if suffix == ".xls":
        raise _Refused("old Excel files (.xls) are not read: save it as .xlsx or CSV")
    text = _decode(data)
    first = next((line for line in text.splitlines() if line.strip()), "")
    # Excel in some locales writes ";" or tab between cells; the header row tells which.
    delimiter = max((",", ";", "\t"), key=first.count) if first.count(",") == 0 else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    saved_limit = csv.field_size_limit(limits.max_cell_chars)
    try:
        rows = list(reader)
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _Refused(_too_long(reader.line_num, limits.max_cell_chars)) from None
        raise _Refused(f"the file is not valid CSV: {exc}") from None
    finally:
        csv.field_size_limit(saved_limit)
    _check_rows(rows, limits.max_rows, None)
    return rows


def _too_long(row: int, limit: int) -> str:
    return (f"row {row} has a cell of more than {limit:,} characters (a stray quote mark can make the rest of the "
            "file one cell): check that row's quotes, or shorten the text")


def _check_rows(rows: list[list[str]], max_rows: int, max_cell_chars: int | None) -> None:
    if len(rows) > max_rows + 1:
        raise _Refused(f"the file has {len(rows) - 1:,} rows, over the limit of {max_rows:,}: split it into several files")
    if max_cell_chars is not None:
        for number, row in enumerate(rows, start=1):
            if any(len(cell) > max_cell_chars for cell in row):
                raise _Refused(_too_long(number, max_cell_chars))


def _clean(cell: str) -> str:
    return excel_unsafe(cell.strip())


def _table(report: ImportReport, name: str, data: bytes, kind: str) -> pd.DataFrame | None:
    """The file as a frame of cleaned text, one column per known header, plus ``_row``."""
    try:
        rows = _read_rows(name, data)
    except _Refused as exc:
        report.error(name, None, None, str(exc))
        return None
    numbered = [(i, [_clean(c) for c in row]) for i, row in enumerate(rows, start=1)]
    numbered = [(i, cells) for i, cells in numbered if any(cells)]
    if not numbered:
        report.error(name, None, None, "the file is empty: it needs a header row and rows of data")
        return None
    header_row, header = numbered[0]
    header = [h.strip().lower() for h in header]
    known = {f.name for f in FORMATS[kind]}
    errors_before = len(report.errors)
    seen: set[str] = set()
    for h in header:
        if h and h in seen:
            report.error(name, header_row, h, f"the column {h!r} appears twice in the header")
        seen.add(h)
    for f in FORMATS[kind]:
        if f.required and f.name not in seen:
            report.error(name, header_row, f.name,
                         f"the required column {f.name!r} is missing (a {kind} file needs "
                         f"{', '.join(x.name for x in FORMATS[kind] if x.required)}; "
                         f"found: {', '.join(h for h in header if h) or 'nothing'})")
    if kind == "interactions" and not {"family_id", "partner_id"} & seen:
        report.error(name, header_row, "family_id",
                     "an interactions file needs a family_id or a partner_id column (or both)")
    ignored = [h for h in header if h and h not in known]
    if ignored:
        report.notes.append(f"{name}: columns not in the {kind} format were ignored: {', '.join(ignored)}")
    if len(report.errors) > errors_before:
        return None
    width = len(header)
    body = numbered[1:]
    for i, cells in body:
        if len(cells) > width and any(cells[width:]):
            report.error(name, i, None, f"the row has {len(cells)} cells but the header names only {width} columns")
    columns = {h: j for j, h in enumerate(header) if h in known}
    frame = pd.DataFrame(
        {h: [cells[j] if j < len(cells) else "" for _, cells in body] for h, j in columns.items()},
        dtype=object, index=pd.RangeIndex(len(body)),
    )
    frame["_row"] = [i for i, _ in body]
    frame["_file"] = name
    return frame


# ---------------------------------------------------------------- reading cells into values

class _Bad:
    """A reason a cell was refused, travelling in the cell's place through a pandas column
    (not a str subclass: pandas would turn it back into a plain str)."""
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
        return value if value is not None else _Bad(
            f"{text!r} is not a date: write it as 2026-09-14 or 14/09/2026")

    def boolean(text):
        value = parse_bool(text)
        return value if value is not None else _Bad(f"{text!r} is not yes or no (Y/N, yes/no, true/false, 1/0)")

    def choice(options, what):
        def read(text):
            key = " ".join(text.lower().split())
            return key if key in options else _Bad(f"{text!r} is not a {what}. Choose one of: {', '.join(options)}.")
        return read

    def category(text):
        found = typology.category(text)
        return found.name if found else _Bad(
            f"{text!r} is not a category of the typology. " + _known_list("categories", typology.category_names()))

    def activity(text):
        found = typology.activity(text)
        return found.name if found else _Bad(
            f"{text!r} is not an activity of the catalogue. " + _known_list("activities", typology.activity_names()))

    def layer(text):
        value = count(text)
        return value if value in PARTNER_LAYERS else _Bad(f"{text!r} is not a layer: a partner is in layer 2, 3 or 4")

    return {
        "text": str, "count": count, "latitude": coordinate(90, "latitude"),
        "longitude": coordinate(180, "longitude"), "date": date, "bool": boolean,
        "list": lambda text: ";".join(parse_list(text)), "category": category, "activity": activity,
        "layer": layer, "status": choice(PARTNER_STATUSES, "partner status"), "channel": choice(CHANNELS, "channel"),
        "preferred_channel": choice(PREFERRED_CHANNELS, "preferred channel"),
    }


def _convert(report: ImportReport, frame: pd.DataFrame, kind: str, converters) -> pd.DataFrame:
    """Typed values in place of text; blank cells become None. Problems go to the report."""
    out = pd.DataFrame({"_row": frame["_row"], "_file": frame["_file"]})
    for f in FORMATS[kind]:
        if f.name not in frame:
            out[f.name] = pd.Series(None, index=frame.index, dtype=object)
            continue
        text = frame[f.name]
        blank = text.eq("")
        values = pd.Series(None, index=frame.index, dtype=object)
        values[~blank] = text[~blank].map(converters[f.kind])
        bad = values.map(lambda v: isinstance(v, _Bad))
        if f.limit:
            long = ~bad & values.map(lambda v: isinstance(v, str) and len(v) > f.limit)
            values[long] = [_Bad(f"is too long: {len(v)} characters, at most {f.limit}") for v in values[long]]
            bad |= long
        if f.required:
            values[blank] = _Bad(f"the {f.name} is missing; every row needs one")
            bad |= blank
        shown_list = False
        for row, file, reason in zip(frame["_row"][bad], frame["_file"][bad], values[bad]):
            if f.kind in ("category", "activity") and shown_list:
                # The full list of known names once per column is enough.
                reason = _Bad(reason.reason.split(". Known")[0] + " (the known ones are listed above).")
            shown_list = shown_list or f.kind in ("category", "activity")
            report.error(file, int(row), f.name, reason.reason)
        values[bad] = None
        out[f.name] = values
    return out


# ---------------------------------------------------------------- checks across rows, files and the store

def _where(frame: pd.DataFrame, i) -> tuple[str, int]:
    return frame.at[i, "_file"], int(frame.at[i, "_row"])


def _existing(conn: Connection, kind: str, ids: list[str]) -> dict[str, dict]:
    table, key = db.TABLES[kind], KEY[kind]
    found: dict[str, dict] = {}
    unique = list(dict.fromkeys(i for i in ids if i))
    for start in range(0, len(unique), 500):
        for row in conn.execute(select(table).where(table.c[key].in_(unique[start:start + 500]))).mappings():
            found[row[key]] = dict(row)
    return found


def _duplicates(report: ImportReport, frame: pd.DataFrame, key: str) -> pd.DataFrame:
    ids = frame[key]
    dup = ids.notna() & ids.duplicated(keep=False)
    if not dup.any():
        return frame
    later = dup & ids.duplicated(keep="first")
    first_at = {v: _where(frame, i) for i, v in ids[dup & ~later].items()}
    for i in frame.index[later]:
        file, row = _where(frame, i)
        where_first = first_at[ids[i]]
        place = f"row {where_first[1]}" + ("" if where_first[0] == file else f" of {where_first[0]}")
        report.error(file, row, key, f"{key} {ids[i]!r} appears twice: already at {place}")
    # Later copies go, so the checks that follow report each problem once.
    return frame.drop(frame.index[later])


def _resolve_schools(report, conn, frames, school_id) -> set[str]:
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
        why_not = ("school_id needed: the only school in the store is the demo school; import your schools.csv "
                   "first (or with this file), so that your rows go to your own school")
    elif not known:
        why_not = "there is no school yet: import a schools file first (or with this one)"
    else:
        why_not = ("school_id needed: the store holds several schools; add a school_id column "
                   "or choose the school the rows belong to")
    for kind in ("partners", "families", "interactions"):
        if kind not in frames:
            continue
        frame = frames[kind]
        given = frame["school_id"] if "school_id" in frame else pd.Series(None, index=frame.index, dtype=object)
        unknown = given.notna() & ~given.isin(known)
        for i in frame.index[unknown]:
            report.error(*_where(frame, i), "school_id",
                         f"there is no school {given[i]!r} in the store or in this import")
        missing = given.isna()
        if missing.any() and fallback is None:
            for file in frame.loc[missing, "_file"].unique():
                rows = frame.loc[missing & (frame["_file"] == file), "_row"]
                report.error(file, int(rows.iloc[0]), "school_id", why_not
                             + (f" ({len(rows)} rows have no school_id)" if len(rows) > 1 else ""))
        frame["school_id"] = given.where(~missing, fallback)
    return known


def _check_owners(report, frame: pd.DataFrame, kind: str, existing: dict[str, dict]) -> None:
    """A partner, family or interaction belongs to one school; an import does not move it."""
    key = KEY[kind]
    for i, rid, school in zip(frame.index, frame[key], frame["school_id"]):
        before = existing.get(rid)
        if before is not None and school is not None and before["school_id"] != school:
            report.error(*_where(frame, i), "school_id",
                         f"{SINGULAR[kind]} {rid!r} already belongs to school {before['school_id']!r}, not {school!r}")


def _check_references(report, conn, frames) -> None:
    """Each interaction names exactly one family or partner, known to the store or this batch,
    of the interaction's own school."""
    frame = frames["interactions"]
    for column in ("family_id", "partner_id"):
        if column not in frame:
            frame[column] = None
    fam, par = frame["family_id"].notna(), frame["partner_id"].notna()
    for i in frame.index[fam & par]:
        report.error(*_where(frame, i), "family_id",
                     "an interaction is with one family or one partner, not both: leave one of them empty")
    for i in frame.index[~fam & ~par]:
        report.error(*_where(frame, i), "family_id",
                     "an interaction needs a family_id or a partner_id: both are empty")
    for column, kind in (("family_id", "families"), ("partner_id", "partners")):
        wanted = frame[column].dropna()
        owners = {rid: r["school_id"] for rid, r in _existing(conn, kind, list(wanted.unique())).items()}
        if kind in frames:
            owners.update(zip(frames[kind][KEY[kind]], frames[kind]["school_id"]))
        who = SINGULAR[kind]
        for i, rid in wanted.items():
            school = frame.at[i, "school_id"]
            if rid not in owners:
                report.error(*_where(frame, i), column,
                             f"there is no {who} {rid!r} in the store or in this import")
            elif school is not None and owners[rid] != school:
                report.error(*_where(frame, i), column,
                             f"{who} {rid!r} belongs to school {owners[rid]!r}, not to {school!r}")


def _check_coordinates(report, frame: pd.DataFrame) -> None:
    if "latitude" not in frame and "longitude" not in frame:
        return
    lat = frame["latitude"] if "latitude" in frame else pd.Series(None, index=frame.index, dtype=object)
    lon = frame["longitude"] if "longitude" in frame else pd.Series(None, index=frame.index, dtype=object)
    for i in frame.index[lat.isna() != lon.isna()]:
        column = "longitude" if lon.isna()[i] else "latitude"
        report.error(*_where(frame, i), column, "a latitude needs its longitude and the other way round")


# ---------------------------------------------------------------- building the rows written

_DEFAULTS: dict[str, dict[str, object]] = {
    "schools": {"demo": False},
    "partners": {"status": "active"},
    "families": {"pupils": 1, "pupil_premium": False, "send": False, "eal": False,
                 "looked_after": False, "young_carer": False},
    "interactions": {},
}


def _records(frame: pd.DataFrame, kind: str, existing: dict[str, dict], present: set[str]) -> list[dict]:
    """Full rows for :func:`engagement.store.upsert`. A column the file does not have keeps the
    stored value; a blank cell takes the format's default; coordinates left blank keep the
    stored ones while the postcode is the same (they are geocoded, not typed)."""
    typology = load_typology()
    table = db.TABLES[kind]
    columns = [c.name for c in table.columns]
    defaults = _DEFAULTS[kind]
    out = []
    for rec in frame.drop(columns=["_row", "_file"]).to_dict("records"):
        rec = {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else v) for k, v in rec.items()}
        if kind == "interactions" and rec.get("interaction_id") is None:
            from engagement.contacts import new_interaction_id
            rec["interaction_id"] = new_interaction_id()
        before = existing.get(rec[KEY[kind]])
        row = {}
        for column in columns:
            if column in present and column in rec:
                value = rec[column]
            elif before is not None:
                value = before.get(column)
            else:
                value = None
            if value is None and column in defaults and (column in present or before is None):
                value = defaults[column]
            if value is None and before is not None and before.get(column) == "":
                value = ""                         # an empty cell and an empty text are the same

            row[column] = value
        if kind == "partners" and row["layer"] is None:
            category = typology.category(row["category"])
            if category is None:  # not reached: _validate refused every row without a known category
                raise ValueError(f"{row['category']!r} is not a category of the typology")
            row["layer"] = category.layer
        if kind == "interactions":
            activity = typology.activity(row["activity"])
            if activity is None:  # not reached: _validate refused every row without a known activity
                raise ValueError(f"{row['activity']!r} is not an activity of the catalogue")
            row["channel"] = row["channel"] or activity.channel
            if row["two_way"] is None or ("two_way" in present and rec.get("two_way") is None):
                row["two_way"] = activity.two_way
        if (before is not None and "latitude" in row and row["latitude"] is None and row["longitude"] is None
                and row.get("postcode") == before.get("postcode")):
            row["latitude"], row["longitude"] = before.get("latitude"), before.get("longitude")
        out.append(row)
    return out


# ---------------------------------------------------------------- the whole batch

def _source(item) -> tuple[str, bytes]:
    """A file to import as (name, bytes): a path, a (name, bytes) pair, or an uploaded file. A path
    that is not a regular file (a FIFO would block for ever) or is over the size limit is refused
    before a byte is read."""
    if isinstance(item, tuple):
        return str(item[0]), bytes(item[1])
    if hasattr(item, "getvalue"):
        return str(item.name), bytes(item.getvalue())
    path = Path(item)
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise _Refused("it is not a regular file (a folder, pipe or device): give the path of a CSV or XLSX file")
    _check_size(info.st_size)
    return path.name, path.read_bytes()


def _check_size(size: int) -> None:
    limit = load_settings().imports.max_file_mb
    if size > limit * 1_000_000:
        raise _Refused(f"the file is {size / 1_000_000:,.0f} MB, over the limit of {limit:g} MB: "
                       "split it into several files")


def _check_workbook(data: bytes) -> None:
    """Refuse an .xlsx that would unpack to far more than it holds, before openpyxl opens it."""
    limits = load_settings().imports
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        return  # not a ZIP at all: openpyxl's own refusal says so
    if unpacked > limits.max_unpacked_mb * 1_000_000 or unpacked > limits.max_unpack_ratio * max(len(data), 1):
        raise _Refused(f"the workbook would unpack to {unpacked / 1_000_000:,.0f} MB from {len(data) / 1_000_000:,.1f} MB; "
                       "it is refused unopened. Save the sheet as CSV and import that")


def _check_allowed_schools(report: ImportReport, merged: dict[str, pd.DataFrame], allowed: Collection[str]) -> None:
    """Staff of one school import rows for their own schools only."""
    for kind, frame in merged.items():
        outside = frame["school_id"].notna() & ~frame["school_id"].isin(set(allowed))
        for i in frame.index[outside][:MAX_PRINTED_ERRORS]:
            report.error(*_where(frame, i), "school_id",
                         f"school {frame.at[i, 'school_id']!r} is not one of the schools your account may change")


def _validate(report: ImportReport, conn: Connection, sources, kind: str | None, school_id: str | None,
              allowed_schools: Collection[str] | None = None):
    converters = _converters()
    frames: dict[str, list[pd.DataFrame]] = {}
    present: dict[str, set[str]] = {}
    for item in sources:
        try:
            name, data = _source(item)
        except OSError as exc:
            report.files.append(str(item))
            report.error(str(item), None, None, f"the file cannot be read: {exc.strerror or exc}")
            continue
        except _Refused as refused:
            report.files.append(Path(str(item)).name)
            report.error(Path(str(item)).name, None, None, str(refused))
            continue
        report.files.append(name)
        file_kind = kind or guess_kind(name)
        if file_kind is None:
            report.error(name, None, None, "cannot tell what this file holds from its name: call it "
                         "schools, partners, families or interactions (e.g. partners.csv) or choose the kind")
            continue
        text = _table(report, name, data, file_kind)
        if text is None:
            continue
        # The id, the school and (for interactions) who it was with are always written whole.
        always = {KEY[file_kind]} | ({"school_id"} if file_kind != "schools" else set()) | (
            {"family_id", "partner_id"} if file_kind == "interactions" else set())
        present.setdefault(file_kind, set()).update({c for c in text.columns if not c.startswith("_")} | always)
        frames.setdefault(file_kind, []).append(_convert(report, text, file_kind, converters))
    merged = {k: pd.concat(frames[k], ignore_index=True) for k in KINDS if k in frames}
    for k in merged:
        merged[k] = _duplicates(report, merged[k], KEY[k])
        if k in ("schools", "partners"):
            _check_coordinates(report, merged[k])
    if not merged:
        return merged, present, {}
    _resolve_schools(report, conn, merged, school_id)
    if allowed_schools is not None:
        _check_allowed_schools(report, merged, allowed_schools)
    existing = {}
    for k, frame in merged.items():
        existing[k] = _existing(conn, k, list(frame[KEY[k]].dropna()))
        if k != "schools":
            _check_owners(report, frame, k, existing[k])
    if "interactions" in merged:
        _check_references(report, conn, merged)
    return merged, present, existing


def _compare(rows: list[dict], existing: dict[str, dict], key: str) -> dict[str, int]:
    """What :func:`engagement.store.upsert` would do with ``rows``, without doing it."""
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        before = existing.get(row[key])
        state = ("inserted" if before is None
                 else "updated" if any(before.get(k) != v for k, v in row.items()) else "unchanged")
        counts[state] += 1
    return counts


class _RollBack(Exception):
    pass


def import_files(store: db.Store, paths, kind: str | None = None, actor: str = "import",
                 school_id: str | None = None, dry_run: bool = False,
                 allowed_schools: Collection[str] | None = None) -> ImportReport:
    """Import a batch of files, all or nothing, in one transaction.

    ``paths`` are file paths, (name, bytes) pairs or uploaded files; ``kind`` applies to every
    file (else each kind is guessed from its name); ``school_id`` is the school of rows that do
    not name one. With ``dry_run`` the batch is only checked. ``allowed_schools`` (the schools
    of the signed-in account; ``None``: any) refuses rows of any other school. The report says
    what happened.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    report = ImportReport(dry_run=dry_run)
    single = isinstance(paths, (str, Path)) or (isinstance(paths, tuple) and len(paths) == 2
                                                 and isinstance(paths[1], (bytes, bytearray)))
    sources = [paths] if single else list(paths)
    if dry_run:
        with store.read() as conn:
            merged, present, existing = _validate(report, conn, sources, kind, school_id, allowed_schools)
            if not report.errors:
                for k in KINDS:
                    if k in merged:
                        report.counts[k] = _compare(_records(merged[k], k, existing[k], present[k]),
                                                    existing[k], KEY[k])
        return report
    try:
        # Checked inside the write transaction, so what was checked is what is written.
        with store.write(actor) as conn:
            merged, present, existing = _validate(report, conn, sources, kind, school_id, allowed_schools)
            if report.errors:
                raise _RollBack
            for k in KINDS:
                if k in merged:
                    rows = _records(merged[k], k, existing[k], present[k])
                    report.counts[k] = db.upsert(conn, k, rows)
            changed = {k: c for k, c in report.counts.items() if c["inserted"] or c["updated"]}
            if changed:
                db.audit(conn, "import", ",".join(changed), detail="; ".join(
                    [", ".join(report.files)] + [f"{k}: {c['inserted']} new, {c['updated']} updated"
                                                 for k, c in changed.items()]))
    except _RollBack:
        report.counts = {}
    except SQLAlchemyError as exc:
        report.counts = {}
        report.error(", ".join(report.files), None, None,
                     f"the database refused the import, so nothing was written: {exc.orig if hasattr(exc, 'orig') else exc}")
    return report


# ---------------------------------------------------------------- export

EXPORT_COLUMNS = {kind: [f.name for f in FORMATS[kind]] for kind in KINDS}


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
            out[f.name] = values.map(excel_safe)
    return out


def export_all(store: db.Store, directory, school_id: str | Collection[str] | None = None) -> list[Path]:
    """Write schools.csv, partners.csv, families.csv and interactions.csv into ``directory`` in
    the import formats (plus school_id), UTF-8 with a BOM so Excel reads £ right, every text cell
    made safe for Excel. Re-importing them changes nothing. Returns the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    with store.read() as conn:
        for kind in KINDS:
            table = db.TABLES[kind]
            order = [table.c.date, table.c[KEY[kind]]] if kind == "interactions" else [table.c[KEY[kind]]]
            query = select(*(table.c[c] for c in EXPORT_COLUMNS[kind])).order_by(*order)
            if isinstance(school_id, str):
                query = query.where(table.c.school_id == school_id)
            elif school_id is not None:  # the schools an account may see, no other
                query = query.where(table.c.school_id.in_(list(school_id)))
            path = directory / f"{kind}.csv"
            result = conn.execute(query.execution_options(yield_per=50_000))
            with open(path, "w", encoding="utf-8-sig", newline="") as out:
                header = True
                for chunk in result.mappings().partitions():
                    frame = pd.DataFrame([dict(r) for r in chunk], columns=EXPORT_COLUMNS[kind], dtype=object)
                    _export_frame(frame, kind).to_csv(out, index=False, header=header, lineterminator="\r\n")
                    header = False
                if header:
                    out.write(",".join(EXPORT_COLUMNS[kind]) + "\r\n")
            written.append(path)
    return written


def export_zip(store: db.Store, school_id: str | Collection[str] | None = None) -> bytes:
    """The four export CSVs in one ZIP file, for a download button."""
    with tempfile.TemporaryDirectory() as tmp:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in export_all(store, tmp, school_id=school_id):
                archive.write(path, arcname=path.name)
    return buffer.getvalue()


def template_path(kind: str) -> Path:
    """The example file of a kind under data/templates, for a school to copy."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    return TEMPLATES_DIR / f"{kind}.csv"
