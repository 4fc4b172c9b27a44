"""Which role opens which page, and what a governor sees, with AppTest and a signed-in ``st.user``.

These checks were made in headless Chromium (tests/browser/test_signin.py), each role signing in
through a real OpenID provider and opening every page: about four minutes. Here each role gets the
app with its ``[roles]`` secrets in a few seconds: exactly the registry's pages in its menu, every
one of them opening with its title, every other page refused (the menu has no such page, and the
page run on its own stops with "Not available to your role"); a governor sees no family reference
and no postcode sector under the privacy threshold on any page, even with the pages' caches filled
by a head teacher first, and no button that changes the data. Chromium keeps one run per sign-in
behaviour: signing in through the provider, a page refused by its URL, an account without a role,
signing out, a contact audited under the signed-in address.

The pages and the role matrix come from the registry (``engagement.pages.PAGES``), so a new page
is covered the day it is registered.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from engagement import access, maps
from engagement import store as db
from engagement.pages import PAGES
from engagement.settings import load_settings
from engagement.terms import default_window

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
# Signed-in mode: an OpenID provider that is never reached (AppTest supplies st.user itself).
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "engagement",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:1/.well-known",
}
EMAILS = {
    "admin": "data.lead@hollybrook.sch.uk",
    "head": "head@hollybrook.sch.uk",
    "flo": "flo@hollybrook.sch.uk",
    "governor": "chair@governors.hollybrook.sch.uk",
}
# Governors by domain; the others by address (as in the browser tests' secrets).
ROLES = {
    EMAILS["admin"]: "admin",
    EMAILS["head"]: "head",
    EMAILS["flo"]: "flo",
    "@governors.hollybrook.sch.uk": "governor",
}
REFUSED = "Not available to your role"
# The demo's family references (school URN, then F and a number).
FAMILY_ID = re.compile(r"999001-F\d+")
# Three families in a postcode sector of their own: a sector far under the privacy threshold.
SMALL_SECTOR = "B31 9"
SMALL_POSTCODES = ["B31 9ZA", "B31 9ZB", "B31 9ZD"]


@pytest.fixture(scope="module")
def roles_db(demo_store_file, tmp_path_factory):
    """One store for the module (the tests only read it, so the pages' caches carry over from
    one role to the next, as on a real server): the demo school plus three families in a postcode
    sector of their own."""
    path = tmp_path_factory.mktemp("roles") / "app.db"
    shutil.copyfile(demo_store_file, path)
    url = f"sqlite:///{path}"
    store = db.open_store(url)
    try:
        f = db.families
        with store.write(actor="tests") as conn:
            family = dict(conn.execute(select(f).order_by(f.c.family_id).limit(1)).mappings().one())
            postcodes = set(conn.execute(select(f.c.postcode)).scalars())
            assert not any(str(pc).startswith(SMALL_SECTOR + " ") for pc in postcodes), "the sector is not new"
            db.upsert(
                conn,
                "families",
                [
                    {**family, "family_id": f"{family['school_id']}-F{9001 + n}", "postcode": pc}
                    for n, pc in enumerate(SMALL_POSTCODES)
                ],
            )
            conn.execute(
                db.gazetteer.insert(),
                [
                    {"postcode": pc, "latitude": 52.425 + n / 1000, "longitude": -1.940}
                    for n, pc in enumerate(SMALL_POSTCODES)
                ],
            )
    finally:
        store.dispose()
    return url


@pytest.fixture
def signed_in(roles_db, monkeypatch):
    """A function: the app (or one page's file, run on its own as if routed there) for ``role``,
    signed in with that role's address, not yet run."""
    monkeypatch.setenv("DATABASE_URL", roles_db)

    def make(role: str, script: Path = APP) -> AppTest:
        at = AppTest.from_file(str(script), default_timeout=90)
        at.secrets["auth"] = AUTH
        at.secrets["roles"] = ROLES
        at.user = {"is_logged_in": True, "email": EMAILS[role]}
        return at

    return make


def nodes(block):
    for child in block.children.values():
        yield child
        if isinstance(child, Block):
            yield from nodes(child)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def everything_shown(at: AppTest) -> str:
    """Every string the run sent to the browser, main area and sidebar: each element's message as
    text (markdown, titles, captions, labels, options, chart specs, table bytes), the rows of every
    table, and the arguments of components (the partner map's whole Leaflet script)."""
    from google.protobuf import text_format

    parts = []
    for block in (at.main, at.sidebar):
        for node in nodes(block):
            proto = getattr(node, "proto", None)
            if proto is None:
                continue
            parts.append(text_format.MessageToString(proto, as_utf8=True))
            if node.type in ("arrow_data_frame", "arrow_table", "table", "dataframe"):
                parts.append(node.value.to_csv())
            if node.type == "component_instance":
                parts += _strings(json.loads(proto.json_args))
    return "\n".join(parts)


def menu(at: AppTest) -> set[str]:
    """The keys of the pages the app's menu holds for this session: the pages AppTest can switch to."""
    keys = set()
    for entry in PAGES:
        try:
            at.switch_page(entry.file)
        except ValueError:
            continue
        keys.add(entry.key)
    return keys


def expected_menu(role: str) -> set[str]:
    return {entry.key for entry in PAGES if access.can_open(role, entry.key)}


@pytest.mark.parametrize("role", list(EMAILS))
def test_each_role_sees_exactly_its_pages_and_is_refused_the_others(signed_in, role):
    at = signed_in(role).run()
    assert not at.exception, at.exception
    assert f"Signed in as {EMAILS[role]} ({role})" in [c.value for c in at.sidebar.caption]
    assert menu(at) == expected_menu(role)
    for entry in PAGES:
        if access.can_open(role, entry.key):
            if not entry.default:  # the run above was the default page's: what it showed is still here
                at.switch_page(entry.file).run()
            assert not at.exception, (role, entry.key, at.exception)
            assert at.title and at.title[0].value != REFUSED, f"{role} on {entry.key}: no title, or refused"
            assert REFUSED not in everything_shown(at), f"{role} refused {entry.key}"
        else:
            # Not in this role's menu, so the router has no such page for it (a browser opening
            # its URL gets "Page not found") ...
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(entry.file)
            # ... and the page refuses by itself when run, as it would be if ever routed there.
            page = signed_in(role, ROOT / entry.file).run()
            assert not page.exception, (role, entry.key, page.exception)
            assert [t.value for t in page.title] == [REFUSED], f"{role} opened {entry.key}"
            shown = everything_shown(page)
            assert not FAMILY_ID.search(shown) and "Hollybrook" not in shown, f"{role} on {entry.key}: {shown[:500]}"
            assert menu(at) == expected_menu(role)


def test_a_governor_opening_the_outreach_planner_sees_no_family(signed_in):
    page = signed_in("governor", ROOT / "app_pages" / "outreach.py").run()
    assert not page.exception
    assert [t.value for t in page.title] == [REFUSED]
    shown = everything_shown(page)
    assert "Outreach planner" not in shown and "Family to work on" not in shown and "Log a contact" not in shown
    assert not FAMILY_ID.search(shown)


def test_a_governor_sees_aggregates_only(signed_in, roles_db):
    """Pages cached for every role (the school's frames, the map's partners and sectors) must show
    a governor nothing family-level: no family reference on any page, no sector under the threshold
    on the map, no button that changes the data. A head opens every page first, so that whatever
    the caches hold for staff is there when the governor comes."""
    store = db.open_store(roles_db)
    try:
        school = db.school_ids(store)[0]
        every = maps.family_sectors(store, school, default_window(), threshold=1).shown
    finally:
        store.dispose()
    threshold = load_settings().privacy.suppression_threshold
    small = set(every[every["families"] < threshold]["sector"])
    large = set(every[every["families"] >= threshold]["sector"])
    assert SMALL_SECTOR in small and large, (small, large)

    head = signed_in("head").run()  # the default page: the others follow
    assert not head.exception, head.exception
    for entry in (p for p in PAGES if access.can_open("head", p.key) and not p.default):
        head.switch_page(entry.file).run()
        assert not head.exception, (entry.key, head.exception)
    assert FAMILY_ID.search(everything_shown(head.switch_page("app_pages/outreach.py").run())), (
        "the check would not see a family reference"
    )

    governor = signed_in("governor")  # run on each page in turn, the first straight away
    opened = []
    for entry in PAGES:
        if not access.can_open("governor", entry.key):
            continue
        governor.switch_page(entry.file).run()
        assert not governor.exception, (entry.key, governor.exception)
        shown = everything_shown(governor)
        found = FAMILY_ID.findall(shown)
        assert not found, f"family references on {entry.key} for a governor: {sorted(set(found))[:5]}"
        assert not [b for b in governor.button if b.label == "Clear demo data"], entry.key
        if entry.key == "map":
            assert all(f"Postcode sector {s}<" not in shown for s in small), "a small sector is on the map"
            assert all(f"Postcode sector {s}<" in shown for s in large), "the sectors at the threshold are missing"
            # No number of hidden families for a governor: with the roll it would complete a subtraction.
            assert f"Not shown: families in sectors of fewer than {threshold}" in shown
        opened.append(entry.key)
    assert "map" in opened and opened == sorted(expected_menu("governor"), key=[p.key for p in PAGES].index)


def _main_shown(at: AppTest) -> str:
    from google.protobuf import text_format

    text = "\n".join(
        text_format.MessageToString(node.proto, as_utf8=True)
        for node in nodes(at.main)
        if getattr(node, "proto", None) is not None
    )
    return re.sub(r'file_id: "\w+"', "file_id", text)  # a download's file is stored afresh each run


def test_staff_present_the_governors_view_exactly_as_governors_see_it(signed_in):
    """A head at the projector switches on the governors' view: the menu becomes a governor's, every
    page shows what a governor's session shows (no family reference), a staff page is refused, and
    switching it off gives the head's pages back. A governor has no such switch."""
    governor = signed_in("governor").run()
    assert not [t for t in governor.sidebar.toggle if t.key == "governors_view"]
    head = signed_in("head").run()
    head.toggle(key="governors_view").set_value(True).run()
    assert not head.exception
    assert menu(head) == expected_menu("governor")
    for entry in PAGES:
        if not access.can_open("governor", entry.key):
            continue
        head.switch_page(entry.file).run()
        governor.switch_page(entry.file).run()
        assert not head.exception and not governor.exception, entry.key
        shown = everything_shown(head)
        assert not FAMILY_ID.search(shown), entry.key
        assert not [b for b in head.button if b.label == "Clear demo data"], entry.key
        assert _main_shown(head) == _main_shown(governor), f"the {entry.key} page differs from a governor's"
    page = signed_in("head", ROOT / "app_pages" / "outreach.py")
    page.session_state["governors_view"] = True
    assert [t.value for t in page.run().title] == [REFUSED]
    head.toggle(key="governors_view").set_value(False).run()
    # Off only after a question: until it is answered the projector still shows the governors' view.
    assert menu(head) == expected_menu("governor") and head.toggle(key="governors_view").value
    assert any("Leave the governors' view?" in w.value for w in head.sidebar.warning)
    head.button(key="governors_view_leave").click().run()
    assert menu(head) == expected_menu("head")


def test_the_governors_view_survives_a_reload_and_a_copied_link(signed_in):
    """F5 on a projector starts a new session: the address keeps ?view=governors, so the new session
    (a reload, a new tab, a copied link) opens in the governors' view, not the staff menu. Answering
    "Stay" keeps it on; a governor is never offered the switch, whatever the address says."""
    head = signed_in("head").run()
    assert "view" not in head.query_params
    head.toggle(key="governors_view").set_value(True).run()
    assert head.query_params["view"] in ("governors", ["governors"])
    head.switch_page("app_pages/layers.py").run()
    assert head.query_params["view"] in ("governors", ["governors"]), "a page of the menu keeps it in the address"

    reloaded = signed_in("head")
    reloaded.query_params["view"] = "governors"  # the address the first session left
    reloaded.run()
    assert not reloaded.exception
    assert menu(reloaded) == expected_menu("governor")
    assert reloaded.toggle(key="governors_view").value
    reloaded.toggle(key="governors_view").set_value(False).run()
    reloaded.button(key="governors_view_stay").click().run()
    assert menu(reloaded) == expected_menu("governor") and reloaded.toggle(key="governors_view").value

    governor = signed_in("governor")
    governor.query_params["view"] = "governors"
    governor.run()
    assert not [t for t in governor.sidebar.toggle if t.key == "governors_view"]
    assert not [b for b in governor.button if b.key == "governors_view_leave"]
