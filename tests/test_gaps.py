"""The next step for each gap (issue 27, item 3): on the demo school, with the care home not
contacted in the window, the care home gap names Cotteridge Care Home, active and 0.5 km away, and
planning the contact adds one goal to the action plan, measured by the layer's coverage, never
twice; an organisation of the local offer is a candidate too; a gap that no listed partner or
local-offer organisation could close says so. On SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from engagement import clock, gaps, partnerships, scoring
from engagement import store as db
from engagement.calendar import load_calendar
from engagement.demo import load_demo
from engagement.frames import load_school_frames
from engagement.partners import partners_in_window
from engagement.terms import term_windows


def _demo_without_care_home_contacts(store) -> tuple[str, object]:
    """The demo school with no contact ever with a care home (so the gap is there in any window),
    and the current term so far."""
    load_demo(store, actor="test")
    school_id = db.school_ids(store)[0]
    p, i = db.partners, db.interactions
    with store.write(actor="test") as conn:
        homes = sa.select(p.c.partner_id).where(p.c.category == "care home")
        conn.execute(sa.delete(i).where(i.c.partner_id.in_(homes)))
    return school_id, term_windows(clock.today(), 1, load_calendar(store, school_id))[0]


def _steps(store, school_id, window) -> dict[str, gaps.GapStep]:
    frames = load_school_frames(store, school_id)
    partners = partners_in_window(store, school_id, window.start, window.end, frames)
    found = gaps.next_steps(scoring.gaps(frames, school_id, window.start, window.end), partners)
    return {s.category: s for s in found}


def test_the_care_home_gap_names_the_nearest_care_home_and_the_contact_is_planned_once(store):
    school_id, window = _demo_without_care_home_contacts(store)
    step = _steps(store, school_id, window)["care home"]
    assert step.gap == "no intergenerational link" and step.layer == 3
    nearest = step.candidates[0]
    assert (nearest.name, nearest.status, nearest.distance_km) == ("Cotteridge Care Home", "active", 0.5)
    assert nearest.last_contact is None and nearest.phone
    assert [c.distance_km for c in step.candidates] == sorted(c.distance_km for c in step.candidates)
    assert step.next_step == "Contact Cotteridge Care Home (0.5 km, active, no contact yet)."
    assert "Cotteridge Care Home (0.5 km, active, no contact yet, tel. " in nearest.text()

    today = clock.today()
    planned = gaps.plan_contact(store, "head", school_id, step, nearest, today=today, owner="deputy head")
    assert planned.ok and planned.new
    plan = partnerships.load_plan(store, school_id, partnerships.year_label(today))
    goal = plan[plan["plan_id"] == planned.plan_id].iloc[0]
    assert goal["measure"] == "layers.3.coverage" and goal["target"] == step.target
    assert goal["epstein_type"] == "collaborating with community" and goal["status"] == "not started"
    assert "Cotteridge Care Home" in goal["activity"] and goal["owner"] == "deputy head"
    assert goal["due"] > today
    # The Partnerships page follows it like any goal: its figure is the layer's coverage now.
    figures = partnerships.plan_figures(
        store, school_id, window.start, window.end, calendar=load_calendar(store, school_id)
    )
    ours = next(f for f in figures if f["plan_id"] == planned.plan_id)
    assert ours["now"] is not None and ours["now"] < step.target
    # Asked again, the goal already there is the answer, and nothing is added.
    again = gaps.plan_contact(store, "head", school_id, step, nearest, today=today)
    assert (again.plan_id, again.new) == (planned.plan_id, False)
    assert len(partnerships.load_plan(store, school_id)) == len(plan)
    with store.read() as conn:
        audited = conn.execute(
            sa.select(sa.func.count()).select_from(db.audit_log).where(db.audit_log.c.record_id == planned.plan_id)
        ).scalar()
    assert audited == 1


def test_a_local_offer_organisation_is_a_candidate_and_a_gap_nobody_could_close_says_so(store):
    school_id, window = _demo_without_care_home_contacts(store)
    p = db.partners
    with store.write(actor="test") as conn:
        conn.execute(sa.update(p).where(p.c.name == "Cotteridge Care Home").values(status="local offer"))
        conn.execute(
            sa.update(p).where(p.c.category == "care home", p.c.name != "Cotteridge Care Home").values(status="lapsed")
        )
    step = _steps(store, school_id, window)["care home"]
    assert [c.name for c in step.candidates] == ["Cotteridge Care Home"]
    assert step.next_step == (
        "Contact Cotteridge Care Home (0.5 km, in the local offer, no contact yet): take it on once it agrees."
    )
    assert "in the local offer" in step.candidates[0].text()

    # Nobody left to contact: every care home lapsed.
    with store.write(actor="test") as conn:
        conn.execute(sa.update(p).where(p.c.category == "care home").values(status="lapsed"))
    step = _steps(store, school_id, window)["care home"]
    assert step.candidates == ()
    assert step.next_step == (
        "No care home is listed, nor in the local offer: add one on the Directory page, "
        "or import the local offer on the Data page."
    )
