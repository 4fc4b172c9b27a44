"""The one guarded reader of outside addresses: every Open Referral feed (and any other URL the app
is given) is read here, and only here.

It reads ``http`` and ``https`` only. Before each connection (the first and every redirect's) the
host's addresses, as DNS gives them, are checked, and the connection is made to the address that
was checked, so a name cannot be switched to another address between the check and the connection:
loopback, private, shared, link-local and cloud metadata addresses are refused unless the host is
in the setting ``[open_referral] allow_hosts`` (how a local authority's test feed on its own
network is allowed, and how the tests reach their feed on 127.0.0.1). A host that cannot be reached
gets one message whatever the reason (refused, silent, reset), so the errors never tell an open
port from a closed one. Proxies from the environment are not used: they would reach what the guard
refuses.

Each reading has limits, as settings with defaults, and each says in one line which was hit: a
total deadline per request (however slowly its answer drips) and per import, bytes per answer and
per import, pages per import and the nesting depth of a document. Pages are handed on as they come
(:func:`iter_feed`), not kept. Politeness stays: a silence longer than the read timeout, a dropped
connection, a 429 or a 5xx is tried again with backoff that honours ``Retry-After``, and requests
are spaced by ``interval``; the clock and the sleep are the client's, so tests give their own.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpcore
import httpx
import numpy as np

from engagement.settings import load_settings

MAX_REDIRECTS = 5
USER_AGENT = "community-engagement-map (a school's partner directory)"
# Cloud metadata services: link-local or private already, named so the refusal says what they are.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not the public internet
# Query parameters whose values are secrets: never stored, logged or printed.
SECRET_WORDS = ("key", "token", "secret", "pass", "pwd", "auth", "sig", "session", "credential", "code")

Resolver = Callable[[str, int], list[str]]


class FeedError(Exception):
    """A feed or file that cannot be read; the message says which and why."""


class Refused(FeedError):
    """The address is one the reader does not read: refused before any connection."""


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses DNS gives for ``host`` (each once, in its order)."""
    return list(dict.fromkeys(str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)))


def address_refusal(address: str) -> str | None:
    """Why an address is not read (in words), or None for a public address.

    >>> address_refusal("169.254.169.254"), address_refusal("::ffff:10.0.0.7"), address_refusal("93.184.215.14")
    ('a cloud metadata address', 'a private network', None)
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an address that is not public"
    if ip.is_loopback:
        return "this server itself (loopback)"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in SHARED_NETWORK):
        return "a private network"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "an address that is not public"
    return None


def host_allowed(host: str, allow_hosts: Iterable[str]) -> bool:
    wanted = host.strip("[]").lower().rstrip(".")
    return any(wanted == h.strip().strip("[]").lower().rstrip(".") for h in allow_hosts)


def checked_addresses(host: str, port: int, allow_hosts: Iterable[str], resolver: Resolver) -> list[str]:
    """The addresses of ``host`` the reader may connect to: all of them for a host of the
    allow-list; otherwise every one must be public, else :class:`Refused` (one bad address is
    enough: DNS may answer differently at the connection)."""
    try:
        addresses = resolver(host.strip("[]"), port)
    except (OSError, UnicodeError) as error:
        raise _Unreachable(str(error)) from error
    if not addresses:
        raise _Unreachable("no address")
    if host_allowed(host, allow_hosts):
        return addresses
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise Refused(
                f"its host {host} is {reason}; a feed there is read only when its host is in the setting "
                "[open_referral] allow_hosts"
            )
    return addresses


class _Unreachable(Exception):
    """A host that cannot be reached, whatever the reason (never said, see the module)."""


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses :func:`checked_addresses` passed, to the very address checked."""

    def __init__(self, allow_hosts: list[str], resolver: Resolver):
        self.allow_hosts, self.resolver = allow_hosts, resolver

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        error: Exception | None = None
        for address in checked_addresses(host, port, self.allow_hosts, self.resolver):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                error = e
        raise _Unreachable("no address answered") from error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover - never asked
        raise _Unreachable("not a network address")


def guarded_http(allow_hosts: list[str], resolver: Resolver = system_resolver) -> httpx.Client:
    """An HTTP client whose every connection goes through the guard, redirects not followed by
    itself (:meth:`FeedClient._get` follows them, checking each)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # The transport's own pool, with the guarded network backend (httpx has no argument for it).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend(allow_hosts, resolver)
    )
    return httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
    )


def public_url(url: str) -> str:
    """An address as it may be stored, logged and printed: no user name or password, and the values
    of query parameters that look secret replaced.

    >>> public_url("https://ann:pw@la.example/api?page=2&api_key=abc")
    'https://la.example/api?page=2&api_key=REDACTED'
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(an address that cannot be read)"
    params = [
        (k, "REDACTED" if any(w in k.lower() for w in SECRET_WORDS) else v) for k, v in parsed.params.multi_items()
    ]
    clean = parsed.copy_with(username=None, password=None, fragment=None, query=None)
    return str(clean.copy_with(params=params) if params else clean)


def is_web_address(text: Any) -> bool:
    return isinstance(text, str) and text.strip().lower().startswith(("http://", "https://"))


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]")


def nesting_depth(data: bytes) -> int:
    """How deep a JSON document's arrays and objects nest, counted without parsing it (a parser
    would recurse as deep as the document asks).

    >>> nesting_depth(b'{"a": [1, {"b": "[[["}]}')
    3
    """
    brackets = np.frombuffer(_NOT_BRACKETS.sub(b"", _STRINGS.sub(b'""', data)), dtype=np.uint8)
    if not len(brackets):
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def parse_json(data: bytes, name: str, max_depth: int | None = None, answer: bool = False) -> Any:
    """A JSON document read from ``data``, or :class:`FeedError` naming ``name`` and the reason."""
    what = f"{name}: the answer" if answer else f"{name}:"
    depth_limit = max_depth if max_depth is not None else load_settings().open_referral.max_depth
    if nesting_depth(data) > depth_limit:
        raise FeedError(
            f"{what} is nested deeper than {depth_limit} levels, the limit for a document ([open_referral] max_depth)"
        )
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise FeedError(f"{what} is not UTF-8 text") from error
    except ValueError as error:
        raise FeedError(f"{what} is not valid JSON ({error})") from error


@dataclass
class FeedClient:
    """Reads a feed politely and within limits: ``timeout`` seconds of silence before a request is
    tried again (up to ``retries`` more attempts after a timeout, a dropped connection, a 429 or a
    5xx, waiting ``Retry-After`` when the server says, else ``backoff`` doubling each time, never
    more than ``max_wait``), at least ``interval`` seconds between requests. The limits left None
    come from ``[open_referral]`` of the settings. ``sleep`` and ``clock`` are replaceable for
    tests, and ``resolver`` (the DNS lookup) too. One client serves one import (:meth:`begin`)."""

    timeout: float | None = None
    retries: int = 3
    backoff: float = 1.0
    max_wait: float = 60.0
    interval: float = 0.2
    per_page: int = 200
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    resolver: Resolver = system_resolver
    allow_hosts: list[str] | None = None
    request_seconds: float | None = None
    import_seconds: float | None = None
    max_answer_mb: float | None = None
    max_import_mb: float | None = None
    max_pages: int | None = None
    max_depth: int | None = None
    requests: int = 0
    pages: int = 0
    bytes_read: int = 0
    _last: float | None = field(default=None, repr=False)
    _import_deadline: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        limits = load_settings().open_referral
        for name, value in (
            ("timeout", limits.read_timeout_seconds),
            ("allow_hosts", list(limits.allow_hosts)),
            ("request_seconds", limits.request_seconds),
            ("import_seconds", limits.import_seconds),
            ("max_answer_mb", limits.max_answer_mb),
            ("max_import_mb", limits.max_import_mb),
            ("max_pages", limits.max_pages),
            ("max_depth", limits.max_depth),
        ):
            if getattr(self, name) is None:
                setattr(self, name, value)

    def begin(self) -> None:
        """Start an import: its deadline, bytes and pages are counted from now."""
        self.pages = self.bytes_read = 0
        self._import_deadline = self.clock() + float(self.import_seconds or 0)

    def http(self) -> httpx.Client:
        return guarded_http(list(self.allow_hosts or []), self.resolver)

    def _deadline(self) -> float:
        if self._import_deadline is None:
            self.begin()
        assert self._import_deadline is not None
        return self._import_deadline

    def _import_too_long(self, where: str) -> FeedError:
        return FeedError(
            f"{where}: the import took longer than {self.import_seconds:g} s, the limit for one import "
            "([open_referral] import_seconds); nothing was imported"
        )

    def _pause(self, seconds: float, where: str) -> None:
        if self.clock() + seconds > self._deadline():
            raise self._import_too_long(where)
        self.sleep(seconds)

    def get_json(self, http: httpx.Client, url: str, params: dict | None = None) -> Any:
        try:
            where = public_url(str(httpx.URL(url, params=params or {})))
        except (httpx.InvalidURL, TypeError, ValueError) as error:
            raise FeedError(f"{public_url(url)}: is not a web address that can be read") from error
        for attempt in range(self.retries + 1):
            if self._last is not None:
                wait = self.interval - (self.clock() - self._last)
                if wait > 0:
                    self._pause(wait, where)
            self._last = self.clock()
            self.requests += 1
            last_try = attempt == self.retries
            try:
                status, headers, body = self._get(http, url, params, where)
            except Refused as refused:
                raise Refused(f"{where}: not read: {refused}") from None
            except (_Unreachable, httpx.HTTPError) as error:
                if last_try:
                    # The same words whatever went wrong (refused, silent, reset, not HTTP): they must
                    # not tell an open port from a closed one.
                    raise FeedError(
                        f"{where}: cannot be reached as a feed (no answer within {self.timeout:g} s, or the "
                        f"connection failed), {attempt + 1} tries; try again later"
                    ) from error
                self._pause(min(self.backoff * 2**attempt, self.max_wait), where)
                continue
            if status == 429 or status >= 500:
                if last_try:
                    what = "asks us to slow down (429)" if status == 429 else "has an error"
                    raise FeedError(
                        f"{where}: the server {what}: HTTP {status} after {attempt + 1} tries; try again later"
                    )
                self._pause(self._retry_after(headers, attempt), where)
                continue
            if status >= 300:
                raise FeedError(f"{where}: the server refused it: HTTP {status}")
            return parse_json(body, where, self.max_depth, answer=True)
        raise AssertionError("unreachable")

    def _get(self, http: httpx.Client, url: str, params: dict | None, where: str) -> tuple[int, httpx.Headers, bytes]:
        """Status, headers and body of one request, its redirects followed (each checked again by
        the guard), within the request's and the import's deadlines and byte limits."""
        started = self.clock()
        request_deadline = started + float(self.request_seconds or 0)
        deadline = min(request_deadline, self._deadline())
        answer_limit = int(float(self.max_answer_mb or 0) * 1_000_000)
        import_limit = int(float(self.max_import_mb or 0) * 1_000_000)

        def too_slow() -> FeedError:
            if deadline < request_deadline:
                return self._import_too_long(where)
            return FeedError(
                f"{where}: no complete answer within {self.request_seconds:g} s, the limit for one request "
                "([open_referral] request_seconds)"
            )

        for _hop in range(MAX_REDIRECTS + 1):
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise too_slow()
            timeout = httpx.Timeout(min(float(self.timeout or remaining), remaining))
            with http.stream("GET", url, params=params, timeout=timeout) as response:
                if response.is_redirect:
                    target = response.url.join(response.headers.get("Location", ""))
                    if target.scheme not in ("http", "https"):
                        raise FeedError(f"{where}: redirected to an address that is not http(s); not followed")
                    url, params = str(target), None
                    continue
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    self.bytes_read += len(chunk)
                    if len(body) > answer_limit:
                        raise FeedError(
                            f"{where}: the answer is over {self.max_answer_mb:g} MB, the limit for one answer "
                            "([open_referral] max_answer_mb); ask for smaller pages or save the feed as files"
                        )
                    if self.bytes_read > import_limit:
                        raise FeedError(
                            f"{where}: the import read over {self.max_import_mb:g} MB, the limit for one import "
                            "([open_referral] max_import_mb); nothing was imported"
                        )
                    if self.clock() > deadline:
                        raise too_slow()
                return response.status_code, response.headers, bytes(body)
        raise FeedError(f"{where}: more than {MAX_REDIRECTS} redirects; not followed")

    def _retry_after(self, headers: httpx.Headers, attempt: int) -> float:
        text = headers.get("Retry-After", "")
        try:
            return min(max(float(text), 0.0), self.max_wait)
        except ValueError:
            return min(self.backoff * 2**attempt, self.max_wait)

    def count_bytes(self, n: int, name: str) -> None:
        """Count a file read in this import against ``max_import_mb``."""
        self.bytes_read += n
        if self.bytes_read > int(float(self.max_import_mb or 0) * 1_000_000):
            raise FeedError(
                f"{name}: the import read over {self.max_import_mb:g} MB, the limit for one import "
                "([open_referral] max_import_mb); nothing was imported"
            )


def _services_url(url: str) -> str:
    """A feed's ``/services`` address from its base address (or that address itself)."""
    base = url.split("?", 1)[0].rstrip("/")
    return base if base.endswith("/services") else base + "/services"


def iter_feed(
    url: str, client: FeedClient | None = None, http: httpx.Client | None = None
) -> Iterator[tuple[str, dict]]:
    """Every service of a feed, page by page as the pages come, as (where, record). An item of a
    page without its locations (a flat ``/services`` item) is read again whole from
    ``/services/{id}``. Raises :class:`FeedError` at the first page that cannot be read, and when a
    limit is hit."""
    if not is_web_address(url):
        raise FeedError(f"{public_url(url)}: only http and https addresses are read")
    client = client or FeedClient()
    own = http is None
    http = http or client.http()
    try:
        services = _services_url(url.strip())
        shown = public_url(services)
        page = 1
        while True:
            if client.pages >= int(client.max_pages or 0):
                raise FeedError(
                    f"{shown}: still more pages after {client.max_pages}, the limit for one import "
                    "([open_referral] max_pages); nothing was imported"
                )
            body = client.get_json(http, services, {"page": page, "per_page": client.per_page})
            client.pages += 1
            where = f"{shown} page {page}"
            if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
                raise FeedError(f"{where}: not a /services page (no list of contents)")
            contents = body["contents"]
            for i, item in enumerate(contents, start=1):
                if isinstance(item, dict) and "service_at_locations" not in item and item.get("id"):
                    full = client.get_json(http, f"{services}/{quote(str(item['id']), safe='')}")
                    if not isinstance(full, dict):
                        raise FeedError(f"{shown}/{item['id']}: not a service record")
                    item = full
                yield f"{where}, item {i}", item
            total = body.get("total_pages")
            if body.get("last_page") is True or not contents or (isinstance(total, int) and page >= total):
                break
            page += 1
            del body, contents  # a page read is handed on, not kept
    finally:
        if own:
            http.close()


def fetch_feed(url: str, client: FeedClient | None = None, http: httpx.Client | None = None) -> list[tuple[str, dict]]:
    """:func:`iter_feed` as a list."""
    return list(iter_feed(url, client, http))
