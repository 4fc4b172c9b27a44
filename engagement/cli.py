"""The command line: ``python -m engagement COMMAND``, a thin layer over the package.

Every command takes ``--db`` (a SQLAlchemy URL or a path to a SQLite file; default: the app's own
store). Exit status: 0 on success, 1 when the input was refused (nothing written), 2 for wrong
usage (argparse's own convention).
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from engagement import records
from engagement import store as db
from engagement.settings import SettingsError, load_settings, settings_file
from engagement.store import store_problem

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def _date(text: str) -> datetime.date:
    from engagement.cells import parse_date

    value = parse_date(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use 2026-09-14 or 14/09/2026)")
    return value


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


# ---------------------------------------------------------------- demo


def _demo_args(p):
    p.add_argument("--scale", choices=["school", "trust", "authority"], default="school")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--today", type=_date, default=None, help="date the demo's current term runs to (default: today)")


def _demo_run(args) -> int:
    from engagement.demo import load_demo

    store = db.open_store(args.db)
    data = load_demo(store, scale=args.scale, seed=args.seed, today=args.today, actor=_actor())
    print(
        f"Demo data written to {db.display_url(store.url)}: {len(data.schools)} school(s), {len(data.partners)} partners, "
        f"{len(data.families)} families, {len(data.interactions)} interactions."
    )
    return EXIT_OK


# ---------------------------------------------------------------- import


def _import_args(p):
    p.add_argument("files", nargs="+", type=Path, help="CSV or XLSX files, or a ZIP of them (a backup)")
    p.add_argument("--kind", choices=records.kind_names())
    p.add_argument("--school", help="the school the rows belong to, when the store holds several")


def _import_run(args) -> int:
    store = db.open_store(args.db)
    run = records.import_records(store, args.files, kind=args.kind, actor=_actor(), school_id=args.school)
    for engine, report in run.reports:
        print(engine.report_text(report), file=sys.stdout if report.ok else sys.stderr)
    if run.not_attempted:
        print(
            f"Not imported either, since the files above were refused: {', '.join(run.not_attempted)}.",
            file=sys.stderr,
        )
    return EXIT_OK if run.ok else EXIT_REFUSED


# ---------------------------------------------------------------- export


def _export_args(p):
    p.add_argument("directory", type=Path)


def _export_run(args) -> int:
    store = db.open_store(args.db)
    try:
        written = records.export_records(store, args.directory)
    except OSError as exc:
        print(f"Not exported: {exc.strerror or exc}. The folder {args.directory} is as it was.", file=sys.stderr)
        return EXIT_REFUSED
    for path in written:
        print(path)
    return EXIT_OK


# ---------------------------------------------------------------- privacy


def _erase_family_args(p):
    p.add_argument("family_id", help="the family's pseudonymous reference")


def _erase_family_run(args) -> int:
    from engagement.privacy import UnknownFamily, erase_family

    store = db.open_store(args.db)
    try:
        count = erase_family(store, args.family_id, actor=_actor())
    except UnknownFamily as exc:
        print(exc, file=sys.stderr)
        return EXIT_REFUSED
    print(f"Erased family {args.family_id} and {count} interactions; its audit entries are redacted.")
    return EXIT_OK


def _retention_args(p):
    p.add_argument("--days", type=int, default=None, help="retention period (default: data/config.toml)")


def _retention_run(args) -> int:
    from engagement.privacy import apply_retention, retention_days

    store = db.open_store(args.db)
    days = args.days if args.days is not None else retention_days()
    count = apply_retention(store, actor=_actor(), days=days)
    print(f"Erased the notes of {count} interactions older than {days} days.")
    return EXIT_OK


# ---------------------------------------------------------------- geocode


def _geocode_args(p):
    p.add_argument("--limit", type=int, default=None, help="try at most N records this run")
    p.add_argument("--offline", action="store_true", help="use only the gazetteer, whatever the config says")
    p.add_argument(
        "--gazetteer",
        type=Path,
        default=None,
        help="first import this postcode CSV (ONS Postcode Directory or postcode,latitude,longitude)",
    )


def _geocode_run(args) -> int:
    from engagement import geo

    store = db.open_store(args.db)
    if args.gazetteer:
        try:
            n = geo.import_gazetteer(store, args.gazetteer, actor=_actor())
        except (geo.GazetteerError, OSError) as error:
            print(error, file=sys.stderr)
            return EXIT_REFUSED
        print(f"Gazetteer: {n} postcodes imported from {args.gazetteer}.")
    report = geo.geocode_missing(
        store,
        _actor(),
        limit=args.limit,
        online=False if args.offline else None,
        progress=lambda done, total, what: print(f"[{done}/{total}] {what}", file=sys.stderr),
    )
    print(report.format())
    return EXIT_OK


# ---------------------------------------------------------------- outreach


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a whole number of 1 or more: {text!r}")
    return value


def _outreach_args(p):
    p.add_argument(
        "--days",
        type=_positive_int,
        default=None,
        help="families with no two-way contact in this many school days (default: data/config.toml)",
    )
    p.add_argument("--limit", type=_positive_int, default=None, help="show only the first K families")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--school", help="the school, when the store holds several")
    p.add_argument("--today", type=_date, default=None, help="the day the list is for (default: today)")


def _outreach_run(args) -> int:
    import json

    from engagement.outreach import worklist_report

    store = db.open_store(args.db)
    school = _chosen_school(store, args.school)
    if school is None:
        return EXIT_USAGE
    report = worklist_report(store, school, today=args.today, days=args.days, limit=args.limit)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return EXIT_OK
    print(
        f"{report['school']} ({school}), {report['today']}: {report['families_on_list']} of "
        f"{report['families_on_roll']} families with no two-way contact in the last {report['days']} "
        f"{report['unit']}."
    )
    for rank, row in enumerate(report["families"], start=1):
        print(
            f"{rank:>4}. {row['family_id']}  priority {row['priority']:g}  {row['postcode'] or 'no postcode'}"
            f"  prefers {row['preferred_channel'] or '-'}, {row['language'] or '-'}\n      {row['reasons']}"
        )
    return EXIT_OK


def _chosen_school(store: db.Store, wanted: str | None) -> str | None:
    """The school a command works on: ``--school``, or the store's only school. ``None``, with
    the reason on stderr, when there is no such school or several to choose from."""
    ids = db.school_ids(store)
    school = wanted or (ids[0] if len(ids) == 1 else None)
    if school in ids:
        return school
    print(
        f"There is no school {wanted!r} in the store."
        if wanted
        else "The store holds no school yet: load one with `demo` or `import`."
        if not ids
        else f"The store holds {len(ids)} schools; choose one with --school "
        f"({', '.join(ids[:5])}{', ...' if len(ids) > 5 else ''}).",
        file=sys.stderr,
    )
    return None


# ---------------------------------------------------------------- score


def _window_args(p, first_day: str, json_help: str = "print one JSON object (FORMATS.md)") -> None:
    """The window, --json and --for governor, as score and compare both take them."""
    p.add_argument(
        "--from", dest="start", type=_date, default=None, help=f"first day of the window (default: {first_day})"
    )
    p.add_argument("--to", dest="end", type=_date, default=None, help="last day of the window (default: today)")
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument(
        "--for",
        dest="audience",
        choices=["governor"],
        default=None,
        help="print only what a governor may see: counts rounded, no figure resting on 1-9 families",
    )


def _score_args(p):
    _window_args(p, "the current term, data/config.toml [window]")
    p.add_argument("--school", help="the school, required when the store holds several")


def _score_run(args) -> int:
    import json

    from engagement.calendar import load_calendar
    from engagement.explanations import format_card
    from engagement.overview import school_overview, score_json
    from engagement.terms import default_window

    store = db.open_store(args.db)
    school = _chosen_school(store, args.school)
    if school is None:
        return EXIT_USAGE
    calendar = load_calendar(store, school)  # the school's own terms, else England's
    start, end = default_window(args.end, calendar=calendar)
    start, end = args.start or start, args.end or end
    if end < start:
        print(f"The window ends ({end}) before it starts ({start}).", file=sys.stderr)
        return EXIT_USAGE
    # The same assembly as the Overview page and its report: the command only serialises it.
    view = school_overview(store, school, start, end, for_governor=args.audience == "governor", calendar=calendar)
    card = score_json(view)
    from engagement import partnerships  # its keys read the card built above (the plan's "now")

    card |= partnerships.score_json(
        store, school, start, end, card, calendar=calendar, for_governor=args.audience == "governor"
    )
    if args.json:
        print(json.dumps(card, ensure_ascii=False))
    else:
        print(format_card(card, view.school_name))
        print(f"\nChanges compare {view.comparison_text}.")
        communication = view.communication
        assert communication is not None  # school_overview always measures it
        print(
            "\nHow the school communicates\n"
            + "\n".join(
                f"  {row['principle']:<10} {row['value']:>10}  {row['explanation']}" for row in communication.rows
            )
        )
    return EXIT_OK


# ---------------------------------------------------------------- compare


def _compare_args(p):
    _window_args(p, "each school's own term so far")


def _compare_run(args) -> int:
    import json

    from engagement.compare import compare_json, compare_text

    if args.start and args.end and args.end < args.start:
        print(f"The window ends ({args.end}) before it starts ({args.start}).", file=sys.stderr)
        return EXIT_USAGE
    store = db.open_store(args.db)
    # --from alone: from that day to each school's own today (its default window's end).
    try:
        result = compare_json(store, start=args.start, end=args.end, for_governor=args.audience == "governor")
    except ValueError as error:  # --from after a school's own window ends
        print(f"The {error}.", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(result, ensure_ascii=False) if args.json else compare_text(result))
    return EXIT_OK


# ---------------------------------------------------------------- bench


def _bench_args(p):
    p.add_argument("--scale", choices=["school", "trust", "authority"], default="school")
    p.add_argument("--repeats", type=_positive_int, default=None, help="runs per timing (median taken)")
    p.add_argument("--today", type=_date, default=None, help="date the demo's current term runs to (default: today)")
    p.add_argument(
        "--import-million", action="store_true", help="also time importing 1,000,000 interactions (a few minutes)"
    )
    p.add_argument(
        "--quick", action="store_true", help="every section at small sizes, once each: checks the benchmark runs"
    )
    p.add_argument(
        "--postgres",
        default=None,
        metavar="URL",
        help="the PostgreSQL server the import timings use (default: TEST_POSTGRES_URL or the local one)",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="SECTION",
        help="time only this section (repeat for more): engagement, outreach, register, map, schools, import, oruk",
    )


def _bench_run(args) -> int:
    from engagement.bench import run_bench, section_names, sections_named

    unknown = sorted(set(args.only or []) - set(section_names()))
    if unknown:
        print(f"error: no bench section {unknown[0]!r}; the sections are {', '.join(section_names())}", file=sys.stderr)
        return EXIT_USAGE

    # The benchmark always writes into fresh temporary stores; --db is not used.
    rows = (20_000, 100_000, 1_000_000) if args.import_million else (20_000, 100_000)
    run_bench(
        args.scale,
        repeats=args.repeats,
        today=args.today,
        import_rows=rows,
        postgres_url=args.postgres,
        quick=args.quick,
        sections=sections_named(args.only) if args.only else None,
    )
    return EXIT_OK


# ---------------------------------------------------------------- Open Referral UK


def _import_oruk_args(p):
    p.add_argument("sources", nargs="+", metavar="FILE_OR_URL", help="JSON files or a feed's base URL")
    p.add_argument("--school", help="the school whose directory it is, when the store holds several")
    p.add_argument(
        "--dry-run", action="store_true", help="print what would be added, changed and closed; write nothing"
    )
    p.add_argument(
        "--category-map",
        type=Path,
        default=None,
        help="taxonomy terms to categories (default: data/oruk_categories.toml)",
    )
    p.add_argument("--default-category", default=None, help="the category of services whose terms map to none")
    p.add_argument(
        "--max-km",
        type=float,
        default=None,
        help="leave out services farther than this from the school (default [open_referral] max_km; 0 = no limit)",
    )


def _import_oruk_run(args) -> int:
    from engagement import openreferral as oruk

    try:
        category_map = oruk.load_category_map(args.category_map)
    except oruk.CategoryMapError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.default_category is not None and oruk.load_typology().category(args.default_category) is None:
        print(f"error: --default-category {args.default_category!r} is not a category of the typology", file=sys.stderr)
        return EXIT_USAGE
    if args.max_km is not None and not args.max_km >= 0:
        print(f"error: --max-km must be 0 (no limit) or more, not {args.max_km:g}", file=sys.stderr)
        return EXIT_USAGE
    store = db.open_store(args.db)
    school = _chosen_school(store, args.school)
    if school is None:
        return EXIT_USAGE
    report = oruk.import_oruk(
        store,
        [s if s.lower().startswith(("http://", "https://")) else Path(s) for s in args.sources],
        school,
        actor=_actor(),
        dry_run=args.dry_run,
        category_map=category_map,
        default_category=args.default_category,
        max_km=args.max_km,
    )
    print(report.format(), file=sys.stdout if report.ok else sys.stderr)
    return EXIT_OK if report.ok else EXIT_REFUSED


def _export_oruk_args(p):
    p.add_argument("directory", type=Path)
    p.add_argument("--school", help="the school whose directory it is, when the store holds several")


def _export_oruk_run(args) -> int:
    from engagement.openreferral import export_oruk

    store = db.open_store(args.db)
    # One school's directory: two schools may hold the same authority's service under one id.
    school = _chosen_school(store, args.school)
    if school is None:
        return EXIT_USAGE
    paths = export_oruk(store, args.directory, school)
    print(f"{len(paths) - 1} services written to {args.directory / 'services'}; the /services page: {paths[-1]}")
    return EXIT_OK


# ---------------------------------------------------------------- the parser


def _check_args(p):
    pass


def _check_run(args) -> int:
    from engagement.pages import check_registry

    check_registry()
    print(f"Settings ({settings_file()}) and page registry are in order.")
    return 0


COMMANDS = {
    "demo": ("write the synthetic demo data set into the database", _demo_args, _demo_run),
    "import": ("import CSV or XLSX files; all-or-nothing, a report on any error", _import_args, _import_run),
    "export": ("write every table as CSV, safe to open in Excel", _export_args, _export_run),
    "erase-family": (
        "erase one family's records completely (a data subject request)",
        _erase_family_args,
        _erase_family_run,
    ),
    "retention": ("erase interaction notes older than the retention period", _retention_args, _retention_run),
    "geocode": (
        "place partners and schools that have no coordinates (gazetteer, then online)",
        _geocode_args,
        _geocode_run,
    ),
    "outreach": ("the families to reach next, most in need first, with the reasons", _outreach_args, _outreach_run),
    "score": ("the engagement metrics and scores of a school for a window", _score_args, _score_run),
    "compare": (
        "every school of the store side by side, and the partners they share",
        _compare_args,
        _compare_run,
    ),
    "bench": ("time the engagement module (and the map) on synthetic data", _bench_args, _bench_run),
    "import-oruk": (
        "import an Open Referral UK 3.0 directory (files or a feed URL); all-or-nothing",
        _import_oruk_args,
        _import_oruk_run,
    ),
    "export-oruk": ("write the partner directory as Open Referral UK 3.0 JSON", _export_oruk_args, _export_oruk_run),
    "check": ("check the settings file and the page registry (run before the app starts)", _check_args, _check_run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engagement", description="The community engagement map for schools."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--db", help="SQLAlchemy URL or path to a SQLite file (default: the app's own store)")
        add_arguments(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A misspelt setting or a broken page registry stops every command before it touches the store.
    from engagement.pages import RegistryError

    try:
        load_settings()
        return args.run(args)
    except (SettingsError, RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except SQLAlchemyError as error:
        # A store that is down, read-only or locked: one plain line, not a traceback.
        print(f"error: the store cannot be used: {store_problem(error)}", file=sys.stderr)
        return EXIT_REFUSED
    except PermissionError as error:
        print(f"error: the store cannot be used: {error.strerror}: {error.filename}", file=sys.stderr)
        return EXIT_REFUSED
