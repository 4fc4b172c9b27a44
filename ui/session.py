"""Who is looking and what they may see, the open store, the demo-data banner and the cached
frames: what every page does before it shows anything (:func:`open_page`).

Pages stay thin by calling these; anything that computes a figure lives in ``engagement``.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NoReturn, overload

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from engagement import access
from engagement import store as db
from engagement.calendar import load_calendar
from engagement.communication import Messages, load_messages
from engagement.demo import load_demo
from engagement.frames import Frames, load_school_frames
from engagement.settings import load_settings
from engagement.terms import Calendar
from ui import layout, pickers


@st.cache_resource(show_spinner=False)
def _open_store(url: str | None) -> db.Store:
    store = db.open_store(url)
    if not store.read_only and db.is_empty(store) and not os.environ.get("ENGAGEMENT_NO_DEMO"):
        # First start on an empty store: show the demo school rather than an empty app.
        load_demo(store, actor="first start")
    return store


def get_store() -> db.Store:
    return _open_store(db.database_url())


def show_error(error: BaseException) -> str:
    """Tell the user plainly that something failed, with a reference; the details go to the
    server's log under that reference, never to the page. Returns the reference."""
    reference = uuid.uuid4().hex[:8].upper()
    logging.getLogger("engagement").error("error reference %s", reference, exc_info=error)
    disk = db.disk_trouble(error) if isinstance(error, SQLAlchemyError) else None
    what = (
        f"The store cannot be read just now: {disk.split(':')[0]}, so this page could not be shown"
        if disk
        else "The database cannot be used just now, so this page could not be shown"
        if isinstance(error, SQLAlchemyError)
        else "Something went wrong and this page could not be shown"
    )
    st.error(
        f"{what}. Nothing you saved is lost. Try again in a moment; if it happens again, give this "
        f"reference to the school's data lead: **{reference}**.",
        icon=":material/error:",
    )
    return reference


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the page: their email (or "local admin"), role, and the schools their
    grant names (see :func:`access.visible_schools` for what that opens in this store)."""

    email: str
    role: str | None
    local: bool
    schools: frozenset[str] | None = None
    presenting: bool = False  # a member of staff showing the governors' view

    def visible_schools(self, store: db.Store) -> list[str]:
        """The schools of ``store`` this viewer may see, in the store's order."""
        return access.visible_schools(self.schools, db.school_ids(store))


def _secrets() -> dict:
    """The secrets; none when there is no secrets file. A file that exists but cannot be read
    fails closed: treating it as absent would make every visitor an administrator."""
    try:
        return st.secrets.to_dict()
    except st.errors.StreamlitSecretNotFoundError as error:  # a FileNotFoundError too: catch it first
        if getattr(error, "error_id", "") == "no-secrets-found":
            return {}
        raise access.SignInConfigError(
            f"the secrets file cannot be read ({error}). Nothing is served until it is fixed."
        ) from None
    except FileNotFoundError:
        return {}


def auth_configured() -> bool:
    return bool(_secrets().get("auth"))


GOVERNORS_VIEW = "governors_view"  # the sidebar switch's key
# The governors' view is also in the address (?view=governors): a reload (F5), a new tab or a
# copied link starts a new session, which would otherwise forget it and show the staff menu on the
# projector. The parameter can only take rights away (access.shown_role), never give them.
VIEW_PARAM, GOVERNORS = "view", "governors"
LEAVE_ASKED = "governors_view_leave_asked"


def governors_view_on() -> bool:
    """Whether this session shows the app as governors see it: switched on here, or asked for by
    the page's address."""
    return bool(st.session_state.get(GOVERNORS_VIEW)) or st.query_params.get(VIEW_PARAM) == GOVERNORS


def keep_governors_view() -> None:
    """Carry the governors' view between the session and the address, every run: a session opened
    from an address that asks for it starts with it on, and while it is on the address says so
    (the menu's page links drop the parameter; this puts it back)."""
    if st.query_params.get(VIEW_PARAM) == GOVERNORS and GOVERNORS_VIEW not in st.session_state:
        st.session_state[GOVERNORS_VIEW] = True
    if st.session_state.get(GOVERNORS_VIEW):
        st.query_params[VIEW_PARAM] = GOVERNORS
    elif st.query_params.get(VIEW_PARAM) == GOVERNORS:
        del st.query_params[VIEW_PARAM]


def _switch_turned() -> None:
    # Switching the governors' view off in front of governors would show family references
    # without warning: the switch stays on and the sidebar asks first.
    if not st.session_state.get(GOVERNORS_VIEW):
        st.session_state[GOVERNORS_VIEW] = True
        st.session_state[LEAVE_ASKED] = True


def _leave_governors_view() -> None:
    st.session_state[GOVERNORS_VIEW] = False
    st.session_state.pop(LEAVE_ASKED, None)
    if st.query_params.get(VIEW_PARAM) == GOVERNORS:
        del st.query_params[VIEW_PARAM]


def _stay_in_governors_view() -> None:
    st.session_state.pop(LEAVE_ASKED, None)


def governors_view_switch(viewer: Viewer) -> None:
    """The sidebar's switch for staff presenting to governors (never offered to a governor): on at
    once, off only after a question."""
    if not may_present(viewer):
        return
    st.sidebar.toggle(
        ":material/co_present: Governors' view",
        key=GOVERNORS_VIEW,
        on_change=_switch_turned,
        help="Show the app exactly as governors see it, for a meeting: their pages only, aggregates only, "
        "small counts hidden, no family references. It stays on when the page is reloaded.",
    )
    if st.session_state.get(LEAVE_ASKED):
        st.sidebar.warning(
            "Leave the governors' view? The staff pages come back, with family references. "
            "Make sure the screen is not being shown to governors.",
            icon=":material/warning:",
        )
        yes, no = st.sidebar.columns(2)
        yes.button("Yes, leave it", key="governors_view_leave", on_click=_leave_governors_view, type="primary")
        no.button("Stay", key="governors_view_stay", on_click=_stay_in_governors_view)


def current_viewer() -> Viewer:
    """The signed-in user and their role; in local mode (no [auth] in secrets, loopback only) an
    admin; a governor while a member of staff has the governors' view on. Raises
    :class:`access.SignInConfigError` when sign-in is not configured safely."""
    viewer = _signed_in_viewer()
    role = access.shown_role(viewer.role, governors_view_on())
    if role != viewer.role:
        return Viewer(viewer.email, role, viewer.local, viewer.schools, presenting=True)
    return viewer


def may_present(viewer: Viewer) -> bool:
    """Whether the sidebar offers the governors' view (and, while it is on, the way back)."""
    return viewer.presenting or viewer.role in access.PRESENTING_ROLES


def _signed_in_viewer() -> Viewer:
    secrets = _secrets()
    if access.sign_in_mode(secrets.get("auth"), st.get_option("server.address")) == "local":
        return Viewer(access.LOCAL_USER, "admin", local=True, schools=access.EVERY_SCHOOL)
    if not st.user.is_logged_in:
        return Viewer("", None, local=False)
    email = str(st.user.get("email") or "")
    grant = access.signed_in_grant(email, st.user.get("email_verified"), secrets.get("roles", {}))
    if grant is None:
        return Viewer(email, None, local=False)
    return Viewer(email, grant.role, local=False, schools=grant.schools)


def current_actor() -> str:
    """The name written to the audit log for a change made on this page."""
    return current_viewer().email or "unknown"


@st.cache_resource
def _last_activity() -> dict[str, float]:
    """When each signed-in address last used the app, across every tab and session."""
    return {}


# Seconds since the epoch, for idle sign-outs: wall time, since an ID token's ``iat`` is; tests set a
# clock of their own here instead of reading the real one.
wall_clock: Callable[[], float] = time.time


def _idle_timeout(email: str) -> None:
    """Sign out anyone idle for longer than ``idle_minutes``, in this tab or any other.

    Streamlit's identity cookie lasts 30 days, so a tab opened tomorrow on a shared staff-room PC
    would start signed in. The last use is the latest of: this address's last page view on this
    server, and the moment the provider signed it in (the ID token's ``iat``). A server restart
    forgets page views, so after one only the sign-in time counts."""
    minutes = load_settings().access.idle_minutes
    now = wall_clock()
    seen = _last_activity()
    iat = st.user.get("iat")  # seconds since 1970 from the provider; anything else counts as never
    try:
        issued = float(iat) if isinstance(iat, int | float | str) else 0.0
    except ValueError:
        issued = 0.0
    last = max(seen.get(email, 0.0), st.session_state.get("_last_seen", 0.0), issued)
    if last and now - last > minutes * 60:
        seen.pop(email, None)
        st.session_state.clear()
        st.logout()
        st.stop()
    seen[email] = st.session_state["_last_seen"] = now


def page_guard(page: str) -> Viewer:
    """Every page calls this first. Stops the page, politely, for anyone not allowed to see it."""
    layout.page_style()  # here, so that a page calling page_guard itself (Data) gets it too
    try:
        viewer = current_viewer()
    except access.SignInConfigError as error:
        st.error(f"The app cannot start: {error}", icon=":material/error:")
        st.stop()
    if viewer.local:
        # In the sidebar, on every page: said plainly, without taking the page's first lines.
        st.sidebar.caption(
            ":material/lock_open: **Local mode**: nobody is signed in; this app is reachable "
            "from this computer only and treats you as an administrator"
            + (", shown as governors see it." if viewer.presenting else ".")
        )
    elif viewer.role is None and not st.user.is_logged_in:
        st.title("Community engagement map")
        st.write("Sign in with your school account to continue.")
        st.button("Sign in", on_click=st.login, type="primary")
        st.stop()
    else:
        _idle_timeout(viewer.email)
        with st.sidebar:
            st.caption(f"Signed in as {viewer.email} ({viewer.role or 'no role'})")
            st.button("Sign out", on_click=st.logout)
    if viewer.role is None:
        st.title("No access yet")
        st.write("You are signed in, but your account has no role in this app. Ask the school's data lead to add you.")
        st.stop()
    if not access.can_open(viewer.role, page):
        st.title("Not available to your role")
        st.write(f"This page is not part of the {viewer.role} view. Use the menu to open the pages you can see.")
        st.stop()
    return viewer


def data_version() -> int:
    """The store's version: the newest audit entry. Every write is audited, by this server, the
    command line or another server alike, so cached loaders keyed on it read fresh data on the next
    run of any page (one indexed query, well under a millisecond)."""
    return db.data_version(get_store())


DEMO_LINE = (
    ":small[:material/science: **Demo data**: *Hollybrook Primary School* is a fictional school with "
    "synthetic families and partners. Import your own files on the **Data** page.]"
)


READ_ONLY_LINE = (
    "This store is read-only here (a read-only copy or disk): every page can be read, but nothing can "
    "be saved or imported until it is opened where it can be written."
)


def read_only_banner(store: db.Store) -> None:
    """Every page says so when the store can only be read, before anyone fills in a form."""
    if store.read_only:
        st.warning(READ_ONLY_LINE, icon=":material/lock:")


def demo_banner(store: db.Store) -> None:
    """Every page says plainly when it shows demo data, in one line above the page (a projector's
    first screen is for the figures). Who may import clears the demo at the foot of the page
    (:func:`clear_demo_footer`)."""
    if db.has_demo_data(store):
        st.markdown(DEMO_LINE)


def clear_demo_footer() -> None:
    """The button that clears the demo, after a question, for who may import: drawn by app.py
    after the page, so that from the keyboard it comes after the page's own controls (in the
    sidebar it came before them all, a few Tabs from the start of every page)."""
    store = get_store()
    if not db.has_demo_data(store) or not access.may_import(current_viewer().role):
        return  # clearing the demo deletes a school: not for a governor's read-only view
    with st.container(key="clear_demo_footer"):
        st.divider()
        st.caption("Demo data: clear it once you have imported your own school.")
        if st.button(
            "Clear demo data",
            key="clear_demo",
            icon=":material/delete:",
            help="Deletes the demo school and everything in it, after asking",
        ):
            st.session_state["clear_demo_asked"] = True
        if st.session_state.get("clear_demo_asked"):
            # Deleting a school is not undone by a second click: ask once, plainly.
            st.warning(
                "Delete the demo school, its partners, families and contacts? Your own imported schools "
                "are kept. This cannot be undone.",
                icon=":material/warning:",
            )
            yes, no = st.columns(2)
            if yes.button("Yes, delete the demo", key="clear_demo_confirm", type="primary"):
                st.session_state.pop("clear_demo_asked", None)
                db.clear_demo_data(store, actor=current_actor())
                st.rerun()
            if no.button("Keep it", key="clear_demo_cancel"):
                st.session_state.pop("clear_demo_asked", None)
                st.rerun()


# Streamlit leaves a band of about 100 px above every page; a projector at 1280x800 needs that
# room for the figures. Style only: it takes no place on the page.
@st.cache_resource(show_spinner="Loading the school's data…", max_entries=8)
def _frames(url: str, school_id: str, version: int) -> Frames:
    return load_school_frames(get_store(), school_id)


@st.cache_resource(show_spinner=False, max_entries=8)
def _calendar(url: str, school_id: str, version: int) -> Calendar:
    return load_calendar(get_store(), school_id)


@st.cache_resource(show_spinner=False, max_entries=8)
def _messages(url: str, school_id: str, version: int) -> Messages:
    return load_messages(get_store(), school_id)


def school_calendar(store: db.Store, school_id: str) -> Calendar:
    """The school's calendar (its own terms, else the defaults for England), cached until the data changes."""
    return _calendar(store.url, school_id, data_version())


def school_messages(store: db.Store, school_id: str) -> Messages:
    """What the communication panel measures for one school (aggregated before any page shows
    it), cached until the data changes."""
    return _messages(store.url, school_id, data_version())


def school_frames(store: db.Store, school_id: str) -> Frames:
    """The engagement module's frames for one school, cached until the data changes. Frames hold
    aggregable records only; pages for governors show nothing but the module's aggregates."""
    return _frames(store.url, school_id, data_version())


def school_gone() -> NoReturn:
    """Stop a page whose school was deleted (from another tab or the command line) after the
    sidebar's picker listed it, with a message rather than an error."""
    st.warning(
        "This school is no longer in the store. Choose another school in the sidebar.", icon=":material/warning:"
    )
    st.stop()


@overload
def open_page(page: str, needs_school: Literal[True] = True) -> tuple[Viewer, db.Store, str]: ...
@overload
def open_page(page: str, needs_school: Literal[False]) -> tuple[Viewer, db.Store, None]: ...


def open_page(page: str, needs_school: bool = True) -> tuple[Viewer, db.Store, str | None]:
    """What every page does first: check the reader may see it, open the store, say when it shows
    demo data, and pick the school (stopping the page, with a message, when there is none)."""
    viewer = page_guard(page)
    store = get_store()
    read_only_banner(store)
    demo_banner(store)
    school_id = pickers.school_picker(store, viewer.visible_schools(store)) if needs_school else None
    if needs_school and not school_id:
        st.stop()
    return viewer, store, school_id
