"""Entry point: page settings and navigation. Pages live in pages/, one file each; the menu shows
only the pages the signed-in role may open (each page checks again for itself)."""

import streamlit as st

import ui
from engagement import access

# An emoji favicon is drawn in the browser; a :material/ one would be fetched from Google's font servers.
st.set_page_config(page_title="Community engagement map", page_icon="🏫", layout="wide")

PAGES = {
    "overview": st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    "school": st.Page("pages/school.py", title="School", icon=":material/school:"),
    "layers": st.Page("pages/layers.py", title="Community layers", icon=":material/radar:"),
    "map": st.Page("pages/partner_map.py", title="Partner map", icon=":material/map:"),
    "outreach": st.Page("pages/outreach.py", title="Outreach planner", icon=":material/support_agent:"),
    "data": st.Page("pages/data.py", title="Data", icon=":material/database:"),
    "audit": st.Page("pages/audit.py", title="Audit log", icon=":material/history:"),
}

viewer = ui.current_viewer()
allowed = [page for key, page in PAGES.items() if access.can_open(viewer.role, key)]
st.navigation(allowed or [PAGES["overview"]]).run()
