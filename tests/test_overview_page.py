"""The Overview page with AppTest on a temporary store holding the demo school: it is the app's main
page, says which school and window it shows, its numbers are the score card's for that window,
another term or custom dates change them, a governor sees it, and nothing on it is family-level."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from engagement import clock, scoring, terms
from engagement import store as db
from engagement.frames import load_school_frames
from engagement.terms import term_windows

APP = Path(__file__).resolve().parent.parent / "app.py"
SEGMENTS = ("families", "agencies", "businesses", "community")
# Signed-in mode as in test_access.py: an OIDC provider that is never reached, roles by address and domain.
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "engagement",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:1/.well-known",
}
ROLES = {"head@hollybrook.sch.uk": "head", "@governors.hollybrook.sch.uk": "governor"}


def window_heading(at) -> str:
    """The line under the school's name that says which window the page shows (its subtitle: a
    paragraph, not a heading, so that the headings go in order)."""
    return next(m.value for m in at.markdown if m.value.startswith("Engagement overview · "))


@pytest.fixture
def app_db(demo_app_db):
    return demo_app_db


@pytest.fixture
def empty_app_db(sqlite_store, monkeypatch):
    """An empty store for a test that writes its own school (the app loads no demo into a store
    that holds one)."""
    monkeypatch.setenv("DATABASE_URL", sqlite_store.url)
    return sqlite_store.url


def open_overview(**user) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=90)
    if user:
        at.secrets["auth"] = AUTH
        at.secrets["roles"] = ROLES
        at.user = {"is_logged_in": True, **user}
    at.run()
    assert not at.exception, at.exception
    return at


def card_for(url: str, start: datetime.date, end: datetime.date) -> dict:
    store = db.open_store(url)
    try:
        school_id = db.school_ids(store)[0]
        return scoring.score_card(load_school_frames(store, school_id), school_id, start, end)
    finally:
        store.dispose()


PRINCIPLES = ("Early", "Regular", "Reliable", "Equitable", "Open")
# The belonging and transitions section's own figures (tests/test_transitions_page.py checks them).
VOICE_LABELS = ("Feel they belong", "Transitions ", "Of children with SEND", "With a complete plan")


def metrics(at: AppTest) -> list[tuple[str, str, str | None]]:
    """The score cards' metrics, in order (the communication panel's five and the belonging and
    transitions section's are their own)."""
    return [
        (m.label, m.value, m.delta)
        for m in at.metric
        if m.label not in PRINCIPLES and not m.label.startswith(VOICE_LABELS)
    ]


def expected_metrics(card: dict, previous: dict) -> list[tuple[str, str, str | None]]:
    def change(now, before, scale=1.0, unit=""):
        # As the page: the change rounded as its figure is (4 places for a rate), then shown in points.
        return None if now is None or before is None else f"{round(scale * round(now - before, 4), 1) + 0.0:+.1f}{unit}"

    out = []
    for seg in SEGMENTS:
        label = seg.capitalize()
        out.append((label, f"{card[seg]['score']:.1f}", change(card[seg]["score"], previous[seg]["score"])))
        rate = "Family reach" if seg == "families" else "Partner reach"
        out.append(
            (rate, f"{100 * card[seg]['reach']:.1f}%", change(card[seg]["reach"], previous[seg]["reach"], 100, " pts"))
        )
    out.append(("Overall", f"{card['overall']:.1f}", change(card["overall"], previous["overall"])))
    return out


def texts(at: AppTest) -> str:
    parts = [e.value for kind in (at.title, at.header, at.subheader, at.markdown, at.caption) for e in kind]
    parts += [m.label + " " + m.value for m in at.metric]
    parts += [table.value.to_string() for table in at.table]
    return "\n".join(parts)


def test_the_overview_is_the_main_page_and_says_which_school_and_window(app_db):
    at = open_overview()
    window = term_windows(clock.today(), 1)[0]
    assert at.title[0].value == "Hollybrook Primary School"
    assert window_heading(at) == f"Engagement overview · {terms.window_text(window.start, window.end)}"
    assert at.sidebar.selectbox(key="window_term").value == window.label
    assert any(h.value == "Scores out of 100" for h in at.header)


def test_the_numbers_are_the_score_card_of_the_current_term(app_db):
    at = open_overview()
    window = term_windows(clock.today(), 1)[0]
    card = card_for(app_db, window.start, window.end)
    previous = card_for(app_db, *terms.comparison_window(window.start, window.end))
    assert metrics(at) == expected_metrics(card, previous)
    equity = at.table[1].value
    looked_after = equity[equity["Group"] == "Looked after"].iloc[0]
    assert card["equity"]["looked_after"]["suppressed"]
    assert looked_after["Families"] == "fewer than 10 on one side"
    send = equity[equity["Group"] == "SEND"].iloc[0]
    assert send["Group reach"] == f"{100 * card['equity']['send']['group_reach']:.1f}%"


def test_another_term_changes_the_numbers_to_that_terms_card(app_db):
    at = open_overview()
    before = metrics(at)
    summer = term_windows(clock.today(), 2)[1]
    at.sidebar.selectbox(key="window_term").set_value(summer.label).run()
    assert not at.exception
    after = metrics(at)
    assert after != before
    card = card_for(app_db, summer.start, summer.end)
    previous = card_for(app_db, *terms.comparison_window(summer.start, summer.end))
    assert after == expected_metrics(card, previous)
    assert window_heading(at) == f"Engagement overview · {terms.window_text(summer.start, summer.end)}"
    layers = at.table[2].value
    assert list(layers["Categories covered"]) == [
        f"{e['covered']} of {e['categories']} ({100 * e['coverage']:.1f}%)" for e in card["layers"].values()
    ]


def test_custom_dates_show_their_own_card(app_db):
    at = open_overview()
    today = clock.today()
    start, end = today - datetime.timedelta(days=40), today - datetime.timedelta(days=10)
    at.sidebar.selectbox(key="window_term").set_value("Custom dates").run()
    at.sidebar.date_input(key="window_dates").set_value((start, end)).run()
    assert not at.exception
    card = card_for(app_db, start, end)
    # As many school days just before the window: not the same number of calendar days.
    previous = card_for(app_db, *terms.comparison_window(start, end))
    assert metrics(at) == expected_metrics(card, previous)
    assert terms.compare(start, end).text() in texts(at).replace("\\", "")
    assert terms.window_text(start, end) in window_heading(at)


def test_the_trend_tables_hold_each_terms_scores(app_db):
    at = open_overview()
    # Under each trend chart its own table (one of ten columns ran off the side at 200 % zoom).
    scores, reach = at.table[3].value, at.table[4].value
    assert list(scores.columns) == [
        "Term",
        "Families score",
        "Agencies score",
        "Businesses score",
        "Community score",
        "Overall score",
    ]
    assert list(reach.columns) == ["Term", "Families reach", "Agencies reach", "Businesses reach", "Community reach"]
    assert list(reach["Term"]) == list(scores["Term"])
    scores = scores.merge(reach, on="Term")
    for term_label, window in ((w.label.split(" (")[0], w) for w in term_windows(clock.today(), 3)):
        rows = scores[scores["Term"].str.startswith(term_label)]
        if rows.empty:
            continue  # a term before the demo's first contact is not charted
        card = card_for(app_db, window.start, window.end)
        assert rows.iloc[0]["Agencies score"] == f"{card['agencies']['score']:.1f}"
        assert rows.iloc[0]["Overall score"] == f"{card['overall']:.1f}"
        assert rows.iloc[0]["Community reach"] == f"{100 * card['community']['reach']:.1f}%"
    assert len(at.get("plotly_chart")) == 4  # equity, the communication panel's groups, two trends


def test_a_governor_sees_the_overview_and_nothing_family_level(app_db):
    at = open_overview(email="chair@governors.hollybrook.sch.uk")
    assert at.title[0].value == "Hollybrook Primary School"
    assert "Signed in as chair@governors.hollybrook.sch.uk (governor)" in texts(at)
    # The four segments and the overall, each a score or "not shown", with each segment's reach.
    # Whether the family figures are hidden depends on the day the demo was made for: a family rate
    # whose remainder is 1-9 families is hidden, and with it the family and overall scores, which
    # would give it back by subtraction (privacy.governor_row).
    shown = metrics(at)
    labels = [label for label, _, _ in shown]
    families_hidden = ("Families score", "not shown", "") in shown
    assert [label.removesuffix(" score") for label in labels if not label.endswith(" reach")] == [
        "Families",
        "Agencies",
        "Businesses",
        "Community",
        "Overall",
    ]
    assert labels.count("Partner reach") == 3 and ("Family reach" in labels) is not families_hidden
    assert (("Overall score", "not shown", "") in shown) is families_hidden
    assert len(shown) == (8 if families_hidden else 9)
    store = db.open_store(app_db)
    try:
        with store.read() as conn:
            family_ids = list(conn.execute(select(db.families.c.family_id)).scalars())
    finally:
        store.dispose()
    shown = texts(at)
    assert family_ids and not [f for f in family_ids if f in shown]
    buttons = {b.label for b in at.get("download_button")}
    assert buttons == {"Download report (HTML)", "Download report (PDF)"}


def test_a_school_with_no_partners_in_a_segment_opens_the_overview_and_its_report(empty_app_db):
    app_db = empty_app_db
    today = clock.today()
    store = db.open_store(app_db)
    with store.write(actor="test") as conn:
        db.upsert(conn, "schools", [{"school_id": "S1", "name": "Oak", "postcode": "B30 2AA", "demo": False}])
        db.upsert(conn, "families", [{"family_id": f"F{i}", "school_id": "S1"} for i in range(30)])
        db.upsert(
            conn,
            "partners",
            [
                {
                    "partner_id": "P1",
                    "school_id": "S1",
                    "name": "Library",
                    "category": "library",
                    "layer": 3,
                    "status": "active",
                }
            ],
        )  # no agencies, no businesses at all
        db.upsert(
            conn,
            "interactions",
            [
                {
                    "interaction_id": f"I{i}",
                    "school_id": "S1",
                    "date": today,
                    "family_id": f"F{i}",
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                }
                for i in range(15)
            ],
        )
    at = open_overview()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Oak"
    assert any("business partners are listed yet" in c.value.replace("\\", "") for c in at.caption)


def test_the_comparison_is_said_in_words_and_the_communication_panel_shows(app_db):
    """The caption says exactly what the arrows compare (the same number of school days into the
    previous term, never the whole of it); the panel shows the five principles with their words."""
    at = open_overview()
    window = term_windows(clock.today(), 1)[0]
    comparison = terms.compare(window.start, window.end)
    caption = next(c.value for c in at.caption if c.value.startswith("Arrows compare")).replace("\\", "")
    assert comparison.text() in caption
    if window.end < terms.term_of(window.start).end:  # a term so far: the same school days of the last one
        n = terms.default_calendar().count_school_days(window.start, window.end)
        assert comparison.previous.school_days == n and f"first {n} school days of" in caption
    assert any(h.value == "How the school communicates with families" for h in at.header)
    panel = {m.label: m.value for m in at.metric if m.label in PRINCIPLES}
    assert list(panel) == list(PRINCIPLES)
    shown = texts(at).replace("\\", "")  # the page escapes markdown in words it did not write
    assert "families new this school year" in shown and "school weeks" in shown and "were two-way" in shown
