"""Fixtures of the browser tests: one app server and one Chromium for the whole session, and every
page of the app's menu visited once at each viewport; the tests then judge those visits.

The server's store is a fresh SQLite file holding the demo school plus partners, interactions and
notes whose text is hostile (HTML, ``${...}``, markdown, a spreadsheet formula), so every page
test is an injection test too. A page's own browser test can open a path with ``open_app_page``
(and a map test can allow its tile hosts there, and only there).
"""

from __future__ import annotations

import copy
import shutil
import time
from contextlib import contextmanager, suppress

import pytest
from sqlalchemy import select

from engagement import store as engagement_store
from engagement.demo import load_demo
from tests import network_guard

from . import harness as h
from . import oidc

ACTOR = "browser tests"

# The accounts of the signed-in server, one for each role (tests/browser/test_accessibility.py
# checks that every role of engagement.pages.ROLES has one): the school's staff by address,
# governors by domain, a trust's and an authority's leads given every school of the store.
SIGNIN_EMAILS = {
    "admin": "data.lead@hollybrook.sch.uk",
    "head": "head@hollybrook.sch.uk",
    "flo": "flo@hollybrook.sch.uk",
    "governor": "chair@governors.hollybrook.sch.uk",
    "senco": "senco@hollybrook.sch.uk",
    "trust lead": "ceo@hollybrook-trust.org.uk",
    "local authority": "inclusion@authority.gov.uk",
}
SIGNIN_ROLES = {
    SIGNIN_EMAILS["admin"]: "admin",
    SIGNIN_EMAILS["head"]: "head",
    SIGNIN_EMAILS["flo"]: "flo",
    "@governors.hollybrook.sch.uk": "governor",
    SIGNIN_EMAILS["senco"]: "senco",
    SIGNIN_EMAILS["trust lead"]: {"role": "trust lead", "schools": ["*"]},
    SIGNIN_EMAILS["local authority"]: {"role": "local authority", "schools": ["*"]},
}


def seed_hostile_store(url: str) -> None:
    """The demo school, then one partner per hostile name (a copy of a real demo partner, so it
    sits on the map and in its layer) with a contact this term, and family contacts whose notes
    and staff are hostile too."""
    store = engagement_store.open_store(url)
    try:
        load_demo(store, actor=ACTOR)
        p, i = engagement_store.partners, engagement_store.interactions
        with store.write(actor=ACTOR) as conn:
            partner = dict(
                conn.execute(select(p).where(p.c.status == "active").order_by(p.c.partner_id).limit(1)).mappings().one()
            )
            with_partner = dict(
                conn.execute(
                    select(i).where(i.c.partner_id.is_not(None)).order_by(i.c.date.desc(), i.c.interaction_id).limit(1)
                )
                .mappings()
                .one()
            )
            with_family = dict(
                conn.execute(
                    select(i).where(i.c.family_id.is_not(None)).order_by(i.c.date.desc(), i.c.interaction_id).limit(1)
                )
                .mappings()
                .one()
            )
            partners, contacts = [], []
            for n, name in enumerate(h.HOSTILE_NAMES, start=1):
                partners.append(
                    {**partner, "partner_id": f"HOSTILE-{n}", "name": name, "contact_name": name, "notes": name}
                )
                contacts.append(
                    {
                        **with_partner,
                        "interaction_id": f"HOSTILE-P{n}",
                        "partner_id": f"HOSTILE-{n}",
                        "staff": name,
                        "notes": name,
                    }
                )
                contacts.append({**with_family, "interaction_id": f"HOSTILE-F{n}", "staff": name, "notes": name})
            engagement_store.upsert(conn, "partners", partners)
            engagement_store.upsert(conn, "interactions", contacts)
    finally:
        store.dispose()


@pytest.fixture(scope="session")
def app_database(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'app.db'}"
    seed_hostile_store(url)
    return url


@pytest.fixture(scope="session")
def app_server(app_database, tmp_path_factory):
    """The app on the browser tests' store, with map tiles and online geocoding off, so that
    nothing at all may leave the machine."""
    config = h.offline_config(tmp_path_factory.mktemp("config") / "config.toml")
    server = h.start_app_server(
        h.ARTIFACTS / "browser" / "server.log", env={"DATABASE_URL": app_database, "ENGAGEMENT_CONFIG": str(config)}
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tiles_app_server(app_database):
    """The app on the same store with the school's own settings (map tiles on), for a map test that
    passes its tile hosts as ``allow_hosts``; started only when a test asks for it."""
    server = h.start_app_server(h.ARTIFACTS / "browser" / "server-tiles.log", env={"DATABASE_URL": app_database})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def signin_database(tmp_path_factory) -> str:
    """The browser tests' hostile demo store, for the signed-in server alone (a contact is logged in it)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('signin') / 'app.db'}"
    seed_hostile_store(url)
    return url


@pytest.fixture(scope="session")
def provider():
    """A real OpenID Connect provider on loopback (tests/browser/oidc.py)."""
    with oidc.run_provider() as running:
        yield running


@pytest.fixture(scope="session")
def tile_server():
    """A tile server on loopback answering every tile with a blank one (its origin)."""
    with h.blank_tile_server() as origin:
        yield origin


@pytest.fixture(scope="session")
def signin_server(signin_database, provider, tile_server, tmp_path_factory):
    """The app with sign-in through ``provider`` and an account for every role (SIGNIN_ROLES), shared
    by the sign-in tests and the accessibility tests (one server for both: they run on one worker)."""
    folder = tmp_path_factory.mktemp("signin-server")
    # The school's own settings with online geocoding off, so the server itself never reaches out,
    # and its map's tiles from ``tile_server`` (a visit allows it with h.allow_origin).
    config = network_guard.offline_settings(
        folder / "config.toml", h.PROJECT_DIR / "data" / "config.toml", tiles_url=f"{tile_server}/{{z}}/{{x}}/{{y}}.png"
    )
    started = time.monotonic()
    server = oidc.start_signin_server(
        h.ARTIFACTS / "browser" / "server-signin.log",
        folder / "secrets.toml",
        provider,
        SIGNIN_ROLES,
        env={"DATABASE_URL": signin_database, "ENGAGEMENT_CONFIG": str(config)},
    )
    server.tile_origin = tile_server
    print(f"signed-in app server healthy in {time.monotonic() - started:.1f} s")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=h.CHROMIUM, args=h.launch_args(), headless=True)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def nav_pages(app_tab) -> list[h.NavPage]:
    """The pages the app's menu lists, found from the running app (so new pages are covered)."""
    with app_tab.visit("menu", h.VIEWPORTS[0]) as (record, page):
        h.open_path(page, record, "/")
        return h.discover_pages(page)


@pytest.fixture(scope="session")
def page_visits(app_tab, app_server, nav_pages) -> dict[str, list[h.Visit]]:
    """Every menu page opened by its URL in a fresh session (in the worker's tab, h.Tab) at the first
    viewport, then the window resized to each other one: checked at each, and screenshot to
    artifacts/screenshots/pages/<page>-<w>x<h>.png, its text to artifacts/browser/pages/<page>.txt. A
    page resized is laid out as one opened at that size (every element in the same box, the same
    text: compared on every page when the loads became one). (axe-core runs on every page under
    every role in test_accessibility.py, on the signed-in server.)"""
    shots, texts = h.PAGE_SHOTS, h.PAGE_TEXTS
    for folder in (shots, texts):
        # A page renamed or gone must not leave old findings behind; only this fixture's own
        # folders are emptied, as other workers write their screenshots beside them meanwhile.
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    visits: dict[str, list[h.Visit]] = {}
    for nav in nav_pages:
        records: list[h.Visit] = []
        visits[nav.name] = records
        with app_tab.visit("", h.VIEWPORTS[0]) as (record, page):
            for viewport in h.VIEWPORTS:
                if viewport != h.VIEWPORTS[0]:
                    # What the page did at the size before is that size's record; this one starts afresh.
                    records.append(copy.deepcopy(record))
                    record.reset()
                started = time.monotonic()
                record.label = f"{nav.name} ({nav.path}) at {viewport[0]}x{viewport[1]}"
                try:
                    if viewport == h.VIEWPORTS[0]:
                        h.open_path(page, record, nav.path)
                    elif records[0].failures:
                        raise AssertionError(f"the page did not open at {h.VIEWPORTS[0][0]}x{h.VIEWPORTS[0][1]}")
                    else:
                        record.expected_path = nav.path
                        page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
                        h.wait_ready(page)
                    h.collect(page, record)
                    h.screenshot(page, shots / f"{nav.name}-{viewport[0]}x{viewport[1]}.png", viewport)
                    if viewport == h.VIEWPORTS[0]:
                        (texts / f"{nav.name}.txt").write_text(record.text)
                except Exception as exc:
                    record.failures.append(f"{type(exc).__name__}: {exc}")
                    with suppress(Exception):
                        page.screenshot(path=str(shots / f"{nav.name}-{viewport[0]}x{viewport[1]}-failed.png"))
                record.seconds = time.monotonic() - started
        records.append(record)  # the last size's, with anything said while the session closed
    app_server.assert_alive()
    return visits


@pytest.fixture(scope="session")
def app_tab(chromium, app_server):
    """One tab on ``app_server`` that every page visit of this worker's tests opens its path in
    (h.Tab: a new Streamlit session each time, in a renderer already warm)."""
    tab = h.Tab(chromium, app_server.url)
    yield tab
    tab.close()


@pytest.fixture
def open_app_page(request, chromium, app_server):
    """Open one path of the running app in a fresh Streamlit session, settled; the record is
    complete when the block ends. A test that passes ``allow_hosts`` (a map test allowing its tile
    host) gets the server with the school's own settings, tiles on, in a context of its own;
    requests to an allowed host are answered here with a blank tile and never sent:

        def test_map(open_app_page):
            with open_app_page("/partner_map", (1280, 800), allow_hosts=["tile.openstreetmap.org"]) as (record, page):
                ...                      # drive the page
            assert record.allowed_outside and not record.problems()
    """

    @contextmanager
    def opener(path: str = "/", viewport: tuple[int, int] = h.VIEWPORTS[0], allow_hosts=(), server=None):
        if server is None and not allow_hosts:
            visit = request.getfixturevalue("app_tab").visit(path, viewport)
        else:
            server = server or (request.getfixturevalue("tiles_app_server") if allow_hosts else app_server)
            visit = h.visit(chromium, server.url, path, viewport, allow_hosts)
        with visit as (record, page):
            h.open_path(page, record, path)
            yield record, page
            h.collect(page, record)

    return opener
