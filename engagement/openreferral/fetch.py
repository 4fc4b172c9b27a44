"""Reading an Open Referral feed over HTTP, page by page and politely."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engagement.settings import load_settings

MAX_PAGES = 10_000


class FeedError(Exception):
    """A feed or file that cannot be read; the message says which and why."""


@dataclass
class FeedClient:
    """Reads a feed politely: ``timeout`` seconds per request, up to ``retries`` more attempts
    after a timeout, a dropped connection, a 429 or a 5xx (waiting ``Retry-After`` when the
    server says, else ``backoff`` doubling each time, never more than ``max_wait``), and at
    least ``interval`` seconds between requests. ``sleep`` is replaceable for tests."""

    timeout: float = 20.0
    retries: int = 3
    backoff: float = 1.0
    max_wait: float = 60.0
    interval: float = 0.2
    per_page: int = 200
    sleep: Callable[[float], None] = time.sleep
    requests: int = 0
    _last: float = field(default=0.0, repr=False)

    def get_json(self, client, url: str, params: dict | None = None) -> Any:
        import httpx

        where = str(httpx.URL(url, params=params or {}))
        for attempt in range(self.retries + 1):
            wait = self.interval - (time.monotonic() - self._last)
            if wait > 0:
                self.sleep(wait)
            self._last = time.monotonic()
            self.requests += 1
            last_try = attempt == self.retries
            try:
                response, body = self._get(client, url, params, where)
            except httpx.TimeoutException as error:
                if last_try:
                    raise FeedError(
                        f"{where}: no answer within {self.timeout:g} s, {attempt + 1} tries; try again later"
                    ) from error
                self.sleep(min(self.backoff * 2**attempt, self.max_wait))
                continue
            except httpx.HTTPError as error:
                if last_try:
                    raise FeedError(f"{where}: cannot be reached ({error}), {attempt + 1} tries") from error
                self.sleep(min(self.backoff * 2**attempt, self.max_wait))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if last_try:
                    what = "asks us to slow down (429)" if response.status_code == 429 else "has an error"
                    raise FeedError(
                        f"{where}: the server {what}: HTTP {response.status_code} after {attempt + 1} tries; "
                        "try again later"
                    )
                self.sleep(self._retry_after(response, attempt))
                continue
            if response.status_code >= 400:
                raise FeedError(f"{where}: the server refused it: HTTP {response.status_code}")
            try:
                return json.loads(body)
            except ValueError as error:
                raise FeedError(f"{where}: the answer is not valid JSON ({error})") from error
        raise AssertionError("unreachable")

    def _get(self, client, url: str, params: dict | None, where: str) -> tuple[Any, bytes]:
        """The response and its body, read no further than the import's file size limit: a
        page of a directory is a few MB; a server that sends more is not a directory."""
        limit = int(load_settings().imports.max_file_mb * 1_000_000)
        with client.stream("GET", url, params=params, timeout=self.timeout) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise FeedError(
                        f"{where}: the answer is over {limit / 1_000_000:g} MB, the limit for a file; "
                        "ask for smaller pages or save the feed as files"
                    )
        return response, bytes(body)

    def _retry_after(self, response, attempt: int) -> float:
        text = response.headers.get("Retry-After", "")
        try:
            return min(max(float(text), 0.0), self.max_wait)
        except ValueError:
            return min(self.backoff * 2**attempt, self.max_wait)


def _services_url(url: str) -> str:
    """A feed's ``/services`` address from its base address (or that address itself)."""
    base = url.split("?", 1)[0].rstrip("/")
    return base if base.endswith("/services") else base + "/services"


def fetch_feed(url: str, client: FeedClient | None = None, http=None) -> list[tuple[str, dict]]:
    """Every service of a feed, page by page, as (where, record). An item of a page without its
    locations (a flat ``/services`` item) is read again whole from ``/services/{id}``. Raises
    :class:`FeedError` at the first page that cannot be read."""
    import httpx

    client = client or FeedClient()
    own = http is None
    http = http or httpx.Client(
        headers={"User-Agent": "community-engagement-map (a school's partner directory)", "Accept": "application/json"},
        follow_redirects=True,
    )
    out: list[tuple[str, dict]] = []
    try:
        services = _services_url(url)
        page = 1
        while True:
            body = client.get_json(http, services, {"page": page, "per_page": client.per_page})
            where = f"{services} page {page}"
            if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
                raise FeedError(f"{where}: not a /services page (no list of contents)")
            for i, item in enumerate(body["contents"], start=1):
                if isinstance(item, dict) and "service_at_locations" not in item and item.get("id"):
                    full = client.get_json(http, f"{services}/{item['id']}")
                    if not isinstance(full, dict):
                        raise FeedError(f"{services}/{item['id']}: not a service record")
                    item = full
                out.append((f"{where}, item {i}", item))
            total = body.get("total_pages")
            if (
                body.get("last_page") is True
                or not body["contents"]
                or (isinstance(total, int) and page >= total)
                or page >= MAX_PAGES
            ):
                break
            page += 1
    finally:
        if own:
            http.close()
    return out
