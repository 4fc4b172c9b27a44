"""The benchmark behind ``python -m engagement bench``: how fast the product is on a school, a
trust and a local authority (400 schools, about five million interactions).

It writes the demo data at the chosen scale into a fresh temporary SQLite store, then runs each
*section* in :data:`SECTIONS` and prints one table of medians. A section is a function that takes
the :class:`Bench` (store, demo data, loaded frames, window, repeats) and returns a list of
:class:`Timing`; a part of the product adds its own timings by writing such a function here and
appending it to :data:`SECTIONS` (the map and the outreach planner do).

The engagement section times loading from the store, one school's card, every school's card,
term trends, and family reach for every school against the same query in DuckDB SQL over the
same frames (DuckDB on one thread, as our code runs on one core).

``bench --quick`` runs every section and every step of each with small sizes (a few hundred rows,
partners and services, one run each, no browser) in well under a minute: the suite runs it
(tests/test_bench.py), so a change that breaks a section fails there, not at the next measuring.

The import section imports a file of 20,000 and of 100,000 interactions (and 1,000,000 with
``--import-million``) into a fresh demo school on SQLite and on PostgreSQL, each in a child
process, and prints the time against its target, how long the write transaction took (on SQLite
it holds the store's write lock), and the child's peak memory against a target for what the
import itself added.

>>> t = Timing("score card, one school", 0.0123, runs=7, target="< 50 ms")
>>> format_seconds(t.seconds)
'12.3 ms'
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engagement import clock, explanations, scoring
from engagement import store as db
from engagement.bench_timing import DEFAULT_POSTGRES, Bench, Timing, child_result, median_seconds, postgres_schema
from engagement.compare_bench import schools_section
from engagement.demo import load_demo
from engagement.frames import Frames, load_school_frames
from engagement.map_bench import map_section
from engagement.terms import default_window, previous_term, term_of

DEFAULT_REPEATS = {"school": 9, "trust": 7, "authority": 5}
QUICK_IMPORT_ROWS = (500,)
QUICK_ORUK_SERVICES = 50


def format_value(timing: Timing) -> str:
    """A timing's figure as the table prints it: a time, or a memory figure in MB."""
    if timing.megabytes is not None:
        return f"{timing.megabytes:,.0f} MB"
    return format_seconds(timing.seconds)


def format_seconds(seconds: float) -> str:
    if seconds != seconds:  # NaN: a timing that could not be taken here (its note says why)
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def _duckdb_family_reach(frames: Frames, start: datetime.date, end: datetime.date, threads: int):
    """Family reach per school in DuckDB SQL over the very arrays our code reads: a timed callable."""
    import duckdb

    con = duckdb.connect(config={"threads": threads})
    fam = frames.families
    fam_table = {"pos": np.arange(len(fam), dtype=np.int32), "school": fam["school_id"].cat.codes.to_numpy()}
    inter = frames.interactions
    inter_table = {
        "family": inter["family"].to_numpy(),
        "day": inter["day"].to_numpy(),
        "two_way": inter["two_way"].to_numpy(),
    }
    import pandas as pd

    con.register("fam", pd.DataFrame(fam_table))
    con.register("inter", pd.DataFrame(inter_table))
    sql = """
        SELECT f.school, count(*) AS on_roll, count(r.family) AS reached, count(r.family) / count(*) AS reach
        FROM fam f LEFT JOIN (
            SELECT DISTINCT family FROM inter WHERE two_way AND family >= 0 AND day BETWEEN $s AND $e
        ) r ON r.family = f.pos
        GROUP BY f.school ORDER BY f.school
    """
    params = {"s": scoring._day(start), "e": scoring._day(end)}
    return con, lambda: con.execute(sql, params).fetchnumpy()


def engagement_section(bench: Bench) -> list[Timing]:
    start, end = bench.window
    n = bench.repeats
    out = []
    load_runs = max(3, n // 2)
    t_load, frames = median_seconds(lambda: load_school_frames(bench.store), load_runs)
    bench.frames = frames
    out.append(Timing("load from the store, every school", t_load, load_runs))
    first = frames.school_ids[0]
    t_one_load, _ = median_seconds(lambda: load_school_frames(bench.store, first), n)
    out.append(Timing("load from the store, one school", t_one_load, n))
    t_card, _ = median_seconds(lambda: scoring.score_card(frames, first, start, end), n)
    out.append(Timing("score card, one school", t_card, n, "< 50 ms"))
    t_explain, _ = median_seconds(lambda: explanations.explain(frames, first, start, end), n)
    out.append(Timing("explanations, one school", t_explain, n))
    t_all, cards = median_seconds(lambda: scoring.score_cards(frames, start, end), n)
    out.append(Timing(f"score cards, all {len(cards)} schools", t_all, n))
    if bench.scale == "authority":
        out.append(Timing("load + all score cards", t_load + t_all, n, "< 10 s"))
    trend_start = previous_term(previous_term(term_of(end))).start  # the demo's three terms
    t_trend, _ = median_seconds(lambda: scoring.trends(frames, first, trend_start, end, by="term"), n)
    out.append(Timing("term trends, one school", t_trend, n))
    t_trend_all, _ = median_seconds(lambda: scoring.trends(frames, None, trend_start, end, by="term"), max(1, n // 2))
    out.append(Timing(f"term trends, all {len(frames.school_ids)} schools", t_trend_all, max(1, n // 2)))
    t_compare, _ = median_seconds(lambda: scoring.compare(frames, first, start, end), n)
    out.append(Timing("previous-period comparison, one school", t_compare, n))

    t_ours, ours = median_seconds(lambda: scoring.family_reach(frames, start, end), n)
    out.append(Timing("family reach, all schools (ours)", t_ours, n))
    for threads in (1, os.cpu_count() or 1):
        con, query = _duckdb_family_reach(frames, start, end, threads)
        t_duck, duck = median_seconds(query, n)
        con.close()
        if not np.allclose(duck["reach"], ours.to_numpy(), equal_nan=True):
            raise AssertionError("DuckDB and our family reach disagree")
        target = "ours within 2x" if threads == 1 else ""
        out.append(
            Timing(
                f"family reach, all schools (DuckDB SQL, {threads} thread{'s' if threads > 1 else ''})",
                t_duck,
                n,
                target,
                note=f"ours / DuckDB = {t_ours / t_duck:.2f}",
            )
        )
        if threads == (os.cpu_count() or 1):
            break
    return out


def outreach_section(bench: Bench) -> list[Timing]:
    """The outreach planner for one school, as the page asks for it: from the store to the ranked
    worklist, then the partners near the first family's home."""
    from engagement import outreach

    n = bench.repeats
    school = str(bench.data.schools["school_id"].iloc[0])

    def planner():
        frames = outreach.load_frames(bench.store, school, bench.today)
        wl = outreach.worklist(frames)
        return frames, wl, outreach.partner_suggestions(frames, family_id=wl["family_id"].iloc[0])

    t_all, (frames, wl, _) = median_seconds(planner, n)
    t_load, _ = median_seconds(lambda: outreach.load_frames(bench.store, school, bench.today), n)
    t_list, _ = median_seconds(lambda: outreach.worklist(frames), n)
    t_near, _ = median_seconds(lambda: outreach.partner_suggestions(frames, family_id=wl["family_id"].iloc[0]), n)
    t_sheet, _ = median_seconds(
        lambda: outreach.visit_sheet_html(
            wl.head(25), school_name=school, suggestions=outreach.suggestions_for(frames, wl["family_id"].head(25))
        ),
        n,
    )
    on_roll = len(frames.families)
    return [
        Timing("outreach: load one school from the store", t_load, n, note=f"{on_roll} families"),
        Timing("outreach: rank the worklist", t_list, n, note=f"{len(wl)} families on the list"),
        Timing("outreach: partners near one family", t_near, n),
        Timing("outreach: worklist + partner suggestions, one school", t_all, n, "< 300 ms"),
        Timing("outreach: printable sheet, 25 families with partners", t_sheet, n),
    ]


def register_section(bench: Bench) -> list[Timing]:
    """Saving an event register as the page does: one transaction with the event, one contact
    and one audit row per attending family (a new event each run, so every run writes)."""
    from engagement.events import save_register

    school = str(bench.data.schools["school_id"].iloc[0])
    families = bench.data.families.loc[bench.data.families["school_id"] == school, "family_id"].astype(str).tolist()
    out = []
    for size, target in ((80, "< 1 s"), (400, "< 2 s")):
        if len(families) < size:
            continue
        runs = iter(range(bench.repeats))

        def save(size=size, runs=runs):
            return save_register(
                bench.store,
                "bench",
                school_id=school,
                event_id=f"bench-{size}-{next(runs)}",
                date=bench.today,
                activity="parents evening",
                family_ids=families[:size],
                today=bench.today,
            )

        t, _ = median_seconds(save, bench.repeats)
        out.append(Timing(f"event register of {size} families, saved", t, bench.repeats, target))
    return out


# ---------------------------------------------------------------- imports

# Seconds for the whole import, and what the import may add to the process's peak memory in MB:
# the rows' typed columns, a chunk of text and (on SQLite) the pages of the write; the file's
# text is never held whole (its snapshot is in memory up to 4 MB, beyond that in a temporary file).
IMPORT_TARGETS = {20_000: ("< 3 s", 50), 100_000: ("< 10 s", 150), 1_000_000: ("< 120 s", 600)}
# How long an import may hold SQLite's write lock: under its busy timeout, so officers logging
# contacts meanwhile wait and never fail. (PostgreSQL locks rows: the officers do not wait.)
LOCK_TARGET = f"< {db.SQLITE_BUSY_TIMEOUT_MS // 1000} s"
_NOTES = np.array(
    [
        "",
        "",
        "",
        "No answer; left a message",
        "Mum asked about the holiday club, and breakfast club",
        'Dad said "we\'ll try" about reading at home',
        "Talked about attendance.\nFollow up next week, by phone",
        "Café voucher £5 given",
        "=not a formula",
    ],
    dtype=object,
)


def write_interactions_file(path: Path, rows: int, seed: int, today: datetime.date) -> Path:
    """An interactions.csv of ``rows`` contacts of the demo school (``seed``, ``today``) as an MIS
    would export them: ids, ISO dates, families and partners, notes with commas, doubled quotes,
    line breaks, a £ and a formula-like text. Returns ``path``."""
    import pandas as pd

    from engagement.demo import generate

    source = generate("school", seed=seed, today=today).interactions
    rng = np.random.default_rng(seed)
    picked = source.iloc[rng.integers(0, len(source), rows)].reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "interaction_id": [f"B-{i:07d}" for i in range(rows)],
            "school_id": picked["school_id"],
            "date": pd.to_datetime(picked["date"]).dt.strftime("%Y-%m-%d"),
            "family_id": picked["family_id"],
            "partner_id": picked["partner_id"],
            "activity": picked["activity"],
            "channel": picked["channel"],
            "two_way": np.where(picked["two_way"], "yes", "no"),
            "staff": picked["staff"],
            "notes": _NOTES[rng.integers(0, len(_NOTES), rows)],
        }
    )
    frame.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\r\n")
    return path


def peak_mb() -> float:
    """This process's peak resident memory in MB: the kernel's high-water mark of its own memory
    (``VmHWM``) where there is one, as ``ru_maxrss`` on Linux also counts what the parent held when
    the child was started."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    scale = 1 if platform.system() == "Darwin" else 1024  # bytes on macOS, KB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024 / 1024


def _import_child(url: str, path: str, seed: int, today: datetime.date, results) -> None:
    """In a fresh process: the demo school in the store at ``url``, then the file imported; puts
    (seconds, report.seconds, ok or the report, peak MB before, peak MB after) on ``results``."""
    from engagement import clock, interchange, settings
    from engagement.demo import load_demo
    from engagement.imports import reading

    os.environ[clock.TODAY_VARIABLE] = today.isoformat()  # the bench's day, for the import's checks too
    # A million rows make a file of about 100 MB, over the default upload limit of 50 MB.
    base = settings.load_settings()
    roomy = base.model_copy(update={"imports": base.imports.model_copy(update={"max_file_mb": 1_000.0})})
    reading.load_settings = lambda path=None: roomy
    store = db.open_store(url)
    load_demo(store, scale="school", seed=seed, today=today, actor="bench")
    before = peak_mb()
    started = time.perf_counter()
    report = interchange.import_files(store, [path], actor="bench")
    seconds = time.perf_counter() - started
    after = peak_mb()
    store.dispose()
    results.put((seconds, report.seconds, True if report.ok else report.format(limit=3), before, after))


def import_timings(
    rows: int, name: str, seconds: float, parts: dict[str, float], before: float, after: float, size_mb: float
) -> list[Timing]:
    """The import section's three lines for one file on one database: the whole import, the
    write (on SQLite: how long the store's write lock was held) and the memory the import added,
    each against its target for that many rows (none for a size without one, as in ``--quick``).

    >>> [(t.what, t.target) for t in import_timings(20_000, "SQLite", 2.0, {"write": 0.5}, 100, 130, 2.1)]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('import 20,000 interactions, SQLite', '< 3 s'), ('import 20,000 interactions, SQLite: write lock held', '< 10 s'),
     ('import 20,000 interactions, SQLite: memory the import added', '< 50 MB')]
    """
    what = f"import {rows:,} interactions, {name}"
    target, memory_target = IMPORT_TARGETS.get(rows, ("", 0))
    out = [
        Timing(
            what,
            seconds,
            1,
            target,
            note=f"{size_mb:,.1f} MB file; reading and checking {parts.get('read and check', 0):.1f} s",
        )
    ]
    if name == "SQLite":
        out.append(Timing(f"{what}: write lock held", parts.get("write", float("nan")), 1, LOCK_TARGET))
    else:
        out.append(
            Timing(
                f"{what}: write transaction",
                parts.get("write", float("nan")),
                1,
                note="rows are locked, not the store: officers do not wait",
            )
        )
    out.append(
        Timing(
            f"{what}: memory the import added",
            float("nan"),
            1,
            f"< {memory_target:,} MB" if memory_target else "",
            note=f"peak {after:,.0f} MB, {before:,.0f} MB before the import",
            megabytes=after - before,
        )
    )
    return out


def import_section(bench: Bench) -> list[Timing]:
    """Each file size imported once on each database, in a child process of its own."""
    import multiprocessing

    out: list[Timing] = []
    context = multiprocessing.get_context("spawn")
    postgres = bench.postgres_url or os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    with tempfile.TemporaryDirectory(prefix="engagement-bench-import-") as tmp:
        for rows in bench.import_rows:
            path = write_interactions_file(Path(tmp) / f"interactions-{rows}.csv", rows, 42, bench.today)
            size_mb = path.stat().st_size / 1_000_000
            target = IMPORT_TARGETS.get(rows, ("", 0))[0]
            for name in ("SQLite", "PostgreSQL"):
                what = f"import {rows:,} interactions, {name}"
                drop: Callable[[], None] | None = None
                try:
                    if name == "SQLite":
                        url = f"sqlite:///{Path(tmp) / f'import-{rows}.db'}"
                    else:
                        url, drop = postgres_schema(postgres)
                except Exception as exc:  # no server here: say so in the table, go on
                    out.append(
                        Timing(
                            what,
                            float("nan"),
                            target=target,
                            note=f"not timed: PostgreSQL not reachable ({type(exc).__name__})",
                        )
                    )
                    continue
                try:
                    results = context.Queue()
                    child = context.Process(target=_import_child, args=(url, str(path), 42, bench.today, results))
                    child.start()
                    seconds, parts, ok, before, after = child_result(child, results)
                    child.join()
                finally:
                    if drop is not None:
                        drop()
                if ok is not True:
                    raise AssertionError(f"the bench import was refused: {ok}")
                out.extend(import_timings(rows, name, seconds, parts, before, after, size_mb))
    return out


# ---------------------------------------------------------------- Open Referral UK (issue 18)

ORUK_SERVICES = 5_000
ORUK_TARGET = "< 30 s"
# What the import may add to the peak: the records themselves (parsed JSON) and the plan.
ORUK_MEMORY_TARGET = 400


def write_oruk_feed(folder: Path, services: int, seed: int = 42, per_page: int = 1_000) -> list[Path]:
    """A local authority's feed of ``services`` full service records as ``/services`` page files
    of ``per_page`` each: organisations with one to four services in one or two places, every
    field the import reads, a few untidy records (no phone, a multi-line address, a closed service,
    non-ASCII names, terms no category maps). Returns the pages' paths."""
    import json
    import uuid

    rng = np.random.default_rng(seed)
    terms = ["Food banks", "Libraries", "Youth clubs", "Family hubs", "Sport and leisure", "Bingo", "Debt advice"]

    def uid(*parts) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, "bench/" + "/".join(map(str, parts))))

    records: list[dict] = []
    org = 0
    while len(records) < services:
        org += 1
        places = [uid("loc", org, i) for i in range(1 + int(rng.random() < 0.2))]
        for n in range(int(rng.integers(1, 5))):
            place = places[n % len(places)]
            lat, lon = 52.40 + rng.random() * 0.1, -1.98 + rng.random() * 0.1
            record = {
                "id": uid("svc", org, n),
                "name": f"Service {n + 1} of Organisation {org}" + (" – Café Ūnïcode" if org % 97 == 0 else ""),
                "status": "defunct" if rng.random() < 0.03 else "active",
                "email": f"hello{org}@example.org",
                "minimum_age": int(rng.integers(0, 12)),
                "maximum_age": int(rng.integers(12, 19)),
                "assured_date": f"2026-{int(rng.integers(1, 13)):02d}-01",
                "organization": {"id": uid("org", org), "name": f"Organisation {org}", "description": ""},
                "service_at_locations": [
                    {
                        "id": uid("sal", org, n),
                        "location": {
                            "id": place,
                            "location_type": "physical",
                            "name": f"Place {place[:4]}",
                            "latitude": round(lat, 6),
                            "longitude": round(lon, 6),
                            "addresses": [
                                {
                                    "id": uid("addr", place),
                                    "address_1": f"{org} High Street" + ("\nUnit 2" if org % 13 == 0 else ""),
                                    "city": "Birmingham",
                                    "state_province": "West Midlands",
                                    "postal_code": f"B{30 + org % 9} {org % 9}AB",
                                    "country": "GB",
                                    "address_type": "physical",
                                }
                            ],
                        },
                    }
                ],
                "schedules": [
                    {
                        "id": uid("sch", org, n),
                        "freq": "WEEKLY",
                        "byday": "MO,TH",
                        "opens_at": "09:00",
                        "closes_at": "11:30",
                    }
                ],
                "cost_options": [{"id": uid("cost", org, n), "amount": 0}],
                "contacts": [{"id": uid("c", org), "name": "Reception"}]
                + (
                    []
                    if org % 7 == 0
                    else [{"id": uid("c2", org), "phones": [{"id": uid("p", org), "number": "0121 000"}]}]
                ),
                "languages": [{"id": uid("l", org), "name": "English"}],
                "attributes": [
                    {
                        "id": uid("a", org, n),
                        "taxonomy_term": {"id": uid("t", t), "name": t, "description": t, "taxonomy": "bench"},
                    }
                    for t in (terms[int(rng.integers(0, len(terms)))],)
                ],
            }
            records.append(record)
            if len(records) == services:
                break
    paths = []
    pages = -(-services // per_page)
    for page in range(pages):
        items = records[page * per_page : (page + 1) * per_page]
        path = folder / f"services-page-{page + 1}.json"
        body = {
            "total_items": services,
            "total_pages": pages,
            "page_number": page + 1,
            "size": len(items),
            "first_page": page == 0,
            "last_page": page == pages - 1,
            "empty": False,
            "contents": items,
        }
        path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths


def _oruk_child(url: str, paths: list[str], results) -> None:
    """In a fresh process: one school, then the feed imported twice (new, then found again); puts
    (seconds, seconds again, report.seconds, ok or the report, peak MB before, peak MB after)."""
    from engagement import openreferral

    store = db.open_store(url)
    with store.write("bench") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Bench school", postcode="B30 2AA"))
    before = peak_mb()
    started = time.perf_counter()
    report = openreferral.import_oruk(store, paths, "S1", actor="bench", default_category="community centre")
    seconds = time.perf_counter() - started
    after = peak_mb()
    started = time.perf_counter()
    again = openreferral.import_oruk(store, paths, "S1", actor="bench", default_category="community centre")
    seconds_again = time.perf_counter() - started
    store.dispose()
    ok = True if report.ok and again.ok else (report.format(limit=3) + again.format(limit=3))
    results.put((seconds, seconds_again, report.seconds, ok, before, after))


def oruk_section(bench: Bench, services: int | None = None) -> list[Timing]:
    """A ``services``-service Open Referral feed (page files) imported into an empty directory on
    SQLite, then again (every partner found again), in a child process."""
    import multiprocessing

    quick = bench is not None and bench.quick  # tests/test_openreferral.py calls it with no bench
    services = services or (QUICK_ORUK_SERVICES if quick else ORUK_SERVICES)
    full = not quick  # the quick mode's figures are no measure: no target beside them

    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="engagement-bench-oruk-") as tmp:
        paths = write_oruk_feed(Path(tmp), services)
        size_mb = sum(p.stat().st_size for p in paths) / 1_000_000
        results = context.Queue()
        url = f"sqlite:///{Path(tmp) / 'oruk.db'}"
        child = context.Process(target=_oruk_child, args=(url, [str(p) for p in paths], results))
        child.start()
        seconds, again, parts, ok, before, after = child_result(child, results)
        child.join()
    if ok is not True:
        raise AssertionError(f"the bench's Open Referral import was refused: {ok}")
    what = f"import an Open Referral feed of {services:,} services, SQLite"
    return [
        Timing(
            what,
            seconds,
            1,
            ORUK_TARGET if full else "",
            note=f"{len(paths)} page files, {size_mb:,.1f} MB; writing {parts.get('write', float('nan')):.1f} s",
        ),
        Timing(f"{what}: again, nothing new", again, 1, ORUK_TARGET if full else ""),
        Timing(
            f"{what}: memory the import added",
            float("nan"),
            1,
            f"< {ORUK_MEMORY_TARGET} MB" if full else "",
            note=f"peak {after:,.0f} MB, {before:,.0f} MB before the import",
            megabytes=after - before,
        ),
    ]


# Each part of the product that wants timings adds its function here.
SECTIONS: list[Callable[[Bench], list[Timing]]] = [
    engagement_section,
    outreach_section,
    register_section,
    map_section,
    schools_section,
    import_section,
    oruk_section,
]


def section_names() -> list[str]:
    """The name of each section as ``bench --only`` takes it: its function's, without ``_section``.

    >>> section_names()[:3]
    ['engagement', 'outreach', 'register']
    """
    return [section.__name__.removesuffix("_section") for section in SECTIONS]


def sections_named(names: list[str]) -> list[Callable[[Bench], list[Timing]]]:
    """The sections called ``names`` (see :func:`section_names`), in the order the bench runs them."""
    return [section for section in SECTIONS if section.__name__.removesuffix("_section") in names]


def run_bench(
    scale: str = "school",
    repeats: int | None = None,
    today: datetime.date | None = None,
    seed: int = 42,
    echo: Callable[[str], None] = print,
    sections=None,
    import_rows: tuple[int, ...] = (20_000, 100_000),
    postgres_url: str | None = None,
    quick: bool = False,
) -> list[Timing]:
    """Generate the demo data at ``scale`` into a fresh temporary store, run every section, print
    the table through ``echo`` and return the timings. ``import_rows`` are the sizes of the files
    the import section imports; ``postgres_url`` the server it uses (default ``TEST_POSTGRES_URL``
    or the local one). ``quick``: every section at small sizes, once each (see the module's text)."""
    today = today or clock.today()
    repeats = repeats or (1 if quick else DEFAULT_REPEATS.get(scale, 5))
    if quick:
        import_rows = QUICK_IMPORT_ROWS
    with tempfile.TemporaryDirectory(prefix="engagement-bench-") as tmp:
        store = db.open_store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        echo(f"Writing the {scale} demo data set into a fresh SQLite store ...")
        started = time.perf_counter()
        data = load_demo(store, scale=scale, seed=seed, today=today, actor="bench")
        built = time.perf_counter() - started
        bench = Bench(
            scale,
            store,
            data,
            today,
            default_window(today),
            repeats,
            import_rows=tuple(import_rows),
            postgres_url=postgres_url,
            quick=quick,
        )
        bench.results.append(Timing("generate and write the demo data (once)", built, 1))
        for section in sections or SECTIONS:
            bench.results.extend(section(bench))
        store.dispose()
    echo(report(bench))
    return bench.results


def verdict(timing: Timing) -> str:
    """ "ok" or "MISSED" for a timing with a target this can read ("< 50 ms", "< 3 s", "< 250 MB"
    for a memory figure, or "ours within 2x" with the ratio in the note); "" otherwise, and for a
    timing not taken.

    >>> verdict(Timing("score card", 0.012, target="< 50 ms")), verdict(Timing("map", 3.2, target="< 3 s"))
    ('ok', 'MISSED')
    """
    memory = re.fullmatch(r"<\s*([\d,.]+)\s*MB", timing.target.strip())
    if memory and timing.megabytes is not None:
        return "ok" if timing.megabytes < float(memory.group(1).replace(",", "")) else "MISSED"
    if timing.seconds != timing.seconds:
        return ""
    limit = re.fullmatch(r"<\s*([\d.]+)\s*(ms|s)", timing.target.strip())
    if limit:
        seconds = float(limit.group(1)) / (1000 if limit.group(2) == "ms" else 1)
        return "ok" if timing.seconds < seconds else "MISSED"
    ratio = re.search(r"ours / DuckDB = ([\d.]+)", timing.note)
    if timing.target == "ours within 2x" and ratio:
        return "ok" if float(ratio.group(1)) <= 2 else "MISSED"
    return ""


def report(bench: Bench) -> str:
    data = bench.data
    head = (
        f"Benchmark, {bench.scale} scale{' (quick: small sizes, the figures are no measure)' if bench.quick else ''}: "
        f"{len(data.schools)} school(s), {len(data.families):,} families, "
        f"{len(data.partners):,} partners, {len(data.interactions):,} interactions\n"
        f"window {bench.window[0]} to {bench.window[1]}; medians; Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores; {clock.today()}"
    )
    width = max(len(t.what) for t in bench.results)
    lines = [
        head,
        "",
        f"{'what':<{width}}  {'median':>10}  {'runs':>4}  {'target':<15} {'':<6} note",
        "-" * (width + 52),
    ]
    for t in bench.results:
        lines.append(
            f"{t.what:<{width}}  {format_value(t):>10}  {t.runs:>4}  {t.target:<15} {verdict(t):<6} {t.note}".rstrip()
        )
    return "\n".join(lines)
