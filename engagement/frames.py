"""Loading what the engagement metrics need from the store into pandas, for one school or all.

Every metric reads three tables: families (on roll, with their equity flags and home postcode),
partners (category, layer, status) and interactions (day, who, activity, two-way).
:func:`load_school_frames` reads only those columns and encodes them for vectorised work: schools,
activities and Epstein types as categoricals, each interaction's family or partner as an integer
position into the families or partners frame, dates also as whole days since 1970 (``day``) and
months since 1970 (``month``).
Rows are grouped by school, so :meth:`Frames.school` slices one school out without a scan.

An authority holds about six million interactions: they are read with the store's own DBAPI
cursor in one transaction and turned into Arrow columns, with no per-row objects of SQLAlchemy's.

>>> from engagement.store import open_store
>>> frames = load_school_frames(open_store("sqlite://"))
>>> len(frames.families), list(frames.interactions.columns)
(0, ['school_id', 'date', 'day', 'month', 'family', 'partner', 'activity', 'epstein', 'two_way'])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from engagement import store as db
from engagement.typology import PARTNER_SEGMENTS, PARTNER_STATUSES, load_typology

FLAGS = ("pupil_premium", "send", "eal", "looked_after", "young_carer")

_FAMILY_SQL = (
    "SELECT family_id, school_id, postcode, pupil_premium, send, eal, looked_after, young_carer "
    "FROM families{where} ORDER BY school_id, family_id"
)
_PARTNER_SQL = (  # an archived partner is out of every figure
    "SELECT partner_id, school_id, name, category, layer, status "
    "FROM (SELECT * FROM partners WHERE archived_on IS NULL) AS listed{where} ORDER BY school_id, partner_id"
)
# COALESCE keeps the "who" column free of NULLs: Arrow infers a column's type from its first
# rows, and a column that starts NULL and turns to text later is refused.
# A contact naming a family and a partner (the family at the partner's session) counts for both:
# its family side comes with every other contact, its partner side as a second row read through
# the partial index of such contacts, so the common one-sided contact costs nothing more.
_BOTH = "family_id IS NOT NULL AND partner_id IS NOT NULL"
_INTERACTION_SQL = (
    "SELECT {day} AS day, COALESCE(family_id, partner_id) AS who, "
    "CASE WHEN family_id IS NULL THEN 1 ELSE 0 END AS is_partner, activity, two_way "
    "FROM interactions{where} UNION ALL "
    "SELECT {day} AS day, partner_id AS who, 1 AS is_partner, activity, two_way "
    "FROM interactions WHERE " + _BOTH + "{and_where}"
)
_SQLITE_DAY = "CAST(julianday(date) - 2440587.5 AS INTEGER)"
_ARROW_TYPES = {
    "school_id": pa.string(),
    "name": pa.string(),
    "family_id": pa.string(),
    "postcode": pa.string(),
    "partner_id": pa.string(),
    "category": pa.string(),
    "status": pa.string(),
    "who": pa.string(),
    "activity": pa.string(),
    "layer": pa.int64(),
    "is_partner": pa.int64(),
}


@dataclass
class Frames:
    """What the metrics read, grouped by school.

    ``schools``: school_id, name. ``families``: family_id, school_id, postcode (as stored, None when
    unknown: the map groups families by its sector), the five equity flags.
    ``partners``: partner_id, school_id, name, category (the typology's spelling), layer, segment,
    status. ``interactions``: school_id, date, day, month, family and partner (positions into
    ``families`` and ``partners``, -1 where not that kind), activity, epstein, two_way. A contact
    naming a family and a partner is two rows, one for each side, so each side's metrics count it
    once (count contacts with ``family >= 0`` or ``partner >= 0``, never all rows).
    ``offsets`` maps each table to the row where each school's block starts (len schools + 1).
    """

    schools: pd.DataFrame
    families: pd.DataFrame
    partners: pd.DataFrame
    interactions: pd.DataFrame
    offsets: dict[str, np.ndarray]

    @property
    def school_ids(self) -> list[str]:
        return list(self.schools["school_id"])

    def school(self, school_id: str) -> Frames:
        """The frames of one school (positions rebased), sliced without scanning the others; these
        frames themselves when they hold that school alone. KeyError when they do not hold it."""
        if len(self.schools) == 1 and self.schools["school_id"].iloc[0] == school_id:
            return self
        try:
            k = self.school_ids.index(school_id)
        except ValueError:
            raise KeyError(f"no school {school_id!r} in the store") from None
        cut = {name: slice(int(off[k]), int(off[k + 1])) for name, off in self.offsets.items()}
        inter = self.interactions.iloc[cut["interactions"]].copy()
        for col, table in (("family", "families"), ("partner", "partners")):
            pos = inter[col].to_numpy()
            inter[col] = np.where(pos >= 0, pos - cut[table].start, -1).astype(np.int32)
        schools = self.schools.iloc[k : k + 1].reset_index(drop=True)
        sid = pd.CategoricalDtype([school_id])
        fam = self.families.iloc[cut["families"]].reset_index(drop=True).astype({"school_id": sid})
        par = self.partners.iloc[cut["partners"]].reset_index(drop=True).astype({"school_id": sid})
        inter = inter.reset_index(drop=True).astype({"school_id": sid})
        return Frames(schools, fam, par, inter, {name: np.array([0, s.stop - s.start]) for name, s in cut.items()})


def _offsets(codes: np.ndarray, n_schools: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_schools))]).astype(np.int64)


# SQLite builds each school's interactions as one block of text (fields split by the unit
# separator, rows by newlines) which Arrow's C reader parses: no Python object per row, where a
# cursor makes a tuple and five values for each of six million rows. Usable only while no
# reference holds either separator, which the loader checks first.
_SQLITE_TEXT_SQL = (
    "SELECT group_concat(date || char(31) || COALESCE(family_id, partner_id) || char(31) || "
    "(family_id IS NULL) || char(31) || activity || char(31) || two_way, char(10)) "
    "FROM interactions{where} GROUP BY school_id"
)
_SQLITE_PARTNER_SIDE_SQL = (
    "SELECT group_concat(date || char(31) || partner_id || char(31) || 1 || "
    "char(31) || activity || char(31) || two_way, char(10)) "
    "FROM interactions WHERE " + _BOTH + "{and_where} GROUP BY school_id"
)
_SEPARATOR_CHECK = (
    "SELECT (SELECT count(*) FROM families WHERE instr(family_id, char(10)) OR instr(family_id, char(31))) "
    "+ (SELECT count(*) FROM partners WHERE instr(partner_id, char(10)) OR instr(partner_id, char(31))) "
    "+ (SELECT count(*) FROM (SELECT DISTINCT activity FROM interactions{where}) "
    "   WHERE instr(activity, char(10)) OR instr(activity, char(31)))"
)
_TEXT_COLUMNS = {
    "day": pa.date32(),
    "who": pa.string(),
    "is_partner": pa.int64(),
    "activity": pa.string(),
    "two_way": pa.int8(),
}


def _read_sqlite_interactions(cursor, where: str, params: list) -> pa.Table | None:
    """The interactions as one Arrow table from SQLite's text blocks (the partner sides of contacts
    naming both at the end), or None when a reference holds a separator character (the caller
    then reads row by row)."""
    import io

    import pyarrow.csv as pcsv

    if cursor.execute(_SEPARATOR_CHECK.format(where=where), tuple(params)).fetchone()[0]:
        return None
    and_where = where.replace(" WHERE ", " AND ", 1)
    blocks = [row[0] for row in cursor.execute(_SQLITE_TEXT_SQL.format(where=where), tuple(params)) if row[0]]
    blocks += [
        row[0] for row in cursor.execute(_SQLITE_PARTNER_SIDE_SQL.format(and_where=and_where), tuple(params)) if row[0]
    ]
    if not blocks:
        return pa.table({name: pa.array([], type=kind) for name, kind in _TEXT_COLUMNS.items()})
    return pcsv.read_csv(
        io.BytesIO("\n".join(blocks).encode("utf-8")),
        read_options=pcsv.ReadOptions(column_names=list(_TEXT_COLUMNS)),
        parse_options=pcsv.ParseOptions(delimiter="\x1f", quote_char=False, escape_char=False),
        convert_options=pcsv.ConvertOptions(column_types=_TEXT_COLUMNS, strings_can_be_null=False),
    )


def _read(
    store: db.Store, queries: list[tuple[str, list]], sqlite_text: tuple[str, list] | None = None
) -> list[pa.Table]:
    """Run the queries in one read transaction (one snapshot) on the store's own DBAPI connection
    and return each result as an Arrow table, built column by column.

    The raw cursor skips SQLAlchemy's per-row Result objects, which cost more than the query. A
    second SQLite library in the same process (an Arrow ADBC driver, say) was tried and refused:
    SQLite's POSIX locks are per process, so another library closing the file drops the app's
    own locks and deletes its WAL, and a school's database could be corrupted."""
    out = []
    with store.read() as conn:
        conn.exec_driver_sql("SELECT 1")  # start the transaction the queries below share
        driver = conn.connection.driver_connection
        assert driver is not None  # an open connection always has its driver's
        cursor = driver.cursor()
        try:
            fast = _read_sqlite_interactions(cursor, *sqlite_text) if sqlite_text else None
            if fast is not None:
                queries = queries[:-1]
            for sql, params in queries:
                if store.dialect != "sqlite":
                    sql = sql.replace("?", "%s")
                cursor.execute(sql, tuple(params))
                columns = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
                data = list(zip(*rows)) if rows else [()] * len(columns)
                out.append(pa.table({c: pa.array(data[i], type=_ARROW_TYPES.get(c)) for i, c in enumerate(columns)}))
            if fast is not None:
                out.append(fast)
        finally:
            cursor.close()
    return out


def load_school_frames(store: db.Store, school_id: str | None = None) -> Frames:
    """Read what the metrics need for ``school_id`` (every school when None) into :class:`Frames`."""
    where, params = (" WHERE school_id = ?", [school_id]) if school_id is not None else ("", [])
    school_sql = "SELECT school_id, name FROM schools" + where + " ORDER BY school_id"
    day = _SQLITE_DAY if store.dialect == "sqlite" else "date"
    queries = [
        (school_sql, params),
        (_FAMILY_SQL.format(where=where), params),
        (_PARTNER_SQL.format(where=where), params),
        (
            _INTERACTION_SQL.format(day=day, where=where, and_where=where.replace(" WHERE ", " AND ", 1)),
            params + params,
        ),
    ]
    return _build(*_read(store, queries, (where, params) if store.dialect == "sqlite" else None))


def frames_from_tables(
    schools: pd.DataFrame, families: pd.DataFrame, partners: pd.DataFrame, interactions: pd.DataFrame
) -> Frames:
    """:class:`Frames` from tables shaped like the store's (e.g. :class:`engagement.demo.DemoData`),
    without a store: the same encoding :func:`load_school_frames` applies to what it reads."""
    if "partner_id" not in interactions:
        interactions = interactions.assign(partner_id=None)
    # A message to all families names neither side: it is no one's contact, as for the loader.
    interactions = interactions[interactions["family_id"].notna() | interactions["partner_id"].notna()]
    # The partner side of a contact naming both is a row of its own, as the store's loader reads it.
    both = interactions[interactions["family_id"].notna() & interactions["partner_id"].notna()]
    interactions = (
        pd.concat([interactions, both.assign(family_id=None)], ignore_index=True) if len(both) else interactions
    )
    inter = pd.DataFrame(
        {
            "day": pd.to_datetime(pd.Series(interactions["date"], dtype=object))
            .to_numpy()
            .astype("datetime64[D]")
            .astype(np.int64),
            "who": interactions["family_id"].where(interactions["family_id"].notna(), interactions["partner_id"]),
            "is_partner": interactions["family_id"].isna().astype(np.int64),
            "activity": interactions["activity"],
            "two_way": interactions["two_way"].astype(bool),
        }
    )
    fam_cols = ["family_id", "school_id", "postcode", *FLAGS]
    postcode = families["postcode"] if "postcode" in families else pd.Series(None, index=families.index, dtype=object)
    families = families.assign(postcode=postcode.astype(object).where(postcode.notna(), None))
    par_cols = ["partner_id", "school_id", "name", "category", "layer", "status"]
    as_table = lambda frame, cols: pa.table(  # noqa: E731 - one expression, used three times
        {
            c: pa.array(
                list(frame[c]) if len(frame) else [],
                type=_ARROW_TYPES.get(c, pa.bool_() if c in FLAGS else None),
            )
            for c in cols
        }
    )
    inter_table = pa.table(
        {
            "day": pa.array(inter["day"].to_numpy(), type=pa.int64()),
            "who": pa.array(list(inter["who"]), type=pa.string()),
            "is_partner": pa.array(inter["is_partner"].to_numpy(), type=pa.int64()),
            "activity": pa.array(list(inter["activity"]), type=pa.string()),
            "two_way": pa.array(inter["two_way"].to_numpy(), type=pa.bool_()),
        }
    )
    school_table = as_table(schools.sort_values("school_id"), ["school_id", "name"])
    return _build(school_table, as_table(families, fam_cols), as_table(partners, par_cols), inter_table)


def _build(schools: pa.Table, fam: pa.Table, par: pa.Table, inter: pa.Table) -> Frames:
    typology = load_typology()
    school_list = [str(x) for x in schools.column("school_id").to_pylist()]
    school_type = pd.CategoricalDtype(school_list)
    schools = pd.DataFrame({"school_id": school_list, "name": [str(x) for x in schools.column("name").to_pylist()]})
    n_schools = len(schools)
    school_index = pa.array(school_list, type=pa.string())

    def school_codes(table: pa.Table) -> np.ndarray:
        return _positions(table.column("school_id").cast(pa.string()), school_index)

    # Grouped by school in the order of ``schools`` whatever the database's collation.
    fam = fam.take(np.argsort(school_codes(fam), kind="stable"))
    par = par.take(np.argsort(school_codes(par), kind="stable"))
    fam_school, par_school = school_codes(fam), school_codes(par)

    families = pd.DataFrame(
        {
            "family_id": fam.column("family_id").cast(pa.string()).to_numpy(zero_copy_only=False).astype(object),
            "school_id": pd.Categorical.from_codes(fam_school, dtype=school_type),
            "postcode": fam.column("postcode").cast(pa.string()).to_numpy(zero_copy_only=False).astype(object),
        }
    )
    for flag in FLAGS:
        families[flag] = fam.column(flag).to_numpy(zero_copy_only=False).astype(bool)

    categories = {c.name: c for c in typology.categories}
    raw_category = [str(c) for c in par.column("category").to_pylist()]
    canonical = {name: (found.name if (found := typology.category(name)) else name) for name in set(raw_category)}
    category = pd.Series([canonical[c] for c in raw_category], dtype=object)
    partners = pd.DataFrame(
        {
            "partner_id": par.column("partner_id").cast(pa.string()).to_numpy(zero_copy_only=False).astype(object),
            "school_id": pd.Categorical.from_codes(par_school, dtype=school_type),
            "name": par.column("name").cast(pa.string()).to_numpy(zero_copy_only=False).astype(object),
            "category": category.to_numpy(object),
            "layer": par.column("layer").to_numpy(zero_copy_only=False).astype(np.int8),
            # A category the typology no longer knows scores in no segment.
            "segment": pd.Categorical(
                category.map(lambda c: categories[c].segment if c in categories else None),
                categories=list(PARTNER_SEGMENTS),
            ),
            "status": pd.Categorical(
                par.column("status").cast(pa.string()).to_numpy(zero_copy_only=False), categories=list(PARTNER_STATUSES)
            ),
        }
    )

    who = inter.column("who").cast(pa.string())
    is_partner = inter.column("is_partner").to_numpy(zero_copy_only=False).astype(bool)
    fam_pos = np.where(is_partner, -1, _positions(who, fam.column("family_id").cast(pa.string())))
    par_pos = np.where(is_partner, _positions(who, par.column("partner_id").cast(pa.string())), -1)
    day_col = inter.column("day")
    if pa.types.is_integer(day_col.type):
        days = day_col.to_numpy(zero_copy_only=False).astype(np.int64)
    else:  # dates from a driver that returns date objects
        days = day_col.cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False).astype(np.int64)
    # The interaction belongs to the school of its family or partner; that is the school whose
    # figures it counts in. One whose family or partner is gone counts nowhere.
    school_code = np.full(len(days), -1, dtype=np.int32)
    f_ok, p_ok = fam_pos >= 0, par_pos >= 0
    school_code[f_ok] = fam_school[fam_pos[f_ok]]
    school_code[p_ok] = par_school[par_pos[p_ok]]
    keep = school_code >= 0
    take = np.flatnonzero(keep)
    if len(take) and np.any(np.diff(school_code[take]) < 0):
        take = take[np.argsort(school_code[take], kind="stable")]

    act = pc.dictionary_encode(inter.column("activity").cast(pa.string())).combine_chunks()
    act_names = [str(a) for a in act.dictionary.to_pylist()]
    act_codes = (
        act.indices.to_numpy(zero_copy_only=False).astype(np.int32)[take] if len(take) else np.zeros(0, np.int32)
    )
    activity = (
        pd.Categorical.from_codes(act_codes, categories=act_names) if act_names else pd.Categorical([], categories=[])
    )
    epstein_names = list(typology.epstein_types)
    epstein_code = np.array(
        [epstein_names.index(known.epstein) if (known := typology.activity(a)) else -1 for a in act_names] + [-1],
        dtype=np.int32,
    )
    epstein = pd.Categorical.from_codes(epstein_code[act_codes], categories=epstein_names)
    day_taken = days[take]
    interactions = pd.DataFrame(
        {
            "school_id": pd.Categorical.from_codes(school_code[take], dtype=school_type),
            "date": (day_taken * 86400).view("datetime64[s]"),
            "day": day_taken.astype(np.int32),
            "month": _months(day_taken),
            "family": fam_pos[take].astype(np.int32),
            "partner": par_pos[take].astype(np.int32),
            "activity": activity,
            "epstein": epstein,
            "two_way": inter.column("two_way").to_numpy(zero_copy_only=False).astype(bool)[take],
        }
    )
    return Frames(
        schools,
        families,
        partners,
        interactions,
        {
            "families": _offsets(fam_school, n_schools),
            "partners": _offsets(par_school, n_schools),
            "interactions": _offsets(school_code[take], n_schools),
        },
    )


def _months(days: np.ndarray) -> np.ndarray:
    """Months since January 1970 of each day; calendar arithmetic done once per distinct day."""
    if not len(days):
        return np.zeros(0, np.int32)
    first = days.min()
    table = np.arange(first, days.max() + 1).astype("datetime64[D]").astype("datetime64[M]").astype(np.int32)
    return table[days - first]


def _positions(values: pa.ChunkedArray, index: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Position of each value in ``index`` (-1 when absent), hashed in Arrow without Python objects."""
    if isinstance(index, pa.ChunkedArray):
        index = index.combine_chunks()
    found = pc.index_in(values, value_set=index)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int32)
