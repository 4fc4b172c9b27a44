"""Entry point: page settings and navigation. Pages live in app_pages/, one file each; the menu shows
only the pages the signed-in role may open (each page checks again for itself).

The folder is deliberately not called pages/: Streamlit 1.67 treats a pages/ folder beside the
entry script as an old-style multipage app until st.navigation first runs, so the first visitor
after a restart who opened a page by its address got that page without this file (no page
settings, and a menu of every file whatever their role)."""

import streamlit as st

import ui
from engagement import access

# An emoji favicon is drawn in the browser; a :material/ one would be fetched from Google's font servers.
st.set_page_config(page_title="Community engagement map", page_icon="🏫", layout="wide")

PAGES = {
    "overview": st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    "school": st.Page("app_pages/school.py", title="School", icon=":material/school:"),
    "layers": st.Page("app_pages/layers.py", title="Community layers", icon=":material/radar:"),
    "map": st.Page("app_pages/partner_map.py", title="Partner map", icon=":material/map:"),
    "outreach": st.Page("app_pages/outreach.py", title="Outreach planner", icon=":material/support_agent:"),
    "data": st.Page("app_pages/data.py", title="Data", icon=":material/database:"),
    "audit": st.Page("app_pages/audit.py", title="Audit log", icon=":material/history:"),
}

viewer = ui.current_viewer()
allowed = [page for key, page in PAGES.items() if access.can_open(viewer.role, key)]
st.navigation(allowed or [PAGES["overview"]]).run()
