"""A local Open Referral feed for the tests: the fixture pages of tests/fixtures/oruk at
``<url>/services?page=N`` and each full record at ``<url>/services/<id>``, served by a thread on
loopback, with misbehaviour queued per request (429, 5xx, slow answers, broken JSON, a drip).

The reader refuses loopback addresses unless their host is in ``[open_referral] allow_hosts``: the
fixture runs the test with the settings of data/config.toml and 127.0.0.1 allowed, which is how a
local authority's test feed on its own network is allowed too."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from engagement.settings import CONFIG_FILE

FIXTURES = Path(__file__).parent / "fixtures" / "oruk"
PAGES = [FIXTURES / "la_feed_page1.json", FIXTURES / "la_feed_page2.json"]
FEED = FIXTURES / "la_feed.json"


class Feed:
    """A local feed: the fixture pages at /api/services?page=N, with per-request misbehaviour."""

    def __init__(self):
        self.pages = {n: json.loads(p.read_text()) for n, p in enumerate(PAGES, start=1)}
        self.full = {r["id"]: r for r in json.loads(FEED.read_text())}
        self.trouble: dict[str, list] = {}  # a page's key -> what to do on its next requests
        self.seen: list[str] = []
        self.url = ""
        self.endless = False  # every page says there are more
        self.drip: tuple[int, float] | None = None  # (bytes, seconds between them) instead of an answer
        self.dripped = 0

    def answer(self, path: str, query: dict) -> tuple[int, dict, bytes, float]:
        key = f"{path}?page={query.get('page', [''])[0]}" if path.endswith("/services") else path
        self.seen.append(key)
        trouble = self.trouble.get(key)
        if trouble:
            return trouble.pop(0)
        if self.endless and path.endswith("/services"):
            n = int(query.get("page", ["1"])[0])
            page = {**self.pages[1], "page_number": n, "last_page": False, "total_pages": None}
            return 200, {}, json.dumps(page).encode(), 0
        if path.endswith("/services"):
            page = self.pages.get(int(query.get("page", ["1"])[0]))
            return (200, {}, json.dumps(page).encode(), 0) if page else (404, {}, b"{}", 0)
        found = self.full.get(path.rsplit("/", 1)[-1])
        return (200, {}, json.dumps(found).encode(), 0) if found else (404, {}, b"{}", 0)


def allow_loopback(tmp_path, monkeypatch, hosts: str = '["127.0.0.1"]') -> None:
    """Run with the settings of data/config.toml, the feed's loopback host allowed."""
    text = CONFIG_FILE.read_text(encoding="utf-8")
    assert "allow_hosts = []" in text
    config = tmp_path / "config-loopback-allowed.toml"
    config.write_text(text.replace("allow_hosts = []", f"allow_hosts = {hosts}"), encoding="utf-8")
    monkeypatch.setenv("ENGAGEMENT_CONFIG", str(config))


@pytest.fixture
def feed_server(tmp_path, monkeypatch):
    """A :class:`Feed` served on 127.0.0.1, which the reader may read (see the module); its
    ``url`` is the feed's base address."""
    allow_loopback(tmp_path, monkeypatch)
    feed = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            if feed.drip is not None:
                self.dribble(*feed.drip)
                return
            status, headers, body, delay = feed.answer(url.path, parse_qs(url.query))
            time.sleep(delay)  # the server is slow: the test waits on nothing but the client's answer
            try:
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up on a slow page
                pass

        def dribble(self, n: int, every: float) -> None:
            """An answer that promises ``n`` bytes and sends one each ``every`` seconds."""
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(n))
                self.end_headers()
                for _ in range(n):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    feed.dripped += 1
                    time.sleep(every)
            except OSError:  # the client gave up, as it should
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # shutdown() waits for serve_forever's next poll: 0.5 s by default, after every test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    feed.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    yield feed
    server.shutdown()
    server.server_close()
