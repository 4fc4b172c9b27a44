"""A school's own calendar, fair comparisons and the communication panel (issue 14), proved on a small
school whose every figure is worked out by hand below, imported through the real files (schools.csv,
families.csv, interactions.csv, terms.csv) into SQLite and PostgreSQL.

Ash Lane Primary (S1) publishes its own terms (TERMS below):
  autumn 2025  Mon 1 Sep - Fri 19 Dec 2025, October half-term 27-31 Oct
  spring 2026  Mon 5 Jan - Fri 27 Mar 2026, February half-term 16-20 Feb
  summer 2026  Mon 13 Apr - Tue 21 Jul 2026, May half-term 25-29 May (no bank holiday listed: 4 May is a school day)
  autumn 2026  Wed 2 Sep - Fri 18 Dec 2026, October half-term 26-30 Oct, a training day on Fri 13 Nov

The window: autumn 2026 so far, Wed 2 Sep - Mon 30 Nov 2026. Its school days: 2-4 Sep (3), 7 Sep - 23 Oct
(7 weeks, 35: 38), half-term, 2-6 Nov (43), 9-12 Nov (47, the 13th a training day), 16-20 Nov (52),
23-27 Nov (57), 30 Nov (58). 58 school days.

Comparisons:
  previous term, the first 58 school days of summer 2026: 13 Apr - 22 May (6 weeks, 30), half-term,
    1 Jun - 3 Jul (5 weeks, 55), 6-8 Jul (58): 13 Apr - 8 Jul 2026.
  last year, the first 58 school days of autumn 2025: 1 Sep - 24 Oct (8 weeks, 40), half-term,
    3-21 Nov (55), 24-26 Nov (58): 1 Sep - 26 Nov 2025. The store reaches back to it: F06's call on 3 Sep 2025.

Families (the threshold is set to 4 here, so that twelve families can show every figure):
  id   channel  language  joined       year groups
  F01  digital  English   2 Sep 2026   3
  F02  digital  English   -            R           (Reception, no date: joined when the year began)
  F03  phone    Urdu      20 Aug 2026  2           (joined in the summer holiday: new this year)
  F04  phone    Urdu      16 Nov 2026  4
  F05  digital  English   28 Oct 2026  5           (joined in half-term)
  F06  phone    English   1 Oct 2025   6           (joined last year)
  F07  digital  Polish    -            -           (no year group recorded)
  F08  digital  English   -            2
  F09  phone    Urdu      -            3
  F10  letter   Urdu      -            4
  F11  digital  English   -            5
  F12  -        English   -            6

Interactions (tw: two-way; from: direction "from family"):
   1 F01 10 Sep phone call tw          10 F09 12 Nov phone call tw
   2 F02 25 Sep home visit tw          11 F10 12 Nov email from
   3 F03 28 Aug home visit tw          12 F10 17 Nov email
   4 F05  3 Nov email                  13 F11 27 Nov email from
   5 F07 10 Sep email from             14 F07 26 Sep (Sat) email from
   6 F07 14 Sep email                  15 F12  7 Oct phone call tw from (the family rang: a conversation)
   7 F08 23 Oct email from             16 F06  3 Sep 2025 phone call tw
   8 F08  2 Nov phone call tw          17 F04 10 Jun 2026 phone call tw
   9 F09  9 Nov email from             18 F03 14 Oct phone call tw
  Messages to all families (no family, no partner): newsletters Fri 4, 11, 18 Sep, a portal message Sat 3 Oct,
  newsletters Fri 16 Oct, Wed 28 Oct (half-term), Fri 13 Nov (the training day), Fri 27 Nov.

early: new this school year (since 1 Aug 2026): F01, F02, F03, F04, F05. The 15th school day from joining:
  F01, F02 (from 1 Sep), F03 (from 20 Aug): from 2 Sep -> 2-4, 7-11, 14-18 Sep (13), 21, 22 Sep: 22 Sep.
  F05 (28 Oct): from 2 Nov -> 2-6 Nov (5), 9-12 Nov (9), 16-20 Nov (14), 23 Nov. F04 (16 Nov): 4 Dec, after
  the window's end: not yet due. Due: F01, F02, F03, F05 (4).
  Two-way contact from joining to that day: F01 10 Sep yes; F02 25 Sep too late; F03 28 Aug (a home visit
  after joining, before term) yes; F05 only a one-way email. early = 2 / 4 = 0.5.
regular: school weeks of the window (weeks holding a school day): 31 Aug, 7, 14, 21, 28 Sep, 5, 12, 19 Oct,
  2, 9, 16, 23, 30 Nov: 13 (the half-term week holds none). With a message to all: 31 Aug, 7 Sep, 14 Sep,
  28 Sep (Sat 3 Oct), 12 Oct, 9 Nov (13 Nov), 23 Nov: 7. 28 Oct is in no school week. regular = 7 / 13 = 0.5385.
  Longest gap: a message on a non-school day counts for the next school day (3 Oct -> 5 Oct, 28 Oct -> 2 Nov,
  13 Nov -> 16 Nov). School days in a row with none: 2-3 Sep 2; 7-10 Sep 4; 14-17 Sep 4; 21 Sep - 2 Oct 10;
  6-15 Oct 8; 19-23 Oct 5; 3-12 Nov 8; 17-26 Nov 8; 30 Nov 1. longest_gap_days = 10.
reliable: one-way messages from families and the 2nd school day after each:
  F07 10 Sep -> 14 Sep, answered 14 Sep: yes       F07 26 Sep (Sat) -> 29 Sep, no answer: no
  F08 23 Oct -> 3 Nov (half-term is not the school's delay), answered 2 Nov: yes
  F09 9 Nov -> 11 Nov, answered 12 Nov: no         F10 12 Nov -> 17 Nov (13 Nov a training day), 17 Nov: yes
  F11 27 Nov -> 1 Dec, after the window's end: not yet due. F12's call was two-way: not a message.
  reliable = 3 / 5 = 0.6 (from F07, F08, F09, F10: 4 families, shown).
equitable: reached in the window (two-way, 2 Sep - 30 Nov): F01, F02, F03, F08, F09, F12 (6 of 12).
  by channel: digital F01 F02 F05 F07 F08 F11 -> 3/6 = 0.5; phone F03 F04 F06 F09 -> 2/4 = 0.5;
    letter (F10 alone) not shown; F12 has none recorded.
  by language: English F01 F02 F05 F06 F08 F11 F12 -> 4/7 = 0.5714; Urdu F03 F04 F09 F10 -> 2/4 = 0.5;
    Polish (F07 alone) not shown.
  widest gap between shown groups of one kind: channels 0, languages 57.14 - 50 = 7.1 points -> 7.1.
open: contacts with families in the window: interactions 1, 2, 4-15 and 18 = 15, two-way 1, 2, 8, 10, 15, 18 = 6:
  open = 6 / 15 = 0.4 (10 families behind it).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cli_inprocess import run_cli
from streamlit.testing.v1 import AppTest

from engagement import calendar as school_terms
from engagement import clock, terms
from engagement import store as db
from engagement.communication import load_messages, measure
from engagement.frames import load_school_frames
from engagement.interchange import import_files
from engagement.overview import comparison_json, overview
from engagement.settings import parse_settings

D = datetime.date
ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
START, END = D(2026, 9, 2), D(2026, 11, 30)
SETTINGS = parse_settings({"privacy": {"suppression_threshold": 4}})


@pytest.fixture(autouse=True)
def on_or_after_end(monkeypatch):
    """The hand-worked school's contacts run to END, and a contact dated after today is refused:
    this module's day is the suite's, or END when that is earlier."""
    monkeypatch.setenv(clock.TODAY_VARIABLE, max(clock.today(), END).isoformat())


SCHOOLS = "school_id,name,postcode\nS1,Ash Lane Primary,B30 2AA\n"
FAMILIES = """family_id,preferred_channel,language,joined,year_groups
F01,digital,English,2026-09-02,3
F02,digital,English,,R
F03,phone,Urdu,20/08/2026,2
F04,phone,Urdu,2026-11-16,4
F05,digital,English,2026-10-28,5
F06,phone,English,2025-10-01,6
F07,digital,Polish,,
F08,digital,English,,2
F09,phone,Urdu,,3
F10,letter,Urdu,,4
F11,digital,English,,5
F12,,English,,6
"""
INTERACTIONS = """date,family_id,activity,two_way,direction
2026-09-10,F01,phone call,yes,
2026-09-25,F02,home visit,yes,
2026-08-28,F03,home visit,yes,
2026-11-03,F05,email,no,
2026-09-10,F07,email,no,from family
2026-09-14,F07,email,no,to family
2026-10-23,F08,email,no,From Family
2026-11-02,F08,phone call,yes,
2026-11-09,F09,email,no,from family
2026-11-12,F09,phone call,yes,
2026-11-12,F10,email,no,from family
2026-11-17,F10,email,no,
2026-11-27,F11,email,no,from family
2026-09-26,F07,email,no,from family
2026-10-07,F12,phone call,yes,from family
2025-09-03,F06,phone call,yes,
2026-06-10,F04,phone call,yes,
2026-10-14,F03,phone call,yes,
2026-09-04,,newsletter,,
2026-09-11,,newsletter,,
2026-09-18,,newsletter,,
2026-10-03,,portal message,,
2026-10-16,,newsletter,,
2026-10-28,,newsletter,,
2026-11-13,,newsletter,,
2026-11-27,,newsletter,,
"""
TERMS = """kind,name,start,end
term,autumn 2025,2025-09-01,2025-12-19
holiday,October half-term,2025-10-27,2025-10-31
term,spring 2026,2026-01-05,2026-03-27
holiday,February half-term,2026-02-16,2026-02-20
term,summer 2026,2026-04-13,2026-07-21
holiday,May half-term,2026-05-25,2026-05-29
term,autumn 2026,02/09/2026,18/12/2026
holiday,October half-term,2026-10-26,2026-10-30
holiday,training day,2026-11-13,2026-11-13
"""

EXPECTED_COMMUNICATION = {
    "early": 0.5,
    "regular_weeks": 0.5385,
    "longest_gap_days": 10,
    "reliable": 0.6,
    "open": 0.4,
    "equitable": {
        "by_channel": {"digital": 0.5, "phone": 0.5},
        "by_language": {"English": 0.5714, "Urdu": 0.5},
        "widest_gap_pp": 7.1,
    },
    "suppressed": False,
    "suppressed_figures": [],
}


def fill(store: db.Store) -> None:
    report = import_files(
        store,
        [
            ("schools.csv", SCHOOLS.encode()),
            ("families.csv", FAMILIES.encode()),
            ("interactions.csv", INTERACTIONS.encode()),
        ],
        actor="test",
    )
    assert report.ok, report.format()
    calendar_report = school_terms.import_terms(store, [("terms.csv", TERMS.encode())], actor="test")
    assert calendar_report.ok, calendar_report.format()


@pytest.fixture
def ash_lane(sqlite_store):
    fill(sqlite_store)
    return sqlite_store


# ---------------------------------------------------------------- school days and comparisons


def test_school_days_and_the_fair_comparison_on_both_databases(store):
    fill(store)
    calendar = school_terms.load_calendar(store, "S1")
    assert calendar.own
    assert calendar.count_school_days(START, END) == 58
    assert not calendar.is_school_day(D(2026, 11, 13)) and calendar.is_school_day(D(2026, 5, 4))
    comparison = terms.compare(START, END, calendar)
    assert comparison.window.why == "first 58 school days of autumn 2026"
    assert comparison.previous.json() == {
        "from": "2026-04-13",
        "to": "2026-07-08",
        "school_days": 58,
        "why": "first 58 school days of summer 2026",
    }
    assert comparison.last_year.json() == {
        "from": "2025-09-01",
        "to": "2025-11-26",
        "school_days": 58,
        "why": "first 58 school days of autumn 2025",
    }
    # The words, exactly.
    assert (
        "first 58 school days of autumn 2026 (2 Sep – 30 Nov 2026) against the first 58 school days of summer 2026"
    ) in comparison.text()
    frames = load_school_frames(store, "S1")
    assert comparison_json(frames, START, END, calendar) == {
        "comparison": comparison.previous.json(),
        "comparison_last_year": comparison.last_year.json(),
    }
    # Whole terms with whole terms: summer 2026 (13 Apr - 21 Jul: 14 weeks and 2 days, less half-term: 67)
    # against spring 2026 (5 Jan - 27 Mar: 12 weeks less half-term: 55).
    whole = terms.compare(D(2026, 4, 13), D(2026, 7, 21), calendar)
    assert (whole.window.why, whole.previous.why) == (
        "all 67 school days of summer 2026",
        "all 55 school days of spring 2026",
    )


def test_the_defaults_fill_the_years_the_school_has_not_given(ash_lane):
    calendar = school_terms.load_calendar(ash_lane, "S1")
    assert calendar.term_of(D(2026, 11, 30)).start == D(2026, 9, 2)  # the school's own
    spring = calendar.term_of(D(2027, 2, 1))  # England's, for 2027
    assert (spring.name, spring.start) == ("spring 2027", D(2027, 1, 4))
    # In the summer holiday the window is the summer term just gone, whole.
    assert terms.default_window(D(2026, 8, 10), calendar=calendar) == (D(2026, 4, 13), D(2026, 7, 21))
    labels = [w.label for w in terms.term_windows(D(2026, 11, 30), 2, calendar)]
    assert labels == ["Autumn 2026 (2 Sep – 30 Nov 2026)", "Summer 2026 (13 Apr – 21 Jul 2026)"]


def test_last_year_is_left_out_when_the_store_does_not_reach_back(ash_lane):
    with ash_lane.write(actor="test") as conn:
        conn.execute(db.interactions.delete().where(db.interactions.c.date < D(2026, 1, 1)))
    calendar = school_terms.load_calendar(ash_lane, "S1")
    keys = comparison_json(load_school_frames(ash_lane, "S1"), START, END, calendar)
    assert list(keys) == ["comparison"]


# ---------------------------------------------------------------- the communication panel


def test_every_communication_figure_of_the_hand_worked_school_on_both_databases(store):
    fill(store)
    calendar = school_terms.load_calendar(store, "S1")
    result = measure(load_messages(store, "S1"), START, END, calendar, SETTINGS)
    assert result.card == EXPECTED_COMMUNICATION
    words = {row["principle"]: row for row in result.rows}
    assert words["Early"]["explanation"] == (
        "50.0% of the 4 families new this school year (joined since 1 August 2026, or starting in Reception) had "
        "two-way contact within 15 school days of joining."
    )
    assert words["Regular"]["explanation"] == (
        "A message went to all families (a newsletter, a portal message) in 7 of the window's 13 school weeks; "
        "the longest stretch without one was 10 school days."
    )
    assert words["Reliable"]["value"] == "60.0%" and "5 one-way messages" in words["Reliable"]["explanation"]
    assert words["Equitable"]["value"] == "7.1 pts"
    assert (
        "home language: English 57.1% against Urdu 50.0%, a gap of 7.1 percentage points"
        in words["Equitable"]["explanation"]
    )
    assert words["Open"]["explanation"].startswith("40.0% of the 15 contacts with families in the window")


def test_figures_resting_on_fewer_families_than_the_threshold_are_not_shown(ash_lane):
    calendar = school_terms.load_calendar(ash_lane, "S1")
    messages = load_messages(ash_lane, "S1")
    # At 5, early (4 families due) and reliable (4 families wrote) go; open (10 families) stays; groups of 4 go.
    five = measure(messages, START, END, calendar, parse_settings({"privacy": {"suppression_threshold": 5}})).card
    assert (five["early"], five["reliable"], five["open"]) == (None, None, 0.4)
    assert five["suppressed"] and five["suppressed_figures"] == ["early", "reliable"]
    assert five["equitable"] == {
        "by_channel": {"digital": 0.5},
        "by_language": {"English": 0.5714},
        "widest_gap_pp": None,
    }
    rows = {
        r["principle"]: r
        for r in measure(messages, START, END, calendar, parse_settings({"privacy": {"suppression_threshold": 5}})).rows
    }
    assert rows["Early"] == {
        "principle": "Early",
        "value": "not shown",
        "short": rows["Early"]["explanation"],
        "explanation": "Not shown: fewer than 5 families new this school year have had 15 school days since joining.",
    }
    # At 13 the school itself (12 families on roll) is too small: nothing at all.
    small = measure(messages, START, END, calendar, parse_settings({"privacy": {"suppression_threshold": 13}}))
    assert small.card["suppressed_figures"] == list(EXPECTED_COMMUNICATION)[:6]
    assert [small.card[k] for k in ("early", "regular_weeks", "longest_gap_days", "reliable", "open")] == [None] * 5
    assert {row["value"] for row in small.rows} == {"not shown"}


def test_score_json_carries_the_comparisons_and_the_communication(ash_lane, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[privacy]\nsuppression_threshold = 4\n")
    run = run_cli(
        "score",
        "--db",
        ash_lane.url,
        "--json",
        "--from",
        "2026-09-02",
        "--to",
        "2026-11-30",
        env={"ENGAGEMENT_CONFIG": str(config)},
    )
    assert run.returncode == 0, run.stderr
    card = json.loads(run.stdout)
    assert card["window"] == {"from": "2026-09-02", "to": "2026-11-30"}
    assert card["comparison"]["why"] == "first 58 school days of summer 2026"
    assert card["comparison_last_year"]["to"] == "2025-11-26"
    assert card["communication"] == EXPECTED_COMMUNICATION


def test_the_overview_view_says_what_was_compared(ash_lane):
    calendar = school_terms.load_calendar(ash_lane, "S1")
    view = overview(
        load_school_frames(ash_lane, "S1"),
        "S1",
        START,
        END,
        settings=SETTINGS,
        calendar=calendar,
        messages=load_messages(ash_lane, "S1"),
        today=END,
    )
    assert view.previous == (D(2026, 4, 13), D(2026, 7, 8)) and view.last_year
    assert view.comparison_text.endswith("and against the first 58 school days of autumn 2025 (1 Sep – 26 Nov 2025)")
    assert view.communication.card == EXPECTED_COMMUNICATION
    # Reach: 6 of 12 now; 1 of 12 (F04, 10 Jun) in the first 58 school days of summer; 1 of 12 (F06) last year.
    families = next(row for row in view.segments if row["segment"] == "families")
    assert families["rate_change"] == round(100 * (0.5 - 0.0833), 1) == families["rate_change_last_year"]
    assert list(view.trends["label"])[-1] == "Autumn 2026 (so far: 58 of 72 school days)"


# ---------------------------------------------------------------- terms.csv refused, with row and reason


def refused(store, text: str, **options) -> list[tuple[int | None, str | None, str]]:
    before = school_terms.stored_rows(store)
    report = school_terms.import_terms(store, [("terms.csv", text.encode())], actor="test", **options)
    assert not report.ok and school_terms.stored_rows(store) == before  # all or nothing
    assert report.format().startswith("Nothing was imported")
    return [(p.row, p.column, p.reason) for p in report.errors]


def test_overlapping_terms_are_refused_with_row_and_reason(ash_lane):
    problems = refused(
        ash_lane,
        "kind,name,start,end\nterm,autumn 2027,2027-09-01,2027-12-17\nterm,spring 2028,2027-12-10,2028-03-24\n",
    )
    assert problems == [
        (
            3,
            "start",
            "the term 'spring 2028' (10 Dec 2027 – 24 Mar 2028) overlaps the term "
            "'autumn 2027' (1 Sep – 17 Dec 2027) at row 2: a school's terms never overlap",
        )
    ]


def test_a_holiday_outside_its_term_is_refused_with_row_and_reason(ash_lane):
    problems = refused(
        ash_lane,
        "kind,name,start,end\nterm,autumn 2027,2027-09-01,2027-12-17\n"
        "holiday,Christmas,2027-12-13,2028-01-03\nholiday,August,2027-08-02,2027-08-06\n",
    )
    assert problems == [
        (
            4,
            "start",
            "the holiday 'August' (2 Aug – 6 Aug 2027) lies inside none of the school's terms: a holiday "
            "is a break inside one of the school's terms",
        ),
        (
            3,
            "end",
            "the holiday 'Christmas' (13 Dec 2027 – 3 Jan 2028) runs outside the term 'autumn 2027' "
            "(1 Sep – 17 Dec 2027) at row 2: a holiday is a break inside one of the school's terms",
        ),
    ]


def test_rows_that_are_not_terms_are_refused_cell_by_cell(ash_lane):
    problems = refused(
        ash_lane,
        "kind,name,start,end,colour\nhalf-term,x,2027-10-25,2027-10-29,red\n"
        "term,,31/02/2027,2027-12-17,\nterm,autumn 2027,2027-12-17,2027-09-01,\n"
        "term,elsewhere,2027-09-01,2027-12-17,\n",
        school_id="S9",
    )
    assert (
        2,
        "kind",
        "'half-term' is not a kind of row: write term, or holiday (a half-term or other break inside a term)",
    ) in problems
    assert (3, "name", "the name is missing; every row needs one, e.g. autumn 2026") in problems
    assert (3, "start", "'31/02/2027' is not a date: write it as 2026-09-14 or 14/09/2026") in problems
    assert (4, "end", "the end (01/09/2027) is before the start (17/12/2027)") in problems
    assert (5, "school_id", "there is no school 'S9' in the store") in problems
    missing = refused(ash_lane, "kind,name,start\nterm,x,2027-09-01\n")
    assert missing == [
        (
            1,
            "end",
            "the required column 'end' is missing (a terms file needs kind, name, start, "
            "end; found: kind, name, start)",
        )
    ]


def test_a_file_replaces_the_terms_it_covers_and_keeps_the_others(ash_lane):
    report = school_terms.import_terms(
        ash_lane, [("terms.csv", b"kind,name,start,end\nterm,autumn 2026,2026-09-03,2026-12-18\n")], actor="test"
    )
    assert report.ok and report.notes == ["terms: 1 term and 0 holidays for school S1 (replacing 3 rows)"]
    rows = school_terms.stored_rows(ash_lane, "S1")
    assert [r.name for r in rows if r.kind == "term"] == ["autumn 2025", "spring 2026", "summer 2026", "autumn 2026"]
    # 3-4 Sep, twelve whole weeks from 7 Sep, 30 Nov: 63 school days, with no half-term now.
    assert school_terms.load_calendar(ash_lane, "S1").count_school_days(START, END) == 63
    # Every change is audited, so every cached page sees it.
    with ash_lane.read() as conn:
        details = [
            r.detail
            for r in conn.execute(
                db.audit_log.select().where(db.audit_log.c.table_name == "terms").order_by(db.audit_log.c.id)
            )
        ]
    assert details[-1] == "terms.csv: 1 term and 0 holidays for school S1 (replacing 3 rows)"


def test_the_data_pages_table_saves_through_the_same_checks(ash_lane):
    bad = [
        {"kind": "term", "name": "autumn", "start": D(2026, 9, 2), "end": D(2026, 12, 18)},
        {"kind": "holiday", "name": "Christmas", "start": D(2026, 12, 21), "end": D(2027, 1, 1)},
        {"kind": None, "name": None, "start": None, "end": None},
    ]  # an empty row the editor added
    report = school_terms.save_terms(ash_lane, "S1", bad, actor="test")
    assert [(p.row, p.reason.split(":")[0]) for p in report.errors] == [
        (2, "the holiday 'Christmas' (21 Dec 2026 – 1 Jan 2027) lies inside none of the school's terms")
    ]
    assert len(school_terms.stored_rows(ash_lane, "S1")) == 9
    assert school_terms.save_terms(ash_lane, "S1", bad[:1], actor="test").ok
    assert [r.name for r in school_terms.stored_rows(ash_lane, "S1")] == ["autumn"]


def test_the_command_line_imports_and_refuses_terms(ash_lane, tmp_path):
    def cli(*args):
        return run_cli(*args, "--db", ash_lane.url)

    bad = tmp_path / "terms-2027.csv"
    bad.write_text("kind,name,start,end\nterm,a,2027-09-01,2027-12-17\nterm,b,2027-12-01,2028-03-24\n")
    run = cli("import", str(bad))
    assert run.returncode == 1 and "terms-2027.csv, row 3, start: the term 'b'" in run.stderr
    good = tmp_path / "calendar.csv"
    good.write_text("kind,name,start,end\nterm,autumn 2027,2027-09-01,2027-12-17\n")
    assert cli("import", str(good)).returncode == 1  # a name that says nothing: the kind is not guessed
    run = cli("import", str(good), "--kind", "terms")
    assert run.returncode == 0 and "terms: 1 term and 0 holidays for school S1" in run.stdout
    out = tmp_path / "out"
    assert cli("export", str(out)).returncode == 0
    exported = (out / "terms.csv").read_text(encoding="utf-8-sig").splitlines()
    assert exported[0] == "school_id,kind,name,start,end" and "S1,term,autumn 2027,2027-09-01,2027-12-17" in exported


# ---------------------------------------------------------------- the Overview page


def test_the_overview_page_shows_the_comparison_and_the_panel(ash_lane, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[privacy]\nsuppression_threshold = 4\n")
    monkeypatch.setenv("ENGAGEMENT_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", ash_lane.url)
    monkeypatch.setenv("ENGAGEMENT_NO_DEMO", "1")
    monkeypatch.setenv("ENGAGEMENT_TODAY", END.isoformat())  # a window can end no later than today
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    at.sidebar.selectbox(key="window_term").set_value("Custom dates").run()
    at.sidebar.date_input(key="window_dates").set_value((START, END)).run()
    assert not at.exception, at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Arrows compare")).replace("\\", "")
    assert (
        "first 58 school days of autumn 2026 (2 Sep – 30 Nov 2026) against the first 58 school days of "
        "summer 2026 (13 Apr – 8 Jul 2026), and against the first 58 school days of autumn 2025"
    ) in caption
    panel = {m.label: m.value for m in at.metric if m.label in ("Early", "Regular", "Reliable", "Equitable", "Open")}
    assert panel == {"Early": "50.0%", "Regular": "53.8%", "Reliable": "60.0%", "Equitable": "7.1 pts", "Open": "40.0%"}
    assert any("On the same point last year" in c.value for c in at.caption)


def test_a_family_message_logged_in_the_app_counts_for_reliable(ash_lane):
    from engagement.contacts import InvalidInteraction, log_interaction

    # F11's message of 27 Nov is answered on 30 Nov; the window to 1 Dec now holds it as due and answered.
    log_interaction(
        ash_lane, "flo", school_id="S1", family_id="F11", date=D(2026, 11, 30), activity="email", today=D(2026, 12, 1)
    )
    log_interaction(
        ash_lane,
        "flo",
        school_id="S1",
        family_id="F12",
        date=D(2026, 12, 1),
        activity="email",
        direction="from family",
        today=D(2026, 12, 1),
    )
    with pytest.raises(InvalidInteraction, match="'to family' or 'from family'"):
        log_interaction(
            ash_lane,
            "flo",
            school_id="S1",
            family_id="F12",
            date=D(2026, 12, 1),
            activity="email",
            direction="sideways",
            today=D(2026, 12, 1),
        )
    calendar = school_terms.load_calendar(ash_lane, "S1")
    card = measure(load_messages(ash_lane, "S1"), START, D(2026, 12, 1), calendar, SETTINGS).card
    # 4 of 6 due (F11's now due and answered; F12's of 1 Dec is not due until 3 Dec).
    assert card["reliable"] == round(4 / 6, 4)


def test_governors_see_the_new_families_rounded_and_no_early_share_that_gives_a_small_count_back(ash_lane):
    """Four families are new; two were reached early. At a threshold of 3 staff see 50% of 4; a
    governor would read 2 families from it (and 2 not reached), so the share is hidden for them
    and the base is rounded."""
    calendar = school_terms.load_calendar(ash_lane, "S1")
    messages = load_messages(ash_lane, "S1")
    three = parse_settings({"privacy": {"suppression_threshold": 3}})
    staff = measure(messages, START, END, calendar, three)
    governor = measure(messages, START, END, calendar, three, for_governor=True)
    assert staff.card["early"] == 0.5 and "of the 4 families new" in staff.rows[0]["explanation"]
    assert governor.card["early"] is None and "early" in governor.card["suppressed_figures"]
    assert governor.rows[0]["value"] == "not shown"
    # Above the threshold on both sides, a governor sees the share with the base rounded.
    two = measure(
        messages, START, END, calendar, parse_settings({"privacy": {"suppression_threshold": 2}}), for_governor=True
    )
    assert two.card["early"] == 0.5 and "of about 4 families new" in two.rows[0]["explanation"]
