"""Roles and the page guard: each role opens its pages only; local mode says nobody is signed in."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engagement import access

APP = Path(__file__).resolve().parent.parent / "app.py"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "engagement",
    "client_secret": "s",
    "server_metadata_url": "http://127.0.0.1:1/.well-known",
}
ROLES = {
    "head@hollybrook.sch.uk": "head",
    "flo@hollybrook.sch.uk": "flo",
    "@governors.hollybrook.sch.uk": "governor",
    "data@hollybrook.sch.uk": "admin",
}


def test_role_by_address_before_domain():
    roles = {"chair@gov.uk": "head", "@gov.uk": "governor"}
    assert access.role_for("CHAIR@gov.uk ", roles) == "head"
    assert access.role_for("other@gov.uk", roles) == "governor"
    assert access.role_for("other@sub.gov.uk", roles) is None
    assert access.role_for("x@gov.uk", {"@gov.uk": "superuser"}) is None  # unknown roles give nothing


@pytest.mark.parametrize(
    "role,page,allowed",
    [
        ("governor", "outreach", False),
        ("governor", "data", False),
        ("governor", "overview", True),
        ("governor", "audit", False),
        ("flo", "outreach", True),
        ("flo", "audit", False),
        ("head", "outreach", True),
        ("admin", "audit", True),
        (None, "school", False),
    ],
)
def test_page_roles(role, page, allowed):
    assert access.can_open(role, page) is allowed


def test_governor_never_sees_family_detail():
    assert not access.sees_family_detail("governor")
    assert access.sees_family_detail("flo")


@pytest.fixture
def app(demo_app_db):
    at = AppTest.from_file(str(APP), default_timeout=60)
    return at


def _texts(at):
    return " ".join([m.value for m in at.markdown] + [t.value for t in at.title] + [c.value for c in at.caption])


def test_local_mode_says_nobody_is_signed_in(app):
    app.run()
    assert not app.exception
    assert "Local mode" in _texts(app)


def test_signed_out_user_is_asked_to_sign_in(app):
    app.secrets["auth"] = AUTH
    app.secrets["roles"] = ROLES
    app.user = {"is_logged_in": False}
    app.run()
    assert not app.exception
    assert "Sign in with your school account" in _texts(app)
    assert "Hollybrook Primary School" not in _texts(app)


def test_signed_in_without_role_is_refused_politely(app):
    app.secrets["auth"] = AUTH
    app.secrets["roles"] = ROLES
    app.user = {"is_logged_in": True, "email": "stranger@example.com"}
    app.run()
    assert not app.exception
    assert "No access yet" in _texts(app)
    assert "Hollybrook Primary School" not in _texts(app)


def test_governor_sees_school_page_with_identity(app):
    app.secrets["auth"] = AUTH
    app.secrets["roles"] = ROLES
    app.user = {"is_logged_in": True, "email": "chair@governors.hollybrook.sch.uk"}
    app.run()
    assert not app.exception
    assert app.title[0].value == "Hollybrook Primary School"
    assert "Signed in as chair@governors.hollybrook.sch.uk (governor)" in _texts(app)


def test_audit_page_for_admins_only(app):
    app.run()  # local mode: admin
    app.switch_page("app_pages/audit.py").run()
    assert not app.exception
    assert app.title[0].value == "Audit log"
    assert any("entries, newest first" in m.value for m in app.markdown)


def test_governor_opening_audit_page_by_url_is_refused(app):
    app.secrets["auth"] = AUTH
    app.secrets["roles"] = ROLES
    app.user = {"is_logged_in": True, "email": "chair@governors.hollybrook.sch.uk"}
    app.run()
    # Not in the governor's menu, so the router has no such page for them ...
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page("app_pages/audit.py")
    # ... and the page refuses by itself when run directly, as it would be if ever routed.
    page = AppTest.from_file(str(APP.parent / "app_pages" / "audit.py"), default_timeout=60)
    page.secrets["auth"] = AUTH
    page.secrets["roles"] = ROLES
    page.user = {"is_logged_in": True, "email": "chair@governors.hollybrook.sch.uk"}
    page.run()
    assert not page.exception
    assert page.title[0].value == "Not available to your role"
    assert not any("entries, newest first" in m.value for m in page.markdown)


def _signed_in_app(**claims):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = ROLES
    at.user = {"is_logged_in": True, "email": "head@hollybrook.sch.uk", **claims}
    return at


NOW = 1_795_600_000.0  # 2026-11-25 09:46 UTC: a moment of the suite's school day


@pytest.fixture
def session_clock(monkeypatch):
    """ui.session's wall clock stopped at NOW (idle sign-outs compare it with the token's ``iat``)."""
    from ui import session

    monkeypatch.setattr(session, "wall_clock", lambda: NOW)
    session._last_activity().clear()
    yield session
    session._last_activity().clear()  # its page views are at NOW, not on the real clock later tests use


def test_a_tab_opened_after_long_idle_is_signed_out(demo_app_db, session_clock):
    at = _signed_in_app(iat=NOW - 3 * 3600)  # signed in 3 hours ago, unused since
    at.run()
    assert not at.exception
    assert "Hollybrook Primary School" not in _texts(at)
    assert not at.user.get("is_logged_in")


def test_a_fresh_sign_in_and_recent_use_stay_signed_in(demo_app_db, session_clock):
    at = _signed_in_app(iat=NOW - 60)
    at.run()
    assert not at.exception
    assert at.title[0].value == "Hollybrook Primary School"
    # Signed in long ago, but used a minute ago in another tab on this server: still in.
    session_clock._last_activity()["head@hollybrook.sch.uk"] = NOW - 60
    again = _signed_in_app(iat=NOW - 5 * 3600)
    again.run()
    assert again.title[0].value == "Hollybrook Primary School"


# ---------------------------------------------------------------- sign-in fails closed (issue 12)


@pytest.fixture
def secrets_file(tmp_path, demo_app_db):
    """Point Streamlit at a secrets file of the test's own, as `--secrets.files` would."""
    import streamlit as st
    from streamlit import config

    path = tmp_path / "secrets.toml"
    saved = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(path)])
    st.secrets._secrets = None  # forget what an earlier test parsed
    yield path
    config.set_option("secrets.files", saved)
    st.secrets._secrets = None


def _refusal(at) -> str:
    assert not at.exception
    assert not at.title, "nothing but the refusal is served"
    assert not at.get("button"), "no sign-in or demo button either"
    return at.error[0].value


def test_a_secrets_file_that_does_not_parse_stops_the_app(secrets_file):
    secrets_file.write_text("[auth]\nclient_id = engagement\n")  # one unquoted value
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    message = _refusal(at)
    assert message.startswith("The app cannot start: the secrets file cannot be read") and "Error parsing" in message
    page = AppTest.from_file(str(APP.parent / "app_pages" / "audit.py"), default_timeout=60).run()
    assert "the secrets file cannot be read" in _refusal(page)  # a page opened on its own refuses too


def test_no_sign_in_on_a_network_address_refuses_to_serve(secrets_file):
    from streamlit import config

    saved = config.get_option("server.address")
    try:
        for address in ("0.0.0.0", None, "192.168.1.20"):
            config.set_option("server.address", address)
            at = AppTest.from_file(str(APP), default_timeout=60).run()
            message = _refusal(at)
            assert "without sign-in" in message and "Configure [auth]" in message
    finally:
        config.set_option("server.address", saved)


def test_local_mode_only_on_loopback_and_without_auth(secrets_file):
    secrets_file.write_text('DATABASE_URL = ""\n')  # a secrets file without [auth]
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception and "Local mode" in _texts(at)


def test_an_unverified_address_gets_no_role(demo_app_db):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = ROLES
    at.user = {"is_logged_in": True, "email": "head@hollybrook.sch.uk", "email_verified": False}
    at.run()
    assert not at.exception
    assert "No access yet" in [t.value for t in at.title]


def test_governors_choose_whole_terms_only(demo_app_db):
    for email, custom in (("chair@governors.hollybrook.sch.uk", False), ("head@hollybrook.sch.uk", True)):
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.secrets["auth"] = AUTH
        at.secrets["roles"] = ROLES
        at.user = {"is_logged_in": True, "email": email}
        at.run()
        assert not at.exception
        options = at.sidebar.selectbox(key="window_term").options
        assert ("Custom dates" in options) is custom, (email, options)


def test_local_mode_presents_the_governors_view_and_refuses_staff_pages_in_it(app):
    """Local mode treats the user as an administrator; with the governors' view on, it is a
    governor's app: their menu only, and a staff page run by itself refuses."""
    from engagement.pages import PAGES

    app.run()
    app.toggle(key="governors_view").set_value(True).run()
    assert not app.exception
    for entry in PAGES:
        if access.can_open("governor", entry.key):
            app.switch_page(entry.file)
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                app.switch_page(entry.file)
    page = AppTest.from_file(str(APP.parent / "app_pages" / "outreach.py"), default_timeout=60)
    page.session_state["governors_view"] = True
    assert [t.value for t in page.run().title] == ["Not available to your role"]
