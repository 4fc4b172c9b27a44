"""Times the Partner map page with many partners: the server-side cost of a rerun (AppTest, a
filter change and a rerun with nothing changed) and, unless --no-browser, how soon headless
Chromium shows the markers after navigation. Prints one JSON line. Called by
engagement.map_bench.bench_page; run it alone as ``python scripts/bench_partner_map.py``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from engagement.map_bench import demo_with_partners  # noqa: E402


def rerun_cost(url: str, repeats: int = 5) -> dict:
    from streamlit.testing.v1 import AppTest

    os.environ["DATABASE_URL"] = url
    at = AppTest.from_file(str(PROJECT / "app_pages" / "partner_map.py"), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    same, changed = [], []
    for i in range(repeats):
        started = time.perf_counter()
        at.run()
        same.append(time.perf_counter() - started)
        started = time.perf_counter()
        at.sidebar.multiselect(key="map_layers").set_value([3] if i % 2 == 0 else []).run()
        changed.append(time.perf_counter() - started)
    assert not at.exception
    return {"rerun_s": round(statistics.median(changed), 3), "rerun_unchanged_s": round(statistics.median(same), 3)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def browser_time(url: str, repeats: int = 5) -> dict:
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
        cwd=PROJECT,
        env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{origin}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            # Outside hosts fail to resolve (tiles included): no request leaves the machine, and
            # unlike page.route this keeps the browser's HTTP cache, which a return visit uses.
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--disable-sync",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                ],
            )

            def visit(context) -> tuple[float, float]:
                """Seconds from navigation to the page's heading (Streamlit's own share, before
                the map can start) and to the first partner markers."""
                page = context.new_page()
                started = time.perf_counter()
                page.goto(f"{origin}/partner_map")
                page.get_by_role("heading", name="Partner map").wait_for(timeout=60_000)
                heading = time.perf_counter() - started
                frame = page.frame_locator("iframe[title='streamlit_folium.st_folium']")
                frame.locator(".partner-cluster, .partner-mark >> nth=1").first.wait_for(timeout=60_000)
                markers = time.perf_counter() - started
                page.close()
                return heading, markers

            viewport = {"width": 1600, "height": 1000}
            _, cold = visit(browser.new_context(viewport=viewport))  # also warms the server's caches
            first, again = [], []
            for _ in range(repeats):
                context = browser.new_context(viewport=viewport)  # an empty browser cache
                first.append(visit(context))
                again.append(visit(context))  # the everyday case: the app's scripts already cached
                context.close()
            browser.close()
        return {
            "markers_visible_s": round(statistics.median(m for _, m in again), 3),
            "heading_visible_s": round(statistics.median(h for h, _ in again), 3),
            "markers_visible_first_visit_s": round(statistics.median(m for _, m in first), 3),
            "heading_visible_first_visit_s": round(statistics.median(h for h, _ in first), 3),
            "markers_visible_cold_server_s": round(cold, 3),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partners", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5, help="runs per timing (median taken)")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = demo_with_partners(Path(tmp) / "bench.db", args.partners)
        result = {"partners": args.partners, **rerun_cost(url, args.repeats)}
        if not args.no_browser:
            result.update(browser_time(url, args.repeats))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
