"""Referrals, family links and events check their texts' lengths against the store's columns and
name the row and the column, on SQLite (which would keep an over-long text) as on PostgreSQL (which
refused the whole file as "the store cannot be used", naming neither); an event's row errors name
their own column, not always ``date`` (issue 26)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engagement import referrals
from engagement import store as db
from engagement.week_files import import_week_files
from tests.test_week import write_school

LONG_ID, LONG_NAME, LONG_RELATION = "F" * 65, "S" * 201, "r" * 61

CASES = {
    "a referral's staff": (
        "referrals.csv",
        f"referral_id,family_id,partner_id,date,status,staff\nR1,F001,P1,2026-09-01,sent,{LONG_NAME}\n",
        2,
        "staff",
        "too long: 201 characters, at most 200",
    ),
    "a referral's id": (
        "referrals.csv",
        f"referral_id,family_id,partner_id,date,status\n{'R' * 65},F001,P1,2026-09-01,sent\n",
        2,
        "referral_id",
        "too long: 65 characters, at most 64",
    ),
    "a link's relation": (
        "family_partners.csv",
        f"family_id,partner_id,relation\nF001,P1,member\nF002,P1,{LONG_RELATION}\n",
        3,
        "relation",
        "too long: 61 characters, at most 60",
    ),
    "a link's family": (
        "family_partners.csv",
        f"family_id,partner_id\n{LONG_ID},P1\n",
        2,
        "family_id",
        "too long: 65 characters, at most 64",
    ),
    "an event's staff": (
        "events.csv",
        f"event_id,date,activity,family_id,staff\nE1,2026-10-07,parents evening,F001,{LONG_NAME}\n",
        2,
        "staff",
        "too long: 201 characters, at most 200",
    ),
    "an event's activity": (
        "events.csv",
        f"event_id,date,activity,family_id\nE1,2026-10-07,{'a' * 101},F001\n",
        2,
        "activity",
        "too long: 101 characters, at most 100",
    ),
    "one of an event's partners": (
        "events.csv",
        f"event_id,date,activity,partner_id\nE1,2026-10-07,parents evening,P1;{'P' * 65}\n",
        2,
        "partner_id",
        "too long: 65 characters, at most 64",
    ),
    "an event's misspelt activity": (
        "events.csv",
        "event_id,date,activity,family_id\nE1,2026-10-07,parents evenin,F001\n",
        2,
        "activity",
        "is not an activity",
    ),
}


def written(store) -> int:
    with store.read() as conn:
        return sum(
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (db.events, db.referrals, db.family_partners, db.interactions)
        )


@pytest.mark.parametrize("case", list(CASES))
def test_an_over_long_or_wrong_cell_is_refused_with_its_row_and_column(store, case):
    name, text, row, column, reason = CASES[case]
    write_school(store)
    before = written(store)
    report = import_week_files(store, [(name, text.encode())], school_id="S1")
    assert not report.ok
    assert [(e.file, e.row, e.column) for e in report.errors] == [(name, row, column)], report.format()
    assert reason in report.errors[0].reason
    assert written(store) == before


def test_a_referral_or_a_link_made_in_the_app_checks_its_lengths_too(store):
    write_school(store)
    before = written(store)
    with pytest.raises(referrals.InvalidReferral, match="too long"):
        referrals.refer(
            store, "flo", school_id="S1", family_id="F001", partner_id="P1", date="2026-09-01", staff=LONG_NAME
        )
    with pytest.raises(referrals.InvalidReferral, match="relation is too long"):
        referrals.link_family(store, "flo", school_id="S1", family_id="F001", partner_id="P1", relation=LONG_RELATION)
    assert written(store) == before
