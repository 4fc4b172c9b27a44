"""Quote marks in CSV files (issue 13): a stray quote never swallows the rest of a file silently. A
file whose quoting is broken is refused with the row (and column) where the open quote starts, and
changes nothing; a cell over the size limit is refused naming the row where it starts; quoted notes
of several lines, with commas and doubled quote marks, still import."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engagement import store as db
from engagement.interchange import import_files
from engagement.settings import load_settings

HEADER = "interaction_id,date,family_id,activity,staff,notes"


@pytest.fixture
def seeded(store):
    report = import_files(
        store,
        [("schools.csv", b"school_id,name,postcode\nS1,Hollybrook,B30 2AA\n"), ("families.csv", b"family_id\nF1\n")],
        actor="setup",
    )
    assert report.ok, report.format()
    return store


def contacts(n: int, notes: dict[int, str] | None = None) -> bytes:
    """An interactions file of ``n`` data rows; ``notes`` maps a data row (1 = the first) to the
    raw text of its notes cell, written as it stands (quotes and all)."""
    lines = [HEADER]
    for i in range(1, n + 1):
        note = (notes or {}).get(i, f"call {i}")
        lines.append(f"I{i:04d},2026-09-{1 + i % 28:02d},F1,phone call,FLO,{note}")
    return ("\r\n".join(lines) + "\r\n").encode()


def interactions(store) -> int:
    with store.read() as conn:
        return conn.execute(select(func.count()).select_from(db.interactions)).scalar_one()


def refused_at(store, data: bytes) -> list:
    report = import_files(store, [("interactions.csv", data)], actor="test")
    assert not report.ok, report.format()
    assert interactions(store) == 0, "a refused file wrote rows"
    return report.errors


@pytest.mark.parametrize("rows", [20, 300])
def test_an_unclosed_quote_in_row_5_is_refused_at_that_row(seeded, rows):
    # Data row 5 is spreadsheet row 6; before, the other 295 rows of 300 became its note and "5 new"
    # came back. (300 rows make a cell over the size limit, 20 do not: both say where the quote opens.)
    errors = refused_at(seeded, contacts(rows, {5: '"Mum upset about the bus'}))
    assert [(e.row, e.column) for e in errors] == [(6, "notes")]
    assert "never closed" in errors[0].reason and "line 6" in errors[0].reason


def test_a_stray_quote_closed_by_a_later_one_is_refused_at_the_first(seeded):
    # Row 5 opens a quote that a quote mark at the end of data row 200 closes: the strict reader
    # takes that, but the cell holds 195 lines that are rows of the file.
    errors = refused_at(seeded, contacts(300, {5: '"Mum upset', 200: 'TV was 42"'}))
    assert [(e.row, e.column) for e in errors] == [(6, "notes")]
    assert "looks like a row of its own" in errors[0].reason


def test_text_after_a_closing_quote_names_the_row(seeded):
    errors = refused_at(seeded, contacts(10, {3: '"Mum" said yes'}))
    assert [(e.row, e.column) for e in errors] == [(4, "notes")]
    assert "more text follows" in errors[0].reason


def test_a_stray_quote_in_a_file_over_the_cell_limit_names_the_row_where_it_starts(seeded):
    limit = load_settings().imports.max_cell_chars
    n = limit // 20 + 100  # the rest of the file is over the limit
    errors = refused_at(seeded, contacts(n, {7: '"Mum upset'}))
    assert [(e.row, e.column) for e in errors] == [(8, "notes")]
    assert f"a cell of more than {limit:,} characters" in errors[0].reason
    assert "field limit" not in errors[0].reason


def test_a_long_cell_after_notes_of_several_lines_names_its_row_not_its_line(seeded):
    limit = load_settings().imports.max_cell_chars
    data = contacts(6, {1: '"line one\nline two\nline three"', 2: '"a\nb"', 5: "n" * (limit + 1)})
    errors = refused_at(seeded, data)
    # Data row 5 is spreadsheet row 6, but line 9 of the file: the row is what a data lead finds.
    assert [(e.row, e.column) for e in errors] == [(6, "notes")]
    assert "line 9" in errors[0].reason


def test_notes_of_several_lines_with_commas_and_quotes_still_import(seeded):
    notes = {
        1: '"Called mum,\nshe said ""yes"", she will come,\nmaybe with gran"',
        2: '"Visit:\r\n- bus pass\r\n- uniform, shoes"',
        3: '""',
        4: "plain",
    }
    report = import_files(seeded, [("interactions.csv", contacts(5, notes))], actor="test")
    assert report.ok, report.format()
    with seeded.read() as conn:
        got = dict(conn.execute(select(db.interactions.c.interaction_id, db.interactions.c.notes)).all())
    assert got["I0001"] == 'Called mum,\nshe said "yes", she will come,\nmaybe with gran'
    assert got["I0002"] == "Visit:\r\n- bus pass\r\n- uniform, shoes"
    assert got["I0003"] == "" and got["I0004"] == "plain"  # "" is empty text, not a missing note


def _week_import(store, name, data):
    from engagement.week_files import import_week_files

    return import_week_files(store, [(name, data)], actor="test")


def _voice_import(store, name, data):
    from engagement.send_belonging_files import import_files as import_voice

    return import_voice(store, [(name, data)], actor="test")


def _terms_import(store, name, data):
    from engagement.calendar import import_terms

    return import_terms(store, [(name, data)], actor="test")


OTHER_FILES = {
    "events": (
        _week_import,
        "events.csv",
        "event_id,date,activity,family_id,notes\n"
        + "".join(f"E1,2026-09-14,coffee morning,F1,note {i}\n" for i in range(3))
        + 'E1,2026-09-14,coffee morning,F1,"Mum upset\n'
        + "".join(f"E1,2026-09-14,coffee morning,F1,note {i}\n" for i in range(20)),
        db.events,
    ),
    "survey answers": (
        _voice_import,
        "survey_responses.csv",
        "survey,date,question,answer,family_id\n"
        + "belonging,2026-10-01,belong,agree,F1\n" * 3
        + 'belonging,2026-10-01,belong,"agree,F1\n'
        + "belonging,2026-10-01,belong,agree,F1\n" * 20,
        db.survey_responses,
    ),
    "terms": (
        _terms_import,
        "terms.csv",
        'kind,name,start,end\nterm,autumn 2026,2026-09-03,2026-12-18\nterm,"spring 2027,2027-01-04,2027-03-26\n'
        "term,summer 2027,2027-04-12,2027-07-21\n",
        db.terms,
    ),
}


@pytest.mark.parametrize("case", list(OTHER_FILES))
def test_the_other_files_refuse_a_stray_quote_at_its_row_too(seeded, case):
    """Events, survey answers and terms are read as interactions are: a quote never closed is
    refused at the row where it opens, nothing written."""
    importer, name, text, table = OTHER_FILES[case]
    report = importer(seeded, name, text.encode())
    assert not report.ok
    assert [e.row for e in report.errors] == [5 if case != "terms" else 3], report.errors
    assert "never closed" in report.errors[0].reason
    with seeded.read() as conn:
        assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
