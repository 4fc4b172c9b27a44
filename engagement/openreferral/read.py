"""Reading Open Referral documents (files, uploads, feeds) into service records, and one record
into the service and partner values the directory will hold."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from engagement import geo
from engagement.openreferral.common import (
    ACCESS_TAXONOMY,
    DELIVERY_TAXONOMY,
    ELIGIBILITY_TAXONOMY,
    LANGUAGE_TAXONOMY,
    LIMITS,
    OWN_TAXONOMIES,
    SEND_TERM,
    TAGS_TAXONOMY,
    _key,
    file_stem,
)
from engagement.openreferral.fetch import FeedClient, FeedError, is_web_address, iter_feed, parse_json, public_url
from engagement.service_vocabulary import ACCESS, DAYS, DELIVERY, ORUK_DAYS, SERVICE_STATUSES, sessions_text
from engagement.settings import load_settings


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


def _read_file(path: Path, client: FeedClient) -> bytes:
    """A file's bytes, read no further than the limit for a file (a device such as /dev/zero has
    no size to check first), counted against the import's bytes."""
    limit = int(load_settings().imports.max_file_mb * 1_000_000)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as error:
        raise FeedError(f"{path}: cannot be read ({error.strerror})") from error
    if len(data) > limit:
        raise FeedError(f"{path.name}: is over {limit / 1_000_000:g} MB, the limit for a file")
    client.count_bytes(len(data), path.name)
    return data


def iter_sources(
    sources, client: FeedClient, failures: list[str], http: httpx.Client | None = None
) -> Iterator[tuple[str, dict]]:
    """Every service record of ``sources`` (paths, (name, bytes) pairs, uploads, feed URLs) as it
    is read; what cannot be read is added to ``failures`` (one message each) and the next source
    is read. Files on the server are read only when given as paths (the command line's business)."""
    client.begin()
    for item in sources:
        try:
            if is_web_address(item):
                yield from iter_feed(str(item).strip(), client, http)
                continue
            if isinstance(item, tuple):
                name, data = str(item[0]), bytes(item[1])
                client.count_bytes(len(data), name)
            elif hasattr(item, "getvalue"):
                name, data = str(item.name), bytes(item.getvalue())
                client.count_bytes(len(data), name)
            else:
                path = Path(item)
                name, data = path.name, _read_file(path, client)
            document = parse_json(data, name, client.max_depth)
            del data
            yield from _with_full_records(item, records_of(name, document), client)
        except FeedError as error:
            failures.append(str(error))


def read_sources(sources, client: FeedClient | None = None, http=None) -> tuple[list[tuple[str, dict]], list[str]]:
    """Every service record of ``sources`` as a list (:func:`iter_sources`), and the list of what
    could not be read (one message each). All sources are read before any is used."""
    failures: list[str] = []
    records = list(iter_sources(sources, client or FeedClient(), failures, http))
    return records, failures


def _with_full_records(item, found: list[tuple[str, dict]], client: FeedClient) -> list[tuple[str, dict]]:
    """A ``/services`` page saved as a file (the export's ``services.json``) holds flat items;
    their full records are beside it in ``services/<name>.json`` (:func:`file_stem` of the id), as
    a feed serves them."""
    if isinstance(item, tuple) or hasattr(item, "getvalue"):
        return found
    folder = Path(item).parent / "services"
    out = []
    for where, record in found:
        if isinstance(record, dict) and "service_at_locations" not in record and record.get("id"):
            full = folder / f"{file_stem(str(record['id']))}.json"
            if full.is_file():
                record = parse_json(_read_file(full, client), full.name, client.max_depth)
                where = str(full.name)
        out.append((where, record))
    return out


def source_text(sources) -> str:
    """Where an import came from, as a partner shows it and the audit log keeps it: the feed
    addresses (without user names, passwords or secrets) and file names."""
    names = [
        public_url(str(s).strip())
        if is_web_address(s)
        else str(s[0])
        if isinstance(s, tuple)
        else str(getattr(s, "name", None) or Path(s).name)
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
