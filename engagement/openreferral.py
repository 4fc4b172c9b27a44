"""Open Referral UK 3.0: a school starts its partner directory from the local authority's (or the
Family Hub's) directory of services, keeps it up to date by importing it again, and gives its own
directory back in the same standard. The official schemas are in ``shared/standards/oruk-3.0``.

**Import** (:func:`import_oruk`) reads JSON files, uploads or a feed's base URL: a ``/services``
page (the paging wrapper with ``contents``), a JSON array of services, or one full service. A feed
is followed page by page, politely (:class:`FeedClient`: a timeout per request, a few retries
with backoff that honour ``Retry-After``, a pause between requests, one clear message per failure),
and nothing is written until every page has been read and every record checked.

Each service, with its organisation and location, becomes a service of a partner: one partner per
organisation and location (an organisation with services in two places is two partners, named
"Organisation – Place"), holding address, postcode, coordinates, an email, a phone, ages, costs,
languages, weekly sessions, eligibility and the status. A partner is active while any of its
services is active or temporarily closed, lapsed once all are inactive or defunct. ``assured_date``
is when the partner was last checked. Taxonomy terms map onto the typology's categories through
``data/oruk_categories.toml`` (:func:`load_category_map`); a service none of whose terms maps is
listed with its terms and either takes the default category given or is left out: never guessed.

A re-import matches partners by their Open Referral organisation and location and services by
their Open Referral id. Each partner and service keeps the feed's values as last imported
(``oruk_record``): a stored value still equal to it follows the feed; one that differs is the
school's own (a status it set, a contact it corrected) and stays. Notes, contacts the school
typed, the partner's history and links to families are the school's and never touched; a value
the feed leaves out never erases one. Services imported before that the feed no longer lists are
closed (``inactive``), never deleted. :func:`plan_import` (the dry run) says what would be
added, changed and closed; :func:`import_oruk` writes it in one transaction with one audit event.

**Export** (:func:`export_oruk`) writes ``services/<id>.json`` (one full service record each) and
``services.json`` (one ``/services`` page holding them all), with no field the UK profile does not
define, so each validates against the compiled schemas. Every partner and service has an Open
Referral id: the one it came with, else one made from its own reference (a UUID 5), so an export
imported again matches what it came from and changes nothing. What the profile has no place for
travels as taxonomy terms of the app's own taxonomies (the category, tags, way in, SEND,
languages, eligibility, delivery). The UK profile has no phone numbers: a partner's phone is not
exported.

>>> category_map = CategoryMap({"food banks": "food bank"}, "test")
>>> category_map.category_of([{"name": "Food Banks", "taxonomy": "esd"}])
'food bank'
>>> category_map.category_of([{"name": "Bingo"}]) is None
True
"""

from __future__ import annotations

import datetime
import json
import re
import time
import tomllib
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from engagement import geo
from engagement import store as db
from engagement.interchange import parse_list
from engagement.services import ACCESS, DAYS, DELIVERY, ORUK_DAYS, SERVICE_STATUSES, sessions_text
from engagement.settings import load_settings
from engagement.typology import DATA_DIR, load_typology

CATEGORY_MAP_FILE = DATA_DIR / "oruk_categories.toml"
# The app's own taxonomies: what the UK profile has no field for travels as their terms.
TYPOLOGY_TAXONOMY = "community engagement typology"
TAGS_TAXONOMY = "community engagement tags"
ACCESS_TAXONOMY = "access"
SEND_TAXONOMY = "SEND"
SEND_TERM = "SEND inclusive"
LANGUAGE_TAXONOMY = "language"
ELIGIBILITY_TAXONOMY = "eligibility"
DELIVERY_TAXONOMY = "delivery"
OWN_TAXONOMIES = {
    t.lower()
    for t in (
        TYPOLOGY_TAXONOMY,
        TAGS_TAXONOMY,
        ACCESS_TAXONOMY,
        SEND_TAXONOMY,
        LANGUAGE_TAXONOMY,
        ELIGIBILITY_TAXONOMY,
        DELIVERY_TAXONOMY,
    )
}
# Ids made from the app's own references (uuid5 of this namespace): stable, so a re-exported
# directory keeps its ids.
NAMESPACE = uuid.UUID("5b0f1d8e-5a52-4a53-9a0c-3b1e0c6f1a18")
# What the feed decides about a partner and a service (the rest is the school's alone).
PARTNER_FIELDS = (
    "name",
    "category",
    "address",
    "postcode",
    "latitude",
    "longitude",
    "contact_name",
    "contact_email",
    "contact_phone",
    "status",
    "last_verified",
)
SERVICE_FIELDS = (
    "name",
    "tags",
    "min_age",
    "max_age",
    "cost",
    "languages",
    "delivery",
    "sessions",
    "access",
    "eligibility",
    "send_inclusive",
    "status",
)
OPEN_STATUSES = ("active", "temporarily closed")
CLOSED_STATUS = "inactive"
LIMITS = {"name": 300, "contact_name": 200, "contact_email": 200, "contact_phone": 50, "postcode": 16}
MAX_PAGES = 10_000


def made_id(*parts: str) -> str:
    """The Open Referral id the app gives something of its own (a UUID 5 of its references).

    >>> made_id("S1-P001") == made_id("S1-P001"), len(made_id("x"))
    (True, 36)
    """
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _key(text) -> str:
    return " ".join(str(text or "").lower().split())


# ---------------------------------------------------------------- the mapping of taxonomy terms


class CategoryMapError(ValueError):
    """The mapping file cannot be used; the message names the line."""


@dataclass(frozen=True)
class CategoryMap:
    """Taxonomy terms (name, ``term`` or id, any case) to categories of the typology."""

    terms: dict[str, str]
    source: str

    def category_of(self, terms: Iterable[dict]) -> str | None:
        """The category of the first term that maps (a term of the app's own typology taxonomy
        is the category of its name), or None."""
        typology = load_typology()
        terms = list(terms)
        for term in terms:
            if _key(term.get("taxonomy")) == TYPOLOGY_TAXONOMY:
                found = typology.category(str(term.get("name") or term.get("term") or ""))
                if found is not None:
                    return found.name
        for term in terms:
            for text in (term.get("name"), term.get("term"), term.get("id")):
                category = self.terms.get(_key(text)) if text else None
                if category:
                    return category
        return None


def load_category_map(path: str | Path | None = None) -> CategoryMap:
    """Read the mapping of taxonomy terms (``data/oruk_categories.toml`` by default), checking
    every category against the typology: a :class:`CategoryMapError` names the first wrong line."""
    path = Path(path) if path is not None else CATEGORY_MAP_FILE
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except OSError as error:
        raise CategoryMapError(f"{path}: cannot be read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise CategoryMapError(f"{path}: is not valid TOML ({error})") from error
    table = raw.get("terms")
    if not isinstance(table, dict):
        raise CategoryMapError(f"{path}: needs a [terms] table of term = category lines")
    typology = load_typology()
    terms: dict[str, str] = {}
    for term, category in table.items():
        found = typology.category(category) if isinstance(category, str) else None
        if found is None:
            raise CategoryMapError(
                f"{path}: term {term!r} maps to {category!r}, which is not a category of the typology "
                f"(data/typology.toml)"
            )
        terms[_key(term)] = found.name
    return CategoryMap(terms, str(path))


# ---------------------------------------------------------------- fetching a feed


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


def _is_url(item) -> bool:
    return isinstance(item, str) and item.lower().startswith(("http://", "https://"))


def records_of(name: str, data: Any) -> list[tuple[str, dict]]:
    """The services of one JSON document: a ``/services`` page, an array of services, or one
    service. Raises :class:`FeedError` for anything else."""
    if isinstance(data, dict) and isinstance(data.get("contents"), list):
        items = data["contents"]
    elif isinstance(data, list):
        items = data
    elif isinstance(data, dict) and ("id" in data or "name" in data):
        items = [data]
    else:
        raise FeedError(
            f"{name}: not Open Referral services (expected a /services page, an array of services or one service)"
        )
    return [(f"{name}, item {i}" if len(items) > 1 else name, item) for i, item in enumerate(items, start=1)]


def read_sources(sources, client: FeedClient | None = None, http=None) -> tuple[list[tuple[str, dict]], list[str]]:
    """Every service record of ``sources`` (paths, (name, bytes) pairs, uploads, feed URLs), and
    the list of what could not be read (one message each). All sources are read before any is
    used."""
    records: list[tuple[str, dict]] = []
    failures: list[str] = []
    for item in sources:
        try:
            if _is_url(item):
                records += fetch_feed(item, client, http)
                continue
            if isinstance(item, tuple):
                name, data = str(item[0]), bytes(item[1])
            elif hasattr(item, "getvalue"):
                name, data = str(item.name), bytes(item.getvalue())
            else:
                path = Path(item)
                name = path.name
                try:
                    data = path.read_bytes()
                except OSError as error:
                    raise FeedError(f"{path}: cannot be read ({error.strerror})") from error
            try:
                document = json.loads(data.decode("utf-8-sig"))
            except UnicodeDecodeError as error:
                raise FeedError(f"{name}: is not UTF-8 text") from error
            except ValueError as error:
                raise FeedError(f"{name}: is not valid JSON ({error})") from error
            found = records_of(name, document)
            found = _with_full_records(item, found)
            records += found
        except FeedError as error:
            failures.append(str(error))
    return records, failures


def _with_full_records(item, found: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """A ``/services`` page saved as a file (the export's ``services.json``) holds flat items;
    their full records are beside it in ``services/<id>.json``, as a feed serves them."""
    if isinstance(item, tuple) or hasattr(item, "getvalue"):
        return found
    folder = Path(item).parent / "services"
    out = []
    for where, record in found:
        if isinstance(record, dict) and "service_at_locations" not in record and record.get("id"):
            full = folder / f"{record['id']}.json"
            if full.is_file():
                try:
                    record = json.loads(full.read_text(encoding="utf-8-sig"))
                except (OSError, ValueError) as error:
                    raise FeedError(f"{full}: is not valid JSON ({error})") from error
                where = str(full.name)
        out.append((where, record))
    return out


def source_text(sources) -> str:
    """Where an import came from, as a partner shows it: the feed addresses and file names."""
    names = [
        str(s) if _is_url(s) else str(s[0]) if isinstance(s, tuple) else str(getattr(s, "name", None) or Path(s).name)
        for s in sources
    ]
    return ", ".join(names)[:1000]


# ---------------------------------------------------------------- reading one record


@dataclass(frozen=True)
class Problem:
    """Why a record cannot be imported: where it is, its id, the field and the reason."""

    where: str
    record_id: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where} (id {self.record_id or '?'}), {self.field}: {self.reason}"


def _text(value) -> str | None:
    """A JSON value as one line of text (multi-line addresses joined), or None when blank."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = ", ".join(part for part in (" ".join(line.split()) for line in str(value).splitlines()) if part)
    return text or None


class _Bad(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


def _number(record: dict, name: str, low: float, high: float):
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Bad(name, f"{value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise _Bad(name, f"{value!r} is not a number") from error
    if not low <= number <= high:
        raise _Bad(name, f"{value!r} is not between {low:g} and {high:g}")
    return number


def _date(value, name: str) -> datetime.date | None:
    if value is None or value == "":
        return None
    try:
        return datetime.date.fromisoformat(str(value).strip()[:10])
    except ValueError as error:
        raise _Bad(name, f"{value!r} is not a date (YYYY-MM-DD)") from error


def _list(record: dict, name: str) -> list[dict]:
    value = record.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(name, "should be a list")
    return [v for v in value if isinstance(v, dict)]


def _terms(record: dict, where: str = "attributes") -> list[dict]:
    out = []
    for attribute in _list(record, where):
        term = attribute.get("taxonomy_term")
        if isinstance(term, dict):
            out.append({**term, "link_type": attribute.get("link_type")})
    return out


def _time(value) -> str | None:
    m = re.match(r"^\s*(\d{1,2}):(\d{2})", str(value or ""))
    return f"{int(m.group(1)):02d}:{m.group(2)}" if m else None


_DAY_OF = {v: k for k, v in ORUK_DAYS.items()}


def _sessions(schedules: list[dict]) -> str | None:
    """Weekly sessions from RRULE-style schedules: WEEKLY (or no frequency) with days and times."""
    out = []
    for s in schedules:
        if str(s.get("freq") or "WEEKLY").upper() != "WEEKLY":
            continue
        opens, closes = _time(s.get("opens_at")), _time(s.get("closes_at"))
        if not opens or not closes or closes <= opens:
            continue
        for code in str(s.get("byday") or "").upper().replace(" ", "").split(","):
            day = _DAY_OF.get(code)
            if day and (day, opens, closes) not in out:
                out.append((day, opens, closes))
    out.sort(key=lambda s: (DAYS.index(s[0]), s[1]))
    return sessions_text(out) or None


_DELIVERY_WORDS = (
    ("in person", ("in person", "in-person", "face to face", "face-to-face", "drop in", "drop-in")),
    ("online", ("online", "video", "remote", "virtual", "web")),
    ("phone", ("phone", "telephone", "call")),
)


def _delivery(terms: list[dict], schedules: list[dict]) -> str | None:
    own = [_key(t.get("name")) for t in terms if _key(t.get("taxonomy")) == DELIVERY_TAXONOMY]
    if own:
        return ";".join(d for d in DELIVERY if d in own) or None
    words = " ".join(_key(s.get("attending_type")) for s in schedules)
    return ";".join(d for d, hints in _DELIVERY_WORDS if any(h in words for h in hints)) or None


def _cost(record: dict) -> str | None:
    parts = []
    for option in _list(record, "cost_options"):
        amount = option.get("amount")
        words = _text(option.get("amount_description")) or _text(option.get("option"))
        if amount is None or amount == "":
            if words:
                parts.append(words)
            continue
        try:
            number = float(amount)
        except (TypeError, ValueError) as error:
            raise _Bad("cost_options.amount", f"{amount!r} is not a number") from error
        parts.append("free" if number == 0 and not words else f"£{number:g} {words or ''}".strip())
    if not parts and _text(record.get("fees")):
        parts.append(_text(record.get("fees")) or "")
    return "; ".join(dict.fromkeys(parts)) or None


def _phone(*holders: dict) -> str | None:
    """The first phone number anywhere the international HSDS shape puts one."""
    for holder in holders:
        for phone in _list(holder, "phones"):
            if _text(phone.get("number")):
                return _text(phone.get("number"))
        for contact in _list(holder, "contacts"):
            for phone in _list(contact, "phones"):
                if _text(phone.get("number")):
                    return _text(phone.get("number"))
    return None


def _address(location: dict) -> tuple[str | None, str | None]:
    """(address without the postcode, postcode) of a location's physical (else first) address."""
    addresses = _list(location, "addresses")
    chosen = next(
        (a for a in addresses if _key(a.get("address_type")) == "physical"), addresses[0] if addresses else {}
    )
    parts: list[str] = []
    for name in ("address_1", "address_2", "city", "region", "state_province"):
        text = _text(chosen.get(name))
        for part in (p.strip() for p in (text or "").split(",")):
            if part and part.lower() not in (q.lower() for q in parts):
                parts.append(part)
    raw_postcode = _text(chosen.get("postal_code"))
    postcode = geo.normalise_postcode(raw_postcode) or raw_postcode
    return (", ".join(parts) or None), postcode


@dataclass
class FeedService:
    """One service of the feed as the directory will hold it, with its partner's key and values."""

    oruk_id: str
    where: str
    organisation_id: str
    organisation_name: str
    location_id: str
    location_name: str | None
    terms: list[dict]
    values: dict[str, Any]  # the services table's columns
    partner: dict[str, Any]  # what this service says about its partner
    extra_locations: int = 0


def read_service(where: str, record: dict) -> FeedService:
    """One record as a :class:`FeedService`; :class:`_Bad` names the first field that cannot be read."""
    if not isinstance(record, dict):
        raise _Bad("(record)", "is not a JSON object")
    oruk_id = _text(record.get("id"))
    if not oruk_id:
        raise _Bad("id", "is missing; every service needs its Open Referral id")
    if len(oruk_id) > 100:
        raise _Bad("id", "is longer than 100 characters")
    name = _text(record.get("name"))
    if not name:
        raise _Bad("name", "is missing")
    status = _key(record.get("status")) or "active"
    if status not in SERVICE_STATUSES:
        raise _Bad("status", f"{record.get('status')!r} is not one of {', '.join(SERVICE_STATUSES)}")
    organisation = record.get("organization")
    if not isinstance(organisation, dict) or not _text(organisation.get("id")) or not _text(organisation.get("name")):
        raise _Bad("organization", "is missing or has no id and name: a service needs the organisation that runs it")
    locations = [s["location"] for s in _list(record, "service_at_locations") if isinstance(s.get("location"), dict)]
    location = next((loc for loc in locations if _key(loc.get("location_type")) != "virtual"), None)
    location = location or (locations[0] if locations else {})
    lo = _number(record, "minimum_age", 0, 150)
    hi = _number(record, "maximum_age", 0, 150)
    if lo is not None and hi is not None and lo > hi:
        raise _Bad(
            "maximum_age", f"{record.get('maximum_age')!r} is below the minimum age {record.get('minimum_age')!r}"
        )
    terms = _terms(record)
    own = {t: [x for x in terms if _key(x.get("taxonomy")) == t] for t in OWN_TAXONOMIES}
    languages = [
        _text(x.get("name")) or _text(x.get("code"))
        for x in _list(record, "languages")
        if x.get("name") or x.get("code")
    ] + [_text(x.get("name")) for x in own[LANGUAGE_TAXONOMY]]
    eligibility = _text(record.get("eligibility_description")) or next(
        (_text(x.get("name")) for x in own[ELIGIBILITY_TAXONOMY]), None
    )
    access = next((a for x in own[ACCESS_TAXONOMY] for a in ACCESS if _key(x.get("name")) == a), None)
    tag_texts = [
        _text(t.get("name")) or _text(t.get("term"))
        for t in terms
        if _key(t.get("taxonomy")) not in OWN_TAXONOMIES - {TAGS_TAXONOMY}
    ]
    tags = list(dict.fromkeys(t for t in tag_texts if t))
    schedules = _list(record, "schedules")
    latitude = _number(location, "latitude", -90, 90) if _coordinates_ok(location) else None
    longitude = _number(location, "longitude", -180, 180) if latitude is not None else None
    address, postcode = _address(location)
    contact = next((c for c in _list(record, "contacts") if _text(c.get("name"))), None)
    values = {
        "name": name,
        "tags": ";".join(tags) or None,
        "min_age": None if lo is None else int(lo),
        "max_age": None if hi is None else int(hi),
        "cost": _cost(record),
        "languages": ";".join(dict.fromkeys(x for x in languages if x)) or None,
        "delivery": _delivery(terms, schedules),
        "sessions": _sessions(schedules),
        "access": access,
        "eligibility": eligibility,
        "send_inclusive": any(_key(t.get("name")) == _key(SEND_TERM) for t in terms),
        "status": status,
    }
    partner = {
        "address": address,
        "postcode": postcode,
        "latitude": latitude,
        "longitude": longitude if latitude is not None else None,
        "contact_name": _text(contact.get("name")) if contact else None,
        "contact_email": _text(record.get("email")) or _text(organisation.get("email")),
        "contact_phone": _phone(record, location, organisation),
        "last_verified": _date(record.get("assured_date"), "assured_date"),
    }
    for name_, limit in LIMITS.items():
        for holder in (values, partner):
            text = holder.get(name_)
            if isinstance(text, str) and len(text) > limit:
                raise _Bad(name_, f"is longer than {limit} characters")
    return FeedService(
        oruk_id=oruk_id,
        where=where,
        organisation_id=str(_text(organisation.get("id"))),
        organisation_name=str(_text(organisation.get("name"))),
        location_id=_text(location.get("id")) or "",
        location_name=_text(location.get("name")),
        terms=terms,
        values=values,
        partner=partner,
        extra_locations=max(len(locations) - 1, 0),
    )


def _coordinates_ok(location: dict) -> bool:
    """Whether a location's coordinates can be used: both given and on the globe (the official
    example's 100, 101 are not; such a partner is placed later from its postcode)."""
    try:
        lat, lon = float(location["latitude"]), float(location["longitude"])
    except (KeyError, TypeError, ValueError):
        return False
    return -90 <= lat <= 90 and -180 <= lon <= 180


# ---------------------------------------------------------------- the plan of an import


@dataclass
class Change:
    """One partner or service the import adds, changes or closes, as the dry run lists it."""

    kind: str  # "partner" or "service"
    action: str  # "add", "change", "close", or "keep" (only the school's own values differ)
    record_id: str  # the store's reference
    oruk_id: str
    name: str
    fields: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the school's own values the feed would have changed


ACTION_WORDS = {"add": "added", "change": "changed", "close": "closed", "keep": "school's values kept"}


@dataclass
class OrukReport:
    """What an Open Referral import did or would do, or why it did nothing."""

    sources: str = ""
    dry_run: bool = False
    failures: list[str] = field(default_factory=list)  # feeds or files that could not be read
    problems: list[Problem] = field(default_factory=list)  # records that cannot be imported
    unmapped: list[dict] = field(default_factory=list)  # services whose terms map to no category
    notes: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    services_read: int = 0
    refreshed: int = 0  # partners matched again: where from and when last imported are recorded
    seconds: dict[str, float] = field(default_factory=dict)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures and not self.problems

    def count(self, kind: str, action: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind and c.action == action)

    def changes_rows(self) -> list[dict[str, str]]:
        """The diff as rows for a table: what, how, reference, name, fields, school's values kept."""
        return [
            {
                "what": c.kind,
                "change": ACTION_WORDS[c.action],
                "reference": c.record_id,
                "Open Referral id": c.oruk_id,
                "name": c.name,
                "fields": ", ".join(c.fields),
                "school's own values kept": ", ".join(c.kept),
            }
            for c in self.changes
        ]

    def summary(self) -> str:
        """The counts in one sentence: "Imported: 8 partners added, 0 changed, 0 closed; ..."."""
        verb = "Checked (nothing written)" if self.dry_run else "Imported"
        parts = [
            f"{self.count(kind, 'add')} {kind}s added, {self.count(kind, 'change')} changed, "
            f"{self.count(kind, 'close')} closed"
            for kind in ("partner", "service")
        ]
        return f"{verb}: {'; '.join(parts)}."

    def format(self, limit: int = 50) -> str:
        lines: list[str] = []
        if not self.ok:
            n = len(self.failures) + len(self.problems)
            lines.append(f"Nothing was imported: {n} problem{'s' * (n != 1)}. The directory is unchanged.")
            lines += [f"  {f}" for f in self.failures[:limit]]
            lines += [f"  {p}" for p in self.problems[:limit]]
            if len(self.problems) > limit:
                lines.append(f"  ... and {len(self.problems) - limit} more.")
        else:
            verb = "Checked (nothing written)" if self.dry_run else "Imported"
            lines.append(f"{verb}: {self.services_read} services from {self.sources}.")
            would = "to add" if self.dry_run else "added"
            for kind in ("partner", "service"):
                lines.append(
                    f"  {kind}s: {self.count(kind, 'add')} {would}, {self.count(kind, 'change')} "
                    f"{'to change' if self.dry_run else 'changed'}, {self.count(kind, 'close')} "
                    f"{'to close' if self.dry_run else 'closed'}"
                )
            for c in self.changes[:limit]:
                what = {"add": "+", "change": "~", "close": "x", "keep": "="}[c.action]
                detail = f" ({', '.join(c.fields)})" if c.fields and c.action == "change" else ""
                kept = f"; the school's own {', '.join(c.kept)} kept" if c.kept else ""
                lines.append(f"  {what} {c.kind} {c.record_id} {c.name}{detail}{kept}")
            if len(self.changes) > limit:
                lines.append(f"  ... and {len(self.changes) - limit} more changes.")
            if self.refreshed:
                lines.append(
                    f"  {self.refreshed} partner{'s' * (self.refreshed != 1)} found again in the feed: "
                    f"{'would be' if self.dry_run else ''} marked as last imported now".replace("  marked", " marked")
                )
        if self.unmapped:
            lines.append(
                f"  {len(self.unmapped)} service{'s' * (len(self.unmapped) != 1)} whose terms map to no category "
                "(add the terms to data/oruk_categories.toml, or give --default-category):"
            )
            for u in self.unmapped[:limit]:
                lines.append(f"    {u['id']} {u['name']}: {u['terms'] or 'no terms'} ({u['what']})")
        lines += [f"  Note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass
class _Plan:
    report: OrukReport
    new_partners: list[dict]
    new_services: list[dict]
    partner_updates: dict[str, dict]  # partner_id -> changed columns
    service_updates: dict[str, dict]
    versions: dict[tuple[str, str], int]  # (table, id) -> version read, re-checked in the write
    before: dict[str, dict[str, dict]]  # table -> id -> before-image of the changed columns
    # The school's partners and services as read: one added meanwhile (a second import of the
    # same feed) would otherwise be added twice.
    read_ids: tuple[frozenset, frozenset] = (frozenset(), frozenset())


def _norm(value) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _load_record(text) -> dict | None:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _merge(stored: dict, record: dict | None, feed: dict, fields: Iterable[str]) -> tuple[dict, list[str], dict | None]:
    """(changed columns, the school's own fields kept, the new record of the feed's values).
    A stored value equal to what the feed gave last time follows the feed; one the school changed
    stays the school's (even when a feed later agrees with it); a value the feed leaves out (None)
    changes nothing. Without a record (a partner of the school's own, matched through its
    export) only the blanks are filled, and it stays the school's.

    >>> _merge({"notes": "x", "status": "lapsed", "name": "A"}, {"status": "active", "name": "A"},
    ...        {"status": "active", "name": "B"}, ["status", "name"])
    ({'name': 'B'}, ['status'], {'status': 'active', 'name': 'B'})
    >>> _merge({"status": "lapsed"}, {"status": "active"}, {"status": "defunct"}, ["status"])[1]
    ['status']
    """
    changed: dict = {}
    kept: list[str] = []
    new_record = dict(record) if record is not None else None
    for name in fields:
        value = feed.get(name)
        if value is None:
            continue
        now = _norm(stored.get(name))
        if new_record is None:
            if stored.get(name) is None:
                changed[name] = value
            continue
        if name in new_record and now != new_record[name]:
            if now != _norm(value):
                kept.append(name)
            continue
        new_record[name] = _norm(value)
        if now != _norm(value):
            changed[name] = value
    return changed, kept, new_record


def plan_import(
    store: db.Store,
    school_id: str,
    records: list[tuple[str, dict]],
    category_map: CategoryMap,
    default_category: str | None = None,
    sources: str = "",
    today: datetime.datetime | None = None,
    conn: Connection | None = None,
) -> _Plan:
    """What importing ``records`` into ``school_id``'s directory would do (nothing is written)."""
    report = OrukReport(sources=sources, services_read=len(records))
    typology = load_typology()
    # Read every record; the same id twice is one service when the two agree.
    feed: dict[str, FeedService] = {}
    for where, record in records:
        record_id = str(record.get("id") or "") if isinstance(record, dict) else ""
        try:
            service = read_service(where, record)
        except _Bad as bad:
            report.problems.append(Problem(where, record_id, bad.field, bad.reason))
            continue
        if service.oruk_id in feed:
            if feed[service.oruk_id].values != service.values or feed[service.oruk_id].partner != service.partner:
                report.problems.append(
                    Problem(
                        where, service.oruk_id, "id", f"the same id as {feed[service.oruk_id].where}, with other values"
                    )
                )
            continue
        if service.extra_locations:
            report.notes.append(
                f"{service.oruk_id} {service.values['name']}: runs at {service.extra_locations + 1} locations; "
                "placed at the first"
            )
        feed[service.oruk_id] = service
    if report.problems:
        return _Plan(report, [], [], {}, {}, {}, {})

    def read(c: Connection) -> tuple[list[dict], list[dict], set[str]]:
        p, s = db.partners, db.services
        partners = [dict(r) for r in c.execute(select(p).where(p.c.school_id == school_id)).mappings()]
        services = [
            dict(r)
            for r in c.execute(
                select(s).join(p, p.c.partner_id == s.c.partner_id).where(p.c.school_id == school_id)
            ).mappings()
        ]
        taken = set(c.execute(select(p.c.partner_id)).scalars()) | set(c.execute(select(s.c.service_id)).scalars())
        return partners, services, taken

    if conn is not None:
        stored_partners, stored_services, taken = read(conn)
    else:
        with store.read() as c:
            stored_partners, stored_services, taken = read(c)

    partner_by_key = {}
    for p in stored_partners:
        key = (
            p["oruk_organisation_id"] or made_id(p["partner_id"]),
            p["oruk_location_id"] or made_id(p["partner_id"], "location"),
        )
        partner_by_key[key] = p
    service_by_oruk = {(s["oruk_id"] or made_id(s["service_id"])): s for s in stored_services}
    services_of_partner: dict[str, list[dict]] = {}
    for s in stored_services:
        services_of_partner.setdefault(s["partner_id"], []).append(s)

    # Categories: each service's own; the ones that map to nothing are listed and left out or defaulted.
    default = (
        typology.known_category(default_category).name
        if default_category and typology.category(default_category)
        else None
    )
    category: dict[str, str] = {}
    for service in feed.values():
        found = category_map.category_of(service.terms)
        terms = "; ".join(dict.fromkeys(str(t.get("name") or t.get("term") or t.get("id")) for t in service.terms))
        if found is None:
            report.unmapped.append(
                {
                    "id": service.oruk_id,
                    "name": service.values["name"],
                    "terms": terms,
                    "what": f"given {default}" if default else "left out",
                }
            )
            if default is None:
                continue
            found = default
        category[service.oruk_id] = found
    kept_services = [s for s in feed.values() if s.oruk_id in category]
    left_out = {s.oruk_id for s in feed.values()} - set(category)

    # Partners: one per organisation and location, named after the organisation (and the place
    # when the organisation has services in several).
    groups: dict[tuple[str, str], list[FeedService]] = {}
    for service in kept_services:
        groups.setdefault((service.organisation_id, service.location_id), []).append(service)
    places = Counter(org for org, _ in groups)
    names_by_org: dict[str, set[str]] = {}
    for (org, _), members in groups.items():
        names_by_org.setdefault(_key(members[0].organisation_name), set()).add(org)
    for name, orgs in names_by_org.items():
        if len(orgs) > 1:
            report.notes.append(
                f"{len(orgs)} organisations are called {name!r} ({', '.join(sorted(orgs))}): "
                "check in the Directory whether they are one"
            )

    now = today or datetime.datetime.now(datetime.UTC)
    new_partners: list[dict] = []
    new_services: list[dict] = []
    partner_updates: dict[str, dict] = {}
    service_updates: dict[str, dict] = {}
    versions: dict[tuple[str, str], int] = {}
    before: dict[str, dict[str, dict]] = {"partners": {}, "services": {}}
    counter = {"P": 0}

    def next_partner_id() -> str:
        while True:
            counter["P"] += 1
            candidate = f"{school_id}-P{counter['P']:03d}"
            if candidate not in taken:
                taken.add(candidate)
                return candidate

    def next_service_id(partner_id: str, n: list[int]) -> str:
        while True:
            n[0] += 1
            candidate = f"{partner_id}-S{n[0]}"
            if candidate not in taken:
                taken.add(candidate)
                return candidate

    def update(
        table: str, row: dict, changed: dict, kept: list[str], record: dict | None, kind: str, oruk_id: str, extra: dict
    ) -> None:
        key = row["partner_id"] if table == "partners" else row["service_id"]
        columns = {**changed, **extra}
        record_text = None if record is None else json.dumps(record, ensure_ascii=False, sort_keys=True)
        if record_text is not None and record_text != row.get("oruk_record"):
            columns["oruk_record"] = record_text
        if changed:
            name = str(changed.get("name") or row["name"])
            report.changes.append(Change(kind, "change", key, oruk_id, name, sorted(changed), kept))
        elif kept:
            report.changes.append(Change(kind, "keep", key, oruk_id, str(row["name"]), [], kept))
        if columns:
            if changed:
                columns["version"] = int(row.get("version") or 1) + 1
            versions[(table, key)] = int(row.get("version") or 1)
            (partner_updates if table == "partners" else service_updates)[key] = columns
            before[table][key] = {c: row.get(c) for c in columns}

    seen_partners: set[str] = set()
    for (org, loc), members in groups.items():
        first = members[0]
        name = first.organisation_name
        if places[org] > 1 and first.location_name and _key(first.location_name) != _key(name):
            name = f"{name} – {first.location_name}"
        partner_category = Counter(category[m.oruk_id] for m in members).most_common(1)[0][0]
        values: dict[str, Any] = {"name": name[:300], "category": partner_category}
        for column in (
            "address",
            "postcode",
            "latitude",
            "longitude",
            "contact_name",
            "contact_email",
            "contact_phone",
        ):
            values[column] = next((m.partner[column] for m in members if m.partner[column] is not None), None)
        dates = [m.partner["last_verified"] for m in members if m.partner["last_verified"] is not None]
        values["last_verified"] = max(dates) if dates else None
        stored = partner_by_key.get((org, loc))
        # The statuses of the services as they will stand (a service the school set keeps its own).
        statuses = []
        for m in members:
            held = service_by_oruk.get(m.oruk_id)
            last = _load_record(held["oruk_record"]) if held else None
            if held is not None and last is not None and "status" in last and held["status"] != last["status"]:
                statuses.append(held["status"])  # a status the school set
            else:
                statuses.append(m.values["status"])
        if stored is not None:
            others = [
                s
                for s in services_of_partner.get(stored["partner_id"], [])
                if (s["oruk_id"] or made_id(s["service_id"])) not in feed
            ]
            statuses += [
                CLOSED_STATUS if s["oruk_id"] and s["status"] in OPEN_STATUSES else s["status"] for s in others
            ]
        values["status"] = "active" if any(s in OPEN_STATUSES for s in statuses) else "lapsed"
        meta = {
            "organisation_name": first.organisation_name,
            "location_name": first.location_name,
        }
        if stored is None:
            partner_id = next_partner_id()
            layer = typology.known_category(partner_category).layer
            record = {k: _norm(v) for k, v in values.items() if v is not None} | meta
            new_partners.append(
                {
                    "partner_id": partner_id,
                    "school_id": school_id,
                    **values,
                    "layer": layer,
                    "version": 1,
                    "oruk_organisation_id": org,
                    "oruk_location_id": loc or None,
                    "oruk_source": sources,
                    "oruk_imported_at": now,
                    "oruk_record": json.dumps(record, ensure_ascii=False, sort_keys=True),
                }
            )
            report.changes.append(Change("partner", "add", partner_id, org, name))
        else:
            partner_id = stored["partner_id"]
            seen_partners.add(partner_id)
            last = _load_record(stored["oruk_record"])
            changed, kept, new_record = _merge(stored, last, values, PARTNER_FIELDS)
            if "category" in changed:
                changed["layer"] = typology.known_category(changed["category"]).layer
            if new_record is not None:
                new_record |= meta
            # Where it came from and when it was last imported: recorded for the partners the feeds
            # brought in, not for the school's own (matched through its export's ids).
            extra = {"oruk_source": sources, "oruk_imported_at": now} if stored["oruk_organisation_id"] else {}
            report.refreshed += bool(extra)
            update("partners", stored, changed, kept, new_record, "partner", org, extra)
        n = [0]
        for m in members:
            held = service_by_oruk.get(m.oruk_id)
            service_record = {k: _norm(v) for k, v in m.values.items() if v is not None}
            if held is None:
                service_id = next_service_id(partner_id, n)
                new_services.append(
                    {
                        "service_id": service_id,
                        "partner_id": partner_id,
                        **m.values,
                        "version": 1,
                        "oruk_id": m.oruk_id,
                        "oruk_record": json.dumps(service_record, ensure_ascii=False, sort_keys=True),
                    }
                )
                report.changes.append(Change("service", "add", service_id, m.oruk_id, m.values["name"]))
                continue
            last = _load_record(held["oruk_record"])
            changed, kept, new_record = _merge(held, last, m.values, SERVICE_FIELDS)
            extra = {}
            if held["partner_id"] != partner_id:
                extra["partner_id"] = partner_id
                changed["partner_id"] = partner_id
            if held["oruk_id"] is None:
                extra["oruk_id"] = m.oruk_id
            update("services", held, changed, kept, new_record, "service", m.oruk_id, extra)

    # Services imported before that the feed no longer lists are closed, never deleted; a
    # partner left with no open service lapses (unless the school set its status itself).
    for s in stored_services:
        oruk = s["oruk_id"]
        if not oruk or oruk in feed or oruk in left_out or s["status"] not in OPEN_STATUSES:
            continue
        record = _load_record(s["oruk_record"]) or {}
        if record.get("status", s["status"]) != s["status"]:
            continue  # a status the school set itself
        service_updates[s["service_id"]] = {
            "status": CLOSED_STATUS,
            "version": int(s["version"] or 1) + 1,
            "oruk_record": json.dumps({**record, "status": CLOSED_STATUS}, ensure_ascii=False, sort_keys=True),
        }
        versions[("services", s["service_id"])] = int(s["version"] or 1)
        before["services"][s["service_id"]] = {
            "status": s["status"],
            "version": s["version"],
            "oruk_record": s["oruk_record"],
        }
        report.changes.append(Change("service", "close", s["service_id"], oruk, s["name"], ["status"]))
    closing = {sid for sid, c in service_updates.items() if c.get("status") == CLOSED_STATUS}
    for p in stored_partners:
        if p["partner_id"] in seen_partners or not p["oruk_organisation_id"] or p["status"] != "active":
            continue
        own = services_of_partner.get(p["partner_id"], [])
        if not own or any(s["status"] in OPEN_STATUSES and s["service_id"] not in closing for s in own):
            continue
        record = _load_record(p["oruk_record"]) or {}
        if record.get("status", p["status"]) != p["status"]:
            continue
        partner_updates[p["partner_id"]] = {
            "status": "lapsed",
            "version": int(p["version"] or 1) + 1,
            "oruk_record": json.dumps({**record, "status": "lapsed"}, ensure_ascii=False, sort_keys=True),
        }
        versions[("partners", p["partner_id"])] = int(p["version"] or 1)
        before["partners"][p["partner_id"]] = {
            "status": p["status"],
            "version": p["version"],
            "oruk_record": p["oruk_record"],
        }
        report.changes.append(
            Change("partner", "close", p["partner_id"], p["oruk_organisation_id"], p["name"], ["status"])
        )
    unplaced = sum(1 for p in new_partners if p["latitude"] is None)
    if unplaced:
        report.notes.append(
            f"{unplaced} new partner{'s' * (unplaced != 1)} without usable coordinates: "
            "place them from their postcodes with `python -m engagement geocode` (or the Data page)"
        )
    read_ids = (
        frozenset(p["partner_id"] for p in stored_partners),
        frozenset(s["service_id"] for s in stored_services),
    )
    return _Plan(report, new_partners, new_services, partner_updates, service_updates, versions, before, read_ids)


def _write(conn: Connection, plan: _Plan, audit_detail: dict) -> None:
    if plan.new_partners:
        columns = list(plan.new_partners[0])
        db.bulk_insert(conn, "partners", {c: [r[c] for r in plan.new_partners] for c in columns})
    if plan.new_services:
        columns = list(plan.new_services[0])
        db.bulk_insert(conn, "services", {c: [r[c] for r in plan.new_services] for c in columns})
    for table_name, updates in (("partners", plan.partner_updates), ("services", plan.service_updates)):
        table, key = db.TABLES[table_name], db.KEY_OF[table_name]
        by_columns: dict[tuple[str, ...], list[dict]] = {}
        for record_id, changed in updates.items():
            by_columns.setdefault(tuple(sorted(changed)), []).append(
                {"k_": record_id, **{f"v_{c}": v for c, v in changed.items()}}
            )
        for columns_, params in by_columns.items():
            statement = (
                table.update().where(table.c[key] == bindparam("k_")).values({c: bindparam(f"v_{c}") for c in columns_})
            )
            conn.execute(statement, params)
    added = {
        k: v
        for k, v in (
            ("partners", [p["partner_id"] for p in plan.new_partners]),
            ("services", [s["service_id"] for s in plan.new_services]),
        )
        if v
    }
    before = {k: v for k, v in plan.before.items() if v}
    tables = [t for t in ("partners", "services") if t in added or t in before]
    db.audit(
        conn,
        "import",
        ",".join(tables),
        before=db.to_json(before) if before else None,
        after=db.to_json({"added": added}) if added else None,
        detail=json.dumps(audit_detail, ensure_ascii=False, default=str),
    )


def _school_ids(conn: Connection, school_id: str) -> tuple[frozenset, frozenset]:
    p, s = db.partners, db.services
    partners = frozenset(conn.execute(select(p.c.partner_id).where(p.c.school_id == school_id)).scalars())
    services = frozenset(
        conn.execute(
            select(s.c.service_id).join(p, p.c.partner_id == s.c.partner_id).where(p.c.school_id == school_id)
        ).scalars()
    )
    return partners, services


def _still_as_read(conn: Connection, plan: _Plan, school_id: str) -> bool:
    if _school_ids(conn, school_id) != plan.read_ids:
        return False
    for (table_name, record_id), version in plan.versions.items():
        table, key = db.TABLES[table_name], db.KEY_OF[table_name]
        # Held until the import commits: a form's save of the record meanwhile waits, then finds
        # the version moved on and is refused, rather than being overwritten unseen (PostgreSQL).
        now = conn.execute(select(table.c.version).where(table.c[key] == record_id).with_for_update()).scalar()
        if now != version:
            return False
    return True


def import_oruk(
    store: db.Store,
    sources,
    school_id: str,
    actor: str = "import",
    dry_run: bool = False,
    category_map: CategoryMap | None = None,
    default_category: str | None = None,
    client: FeedClient | None = None,
    http=None,
) -> OrukReport:
    """Import an Open Referral UK directory into ``school_id``'s partners, all or nothing: every
    source read and every record checked before one write transaction (with one audit event).
    With ``dry_run`` nothing is written and the report lists what would change."""
    started = time.perf_counter()
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    origin = source_text(sources)
    if default_category is not None and load_typology().category(default_category) is None:
        report = OrukReport(sources=origin, dry_run=dry_run)
        report.failures.append(f"--default-category {default_category!r} is not a category of the typology")
        return report
    records, failures = read_sources(sources, client, http)
    if failures:
        return OrukReport(sources=origin, dry_run=dry_run, failures=failures, services_read=len(records))
    read = time.perf_counter() - started
    report = import_records(store, records, school_id, origin, actor, dry_run, category_map, default_category)
    report.seconds = {"read the feed": read, **report.seconds}
    return report


def import_records(
    store: db.Store,
    records: list[tuple[str, dict]],
    school_id: str,
    origin: str,
    actor: str = "import",
    dry_run: bool = False,
    category_map: CategoryMap | None = None,
    default_category: str | None = None,
) -> OrukReport:
    """:func:`import_oruk` of records already read (:func:`read_sources`): the Data page reads a
    feed once, shows the dry run, and imports what it showed when the import is confirmed."""
    started = time.perf_counter()
    if default_category is not None and load_typology().category(default_category) is None:
        report = OrukReport(sources=origin, dry_run=dry_run)
        report.failures.append(f"--default-category {default_category!r} is not a category of the typology")
        return report
    category_map = category_map or load_category_map()
    for _attempt in range(3):
        plan = plan_import(store, school_id, records, category_map, default_category, origin)
        plan.report.dry_run = dry_run
        plan.report.seconds["read and check"] = time.perf_counter() - started
        if dry_run or not plan.report.ok:
            return plan.report
        if not plan.report.changes and not plan.partner_updates and not plan.service_updates:
            return plan.report  # nothing to change: no write, no audit event
        detail = {
            "standard": "Open Referral UK 3.0",
            "sources": origin,
            "services read": len(records),
            "counts": {
                f"{kind}s {action}": plan.report.count(kind, action)
                for kind in ("partner", "service")
                for action in ("add", "change", "close")
            },
            "partners found again": plan.report.refreshed,
            "left out (no category)": [u["id"] for u in plan.report.unmapped if u["what"] == "left out"],
        }
        locked = time.perf_counter()
        try:
            with store.write(actor) as conn:
                if _still_as_read(conn, plan, school_id):
                    _write(conn, plan, detail)
                    plan.report.written = True
        except IntegrityError:  # an id taken meanwhile by another school's partner: plan again
            continue
        if plan.report.written:
            plan.report.seconds["write"] = time.perf_counter() - locked
            return plan.report
    plan.report.failures.append("the directory kept changing while the feed was checked: import it again")
    return plan.report


# ---------------------------------------------------------------- export


def _term(taxonomy: str, name: str, link_type: str | None = None, owner: str = "") -> dict:
    term_id = made_id("term", taxonomy.lower(), name.lower())
    out: dict[str, Any] = {
        "id": made_id("attribute", owner, term_id),
        "taxonomy_term_id": term_id,
        "taxonomy_term": {"id": term_id, "name": name, "description": name, "taxonomy": taxonomy},
    }
    if link_type:
        out["link_type"] = link_type
    return out


def _split_address(address: str | None, record: dict | None) -> dict[str, str]:
    """The address as the UK profile's required fields: all of it as the first line, city and
    county empty (the directory keeps one line; read back, it is the same text)."""
    text = address or ""
    return {"address_1": text, "city": "", "state_province": ""}


def _cost_options(cost: str | None, owner: str) -> list[dict]:
    out = []
    for i, part in enumerate(p.strip() for p in (cost or "").split(";")):
        if not part:
            continue
        option: dict[str, Any] = {"id": made_id(owner, "cost", str(i))}
        if part.lower() == "free":
            option["amount"] = 0
        else:
            option["amount_description"] = part
        out.append(option)
    return out


def _schedules(sessions: str | None, delivery: str | None, owner: str) -> list[dict]:
    from engagement.services import parse_sessions

    try:
        parsed = parse_sessions(sessions) if sessions else []
    except ValueError:
        parsed = []
    times: dict[tuple[str, str], list[str]] = {}
    for day, opens, closes in parsed:
        times.setdefault((opens, closes), []).append(ORUK_DAYS[day])
    out = []
    for i, ((opens, closes), days) in enumerate(times.items()):
        schedule: dict[str, Any] = {
            "id": made_id(owner, "schedule", str(i)),
            "freq": "WEEKLY",
            "interval": 1,
            "byday": ",".join(days),
            "opens_at": opens,
            "closes_at": closes,
        }
        if delivery:
            schedule["attending_type"] = "; ".join(parse_list(delivery))
        out.append(schedule)
    if not out and delivery:
        out.append({"id": made_id(owner, "schedule", "0"), "attending_type": "; ".join(parse_list(delivery))})
    return out


def _email(text) -> str | None:
    text = str(text or "").strip()
    return text if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text) else None


def service_record(partner: dict, service: dict) -> dict:
    """One service as a full Open Referral UK 3.0 service record (``GET /services/{id}``)."""
    service_id = service["oruk_id"] or made_id(service["service_id"])
    record = _load_record(partner.get("oruk_record")) or {}
    organisation_id = partner.get("oruk_organisation_id") or made_id(partner["partner_id"])
    location_id = partner.get("oruk_location_id") or made_id(partner["partner_id"], "location")
    unchanged_name = record.get("name") == partner["name"]
    organisation_name = (record.get("organisation_name") if unchanged_name else None) or partner["name"]
    location_name = (record.get("location_name") if unchanged_name else None) or partner["name"]
    out: dict[str, Any] = {
        "id": service_id,
        "organization_id": organisation_id,
        "name": service["name"],
        "status": service["status"],
    }
    email = _email(partner.get("contact_email"))
    if email:
        out["email"] = email
    if service.get("min_age") is not None:
        out["minimum_age"] = int(service["min_age"])
    if service.get("max_age") is not None:
        out["maximum_age"] = int(service["max_age"])
    if partner.get("last_verified") is not None:
        out["assured_date"] = _norm(partner["last_verified"])
    schedules = _schedules(service.get("sessions"), service.get("delivery"), service_id)
    if schedules:
        out["schedules"] = schedules
    location: dict[str, Any] = {"id": location_id, "location_type": "physical", "name": location_name}
    if partner.get("latitude") is not None and partner.get("longitude") is not None:
        location["latitude"] = float(partner["latitude"])
        location["longitude"] = float(partner["longitude"])
    if partner.get("address") or partner.get("postcode"):
        location["addresses"] = [
            {
                "id": made_id(location_id, "address"),
                "location_id": location_id,
                **_split_address(partner.get("address"), record),
                "postal_code": partner.get("postcode") or "",
                "country": "GB",
                "address_type": "physical",
            }
        ]
    out["service_at_locations"] = [
        {
            "id": made_id(service_id, location_id),
            "service_id": service_id,
            "location_id": location_id,
            "location": location,
        }
    ]
    organisation: dict[str, Any] = {"id": organisation_id, "name": organisation_name, "description": ""}
    out["organization"] = organisation
    costs = _cost_options(service.get("cost"), service_id)
    if costs:
        out["cost_options"] = costs
    if partner.get("contact_name"):
        out["contacts"] = [
            {"id": made_id(service_id, "contact"), "service_id": service_id, "name": partner["contact_name"]}
        ]
    attributes = [_term(TYPOLOGY_TAXONOMY, partner["category"], "category", service_id)]
    attributes += [_term(TAGS_TAXONOMY, t, None, service_id) for t in parse_list(service.get("tags"))]
    if service.get("access"):
        attributes.append(_term(ACCESS_TAXONOMY, service["access"], "access", service_id))
    if service.get("send_inclusive"):
        attributes.append(_term(SEND_TAXONOMY, SEND_TERM, "eligibility", service_id))
    attributes += [_term(LANGUAGE_TAXONOMY, x, "language", service_id) for x in parse_list(service.get("languages"))]
    attributes += [_term(DELIVERY_TAXONOMY, x, "delivery", service_id) for x in parse_list(service.get("delivery"))]
    if service.get("eligibility"):
        attributes.append(_term(ELIGIBILITY_TAXONOMY, service["eligibility"], "eligibility", service_id))
    out["attributes"] = attributes
    return out


LIST_FIELDS = (
    "id",
    "organization_id",
    "name",
    "description",
    "url",
    "email",
    "status",
    "fees",
    "accreditations",
    "minimum_age",
    "maximum_age",
    "assured_date",
    "assurer_email",
    "alert",
    "last_modified",
)


def export_records(store: db.Store, school_id: str | Collection[str] | None = None) -> list[dict]:
    """Every service of the (school's) directory as a full record, archived partners left out."""
    p, s = db.partners, db.services
    query = (
        select(p, *[c.label(f"service__{c.name}") for c in s.c])
        .join(s, s.c.partner_id == p.c.partner_id)
        .where(p.c.archived_on.is_(None))
        .order_by(p.c.partner_id, s.c.service_id)
    )
    if isinstance(school_id, str):
        query = query.where(p.c.school_id == school_id)
    elif school_id is not None:
        query = query.where(p.c.school_id.in_(list(school_id)))
    with store.read() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    out = []
    for row in rows:
        service = {c.name: row[f"service__{c.name}"] for c in s.c}
        out.append(service_record(row, service))
    return out


ORGANISATION_LIST_FIELDS = ("id", "name", "description", "email", "website", "logo", "uri", "parent_organization_id")


def list_item(record: dict) -> dict:
    """A full service record as an item of a ``/services`` page: its one-to-one fields and its
    organisation, nothing else (the list's schema, ``service_list.json``)."""
    item = {k: record[k] for k in LIST_FIELDS if k in record}
    if "organization" in record:
        item["organization"] = {k: v for k, v in record["organization"].items() if k in ORGANISATION_LIST_FIELDS}
    return item


def services_page(records: list[dict]) -> dict:
    """One ``/services`` page holding every service as a list item (the full records are
    ``services/<id>.json`` beside it)."""
    return {
        "total_items": len(records),
        "total_pages": 1,
        "page_number": 1,
        "size": len(records),
        "first_page": True,
        "last_page": True,
        "empty": not records,
        "contents": [list_item(r) for r in records],
    }


def export_oruk(store: db.Store, directory, school_id: str | Collection[str] | None = None) -> list[Path]:
    """Write ``services/<id>.json`` (one full service each) and ``services.json`` (the
    ``/services`` page) under ``directory``; returns the paths written."""
    directory = Path(directory)
    (directory / "services").mkdir(parents=True, exist_ok=True)
    records = export_records(store, school_id)
    paths = []
    for record in records:
        path = directory / "services" / f"{record['id']}.json"
        path.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    page = directory / "services.json"
    page.write_text(json.dumps(services_page(records), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [*paths, page]


def export_zip(store: db.Store, school_id: str) -> bytes:
    """:func:`export_oruk` as one ZIP file (``services.json`` and ``services/<id>.json``)."""
    import io
    import tempfile
    import zipfile

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in export_oruk(store, folder, school_id):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()
