"""The registry of record kinds: every kind of record a school keeps, written down once, so that
import, export, the backup ZIP, the templates, the command line's ``--kind`` and the Data page's
import sections are loops over one list instead of lists kept by hand in six places.

A kind names its file (``referral_steps.csv``), the store tables whose rows that file carries, and
the engine that reads and writes it. An engine is a reader and writer several kinds share
(``interchange`` for the school's main records, ``calendar`` for terms, ``week_files`` for the
week, ``send_belonging_files`` for transitions and survey answers, ``partnership_files`` for
partnerships and the action plan), driven by the one runner of imports
(:mod:`engagement.imports.runner`); each reports row, column and reason. A batch is all or
nothing as a whole: its engines write in the registry's order in one transaction, so that a whole
export (schools before partners before referrals before their steps) imports in one call, and a
refused file anywhere leaves the store as it was. Tables that no kind carries are listed in
:data:`NOT_EXPORTED` with the reason, and a test derived from the store's tables keeps both lists
whole.

>>> [k.name for k in RECORD_KINDS][:4]
['schools', 'partners', 'services', 'families']
>>> kind_of_file("2026 referral_steps.csv"), kind_of_file("Term dates.xlsx"), kind_of_file("notes.txt")
('referral_steps', 'terms', None)
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engagement import calendar as terms_files
from engagement import interchange, partnership_files, week_files
from engagement import send_belonging_files as voice_files
from engagement import store as db
from engagement.imports import runner
from engagement.imports.reading import source_list, source_name
from engagement.imports.report import ImportReport
from engagement.settings import load_settings

SchoolScope = str | Collection[str] | None


@dataclass(frozen=True)
class Engine:
    """A reader and writer that several kinds share: ``steps`` are its part in the one runner of
    imports (:mod:`engagement.imports.runner`); ``importer(store, sources, kind=, actor=,
    school_id=, dry_run=, allowed_schools=)`` imports its files alone and returns an
    :class:`ImportReport`; ``exporter(store, directory, school_id)`` writes the engine's files and
    returns their paths."""

    name: str
    title: str  # the Data page's section for its files
    steps: runner.Steps
    importer: Callable[..., ImportReport]
    exporter: Callable[[db.Store, Path, SchoolScope], list[Path]]
    guess: Callable[[str], str | None]
    describe: Callable[[ImportReport], str] | None = None

    def report_text(self, report: ImportReport) -> str:
        """What an import through this engine did, or why it was refused, in plain words."""
        return self.describe(report) if self.describe else report.format()


@dataclass(frozen=True)
class RecordKind:
    """One kind of record: its file, the store tables its rows carry, its engine, and what it is in
    the school's words (the Data page's templates say it)."""

    name: str
    engine: str
    tables: tuple[str, ...]
    about: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def template(self) -> Path:
        return interchange.TEMPLATES_DIR / self.file_name


def _terms_export(store: db.Store, directory: Path, school_id: SchoolScope) -> list[Path]:
    return [terms_files.export_terms(store, directory, school_id)]


def _week_export(store: db.Store, directory: Path, school_id: SchoolScope) -> list[Path]:
    schools = [school_id] if isinstance(school_id, str) else school_id
    return week_files.export_week(store, directory, schools)


def _terms_import(store, sources, kind=None, **options) -> ImportReport:
    return terms_files.import_terms(store, sources, **options)


def _terms_guess(name: str) -> str | None:
    return "terms" if terms_files.is_terms_file(name) else None


ENGINES: tuple[Engine, ...] = (
    Engine(
        "records",
        "Schools, partners, services, families and contacts",
        interchange.STEPS,
        interchange.import_files,
        interchange.export_all,
        interchange.guess_kind,
    ),
    Engine("calendar", "School terms", terms_files.STEPS, _terms_import, _terms_export, _terms_guess),
    Engine(
        "week",
        "Events, referrals and families' partners",
        week_files.STEPS,
        week_files.import_week_files,
        _week_export,
        week_files.guess_week_kind,
    ),
    Engine(
        "voice",
        "Transitions and survey answers",
        voice_files.STEPS,
        voice_files.import_files,
        voice_files.export_files,
        voice_files.guess_kind,
        describe=voice_files.describe,
    ),
    Engine(
        "partnerships",
        "Partnerships and the action plan",
        partnership_files.STEPS,
        partnership_files.import_files,
        partnership_files.export_files,
        partnership_files.guess_kind,
        describe=partnership_files.describe,
    ),
)
ENGINE = {e.name: e for e in ENGINES}

RECORD_KINDS: tuple[RecordKind, ...] = (
    RecordKind("schools", "records", ("schools",), "the school (or the trust's schools)"),
    RecordKind("partners", "records", ("partners",), "partners: the organisations the school works with"),
    RecordKind("services", "records", ("services",), "what each partner offers"),
    RecordKind("families", "records", ("families",), "families, by their pseudonymous reference"),
    RecordKind(
        "interactions",
        "records",
        ("interactions", "event_contacts"),
        "contacts with families and partners (event_id: the register a contact is on)",
    ),
    RecordKind("terms", "calendar", ("terms",), "the school's terms and the holidays inside them"),
    RecordKind("events", "week", ("events",), "events, one row per attending family"),
    RecordKind("referrals", "week", ("referrals",), "referrals to partners, with their current status"),
    RecordKind("referral_steps", "week", ("referral_steps",), "every status each referral went through"),
    RecordKind("family_partners", "week", ("family_partners",), "the partners each family uses"),
    RecordKind("transitions", "voice", ("transitions",), "children moving between settings"),
    RecordKind("transition_steps", "voice", ("transition_steps",), "each transition's plan, step by step"),
    RecordKind("survey_responses", "voice", ("survey_responses",), "answers to the surveys of data/surveys.toml"),
    RecordKind("partnerships", "partnerships", ("partnerships",), "the school's partnerships with community groups"),
    RecordKind("partnership_members", "partnerships", ("partnership_members",), "the families each partnership serves"),
    RecordKind("action_plan", "partnerships", ("action_plan",), "the year's partnership action plan, one row per goal"),
)
KIND = {k.name: k for k in RECORD_KINDS}

# The store's tables that no file carries, each with the reason (a test fails on a table in
# neither list).
NOT_EXPORTED = {
    "audit_log": "the log of who changed what: it stays with the store; a restored store starts its own",
    "geocode_cache": "public geocoder answers, fetched again by `geocode` when missing",
    "gazetteer": "a public list of postcodes, loaded with `geocode --gazetteer FILE`",
}


def kind_names() -> list[str]:
    """Every kind's name, in the registry's order (the command line's ``--kind`` choices)."""
    return [k.name for k in RECORD_KINDS]


def kinds_of(engine: str) -> list[str]:
    """The kinds one engine reads and writes."""
    return [k.name for k in RECORD_KINDS if k.engine == engine]


# Whose guess is asked first: the narrower names before the broader ("family_partners.csv" is the
# week's, not partners; "referral_steps.csv" not referrals; "partnership_members.csv" not
# families), and terms last, as any file of dates could say "term".
GUESS_ORDER = ("partnerships", "week", "voice", "records", "calendar")


def kind_of_file(filename: str) -> str | None:
    """The kind a file's name suggests, or None."""
    for name in GUESS_ORDER:
        found = ENGINE[name].guess(filename)
        if found is not None:
            return found
    return None


def tables_carried() -> set[str]:
    """The store tables some kind's file carries."""
    return set(audited_tables())


def audited_tables() -> list[str]:
    """The tables of the school's records in the registry's order: the Audit page's filter."""
    return list(dict.fromkeys(t for k in RECORD_KINDS for t in k.tables))


# ---------------------------------------------------------------- reading a batch


def _zip_members(data: bytes) -> list[tuple[str, bytes]]:
    """The CSV and XLSX files a ZIP holds (a backup of the Data page, or ``export DIR`` zipped),
    read whole but within the import's limits: the number of files, each file's size and the
    total unpacked, checked from the archive's directory before a byte is unpacked. A member's
    folder is dropped (``backup/families.csv`` is families.csv), so a name can never point elsewhere."""
    limits = load_settings().imports
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"not a ZIP file that can be opened ({exc})") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > 4 * len(RECORD_KINDS):
            raise ValueError(f"it holds {len(members)} files; a backup holds at most one file of each kind")
        unpacked = sum(m.file_size for m in members)
        if unpacked > limits.max_unpacked_mb * 1_000_000:
            raise ValueError(
                f"it would unpack to {unpacked / 1_000_000:,.0f} MB, over the limit of "
                f"{limits.max_unpacked_mb:g} MB; it is refused unopened"
            )
        out = []
        for member in members:
            inner = PurePosixPath(member.filename.replace("\\", "/")).name
            if not inner.lower().endswith((".csv", ".xlsx")):
                raise ValueError(f"{inner!r} is neither CSV nor XLSX; a backup holds only those")
            if member.file_size > limits.max_file_mb * 1_000_000:
                raise ValueError(f"{inner} would unpack to over {limits.max_file_mb:g} MB; it is refused unopened")
            out.append((inner, archive.read(member)))
    return out


def expand(sources: Iterable[Any]) -> list[Any]:
    """The files of a batch, each ZIP replaced by the files it holds.

    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as z:
    ...     z.writestr("backup/families.csv", "family_id\\nF1\\n")
    >>> [name for name, _ in expand([("backup.zip", buffer.getvalue())])]
    ['families.csv']
    """
    out: list[Any] = []
    for item in source_list(sources):
        name = source_name(item)
        if not name.lower().endswith(".zip"):
            out.append(item)
            continue
        if isinstance(item, tuple):
            data = bytes(item[1])
        elif hasattr(item, "getvalue"):
            data = bytes(item.getvalue())
        else:
            path = Path(item)
            if path.stat().st_size > load_settings().imports.max_file_mb * 1_000_000:
                raise ValueError(f"over the limit of {load_settings().imports.max_file_mb:g} MB")
            data = path.read_bytes()
        out.extend(_zip_members(data))
    return out


def engine_of(item: Any, kind: str | None) -> str:
    """The engine that reads a file: the given kind's, else the one its name suggests, else the
    main records' (whose report then says the kind cannot be told from the name)."""
    found = kind or kind_of_file(source_name(item))
    return KIND[found].engine if found in KIND else "records"


@dataclass
class ImportRun:
    """The reports of one import across engines, in the order they ran, and the files that were not
    imported because the files of another engine were refused (a batch is all or nothing)."""

    reports: list[tuple[Engine, ImportReport]]
    not_attempted: list[str]

    @property
    def ok(self) -> bool:
        return not self.not_attempted and all(r.ok for _, r in self.reports)

    def format(self) -> str:
        """Every engine's report, then the files left unimported, in plain words."""
        lines = [e.report_text(r) for e, r in self.reports]
        if self.not_attempted:
            lines.append(
                "Not imported either, since the files above were refused: " + ", ".join(self.not_attempted) + "."
            )
        return "\n".join(lines)


def import_records(
    store: db.Store,
    sources: Iterable[Any],
    kind: str | None = None,
    actor: str = "import",
    school_id: str | None = None,
    dry_run: bool = False,
    allowed_schools: Collection[str] | None = None,
) -> ImportRun:
    """Import files of any kinds (paths, ``(name, bytes)`` pairs, ZIPs of them) as one batch, all
    or nothing: every file is checked, then every engine's rows are written in one transaction, in
    the registry's order (each checked on the store as the engines before it left it); a refused
    file leaves the store as it was. ``dry_run`` checks each engine's files against the store as
    it is, in the registry's order, and stops at a refused one.

    >>> store = db.open_store("sqlite://")
    >>> run = import_records(store, [("schools.csv", b"school_id,name,postcode\\nS1,Hollybrook,B30 2AA\\n")])
    >>> run.ok, [s["name"] for s in db.list_schools(store)]
    (True, ['Hollybrook'])
    """
    if kind is not None and kind not in KIND:
        raise ValueError(f"kind must be one of {', '.join(KIND)}")
    try:
        files = expand(sources)
    except (ValueError, OSError) as exc:
        refused = ImportReport(dry_run=dry_run)
        refused.files += [source_name(s) for s in source_list(sources)]
        refused.error(", ".join(refused.files), None, None, str(exc))
        return ImportRun([(ENGINE["records"], refused)], [])
    groups: dict[str, list[Any]] = {e.name: [] for e in ENGINES}
    for item in files:
        groups[engine_of(item, kind)].append(item)
    # Each engine is given the kind only if it is one of its own (terms take any file as terms).
    engines = [e for e in ENGINES if groups[e.name]]
    outcome = runner.run(
        store,
        [(e.steps, groups[e.name]) for e in engines],
        kind=kind,
        dry_run=dry_run,
        actor=actor,
        school_id=school_id,
        allowed_schools=allowed_schools,
    )
    by_steps = {id(e.steps): e for e in engines}
    return ImportRun([(by_steps[id(s)], r) for s, r in outcome.reports], outcome.not_imported)


# ---------------------------------------------------------------- a whole store out


def _has_rows(path: Path) -> bool:
    with open(path, encoding="utf-8-sig") as f:
        return sum(1 for line in f if line.strip()) > 1


def export_records(store: db.Store, directory, school_id: SchoolScope = None) -> list[Path]:
    """Write every kind's file that has rows into ``directory``, in FORMATS.md's formats and the
    registry's order, safe to open in Excel; importing them into an empty store (in one call, or as
    the ZIP of :func:`backup_zip`) brings every row back, so that a second export is identical.

    The files are written into a temporary folder beside ``directory`` and moved into place only
    when all of them are whole: a full disk leaves the folder as it was, never a cut file beside
    complete ones."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target))
    try:
        written: dict[str, Path] = {}
        for engine in ENGINES:
            for path in engine.exporter(store, staging, school_id):
                written[path.stem] = path
        chosen = [written[k.name] for k in RECORD_KINDS if k.name in written and _has_rows(written[k.name])]
        for path in chosen:
            os.replace(path, target / path.name)
        # A kind with no rows now leaves no file of an earlier export behind: `import DIR/*.csv`
        # would bring its old rows back.
        for kind in RECORD_KINDS:
            if written.get(kind.name) not in chosen:
                (target / kind.file_name).unlink(missing_ok=True)
        return [target / path.name for path in chosen]
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def backup_zip(store: db.Store, school_id: SchoolScope = None) -> bytes:
    """A ZIP of exactly the files :func:`export_records` writes: the Data page's backup, which
    ``import BACKUP.zip`` restores."""
    with tempfile.TemporaryDirectory() as tmp:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in export_records(store, tmp, school_id):
                archive.write(path, arcname=path.name)
    return buffer.getvalue()


__all__ = [
    "ENGINE",
    "ENGINES",
    "KIND",
    "NOT_EXPORTED",
    "RECORD_KINDS",
    "Engine",
    "ImportRun",
    "RecordKind",
    "audited_tables",
    "backup_zip",
    "expand",
    "export_records",
    "import_records",
    "kind_names",
    "kind_of_file",
    "kinds_of",
    "tables_carried",
]
