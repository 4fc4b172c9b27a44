"""The Transitions page and the Overview's belonging section with AppTest on the demo school: a
SENCO sees and updates a SEND child's move to secondary (one audited change); a governor cannot
open the page and sees belonging and transition figures on the Overview, counts only; an FLO sees
the outreach reasons for FLOs, a head sees them folded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from engagement import access
from engagement import store as db

APP = Path(__file__).resolve().parent.parent / "app.py"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "engagement",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:1/.well-known",
}
ROLES = {
    "senco@hollybrook.sch.uk": "senco",
    "flo@hollybrook.sch.uk": "flo",
    "head@hollybrook.sch.uk": "head",
    "@governors.hollybrook.sch.uk": "governor",
}


@pytest.fixture
def app_db(demo_app_db):
    """The demo school, as the app's first start writes it (a copy of the session's)."""
    return demo_app_db


def signed_in(email: str, page: str | None = None) -> AppTest:
    """The app signed in as ``email``, run once: on ``page`` when given (straight there, as a
    visitor opening its address: an Overview first would cost its whole run), else the Overview."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = ROLES
    at.user = {"is_logged_in": True, "email": email}
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def test_senco_role_opens_transitions_outreach_data_and_the_aggregate_pages():
    for page in ("transitions", "outreach", "data", "overview", "layers", "map", "school"):
        assert access.can_open("senco", page)
    assert not access.can_open("senco", "audit") and not access.can_open("governor", "transitions")
    assert access.sees_family_detail("senco") and access.may_import("senco")
    assert access.sees_flo_reasons("flo") and not access.sees_flo_reasons("senco")


def test_a_senco_sees_and_updates_a_send_childs_move_to_secondary(app_db):
    at = signed_in("senco@hollybrook.sch.uk", "app_pages/transitions.py")
    assert at.title[0].value == "Transitions"
    table = at.dataframe[0].value
    assert table["send"].iloc[0]  # SEND first
    # A SEND child's move with a step still to do (by the end of the summer term, the demo has
    # done most of them).
    store = db.open_store(app_db)
    try:
        with store.read() as conn:
            open_plans = set(
                conn.execute(
                    select(db.transition_steps.c.transition_id).where(db.transition_steps.c.done.is_(False))
                ).scalars()
            )
    finally:
        store.dispose()
    transition_id = next(
        tid
        for tid, row in zip(table["transition_id"], table.itertuples(), strict=True)
        if row.kind == "year 6 to year 7" and row.send and tid in open_plans
    )
    at.selectbox(key="transitions_pick").set_value(transition_id).run()
    assert any("year 6 to year 7" in s.value for s in at.header)
    box = next(c for c in at.checkbox if c.key.startswith(f"step_{transition_id}/") and not c.value)
    step_id = box.key.rsplit("_", 1)[0][len("step_") :]
    store = db.open_store(app_db)
    try:
        with store.read() as conn:
            before = conn.execute(select(func.count()).select_from(db.audit_log)).scalar()
        box.check().run()
        assert not at.exception, at.exception
        assert any("Saved: 1 step changed." in s.value for s in at.success)
        with store.read() as conn:
            step = (
                conn.execute(select(db.transition_steps).where(db.transition_steps.c.step_id == step_id))
                .mappings()
                .one()
            )
            after = conn.execute(select(func.count()).select_from(db.audit_log)).scalar()
        assert step["done"] and step["done_by"] == "senco@hollybrook.sch.uk" and after == before + 1
    finally:
        store.dispose()


def test_the_senco_sees_belonging_by_group_beside_the_send_moves(app_db):
    """Issue 27, item 8: the Overview's belonging by group, for families with SEND and for those
    of them with a move shown, on the SENCO's Transitions page; a group too small is not shown."""
    from engagement import belonging, clock

    at = signed_in("senco@hollybrook.sch.uk", "app_pages/transitions.py")
    assert any(s.value == "Belonging of families with SEND" for s in at.header)
    (shown,) = [t.value for t in at.table if "SEND, moving" in t.value.columns]
    store = db.open_store(app_db)
    try:
        # The SEND column is the Overview's own figure for the same round.
        overview = belonging.voice_section(store, "999001", clock.today())
        (round_,) = [r for r in overview.rounds if not r.anonymous]
        assert list(shown["SEND"]) == [row["SEND"] for row in belonging.question_rows(round_)]
        assert list(shown["Question"]) == [row["Question"] for row in belonging.question_rows(round_)]
        assert all(v.endswith("%") for v in shown["SEND, moving"]), shown
        # Only the SEND moves shown count: one family's answers are too few to show.
        at.toggle(key="transitions_send_only").set_value(True).run()
        moves = at.dataframe[0].value
        one = moves[moves["send"]].head(1)
        (few,) = belonging.send_belonging(store, "999001", one, clock.today())
        assert set(belonging.question_rows(few)[0]) >= {"SEND", "SEND, moving"}
        assert {row["SEND, moving"] for row in belonging.question_rows(few)} == {"not shown"}
    finally:
        store.dispose()


def test_a_governor_sees_belonging_and_transition_counts_on_the_overview(app_db):
    at = signed_in("chair@governors.hollybrook.sch.uk")
    assert any(h.value == "Belonging and transitions" for h in at.header)
    labels = {m.label: m.value for m in at.metric}
    assert labels["Feel they belong"].endswith("%")
    moves = next(v for k, v in labels.items() if k.startswith("Transitions "))
    assert moves == "fewer than 10" or int(moves.replace(",", "")) % 10 == 0  # rounded to the threshold
    assert all("F0" not in t.value.to_string() for t in at.table)  # no family reference anywhere
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/transitions.py")


def test_outreach_spells_out_the_flo_reasons_to_flos_only(app_db):
    flo = signed_in("flo@hollybrook.sch.uk", "app_pages/outreach.py")
    reasons = " ".join(m.value for m in flo.markdown if m.value.startswith("**Why now:**"))
    assert "no transition meeting yet" in reasons and "low belonging" in reasons
    head = signed_in("head@hollybrook.sch.uk", "app_pages/outreach.py")
    reasons = " ".join(m.value for m in head.markdown if m.value.startswith("**Why now:**"))
    assert "low belonging" not in reasons and "reasons for family liaison officers" in reasons
