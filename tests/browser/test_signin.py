"""Sign-in in headless Chromium against a real OpenID Connect provider on loopback, one run per
behaviour: signing in through the provider's form gives the role's menu, and a page outside it
opened by its URL is refused and shows nothing of a family; an account without a role is refused
politely; signing out ends access; and a contact logged by a family liaison officer is audited
under their address.

Which role opens which page, and what a governor sees on each of theirs (no family reference, no
small postcode sector, no button that changes the data), is checked for every role and page with
AppTest in tests/test_roles.py, where it costs seconds rather than minutes.

The expected menus come from the page registry (``engagement.pages.PAGES``),
so the tests stay true when a page is added.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import PurePosixPath

import pytest
from sqlalchemy import select

from engagement import access, pages
from engagement import store as engagement_store

from . import harness as h
from . import oidc
from .conftest import SIGNIN_EMAILS

pytestmark = pytest.mark.browser

VIEWPORT = (1280, 800)
EMAILS = SIGNIN_EMAILS
NO_ROLE = "visitor@example.org"
# The demo's family references (school URN, then F and a number).
FAMILY_ID = re.compile(r"999001-F\d+")
# Pages a signed-out or role-less visitor tries by URL: the default one, family detail, the audit log.
TRIED = ("school", "outreach", "audit")
REFUSED = ("Not available to your role", "Page not found")


def app_pages() -> dict[str, str]:
    """The registered pages, key to URL path (the default page is ``/``)."""
    return {entry.key: "/" if entry.default else "/" + PurePosixPath(entry.file).stem for entry in pages.PAGES}


PAGES = app_pages()


def expected_menu(role: str) -> set[str]:
    return {path for key, path in PAGES.items() if access.can_open(role, key)}


@contextmanager
def signed_in(chromium, server, provider, email: str, label: str):
    """A fresh browser signed in as ``email`` through the provider; its record is judged at the end
    with the provider's own requests taken out."""
    with h.visit(chromium, server.url, label, VIEWPORT) as (record, page):
        h.allow_origin(record, server.tile_origin)
        traffic = oidc.allow_provider(record, page, provider)
        h.open_path(page, record, "/")
        assert page.get_by_text("Sign in with your school account").is_visible()
        oidc.sign_in(page, email, server.url)
        yield record, page
        oidc.forget_provider_traffic(record, traffic)
    server.assert_alive()


def open_page(page, record: h.Visit, path: str) -> str:
    """Open ``path`` by URL, settled; the page's text (frames included)."""
    h.open_path(page, record, path)
    h.collect(page, record)
    assert not record.exceptions, f"{path}: {record.exceptions}"
    assert not record.markup, f"{path}: {record.markup}"
    return record.text


def forget_refusal(record: h.Visit) -> None:
    """A page refused by URL legitimately leaves Streamlit on another page; not a harness problem."""
    record.not_found = False
    record.expected_path = record.active_path = None


def menu_paths(page) -> set[str]:
    return {nav.path for nav in h.discover_pages(page)}


def test_signing_in_gives_the_roles_menu_and_a_page_refused_by_url_shows_no_family(chromium, signin_server, provider):
    """A governor signs in: their address and role in the sidebar, exactly their pages in the menu,
    the Overview with no family on it; the outreach planner and the audit log, opened by their
    URLs, are refused (Streamlit's router has no such page for them) and show no family."""
    email = EMAILS["governor"]
    with signed_in(chromium, signin_server, provider, email, "governor signs in") as (record, page):
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert f"Signed in as {email} (governor)" in " ".join(sidebar.split())
        assert menu_paths(page) == expected_menu("governor")
        h.collect(page, record)
        assert not record.exceptions and not record.markup, (record.exceptions, record.markup)
        assert page.locator("h1").first.is_visible(), "the Overview has no title"
        assert not FAMILY_ID.search(record.text + frame_html(page))
        for key in ("outreach", "audit"):
            assert not access.can_open("governor", key)
            text = open_page(page, record, PAGES[key])
            assert any(r in text for r in REFUSED), f"a governor opened {PAGES[key]} by URL:\n{text[:500]}"
            assert not page.get_by_role("heading", name=pages.page(key).title).count()
            assert "Family to work on" not in text and "Log a contact" not in text
            assert not FAMILY_ID.search(page.content())
            assert menu_paths(page) == expected_menu("governor")
            forget_refusal(record)
    assert not record.problems(), "\n".join(record.problems())


def frame_html(page) -> str:
    """The markup of the page and of every frame in it (a folium map keeps its tooltips in scripts)."""
    html = []
    for frame in page.frames:
        try:
            html.append(frame.content())
        except Exception:
            continue
    return "\n".join(html)


def test_an_account_without_a_role_is_refused_politely(chromium, signin_server, provider):
    with signed_in(chromium, signin_server, provider, NO_ROLE, "no role") as (record, page):
        h.collect(page, record)
        assert page.get_by_role("heading", name="No access yet").is_visible()
        assert "Ask the school's data lead" in record.text
        assert "Hollybrook" not in record.text and not FAMILY_ID.search(record.text)
        assert menu_paths(page) == {"/"}, "no menu for an account without a role"
        for path in (PAGES[key] for key in TRIED):
            text = open_page(page, record, path)
            assert "No access yet" in text or "Page not found" in text, path
            assert "Hollybrook" not in text and not FAMILY_ID.search(text), path
            forget_refusal(record)
    assert not record.problems(), "\n".join(record.problems())


def test_signing_out_ends_access(chromium, signin_server, provider):
    with signed_in(chromium, signin_server, provider, EMAILS["head"], "sign out") as (record, page):
        assert "Outreach planner" in open_page(page, record, PAGES["outreach"])
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
        # The provider has an end-session endpoint, so Streamlit sends the browser there to end
        # the provider's session too, then back to the app.
        end = page.get_by_role("button", name="End session")
        end.wait_for(timeout=30_000)
        end.click()
        page.wait_for_url(
            lambda url: url.startswith(signin_server.url) and "/oauth2callback" not in url, timeout=30_000
        )
        h.wait_ready(page)
        assert not [c for c in page.context.cookies() if c["name"].startswith("_streamlit_user")]
        for path in (PAGES[key] for key in TRIED):
            text = open_page(page, record, path)
            assert page.get_by_role("button", name="Sign in").is_visible(), path
            assert "Hollybrook" not in text and not FAMILY_ID.search(text), path
            forget_refusal(record)
    assert not record.problems(), "\n".join(record.problems())


def test_a_contact_logged_by_the_flo_is_audited_under_their_address(chromium, signin_server, provider, signin_database):
    note = f"Signed-in contact {time.time_ns()}"
    with signed_in(chromium, signin_server, provider, EMAILS["flo"], "flo logs a contact") as (record, page):
        assert menu_paths(page) == expected_menu("flo")
        open_page(page, record, PAGES["outreach"])
        form = page.locator('[data-testid="stForm"]')
        form.locator('[data-testid="stRadio"]').get_by_text("Yes", exact=True).click()
        form.locator("textarea").fill(note)
        form.get_by_role("button", name="Log contact").click()
        # The confirmation is what the rerun after the click draws: wait for it, not for a time.
        page.locator('[data-testid="stAlert"]').filter(has_text="Logged a").wait_for(timeout=h.READY_TIMEOUT_MS)
        h.wait_ready(page)
        assert page.locator('[data-testid="stAlert"]').filter(has_text="Logged a").count()
    assert not record.problems(), "\n".join(record.problems())

    store = engagement_store.open_store(signin_database)
    try:
        a = engagement_store.audit_log
        with store.read() as conn:
            rows = conn.execute(
                select(a.c.actor, a.c.action).where(a.c.table_name == "interactions", a.c.after.contains(note))
            ).all()
    finally:
        store.dispose()
    assert rows, "the contact the app confirmed is not in the store as another process reads it"
    assert [actor for actor, _ in rows] == [EMAILS["flo"]], rows
