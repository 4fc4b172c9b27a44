"""What every page shares: the open store, the demo-data banner, the school picker.

Pages stay thin by calling these; anything that computes a figure lives in ``engagement``.
"""

from __future__ import annotations

import os

import streamlit as st

from engagement import store as engagement_store
from engagement.demo import load_demo

ACTOR_LOCAL = "local admin"


def database_url() -> str | None:
    try:
        return st.secrets.get("DATABASE_URL") or os.environ.get("DATABASE_URL")
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return os.environ.get("DATABASE_URL")


@st.cache_resource(show_spinner=False)
def _open_store(url: str | None) -> engagement_store.Store:
    store = engagement_store.open_store(url)
    if engagement_store.is_empty(store) and not os.environ.get("ENGAGEMENT_NO_DEMO"):
        # First start on an empty store: show the demo school rather than an empty app.
        load_demo(store, actor="first start")
    return store


def get_store() -> engagement_store.Store:
    return _open_store(database_url())


def current_actor() -> str:
    return ACTOR_LOCAL


def data_version() -> int:
    """Bumped after every write so cached loaders (keyed on it) read fresh data."""
    return st.session_state.setdefault("data_version", 0) + _global_version()


@st.cache_resource
def _version_box() -> dict:
    return {"v": 0}


def _global_version() -> int:
    return _version_box()["v"]


def data_changed() -> None:
    _version_box()["v"] += 1


def demo_banner(store: engagement_store.Store) -> None:
    """Every page says plainly when it shows demo data, with a way to clear it."""
    if not engagement_store.has_demo_data(store):
        return
    with st.container(border=True):
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.markdown(
            "**Demo data.** This app is showing *Hollybrook Primary School*, a fictional school with "
            "synthetic families and partners. Import your own files on the **Data** page, or clear the demo."
        )
        if right.button("Clear demo data", key="clear_demo", help="Deletes the demo school and everything in it"):
            engagement_store.clear_demo_data(store, actor=current_actor())
            data_changed()
            st.rerun()


def school_picker(store: engagement_store.Store) -> str | None:
    """The school the page shows (a trust holds several); remembered across pages."""
    schools = engagement_store.list_schools(store)
    if not schools:
        st.info("The store holds no school yet. Import a schools file on the **Data** page.")
        return None
    ids = [s["school_id"] for s in schools]
    names = {s["school_id"]: f"{s['name']} ({s['school_id']})" for s in schools}
    if st.session_state.get("school_id") not in ids:
        st.session_state["school_id"] = ids[0]
    if len(ids) == 1:
        return ids[0]
    return st.sidebar.selectbox("School", ids, format_func=names.get, key="school_id")
