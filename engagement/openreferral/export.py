"""Exporting a school's directory as Open Referral UK 3.0: one full record per service and one
``/services`` page holding them all."""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engagement import store as db
from engagement.cells import parse_list
from engagement.openreferral.common import (
    ACCESS_TAXONOMY,
    CLOSED_STATUS,
    DELIVERY_TAXONOMY,
    ELIGIBILITY_TAXONOMY,
    LANGUAGE_TAXONOMY,
    OPEN_STATUSES,
    SEND_TAXONOMY,
    SEND_TERM,
    TAGS_TAXONOMY,
    TYPOLOGY_TAXONOMY,
    _load_record,
    _norm,
    file_stem,
    made_id,
)
from engagement.service_vocabulary import ORUK_DAYS


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
    from engagement.service_vocabulary import parse_sessions

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


def published_status(partner: dict, service: dict) -> str:
    """A service's status as the school publishes it. A service of an active partner is as the
    school holds it. A prospective, lapsed or local-offer partner is not the school's active
    partner, so its services are published open only while the feed they came from still has them
    open (and the school has not closed them); otherwise ``inactive``.

    >>> published_status({"status": "prospective"}, {"status": "active"})
    'inactive'
    >>> published_status({"status": "local offer"}, {"status": "active", "oruk_record": '{"status": "active"}'})
    'active'
    """
    held = str(service["status"])
    if partner.get("status") == "active" or held not in OPEN_STATUSES:
        return held
    source = (_load_record(service.get("oruk_record")) or {}).get("status")
    return held if source in OPEN_STATUSES else CLOSED_STATUS


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
        "status": published_status(partner, service),
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
    # No contact names: they are people (often the school's own staff or a volunteer), and an
    # export is published. The partner's public email stays, as the service's.
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


def _inside(folder: Path, name: str) -> Path:
    """``folder / name``, checked to stay inside ``folder`` (an id is data, never a path: see
    :func:`file_stem`; this is the second lock)."""
    root = folder.resolve()
    path = (root / name).resolve()
    if path.parent != root:
        raise ValueError(f"{name!r} is not a file name inside {folder}")
    return path


def export_oruk(store: db.Store, directory, school_id: str | Collection[str] | None = None) -> list[Path]:
    """Write ``services/<name>.json`` (one full service each, named by :func:`file_stem` of its
    id) and ``services.json`` (the ``/services`` page) under ``directory``; returns the paths
    written. Nothing is written outside ``directory``, whatever the ids."""
    directory = Path(directory)
    (directory / "services").mkdir(parents=True, exist_ok=True)
    records = export_records(store, school_id)
    paths = []
    for record in records:
        path = _inside(directory / "services", f"{file_stem(record['id'])}.json")
        path.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        paths.append(path)
    page = _inside(directory, "services.json")
    page.write_text(json.dumps(services_page(records), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return [*paths, page]


def export_zip(store: db.Store, school_id: str) -> bytes:
    """:func:`export_oruk` as one ZIP file (``services.json`` and ``services/<id>.json``)."""
    import io
    import tempfile
    import zipfile

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        root = Path(folder).resolve()
        for path in export_oruk(store, folder, school_id):
            archive.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()
