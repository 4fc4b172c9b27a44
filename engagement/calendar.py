"""A school's own calendar in the store: its terms and the holidays inside them, read as an
:class:`engagement.terms.Calendar` (the defaults for England fill the years the school has not
given), imported from ``terms.csv`` (FORMATS.md), edited on the Data page and exported.

An import is all-or-nothing, like every import: the file is checked whole and a problem is
reported with its row, column and reason (an unknown kind, a date that is not one, an end before
its start, two terms of a school that overlap, a holiday that lies inside none of its terms), and
then nothing is written. A file replaces the school's terms and holidays that fall within the
dates it covers and keeps the others, so a school can import each year's dates as it publishes
them. Saving from the Data page replaces the school's whole calendar, through the same checks.

>>> from engagement.store import open_store, schools
>>> store = open_store("sqlite://")
>>> with store.write(actor="doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="Oak School", postcode="B30 2AA"))
>>> text = b"kind,name,start,end\\nterm,autumn 2026,2026-09-02,2026-12-18\\nholiday,half-term,26/10/2026,30/10/2026\\n"
>>> print(import_terms(store, [("terms.csv", text)], actor="doctest").format())
Imported: terms.csv.
  Note: terms: 1 term and 1 holiday for school S1 (replacing 0 rows)
>>> load_calendar(store, "S1").term_of(datetime.date(2026, 11, 30)).name
'autumn 2026'
>>> bad = b"kind,name,start,end\\nterm,autumn,2026-09-02,2026-12-18\\nterm,spring,2026-12-01,2027-03-26\\n"
>>> print(import_terms(store, [("terms.csv", bad)], actor="doctest").format())
Nothing was imported: 1 problem in 1 file. The store is unchanged; fix the files and import again.
  terms.csv, row 3, start: the term 'spring' (1 Dec 2026 – 26 Mar 2027) overlaps the term 'autumn' \
(2 Sep – 18 Dec 2026) at row 2: a school's terms never overlap
"""

from __future__ import annotations

import csv
import datetime
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from engagement import store as db
from engagement.cells import excel_safe, parse_date
from engagement.imports.report import ImportReport
from engagement.imports.runner import Scope, header_and_rows, row_steps, run_one
from engagement.settings import Settings
from engagement.terms import Calendar, Holiday, Term, date_range_text, default_calendar, with_defaults

KIND = "terms"
COLUMNS = ("school_id", "kind", "name", "start", "end")
REQUIRED = ("kind", "name", "start", "end")
KINDS = ("term", "holiday")
NAME_LIMIT = 100


def is_terms_file(filename: str) -> bool:
    """Whether a file's name says it holds terms: terms.csv, 2026-terms.xlsx, term_dates.csv.

    >>> is_terms_file("terms.csv"), is_terms_file("Term dates 2026.xlsx"), is_terms_file("partners.csv")
    (True, True, False)
    """
    return bool({"terms", "term"} & set(re.findall(r"[a-z]+", Path(filename).stem.lower())))


# ---------------------------------------------------------------- reading the store


@dataclass(frozen=True)
class Row:
    """One term or holiday, as stored and as a file holds it; ``line`` is its spreadsheet row
    (None for a row already in the store or typed on the Data page)."""

    school_id: str
    kind: str
    name: str
    start: datetime.date
    end: datetime.date
    line: int | None = None

    def text(self) -> str:
        return f"the {self.kind} '{self.name}' ({date_range_text(self.start, self.end)})"


def stored_rows(store: db.Store, school_id: str | Collection[str] | None = None) -> list[Row]:
    """The terms and holidays in the store (of one school, of some, or of all), by school and date."""
    t = db.terms
    query = select(t.c.school_id, t.c.kind, t.c.name, t.c.start, t.c.end).order_by(
        t.c.school_id, t.c.start, t.c.kind.desc(), t.c.end
    )
    if isinstance(school_id, str):
        query = query.where(t.c.school_id == school_id)
    elif school_id is not None:
        query = query.where(t.c.school_id.in_(list(school_id)))
    with store.read() as conn:
        return [Row(*r) for r in conn.execute(query).all()]


def as_terms(rows: Iterable[Row]) -> list[Term]:
    """Terms with their holidays inside them (rows as checked: each holiday inside one term)."""
    rows = list(rows)
    terms = sorted((r for r in rows if r.kind == "term"), key=lambda r: r.start)
    out = []
    for term in terms:
        holidays = tuple(
            Holiday(h.name, h.start, h.end)
            for h in sorted(rows, key=lambda r: r.start)
            if h.kind == "holiday" and term.start <= h.start and h.end <= term.end
        )
        out.append(Term(term.name, term.start, term.end, holidays))
    return out


def load_calendar(store: db.Store, school_id: str, settings: Settings | None = None) -> Calendar:
    """The school's calendar: its own terms, and the defaults for England where it has none."""
    return with_defaults(as_terms(stored_rows(store, school_id)), default_calendar(settings))


# ---------------------------------------------------------------- checking rows


def _row_of(
    report: ImportReport, file: str, line: int | None, cells: dict[str, str], school_id: str | None
) -> Row | None:
    """One row's cells as a :class:`Row`, or None with each problem in the report."""
    problems = len(report.errors)
    kind = " ".join(cells.get("kind", "").lower().split())
    if not kind:
        report.error(file, line, "kind", "the kind is missing; every row needs one: term or holiday")
    elif kind not in KINDS:
        report.error(
            file,
            line,
            "kind",
            f"{cells['kind']!r} is not a kind of row: write term, or holiday "
            "(a half-term or other break inside a term)",
        )
    name = cells.get("name", "").strip()
    if not name:
        report.error(file, line, "name", "the name is missing; every row needs one, e.g. autumn 2026")
    elif len(name) > NAME_LIMIT:
        report.error(file, line, "name", f"is too long: {len(name)} characters, at most {NAME_LIMIT}")
    dates = {}
    for column in ("start", "end"):
        text = cells.get(column, "").strip()
        value = parse_date(text) if text else None
        if not text:
            report.error(file, line, column, f"the {column} is missing; every row needs one")
        elif value is None:
            report.error(file, line, column, f"{text!r} is not a date: write it as 2026-09-14 or 14/09/2026")
        dates[column] = value
    if dates["start"] and dates["end"] and dates["end"] < dates["start"]:
        report.error(
            file, line, "end", f"the end ({dates['end']:%d/%m/%Y}) is before the start ({dates['start']:%d/%m/%Y})"
        )
    start, end = dates["start"], dates["end"]
    if len(report.errors) > problems or school_id is None or start is None or end is None:
        return None
    return Row(school_id, kind, name, start, end, line)


def _where(row: Row) -> str:
    return f"at row {row.line}" if row.line else "already stored"


def check_calendar(report: ImportReport, file: str, rows: list[Row]) -> None:
    """The checks across one school's rows: terms never overlap, holidays never overlap, and each
    holiday lies inside one of the terms. Problems name the row of the file that causes them."""
    terms = sorted((r for r in rows if r.kind == "term"), key=lambda r: (r.start, r.line or 0))
    holidays = sorted((r for r in rows if r.kind == "holiday"), key=lambda r: (r.start, r.line or 0))
    for group, noun in ((terms, "terms"), (holidays, "holidays")):
        latest: Row | None = None
        for row in group:
            if latest is not None and row.start <= latest.end:
                culprit, other = (row, latest) if row.line else (latest, row)
                report.error(
                    file,
                    culprit.line,
                    "start",
                    f"{culprit.text()} overlaps {other.text()} {_where(other)}: a school's {noun} never overlap",
                )
            if latest is None or row.end > latest.end:
                latest = row
    for holiday in holidays:
        if not any(t.start <= holiday.start and holiday.end <= t.end for t in terms):
            inside = [t for t in terms if t.start <= holiday.end and holiday.start <= t.end]
            reason = (
                f"{holiday.text()} runs outside {inside[0].text()} {_where(inside[0])}"
                if inside
                else f"{holiday.text()} lies inside none of the school's terms"
            )
            report.error(
                file,
                holiday.line,
                "end" if inside and holiday.start >= inside[0].start else "start",
                reason + ": a holiday is a break inside one of the school's terms",
            )


# ---------------------------------------------------------------- import


def _school_for(
    report: ImportReport, conn, file: str, line: int, given: str, default: str | None, allowed: Collection[str] | None
) -> str | None:
    known = set(conn.execute(select(db.schools.c.school_id)).scalars())
    school = given or default
    if school is None:
        demo = set(conn.execute(select(db.schools.c.school_id).where(db.schools.c.demo)).scalars())
        if len(known) == 1 and not known & demo:
            school = next(iter(known))
        else:
            report.error(
                file,
                line,
                "school_id",
                "there is no school yet: import a schools file first"
                if not known
                else "school_id needed: the only school in the store is the demo school; choose your school "
                "(or add a school_id column)"
                if len(known) == 1
                else "school_id needed: the store holds several schools; add a school_id column or choose the school",
            )
            return None
    if school not in known:
        report.error(file, line, "school_id", f"there is no school {school!r} in the store")
        return None
    if allowed is not None and school not in set(allowed):
        report.error(file, line, "school_id", f"school {school!r} is not one of the schools your account may change")
        return None
    return school


def _cells_of_file(report: ImportReport, kind: str, table: list[list[str]], name: str) -> list[tuple]:
    """A terms file's rows as (file, row, cells by column), its header checked."""
    read = header_and_rows(report, name, KIND, table, REQUIRED, COLUMNS)
    if read is None:
        return []
    _, header, body = read
    return [
        (name, line, {h: (cells[j] if j < len(cells) else "") for j, h in enumerate(header) if h in COLUMNS})
        for line, cells in body
    ]


def _write(conn, school_id: str, rows: list[Row], replaced: list[Row], source: str) -> None:
    t = db.terms
    for old in replaced:
        conn.execute(
            t.delete().where(
                t.c.school_id == school_id,
                t.c.kind == old.kind,
                t.c.start == old.start,
                t.c.end == old.end,
                t.c.name == old.name,
            )
        )
    if rows:
        conn.execute(
            t.insert(),
            [{"school_id": r.school_id, "kind": r.kind, "name": r.name, "start": r.start, "end": r.end} for r in rows],
        )
    db.audit(
        conn,
        "import",
        "terms",
        school_id,
        detail=(f"{source}: {_counted(rows)} for school {school_id} (replacing {len(replaced)} rows)"),
    )


def _counted(rows: list[Row]) -> str:
    terms = sum(r.kind == "term" for r in rows)
    holidays = len(rows) - terms
    return f"{terms} term{'s' * (terms != 1)} and {holidays} holiday{'s' * (holidays != 1)}"


def _apply(report: ImportReport, files: list[list[tuple]], conn, scope: Scope, write: bool) -> None:
    """Each row's school and values; then, per school, the file's rows checked with the stored
    rows they keep, and (``write``) the stored rows they replace replaced."""
    by_school: dict[str, list[Row]] = {}
    first_file: dict[str, str] = {}
    for name, line, named in (cells for file in files for cells in file):
        school = _school_for(
            report, conn, name, line, named.get("school_id", ""), scope.school_id, scope.allowed_schools
        )
        row = _row_of(report, name, line, named, school)
        if row is not None:
            by_school.setdefault(row.school_id, []).append(row)
            first_file.setdefault(row.school_id, name)
    plans = []
    for school, rows in by_school.items():
        first, last = min(r.start for r in rows), max(r.end for r in rows)
        stored = stored_rows_in(conn, school)
        replaced = [r for r in stored if r.start <= last and r.end >= first]
        kept = [r for r in stored if r not in replaced]
        check_calendar(report, first_file[school], rows + kept)
        plans.append((school, rows, replaced))
    if report.errors:
        return
    for school, rows, replaced in plans:
        report.notes.append(f"terms: {_counted(rows)} for school {school} (replacing {len(replaced)} rows)")
        if write:
            _write(conn, school, rows, replaced, ", ".join(report.files))


# Every file given is a terms file, whatever its name; each school's import is audited with its counts.
STEPS = row_steps(
    "calendar", (KIND,), lambda name: KIND, "", _cells_of_file, _apply, audit=False, required={KIND: REQUIRED}
)


def import_terms(store: db.Store, sources, **options) -> ImportReport:
    """Import ``terms.csv`` files (paths, (name, bytes) pairs or uploaded files), all or nothing.

    For each school, the file's rows replace its stored terms and holidays that overlap the dates
    the file covers; the rest are kept and checked with them. ``school_id`` is the school of rows
    without one; ``allowed_schools`` (the signed-in account's; None: any) refuses rows of any
    other. With ``dry_run`` the files are only checked."""
    return run_one(STEPS, store, sources, **options)


def stored_rows_in(conn, school_id: str) -> list[Row]:
    """The school's stored rows, read in the caller's transaction (so what is checked is what is replaced)."""
    t = db.terms
    query = select(t.c.school_id, t.c.kind, t.c.name, t.c.start, t.c.end).where(t.c.school_id == school_id)
    return [Row(*r) for r in conn.execute(query).all()]


def save_terms(store: db.Store, school_id: str, rows: Iterable[dict], actor: str) -> ImportReport:
    """Replace the school's whole calendar with ``rows`` (dicts of kind, name, start, end, as the
    Data page's table gives them: dates or text), through the checks of an import. Problems name
    the table's row, counted from 1; nothing is written unless every row is right."""
    report = ImportReport(files=["the table of terms"])
    where = report.files[0]
    parsed = []
    for number, cells in enumerate(rows, start=1):
        if all(v is None or str(v).strip() == "" for v in cells.values()):
            continue  # a row the editor added and left empty
        text = {
            k: "" if v is None else (v.isoformat() if isinstance(v, datetime.date) else str(v))
            for k, v in cells.items()
        }
        row = _row_of(report, where, number, text, school_id)
        if row is not None:
            parsed.append(row)
    check_calendar(report, where, parsed)
    if report.errors:
        return report
    with store.write(actor) as conn:
        _write(conn, school_id, parsed, stored_rows_in(conn, school_id), "the Data page")
    report.notes.append(f"terms: {_counted(parsed)} for school {school_id}")
    return report


def editor_table(rows: list[Row], calendar: Calendar, today: datetime.date) -> pd.DataFrame:
    """The table the Data page edits: kind, name, start, end of the school's own rows, or, for a
    school on the defaults, this school year's default terms and holidays to start from.

    >>> table = editor_table([], default_calendar(), datetime.date(2026, 11, 30))
    >>> table.head(2).values.tolist()
    [['term', 'autumn 2026', datetime.date(2026, 9, 3), datetime.date(2026, 12, 18)], \
['holiday', 'autumn half-term', datetime.date(2026, 10, 26), datetime.date(2026, 10, 30)]]
    """
    rows = list(rows)
    if not rows:
        first = datetime.date(today.year if today.month >= 9 else today.year - 1, 9, 1)
        for term in calendar.terms_between(first, first.replace(year=first.year + 1) - datetime.timedelta(days=1)):
            rows.append(Row("", "term", term.name, term.start, term.end))
            rows += [Row("", "holiday", h.name, h.start, h.end) for h in term.holidays]
    return pd.DataFrame(
        [{"kind": r.kind, "name": r.name, "start": r.start, "end": r.end} for r in rows],
        columns=["kind", "name", "start", "end"],
    )


# ---------------------------------------------------------------- export


def export_terms(store: db.Store, directory, school_id: str | Collection[str] | None = None) -> Path:
    """Write ``terms.csv`` into ``directory``: the schools' own terms and holidays (none for a
    school on the defaults), in the import format, UTF-8 with a BOM, names made safe for Excel."""
    path = Path(directory) / "terms.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for r in stored_rows(store, school_id):
            writer.writerow(
                [excel_safe(r.school_id), r.kind, excel_safe(r.name), r.start.isoformat(), r.end.isoformat()]
            )
    return path
