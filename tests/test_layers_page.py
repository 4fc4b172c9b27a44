"""The Community layers page with AppTest: the diagram's marks, the named gaps, filters and the table."""

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from engagement import partnerships
from engagement import store as db

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "layers.py"


@pytest.fixture
def page(demo_app_db):
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.run()
    assert not at.exception
    return at


def _marks(at):
    import json

    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    # Plotly may encode numeric arrays as binary; customdata (mixed values) stays a plain list.
    return sum(
        len(t.get("customdata", []))
        for t in figure["data"]
        if t.get("meta") in ("engaged", "not engaged", "prospective", "lapsed")
    )


def _caption_count(at):
    text = next(c.value for c in at.caption if "partners shown" in c.value)
    shown, total = text.split(" partners shown")[0].split(" of ")
    return int(shown), int(total)


def test_every_partner_is_on_the_diagram_and_gaps_are_named(page):
    shown, total = _caption_count(page)
    assert shown == total == 120
    assert _marks(page) == 120
    text = " ".join(m.value for m in page.markdown)
    assert "No intergenerational link" in text
    assert "No business offering work experience" in text


def test_filters_narrow_diagram_and_table(page):
    page.multiselect[0].set_value(["agencies"]).run()  # segment
    shown, total = _caption_count(page)
    assert 0 < shown < total
    assert _marks(page) == shown
    page.multiselect[3].set_value(["lapsed"]).run()  # status, on top
    shown_lapsed, _ = _caption_count(page)
    assert shown_lapsed < shown and _marks(page) == shown_lapsed


def test_another_window_changes_the_gaps(page):
    before = " ".join(m.value for m in page.markdown)
    labels = page.sidebar.selectbox[0].options
    page.sidebar.selectbox[0].set_value(labels[-2]).run()  # an older term
    assert not page.exception
    assert page.caption[1].value != "" and labels[-2].split(" (")[0] in " ".join(c.value for c in page.caption)
    after = " ".join(m.value for m in page.markdown)
    assert before != after or "no gaps" in after


def _without_care_home_contacts(url: str) -> None:
    """No contact with a care home ever: the gap is there in any window, on any day."""
    store = db.open_store(url)
    try:
        p, i = db.partners, db.interactions
        with store.write(actor="test") as conn:
            conn.execute(
                sa.delete(i).where(i.c.partner_id.in_(sa.select(p.c.partner_id).where(p.c.category == "care home")))
            )
    finally:
        store.dispose()


def _plan_button_of(at, name: str):
    """The "Plan a contact" button of the gap whose next step names ``name``: the gaps with
    someone to contact each have one, in the order of their captions."""
    steps = [m.value.replace("\\", "") for m in at.markdown if m.value.startswith("Contact ")]
    buttons = [b for b in at.button if (b.key or "").startswith("layers_plan_")]
    assert len(steps) == len(buttons), (steps, [b.key for b in buttons])
    return next(b for text, b in zip(steps, buttons, strict=True) if text.startswith(f"Contact {name} ("))


def test_each_gap_offers_its_next_step_and_the_contact_is_planned(demo_app_db):
    """Issue 27, item 3: "No intergenerational link" names Cotteridge Care Home, active, 0.5 km
    away and not contacted, and "Plan a contact" adds it to the action plan."""
    _without_care_home_contacts(demo_app_db)
    at = AppTest.from_file(str(PAGE), default_timeout=90).run()
    assert not at.exception
    texts = [m.value.replace("\\", "") for m in at.markdown]  # as read: markdown's escapes dropped
    assert "Contact Cotteridge Care Home (0.5 km, active, no contact yet). Tel. 0121 496 0020." in texts
    also = [c.value.replace("\\", "") for c in at.caption if c.value.startswith("Also: ")]
    assert any(c.startswith("Also: Pershore Road Court Residential Home (3.9 km, prospective") for c in also)
    # Beside the drawing, the gap names the nearest: "(care home; next: Cotteridge Care Home, 0.5 km)".
    assert any("No intergenerational link" in t and "next: Cotteridge Care Home, 0.5 km" in t for t in texts)
    # Every gap says what to do next: someone to contact, or plainly that nobody is listed.
    gaps_named = [t for t in texts if t.startswith("- ")]
    next_steps = [t for t in texts if t.startswith("Contact ") or "is listed, nor in the local offer" in t]
    assert len(gaps_named) == len(next_steps) > 0

    _plan_button_of(at, "Cotteridge Care Home").click().run()
    assert not at.exception
    assert at.radio(key=next(r.key for r in at.radio if r.key.startswith("layers_plan_who_"))).value == 0
    at.text_input(key=next(t.key for t in at.text_input if t.key.startswith("layers_plan_owner_"))).input("deputy head")
    at.button(key=next(b.key for b in at.button if (b.key or "").startswith("layers_plan_go_"))).click().run()
    assert not at.exception and not at.error
    assert any(s.value.startswith("Planned: goal ") for s in at.success), [s.value for s in at.success]
    store = db.open_store(demo_app_db)
    try:
        plan = partnerships.load_plan(store, db.school_ids(store)[0])
    finally:
        store.dispose()
    goal = plan[plan["activity"].fillna("").str.contains("Cotteridge Care Home")].iloc[0]
    assert goal["measure"] == "layers.3.coverage" and goal["owner"] == "deputy head"


def test_a_gap_nobody_could_close_says_so_plainly(demo_app_db):
    """No care home listed or in the local offer (every one lapsed): the gap says so and offers
    no contact to plan."""
    _without_care_home_contacts(demo_app_db)
    store = db.open_store(demo_app_db)
    try:
        with store.write(actor="test") as conn:
            conn.execute(sa.update(db.partners).where(db.partners.c.category == "care home").values(status="lapsed"))
    finally:
        store.dispose()
    at = AppTest.from_file(str(PAGE), default_timeout=90).run()
    assert not at.exception
    texts = [m.value.replace("\\", "") for m in [*at.markdown, *at.caption]]
    assert (
        "No care home is listed, nor in the local offer: add one on the Directory page, or import the local offer "
        "on the Data page." in texts
    )
    assert any("No intergenerational link" in t and "nobody listed" in t for t in texts)
    assert not [t for t in texts if "Care Home" in t or "Residential Home" in t]


def test_a_hostile_partner_name_in_a_next_step_stays_text(demo_app_db):
    """The next steps are drawn with HTML allowed (for their grey spans): a partner named like
    markup or a template reaches the page with every special character escaped, beside the
    drawing and in the next step's row alike."""
    _without_care_home_contacts(demo_app_db)
    hostile = "<img src=x onerror=alert(1)> ${7*7}"
    store = db.open_store(demo_app_db)
    try:
        with store.write(actor="test") as conn:
            conn.execute(
                sa.update(db.partners).where(db.partners.c.name == "Cotteridge Care Home").values(name=hostile)
            )
    finally:
        store.dispose()
    at = AppTest.from_file(str(PAGE), default_timeout=90).run()
    assert not at.exception
    shown = [m.value for m in at.markdown if "img src" in m.value]
    assert len(shown) >= 2, [m.value for m in at.markdown]  # beside the drawing and in its row
    for text in shown:
        assert not re.search(r"(?<!\\)<img|(?<!\\)\$(?!\\\{)", text), text  # no markup or template unescaped
        assert "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in text and "\\$\\{7\\*7\\}" in text, text
