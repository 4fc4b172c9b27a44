"""The one runner of file imports: what every import engine shares, written once. An engine
says how to check one file on its own, how to check its rows against the store and how to write
them; the runner owns the rest: the sources, the reading, the header check (with "did you mean"
for a column one letter from a known one), the dry run on a read transaction, the short write
that checks again what it checked, the audit entry and the report.

>>> one_edit_apart("notess", "notes")
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from engagement import store as db
from engagement.cells import excel_unsafe
from engagement.imports.reading import read_reported, refuse_empty, source_list, source_name
from engagement.imports.report import ImportReport


def one_edit_apart(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with one letter added, dropped, changed or two neighbours swapped.

    >>> one_edit_apart("notess", "notes"), one_edit_apart("ntoes", "notes"), one_edit_apart("note", "notes")
    (True, True, True)
    >>> one_edit_apart("notes", "notes"), one_edit_apart("nots", "note"), one_edit_apart("staff", "stuffs")
    (False, True, False)
    """
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def check_unknown_columns(
    report: ImportReport, name: str, kind: str, row: int | None, header: list[str], known: Collection[str]
) -> None:
    """The header check every import shares for columns its kind does not know: one a letter away
    from a known column the header lacks is a misspelling (``notess``), refused with "did you
    mean", since its values would otherwise be dropped without a word; any other is noted as ignored."""
    present = set(header)
    ignored = []
    for h in header:
        if not h or h in known:
            continue
        meant = sorted(k for k in known if k not in present and len(k) >= 4 and one_edit_apart(h, k))
        if meant:
            report.error(
                name,
                row,
                h,
                f"the column {h!r} is not in the {kind} format: did you mean {meant[0]!r}? "
                "Correct the header, then import again",
            )
        else:
            ignored.append(h)
    if ignored:
        report.notes.append(f"{name}: columns not in the {kind} format were ignored: {', '.join(ignored)}")


def header_and_rows(
    report: ImportReport,
    name: str,
    kind: str,
    rows: list[list[str]],
    required: Sequence[str],
    columns: Collection[str],
) -> tuple[int, list[str], list[tuple[int, list[str]]]] | None:
    """A file's rows of text as the header's row number, its column names (lower case) and the
    rows under it, each with the row number a spreadsheet shows; cells stripped and freed of the
    quote mark an export puts before text Excel would take for a formula; blank rows left out.
    None (with the problems in ``report``) when the file is empty, lacks a required column or
    names a known column misspelt (:func:`check_unknown_columns`).

    >>> report = ImportReport()
    >>> header_and_rows(report, "x.csv", "x", [["ID", "Note"], [], [" A1 ", "'=1"]], ["id"], ["id", "note"])
    (1, ['id', 'note'], [(3, ['A1', '=1'])])
    >>> header_and_rows(report, "x.csv", "x", [["id", "noet"]], ["id"], ["id", "note"]), report.errors[0].reason
    (None, "the column 'noet' is not in the x format: did you mean 'note'? Correct the header, then import again")
    """
    numbered = [(i, [excel_unsafe(str(c).strip()) for c in row]) for i, row in enumerate(rows, start=1)]
    numbered = [(i, cells) for i, cells in numbered if any(cells)]
    if not numbered:
        refuse_empty(report, name, required)
        return None
    header_row, header = numbered[0][0], [h.lower() for h in numbered[0][1]]
    missing = [c for c in required if c not in header]
    for column in missing:
        report.error(
            name,
            header_row,
            column,
            f"the required column {column!r} is missing (a {kind} file needs {', '.join(required)}; "
            f"found: {', '.join(h for h in header if h) or 'nothing'})",
        )
    if missing:
        return None
    errors_before = len(report.errors)
    check_unknown_columns(report, name, kind, header_row, header, columns)
    if len(report.errors) > errors_before:
        return None
    return header_row, header, numbered[1:]


# ---------------------------------------------------------------- the runner

# How often a batch is checked and written again when the store changed under its check.
ATTEMPTS = 3


class Report(Protocol):
    """What the runner needs of an engine's report: the files it names, the counts and notes it
    starts afresh on each attempt, the timings, whether all is well, and a problem of the whole
    batch (:class:`ImportReport` for files; the Open Referral import's report for a directory)."""

    counts: dict[str, dict[str, int]]
    notes: list[str]
    seconds: dict[str, float]

    @property
    def files(self) -> list[str]: ...

    @property
    def ok(self) -> bool: ...

    def error(self, file: str, row: int | None, column: str | None, reason: str) -> None: ...


R = TypeVar("R", bound=Report)


class StoreChanged(Exception):
    """Raised by an engine's write: what its check read has changed since, so the batch is checked
    again (nothing of it is written meanwhile)."""


class Refusal(Exception):
    """Raised by an engine's write: checked again in the write transaction, its rows have problems
    (in its report); the whole batch is rolled back."""


@dataclass(frozen=True)
class Scope:
    """What every engine of a batch is given: who imports, the school of rows that name none, the
    schools the account may change (None: any), and what the batch's files bring, by table
    (``{"events": ids}``), for the rows of another engine that name them."""

    actor: str = "import"
    school_id: str | None = None
    allowed_schools: Collection[str] | None = None
    coming: Mapping[str, Collection[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Steps(Generic[R]):
    """One import engine as the runner drives it.

    - ``read(report, sources, kind)``: read and check the files on their own (no store); gives the
      engine's batch. Problems go into the report; any problem stops the whole batch unwritten.
    - ``check(report, batch, conn, scope)``: check the batch against the store as ``conn`` sees it
      and count what it would change (``report.counts``); gives a plan, or None when refused.
    - ``write(report, batch, plan, conn, scope)``: in the write transaction, check again what may
      have changed (raise :class:`StoreChanged`, or :class:`Refusal` with the problems reported),
      write and audit. ``plan`` is None when no check ran before (the batch's later engines are
      checked here, on the store as the earlier ones left it).
    """

    name: str
    kinds: tuple[str, ...]
    read: Callable[[R, list, str | None], Any]
    check: Callable[[R, Any, Connection, Scope], Any]
    write: Callable[[R, Any, Any, Connection, Scope], None]
    new_report: Callable[..., R] = ImportReport  # type: ignore[assignment]  # a default for R = ImportReport
    brings: Callable[[Any], dict[str, set[str]]] | None = None
    # Whether a plan of the check writes nothing: a batch of this engine alone is then done once
    # checked, without taking the write lock (which someone else may be holding).
    unchanged: Callable[[Any], bool] | None = None


def row_steps(
    name: str,
    kinds: Sequence[str],
    guess: Callable[[str], str | None],
    unknown: str,
    check_file: Callable[[ImportReport, str, list[list[str]], str], Any],
    apply: Callable[[ImportReport, list, Connection, Scope, bool], None],
    check_store: Callable[[ImportReport, list, Connection, str | None, Collection[str] | None], None] | None = None,
    audit: bool = True,
    new_report: Callable[..., ImportReport] = ImportReport,
    brings: Callable[[Any], dict[str, set[str]]] | None = None,
    required: Mapping[str, Sequence[str]] | None = None,
) -> Steps:
    """The :class:`Steps` of an engine that reads each file as rows of text: ``check_file(report,
    kind, rows, name)`` checks one file on its own; ``check_store(report, checked, conn,
    school_id, allowed_schools)`` what only the store can tell; ``apply(report, checked, conn,
    scope, write)`` counts (``write`` False) or writes. ``unknown``
    is the reason given for a file whose kind its name does not tell; ``required`` the columns each
    kind needs, by which an empty file or a header alone is refused. With ``audit``, the write
    adds one audit entry naming the kinds written and the files."""
    kinds = tuple(kinds)

    def read(report: ImportReport, sources, kind: str | None) -> list:
        if kind is not None and kind not in kinds:
            raise ValueError(f"kind must be one of {', '.join(kinds)}")
        checked = []
        for item in source_list(sources):
            file_kind = kind or guess(source_name(item))
            # The kind's required columns name where an empty file, or a header alone, is refused.
            file, rows = read_reported(report, item, (required or {}).get(file_kind or "", ()))
            report.files.append(file)
            if rows is None:
                continue
            if file_kind not in kinds:
                report.error(file, None, None, unknown)
                continue
            checked.append(check_file(report, file_kind, rows, file))
        return checked

    def check(report: ImportReport, checked: list, conn: Connection, scope: Scope) -> list | None:
        if check_store is not None:
            check_store(report, checked, conn, scope.school_id, scope.allowed_schools)
        if not report.errors:
            apply(report, checked, conn, scope, False)
        return None if report.errors else checked

    def write(report: ImportReport, checked: list, plan, conn: Connection, scope: Scope) -> None:
        report.counts = {}
        if check_store is not None:
            check_store(
                report, checked, conn, scope.school_id, scope.allowed_schools
            )  # again: the store as the write sees it
        if not report.errors:
            apply(report, checked, conn, scope, True)
        if report.errors:
            raise Refusal
        if audit:
            # The kinds of file, not every table touched: the audit's table name holds 40 characters.
            db.audit(conn, "import", ",".join(k for k in kinds if k in report.counts), detail=", ".join(report.files))

    return Steps(name, kinds, read, check, write, new_report, brings)


@dataclass
class Outcome:
    """What a batch did: the reports to show (every engine's when all went in or in a dry run; the
    refused engines' when the batch was refused) and the files not imported though nothing was
    wrong with them, because the batch is all or nothing."""

    reports: list[tuple[Steps, ImportReport]]  # or an engine's own report (Steps.new_report)
    not_imported: list[str]

    @property
    def ok(self) -> bool:
        return not self.not_imported and all(r.ok for _, r in self.reports)


def run(
    store: db.Store,
    parts: Sequence[tuple[Steps, Sequence[Any]]],
    kind: str | None = None,
    dry_run: bool = False,
    actor: str = "import",
    school_id: str | None = None,
    allowed_schools: Collection[str] | None = None,
) -> Outcome:
    """Import the files of one or several engines (``parts``, in the order they must be written)
    as one batch, all or nothing: every file is read and checked on its own first; then the first
    engine is checked against a read of the store (no lock is taken for it), and one write
    transaction checks again what may have changed, checks each later engine on the store as the
    earlier ones left it, and writes them all, or nothing. With ``dry_run`` each engine is checked
    against the store as it is, on a read transaction, until one is refused."""
    started = time.perf_counter()
    runs = []
    for steps, sources in parts:
        report = steps.new_report(dry_run=dry_run)
        runs.append((steps, report, steps.read(report, list(sources), kind)))
    coming: dict[str, set[str]] = {}
    for steps, _, batch in runs:
        for table, ids in (steps.brings(batch) if steps.brings else {}).items():
            coming.setdefault(table, set()).update(ids)
    scope = Scope(actor, school_id, allowed_schools, coming)
    read_notes = {id(r): list(r.notes) for _, r, _ in runs}

    def fresh(report: ImportReport) -> None:
        report.counts = {}
        report.notes[:] = read_notes[id(report)]

    def refused(at: int) -> Outcome:
        for _, report, _ in runs:
            if not dry_run:
                report.counts = {}
        shown = [(s, r) for i, (s, r, _) in enumerate(runs) if not r.ok or (dry_run and i < at)]
        rest = [f for i, (_, r, _) in enumerate(runs) if r.ok and not (dry_run and i < at) for f in r.files]
        return Outcome(shown, rest)

    if any(not r.ok for _, r, _ in runs):
        return refused(0)
    if dry_run:
        for at, (steps, report, batch) in enumerate(runs):
            with store.read() as conn:
                steps.check(report, batch, conn, scope)
            report.seconds["read and check"] = time.perf_counter() - started
            if not report.ok:
                return refused(at)
        return Outcome([(s, r) for s, r, _ in runs], [])
    for attempt in range(1, ATTEMPTS + 1):
        for _, report, _ in runs:
            fresh(report)
        steps, report, batch = runs[0]
        with store.read() as conn:
            plan = steps.check(report, batch, conn, scope)
        report.seconds["read and check"] = time.perf_counter() - started
        if plan is None:
            return refused(0)
        if len(runs) == 1 and steps.unchanged is not None and steps.unchanged(plan):
            return Outcome([(steps, report)], [])
        at = 0
        try:
            with store.write(actor) as conn:
                locked = time.perf_counter()
                for at, (steps, report, batch) in enumerate(runs):
                    # What the check noted, it notes again as it writes (the first engine's counts
                    # are its check's: its write only checks that nothing moved).
                    report.notes[:] = read_notes[id(report)]
                    if at:
                        report.counts = {}
                    steps.write(report, batch, plan if at == 0 else None, conn, scope)
        except Refusal:
            return refused(at)
        except (StoreChanged, IntegrityError) as exc:
            # Someone changed the rows checked (or added one under an id of a file) meanwhile.
            if attempt == ATTEMPTS:
                report.error(
                    ", ".join(report.files),
                    None,
                    None,
                    f"the database refused the import, so nothing was written: {getattr(exc, 'orig', exc)}"
                    if isinstance(exc, IntegrityError)
                    else "the store kept changing while the import was checked, so nothing was written: import again",
                )
                return refused(at)
            started = time.perf_counter()
            continue
        except SQLAlchemyError as exc:
            report.error(
                ", ".join(report.files),
                None,
                None,
                f"the database refused the import, so nothing was written: {getattr(exc, 'orig', exc)}",
            )
            return refused(at)
        held = time.perf_counter() - locked
        first = runs[0][1]
        for _, report, _ in runs:
            report.seconds["write"] = held
        if store.dialect == "sqlite" and held > db.SQLITE_BUSY_TIMEOUT_MS / 1000:
            first.notes.append(
                f"writing took {held:.0f} s, longer than others wait for the store "
                f"({db.SQLITE_BUSY_TIMEOUT_MS // 1000} s): anyone who saved at that moment was asked to try "
                "again. Import files this big out of hours, or in parts of 100,000 rows"
            )
        break
    return Outcome([(s, r) for s, r, _ in runs], [])


def run_one(steps: Steps, store: db.Store, sources, kind: str | None = None, **options) -> ImportReport:
    """One engine's files imported as a batch of their own (see :func:`run`): its report."""
    outcome = run(store, [(steps, source_list(sources))], kind=kind, **options)
    return next(r for s, r in outcome.reports if s is steps)
