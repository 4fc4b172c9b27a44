"""The browser harness: the real app started with ``streamlit run`` on a free port, its pages opened
in headless Chromium, and everything recorded that a school would not want to happen: an exception
box, a console error, a dialog (an ``alert()`` means injected script ran), or any request leaving
the app's own origin. Outside requests never leave the machine (the browser itself sends them to a
dead proxy on loopback, see :func:`launch_args`) and are reported as failures; a map test may allow
its tile hosts by passing ``allow_hosts`` (answered in the browser with a blank tile), and a visit
may allow another server of the test's own on loopback (:func:`allow_origin`).

The pieces are plain functions so that a page's own browser test can reuse them:
:func:`start_app_server`, :func:`visit`, :func:`wait_ready`, :func:`discover_pages`,
:func:`screenshot`, :func:`axe_violations`.

>>> origin = "http://127.0.0.1:8501"
>>> is_allowed("http://127.0.0.1:8501/_stcore/health", origin), is_allowed("ws://127.0.0.1:8501/_stcore/stream", origin)
(True, True)
>>> is_allowed("https://fonts.gstatic.com/s/i/icon.svg", origin), is_allowed("http://127.0.0.1:9999/", origin)
(False, False)
>>> is_allowed("https://a.tile.openstreetmap.org/1/0/0.png", origin, ["*.tile.openstreetmap.org"])
True
>>> is_allowed("data:image/svg+xml,<svg/>", origin), is_allowed("about:blank", origin)
(True, True)
>>> slug("Community layers"), slug("Partner map / rings")
('community-layers', 'partner-map-rings')
"""

from __future__ import annotations

import contextlib
import fnmatch
import http.server
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests import network_guard

PROJECT_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT_DIR / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
# The page visits' own (tests/browser/conftest.py), emptied before each session's visits.
PAGE_SHOTS = SCREENSHOTS / "pages"
PAGE_TEXTS = ARTIFACTS / "browser" / "pages"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# A request the app's page makes to anywhere but loopback goes to this proxy, whose port is held
# (bound, never listening) for as long as the tests run: refused at once, it leaves no trace outside
# the machine (no DNS lookup either: a proxied request's host is the proxy's to resolve, and the
# resolver maps every other name to nothing besides). This is what keeps the browser in, rather than
# a Playwright route on every request: a route turns the browser's cache off and hands each of a
# page's ~130 requests to this process, and a Streamlit page opened by its URL took 2.7 s that way
# against 1.8 s without (6 pages twice, one browser context: 32-34 s against 22 s).
_DEAD_PROXY: socket.socket | None = None


def launch_args() -> list[str]:
    """Chromium's arguments for the tests: :data:`CHROMIUM_ARGS` and the network lock."""
    global _DEAD_PROXY
    if _DEAD_PROXY is None:
        _DEAD_PROXY = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        _DEAD_PROXY.bind(("127.0.0.1", 0))
    port = _DEAD_PROXY.getsockname()[1]
    return [
        *CHROMIUM_ARGS,
        f"--proxy-server=http://127.0.0.1:{port}",
        "--proxy-bypass-list=127.0.0.1;localhost",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    ]


VIEWPORTS = [(1280, 800), (1920, 1080)]
# The screens a page is driven at, task by task: a 1440x900 laptop and a 1280x720 projector. A
# 1280x800 screen lays every page out as 1280x720 does (Streamlit's layout follows the window's
# width, and no page lays anything out by its height; the helpers that scroll a form into view read
# it, and 720 px is the tighter case for them) with 80 px more below the fold, so a task that works
# at 1280x720 works there too: it is not driven a third time. Every page is still opened,
# checked and screenshot at 1280x800 (VIEWPORTS), and so are the tests that name it (the projector's
# scores, the family panel's tables). Dropping it from these walks saved a tenth of the browser
# tests' time (issue 23).
WORKING_SIZES = [(1440, 900), (1280, 720)]
READY_TIMEOUT_MS = 60_000
# A page counts as settled once nothing has happened for this long: no DOM change in it or its
# frames, no websocket frame either way, no request. A component that reports a value (which
# starts a rerun) does so through a websocket frame, and a component draws before it reports, so
# a rerun about to start is seen as activity, not as quiet; the wait is counted from the call, so
# an action just taken has this long to show its first effect.
QUIET_MS = 300
# A request still open after this long no longer holds the page back (a download, a stalled tile):
# the same bound as the wait for network idleness that this replaced.
REQUEST_CAP_S = 10.0
_POLL_MS = 50
# Full-page screenshots stretch the viewport to the content; past this the page is unreadable anyway.
MAX_SCREENSHOT_HEIGHT = 12_000

# Partner names that must show as text everywhere and never run, render or evaluate.
HOSTILE_NAMES = [
    "<img src=x onerror=alert(1)>",
    "${alert(1)}",
    "`backtick`",
    "**bold** [link](http://x)",
    '=HYPERLINK("http://x","y")',
]

_LOCAL_SCHEMES = {"data", "blob", "about"}


def slug(text: str) -> str:
    """A file-name-safe name for a page label."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"


def is_allowed(url: str, origin: str, allow_hosts: Iterable[str] = ()) -> bool:
    """Whether a request to ``url`` stays inside the app: its own origin (http or ws), ``data:``,
    ``blob:`` and ``about:``, or a host matching one of ``allow_hosts`` (shell-style patterns)."""
    parts = urlsplit(url)
    if parts.scheme in _LOCAL_SCHEMES:
        return True
    own = urlsplit(origin)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if (scheme, parts.netloc) == (own.scheme, own.netloc):
        return True
    return any(fnmatch.fnmatch(parts.hostname or "", pattern) for pattern in allow_hosts)


def offline_config(path: Path, source: Path = PROJECT_DIR / "data" / "config.toml") -> Path:
    """A copy of the app's settings with map tiles and online geocoding off, for a server whose
    every request must stay on this machine (the server's own outbound requests, geocoding, are
    invisible to the browser, so they are switched off rather than watched)."""
    return network_guard.offline_settings(path, source, tiles_url="")


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _python() -> str:
    venv = PROJECT_DIR / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


@dataclass
class AppServer:
    """A running ``streamlit run app.py``; its output goes to ``log_path``."""

    process: subprocess.Popen
    port: int
    log_path: Path
    tile_origin: str | None = None  # a tile server of the test's own that its map draws from

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 80) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def assert_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise AssertionError(f"the app server died (exit {code}); its log ends:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        # The server runs in its own process group: end it and anything it started.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def worker_file(path: Path) -> Path:
    """``path`` named for the pytest-xdist worker running this (``server.log`` -> ``server-gw1.log``):
    each worker that runs browser tests starts servers of its own, at the same time as the others.
    Outside pytest-xdist, ``path`` itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return path.with_name(f"{path.stem}-{worker}{path.suffix}") if worker else path


def start_app_server(
    log_path: Path,
    env: dict[str, str] | None = None,
    args: Iterable[str] = (),
    timeout: float = 60.0,
    attempts: int = 3,
    script: str = "app.py",
) -> AppServer:
    """Start ``streamlit run app.py`` on a free loopback port and wait until ``/_stcore/health``
    answers. ``env`` is added to this process's environment (``DATABASE_URL`` above all). The log
    goes to ``log_path`` named for this test worker (:func:`worker_file`)."""
    log_path = worker_file(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    last_error = ""
    for _ in range(attempts):
        port = free_port()
        command = [
            _python(),
            "-m",
            "streamlit",
            "run",
            script,
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            *args,
        ]
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                cwd=PROJECT_DIR,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = AppServer(process, port, log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _healthy(server.url):
                return server
            time.sleep(0.2)
        server.stop()
        last_error = server.log_tail()
        if "address already in use" not in last_error.lower():
            break  # another port would not help
    raise RuntimeError(f"streamlit run did not become healthy within {timeout:.0f} s; its log ends:\n{last_error}")


# --- a visit to one page ------------------------------------------------------------------------


@dataclass
class Visit:
    """What happened during one visit to the app: a browser context's life (:func:`visit`) or one
    visit of a :class:`Tab`."""

    label: str
    origin: str
    allow_hosts: tuple[str, ...] = ()
    allow_origins: list[str] = field(default_factory=list)  # servers of the test's own, see allow_origin
    outside: list[str] = field(default_factory=list)
    allowed_outside: list[str] = field(default_factory=list)  # to allow-listed hosts, answered locally
    console_errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # known Streamlit noise, kept for the record
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    not_found: bool = False
    expected_path: str | None = None
    active_path: str | None = None
    text: str = ""
    markup: list[str] = field(default_factory=list)
    axe: list[dict] | None = None
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def reset(self) -> None:
        """Forget everything seen so far (the listeners of the visit keep writing here), so that
        what the page does next is recorded apart."""
        fresh = Visit(self.label, self.origin, self.allow_hosts, self.allow_origins)
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def served_locally(self, url: str) -> bool:
        """Whether ``url`` is the app's own or on a server of the test's own (:func:`allow_origin`)."""
        return is_allowed(url, self.origin) or any(is_allowed(url, origin) for origin in self.allow_origins)

    def inside(self, url: str) -> bool:
        """Whether a request to ``url`` is not an outside one: served locally, or to an allowed host."""
        return self.served_locally(url) or is_allowed(url, self.origin, self.allow_hosts)

    def problems(self) -> list[str]:
        """Every failure of this visit, one line each, for an assertion message."""
        lines = [f"harness: {_short(e)}" for e in self.failures]
        lines += [f"Streamlit exception box: {_short(e)}" for e in self.exceptions]
        lines += [f"console error: {_short(e)}" for e in self.console_errors]
        lines += [f"page error: {_short(e)}" for e in self.page_errors]
        by_host: dict[str, list[str]] = {}
        for url in self.outside:
            by_host.setdefault(urlsplit(url).netloc or url, []).append(url)
        lines += [
            f"{len(urls)} request(s) outside the app to {host} (aborted), e.g. {urls[0]}"
            for host, urls in sorted(by_host.items())
        ]
        lines += [f"dialog appeared: {d}" for d in self.dialogs]
        if self.not_found:
            lines.append("Streamlit said 'Page not found' and ran the main page instead")
        if self.expected_path and self.active_path and self.active_path != self.expected_path:
            lines.append(f"opened {self.expected_path} but the menu marks {self.active_path} as the current page")
        return lines


def problem_report(visits: Iterable[Visit], what=Visit.problems) -> str:
    """The problems of the given visits (``what`` picks which), grouped by visit, one per line."""
    lines = []
    for record in visits:
        problems = what(record)
        if problems:
            lines.append(f"{record.label}:")
            lines += [f"    {p}" for p in problems]
    return "\n".join(lines)


def _short(text: str, limit: int = 600) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def _record_request(record: Visit, url: str) -> None:
    if not record.inside(url):
        record.outside.append(url)


def allow_origin(record: Visit, origin: str) -> None:
    """Let the visit's page reach another server of the test's own on loopback (a tile server, the
    sign-in provider) without its requests counting as outside."""
    parts = urlsplit(origin)
    assert parts.hostname in ("127.0.0.1", "localhost"), f"{origin} is not a loopback server"
    record.allow_origins.append(f"{parts.scheme}://{parts.netloc}")


def streamlit_deep_link_probe(text: str, url: str, origin: str) -> bool:
    """Whether a console error is Streamlit's own probe for a base path when a page is opened by
    its URL: it asks ``/<page>/_stcore/health`` and ``/<page>/_stcore/host-config`` first, gets
    404, then asks ``/_stcore/...`` (streamlit/streamlit issue 7074, open). Nothing the app can
    change; only exactly this is let through.

    >>> streamlit_deep_link_probe("Failed to load resource: the server responded with a status of 404 (Not Found)",
    ...                           "http://127.0.0.1:8501/map/_stcore/health", "http://127.0.0.1:8501")
    True
    >>> streamlit_deep_link_probe("Failed to load resource: the server responded with a status of 404 (Not Found)",
    ...                           "http://127.0.0.1:8501/static/app.js", "http://127.0.0.1:8501")
    False
    """
    return (
        text.startswith("Failed to load resource: the server responded with a status of 404")
        and re.fullmatch(re.escape(origin) + r"/[^/?#]+/_stcore/(health|host-config)", url) is not None
    )


# How a request kept in the machine fails: aborted by a route, refused by the dead proxy, or a name
# the resolver maps to nothing.
_KEPT_IN = ("BLOCKED_BY_CLIENT", "PROXY_CONNECTION_FAILED", "NAME_NOT_RESOLVED")


def _record_console(record: Visit, msg) -> None:
    if msg.type != "error":
        return
    url = msg.location.get("url", "") if msg.location else ""
    if any(f"ERR_{reason}" in msg.text for reason in _KEPT_IN) and not record.inside(url):
        return  # a request this harness kept in: reported once, as an outside request
    if streamlit_deep_link_probe(msg.text, url, record.origin):
        record.ignored.append(f"{msg.text} (at {url})")
    else:
        record.console_errors.append(f"{msg.text} (at {url or '?'})")


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A plain PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


# What an allow-listed tile host "serves": a plain land-coloured tile, so that a map test sees its
# tiles requested without the test ever reaching the internet.
BLANK_TILE = _png(256, 256, (242, 239, 233))


@contextmanager
def loopback_server(answer: Callable[[str], tuple[int, str, bytes]]) -> Iterator[str]:
    """A small HTTP server on loopback for a test's own pages or tiles: ``answer(path)`` gives the
    status, content type and body of each GET. Yields its origin."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=3600")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for serve_forever's next poll: 0.5 s by default.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def blank_tile_server():
    """A tile server on loopback that answers every tile with :data:`BLANK_TILE` (a context manager
    yielding its origin), for an app whose settings point its map there: a page that draws tiles
    without a route (see :func:`launch_args`) and without the internet."""
    return loopback_server(lambda path: (200, "image/png", BLANK_TILE))


def _route(record: Visit):
    def handle(route) -> None:
        url = route.request.url
        if record.served_locally(url):
            route.fallback()
        elif is_allowed(url, record.origin, record.allow_hosts):
            record.allowed_outside.append(url)
            route.fulfill(status=200, content_type="image/png", body=BLANK_TILE)
        else:
            route.abort("blockedbyclient")

    return handle


def _route_ws(record: Visit):
    def handle(ws) -> None:
        record.outside.append(ws.url)
        ws.close()  # never connected to the real server

    return handle


def _listen(context, current: Callable[[], Visit]) -> None:
    """Record what happens in ``context`` in the visit ``current()`` names at the time."""
    context.route_web_socket(lambda url: not current().inside(url), lambda ws: _route_ws(current())(ws))
    context.on("request", lambda request: _record_request(current(), request.url))
    context.on("console", lambda msg: _record_console(current(), msg))
    context.on("weberror", lambda err: current().page_errors.append(str(err.error)))
    context.on(
        "dialog", lambda dialog: (current().dialogs.append(f"{dialog.type}: {dialog.message!r}"), dialog.dismiss())
    )


@contextmanager
def visit(
    browser, origin: str, label: str, viewport: tuple[int, int] = VIEWPORTS[0], allow_hosts: Iterable[str] = ()
) -> Iterator[tuple[Visit, object]]:
    """A fresh browser context (a new Streamlit session) with every listener attached; yields the
    record and a new page. Outside requests are recorded (and fail: see :func:`launch_args`); with
    ``allow_hosts``, those hosts' requests are answered in the browser with a blank tile and every
    other outside request is aborted there. Dialogs are recorded and dismissed so that the page does
    not hang on them."""
    record = Visit(label=label, origin=origin, allow_hosts=tuple(allow_hosts))
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block")
    try:
        if allow_hosts:  # only then: a route turns the browser's cache off (see launch_args)
            context.route("**/*", _route(record))
        _listen(context, lambda: record)
        page = context.new_page()
        watch(page)
        yield record, page
    finally:
        context.close()


class Tab:
    """One tab on the app kept open from visit to visit. Each visit is a record of its own and opens
    its path by its URL, which starts a new Streamlit session as a new context does, but in the
    renderer that drew the last one: opening a page in a new context cost about 1.4 s more of
    Chromium's CPU (3.6-4.0 s against 2.3-2.6 s, measured page by page on the 2-core machine), most
    of the browser tests' time. What a visit leaves in the browser is wiped as it ends: the app's
    local and session storage (Streamlit keeps the sidebar's state there: opened or closed by hand,
    it would start the next page so), cookies, the pointer's place; then the tab leaves for a blank
    page, and what the page says as it closes is the ending visit's, in its record. A tab that
    cannot leave its page is replaced. One visit at a time: a visit inside another is refused.

        tab = Tab(chromium, app_server.url)
        with tab.visit("/outreach", (1280, 720)) as (record, page):
            ...
    """

    def __init__(self, browser, origin: str) -> None:
        self.browser, self.origin = browser, origin
        self.record = Visit(label="between visits", origin=origin)
        self.busy = False
        self._open()

    def _open(self) -> None:
        self.context = self.browser.new_context(
            viewport={"width": VIEWPORTS[0][0], "height": VIEWPORTS[0][1]}, service_workers="block"
        )
        _listen(self.context, lambda: self.record)
        self.page = self.context.new_page()
        watch(self.page)

    @contextmanager
    def visit(self, label: str, viewport: tuple[int, int]) -> Iterator[tuple[Visit, object]]:
        """A record of its own for ``label`` and the tab at ``viewport``; the caller opens the path."""
        assert not self.busy, f"the tab is in another visit ({self.record.label}); a visit opens one page at a time"
        self.busy = True
        self.record = record = Visit(label=label, origin=self.origin)
        try:
            self.page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
            self.page.mouse.move(0, 0)
            yield record, self.page
        finally:
            try:
                if self.page.url.startswith(self.origin + "/"):  # the app's storage is the app's page's to clear
                    self.page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
                self.context.clear_cookies()
                self.page.goto("about:blank", timeout=READY_TIMEOUT_MS)
            except Exception:  # a tab that cannot be wiped or leave its page (crashed, hung) is replaced
                with suppress(Exception):
                    self.context.close()
                with suppress(Exception):  # the test's own failure, if any, is the one to report
                    self._open()
            self.record = Visit(label="between visits", origin=self.origin)
            self.busy = False

    def close(self) -> None:
        self.context.close()


# Streamlit connected, its script not running, nothing of the last run left stale, and no skeleton:
# Streamlit's stand-in for an element whose code is still loading, or a component that has not said
# it is ready (its code may be compiling, off the page's main thread, with no other sign of life);
# and how long ago the DOM of the page, or of any frame of it this script can reach, last changed
# (see _WATCH_JS).
_STATE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const has = selector => !!document.querySelector(selector);
  const busy = !app ? 'no app yet'
    : app.dataset.testConnectionState !== 'CONNECTED' ? 'not connected'
    : app.dataset.testScriptState !== 'notRunning' ? 'script ' + app.dataset.testScriptState
    : !has('[data-testid="stMain"]') ? 'no main block'
    : has('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]') ? 'running icon'
    : has('[data-stale="true"]') ? 'stale elements'
    : has('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"], [data-testid="stAppSkeleton"]') ? 'skeleton'
    : '';
  let changed = window.__harnessChanged || 0;
  const walk = win => {
    for (let i = 0; i < win.frames.length; i++) {
      try { changed = Math.max(changed, win.frames[i].__harnessChanged || 0); walk(win.frames[i]); } catch (e) {}
    }
  };
  walk(window);
  return {idle: !busy, busy, quietMs: Date.now() - changed};
}"""

# Run in every document and frame before its own scripts: the time of its last DOM change (Date.now,
# so that frames, each with a clock of its own, compare).
_WATCH_JS = """(() => {
  if (window.__harnessChanged !== undefined) return;
  window.__harnessChanged = Date.now();
  new MutationObserver(() => { window.__harnessChanged = Date.now(); })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
})()"""


class Activity:
    """What a page has done that its DOM does not show: websocket frames sent or received (a rerun
    asked for, a rerun's output arriving) and HTTP requests, with those still open."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.open: dict[object, float] = {}

    def touch(self, *_) -> None:
        self.last = time.monotonic()

    def started(self, request) -> None:
        self.open[request] = self.last = time.monotonic()

    def ended(self, request) -> None:
        self.open.pop(request, None)
        self.last = time.monotonic()

    def socket(self, ws) -> None:
        self.touch()
        ws.on("framesent", self.touch)
        ws.on("framereceived", self.touch)
        ws.on("close", self.touch)

    def requests_open(self, now: float) -> list[str]:
        return [request.url for request, since in self.open.items() if now - since < REQUEST_CAP_S]


_ACTIVITY: weakref.WeakKeyDictionary[object, Activity] = weakref.WeakKeyDictionary()


def watch(page) -> Activity:
    """Start watching ``page`` for activity (once; :func:`visit` does it for its page before the
    first load, so the first load is watched whole)."""
    if page in _ACTIVITY:
        return _ACTIVITY[page]
    activity = _ACTIVITY[page] = Activity()
    page.add_init_script(_WATCH_JS)
    with suppress(Exception):  # a page not loaded yet gets the watcher from the init script
        for frame in page.frames:
            frame.evaluate(_WATCH_JS)
    page.on("websocket", activity.socket)
    page.on("request", activity.started)
    page.on("requestfinished", activity.ended)
    page.on("requestfailed", activity.ended)
    return activity


def wait_ready(page, timeout_ms: int = READY_TIMEOUT_MS, quiet_ms: int = QUIET_MS) -> None:
    """Wait until Streamlit is connected, its script idle and every element drawn (no skeleton),
    and nothing has happened for
    ``quiet_ms``, counted from this call: no DOM change in the page or its frames, no websocket
    frame, no request started, finished or still open (see QUIET_MS)."""
    activity = watch(page)
    started = time.monotonic()
    state: dict = {}
    while True:
        try:
            state = page.evaluate(_STATE_JS)  # also delivers the page's events that came meanwhile
        except Exception as exc:  # a navigation under way: its new document is waited for
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            state = {"idle": False, "busy": "navigating", "quietMs": 0}
        now = time.monotonic()
        quiet = min(state["quietMs"], 1000 * (now - max(started, activity.last)))
        open_requests = activity.requests_open(now)
        if state["idle"] and quiet >= quiet_ms and not open_requests:
            return
        if now - started > timeout_ms / 1000:
            raise TimeoutError(
                f"the page did not settle within {timeout_ms / 1000:.0f} s: Streamlit "
                f"{'idle' if state['idle'] else 'not idle (' + state['busy'] + ')'}, quiet for {quiet:.0f} ms, "
                f"requests open: {open_requests[:3]}"
            )
        page.wait_for_timeout(_POLL_MS)


def open_path(page, record: Visit, path: str) -> None:
    """Open ``path`` of the app in ``page`` and wait until it has settled."""
    record.expected_path = path
    page.goto(record.origin + path, wait_until="domcontentloaded")
    wait_ready(page)


_MARKUP_JS = """() => {
  const found = [];
  for (const img of document.querySelectorAll('img')) if (img.getAttribute('src') === 'x') found.push('an <img src=x> element');
  for (const a of document.querySelectorAll('a[href]')) if (/^http:\\/\\/x\\/?$/.test(a.getAttribute('href'))) found.push('a link to http://x');
  for (const el of document.querySelectorAll('strong, b')) if (el.textContent.trim() === 'bold') found.push('<strong>bold</strong> from markdown');
  for (const el of document.querySelectorAll('code')) if (el.textContent.trim() === 'backtick') found.push('<code>backtick</code> from markdown');
  return found;
}"""


# The text a reader gets: every text node outside scripts and styles (a map's script holds names
# JS-escaped, which is neither shown nor a sign of trouble), one node per line.
_TEXT_JS = """() => {
  if (!document.body) return '';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {acceptNode: node =>
    node.parentElement && node.parentElement.closest('script, style, noscript, template')
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  const parts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) parts.push(node.nodeValue);
  return parts.join('\\n');
}"""


def collect(page, record: Visit) -> None:
    """Fill the record from the settled page: exception boxes, 'page not found', the text of the
    page and of its frames, and any markup that a hostile name could have turned into."""
    record.exceptions = page.locator('[data-testid="stException"]').all_inner_texts()
    texts, markup = [], []
    for frame in page.frames:
        try:
            texts.append(frame.evaluate(_TEXT_JS))
            markup += frame.evaluate(_MARKUP_JS)
        except Exception:
            continue
    record.text = "\n".join(texts)
    record.markup = sorted(set(markup))
    record.not_found = "Page not found" in record.text
    current = page.locator('a[aria-current="page"][data-testid$="NavLink"]')
    record.active_path = (urlsplit(current.first.get_attribute("href") or "/").path or "/") if current.count() else None


# --- navigation, screenshots, accessibility ---------------------------------------------------------


@dataclass(frozen=True)
class NavPage:
    label: str
    path: str

    @property
    def name(self) -> str:
        return slug(self.label)


def discover_pages(page) -> list[NavPage]:
    """The pages the app's navigation lists (sidebar or top), in menu order. An app with one page
    shows no menu; then the page at ``/`` is the only one."""
    more = page.locator('[data-testid="stSidebarNavViewButton"]')
    if more.count() and "more" in more.first.inner_text().lower():
        more.first.click()
    links = page.locator('a[data-testid="stSidebarNavLink"], a[data-testid="stTopNavLink"]')
    found: list[NavPage] = []
    for i in range(links.count()):
        link = links.nth(i)
        path = urlsplit(link.get_attribute("href") or "/").path or "/"
        label = " ".join(link.inner_text().split()) or path.strip("/") or "home"
        # Material icon names are text in the DOM ("school School"); keep the visible label.
        icon = link.locator('[data-testid="stIconMaterial"]')
        if icon.count():
            label = label.removeprefix(icon.first.inner_text().strip()).strip() or label
        if all(p.path != path for p in found):
            found.append(NavPage(label, path))
    return found or [NavPage("home", "/")]


def nav_link(page, path: str):
    """The menu link to ``path``."""
    links = page.locator('a[data-testid="stSidebarNavLink"], a[data-testid="stTopNavLink"]')
    for i in range(links.count()):
        if (urlsplit(links.nth(i).get_attribute("href") or "/").path or "/") == path:
            return links.nth(i)
    raise AssertionError(f"the menu has no link to {path}")


def screenshot(page, path: Path, viewport: tuple[int, int]) -> Path:
    """A full-page screenshot at ``viewport``'s width. Streamlit scrolls inside its own container,
    so the viewport is stretched to the content's height first and restored after."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = viewport
    content = page.evaluate("""() => Math.max(document.documentElement.scrollHeight,
        ...Array.from(document.querySelectorAll('[data-testid="stAppViewContainer"], [data-testid="stMain"],'
          + ' [data-testid="stSidebarContent"]'), el => el.scrollHeight))""")
    tall = min(max(height, int(content)), MAX_SCREENSHOT_HEIGHT)
    if tall != height:
        page.set_viewport_size({"width": width, "height": tall})
        wait_ready(page)
    page.screenshot(path=str(path), full_page=True)
    if tall != height:
        page.set_viewport_size({"width": width, "height": height})
    return path


SERIOUS = ("serious", "critical")


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the settled page (frames included), from the copy of axe-core
    that the axe-playwright-python wheel ships (nothing is downloaded)."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    for frame in page.frames[1:]:
        with contextlib.suppress(Exception):  # a frame gone meanwhile has nothing to check
            frame.evaluate(axe.axe_script)  # so that axe in the page can reach into the frame
    return axe.run(page).response["violations"]


def describe_violations(violations: list[dict], impacts: Iterable[str] = SERIOUS, examples: int = 3) -> list[str]:
    """One readable line per violation of the given impacts: rule, impact, how many elements, and
    the first few of them."""
    lines = []
    for v in violations:
        if v.get("impact") not in impacts:
            continue
        nodes = v["nodes"]
        where = "; ".join(
            f"{' > '.join(map(str, n['target']))}: {_short(n.get('html', ''), 160)}" for n in nodes[:examples]
        )
        more = f" (and {len(nodes) - examples} more)" if len(nodes) > examples else ""
        lines.append(f"{v['id']} ({v['impact']}), {len(nodes)} element(s): {v['help']}. {where}{more}")
    return lines


def save_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
