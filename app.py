"""Entry point: page settings and navigation. Pages live in app_pages/, one file each, registered
in engagement/pages.py; the menu shows only the pages the signed-in role may open (each page checks
again for itself).

The folder is deliberately not called pages/: Streamlit 1.67 treats a pages/ folder beside the
entry script as an old-style multipage app until st.navigation first runs, so the first visitor
after a restart who opened a page by its address got that page without this file (no page
settings, and a menu of every file whatever their role)."""

import streamlit as st

import ui
from engagement import access, pages
from engagement.settings import SettingsError, load_settings

# An emoji favicon is drawn in the browser; a :material/ one would be fetched from Google's font servers.
st.set_page_config(page_title="Community engagement map", page_icon="🏫", layout="wide")

# The registry, the settings and sign-in are checked before anything is served: a page without roles,
# a file of app_pages/ left out of the registry, a misspelt setting, an unreadable secrets file or a
# network address without sign-in stops the app with a message naming it (it fails closed).
try:
    REGISTRY = pages.check_registry()
    ui.keep_governors_view()
    load_settings()
    viewer = ui.current_viewer()
except (pages.RegistryError, SettingsError, access.SignInConfigError) as error:
    st.error(f"The app cannot start: {error}", icon=":material/error:")
    st.stop()
# For a governors' meeting: every page as governors see it, from a member of staff's session; kept
# in the address so a reload or a new tab keeps it, and left only after a question.
ui.governors_view_switch(viewer)
MENU = {entry.key: st.Page(entry.file, title=entry.title, icon=entry.icon, default=entry.default) for entry in REGISTRY}

allowed = [MENU[entry.key] for entry in REGISTRY if access.can_open(viewer.role, entry.key)]
default = next(entry.key for entry in REGISTRY if entry.default)
try:
    st.navigation(allowed or [MENU[default]]).run()
    ui.clear_demo_footer()  # after the page: its own controls come first from the keyboard
except Exception as error:  # st.stop and st.rerun are not Exceptions: they pass through
    ui.show_error(error)
