"""The harness's wait for a settled page (``harness.wait_ready``), on a page of its own that shows
Streamlit's markers without a Streamlit behind it: the wait holds while the script runs, while a
request is open, while an element is still a skeleton, while the DOM keeps changing and while websocket frames keep coming (a component's
value on its way to the server, a rerun's output on its way back), and ends once they have stopped. Every
browser test reads its page after this wait, so a wait ending early would have them judge a page
half drawn."""

from __future__ import annotations

import threading

import pytest

from . import harness as h

pytestmark = pytest.mark.browser

PAGE = """<!DOCTYPE html><html><body>
<div data-testid="stApp" data-test-connection-state="CONNECTED" data-test-script-state="running">
  <div data-testid="stMain"><p id="ticks">0</p></div>
</div></body></html>"""


def _serve_page(connection, request):
    """The page for ``/``; anything else is a websocket handshake."""
    if request.path != "/":
        return None
    response = connection.respond(200, PAGE)
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


@pytest.fixture
def fake_app(chromium):
    """A page that looks like a Streamlit app with its script running, from a real websocket server
    on loopback that takes every frame and answers none (Playwright reports no frames of a
    websocket it mocks itself, and Chromium lets only a page from loopback open a socket there);
    ``/slow`` is answered only when the test says so (the held requests are yielded alongside)."""
    from websockets.sync.server import serve  # Streamlit's own dependency

    held: list = []
    with serve(lambda ws: [None for _ in ws], "127.0.0.1", 0, process_request=_serve_page) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        origin = f"http://127.0.0.1:{server.socket.getsockname()[1]}"
        with h.visit(chromium, origin, "harness") as (record, page):
            page.route(f"{origin}/slow", lambda route: held.append(route))  # answered by the test
            page.goto(f"{origin}/", wait_until="domcontentloaded")
            yield page, held
        server.shutdown()
    assert not record.problems(), "\n".join(record.problems())


# The two tests whose page acts every 20 ms (a DOM change, a websocket frame) ask for a longer quiet
# spell than the harness's own: on a loaded machine (four workers on two cores, load 15-18) the
# browser itself paused for more than 300 ms between two frames, the wait rightly ended, and the
# test failed. What they test, that the wait holds while something keeps happening, is the same for
# any length of quiet.
STALL_PROOF_QUIET_MS = 1_000
STALL_PROOF_TIMEOUT_MS = 3_000


def _finish_run(page) -> None:
    page.evaluate("() => { document.querySelector('[data-testid=stApp]').dataset.testScriptState = 'notRunning'; }")


def test_the_wait_holds_while_the_script_runs(fake_app):
    page, _ = fake_app
    with pytest.raises(TimeoutError, match=r"not idle \(script running\)"):
        h.wait_ready(page, timeout_ms=1_500)
    _finish_run(page)
    h.wait_ready(page, timeout_ms=10_000)


def test_the_wait_holds_while_an_element_is_a_skeleton(fake_app):
    """Streamlit draws a skeleton where an element's code is still loading (or a component is
    not ready yet); once loaded, the code may compile off the main thread for longer than the
    quiet period, with nothing else happening meanwhile."""
    page, _ = fake_app
    _finish_run(page)
    page.evaluate(
        """() => { const s = document.createElement('div'); s.dataset.testid = 'stSkeleton';
             document.querySelector('[data-testid=stMain]').append(s); }"""
    )
    with pytest.raises(TimeoutError, match=r"not idle \(skeleton\)"):
        h.wait_ready(page, timeout_ms=1_500)
    page.evaluate("() => document.querySelector('[data-testid=stSkeleton]').remove()")
    h.wait_ready(page, timeout_ms=10_000)


def test_the_wait_holds_while_a_request_is_open(fake_app):
    page, held = fake_app
    _finish_run(page)
    with page.expect_request("**/slow"):
        page.evaluate("() => { fetch('/slow'); }")
    with pytest.raises(TimeoutError, match="/slow"):
        h.wait_ready(page, timeout_ms=1_500)
    assert len(held) == 1
    held[0].fulfill(status=200, body="done")
    h.wait_ready(page, timeout_ms=10_000)


def test_the_wait_holds_while_the_dom_keeps_changing(fake_app):
    page, _ = fake_app
    _finish_run(page)
    page.evaluate(
        """() => { window.ticker = setInterval(() => {
             const p = document.getElementById('ticks'); p.textContent = +p.textContent + 1; }, 20); }"""
    )
    with pytest.raises(TimeoutError, match="Streamlit idle, quiet for"):
        h.wait_ready(page, timeout_ms=STALL_PROOF_TIMEOUT_MS, quiet_ms=STALL_PROOF_QUIET_MS)
    ticks = page.evaluate(
        "() => { clearInterval(window.ticker); return +document.getElementById('ticks').textContent; }"
    )
    assert ticks > 0
    h.wait_ready(page, timeout_ms=10_000)
    assert page.evaluate("() => +document.getElementById('ticks').textContent") == ticks


def test_the_wait_holds_while_websocket_frames_keep_coming(fake_app):
    page, _ = fake_app
    _finish_run(page)
    page.evaluate(
        """() => new Promise((opened, failed) => {
             const socket = new WebSocket(`ws://${location.host}/ws`);
             socket.onerror = () => failed(new Error('the websocket did not open'));
             socket.onopen = () => { window.sender = setInterval(() => socket.send('x'), 20); opened(); }; })"""
    )
    with pytest.raises(TimeoutError, match="Streamlit idle, quiet for"):
        h.wait_ready(page, timeout_ms=STALL_PROOF_TIMEOUT_MS, quiet_ms=STALL_PROOF_QUIET_MS)
    page.evaluate("() => clearInterval(window.sender)")
    h.wait_ready(page, timeout_ms=10_000)
