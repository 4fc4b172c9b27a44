"""A trust lead signs in through a real OpenID Connect provider on loopback (as test_signin.py
does) and sees only the trust's schools on the Schools page: two of the store's three, and none of
the third's name or partners anywhere on the page."""

from __future__ import annotations

import time

import pytest
from test_compare import _fill

from engagement import store as engagement_store

from . import harness as h
from . import oidc

pytestmark = pytest.mark.browser

LEAD = "ceo@hilltrust.org.uk"
ROLES = {LEAD: {"role": "trust lead", "schools": ["A1", "B1"]}}


@pytest.fixture(scope="module")
def trust_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trust-signin")
    url = f"sqlite:///{folder / 'app.db'}"
    store = engagement_store.open_store(url)
    try:
        _fill(store)
    finally:
        store.dispose()
    with oidc.run_provider() as provider:
        started = time.monotonic()
        server = oidc.start_signin_server(
            h.ARTIFACTS / "browser" / "server-trust-signin.log",
            folder / "secrets.toml",
            provider,
            ROLES,
            env={"DATABASE_URL": url, "ENGAGEMENT_NO_DEMO": "1"},
        )
        print(f"signed-in app server healthy in {time.monotonic() - started:.1f} s")
        yield server, provider
        server.stop()


def test_a_trust_lead_signed_in_sees_only_the_trusts_schools(chromium, trust_server):
    server, provider = trust_server
    with h.visit(chromium, server.url, "trust lead signs in", (1280, 800)) as (record, page):
        traffic = oidc.allow_provider(record, page, provider)
        h.open_path(page, record, "/")
        oidc.sign_in(page, LEAD, server.url)
        h.open_path(page, record, "/schools")
        h.collect(page, record)
        assert not record.exceptions, record.exceptions
        text = record.text
        assert "Hill Top Primary" in text and "Oak Way Primary" in text
        assert "Moor End" not in text and "Moor Museum" not in text
        sidebar = " ".join(page.locator('[data-testid="stSidebar"]').inner_text().split())
        assert f"Signed in as {LEAD} (trust lead)" in sidebar
        oidc.forget_provider_traffic(record, traffic)
    server.assert_alive()
