"""The Outreach planner page with AppTest on a temporary store holding the demo school: the ranked
worklist with its reasons, filters, and logging a contact (exactly one interaction and one audit
row; a two-way contact takes the family off the list; bad input refused, nothing written)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from engagement import clock, outreach
from engagement import store as db

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "outreach.py"
SUBMIT = "FormSubmitter:outreach_log-Log contact"


@pytest.fixture
def app_db(demo_app_db):
    return demo_app_db


def open_page() -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def counts(url: str) -> tuple[int, int]:
    store = db.open_store(url)
    try:
        with store.read() as conn:
            return (
                conn.execute(select(func.count()).select_from(db.interactions)).scalar(),
                conn.execute(select(func.count()).select_from(db.audit_log)).scalar(),
            )
    finally:
        store.dispose()


def worklist_ids(at: AppTest) -> list[str]:
    """The families of the worklist's page on screen, in order (one button each)."""
    return [b.key.removeprefix("outreach_pick_") for b in at.button if (b.key or "").startswith("outreach_pick_")]


def _worklist_columns(url: str, *columns: str) -> list[list]:
    store = db.open_store(url)
    try:
        listed = outreach.worklist(store, db.school_ids(store)[0])
        return [listed[c].tolist() for c in columns]
    finally:
        store.dispose()


def on_list(url: str) -> list[str]:
    """Every family of the worklist, from the store."""
    store = db.open_store(url)
    try:
        return outreach.worklist(store, db.school_ids(store)[0])["family_id"].tolist()
    finally:
        store.dispose()


def panel_family(at: AppTest) -> str:
    """The family the panel beside the list shows."""
    heading = next(h.value for h in at.subheader if h.value.startswith("Family "))
    return heading.removeprefix("Family ").strip("` ")


def test_the_page_ranks_families_and_says_why(app_db):
    at = open_page()
    assert at.title[0].value == "Outreach planner"
    everyone = outreach.worklist(db.open_store(app_db), db.school_ids(db.open_store(app_db))[0])
    assert worklist_ids(at) == everyone["family_id"].head(10).tolist()
    assert panel_family(at) == everyone["family_id"].iloc[0]
    # Every family's full reasons, and its needs, groups and years in words.
    why = [m.value for m in at.markdown if m.value.startswith("**Why now:** ")]
    assert len(why) == 11  # ten rows and the panel
    assert all(r"\+" in w for w in why)
    captions = [c.value for c in at.caption if c.value.startswith("**")]
    assert any("**Groups:**" in c for c in captions) and not any(";" in c or "None" in c for c in captions)
    assert any(s.value.startswith(f"{len(everyone):,} families to reach") for s in at.header)


def test_filters_narrow_the_list(app_db):
    at = open_page()
    at.selectbox(key="outreach_filter_flag").set_value("SEND").run()
    assert any("(of " in h.value and "filtered" in h.value for h in at.header)
    rows = [c.value for c in at.caption if c.value.startswith("**")]
    assert rows and all("SEND" in r.split("**Groups:**")[1] for r in rows)


def test_a_family_is_chosen_with_its_button(app_db):
    at = open_page()
    third = worklist_ids(at)[2]
    at.button(key=f"outreach_pick_{third}").click().run()
    assert panel_family(at) == third
    assert at.button(key=f"outreach_pick_{third}").proto.type == "primary"


def test_logging_a_two_way_contact_writes_one_interaction_and_one_audit_row_and_the_family_leaves(app_db):
    at = open_page()
    # A family that leaves the list once reached: not one kept on it by a coming move or a referral.
    reasons = dict(zip(*_worklist_columns(app_db, "family_id", "reasons"), strict=True))
    ids = worklist_ids(at)
    family = next(f for f in ids if "move" not in reasons[f] and "referral" not in reasons[f])
    following = ids[ids.index(family) + 1]
    at.button(key=f"outreach_pick_{family}").click().run()
    assert panel_family(at) == family
    interactions, audits = counts(app_db)
    at.selectbox(key="log_activity").set_value("phone call")
    at.radio(key="log_two_way").set_value("Yes")
    at.text_area(key="log_note").set_value("Spoke to mum about <b>clubs</b>")
    at.button(key=SUBMIT).click().run()
    assert not at.exception and not at.error
    assert counts(app_db) == (interactions + 1, audits + 1)
    assert family not in worklist_ids(at) and family not in on_list(app_db)
    # The logged family stays in the panel with the confirmation, and no form, until "Next family".
    assert panel_family(at) == family
    assert at.success[0].value.startswith(f"Logged a ` phone call ` with family ` {family} `")
    assert "has left the worklist" in at.success[0].value
    assert not [f for f in at.get("form")] and at.button(key="outreach_next").label == "Next family"
    at.button(key="outreach_next").click().run()
    assert panel_family(at) == following and not at.success
    # The next contact starts from a clean form.
    assert at.text_area(key="log_note").value == "" and at.radio(key="log_two_way").value == "As usual"
    store = db.open_store(app_db)
    with store.read() as conn:
        row = (
            conn.execute(
                select(db.interactions)
                .where(db.interactions.c.family_id == family)
                .order_by(db.interactions.c.date.desc())
            )
            .mappings()
            .first()
        )
        audit = conn.execute(select(db.audit_log).order_by(db.audit_log.c.id.desc())).mappings().first()
    store.dispose()
    assert row["date"] == clock.today() and row["two_way"] and row["channel"] == "phone"
    assert row["notes"] == "Spoke to mum about <b>clubs</b>"
    assert audit["table_name"] == "interactions" and audit["record_id"] == row["interaction_id"]
    assert audit["actor"] == "local admin"


def test_a_one_way_contact_is_logged_and_the_family_stays(app_db):
    at = open_page()
    family = panel_family(at)
    following = worklist_ids(at)[1]
    interactions, audits = counts(app_db)
    at.selectbox(key="log_activity").set_value("phone call")
    at.radio(key="log_two_way").set_value("No")
    at.button(key=SUBMIT).click().run()
    assert counts(app_db) == (interactions + 1, audits + 1)
    assert family in worklist_ids(at) and panel_family(at) == family
    assert "stays on the worklist" in at.success[0].value
    # "Next family" moves on to the one after it, though it stays on the list.
    at.button(key="outreach_next").click().run()
    assert panel_family(at) == following


@pytest.mark.parametrize(
    "bad, message",
    [
        ("future", "is in the future"),
        ("unknown activity", "'tea party' is not an activity of the catalogue"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_writes_nothing(app_db, bad, message):
    at = open_page()
    family = panel_family(at)
    before = counts(app_db)
    if bad == "future":
        at.date_input(key="log_date").set_value(clock.today() + datetime.timedelta(days=1))
    else:
        at.selectbox(key="log_activity").set_value("Other")
        at.text_input(key="log_other").set_value("tea party")
    at.text_area(key="log_note").set_value("typed before the mistake")
    at.button(key=SUBMIT).click().run()
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value
    assert counts(app_db) == before
    assert family in worklist_ids(at) and not at.success
    # What the FLO typed is still there to correct.
    assert at.text_area(key="log_note").value == "typed before the mistake"


def test_a_family_is_added_to_a_partnership_from_its_panel(app_db):
    """Issue 29: members are added from the Outreach planner, beside the family the FLO is planning for."""
    from engagement import partnerships

    at = open_page()
    family = panel_family(at)
    store = db.open_store(app_db)
    school = db.list_schools(store)[0]["school_id"]
    before, could_join = partnerships.family_partnerships(store, school, family)
    assert could_join, "the demo has partnerships a family can join"
    chosen = next(p for p in could_join)
    at.selectbox(key="outreach_join").set_value(chosen["partnership_id"]).run()
    at.button(key="outreach_join_go").click().run()
    assert not at.exception, at.exception
    assert any(f"Added to {chosen['name']}" in s.value for s in at.success)
    after, _ = partnerships.family_partnerships(store, school, family)
    assert chosen in after and len(after) == len(before) + 1
    store.dispose()
