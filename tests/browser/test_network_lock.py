"""The browser tests' network lock: a page's requests to anywhere but loopback are recorded as
outside requests and never leave the machine (Chromium sends them to a dead proxy on loopback, and
resolves no name but loopback's), a server of the test's own on loopback is reached when a visit
allows it, and a map test's tile hosts are answered in the browser with a blank tile. Every other
browser test's "no outside request" rests on this."""

from __future__ import annotations

import socket

import pytest

from . import harness as h

pytestmark = pytest.mark.browser

OUTSIDE = [
    "http://example.com/by-name.png",
    "http://93.184.216.34/by-address.png",  # an address, which no resolver is asked for
    "https://fonts.example.org/font.css",
]


def _page(tiles: str) -> str:
    images = "".join(f'<img src="{url}" alt="">' for url in [OUTSIDE[0], OUTSIDE[1], f"{tiles}/1/0/0.png"])
    return (
        f'<!DOCTYPE html><html><head><link rel="icon" href="data:,"><link rel="stylesheet" href="{OUTSIDE[2]}"></head>'
        f'<body>{images}<img src="https://a.tile.example.net/1/0/0.png" alt="">'
        "<script>try { new WebSocket('ws://example.com/socket'); } catch (e) {}</script></body></html>"
    )


def page_server(html: str):
    """The test's page at ``/`` of a loopback server (a context manager yielding its origin)."""
    return h.loopback_server(
        lambda path: (200, "text/html; charset=utf-8", html.encode()) if path == "/" else (404, "text/plain", b"")
    )


def _load(chromium, origin: str, allow_hosts=(), allow=()) -> tuple[h.Visit, dict[str, str]]:
    failed: dict[str, str] = {}
    loaded: dict[str, str] = {}
    with h.visit(chromium, origin, "network lock", allow_hosts=allow_hosts) as (record, page):
        for other in allow:
            h.allow_origin(record, other)
        page.on("requestfailed", lambda request: failed.__setitem__(request.url, request.failure or ""))
        page.on("requestfinished", lambda request: loaded.__setitem__(request.url, "loaded"))
        page.goto(origin + "/", wait_until="load")
        page.wait_for_timeout(200)  # the websocket's attempt, after the load event
    return record, {**loaded, **failed}


def test_the_proxy_the_browser_is_given_refuses_every_connection():
    args = h.launch_args()
    proxy = next(a for a in args if a.startswith("--proxy-server="))
    host, port = proxy.removeprefix("--proxy-server=http://").split(":")
    assert host == "127.0.0.1"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()
    assert "--proxy-bypass-list=127.0.0.1;localhost" in args
    assert any(a.startswith("--host-resolver-rules=MAP * ~NOTFOUND") for a in args)


def test_outside_requests_are_recorded_and_never_leave_while_an_allowed_loopback_server_is_reached(chromium):
    with h.blank_tile_server() as tiles, page_server(_page(tiles)) as origin:
        record, outcome = _load(chromium, origin, allow=[tiles])
    for url in [*OUTSIDE, "https://a.tile.example.net/1/0/0.png"]:
        assert url in record.outside, (url, record.outside)
        assert "PROXY_CONNECTION_FAILED" in outcome[url] or "NAME_NOT_RESOLVED" in outcome[url], (url, outcome)
    assert "ws://example.com/socket" in record.outside
    assert outcome[f"{tiles}/1/0/0.png"] == "loaded"
    assert not [url for url in record.outside if url.startswith(tiles)]
    # Each outside request is one problem of the visit, not a console error besides.
    problems = record.problems()
    assert not record.console_errors, record.console_errors
    assert any("example.com" in p for p in problems) and any("93.184.216.34" in p for p in problems)


def test_without_allowing_it_a_loopback_server_of_the_tests_own_is_an_outside_request(chromium):
    with h.blank_tile_server() as tiles, page_server(_page(tiles)) as origin:
        record, _ = _load(chromium, origin)
    assert f"{tiles}/1/0/0.png" in record.outside


def test_a_map_tests_tile_host_is_answered_in_the_browser_and_the_rest_aborted(chromium):
    with h.blank_tile_server() as tiles, page_server(_page(tiles)) as origin:
        record, outcome = _load(chromium, origin, allow_hosts=["*.tile.example.net"])
    assert record.allowed_outside == ["https://a.tile.example.net/1/0/0.png"]
    assert outcome["https://a.tile.example.net/1/0/0.png"] == "loaded"
    for url in OUTSIDE:
        assert url in record.outside and "BLOCKED_BY_CLIENT" in outcome[url], (url, outcome)
