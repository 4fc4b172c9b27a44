"""Many schools side by side: what a trust lead or a local authority's officer compares.

Each school's figures are those of its own ``score --json`` (:mod:`engagement.scoring`) for its
own window (by default its own term so far, on its own calendar), but they are counted in the
database, grouped by school, rather than by reading every interaction into pandas: an authority's
six million interactions become a few rows per school. What needs a school's calendar (regularity's
school months, recency's school days) is pushed into the SQL as dates worked out beforehand (the
first day of each school month) or read back as a small histogram (families per day of last
two-way contact), so the figures stay exactly the metrics' own. The same SQL runs on SQLite,
PostgreSQL and a distributed PostgreSQL (Citus), where ``GROUP BY school_id`` is pushed down to
the shards.

Beside the figures: the partners several schools share (the same Open Referral organisation id, or
the same name and postcode written any which way) with each school's contacts in its window, and
for each school the kinds of partner its neighbours (schools within a few kilometres) work with and
it does not.

What a governor or a trust board may see of these figures is decided in one place,
:func:`governor_view`.
"""

from __future__ import annotations

import datetime
import gc
import math
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy import case, func, literal, select

from engagement import store as db
from engagement.calendar import as_terms, stored_rows
from engagement.frames import FLAGS
from engagement.geo import distance_km
from engagement.scoring import FAMILY_COMPONENTS, PARTNER_COMPONENTS, _weights, card_from_row
from engagement.settings import Settings, load_settings
from engagement.terms import Calendar, Span, compare, day_number, default_calendar, default_window, with_defaults
from engagement.typology import LISTED_STATUSES, PARTNER_LAYERS, PARTNER_SEGMENTS, SEGMENTS, load_typology

NEIGHBOUR_KM = 3.0
PARTNER_COLUMNS = (
    "school_id",
    "partner_id",
    "name",
    "category",
    "layer",
    "status",
    "postcode",
    "oruk_organisation_id",
    "latitude",
    "longitude",
)


@dataclass(frozen=True)
class SchoolWindow:
    """One school and the window its figures are for, with the calendar that window was read on."""

    school_id: str
    name: str
    start: datetime.date
    end: datetime.date
    calendar: Calendar
    latitude: float | None = None
    longitude: float | None = None
    postcode: str | None = None


def school_windows(
    store: db.Store,
    school_ids: Iterable[str] | None = None,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    today: datetime.date | None = None,
    settings: Settings | None = None,
) -> list[SchoolWindow]:
    """The schools (all of the store's when ``school_ids`` is None), each with its window: the dates
    given, else its own default window (its term so far) on its own calendar, as ``score`` reads it.
    Every school's terms come in one query."""
    wanted = None if school_ids is None else set(school_ids)
    s = db.schools
    with store.read() as conn:
        schools = conn.execute(
            select(s.c.school_id, s.c.name, s.c.latitude, s.c.longitude, s.c.postcode).order_by(s.c.school_id)
        ).all()
    schools = [r for r in schools if wanted is None or r.school_id in wanted]
    rows = defaultdict(list)
    for row in stored_rows(store, [r.school_id for r in schools]) if schools else []:
        rows[row.school_id].append(row)
    default = default_calendar(settings)
    # Schools of the same terms share one calendar object (those on England's terms share the
    # default), so what a calendar works out once (its school days) serves them all.
    calendars: dict[tuple, Calendar] = {}
    out = []
    for r in schools:
        own = tuple((t.kind, t.name, t.start, t.end) for t in rows.get(r.school_id, []))
        if own not in calendars:
            calendars[own] = with_defaults(as_terms(rows.get(r.school_id, [])), default)
        calendar = calendars[own]
        own_start, own_end = default_window(end or today, settings, calendar=calendar)
        if (end or own_end) < (start or own_start):
            raise ValueError(f"the window ends ({end or own_end}) before it starts ({start or own_start})")
        out.append(
            SchoolWindow(
                r.school_id, r.name, start or own_start, end or own_end, calendar, r.latitude, r.longitude, r.postcode
            )
        )
    return out


# ---------------------------------------------------------------- counted in the database


class Run:
    """Runs one query and returns its rows (each with attribute access and ``_asdict()``), on a
    database of the ``dialect`` named (``sqlite``, ``postgresql``, ``duckdb``): a few queries are
    worded for the planner they meet, and ``planner`` (when the database has settings for it: a
    function taking them and giving a context) sets its planner for one of them."""

    def __init__(
        self,
        run: Callable[[sa.Select], list],
        dialect: str,
        planner: Callable[[dict[str, str]], AbstractContextManager] | None = None,
    ):
        self.run, self.dialect, self.planner = run, dialect, planner

    def __call__(self, query: sa.Select) -> list:
        return self.run(query)

    def planned(self, settings: dict[str, str]) -> AbstractContextManager:
        """The planner's ``settings`` (PostgreSQL's names) for the queries run inside the ``with``
        block, where this database has them; nothing elsewhere."""
        return self.planner(settings) if self.planner is not None else nullcontext()


@contextmanager
def _runner(store: db.Store, run: Run | None) -> Iterator[Run]:
    """``run`` when given; else the store's, all queries in one read transaction (one snapshot)."""
    if run is not None:
        yield run
        return
    with store.read() as conn:
        if store.dialect == "postgresql":
            # A few grouped scans of millions of rows: compiling them to machine code (JIT) cost
            # a second of the five, and 4 MB of memory per sort or hash spilled them to disk.
            conn.exec_driver_sql("SET LOCAL jit = off")
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")

        @contextmanager
        def planner(settings: dict[str, str]) -> Iterator[None]:
            # For this transaction only (set_config's "local"), and back as they were afterwards.
            # A query that fails ends the transaction, and the settings with it.
            before = {name: conn.execute(select(func.current_setting(name))).scalar_one() for name in settings}
            for name, value in settings.items():
                conn.execute(select(func.set_config(name, value, True)))
            yield
            for name, value in before.items():
                conn.execute(select(func.set_config(name, value, True)))

        yield Run(
            lambda query: list(conn.execute(query).all()),
            store.dialect,
            planner if store.dialect == "postgresql" else None,
        )


def duckdb_runner(con) -> Run:
    """Runs the very queries of this module in DuckDB (a connection holding tables of the store's
    names and columns), compiled as for PostgreSQL with their values written in: the benchmark's
    yardstick of what an analytical engine makes of the same SQL over the same rows."""
    from collections import namedtuple

    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()

    def run(query: sa.Select) -> list:
        cursor = con.execute(str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))
        row = namedtuple("row", [d[0] for d in cursor.description])  # type: ignore[misc]
        return [row(*values) for values in cursor.fetchall()]

    return Run(run, "duckdb")


def _epstein_code():
    """Each interaction's Epstein type as a number (NULL for an activity the catalogue does not
    know), from its activity spelt any case, as the typology reads it."""
    typology = load_typology()
    names = list(typology.epstein_types)
    whens: dict[str, int] = {}
    for activity in typology.activities:
        for name in (activity.name, *activity.aliases):
            whens[" ".join(name.strip().lower().split())] = names.index(activity.epstein)
    # An activity stored under its catalogue name (what the contact form, the registers and the
    # imports write) is matched as it stands; only another spelling is lowered and trimmed first:
    # lower(trim()) of every two-way contact cost more than matching it.
    exact = {a.name: whens[" ".join(a.name.strip().lower().split())] for a in typology.activities}
    stored = db.interactions.c.activity
    return case(exact, value=stored, else_=case(whens, value=func.lower(func.trim(stored)), else_=None))


def _month_starts(window: SchoolWindow, month_days: int) -> list[datetime.date]:
    """The first day of each school month after the first (runs of ``month_days`` school days from
    the window's start): a family is regular when its first and last two-way contacts of the window
    fall either side of one of them (a contact on a non-school day counts with the school day
    before it, so with the month that day is in)."""
    days = window.calendar.school_days(window.start, window.end)
    return [days[k] for k in range(month_days, len(days), month_days)]


def _family_counts(run: Run, windows: list[SchoolWindow], month_days: int, every_school: bool):
    """Per school: families counted by the day of their last two-way contact in the window (None
    for the families informed but not reached), with how many of them were reached, regular, in
    each equity group, their Epstein types summed, and their contacts and two-way contacts
    (communication's "open": ``informed`` is its families talked with). One scan of the window's interactions
    grouped by family, joined to the families (an interaction counts for its family's school,
    whichever school logged it), then grouped by school and day. ``every_school``: the windows
    hold every school of the store, so no interaction need be left out before grouping."""
    i, f = db.interactions, db.families
    first, last = windows[0].start, windows[0].end
    ids = [w.school_id for w in windows]
    starts = _month_starts(windows[0], month_days)
    family: sa.FromClause  # where each family's school and flags are read
    source: sa.FromClause
    two_way = i.c.two_way
    # A family's contacts are read from the index holding every column used here (interactions
    # (family_id, date, two_way, activity), migration 0012): no table read. What counts two-way
    # contacts only is an aggregate FILTER, not a CASE per row: a tenth less work.
    if run.dialect == "sqlite":
        types = func.count(sa.distinct(_epstein_code())).filter(two_way).label("types")
    else:
        # A set of types as bits: PostgreSQL cannot hash a count of distinct values and would
        # walk the family index in order instead, fetching every row at random.
        types = func.bit_or(literal(1).op("<<")(_epstein_code())).filter(two_way).label("types")
    aggregates = [
        func.min(i.c.date).filter(two_way).label("first"),
        func.max(i.c.date).filter(two_way).label("last"),
        types,
        func.count().label("contacts"),
        func.count().filter(two_way).label("two_ways"),
    ]
    if run.dialect == "sqlite":
        # Driven from the families: for each, a range of the family index (its contacts of the
        # window) rather than the whole index filtered by date (two thirds of an authority's 4.7
        # million entries are outside a term's window), and its school and equity flags read once
        # for the family, not joined again afterwards. The family's columns are the same on each
        # of its rows, so SQLite may give them bare beside the aggregates: grouped by family_id
        # alone, in the order the families' key is walked, with no sort. An authority's window:
        # 1.05-1.2 s of CPU against 1.3-1.5 s. (PostgreSQL walks the whole family index faster than
        # it probes it 150,000 times: 0.56 s of CPU against 0.86 s.)
        per_family = (
            select(f.c.family_id, f.c.school_id, *[f.c[flag] for flag in FLAGS], *aggregates)
            .select_from(f.join(i, (i.c.family_id == f.c.family_id) & i.c.date.between(first, last)))
            .where(*([] if every_school else [f.c.school_id.in_(ids)]))
            .group_by(f.c.family_id)
            .subquery()
        )
        family, source, mine = per_family, per_family, []
    else:
        within = [i.c.date.between(first, last), i.c.family_id.is_not(None)]
        if not every_school:  # a few schools of a big store: their families' contacts only
            within.append(i.c.family_id.in_(select(f.c.family_id).where(f.c.school_id.in_(ids))))
        per_family = select(i.c.family_id, *aggregates).where(*within).group_by(i.c.family_id).subquery()
        family, source = f, per_family.join(f, f.c.family_id == per_family.c.family_id)
        mine = [f.c.school_id.in_(ids)]
    # Reached: a two-way contact in the window, so a last one.
    reached = case((per_family.c["last"].is_not(None), 1), else_=0)
    regular = sa.or_(*[(per_family.c["first"] < day) & (per_family.c["last"] >= day) for day in starts])
    query = (
        select(
            family.c.school_id,
            per_family.c["last"],
            func.count().label("informed"),
            func.sum(reached).label("reached"),
            func.sum(_type_count(per_family.c.types, run.dialect)).label("types"),
            func.sum(case((regular, 1), else_=0) if starts else literal(0)).label("regular"),
            func.sum(per_family.c.contacts).label("contacts"),
            func.sum(per_family.c.two_ways).label("two_ways"),
            *[func.sum(case((family.c[flag], reached), else_=0)).label(flag) for flag in FLAGS],
        )
        .select_from(source)
        .where(*mine)
        .group_by(family.c.school_id, per_family.c["last"])
    )
    # PostgreSQL would scan the whole table in parallel into a hash of every family; read from the
    # family index in order, each family summed as it comes, it spends a third less CPU (an
    # authority's window: 0.73 s against 1.04-1.17 s, none of it in workers that the other
    # window, counted at the same time, needs the cores for), and never reads the table, wherever
    # a family's contacts lie in it (a store written day by day scatters them): index-only, once
    # autovacuum has marked the table's settled pages all-visible, as it does.
    with run.planned({"max_parallel_workers_per_gather": "0", "enable_hashagg": "off"}):
        return run(query)


def _type_count(types, dialect: str):
    """A family's number of Epstein types from ``types`` as :func:`_family_counts` gives it."""
    if dialect == "sqlite":
        return types
    bits = [types.op(">>")(k).op("&")(1) for k in range(len(load_typology().epstein_types))]
    return func.coalesce(sum(bits[1:], bits[0]), 0)


def _roll(run: Run, school_ids: list[str]) -> dict[str, dict]:
    f = db.families
    query = select(
        f.c.school_id,
        func.count().label("on_roll"),
        *[func.sum(case((f.c[flag], 1), else_=0)).label(flag) for flag in FLAGS],
    ).group_by(f.c.school_id)
    if school_ids is not None:
        query = query.where(f.c.school_id.in_(school_ids))
    return {r.school_id: r._asdict() for r in run(query)}


def partner_contacts(
    store: db.Store, windows: Sequence[SchoolWindow], run: Run | None = None, again: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every partner of the schools (archived ones left out, as from every figure) with its contacts
    in its school's window, counted in the database: school_id, partner_id, name, category (the
    typology's spelling), layer, segment, status, postcode, oruk_organisation_id, latitude,
    longitude, contacts, engaged (listed and contacted). ``again``: this table for the same schools
    (or more) in other windows (the comparison's): only the contacts are counted again."""
    p, i = db.partners, db.interactions
    if again is not None:
        return _counted_again(store, windows, run, again)
    frames = []
    with _runner(store, run) as run:
        for group in _by_window(windows):
            in_window = (i.c.partner_id == p.c.partner_id) & i.c.date.between(group[0].start, group[0].end)
            # A matched contact counted by its date, which the index (partner_id, date) holds: the
            # count is read off the index alone (its id would fetch every contact's row: on
            # PostgreSQL 0.57 s against 0.12 s for an authority).
            query = (
                select(*[p.c[c] for c in PARTNER_COLUMNS], func.count(i.c.date).label("contacts"))
                .select_from(p.outerjoin(i, in_window))
                .where(p.c.archived_on.is_(None), p.c.school_id.in_([w.school_id for w in group]))
                # By the key, whose index SQLite walks in order; DuckDB does not read the other
                # columns off a grouped key, so it is given them all.
                .group_by(*([p.c[c] for c in PARTNER_COLUMNS] if run.dialect == "duckdb" else [p.c.partner_id]))
            )
            frames.append(pd.DataFrame([tuple(r) for r in run(query)], columns=[*PARTNER_COLUMNS, "contacts"]))
    columns = [*PARTNER_COLUMNS, "contacts"]
    table = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
    if table is None:
        table = pd.DataFrame(columns=columns)
    typology = load_typology()
    known = {c.name: c for c in typology.categories}
    # Each spelling of a category looked up once (unique(), not a set walked value by value over
    # an authority's 48,000 partners: 0.4 ms against 25 ms).
    canonical = {n: (c.name if (c := typology.category(n)) else n) for n in table["category"].unique()}
    table["category"] = table["category"].map(canonical)
    segments = {n: known[n].segment if n in known else None for n in table["category"].unique()}
    table["segment"] = table["category"].map(segments)
    table["contacts"] = table["contacts"].astype(int)
    table["engaged"] = table["status"].isin(LISTED_STATUSES) & (table["contacts"] > 0)
    return table.sort_values(["school_id", "partner_id"], ignore_index=True)


def _counted_again(
    store: db.Store, windows: Sequence[SchoolWindow], run: Run | None, partners: pd.DataFrame
) -> pd.DataFrame:
    """:func:`partner_contacts` for ``windows`` from ``partners`` (the same table for other windows):
    a partner's contacts per window, grouped in the database, and nothing else read again."""
    p, i = db.partners, db.interactions
    contacts: dict[str, int] = {}
    with _runner(store, run) as run:
        for group in _by_window(windows):
            query = (
                select(i.c.partner_id, func.count().label("contacts"))
                .select_from(i.join(p, p.c.partner_id == i.c.partner_id))
                .where(
                    p.c.archived_on.is_(None),
                    p.c.school_id.in_([w.school_id for w in group]),
                    i.c.date.between(group[0].start, group[0].end),
                )
                .group_by(i.c.partner_id)
            )
            contacts |= {r.partner_id: int(r.contacts) for r in run(query)}
    table = partners[partners["school_id"].isin({w.school_id for w in windows})].copy()
    table["contacts"] = table["partner_id"].map(contacts).fillna(0).astype(int)
    table["engaged"] = table["status"].isin(LISTED_STATUSES) & (table["contacts"] > 0)
    return table.reset_index(drop=True)


def _by_window(windows: Sequence[SchoolWindow]) -> list[list[SchoolWindow]]:
    """The schools grouped by window and calendar: one set of queries per group (a trust on one
    calendar is one group; an authority a handful)."""
    groups: dict[tuple, list[SchoolWindow]] = defaultdict(list)
    days: dict[int, bytes] = {}  # per calendar object: hashing a calendar walks its every term
    for w in windows:
        if id(w.calendar) not in days:
            days[id(w.calendar)] = w.calendar.school_day_numbers.tobytes()
        groups[(w.start, w.end, days[id(w.calendar)])].append(w)
    return list(groups.values())


def metric_rows(
    store: db.Store,
    windows: Sequence[SchoolWindow],
    settings: Settings | None = None,
    partners: pd.DataFrame | None = None,
    run: Run | None = None,
) -> dict[str, dict]:
    """Each school's row of figures, keyed as :func:`engagement.scoring.metrics` keys them and
    equal to its row there for the school's window (the card is :func:`card_from_row` of it),
    counted in the database. ``partners`` (from :func:`partner_contacts`) when already read;
    ``run`` runs the queries elsewhere (:func:`duckdb_runner`), by default in the store."""
    return _counted(store, windows, settings, partners, run)[0]


def _counted(
    store: db.Store,
    windows: Sequence[SchoolWindow],
    settings: Settings | None = None,
    partners: pd.DataFrame | Callable[[], pd.DataFrame] | None = None,
    run: Run | None = None,
    more: bool = False,
    for_governor: bool = False,
) -> tuple[dict[str, dict], dict[str, dict]]:
    """:func:`metric_rows`, and with ``more`` each school's :func:`_more` figures (counted in the same
    read transaction). ``partners`` may be a function giving them: it is called once the families
    are counted, so :func:`now_and_before` can count the partners meanwhile."""
    cfg = settings or load_settings()
    ids = [w.school_id for w in windows]
    out: dict[str, dict] = {}
    extra: dict[str, dict] = {}
    counted = []
    with _runner(store, run) as here:
        roll = _roll(here, ids)
        in_store = here(select(func.count().label("n")).select_from(db.schools))[0].n
        for group in _by_window(windows):
            counts = _tallies(
                _family_counts(here, group, cfg.calendar.school_month_days, len(group) >= in_store), group
            )
            counted.append((group, counts))
            if more:
                extra |= _more(here, group, roll, counts, cfg, for_governor)
    if partners is None:
        partners = partner_contacts(store, windows, run)
    by_school = _partner_counts(partners() if callable(partners) else partners)
    for group, counts in counted:
        for w in group:
            mine = by_school.get(w.school_id, _NO_PARTNERS)
            out[w.school_id] = _row(w, roll.get(w.school_id), counts[w.school_id], mine, cfg)
    return {sid: out[sid] for sid in ids}, {sid: extra[sid] for sid in ids if sid in extra}


_NO_PARTNERS: dict = {"listed": {}, "engaged": {}, "contacts": {}, "covered": set()}


def _partner_counts(partners: pd.DataFrame) -> dict[str, dict]:
    """Per school: its listed and engaged partners and the engaged ones' contacts per segment, and
    the categories it covers (of an engaged partner), grouped once for every school."""
    out: dict[str, dict] = defaultdict(lambda: {"listed": {}, "engaged": {}, "contacts": {}, "covered": set()})
    listed = set(LISTED_STATUSES)
    columns = ("school_id", "segment", "status", "contacts", "category")
    # One pass over plain lists: an authority's 48,000 partners, where pandas' grouping took longer.
    for school, segment, status, contacts, category in zip(*(partners[c].tolist() for c in columns)):
        if status not in listed:
            continue
        mine = out[school]
        known = isinstance(segment, str)  # a category the typology does not know has no segment
        if known:
            mine["listed"][segment] = mine["listed"].get(segment, 0.0) + 1.0
        if contacts > 0:
            mine["covered"].add(category)
            if known:
                mine["engaged"][segment] = mine["engaged"].get(segment, 0.0) + 1.0
                mine["contacts"][segment] = mine["contacts"].get(segment, 0.0) + float(contacts)
    return dict(out)


def _div(num, den) -> float:
    """``num / den``, NaN when ``den`` is not positive (as :func:`engagement.scoring._ratio`, for one school)."""
    return float(num) / float(den) if den > 0 else float("nan")


def _z(x) -> float:
    return 0.0 if x != x else float(x)


def _unit(x) -> float:
    return min(max(float(x), 0.0), 1.0)


# What :func:`_family_counts` counts per school and day, summed per school by :func:`_tallies`.
_SUMMED = ("informed", "reached", "types", "regular", "contacts", "two_ways", *FLAGS)


def _tallies(rows: list, group: list[SchoolWindow]) -> dict[str, dict]:
    """Per school of ``group`` (one window, one calendar): :func:`_family_counts`' ``rows`` summed,
    and ``recency``, the median of school days since each reached family's last two-way contact
    (NaN when none was reached). Worked out for every school at once."""
    w = group[0]
    out = {g.school_id: dict.fromkeys(_SUMMED, 0.0) | {"recency": float("nan")} for g in group}
    if not rows:
        return out
    # Plain columns and numpy, not a DataFrame: an authority's 20,000 rows a window, where making
    # and grouping the frame cost more than the sums.
    columns = dict(zip(rows[0]._fields, zip(*rows)))
    ids, at = np.unique(np.array(columns["school_id"], dtype=object), return_inverse=True)
    # A sum over no row is NULL: none.
    values = {k: np.nan_to_num(np.array(columns[k], dtype=float)) for k in _SUMMED}
    sums = {k: np.bincount(at, weights=v, minlength=len(ids)).tolist() for k, v in values.items()}
    for n, sid in enumerate(ids.tolist()):
        out[sid] |= {k: sums[k][n] for k in _SUMMED}
    last = columns["last"]
    reached = np.array([d is not None for d in last]) & (values["reached"] > 0)
    if reached.any():
        day = {d: day_number(_as_date(d)) for d in set(last) if d is not None}
        through_end = int(w.calendar.school_days_through([day_number(w.end)])[0])
        mine = np.flatnonzero(reached)
        gaps = through_end - w.calendar.school_days_through([day[last[k]] for k in mine])
        families = values["informed"][mine].astype(np.int64)
        # The reached rows school by school: sorted by school, cut where the school changes.
        order = np.argsort(at[mine], kind="stable")
        for rows_of in np.split(order, np.flatnonzero(np.diff(at[mine][order])) + 1):
            sid = ids[at[mine][rows_of[0]]]
            out[sid]["recency"] = float(np.median(np.repeat(gaps[rows_of], families[rows_of])))
    return out


def _row(w: SchoolWindow, roll: dict | None, counts: dict, partners: dict, cfg: Settings) -> dict:
    """One school's figures from its counts (:func:`_tallies`) and its partners'
    (:func:`_partner_counts`), by the formulas of :func:`engagement.scoring.metrics` (see there for
    why each is so)."""
    scaling, threshold = cfg.scoring.scaling, cfg.privacy.suppression_threshold
    nan = float("nan")
    out: dict = {}
    on_roll = float(roll["on_roll"]) if roll else 0.0
    total = lambda key: float(counts[key])  # noqa: E731
    reached = total("reached")
    recency = counts["recency"]
    out["families.on_roll"] = on_roll
    out["families.reached"] = reached
    out["families.reach"] = _div(reached, on_roll)
    out["families.informed_reach"] = _div(total("informed"), on_roll)
    out["families.regularity"] = _div(total("regular"), reached)
    out["families.breadth"] = _div(total("types"), reached)
    out["families.recency_days"] = recency
    scaled = {
        "reach": _z(out["families.reach"]),
        "informed_reach": _z(out["families.informed_reach"]),
        "regularity": _z(out["families.regularity"]),
        "breadth": _unit(_z(out["families.breadth"]) / scaling.breadth_full),
        "recency": 0.0 if math.isnan(recency) else _unit(1 - recency / scaling.recency_zero_days),
    }
    fw = _weights(cfg.scoring.families.model_dump(), FAMILY_COMPONENTS)
    for name, weight in zip(FAMILY_COMPONENTS, fw):
        out[f"families.scaled.{name}"] = float(scaled[name])
        out[f"families.weight.{name}"] = float(weight)
    out["families.score"] = float(100 * sum(wi * scaled[n] for n, wi in zip(FAMILY_COMPONENTS, fw)))
    small = on_roll < threshold
    out["families.suppressed"] = bool(small)
    if small:
        for key in [k for k in out if k.startswith("families.") and k != "families.suppressed"]:
            out[key] = nan

    for flag in FLAGS:
        group = float(roll[flag] or 0) if roll else 0.0
        group_reached = total(flag)
        rest, rest_reached = on_roll - group, reached - group_reached
        group_reach, rest_reach = _div(group_reached, group), _div(rest_reached, rest)
        hidden = group < threshold or rest < threshold
        figures = {
            "group": group,
            "rest": rest,
            "group_reach": group_reach,
            "rest_reach": rest_reach,
            "gap_pp": 100 * (group_reach - rest_reach),
            "parity": _div(group_reach, rest_reach),
        }
        for key, value in figures.items():
            out[f"equity.{flag}.{key}"] = nan if hidden else value
        out[f"equity.{flag}.suppressed"] = bool(hidden)

    typology = load_typology()
    covered = partners["covered"]
    pw = _weights(cfg.scoring.partners.model_dump(), PARTNER_COMPONENTS)
    for seg in PARTNER_SEGMENTS:
        listed_n = partners["listed"].get(seg, 0.0)
        engaged_n = partners["engaged"].get(seg, 0.0)
        of_segment = [c.name for c in typology.categories if c.segment == seg]
        out[f"{seg}.listed"] = listed_n
        out[f"{seg}.engaged"] = engaged_n
        out[f"{seg}.reach"] = _div(engaged_n, listed_n)
        out[f"{seg}.interactions_per_engaged"] = _div(partners["contacts"].get(seg, 0.0), engaged_n)
        out[f"{seg}.category_coverage"] = _div(len(covered & set(of_segment)), len(of_segment))
        seg_scaled = {
            "reach": _z(out[f"{seg}.reach"]),
            "intensity": _unit(_z(out[f"{seg}.interactions_per_engaged"]) / scaling.intensity_full),
            "category_coverage": _z(out[f"{seg}.category_coverage"]),
        }
        for name, weight in zip(PARTNER_COMPONENTS, pw):
            out[f"{seg}.scaled.{name}"] = float(seg_scaled[name])
            out[f"{seg}.weight.{name}"] = float(weight)
        out[f"{seg}.score"] = float(100 * sum(wi * seg_scaled[n] for n, wi in zip(PARTNER_COMPONENTS, pw)))

    for layer in PARTNER_LAYERS:
        of_layer = [c.name for c in typology.categories if c.layer == layer]
        out[f"layers.{layer}.categories"] = float(len(of_layer))
        out[f"layers.{layer}.covered"] = float(len(covered & set(of_layer)))
        out[f"layers.{layer}.coverage"] = _div(out[f"layers.{layer}.covered"], len(of_layer))

    ow = np.array([float(getattr(cfg.scoring.overall, seg)) for seg in SEGMENTS])
    scores = np.array([out[f"{seg}.score"] for seg in SEGMENTS])
    present = ~np.isnan(scores)
    weight_sum = float((ow * present).sum())
    out["overall"] = _div(float((ow * np.nan_to_num(scores)).sum()), weight_sum)
    for k, seg in enumerate(SEGMENTS):
        out[f"overall.weight.{seg}"] = _div(ow[k] * present[k], weight_sum)
    return out


# ---------------------------------------------------------------- communication, transitions, referrals


def _more(
    run: Run, group: list[SchoolWindow], roll: dict, counts: dict[str, dict], cfg: Settings, for_governor: bool
) -> dict[str, dict]:
    """For a group of schools of one window and calendar: each school's ``communication`` (open and
    early), ``transitions`` and ``referrals`` keys of ``score --json``, counted in the database
    grouped by school, then put through the very rules the school's own figures go through
    (:func:`engagement.communication.shown_figures`, :func:`engagement.transitions.figures_of_counts`,
    :func:`engagement.referrals.summary_of`). ``counts``: :func:`_family_counts`' rows summed per
    school (:func:`_tallies`), which hold what "open" needs."""
    from engagement.communication import rate, shown_figures
    from engagement.referrals import governor_referrals, summary_of
    from engagement.transitions import figures_of_counts, score_keys

    threshold = cfg.privacy.suppression_threshold
    ids = [w.school_id for w in group]
    early = _early_counts(run, group, cfg)
    moves = {r.school_id: r for r in run(_transition_counts(group))}
    statuses: dict[str, dict[str, int]] = defaultdict(dict)
    for r in run(_referral_counts(group)):
        statuses[r.school_id][r.status] = int(r.n)
    out = {}
    for sid in ids:
        contacts, two_ways, talkers = (int(counts[sid][k]) for k in ("contacts", "two_ways", "informed"))
        reached_early, due = early.get(sid, (0, 0))
        on_roll = int(roll[sid]["on_roll"]) if sid in roll else 0
        shown, _ = shown_figures(
            on_roll, rate(reached_early, due), due, None, 0, rate(two_ways, contacts), talkers, threshold, for_governor
        )
        m = moves.get(sid)
        n, n_send, done, done_send = (int(getattr(m, k, 0) or 0) for k in ("moves", "send", "done", "done_send"))
        full = figures_of_counts(n, n_send, done, done_send, threshold, for_governor)
        referrals = summary_of(statuses.get(sid, {}))
        out[sid] = {
            "communication": {"early": shown["early"], "open": shown["open"]},
            "transitions": score_keys(full),
            "referrals": governor_referrals(referrals, threshold) if for_governor else referrals,
        }
    return out


def _early_counts(run: Run, group: list[SchoolWindow], cfg: Settings) -> dict[str, tuple[int, int]]:
    """Per school: (families reached early, families due) of communication's "early" at the
    group's end. The families new this school year (or maybe: no date joined, "R" somewhere in
    their year groups) come back with their first two-way contact from the day they joined (the
    school year's first day when not known); :func:`engagement.communication.early_due` says which
    are due and by when, on the group's calendar."""
    from engagement.communication import _school_year_start, early_due

    f, i = db.families, db.interactions
    end = group[0].end
    year_start = _school_year_start(end)
    # A date bound as a date (SQLite keeps dates as text: a CAST to DATE there makes it a number).
    since = func.coalesce(f.c.joined, literal(year_start, sa.Date))
    first_talk = (
        select(func.min(i.c.date))
        .where(i.c.family_id == f.c.family_id, i.c.two_way, i.c.date >= since, i.c.date <= end)
        .scalar_subquery()
    )
    maybe_new = sa.or_(
        f.c.joined.between(year_start, end), f.c.joined.is_(None) & func.upper(f.c.year_groups).contains("R")
    )
    rows = run(
        select(f.c.school_id, f.c.joined, f.c.year_groups, first_talk.label("first")).where(
            f.c.school_id.in_([w.school_id for w in group]), maybe_new
        )
    )
    if not rows:
        return {}
    school, joined, year_groups, first = zip(*rows)
    dates = {d: _as_date(d) for d in {*joined, *first} if d is not None}  # a few hundred distinct days
    due, _, deadline = early_due(
        [dates.get(d) for d in joined],
        year_groups,
        group[0].calendar.school_day_numbers,
        end,
        cfg.communication.early_school_days,
    )
    first_day = np.array([day_number(dates[d]) if d is not None else -1 for d in first], dtype=np.int64)
    reached = due & (first_day >= 0) & (first_day <= deadline)
    ids, at = np.unique(np.array(school, dtype=object), return_inverse=True)
    reached_n = np.bincount(at, weights=reached, minlength=len(ids))
    due_n = np.bincount(at, weights=due, minlength=len(ids))
    return {sid: (int(r), int(d)) for sid, r, d in zip(ids.tolist(), reached_n, due_n)}


def _as_date(value) -> datetime.date:
    """A date (not NULL) as SQLite (text), PostgreSQL or DuckDB gives it back."""
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value)[:10])


def _transition_counts(group: list[SchoolWindow]) -> sa.Select:
    """Per school: the transitions dated in the window, of children with SEND, with a complete plan
    (steps, every one done), and both."""
    t, s = db.transitions, db.transition_steps
    moves = (
        select(
            t.c.school_id,
            t.c.send,
            func.count(s.c.step_id).label("steps"),
            func.sum(case((s.c.done, 1), else_=0)).label("done"),
        )
        .select_from(t.outerjoin(s, s.c.transition_id == t.c.transition_id))
        .where(t.c.school_id.in_([w.school_id for w in group]), t.c.date.between(group[0].start, group[0].end))
        .group_by(t.c.transition_id, t.c.school_id, t.c.send)
        .subquery()
    )
    complete = (moves.c.steps > 0) & (moves.c.done == moves.c.steps)
    return select(
        moves.c.school_id,
        func.count().label("moves"),
        func.sum(case((moves.c.send, 1), else_=0)).label("send"),
        func.sum(case((complete, 1), else_=0)).label("done"),
        func.sum(case((complete & moves.c.send, 1), else_=0)).label("done_send"),
    ).group_by(moves.c.school_id)


def _referral_counts(group: list[SchoolWindow]) -> sa.Select:
    """Per school and status: the referrals made in the window."""
    r = db.referrals
    return (
        select(r.c.school_id, r.c.status, func.count().label("n"))
        .where(r.c.school_id.in_([w.school_id for w in group]), r.c.date.between(group[0].start, group[0].end))
        .group_by(r.c.school_id, r.c.status)
    )


# ---------------------------------------------------------------- what a governor may see


def governor_view(row: dict) -> dict:
    """A school's row of figures as a governor or a trust board may see it: counts rounded, no
    figure resting on 1 to 9 families. The one place :mod:`engagement.compare` hides anything, so
    the disclosure layer can take its place whole."""
    from engagement.privacy import governor_row

    return governor_row(row)


# ---------------------------------------------------------------- the cards and compare --json


def cards(
    store: db.Store,
    windows: Sequence[SchoolWindow],
    for_governor: bool = False,
    settings: Settings | None = None,
    partners: pd.DataFrame | Callable[[], pd.DataFrame] | None = None,
    run: Run | None = None,
    more: bool = False,
) -> dict[str, dict]:
    """Each school's ``score --json`` card (its metrics keys) for its window; with ``more``, also its
    ``communication`` (``open`` and ``early`` only), ``transitions`` and ``referrals`` keys
    (:func:`_more`). ``partners``: :func:`partner_contacts` for these windows, or a function giving
    it (called once the families are counted)."""
    rows, extra = _counted(store, windows, settings, partners, run, more, for_governor)
    by_id = {w.school_id: w for w in windows}
    return {
        sid: card_from_row(governor_view(row) if for_governor else row, by_id[sid].start, by_id[sid].end)
        | extra.get(sid, {})
        for sid, row in rows.items()
    }


_gc_lock = threading.Lock()
_gc_pauses = 0  # how many counts are running with the cyclic collector paused
_gc_was_enabled = False


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off while the figures are counted, back as it was once the last
    count running ends (the page's counts may run in several threads at once). Counting an
    authority makes 150,000 rows of results, and each of the six full collections they set off
    walked the whole heap for 60-100 ms to free next to nothing: 0.4-0.5 s of a 3.7 s run. Nothing
    is lost: the rows are freed as ever when let go of, and any cycle at the next collection."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def now_and_before(
    store: db.Store, windows: Sequence[SchoolWindow], for_governor: bool = False, run: Run | None = None
) -> tuple[pd.DataFrame, dict[str, dict], dict[str, dict]]:
    """What the Schools page counts: the partners with their contacts (:func:`partner_contacts`),
    each school's cards for its window with ``more`` (:func:`cards`), and its cards for its
    comparison window (schools without one left out). The two windows are counted at the same
    time, each in a read transaction of its own on a connection of its own, and the partners on a
    third while the families are counted: on PostgreSQL the server works while Python waits (4.1-4.5
    s against 5.0-6.0 s one after the other for an authority, load 10); SQLite works inside our
    process but lets go of Python's lock while it counts, so its two windows take two cores (an
    authority at load 15: 7.5-9.9 s against 16.6-18.4 s one after the other, for the same CPU
    time). With ``run`` (DuckDB's one connection), or in a SQLite store held in memory (one
    connection, shared), one after the other. Python's cycle collector waits meanwhile
    (:func:`_cyclic_gc_paused`)."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy.pool import StaticPool

    with _cyclic_gc_paused():
        before_windows = comparison_windows(windows)
        if run is not None or isinstance(store.engine.pool, StaticPool):
            partners = partner_contacts(store, windows, run)
            now = cards(store, windows, for_governor, partners=partners, run=run, more=True)
            again = partner_contacts(store, before_windows, run, again=partners) if before_windows else None
            before = cards(store, before_windows, for_governor, partners=again, run=run) if before_windows else {}
            return partners, now, before
        with ThreadPoolExecutor(max_workers=2) as pool:
            read = pool.submit(partner_contacts, store, windows)
            later = (
                pool.submit(
                    cards,
                    store,
                    before_windows,
                    for_governor,
                    partners=lambda: partner_contacts(store, before_windows, again=read.result()),
                )
                if before_windows
                else None
            )
            now = cards(store, windows, for_governor, partners=read.result, more=True)
            return read.result(), now, later.result() if later is not None else {}


def _brief(card: dict) -> dict:
    """The figures of a card ``compare --json`` prints (FORMATS.md), a suppressed one beside its flag."""
    families = {k: card["families"][k] for k in ("on_roll", "reach")}
    if card["families"].get("suppressed"):
        families["suppressed"] = True
    pp = card["equity"]["pupil_premium"]
    return {
        "families": families,
        **{seg: {"reach": card[seg]["reach"]} for seg in PARTNER_SEGMENTS},
        "overall": card["overall"],
        "equity": {"pupil_premium": {"gap_pp": pp["gap_pp"], "suppressed": pp["suppressed"]}},
    }


def compare_json(
    store: db.Store,
    school_ids: Iterable[str] | None = None,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    today: datetime.date | None = None,
    for_governor: bool = False,
) -> dict:
    """The ``compare --json`` object of FORMATS.md for the schools (every school of the store when
    None)."""
    windows = school_windows(store, school_ids, start, end, today)
    partners = partner_contacts(store, windows)
    by_school = cards(store, windows, for_governor, partners=partners)
    schools = [
        {
            "school_id": w.school_id,
            "name": w.name,
            "window": by_school[w.school_id]["window"],
            **_brief(by_school[w.school_id]),
        }
        for w in windows
    ]
    shared = [
        {"name": s["name"], "schools": s["schools"], "partner_ids": s["partner_ids"]} for s in shared_partners(partners)
    ]
    return {"schools": schools, "shared_partners": shared}


# ---------------------------------------------------------------- partners shared across schools


def same_name_key(name, postcode) -> str | None:
    """What two spellings of one organisation at one address have in common: name and postcode
    without case, spaces or punctuation; None without both.

    >>> same_name_key("ACCEPTANCE  FOOD BANK", "B296AQ") == same_name_key("Acceptance Food Bank", "B29 6AQ")
    True
    >>> same_name_key("Acceptance Food Bank", None) is None
    True
    """

    def bare(text) -> str:
        return re.sub(r"[\W_]+", "", str(text).casefold()) if text is not None and text == text else ""

    n, p = bare(name), bare(postcode)
    return f"{n}@{p}" if n and p else None


def shared_partners(partners: pd.DataFrame) -> list[dict]:
    """The organisations two or more of the schools work with (listed partners: active or
    prospective): the same Open Referral organisation id, or else the same name and postcode.
    Each: name, schools (ids), partner_ids, contacts (per school, in its window), category, and
    the records themselves (``records``: school_id, partner_id, name, contacts). Most schools first."""
    listed = partners[partners["status"].isin(LISTED_STATUSES)]
    # Columns as lists first: walking a column of text value by value is slow (Arrow strings).
    records = list(
        zip(
            *(
                listed[c].tolist()
                for c in ("school_id", "partner_id", "name", "postcode", "oruk_organisation_id", "category", "contacts")
            )
        )
    )
    parent = list(range(len(records)))

    def find(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    # same_name_key's keys and the organisation ids, made for every partner at once.
    bare = {
        c: listed[c].astype("string").str.casefold().str.replace(r"[\W_]+", "", regex=True).fillna("")
        for c in ("name", "postcode")
    }
    by_name = (bare["name"] + "@" + bare["postcode"]).where((bare["name"] != "") & (bare["postcode"] != ""), "")
    org = listed["oruk_organisation_id"].astype("string").str.strip().fillna("")
    by_org = ("oruk:" + org).where(org != "", "")
    seen: dict[str, int] = {}
    for k, keys in enumerate(zip(by_org.tolist(), by_name.tolist())):
        for key in keys:
            if not key:
                continue
            if key in seen:
                parent[find(k)] = find(seen[key])
            else:
                seen[key] = k
    groups: dict[int, list[int]] = defaultdict(list)
    for k in range(len(records)):
        groups[find(k)].append(k)
    out = []
    for members in groups.values():
        if len(members) < 2:  # most partners: one school's own
            continue
        rows = sorted((records[k] for k in members), key=lambda r: (r[0], r[1]))
        schools = sorted({r[0] for r in rows})
        if len(schools) < 2:
            continue
        contacts = dict.fromkeys(schools, 0)
        for r in rows:
            contacts[r[0]] += int(r[6])
        out.append(
            {
                "name": str(rows[0][2]),
                "schools": schools,
                "partner_ids": [r[1] for r in rows],
                "contacts": contacts,
                "category": str(rows[0][5]),
                "records": [{"school_id": r[0], "partner_id": r[1], "name": r[2], "contacts": int(r[6])} for r in rows],
            }
        )
    return sorted(out, key=lambda s: (-len(s["schools"]), -sum(s["contacts"].values()), s["name"].casefold()))


def shared_partner_table(shared: list[dict], names: dict[str, str]) -> pd.DataFrame:
    """One row per shared partner and school: partner, category, school, partner_id, contacts."""
    rows = [
        {
            "partner": s["name"],
            "category": s["category"],
            "schools": len(s["schools"]),
            "school": names.get(r["school_id"], r["school_id"]),
            "school_id": r["school_id"],
            "partner_id": r["partner_id"],
            "contacts": r["contacts"],
        }
        for s in shared
        for r in s["records"]
    ]
    return pd.DataFrame(
        rows, columns=["partner", "category", "schools", "school", "school_id", "partner_id", "contacts"]
    )


# ---------------------------------------------------------------- what the neighbours have


def neighbours_have(windows: Sequence[SchoolWindow], partners: pd.DataFrame, km: float = NEIGHBOUR_KM) -> pd.DataFrame:
    """For each school, the categories of partner that schools within ``km`` work with (an engaged
    partner: listed and contacted in its window) and it does not, with those partners: school_id,
    school, category, layer, neighbour_id, neighbour, distance_km, partner_id, partner, contacts.
    Schools without coordinates have no neighbours."""
    engaged = partners[partners["engaged"] & partners["segment"].notna()]
    theirs: dict[str, list[tuple]] = defaultdict(list)
    for p in zip(*(engaged[c].tolist() for c in ("school_id", "category", "layer", "partner_id", "name", "contacts"))):
        theirs[p[0]].append(p[1:])
    placed = [w for w in windows if w.latitude is not None and w.longitude is not None]
    # Every pair's distance at once (an authority's 400 schools are 160,000 pairs).
    lat = np.array([w.latitude for w in placed], dtype=float)
    lon = np.array([w.longitude for w in placed], dtype=float)
    apart = np.asarray(distance_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :]), dtype=float)
    rows = []
    for a, w in enumerate(placed):
        mine = {c for c, *_ in theirs.get(w.school_id, [])}
        for b in np.flatnonzero(apart[a] <= km):
            other = placed[b]
            if other.school_id == w.school_id:
                continue
            for category, layer, partner_id, name, contacts in theirs.get(other.school_id, []):
                if category in mine:
                    continue
                rows.append(
                    {
                        "school_id": w.school_id,
                        "school": w.name,
                        "category": category,
                        "layer": int(layer),
                        "neighbour_id": other.school_id,
                        "neighbour": other.name,
                        "distance_km": round(float(apart[a, b]), 1),
                        "partner_id": partner_id,
                        "partner": name,
                        "contacts": int(contacts),
                    }
                )
    columns = [
        "school_id",
        "school",
        "category",
        "layer",
        "neighbour_id",
        "neighbour",
        "distance_km",
        "partner_id",
        "partner",
        "contacts",
    ]
    table = pd.DataFrame(rows, columns=columns)
    return table.sort_values(["school_id", "category", "distance_km", "partner"], ignore_index=True)


# ---------------------------------------------------------------- the Schools page's table


def comparison_windows(windows: Sequence[SchoolWindow]) -> list[SchoolWindow]:
    """Each school's window of comparison (as ``score``'s ``comparison``: the same school days of
    the term before), for the schools that have one."""
    out = []
    seen: dict[tuple, Span | None] = {}
    for w in windows:
        key = (w.start, w.end, id(w.calendar))  # by the object: hashing a calendar walks its every term
        if key not in seen:  # the schools of one calendar and window have one comparison window
            seen[key] = compare(w.start, w.end, w.calendar).previous
        previous = seen[key]
        if previous is not None:
            a, b = previous.dates
            out.append(SchoolWindow(w.school_id, w.name, a, b, w.calendar, w.latitude, w.longitude, w.postcode))
    return out


def compare_text(result: dict) -> str:
    """``compare`` without ``--json``: one line per school, then the shared partners."""

    def shown(value, percent: bool = False) -> str:
        if value is None:
            return "-"
        return f"{100 * value:.0f}%" if percent else f"{value:g}"

    lines = [
        f"{'school':<10} {'name':<32} {'window':<23} {'families':>8} {'reach':>6} {'agencies':>8} "
        f"{'business':>8} {'community':>9} {'overall':>7} {'PP gap':>7}"
    ]
    for s in result["schools"]:
        lines.append(
            f"{s['school_id']:<10} {s['name'][:32]:<32} {s['window']['from']} - {s['window']['to']} "
            f"{shown(s['families']['on_roll']):>8} {shown(s['families']['reach'], True):>6} "
            f"{shown(s['agencies']['reach'], True):>8} {shown(s['businesses']['reach'], True):>8} "
            f"{shown(s['community']['reach'], True):>9} {shown(s['overall']):>7} "
            f"{shown(s['equity']['pupil_premium']['gap_pp']):>7}"
        )
    shared = result["shared_partners"]
    lines.append(f"\nPartners shared by two or more schools: {len(shared)}")
    lines += [f"  {s['name']}: {', '.join(s['schools'])}" for s in shared]
    return "\n".join(lines)
