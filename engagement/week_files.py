"""Importing and exporting the school's week: ``events.csv``, ``referrals.csv`` and
``family_partners.csv`` (columns in FORMATS.md), CSV or XLSX.

Every import is all-or-nothing: each file is read and every cell checked, then every row is
written in one transaction that checks the references (families, partners, the school) as it
goes; any problem, anywhere, rolls the whole batch back and the report names the file, row,
column and reason. Every write is audited with who made it. Exports are safe to open in Excel.

>>> guess_week_kind("2026-10 parents evening events.csv"), guess_week_kind("family_partners.xlsx")
('events', 'family_partners')
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy import true as sa_true

from engagement import store as db
from engagement.cells import excel_safe, parse_date, parse_list
from engagement.contacts import InvalidInteraction, prepare_interaction
from engagement.events import _number, register_in
from engagement.imports.report import ImportReport
from engagement.imports.runner import Scope, header_and_rows, row_steps, run_one
from engagement.referrals import STATUSES, write_links

WEEK_KINDS = ("events", "referrals", "referral_steps", "family_partners")
COLUMNS = {
    "events": [
        "event_id",
        "date",
        "activity",
        "partner_id",
        "family_id",
        "attendees",
        "volunteer_hours",
        "money_raised",
        "school_id",
        "staff",
        "notes",
    ],
    "referrals": [
        "referral_id",
        "family_id",
        "partner_id",
        "date",
        "reasons",
        "status",
        "status_date",
        "decline_reason",
        "staff",
    ],
    "referral_steps": ["referral_id", "status", "date", "note", "staff"],
    "family_partners": ["family_id", "partner_id", "relation", "start", "end"],
}
REQUIRED = {
    "events": ["event_id", "date", "activity"],
    "referrals": ["referral_id", "family_id", "partner_id", "date", "status"],
    "referral_steps": ["referral_id", "status", "date"],
    "family_partners": ["family_id", "partner_id"],
}


def guess_week_kind(filename: str) -> str | None:
    """The week's kind a file name suggests ("referrals-oct.csv" is referrals), or None."""
    stem = Path(filename).stem.lower().replace("-", "_").replace(" ", "_")
    if "family_partner" in stem or "families_partners" in stem:
        return "family_partners"
    if "referral_step" in stem:
        return "referral_steps"
    for kind, words in (("events", ("events", "event", "register")), ("referrals", ("referrals", "referral"))):
        if any(w in stem.split("_") or stem.endswith(w) for w in words):
            return kind
    return None


class WeekReport(ImportReport):
    """An :class:`ImportReport` that also counts the week's kinds."""

    def count_lines(self) -> list[str]:
        return [
            f"  {kind}: " + ", ".join(f"{n} {what}" for what, n in self.counts[kind].items())
            for kind in WEEK_KINDS
            if kind in self.counts
        ]


# ---------------------------------------------------------------- reading


@dataclass
class _Row:
    file: str
    row: int
    cells: dict[str, str]


def _read(report: ImportReport, kind: str, rows: list[list[str]], name: str) -> tuple[str, list[_Row]]:
    """One file's rows of cells by column, each cell within its column's limit."""
    got = header_and_rows(report, name, kind, rows, REQUIRED[kind], COLUMNS[kind])
    if got is None:
        return kind, []
    _, header, body = got
    read = [
        _Row(name, i, {h: (cells[j] if j < len(cells) else "") for j, h in enumerate(header) if h in COLUMNS[kind]})
        for i, cells in body
    ]
    limits = column_limits(kind)
    for row in read:
        for column, limit in limits.items():
            # A list cell (an event's partners) is checked item by item: each is a reference.
            for text in (
                parse_list(row.cells.get(column, "")) if column == "partner_id" else [row.cells.get(column, "")]
            ):
                if len(text) > limit:
                    report.error(name, row.row, column, f"too long: {len(text)} characters, at most {limit}")
    return kind, read


def column_limits(kind: str) -> dict[str, int]:
    """The longest text each column of a week's file may hold: the store's own limits, so a cell
    too long is refused with its row and column on SQLite (which would keep it) as on PostgreSQL
    (which would refuse the whole write, naming neither).

    >>> column_limits("family_partners")
    {'family_id': 64, 'partner_id': 64, 'relation': 60}
    """
    tables = {
        "events": (db.events, db.interactions),
        "referrals": (db.referrals,),
        "referral_steps": (db.referral_steps, db.referrals),
        "family_partners": (db.family_partners,),
    }
    limits: dict[str, int] = {}
    for column in COLUMNS[kind]:
        for table in tables[kind]:
            length = getattr(table.c[column].type, "length", None) if column in table.c else None
            if length:
                limits[column] = length
                break
    return limits


def _date(report, row: _Row, column: str, required: bool = False) -> datetime.date | None:
    text = row.cells.get(column, "")
    if not text:
        if required:
            report.error(row.file, row.row, column, "a date is required")
        return None
    value = parse_date(text)
    if value is None:
        report.error(row.file, row.row, column, f"{text!r} is not a date: write it as 2026-09-14 or 14/09/2026")
    return value


def _events_named(batches: list[tuple[str, list[_Row]]]) -> dict[str, set[str]]:
    """The events the batch's events files bring: contacts of the main records may name them."""
    return {
        "events": {
            r.cells["event_id"] for kind, rows in batches if kind == "events" for r in rows if r.cells.get("event_id")
        }
    }


def _school_for(conn, school_id: str | None) -> str | None:
    if school_id:
        return school_id
    ids = list(conn.execute(select(db.schools.c.school_id)).scalars())
    return ids[0] if len(ids) == 1 else None


# ---------------------------------------------------------------- importing


def _apply(report: ImportReport, batches: list[tuple[str, list[_Row]]], conn, scope: Scope, write: bool) -> None:
    """Check each file's rows against the store and count (``write`` False) or write them: a
    referral's steps replace the history its referrals.csv row started, so they come after it."""
    order = {k: i for i, k in enumerate(("family_partners", "referrals", "referral_steps", "events"))}
    run = _Run(dry_run=not write)
    for this_kind, rows in sorted(batches, key=lambda b: order[b[0]]):
        school = _school_for(
            conn, scope.school_id or next((r.cells.get("school_id") for r in rows if r.cells.get("school_id")), None)
        )
        if school is None:
            report.error(
                rows[0].file if rows else "",
                None,
                "school_id",
                "the store holds several schools: say which one (--school, or a school_id column)",
            )
            continue
        if scope.allowed_schools is not None and school not in scope.allowed_schools:
            report.error(
                rows[0].file if rows else "",
                None,
                "school_id",
                f"the rows are of school {school!r}, which you may not change",
            )
            continue
        counts = {
            "events": _import_events,
            "referrals": _import_referrals,
            "referral_steps": _import_referral_steps,
            "family_partners": _import_links,
        }[this_kind](report, conn, rows, school, run)
        report.counts[this_kind] = counts


# A dry run (the Data page checks on every rerun while files sit in its uploader) reads only: it
# takes no write lock, so a colleague's save never waits for it. Each write is audited row by row.
STEPS = row_steps(
    "week",
    WEEK_KINDS,
    guess_week_kind,
    f"cannot tell the kind of file from its name: give the kind ({', '.join(WEEK_KINDS)})",
    _read,
    _apply,
    audit=False,
    new_report=WeekReport,
    brings=_events_named,
    required=REQUIRED,
)


def import_week_files(store: db.Store, sources: Iterable, kind: str | None = None, **options) -> ImportReport:
    """Import events, referrals and family-partner files (paths or ``(name, bytes)`` pairs), all or
    nothing. ``dry_run`` checks everything against the store and writes nothing."""
    return run_one(STEPS, store, sources, kind, **options)


@dataclass
class _Run:
    """What one import's kinds share: whether it only checks, and the referrals its referrals.csv
    brings (a dry run writes none, yet their steps in the same batch are not of unknown referrals)."""

    dry_run: bool
    referrals_coming: set[str] = field(default_factory=set)


def _import_links(report, conn, rows: list[_Row], school: str, run: _Run) -> dict[str, int]:
    links, seen = [], set()
    for row in rows:
        c = row.cells
        if not c.get("family_id") or not c.get("partner_id"):
            report.error(
                row.file,
                row.row,
                "family_id" if not c.get("family_id") else "partner_id",
                "a family_id and a partner_id are both required",
            )
            continue
        if (c["family_id"], c["partner_id"]) in seen:
            report.error(row.file, row.row, "partner_id", "the same family and partner appear twice in the file")
            continue
        seen.add((c["family_id"], c["partner_id"]))
        start, end = _date(report, row, "start"), _date(report, row, "end")
        if start and end and end < start:
            report.error(row.file, row.row, "end", "the link ends before it starts")
        if not _owned(report, conn, row, school, "family_id") or not _owned(report, conn, row, school, "partner_id"):
            continue
        links.append(
            {
                "family_id": c["family_id"],
                "partner_id": c["partner_id"],
                "school_id": school,
                "relation": c.get("relation") or None,
                "start": start,
                "end": end,
            }
        )
    if report.errors:
        return {}
    return _count_links(conn, links) if run.dry_run else write_links(conn, links)


def _count_links(conn, links: list[dict]) -> dict[str, int]:
    """What :func:`engagement.referrals.write_links` would do with ``links``, writing nothing."""
    fp = db.family_partners
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for link in links:
        stored = (
            conn.execute(select(fp).where(fp.c.family_id == link["family_id"], fp.c.partner_id == link["partner_id"]))
            .mappings()
            .first()
        )
        key = (
            "inserted" if stored is None else "updated" if any(stored[k] != v for k, v in link.items()) else "unchanged"
        )
        counts[key] += 1
    return counts


def _owned(report, conn, row: _Row, school: str, column: str) -> bool:
    table = db.families if column == "family_id" else db.partners
    ref = row.cells[column]
    owner = conn.execute(select(table.c.school_id).where(table.c[column] == ref)).scalar()
    if owner is None:
        report.error(
            row.file,
            row.row,
            column,
            f"there is no {'family' if column == 'family_id' else 'partner'} {ref!r} in the store",
        )
        return False
    if owner != school:
        report.error(row.file, row.row, column, f"{ref!r} belongs to another school, not {school!r}")
        return False
    return True


def _import_referrals(report, conn, rows: list[_Row], school: str, run: _Run) -> dict[str, int]:
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    seen: set[str] = set()
    r = db.referrals
    for row in rows:
        c = row.cells
        missing = [k for k in REQUIRED["referrals"] if not c.get(k)]
        if missing:
            report.error(row.file, row.row, missing[0], f"{missing[0]} is required")
            continue
        if c["referral_id"] in seen:
            report.error(row.file, row.row, "referral_id", "the same referral_id appears twice in the file")
            continue
        seen.add(c["referral_id"])
        status = " ".join(c["status"].replace("_", " ").lower().split())
        if status not in STATUSES:
            report.error(
                row.file, row.row, "status", f"{c['status']!r} is not a status; statuses: {', '.join(STATUSES)}"
            )
            continue
        made, when = _date(report, row, "date", required=True), _date(report, row, "status_date")
        if (
            made is None
            or not _owned(report, conn, row, school, "family_id")
            or not _owned(report, conn, row, school, "partner_id")
        ):
            continue
        when = when or made
        if when < made:
            report.error(row.file, row.row, "status_date", "the status date is before the referral was made")
            continue
        record = {
            "referral_id": c["referral_id"],
            "school_id": school,
            "family_id": c["family_id"],
            "partner_id": c["partner_id"],
            "date": made,
            "reasons": ";".join(parse_list(c.get("reasons", ""))) or None,
            "status": status,
            "status_date": when,
            "decline_reason": c.get("decline_reason") or None,
            "staff": c.get("staff") or None,
        }
        stored = conn.execute(select(r).where(r.c.referral_id == c["referral_id"])).mappings().first()
        if stored is not None and stored["school_id"] != school:
            report.error(row.file, row.row, "referral_id", "this referral belongs to another school")
            continue
        if report.errors:
            continue
        run.referrals_coming.add(c["referral_id"])
        if run.dry_run:
            changed_now = stored is not None and any(stored[k] != v for k, v in record.items())
            counts["inserted" if stored is None else "updated" if changed_now else "unchanged"] += 1
            continue
        if stored is None:
            conn.execute(r.insert().values(**record))
            steps = [("sent", made)] + ([(status, when)] if status != "sent" else [])
            conn.execute(
                db.referral_steps.insert(),
                [
                    {
                        "referral_id": record["referral_id"],
                        "status": s,
                        "date": d,
                        "note": record["decline_reason"] if s == "declined" else None,
                        "staff": record["staff"] if s == "sent" else None,
                    }
                    for s, d in steps
                ],
            )
            db.audit(conn, "insert", "referrals", c["referral_id"], after=record, detail="imported")
            counts["inserted"] += 1
            continue
        changed = {k: v for k, v in record.items() if stored[k] != v}
        if not changed:
            counts["unchanged"] += 1
            continue
        conn.execute(r.update().where(r.c.referral_id == record["referral_id"]).values(**changed))
        if "status" in changed or "status_date" in changed:
            conn.execute(
                db.referral_steps.insert().values(
                    referral_id=record["referral_id"], status=status, date=when, note=record["decline_reason"]
                )
            )
        db.audit(conn, "update", "referrals", c["referral_id"], before={k: stored[k] for k in changed}, after=changed)
        counts["updated"] += 1
    return counts


def _import_referral_steps(report, conn, rows: list[_Row], school: str, run: _Run) -> dict[str, int]:
    """Replace the history of each referral the file names by the file's steps, in the file's order
    (``referral_steps.csv``: a whole export restores every step, not only the first and the last)."""
    r, s = db.referrals, db.referral_steps
    steps: dict[str, list[dict]] = {}
    first_step: dict[tuple, int] = {}
    for row in rows:
        c = row.cells
        missing = [k for k in REQUIRED["referral_steps"] if not c.get(k)]
        if missing:
            report.error(row.file, row.row, missing[0], f"{missing[0]} is required")
            continue
        status = " ".join(c["status"].replace("_", " ").lower().split())
        if status not in STATUSES:
            report.error(
                row.file, row.row, "status", f"{c['status']!r} is not a status; statuses: {', '.join(STATUSES)}"
            )
            continue
        when = _date(report, row, "date", required=True)
        stored = conn.execute(select(r.c.school_id, r.c.date).where(r.c.referral_id == c["referral_id"])).first()
        if stored is None and c["referral_id"] not in run.referrals_coming:
            report.error(
                row.file, row.row, "referral_id", f"there is no referral {c['referral_id']!r}: import referrals.csv too"
            )
            continue
        if stored is not None and stored.school_id != school:
            report.error(row.file, row.row, "referral_id", "this referral belongs to another school")
            continue
        if when is None:
            continue
        # A step is a referral's status on a day: the same one twice is a doubled row, not history.
        seen_at = first_step.setdefault((c["referral_id"], status, when), row.row)
        if seen_at != row.row:
            report.error(
                row.file,
                row.row,
                "status",
                f"the step {status!r} of referral {c['referral_id']!r} on {when:%d/%m/%Y} is also on row {seen_at}",
            )
            continue
        steps.setdefault(c["referral_id"], []).append(
            {
                "referral_id": c["referral_id"],
                "status": status,
                "date": when,
                "note": c.get("note") or None,
                "staff": c.get("staff") or None,
            }
        )
    counts = {"referrals": len(steps), "steps": 0, "steps replaced": 0}
    if report.errors:
        return counts
    if run.dry_run:
        counts["steps"] = sum(len(history) for history in steps.values())
        return counts
    for referral_id, history in steps.items():
        gone = conn.execute(s.delete().where(s.c.referral_id == referral_id)).rowcount
        conn.execute(s.insert(), history)
        counts["steps"] += len(history)
        counts["steps replaced"] += max(gone, 0)
        db.audit(
            conn,
            "replace history",
            "referral_steps",
            referral_id,
            detail=f"{max(gone, 0)} steps replaced by {len(history)}",
        )
    return counts


def _import_events(report, conn, rows: list[_Row], school: str, run: _Run) -> dict[str, int]:
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        if not row.cells.get("event_id"):
            report.error(row.file, row.row, "event_id", "event_id is required")
            continue
        groups.setdefault(row.cells["event_id"], []).append(row)
    counts = {"events": 0, "family contacts": 0, "already on the register": 0, "partner contacts": 0}
    for event_id, group in groups.items():
        first = group[0]
        for column in ("date", "activity"):
            values = {g.cells.get(column, "") for g in group} - {""}
            if len(values) > 1:
                report.error(
                    first.file,
                    first.row,
                    column,
                    f"the rows of event {event_id!r} give different {column}s: {', '.join(sorted(values))}",
                )
        quantities: dict = {}
        for column, whole in (("attendees", True), ("volunteer_hours", False), ("money_raised", False)):
            values = {g.cells.get(column, "") for g in group} - {""}
            if len(values) > 1:
                report.error(
                    first.file,
                    first.row,
                    column,
                    f"event {event_id!r} gives {column} on several rows with different values: give it on one row",
                )
                continue
            try:
                quantities[column] = _number(values.pop() if values else None, column.replace("_", " "), whole)
            except InvalidInteraction as error:
                report.error(first.file, first.row, column, str(error))
        families, partners = [], []
        for g in group:
            family = g.cells.get("family_id", "")
            if family and family in families:
                report.error(g.file, g.row, "family_id", f"family {family!r} is on event {event_id!r} twice")
            elif family and _owned(report, conn, g, school, "family_id"):
                families.append(family)
            for partner in parse_list(g.cells.get("partner_id", "")):
                if partner not in partners and _owned(
                    report, conn, _Row(g.file, g.row, {"partner_id": partner}), school, "partner_id"
                ):
                    partners.append(partner)
        try:
            template = prepare_interaction(
                school_id=school,
                date=first.cells.get("date") or None,
                activity=next((g.cells["activity"] for g in group if g.cells.get("activity")), ""),
                family_id="-",
                staff=first.cells.get("staff") or None,
            )
        except InvalidInteraction as error:
            said = str(error).lower()
            column = next((c for word, c in (("activit", "activity"), ("staff", "staff")) if word in said), "date")
            report.error(first.file, first.row, column, str(error))
            continue
        if report.errors:
            continue
        try:
            saved = register_in(
                conn,
                school_id=school,
                event_id=event_id,
                template=template,
                families=families,
                partners=partners,
                quantities=quantities,
                notes=first.cells.get("notes") or None,
                write=not run.dry_run,
            )
        except InvalidInteraction as error:
            report.error(first.file, first.row, "event_id", str(error))
            continue
        counts["events"] += 1
        counts["family contacts"] += saved.added
        counts["already on the register"] += saved.already
        counts["partner contacts"] += saved.partners_added
    return counts


# ---------------------------------------------------------------- exporting


def week_tables(store: db.Store, school_ids: Collection[str] | None = None) -> dict[str, pd.DataFrame]:
    """The three files as frames in FORMATS.md's columns (not yet made Excel-safe)."""
    e, i, ec, r, fp = db.events, db.interactions, db.event_contacts, db.referrals, db.family_partners

    def where(table):
        return table.c.school_id.in_(list(school_ids)) if school_ids is not None else sa_true()

    with store.read() as conn:
        events = [dict(x) for x in conn.execute(select(e).where(where(e)).order_by(e.c.date, e.c.event_id)).mappings()]
        attending: dict[str, list[str]] = {}
        for event_id, family in conn.execute(
            select(ec.c.event_id, i.c.family_id)
            .join(i, i.c.interaction_id == ec.c.interaction_id)
            .where(i.c.family_id.is_not(None))
            .order_by(i.c.family_id)
        ):
            attending.setdefault(event_id, []).append(family)
        referrals = [
            dict(x) for x in conn.execute(select(r).where(where(r)).order_by(r.c.date, r.c.referral_id)).mappings()
        ]
        links = [
            dict(x)
            for x in conn.execute(select(fp).where(where(fp)).order_by(fp.c.family_id, fp.c.partner_id)).mappings()
        ]
        rs = db.referral_steps
        # Steps in the order they were recorded, so that an import of the file restores that order.
        history = [
            dict(x)
            for x in conn.execute(
                select(*(rs.c[c] for c in COLUMNS["referral_steps"]))
                .join(r, r.c.referral_id == rs.c.referral_id)
                .where(where(r))
                .order_by(rs.c.referral_id, rs.c.id)
            ).mappings()
        ]
    event_rows = []
    for ev in events:
        base = {
            "event_id": ev["event_id"],
            "date": ev["date"],
            "activity": ev["activity"],
            "partner_id": ev["partner_ids"],
            "school_id": ev["school_id"],
            "staff": ev["staff"],
            "notes": ev["notes"],
        }
        quantities = {
            "attendees": ev["attendees"],
            "volunteer_hours": ev["volunteer_hours"],
            "money_raised": ev["money_raised"],
        }
        for n, family in enumerate(attending.get(ev["event_id"]) or [None]):
            event_rows.append({**base, "family_id": family, **(quantities if n == 0 else {})})
    return {
        "events": pd.DataFrame(event_rows, columns=COLUMNS["events"]),
        "referrals": pd.DataFrame(referrals, columns=[*COLUMNS["referrals"], "school_id"])[COLUMNS["referrals"]],
        "referral_steps": pd.DataFrame(history, columns=COLUMNS["referral_steps"]),
        "family_partners": pd.DataFrame(links, columns=[*COLUMNS["family_partners"], "school_id"])[
            COLUMNS["family_partners"]
        ],
    }


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    safe = frame.copy()
    for column in safe.columns:
        safe[column] = safe[column].map(lambda v: excel_safe(v) if isinstance(v, str) else v)
        if column in ("attendees",):
            safe[column] = safe[column].astype("Int64")
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False, date_format="%Y-%m-%d", lineterminator="\r\n")
    return buffer.getvalue().encode("utf-8-sig")


def week_csvs(store: db.Store, school_ids: Collection[str] | None = None) -> dict[str, bytes]:
    """``{"events.csv": bytes, ...}``: the three files, Excel-safe, UTF-8 with a BOM."""
    return {f"{kind}.csv": _csv_bytes(frame) for kind, frame in week_tables(store, school_ids).items()}


def export_week(store: db.Store, directory, school_ids: Collection[str] | None = None) -> list[Path]:
    """Write the three files into ``directory``; returns their paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in week_csvs(store, school_ids).items():
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    return paths


__all__ = [
    "WEEK_KINDS",
    "WeekReport",
    "export_week",
    "guess_week_kind",
    "import_week_files",
    "week_csvs",
    "week_tables",
]
