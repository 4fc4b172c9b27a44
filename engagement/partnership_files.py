"""Reading, checking, importing and exporting ``partnerships.csv``, ``partnership_members.csv`` and
``action_plan.csv`` (columns in ``shared/FORMATS.md``): the school's formal partnerships with
community groups, the families each serves, and the year's partnership action plan.

Every import is all-or-nothing like every other: a problem is reported by file, row, column and
reason, and one problem leaves the store exactly as it was. Partnerships and plan goals are
upserted by their reference (each change audited with its before and after); a member is upserted
by partnership and family, so a file of new members adds them and keeps the others. A partnership
names partners of its own school; a member is a family of the partnership's school. Exports are
safe to open in Excel and import again unchanged.

>>> report = ImportReport()
>>> checked = check_rows(report, "action_plan", [["plan_id", "year", "epstein_type", "goal", "measure", "target"],
...                                              ["A1", "2026-28", "gardening", "More families", "families.reach", "x"]])
>>> [p.column for p in report.errors]
['target', 'epstein_type', 'year']
>>> print(report.errors[1].reason)
'gardening' is not one of Epstein's six types: parenting, communicating, volunteering, learning at home, \
decision making, collaborating with community
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from engagement import store as db
from engagement.cells import excel_safe, parse_date, parse_list
from engagement.imports.report import ImportReport
from engagement.imports.runner import Scope, header_and_rows, row_steps, run_one
from engagement.typology import load_typology

KINDS = ("partnerships", "partnership_members", "action_plan")
COLUMNS = {
    "partnerships": (
        "partnership_id",
        "name",
        "school_id",
        "schools",
        "partners",
        "aims",
        "epstein_type",
        "start",
        "review",
        "status",
    ),
    "partnership_members": ("partnership_id", "family_id", "joined", "left"),
    "action_plan": (
        "plan_id",
        "school_id",
        "year",
        "epstein_type",
        "goal",
        "activity",
        "owner",
        "due",
        "measure",
        "target",
        "baseline",
        "status",
    ),
}
REQUIRED = {
    "partnerships": ("partnership_id", "name", "partners", "start"),
    "partnership_members": ("partnership_id", "family_id"),
    "action_plan": ("plan_id", "year", "epstein_type", "goal"),
}
DATES = ("start", "review", "joined", "left", "due")
NUMBERS = ("target", "baseline")
LISTS = ("schools", "partners")
LIMITS = {
    "partnership_id": 64,
    "plan_id": 64,
    "family_id": 64,
    "school_id": 64,
    "name": 200,
    "schools": 2000,
    "partners": 2000,
    "aims": 4000,
    "goal": 1000,
    "activity": 2000,
    "owner": 200,
    "measure": 100,
}
STATUSES = {"partnerships": db.PARTNERSHIP_STATUSES, "action_plan": db.PLAN_STATUSES}
DEFAULT_STATUS = {"partnerships": "active", "action_plan": "not started"}
KEYS = {
    "partnerships": ("partnership_id",),
    "partnership_members": ("partnership_id", "family_id"),
    "action_plan": ("plan_id",),
}
# The sections of ``score --json`` a plan goal's measure may name (engagement.partnerships reads them).
MEASURE_SECTIONS = (
    "families",
    "equity",
    "agencies",
    "businesses",
    "community",
    "layers",
    "overall",
    "communication",
    "events",
    "referrals",
    "transitions",
    "belonging",
)
_PATH = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
_YEAR = re.compile(r"^(\d{4})-(\d{2})$")


def epstein_types() -> list[str]:
    """Epstein's six types, as the typology names them."""
    return list(load_typology().epstein_types)


def guess_kind(filename: str) -> str | None:
    """The kind a file's name says, or None.

    >>> guess_kind("Partnerships 2026.xlsx"), guess_kind("partnership_members.csv"), guess_kind("Action plan.csv")
    ('partnerships', 'partnership_members', 'action_plan')
    >>> guess_kind("family_partners.csv") is None
    True
    """
    words = re.findall(r"[a-z]+", Path(filename).stem.lower())
    if "partnership" in words or "partnerships" in words:
        return "partnership_members" if ("members" in words or "member" in words) else "partnerships"
    if "action" in words and ("plan" in words or "plans" in words):
        return "action_plan"
    return None


def is_school_year(text: str) -> bool:
    """``2026-27``: a year and the next, as schools write them.

    >>> is_school_year("2026-27"), is_school_year("2099-00"), is_school_year("2026-2027")
    (True, True, False)
    """
    found = _YEAR.match(text)
    return found is not None and (int(found.group(1)) + 1) % 100 == int(found.group(2))


def measure_problem(path: str) -> str | None:
    """Why ``path`` cannot be a figure of ``score --json``, or None when it can.

    >>> measure_problem("families.reach") is None, measure_problem("families reach")
    (True, "'families reach' is not a dotted path like families.reach or communication.open")
    """
    if not _PATH.match(path):
        return f"{path!r} is not a dotted path like families.reach or communication.open"
    if path.split(".")[0] not in MEASURE_SECTIONS:
        return f"{path!r} is not a figure of score --json: it starts with one of {', '.join(MEASURE_SECTIONS)}"
    return None


def number_text(value: float | None) -> str:
    """A number as an export writes it: no trailing ``.0``, ten significant digits.

    >>> number_text(0.5), number_text(12.0), number_text(None)
    ('0.5', '12', '')
    """
    return "" if value is None else format(float(value), ".10g")


# ---------------------------------------------------------------- checking a file on its own


@dataclass
class Checked:
    """A file's rows as values, with where each came from (file, spreadsheet row)."""

    kind: str
    rows: list[dict]
    where: list[tuple[str, int]]


def _normal(text: str) -> str:
    return " ".join(text.strip().lower().replace("_", " ").split())


def check_rows(report: ImportReport, kind: str, rows: list[list[str]], name: str | None = None) -> Checked:
    """Check the text rows of one file (header first) without the store: columns, required cells,
    lengths, dates, numbers, types and statuses. Problems go into ``report``; the rows without a
    problem come back as values."""
    name = name or f"{kind}.csv"
    read = header_and_rows(report, name, kind, rows, REQUIRED[kind], COLUMNS[kind])
    if read is None:
        return Checked(kind, [], [])
    _, header, body = read
    types = epstein_types()
    out, where = [], []
    seen: dict[tuple, int] = {}
    for number, cells in body:
        raw = {h: (cells[j] if j < len(cells) else "") for j, h in enumerate(header) if h in COLUMNS[kind]}
        before = len(report.errors)

        def bad(column: str, reason: str) -> None:
            report.error(name, number, column, reason)  # noqa: B023 - used at once, in this row

        value: dict[str, object] = {c: (raw.get(c) or None) for c in COLUMNS[kind]}
        for column in REQUIRED[kind]:
            if not raw.get(column):
                bad(column, f"{column} is required")
        for column, limit in LIMITS.items():
            if len(raw.get(column, "")) > limit:
                bad(column, f"longer than {limit} characters")
        for column in DATES:
            if raw.get(column):
                value[column] = parse_date(raw[column])
                if value[column] is None:
                    bad(column, "not a date: use 2026-09-14 or 14/09/2026")
        for column in NUMBERS:
            if raw.get(column):
                try:
                    value[column] = float(raw[column].replace(",", ""))
                except ValueError:
                    value[column] = None
                    bad(column, f"{raw[column]!r} is not a number")
        for column in LISTS:
            if column in COLUMNS[kind]:
                items = parse_list(raw.get(column))
                value[column] = ";".join(items) or None
        if raw.get("epstein_type"):
            found = _normal(raw["epstein_type"])
            if found in types:
                value["epstein_type"] = found
            else:
                bad("epstein_type", f"{raw['epstein_type']!r} is not one of Epstein's six types: {', '.join(types)}")
        if kind in STATUSES:
            status = _normal(raw.get("status", "")) or DEFAULT_STATUS[kind]
            value["status"] = status
            if status not in STATUSES[kind]:
                bad("status", f"{raw['status']!r} is not a status: {', '.join(STATUSES[kind])}")
        if kind == "action_plan":
            if raw.get("year") and not is_school_year(raw["year"]):
                bad("year", f"{raw['year']!r} is not a school year: write it like 2026-27")
            if raw.get("measure"):
                value["measure"] = raw["measure"].strip().lower()
                problem = measure_problem(str(value["measure"]))
                if problem:
                    bad("measure", problem)
        if kind == "partnership_members":
            joined, left = value.get("joined"), value.get("left")
            if isinstance(joined, datetime.date) and isinstance(left, datetime.date) and left < joined:
                bad("left", f"left on {left.isoformat()}, before joining on {joined.isoformat()}")
        if kind == "partnerships":
            start, review = value.get("start"), value.get("review")
            if isinstance(start, datetime.date) and isinstance(review, datetime.date) and review < start:
                bad("review", f"the review ({review.isoformat()}) is before the start ({start.isoformat()})")
        if len(report.errors) == before:
            key = tuple(value[k] for k in KEYS[kind])
            first = seen.setdefault(key, number)
            if first != number:
                bad(KEYS[kind][-1], f"{' and '.join(map(str, key))} is also on row {first}")
                continue
            out.append(value)
            where.append((name, number))
    return Checked(kind, out, where)


# ---------------------------------------------------------------- what only the store can tell


def _lookup(conn, table: sa.Table, key: str, ids: list[str], *columns: str) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for start in range(0, len(ids), 500):
        query = sa.select(table.c[key], *(table.c[c] for c in columns)).where(
            table.c[key].in_(ids[start : start + 500])
        )
        for row in conn.execute(query).mappings():
            found[row[key]] = dict(row)
    return found


def _check_store(
    report: ImportReport,
    checked: list[Checked],
    conn,
    school_id: str | None,
    allowed: Collection[str] | None,
) -> None:
    """The schools, partners, partnerships and families the rows name exist, are of one school,
    and are of a school the account may change. Sets each row's ``school_id``."""
    schools = set(conn.execute(sa.select(db.schools.c.school_id)).scalars())
    default = school_id or (next(iter(schools)) if len(schools) == 1 else None)

    def school_of(row: dict, file: str, number: int) -> str | None:
        school = row.get("school_id") or default
        if school is None:
            report.error(file, number, "school_id", "the store holds several schools: give school_id, or choose one")
        elif school not in schools:
            report.error(file, number, "school_id", f"there is no school {school!r}: import schools.csv first")
        elif school_id and school != school_id:
            report.error(file, number, "school_id", f"this row is of school {school!r}, not {school_id!r}")
        elif allowed is not None and school not in allowed:
            report.error(file, number, "school_id", f"school {school!r} is not one your account may change")
        else:
            return school
        return None

    by_kind = {c.kind: c for c in checked}
    coming: dict[str, str] = {}
    if "partnerships" in by_kind:
        c = by_kind["partnerships"]
        stored = _lookup(conn, db.partnerships, "partnership_id", [r["partnership_id"] for r in c.rows], "school_id")
        partner_ids = sorted({p for r in c.rows for p in parse_list(r["partners"])})
        partners = _lookup(conn, db.partners, "partner_id", partner_ids, "school_id")
        for row, (file, number) in zip(c.rows, c.where, strict=True):
            school = school_of(row, file, number)
            if school is None:
                continue
            if stored.get(row["partnership_id"], {}).get("school_id", school) != school:
                report.error(file, number, "partnership_id", f"{row['partnership_id']!r} is another school's")
                continue
            for partner in parse_list(row["partners"]):
                if partner not in partners:
                    report.error(
                        file, number, "partners", f"there is no partner {partner!r}: import partners.csv first"
                    )
                elif partners[partner]["school_id"] != school:
                    report.error(file, number, "partners", f"partner {partner!r} is another school's")
            row["school_id"] = school
            coming[row["partnership_id"]] = school
    if "partnership_members" in by_kind:
        c = by_kind["partnership_members"]
        stored = _lookup(
            conn, db.partnerships, "partnership_id", sorted({r["partnership_id"] for r in c.rows}), "school_id"
        )
        families = _lookup(conn, db.families, "family_id", sorted({r["family_id"] for r in c.rows}), "school_id")
        for row, (file, number) in zip(c.rows, c.where, strict=True):
            owner = coming.get(row["partnership_id"]) or stored.get(row["partnership_id"], {}).get("school_id")
            if owner is None:
                report.error(
                    file,
                    number,
                    "partnership_id",
                    f"there is no partnership {row['partnership_id']!r}: import partnerships.csv too",
                )
            elif (school_id and owner != school_id) or (allowed is not None and owner not in allowed):
                report.error(
                    file, number, "partnership_id", "this partnership is not of a school your account may change"
                )
            elif row["family_id"] not in families:
                report.error(
                    file, number, "family_id", f"there is no family {row['family_id']!r}: import families.csv first"
                )
            elif families[row["family_id"]]["school_id"] != owner:
                report.error(
                    file,
                    number,
                    "family_id",
                    f"family {row['family_id']!r} is not of the partnership's school {owner!r}",
                )
    if "action_plan" in by_kind:
        c = by_kind["action_plan"]
        stored = _lookup(conn, db.action_plan, "plan_id", [r["plan_id"] for r in c.rows], "school_id")
        for row, (file, number) in zip(c.rows, c.where, strict=True):
            school = school_of(row, file, number)
            if school is None:
                continue
            if stored.get(row["plan_id"], {}).get("school_id", school) != school:
                report.error(file, number, "plan_id", f"plan row {row['plan_id']!r} is another school's")
                continue
            row["school_id"] = school


# ---------------------------------------------------------------- writing


def _records(c: Checked) -> list[dict]:
    table = db.TABLES[c.kind]
    return [{k: v for k, v in row.items() if k in table.c} for row in c.rows]


def _member_counts(conn, rows: list[dict], write: bool) -> dict[str, int]:
    """Add or update members by (partnership, family), auditing each change; or, without
    ``write``, only count what would change."""
    m = db.partnership_members
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        where = (m.c.partnership_id == row["partnership_id"]) & (m.c.family_id == row["family_id"])
        before = conn.execute(sa.select(m).where(where)).mappings().first()
        record_id = f"{row['partnership_id']}|{row['family_id']}"
        if before is None:
            counts["inserted"] += 1
            if write:
                conn.execute(m.insert().values(**row))
                db.audit(conn, "insert", "partnership_members", record_id, after=row)
        elif any(before[k] != row[k] for k in ("joined", "left")):
            counts["updated"] += 1
            if write:
                conn.execute(m.update().where(where).values(joined=row["joined"], left=row["left"]))
                db.audit(conn, "update", "partnership_members", record_id, before=dict(before), after=row)
        else:
            counts["unchanged"] += 1
    return counts


def _dry_counts(conn, kind: str, records: list[dict]) -> dict[str, int]:
    key = db.KEY_OF[kind]
    stored = {r[key]: r for r in db.rows_by_key(conn, kind, [r[key] for r in records])}
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for record in records:
        before = stored.get(record[key])
        changed = before is not None and any(before.get(k) != v for k, v in record.items())
        counts["inserted" if before is None else "updated" if changed else "unchanged"] += 1
    return counts


def _write(report: ImportReport, checked: list[Checked], conn, write: bool) -> None:
    for kind in KINDS:  # partnerships before their members
        for c in checked:
            if c.kind != kind or not c.rows:
                continue
            records = _records(c)
            if kind == "partnership_members":
                counts = _member_counts(conn, records, write)
            elif write:
                counts = db.upsert(conn, kind, records)
            else:
                counts = _dry_counts(conn, kind, records)
            total = report.counts.setdefault(kind, {"inserted": 0, "updated": 0, "unchanged": 0})
            for k, n in counts.items():
                total[k] += n


class _RollBack(Exception):
    pass


def _apply(report: ImportReport, checked: list[Checked], conn, scope: Scope, write: bool) -> None:
    _write(report, checked, conn, write)


STEPS = row_steps(
    "partnerships",
    KINDS,
    guess_kind,
    "cannot tell what this file holds from its name: call it partnerships.csv, "
    "partnership_members.csv or action_plan.csv, or choose the kind",
    check_rows,
    _apply,
    check_store=_check_store,
    required=REQUIRED,
)


def import_files(store: db.Store, paths, kind: str | None = None, **options) -> ImportReport:
    """Import partnerships, their members and the action plan, all or nothing, in one transaction
    (or, with ``dry_run``, only check them and count what would change). Arguments as
    :func:`engagement.interchange.import_files`."""
    return run_one(STEPS, store, paths, kind, **options)


def cell_text(value) -> str:
    """A value as a file's cell: dates ISO, numbers without a needless ``.0``, None empty."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return number_text(value)
    return str(value)


def save_rows(
    store: db.Store,
    kind: str,
    rows: list[dict],
    actor: str,
    school_id: str,
    *,
    expected_versions: dict[str, int] | None = None,
) -> ImportReport:
    """A page's save of a few rows of one kind, through exactly the import's checks (one set of
    rules, not two) and in one transaction, audited as single changes. ``expected_versions`` maps
    a record's reference to the version the form showed: a record saved by someone else since
    raises :class:`engagement.directory.VersionConflict`, and nothing is written."""
    from engagement.directory import VersionConflict, last_change

    report = ImportReport()
    report.files.append(f"the {kind.replace('_', ' ')} form")
    columns = list(COLUMNS[kind])
    text = [columns, *[[cell_text(row.get(c)) for c in columns] for row in rows]]
    checked = [check_rows(report, kind, text, report.files[0])]
    if report.errors:
        return report
    try:
        with store.write(actor) as conn:
            _check_store(report, checked, conn, school_id, None)
            if report.errors:
                raise _RollBack
            if expected_versions:
                table, key = db.TABLES[kind], db.KEY_OF[kind]
                for record_id, expected in expected_versions.items():
                    current = conn.execute(sa.select(table).where(table.c[key] == record_id)).mappings().first()
                    if current is None or current["version"] != expected:
                        who, when = last_change(conn, kind, record_id)
                        what = "partnership" if kind == "partnerships" else "goal of the plan"
                        raise VersionConflict(what, record_id, who, when, dict(current) if current else None)
            _write(report, checked, conn, write=True)
    except _RollBack:
        report.counts = {}
    return report


def describe(report: ImportReport) -> str:
    """What an import did, or why it did nothing, in plain words."""
    if not report.ok:
        return report.format()
    verb = "Checked (nothing written)" if report.dry_run else "Imported"
    new, updated = ("to add", "to update") if report.dry_run else ("new", "updated")
    lines = [f"{verb}: {', '.join(report.files)}."]
    for kind, c in report.counts.items():
        lines.append(f"  {kind}: {c['inserted']} {new}, {c['updated']} {updated}, {c['unchanged']} unchanged")
    lines += [f"  Note: {note}" for note in report.notes]
    return "\n".join(lines)


# ---------------------------------------------------------------- export


def _scoped(query, column, school_id: str | Collection[str] | None):
    if isinstance(school_id, str):
        return query.where(column == school_id)
    if school_id is not None:
        return query.where(column.in_(list(school_id)))
    return query


def export_frames(store: db.Store, school_id: str | Collection[str] | None = None) -> dict[str, pd.DataFrame]:
    """The three files as frames in their import formats, every text cell safe in Excel."""
    p, m, a = db.partnerships, db.partnership_members, db.action_plan
    with store.read() as conn:
        queries = {
            "partnerships": _scoped(
                sa.select(*(p.c[c] for c in COLUMNS["partnerships"])).order_by(p.c.partnership_id),
                p.c.school_id,
                school_id,
            ),
            "partnership_members": _scoped(
                sa.select(*(m.c[c] for c in COLUMNS["partnership_members"]))
                .join(p, p.c.partnership_id == m.c.partnership_id)
                .order_by(m.c.partnership_id, m.c.family_id),
                p.c.school_id,
                school_id,
            ),
            "action_plan": _scoped(
                sa.select(*(a.c[c] for c in COLUMNS["action_plan"])).order_by(a.c.year, a.c.plan_id),
                a.c.school_id,
                school_id,
            ),
        }
        return {
            kind: _export_cells(pd.DataFrame(db.tuples(conn.execute(q)), columns=list(COLUMNS[kind]), dtype=object))
            for kind, q in queries.items()
        }


def _export_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO, numbers without a needless ``.0``, text safe in Excel."""
    for column in frame.columns:
        if column in DATES:
            frame[column] = frame[column].map(lambda v: v.isoformat() if isinstance(v, datetime.date) else "")
        elif column in NUMBERS:
            frame[column] = frame[column].map(lambda v: number_text(None if v is None or v != v else v))
        else:
            frame[column] = frame[column].map(lambda v: "" if v is None else excel_safe(v))
    return frame


def export_files(store: db.Store, directory, school_id: str | Collection[str] | None = None) -> list[Path]:
    """Write the three files into ``directory`` (UTF-8 with a BOM, so Excel reads them right);
    importing them again changes nothing. Returns the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, frame in export_frames(store, school_id).items():
        path = directory / f"{kind}.csv"
        path.write_bytes(frame.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig"))
        written.append(path)
    return written
