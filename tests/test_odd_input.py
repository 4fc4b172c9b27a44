"""Odd input for every kind of record (issue 26): each kind of the registry (engagement/records.py)
gets the same odd files, on SQLite and on PostgreSQL, and each is refused with the row and the
column in every problem, the store left exactly as it was; or, for text that is only odd to look
at (a formula, HTML, a template placeholder, another encoding), stored as the very text it is.

The kinds come from the registry, so a new kind is covered as soon as it is added; it fails here
until it has a sample row below. Each kind's cases come from its sample row, its template's
columns and the store's own column types and limits:

- a cell over its column's length (the store's limit, or the import's longest cell for free text),
  for every column of the sample;
- a date that is no date (31 February), for every date column;
- each required column left out of the header;
- an unknown column one letter away from a column of the kind (``postcodee``);
- a cell starting ``=``, ``+``, ``-`` or ``@``, an HTML tag and a ``${...}`` placeholder;
- an empty file, a file of a header alone, a file in Windows-1252 and one in UTF-16, a file with a
  byte that is neither UTF-8 nor Windows-1252, and one with a control byte;
- the sample row twice.

One store per database for the module (the kinds' prerequisites imported once): a refused file
changes nothing, which each case checks against a digest of every table."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from engagement import clock, records
from engagement import store as db
from engagement.settings import load_settings

# Dates of the sample rows, from the day the suite runs on (ENGAGEMENT_TODAY): a contact or an
# event must not be in the future, whatever that day is (a fixed 2 November was refused on 31 October).
A_WEEK_AGO = (clock.today() - datetime.timedelta(days=7)).isoformat()
A_TERM_AGO = (clock.today() - datetime.timedelta(days=60)).isoformat()

# What every kind's sample rows need in the store first.
PREREQUISITES = [
    ("schools.csv", "school_id,name,postcode\nS1,Oak,B30 2AA\n"),
    ("partners.csv", "partner_id,name,category\nP1,Food bank,food bank\nP2,Youth club,youth organisation\n"),
    ("families.csv", "family_id,postcode\nF1,B30 2AA\nF2,B30 2AB\n"),
    ("referrals.csv", f"referral_id,family_id,partner_id,date,status\nR1,F1,P1,{A_TERM_AGO},sent\n"),
    ("transitions.csv", "transition_id,family_id,kind,date\nT1,F1,year 6 to year 7,2027-07-20\n"),
    ("partnerships.csv", "partnership_id,name,partners,start\nPS1,Play,P1,2026-09-01\n"),
]


@dataclass(frozen=True)
class Sample:
    """A valid one-row file of a kind: its cells; the free-text column where odd-looking text is
    stored as it is (None: the kind has none, so such text goes into ``odd`` and is refused); the
    column a doubled row is refused under; the required columns; and which stored row it is."""

    row: dict[str, str]
    text: str | None
    doubled: str
    required: tuple[str, ...]
    where: dict[str, str]
    odd: str | None = None


SAMPLES: dict[str, Sample] = {
    "schools": Sample(
        {"school_id": "S1", "name": "Oak Primary", "postcode": "B30 2AA"},
        "name",
        "school_id",
        ("school_id", "name", "postcode"),
        {"school_id": "S1"},
    ),
    "partners": Sample(
        {"partner_id": "P9", "name": "Test partner", "category": "food bank", "notes": "hello", "since": "2026-01-01"},
        "notes",
        "partner_id",
        ("partner_id", "name", "category"),
        {"partner_id": "P9"},
    ),
    "services": Sample(
        {"service_id": "SV9", "partner_id": "P1", "name": "Homework club", "eligibility": "all"},
        "eligibility",
        "service_id",
        ("service_id", "partner_id", "name"),
        {"service_id": "SV9"},
    ),
    "families": Sample(
        {"family_id": "F9", "postcode": "B30 2AA", "language": "English", "joined": A_TERM_AGO},
        "language",
        "family_id",
        ("family_id",),
        {"family_id": "F9"},
    ),
    "interactions": Sample(
        {"interaction_id": "I9", "date": A_WEEK_AGO, "family_id": "F1", "activity": "phone call", "notes": "rang"},
        "notes",
        "interaction_id",
        ("date", "activity"),
        {"interaction_id": "I9"},
    ),
    "terms": Sample(
        {"school_id": "S1", "kind": "term", "name": "Autumn 2026", "start": "2026-09-03", "end": "2026-12-18"},
        "name",
        "start",
        ("kind", "name", "start", "end"),
        {"school_id": "S1", "kind": "term"},
    ),
    "events": Sample(
        {"event_id": "EV9", "date": A_WEEK_AGO, "activity": "family workshop", "family_id": "F1", "notes": "fun"},
        "notes",
        "family_id",
        ("event_id", "date", "activity"),
        {"event_id": "EV9"},
    ),
    "referrals": Sample(
        {"referral_id": "R9", "family_id": "F1", "partner_id": "P1", "date": "2026-10-01", "status": "sent"}
        | {"staff": "FLO"},
        "staff",
        "referral_id",
        ("referral_id", "family_id", "partner_id", "date", "status"),
        {"referral_id": "R9"},
    ),
    "referral_steps": Sample(
        {"referral_id": "R1", "status": "sent", "date": "2026-10-01", "note": "sent by post"},
        "note",
        "status",
        ("referral_id", "status", "date"),
        {"referral_id": "R1"},
    ),
    "family_partners": Sample(
        {"family_id": "F1", "partner_id": "P2", "relation": "member", "start": "2026-09-01"},
        "relation",
        "partner_id",
        ("family_id", "partner_id"),
        {"family_id": "F1", "partner_id": "P2"},
    ),
    "transitions": Sample(
        {"transition_id": "T9", "family_id": "F2", "kind": "year 6 to year 7", "date": "2027-07-20"}
        | {"other_setting": "Hill School"},
        "other_setting",
        "transition_id",
        ("transition_id", "family_id", "kind", "date"),
        {"transition_id": "T9"},
    ),
    "transition_steps": Sample(
        {"transition_id": "T1", "step": "meeting", "title": "Meet the family", "owner": "SENCO"},
        "title",
        "transition_id",
        ("transition_id", "step"),
        {"transition_id": "T1", "step": "meeting"},
    ),
    "survey_responses": Sample(
        {"survey": "belonging", "date": "2026-10-10", "question": "belong", "answer": "agree", "family_id": "F1"},
        None,
        "family_id",
        ("survey", "date", "question", "answer"),
        {"family_id": "F1"},
        odd="question",
    ),
    "partnerships": Sample(
        {"partnership_id": "PS9", "name": "Reading", "partners": "P1", "start": "2026-09-01", "aims": "read more"},
        "aims",
        "partnership_id",
        ("partnership_id", "name", "partners", "start"),
        {"partnership_id": "PS9"},
    ),
    "partnership_members": Sample(
        {"partnership_id": "PS1", "family_id": "F2", "joined": "2026-09-10"},
        None,
        "family_id",
        ("partnership_id", "family_id"),
        {"partnership_id": "PS1", "family_id": "F2"},
        odd="family_id",
    ),
    "action_plan": Sample(
        {"plan_id": "A9", "year": "2026-27", "epstein_type": "communicating", "goal": "Answer every message"}
        | {"owner": "FLO"},
        "goal",
        "plan_id",
        ("plan_id", "year", "epstein_type", "goal"),
        {"plan_id": "A9"},
    ),
}

ODD_TEXT = ("=1+1", "+44 121 496 0000", "-1", "@SUM(A1)", "<script>alert(1)</script><b>x</b>", "${jndi:ldap://x/a}")


def _csv(rows: list[dict[str, str]], header: list[str] | None = None) -> str:
    header = header or list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue()


@dataclass(frozen=True)
class Case:
    """One odd file of a kind, and what must come of it: refused with a problem at ``at`` (row,
    column), or (``at`` None) stored, its ``stored`` text in the sample's text column."""

    name: str
    data: bytes
    at: tuple[int, str] | None
    stored: str | None = None


def _table_column(kind: str, column: str) -> sa.Column | None:
    table = db.metadata.tables[records.KIND[kind].tables[0]]
    return table.c.get(column)


def _template_columns(kind: str) -> list[str]:
    return records.KIND[kind].template.read_text().splitlines()[0].split(",")


def cases_of(kind: str) -> list[Case]:
    """Every odd file of ``kind``, from its sample, its template and its table."""
    sample = SAMPLES[kind]
    row = sample.row
    longest = load_settings().imports.max_cell_chars
    out = [
        Case("empty file", b"", (1, sample.required[0])),
        Case("a header alone", _csv([row]).splitlines()[0].encode() + b"\n", (2, sample.required[0])),
        Case("the row twice", _csv([row, row]).encode(), (3, sample.doubled)),
    ]
    for column in row:
        stored = _table_column(kind, column)
        limit = getattr(stored.type, "length", None) if stored is not None else None
        out.append(
            Case(f"{column} too long", _csv([{**row, column: "x" * ((limit or longest) + 1)}]).encode(), (2, column))
        )
        if stored is not None and isinstance(stored.type, sa.Date):
            out.append(Case(f"{column} 31 February", _csv([{**row, column: "31/02/2026"}]).encode(), (2, column)))
    for column in sample.required:
        header = [c for c in row if c != column]
        out.append(Case(f"no {column} column", _csv([row], header).encode(), (1, column)))
    # A column of the kind the file does not have, misspelt; or, where the sample has them all, one
    # of its own columns renamed so (its value would otherwise be dropped without a word).
    absent = [c for c in _template_columns(kind) if c not in row and len(c) >= 4]
    if absent:
        misspelt = absent[0] + "x"
        header = [*row, misspelt]
        spelt = {**row, misspelt: "something"}
    else:
        renamed = next(c for c in [*row][::-1] if c not in sample.required and len(c) >= 4)
        misspelt = renamed + "x"
        header = [misspelt if c == renamed else c for c in row]
        spelt = {**row, misspelt: row[renamed]}
    out.append(Case(f"column {misspelt}", _csv([spelt], header).encode(), (1, misspelt)))
    target = sample.text or sample.odd
    assert target is not None
    for text in ODD_TEXT:
        case = _csv([{**row, target: text}]).encode()
        out.append(Case(f"text {text[:12]}", case, None if sample.text else (2, target), text))
    cafe = {**row, target: "Café Ünïcode"}
    out.append(
        Case("Windows-1252", _csv([cafe]).encode("cp1252"), None if sample.text else (2, target), "Café Ünïcode")
    )
    out.append(Case("UTF-16", _csv([cafe]).encode("utf-16"), None if sample.text else (2, target), "Café Ünïcode"))
    out.append(Case("a byte of no encoding", _csv([{**row, target: "Caf\x81"}]).encode("latin-1"), (2, target)))
    out.append(Case("a control byte", _csv([{**row, target: "a\x07b"}]).encode(), (2, target)))
    return out


def _all_cases() -> list[tuple[str, str]]:
    """(kind, case) for every kind of the registry; a kind without a sample gives one case that fails."""
    out = []
    for kind in records.kind_names():
        if kind not in SAMPLES:
            out.append((kind, "its sample row"))
            continue
        out += [(kind, case.name) for case in cases_of(kind)]
    return out


def test_every_kind_of_the_registry_has_a_sample_row():
    assert sorted(set(records.kind_names()) - set(SAMPLES)) == []
    assert sorted(set(SAMPLES) - set(records.kind_names())) == []


# ---------------------------------------------------------------- the stores, one per database


def _digest(store: db.Store) -> str:
    """Every row of every table, in key order: what "the store is unchanged" compares."""
    digest = hashlib.sha256()
    with store.read() as conn:
        for table in db.metadata.sorted_tables:
            key = list(table.primary_key.columns) or list(table.c)
            for row in conn.execute(sa.select(table).order_by(*key)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def odd_store(request, tmp_path_factory):
    if request.param == "sqlite":
        store = db.open_store(f"sqlite:///{tmp_path_factory.mktemp('odd') / 'odd.db'}")
        schema = None
    else:
        from tests.conftest import _schema_url

        admin = request.getfixturevalue("postgresql_admin")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        store = db.open_store(_schema_url(schema))
    run = records.import_records(store, [(name, text.encode()) for name, text in PREREQUISITES])
    assert run.ok, run.format()
    yield store
    store.dispose()
    if schema is not None:
        with request.getfixturevalue("postgresql_admin").connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.parametrize(("kind", "case_name"), _all_cases(), ids=[f"{k}: {c}" for k, c in _all_cases()])
def test_an_odd_file_is_refused_with_row_and_column_or_stored_as_text(odd_store, kind, case_name):
    case = next(c for c in cases_of(kind) if c.name == case_name)
    before = _digest(odd_store)
    run = records.import_records(odd_store, [(f"{kind}.csv", case.data)], kind=kind)
    problems = [(p.row, p.column, p.reason) for _, report in run.reports for p in report.errors]
    if case.at is None:
        assert run.ok, run.format()
        sample = SAMPLES[kind]
        assert sample.text is not None
        table = db.metadata.tables[records.KIND[kind].tables[0]]
        with odd_store.read() as conn:
            stored = conn.execute(
                sa.select(table.c[sample.text]).where(*(table.c[k] == v for k, v in sample.where.items()))
            ).scalar_one()
        assert stored == case.stored
        return
    assert not run.ok, f"{kind}: {case_name} was imported"
    # Every problem says where: its row and its column.
    assert problems and all(row is not None and column for row, column, _ in problems), problems
    assert case.at in [(row, column) for row, column, _ in problems], problems
    assert _digest(odd_store) == before, f"{kind}: {case_name} changed the store though it was refused"
