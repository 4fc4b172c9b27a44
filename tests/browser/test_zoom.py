"""Every page at 200% zoom: a 1280x800 screen zoomed to 200% lays pages out in a 640x400 CSS
viewport at two device pixels per CSS pixel, which is what each page gets here (Chromium's own
device metrics, so the screenshots look as the zoomed screen does). At that size a page must still
work (WCAG 1.4.4 and 1.4.10): no exception box, its title visible and within the width, the main
block never scrolling sideways, and the menu reachable through the sidebar's open button.

Screenshots go to artifacts/screenshots/zoom200-<page>.png (the first screen, as seen),
zoom200-<page>-menu.png (the same with the sidebar opened) and zoom200-<page>-full.png (the whole
page).
"""

from __future__ import annotations

import base64
import contextlib
import time

import pytest

from . import harness as h

pytestmark = pytest.mark.browser

ZOOM = 2
SCREEN = (1280, 800)
CSS_VIEWPORT = (SCREEN[0] // ZOOM, SCREEN[1] // ZOOM)

# How far the main block, and the page as a whole, scroll sideways; and what sticks out past the
# viewport's right edge without sitting in a box that scrolls on its own (a wide table may scroll
# inside its frame: WCAG 1.4.10 allows that for data tables).
_WIDTH_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const root = document.scrollingElement;
  const width = window.innerWidth;
  const scrollsItself = el => {
    for (let p = el.parentElement; p && p !== main; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if ((o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') && p.clientWidth <= width) return true;
    }
    return false;
  };
  const sticking = [];
  for (const el of main ? main.querySelectorAll('*') : []) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= width + 1 || scrollsItself(el)) continue;
    const id = el.getAttribute('data-testid') || el.tagName.toLowerCase();
    sticking.push(`${id} reaches ${Math.round(r.right)} px`);
    if (sticking.length >= 5) break;
  }
  return {main: main ? main.scrollWidth - main.clientWidth : null,
          page: root.scrollWidth - root.clientWidth, sticking};
}"""


def zoom(cdp, height: int = CSS_VIEWPORT[1]) -> None:
    """Chromium's device metrics for a 200% zoomed 1280x800 screen (``height`` CSS pixels tall),
    through ``cdp``, a DevTools session of the page (the metrics last as long as the session)."""
    cdp.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": CSS_VIEWPORT[0], "height": height, "deviceScaleFactor": ZOOM, "mobile": False},
    )


def full_screenshot(page, cdp, path) -> None:
    """The whole page at 200%: the zoomed screen stretched to the content's height (Streamlit
    scrolls inside its own container, so a plain full-page shot would show one screen)."""
    content = page.evaluate("""() => Math.max(document.documentElement.scrollHeight,
        ...Array.from(document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"]'),
                      el => el.scrollHeight))""")
    zoom(cdp, min(max(CSS_VIEWPORT[1], int(content)), h.MAX_SCREENSHOT_HEIGHT // ZOOM))
    h.wait_ready(page)
    shot(cdp, path)
    zoom(cdp)


def shot(cdp, path) -> None:
    """The screen as Chromium draws it, in device pixels (Playwright's own screenshot would scale
    it down to the context's one pixel per CSS pixel)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = cdp.send("Page.captureScreenshot", {"format": "png"})["data"]
    path.write_bytes(base64.b64decode(data))


# The sidebar has finished sliding in (or out): its box is the same on three polls in a row (100 ms
# apart), and it is on the screen (or off it, the open button showing).
_SIDEBAR_SETTLED_JS = """wantIn => {
  const bar = document.querySelector('[data-testid="stSidebar"]');
  const open = document.querySelector('[data-testid="stExpandSidebarButton"]');
  const r = bar ? bar.getBoundingClientRect() : {left: 0, right: 0};
  const shown = !!open && open.offsetParent !== null;
  const now = [Math.round(r.left), Math.round(r.right), shown].join(',');
  const w = window.__sidebarBox = window.__sidebarBox || {last: null, same: 0};
  w.same = now === w.last ? w.same + 1 : 0;
  w.last = now;
  return w.same >= 2 && (wantIn ? r.left >= 0 : (r.right <= 0 || shown));
}"""


def sidebar_settled(page, wanted_in: bool, timeout_ms: int = 5_000) -> None:
    """Wait until the sidebar has finished sliding in (or out), at most ``timeout_ms``; one that
    never gets there is reported by the checks that follow, not here."""
    page.evaluate("() => { window.__sidebarBox = null; }")
    with contextlib.suppress(Exception):  # judged by the checks after it
        page.wait_for_function(_SIDEBAR_SETTLED_JS, arg=wanted_in, polling=100, timeout=timeout_ms)


def menu_reachable(page, path: str, cdp, picture) -> list[str]:
    """Open the sidebar with its button if it is closed, find the page's menu link (a screenshot
    to ``picture``), close it again."""
    problems = []
    expand = page.locator('[data-testid="stExpandSidebarButton"]')
    sidebar = page.locator('[data-testid="stSidebar"]')
    opened = False
    if expand.count() and expand.first.is_visible():
        expand.first.click()
        sidebar_settled(page, True)  # the sidebar slides in
        opened = True
    link = page.locator('[data-testid="stSidebar"] a[data-testid="stSidebarNavLink"]')
    hrefs = [(a.get_attribute("href") or "") for a in link.all()]
    shot(cdp, picture)
    if not any(href.rstrip("/").endswith(path.rstrip("/")) for href in hrefs):
        problems.append(f"no menu link to {path} once the sidebar is open (links: {hrefs})")
    elif not link.first.is_visible():
        problems.append("the menu links are not visible once the sidebar is open")
    else:
        box = link.first.bounding_box()
        if box is None or box["x"] < 0 or box["x"] + box["width"] > CSS_VIEWPORT[0] + 1:
            problems.append(f"the menu is outside the screen: {box}")
    if sidebar.count() and opened:
        collapse = page.locator(
            '[data-testid="stSidebarCollapseButton"] button, [data-testid="stSidebarCollapseButton"]'
        )
        if collapse.count():
            sidebar.hover()
            collapse.first.click()
            sidebar_settled(page, False)  # the sidebar slides out
        if not expand.first.is_visible():
            problems.append("the sidebar could not be closed again")
    elif not opened and not sidebar.is_visible():
        problems.append("no sidebar and no button to open it")
    return problems


def test_every_page_works_at_200_percent_zoom(app_tab, app_server, nav_pages):
    failures: dict[str, list[str]] = {}
    timings = []
    for nav in nav_pages:
        started = time.monotonic()
        label = f"{nav.name} ({nav.path}) at 200% zoom"
        with app_tab.visit(label, CSS_VIEWPORT) as (record, page):
            cdp = page.context.new_cdp_session(page)
            zoom(cdp)
            problems: list[str] = []
            try:
                h.open_path(page, record, nav.path)
                h.collect(page, record)
                assert page.evaluate("window.devicePixelRatio") == ZOOM
                assert page.evaluate("window.innerWidth") == CSS_VIEWPORT[0]
                shot(cdp, h.SCREENSHOTS / f"zoom200-{nav.name}.png")
                title = page.locator('[data-testid="stMain"] h1').first
                if not title.count() or not title.is_visible():
                    problems.append("no visible page title (h1)")
                else:
                    box = title.bounding_box()
                    if box["x"] < 0 or box["x"] + box["width"] > CSS_VIEWPORT[0] + 1:
                        problems.append(f"the title sticks out of the screen: {box}")
                width = page.evaluate(_WIDTH_JS)
                if width["main"] is None:
                    problems.append("no main block")
                elif width["main"] > 1 or width["page"] > 1:
                    problems.append(
                        f"scrolls sideways: main block by {width['main']} px, page by {width['page']} px; "
                        f"sticking out: {width['sticking']}"
                    )
                problems += menu_reachable(page, nav.path, cdp, h.SCREENSHOTS / f"zoom200-{nav.name}-menu.png")
                h.wait_ready(page)
                full_screenshot(page, cdp, h.SCREENSHOTS / f"zoom200-{nav.name}-full.png")
            except Exception as exc:
                problems.append(f"{type(exc).__name__}: {exc}")
            finally:
                # The zoom is this session's; the next visit of the tab sets its own size again
                # (Tab.visit), so clearing it here leaves nothing behind. A crashed page has nothing
                # to clear: its failure is the one already recorded.
                with contextlib.suppress(Exception):
                    cdp.send("Emulation.clearDeviceMetricsOverride")
                    cdp.detach()
            record.expected_path = None  # the menu was opened and closed; which link is current is not judged here
        problems += record.problems()
        timings.append(f"{nav.name} {time.monotonic() - started:.1f} s")
        if problems:
            failures[label] = problems
    print("200% zoom:", ", ".join(timings))
    app_server.assert_alive()
    assert not failures, "\n".join(f"{label}:\n    " + "\n    ".join(p) for label, p in failures.items())
