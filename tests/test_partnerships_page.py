"""The Partnerships page with AppTest on the demo school: a head sees each partnership evaluated
with the very figures of ``engagement.partnerships`` (and of the report), the small one suppressed,
the plan with its overdue actions; adds a partnership, its members and a goal through the forms,
each save audited and checked as an import is; a governor sees aggregates only; user text is text."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from engagement import clock, events, partnership_report, partnerships
from engagement import store as db
from engagement.calendar import load_calendar
from engagement.terms import term_windows
from engagement.text import md_escape

APP = Path(__file__).resolve().parent.parent / "app.py"
PAGE = "app_pages/partnerships.py"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "engagement",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:1/.well-known",
}
ROLES = {
    "head@hollybrook.sch.uk": "head",
    "flo@hollybrook.sch.uk": "flo",
    "@governors.hollybrook.sch.uk": "governor",
}
FAMILY = re.compile(r"\b\d{6}-F\d{4}\b")


def open_as(email: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = ROLES
    at.user = {"is_logged_in": True, "email": email}
    # Straight to the page, as a visitor opening its address: the app routes the first run there
    # (an Overview first would cost its whole run).
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _view(url: str, for_governor: bool = False) -> partnerships.PartnershipsView:
    """What the page shows by default: the current term so far (the window picker's first choice)."""
    store = db.open_store(url)
    try:
        school = db.school_ids(store)[0]
        calendar = load_calendar(store, school)
        window = term_windows(clock.today(), 4, calendar)[0]
        return partnerships.partnerships_view(
            store, school, window.start, window.end, for_governor=for_governor, calendar=calendar
        )
    finally:
        store.dispose()


def _metrics(at: AppTest) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in at.metric:
        out.setdefault(m.label, []).append(m.value)
    return out


def _table(at: AppTest, column: str):
    """The page's table with ``column`` (AppTest gives a table no key to find it by)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _shown(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.warning, *at.info, *at.success)]
    parts += [str(d.value.to_dict("records")) for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def test_a_head_sees_the_evaluations_with_the_figures_of_the_module_and_the_report(demo_app_db):
    at = open_as("head@hollybrook.sch.uk")
    assert [t.value for t in at.title] == ["Partnerships"]
    view = _view(demo_app_db)
    big, small = sorted(view.evaluations, key=lambda e: -(e.figures["members"] or 0))
    assert big.figures["suppressed"] is False and small.figures["suppressed"] is True
    metrics = _metrics(at)
    expected = [partnerships.points(e.figures["difference_pp"]) for e in view.evaluations]
    assert metrics["Difference (points)"] == expected
    assert metrics["Member families"] == [f"{e.figures['members']:,}" for e in view.evaluations]
    reach = (
        f"{partnerships.percent(big.figures['members_reach'])} · {partnerships.percent(big.figures['others_reach'])}"
    )
    assert reach in metrics["Reach: members · others"]
    shown = _shown(at)
    for sentence in (*big.sentences, *small.sentences):
        assert md_escape(sentence) in shown, sentence
    # The report holds the same rows of figures, in the same words.
    report = partnership_report.partnership_report_html(view, clock.today())
    for row in partnerships.evaluation_rows(big.figures):
        assert f"<td>{row['Members'].replace('&', '&amp;')}</td>" in report
    # The plan, its progress per type and what is overdue.
    assert metrics["Goals of the plan"] == [f"{len(view.plan)}"]
    tables = {"plan_progress": _table(at, "Epstein type"), "plan_table": _table(at, "Now")}
    assert list(tables["plan_progress"]["Epstein type"]) == list(view.progress["Epstein type"])
    assert list(tables["plan_table"]["Now"]) == [r["Now"] for r in partnerships.plan_rows(view.plan)]
    if view.overdue:
        assert at.warning and all(md_escape(r["goal"]) in at.warning[0].value for r in view.overdue)
    assert [s.value for s in at.header][-1] == "Keep the partnerships and the plan"


def test_a_head_adds_a_partnership_its_members_and_a_goal(demo_app_db):
    at = open_as("head@hollybrook.sch.uk")
    store = db.open_store(demo_app_db)
    try:
        school = db.school_ids(store)[0]
        partner = next(iter(partnerships.partner_choices(store, school)))
        families = partnerships.family_choices(store, school)[:12]
    finally:
        store.dispose()
    name = "**Forest school** <b>club</b>"
    next(w for w in at.text_input if w.label == "Name").input(name)
    next(w for w in at.multiselect if w.label == "Community groups in it").set_value([partner])
    next(w for w in at.date_input if w.label == "Began").set_value(datetime.date(2026, 9, 7))
    next(b for b in at.button if b.label == "Save partnership").click().run()
    assert not at.exception, at.exception
    assert at.success and at.success[0].value == md_escape(f"Saved: the partnership {name}.")
    store = db.open_store(demo_app_db)
    try:
        with store.read() as conn:
            row = conn.execute(sa.select(db.partnerships).where(db.partnerships.c.name == name)).mappings().one()
            audited = conn.execute(
                sa.select(sa.func.count()).where(
                    db.audit_log.c.table_name == "partnerships", db.audit_log.c.record_id == row["partnership_id"]
                )
            ).scalar_one()
        assert (row["partners"], row["status"], audited) == (partner, "active", 1)
    finally:
        store.dispose()
    # The name is shown as text, never as markdown or HTML.
    assert any(md_escape(name) in m.value for m in at.markdown)
    assert not any("<b>club</b>" in m.value or "**Forest" in m.value for m in at.markdown)

    at.selectbox(key="members_pick").set_value(row["partnership_id"]).run()
    next(w for w in at.multiselect if w.label == "Families to add").set_value(families)
    next(b for b in at.button if b.label == "Add members").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == md_escape("Saved: 12 added.")
    members = _table(at, "family_id")
    assert list(members["family_id"]) == families
    # The families on an event's register join on the event's day, each once.
    store = db.open_store(demo_app_db)
    try:
        newest = events.list_events(store, school).query("families > 0").iloc[0]
        register = events.families_on_register(store, newest["event_id"])
    finally:
        store.dispose()
    next(b for b in at.button if b.label == "Add the register's families").click().run()
    assert not at.exception, at.exception
    members = _table(at, "family_id")
    assert set(members["family_id"]) == set(families) | set(register)
    joined = dict(zip(members["family_id"], members["joined"], strict=True))
    assert all(joined[f] == newest["date"] for f in set(register) - set(families))

    next(w for w in at.text_input if w.label == "Goal").input("Every SEND family at a forest school session")
    next(w for w in at.text_input if w.label == "Figure (its path in score --json)").input("families.reach")
    next(w for w in at.text_input if w.label == "Target").input("x")
    next(b for b in at.button if b.label == "Save goal").click().run()
    # Checked as an import checks it: refused with the column and the reason, nothing written.
    assert at.error and md_escape("row 2, target: 'x' is not a number") in at.error[0].value
    next(w for w in at.text_input if w.label == "Target").input("0.9")
    next(b for b in at.button if b.label == "Save goal").click().run()
    assert not at.error and at.success[0].value == md_escape("Saved: the goal.")


def test_a_governor_sees_aggregates_only(demo_app_db):
    at = open_as("chair@governors.hollybrook.sch.uk")
    assert [t.value for t in at.title] == ["Partnerships"]
    shown = _shown(at)
    assert not FAMILY.search(shown)
    assert "Keep the partnerships and the plan" not in [s.value for s in at.header]
    assert not at.text_input and not at.multiselect
    view = _view(demo_app_db, for_governor=True)
    assert _metrics(at)["Difference (points)"] == [
        partnerships.points(e.figures["difference_pp"]) for e in view.evaluations
    ]
    # No goal's words or owner: the plan's figures and progress only.
    plan = _table(at, "Now")
    assert "Goal" not in plan.columns and "Owner" not in plan.columns
    assert "Actions overdue" not in _metrics(at)


@pytest.mark.parametrize("email", ["flo@hollybrook.sch.uk"])
def test_the_page_is_not_in_a_family_liaison_officers_menu(email):
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = ROLES
    at.user = {"is_logged_in": True, "email": email}
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)
