"""The sidebar's pickers: which school (a trust holds several) and which window of dates a page
shows. Both are remembered across pages, so the Overview and the layers tell the same story."""

from __future__ import annotations

import datetime

import streamlit as st

from engagement import access, clock
from engagement import store as db
from engagement.terms import Calendar, Window, date_range_text, term_windows


def school_picker(store: db.Store, visible: list[str]) -> str | None:
    """The school the page shows, among the ``visible`` schools of the reader (a trust holds
    several); remembered across pages. No other school's name or reference is ever offered."""
    every = db.list_schools(store)
    schools = [s for s in every if s["school_id"] in set(visible)]
    if not every:
        st.info("The store holds no school yet. Import a schools file on the **Data** page.")
        return None
    if not schools:
        st.warning(
            "Your account is not given any of the schools in this app. Ask the data lead to add your "
            "schools to your role.",
            icon=":material/lock:",
        )
        return None
    ids = [s["school_id"] for s in schools]
    names = {s["school_id"]: f"{s['name']} ({s['school_id']})" for s in schools}
    if st.session_state.get("school_id") not in ids:
        st.session_state["school_id"] = ids[0]
    if len(ids) == 1:
        return ids[0]
    return st.sidebar.selectbox("School", ids, format_func=lambda k: names[k], key="school_id")


def window_picker(key: str = "window", today: datetime.date | None = None, calendar: Calendar | None = None) -> Window:
    """The window a page shows: a term of the school's calendar (the current one so far by default)
    or custom dates. Remembered across pages, so the Overview and the layers tell the same story.
    Governors choose whole terms only: a one-day window could single out one family. The terms are
    the chosen school's own (its imported terms.csv), else the defaults for England."""
    from ui.session import current_viewer, get_store, school_calendar  # the session module imports this one

    today = today or clock.today()
    if calendar is None and st.session_state.get("school_id"):
        calendar = school_calendar(get_store(), st.session_state["school_id"])
    terms = term_windows(today, 4, calendar)
    custom = "Custom dates"
    labels = [w.label for w in terms]
    if access.sees_family_detail(current_viewer().role):
        labels.append(custom)
    choice = st.sidebar.selectbox(
        "Window", labels, key=f"{key}_term", help="Every figure on the page counts contacts within these dates."
    )
    if choice != custom:
        return terms[labels.index(choice)]
    start, end = terms[0].start, today
    picked = st.sidebar.date_input(
        "From – to", value=(start, end), max_value=today, format="DD/MM/YYYY", key=f"{key}_dates"
    )
    if isinstance(picked, (tuple, list)) and len(picked) == 2:
        start, end = picked
    return Window(start, end, date_range_text(start, end))
