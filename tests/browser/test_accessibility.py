"""axe-core on every page of the app, under every role, at 100 % and at 200 % zoom (issues 7 and 27):
no critical, serious or moderate violation anywhere; minor ones are counted and reported, not failed.

Every role of ``engagement.pages.ROLES`` signs in through the loopback OpenID provider (one account
each, ``SIGNIN_EMAILS`` in conftest.py), and so does a headteacher showing the governors' view
(``?view=governors``). Each of them opens every page of the menu their role gets, at 100 %, and axe
judges it there and again once the screen is zoomed to 200 %, in one browser context (one sign-in per
account, one page load per page and role), on the one signed-in server that test_signin.py uses too.
Zooming an open page lays it out exactly as opening it zoomed does: every element in the same box,
the sidebar folded away (compared element by element on every page when the two loads became one).

200 % zoom is what Chromium does when a 1280x800 screen is zoomed to 200 %: pages are laid out in a
640x400 CSS viewport at two device pixels per CSS pixel (DevTools' device metrics, as test_zoom.py
does). That is the same layout as the browser's own zoom, media queries and Streamlit's narrow-screen
layout included; CSS ``zoom: 2`` would not be: the page would still see a 1280 px window, so tables
would not need to scroll and the sidebar would not fold away, and axe would judge another page.

Each page's violations, of every impact, are saved to artifacts/axe/<view>/<page>-<zoom>.json, and
the counts per rule and impact to artifacts/axe/<view>/summary.txt. Each view is a test of its own.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from engagement.pages import ROLES

from . import harness as h
from . import oidc
from .conftest import SIGNIN_EMAILS

pytestmark = pytest.mark.browser

FAILING = ("critical", "serious", "moderate")


@dataclass(frozen=True)
class Zoom:
    name: str
    width: int  # CSS pixels
    height: int
    scale: int  # device pixels per CSS pixel


SCREEN = (1280, 800)
ZOOMS = (Zoom("100", SCREEN[0], SCREEN[1], 1), Zoom("200", SCREEN[0] // 2, SCREEN[1] // 2, 2))


@dataclass(frozen=True)
class View:
    """Who looks: a role signed in with its own account, or a role's account with a query (the
    governors' view)."""

    name: str
    role: str
    query: str = ""


VIEWS = (*(View(role, role) for role in SIGNIN_EMAILS), View("governors' view", "head", "?view=governors"))


@dataclass
class Finding:
    view: str
    page: str
    zoom: str
    violations: list[dict] | None = None
    error: str = ""


def test_every_role_has_an_account_to_be_checked_with():
    assert set(SIGNIN_EMAILS) == set(ROLES), "a role without a sign-in account would go unchecked"


def axe_walk(chromium, signin_server, provider, view: View) -> list[Finding]:
    """``view`` signed in, every page of its menu opened once and judged by axe-core at each zoom;
    the findings saved to artifacts/axe/<view>/ (emptied first: a page renamed or gone must not
    leave old findings behind), counted in its summary.txt."""
    folder = h.ARTIFACTS / "axe" / h.slug(view.name)
    shutil.rmtree(folder, ignore_errors=True)
    findings: list[Finding] = []
    started = time.monotonic()
    with h.visit(chromium, signin_server.url, f"axe as {view.name}", SCREEN) as (record, page):
        h.allow_origin(record, signin_server.tile_origin)
        oidc.allow_provider(record, page, provider)
        h.open_path(page, record, "/")
        oidc.sign_in(page, SIGNIN_EMAILS[view.role], signin_server.url)
        if view.query:
            h.open_path(page, record, "/" + view.query)
        navs = h.discover_pages(page)  # the menu this view gets
        cdp = page.context.new_cdp_session(page)
        for nav in navs:
            opened = ""
            for zoom in ZOOMS:
                finding = Finding(view.name, nav.name, zoom.name)
                try:
                    set_zoom(cdp, zoom)
                    if zoom is ZOOMS[0]:
                        open_unless_shown(page, record, nav.path + view.query)
                        opened = page.url
                    elif not opened:
                        raise AssertionError(f"the page did not open at {ZOOMS[0].name} %")
                    else:
                        h.wait_ready(page)  # laid out again for the zoomed screen
                        assert page.url == opened, f"zooming left the page for {page.url}"
                    finding.violations = h.axe_violations(page)
                    h.save_json(folder / f"{nav.name}-{zoom.name}.json", finding.violations)
                except Exception as exc:
                    finding.error = f"{type(exc).__name__}: {exc}"
                    with suppress(Exception):
                        page.screenshot(
                            path=str(h.SCREENSHOTS / f"axe-{h.slug(view.name)}-{nav.name}-{zoom.name}-failed.png")
                        )
                findings.append(finding)
    signin_server.assert_alive()
    summary = summarise(findings)
    (folder / "summary.txt").write_text(summary + "\n")
    print(f"axe-core as {view.name}: {len(navs)} pages in {time.monotonic() - started:.0f} s")
    print(summary)
    return findings


def set_zoom(cdp, zoom: Zoom) -> None:
    cdp.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": zoom.width, "height": zoom.height, "deviceScaleFactor": zoom.scale, "mobile": False},
    )


def open_unless_shown(page, record: h.Visit, path: str) -> None:
    """Open ``path`` by its URL, unless the page is on it already (the Overview, where signing in
    lands): that is the page as its reader gets it, and a second load would check the same again."""
    here = urlsplit(page.url)
    wanted = urlsplit(record.origin + path)
    if (here.path, here.query) == (wanted.path, wanted.query):
        record.expected_path = path
        h.wait_ready(page)
    else:
        h.open_path(page, record, path)


def summarise(findings: list[Finding]) -> str:
    """Per zoom, each rule's impact, how many pages break it and how many elements in all."""
    lines = []
    for zoom in ZOOMS:
        pages: Counter[tuple[str, str]] = Counter()
        nodes: Counter[tuple[str, str]] = Counter()
        checked = [f for f in findings if f.zoom == zoom.name and f.violations is not None]
        for finding in checked:
            for v in finding.violations or []:
                pages[v["id"], v["impact"]] += 1
                nodes[v["id"], v["impact"]] += len(v["nodes"])
        lines.append(f"{zoom.name} %: {len(checked)} pages checked")
        lines += [
            f"    {rule} ({impact}): {n} pages, {nodes[rule, impact]} elements" for (rule, impact), n in pages.items()
        ]
    return "\n".join(lines)


# One test per view, so that a failure names who saw it; they run on one worker with the sign-in
# tests, on one signed-in server (tests/conftest.py).
@pytest.mark.parametrize("view", VIEWS, ids=lambda view: h.slug(view.name))
def test_no_critical_serious_or_moderate_violation_on_any_page_at_either_zoom(chromium, signin_server, provider, view):
    findings = axe_walk(chromium, signin_server, provider, view)
    pages = {f.page for f in findings}
    assert pages, f"{view.name} opened no page"
    assert {(f.page, f.zoom) for f in findings} == {(p, z.name) for p in pages for z in ZOOMS}
    lines = []
    for finding in findings:
        where = f"{finding.view}, {finding.page}, {finding.zoom} %"
        if finding.violations is None:
            lines.append(f"{where}: axe-core did not run ({finding.error or 'no result'})")
            continue
        lines += [f"{where}: {line}" for line in h.describe_violations(finding.violations, FAILING)]
    assert not lines, "axe-core, critical, serious and moderate violations:\n" + "\n".join(lines)
