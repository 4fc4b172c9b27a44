"""Logging a contact: validated in plain English, written with its audit row or not at all."""

import datetime
import json

import pytest
from sqlalchemy import func, select

from engagement import store as db
from engagement.contacts import InvalidInteraction, interaction_history, log_interaction

TODAY = datetime.date(2026, 10, 1)


@pytest.fixture
def school(store):
    with store.write("setup") as conn:
        conn.execute(
            db.schools.insert(),
            [
                {"school_id": "S1", "name": "Hollybrook", "postcode": "B30 2AA", "demo": False},
                {"school_id": "S2", "name": "Elmside", "postcode": "B29 1AA", "demo": False},
            ],
        )
        conn.execute(
            db.families.insert(), [{"family_id": "F1", "school_id": "S1"}, {"family_id": "F9", "school_id": "S2"}]
        )
        conn.execute(
            db.partners.insert(),
            [
                {"partner_id": "P1", "school_id": "S1", "name": "Food bank", "category": "food bank", "layer": 3},
                {"partner_id": "Q9", "school_id": "S2", "name": "Elm club", "category": "sports club", "layer": 3},
            ],
        )
    return store


def _counts(store):
    with store.read() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar() for t in (db.interactions, db.audit_log)
        )


def test_logs_one_interaction_with_defaults_and_one_audit_row(school):
    new_id = log_interaction(
        school,
        "flo:amy",
        school_id="S1",
        family_id="F1",
        date="30/09/2026",
        activity="  PARENTS' EVENING ",
        staff="Amy",
        notes="asked about clubs",
        today=TODAY,
    )
    with school.read() as conn:
        row = conn.execute(select(db.interactions)).mappings().one()
        audit = conn.execute(select(db.audit_log)).mappings().one()
    assert row["interaction_id"] == new_id
    assert row["activity"] == "parents evening"  # the alias stored under its canonical name
    assert row["channel"] == "in person" and row["two_way"] is True
    assert row["date"] == datetime.date(2026, 9, 30) and row["school_id"] == "S1" and row["partner_id"] is None
    assert audit["actor"] == "flo:amy" and audit["action"] == "insert" and audit["record_id"] == new_id
    assert json.loads(audit["after"])["notes"] == "asked about clubs"


def test_partner_contact_with_explicit_channel_and_two_way(school):
    log_interaction(
        school,
        "flo",
        school_id="S1",
        partner_id="P1",
        date=TODAY,
        activity="newsletter",
        channel="Letter",
        two_way="Y",
        today=TODAY,
    )
    history = interaction_history(school, partner_id="P1", role="flo")
    assert history[["activity", "channel", "two_way"]].to_dict("records") == [
        {"activity": "newsletter", "channel": "letter", "two_way": True}
    ]


def test_history_is_newest_first(school):
    for day in ("2026-09-03", "2026-09-20", "2026-09-10"):
        log_interaction(school, "flo", school_id="S1", family_id="F1", date=day, activity="email", today=TODAY)
    history = interaction_history(school, family_id="F1", role="flo")
    assert list(history.columns[:6]) == ["interaction_id", "date", "activity", "channel", "two_way", "staff"]
    assert [d.isoformat() for d in history["date"]] == ["2026-09-20", "2026-09-10", "2026-09-03"]
    assert not history["two_way"].any()  # an email is one-way by default
    assert interaction_history(school, family_id="F9", role="flo").empty


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "at least one of them"),
        ({"family_id": "F1", "partner_id": "P404"}, "no partner 'P404'"),
        ({"family_id": "F1", "partner_id": "Q9"}, "partner 'Q9' belongs to another school"),
        ({"family_id": "F404"}, "no family 'F404'"),
        ({"partner_id": "P404"}, "no partner 'P404'"),
        ({"family_id": "F9"}, "belongs to another school"),
        ({"family_id": "F1", "activity": "skydiving"}, "Known activities: phone call"),
        ({"family_id": "F1", "channel": "pigeon"}, "Channels: in person, home visit, phone, digital, letter"),
        ({"family_id": "F1", "two_way": "maybe"}, "yes or no"),
        ({"family_id": "F1", "date": "2026-10-02"}, "in the future"),
        ({"family_id": "F1", "date": "31/02/2026"}, "not a date"),
        ({"family_id": "F1", "school_id": "S404"}, "no school 'S404'"),
        ({"family_id": "F1", "staff": "x" * 201}, "too long"),
    ],
)
def test_refuses_bad_contacts_and_writes_nothing(school, kwargs, message):
    args = {"school_id": "S1", "date": "2026-09-30", "activity": "phone call", "today": TODAY, **kwargs}
    before = _counts(school)
    with pytest.raises(InvalidInteraction, match=message):
        log_interaction(school, "flo", **args)
    assert _counts(school) == before


def test_a_family_at_a_partners_session_is_one_contact_in_both_histories(school):
    new_id = log_interaction(
        school,
        "flo",
        school_id="S1",
        family_id="F1",
        partner_id="P1",
        date="2026-09-30",
        activity="family workshop",
        today=TODAY,
    )
    with school.read() as conn:
        row = conn.execute(select(db.interactions)).mappings().one()
    assert (row["interaction_id"], row["family_id"], row["partner_id"]) == (new_id, "F1", "P1")
    assert interaction_history(school, family_id="F1", role="flo")["interaction_id"].tolist() == [new_id]
    assert interaction_history(school, partner_id="P1", role="flo")["interaction_id"].tolist() == [new_id]


def test_governors_see_a_partners_history_without_notes_or_staff(school):
    log_interaction(
        school,
        "flo@school",
        school_id="S1",
        date="2026-11-02",
        activity="multi-agency meeting",
        partner_id="P1",
        staff="Ms Staff",
        notes="Discussed family F1: housing",
        today=datetime.date(2026, 11, 2),
    )
    governor = interaction_history(school, partner_id="P1", role="governor")
    assert list(governor.columns) == ["date", "activity", "channel"]
    assert "housing" not in governor.to_string() and "Ms Staff" not in governor.to_string()
    assert "housing" in interaction_history(school, partner_id="P1", role="head").to_string()
    with pytest.raises(PermissionError):
        interaction_history(school, family_id="F1", role="governor")
    # No role at all is no detail at all: the history fails closed.
    assert list(interaction_history(school, partner_id="P1").columns) == ["date", "activity", "channel"]
