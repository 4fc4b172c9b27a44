"""Importing read records into a school's directory: the plan (the dry run), the merge with the
school's own values, and the one write with its audit event. The transaction is the one runner
of imports' (:mod:`engagement.imports.runner`), as for every file: the plan is made on a read, and
the short write checks that nothing it read has moved (else the plan is made again), so a
directory import and a file import fail, retry and report a database's refusal the same way."""

from __future__ import annotations

import datetime
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from engagement import clock, geo
from engagement import store as db
from engagement.imports import runner
from engagement.openreferral.categories import CategoryMap, load_category_map
from engagement.openreferral.common import (
    CLOSED_STATUS,
    LOCAL_OFFER,
    OPEN_STATUSES,
    PARTNER_FIELDS,
    SERVICE_FIELDS,
    _key,
    _load_record,
    _norm,
    made_id,
)
from engagement.openreferral.fetch import FeedClient, is_web_address, public_url
from engagement.openreferral.read import FeedService, Problem, _Bad, iter_sources, read_service, source_text
from engagement.settings import load_settings
from engagement.typology import load_typology


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
    far: list[dict] = field(default_factory=list)  # services left out for their distance from the school
    max_km: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    written: bool = False
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # the runner's; the changes say it here

    @property
    def ok(self) -> bool:
        return not self.failures and not self.problems

    @property
    def files(self) -> list[str]:
        """Where the records came from, as the runner of imports names a batch's files."""
        return [self.sources] if self.sources else []

    def error(self, file: str | None, row: int | None, column: str | None, reason: str) -> None:
        """A problem the runner of imports found with the import as a whole (the store kept
        changing, the database refused the write): nothing was written."""
        self.failures.append(reason)

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

    def far_line(self) -> str | None:
        """One line on the services left out for distance, or None."""
        if not self.far:
            return None
        n, kms = len(self.far), [f["km"] for f in self.far]
        return (
            f"{n} service{'s' * (n != 1)} farther than {self.max_km:g} km from the school left out "
            f"({min(kms):.1f} to {max(kms):.0f} km away; --max-km or [open_referral] max_km)"
        )

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
            if self.far_line():
                lines.append(f"  {self.far_line()}")
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
    notes: list[str] = field(default_factory=list)  # the report's notes as planned, noted again by the write


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


@dataclass
class ReadFeed:
    """The records of an import, each read into a :class:`FeedService` as it came (the pages and
    documents themselves are not kept), with the problems and notes of the reading."""

    services: dict[str, FeedService] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    count: int = 0

    def __len__(self) -> int:
        return self.count


def read_records(records: Iterable[tuple[str, dict]]) -> ReadFeed:
    """Read every record; the same id twice is one service when the two agree."""
    out = ReadFeed()
    feed = out.services
    for where, record in records:
        out.count += 1
        record_id = str(record.get("id") or "") if isinstance(record, dict) else ""
        try:
            service = read_service(where, record)
        except _Bad as bad:
            out.problems.append(Problem(where, record_id, bad.field, bad.reason))
            continue
        if service.oruk_id in feed:
            if feed[service.oruk_id].values != service.values or feed[service.oruk_id].partner != service.partner:
                out.problems.append(
                    Problem(
                        where, service.oruk_id, "id", f"the same id as {feed[service.oruk_id].where}, with other values"
                    )
                )
            continue
        if service.extra_locations:
            out.notes.append(
                f"{service.oruk_id} {service.values['name']}: runs at {service.extra_locations + 1} locations; "
                "placed at the first"
            )
        feed[service.oruk_id] = service
    return out


def read_directory(sources, client: FeedClient | None = None) -> tuple[ReadFeed, list[str]]:
    """``sources`` (files, uploads, feed URLs) read into the directory's values as they come, and
    what could not be read: what the Data page keeps between its dry run and the import."""
    failures: list[str] = []
    return read_records(iter_sources(sources, client or FeedClient(), failures)), failures


def read_web_directory(url: str, client: FeedClient | None = None) -> tuple[ReadFeed, list[str]]:
    """:func:`read_directory` of a feed given by its address, as the Data page asks: only an
    http(s) address is read, never a file of the server, whatever the text."""
    if not is_web_address(url):
        return ReadFeed(), [f"{public_url(str(url))[:200]}: give the feed's address, starting https:// (or http://)"]
    return read_directory([url.strip()], client)


def source_key(source: str | None) -> frozenset[str]:
    """Which feed a partner came from, for closing: the addresses of the feeds it was read from,
    or "files" for a directory brought in as files or uploads (one source: files imported again
    close what files brought in). A re-import closes only the services of its own source.

    >>> sorted(source_key("https://la.example/api, https://hub.example/api")), source_key("a.json, b.json")
    (['https://hub.example/api', 'https://la.example/api'], frozenset({'files'}))
    """
    parts = [p.strip() for p in str(source or "").split(", ") if p.strip()]
    urls = frozenset(p for p in parts if is_web_address(p))
    return urls or frozenset({"files"})


def _school_place(conn: Connection, school_id: str) -> tuple[float, float] | None:
    """The school's coordinates, else its postcode's from the gazetteer when it knows it, read on
    ``conn`` (the plan's own read: a second read beside it is not open to an in-memory store)."""
    sc, gz = db.schools, db.gazetteer
    row = conn.execute(select(sc.c.latitude, sc.c.longitude, sc.c.postcode).where(sc.c.school_id == school_id)).first()
    if row is None:
        return None
    if row.latitude is not None and row.longitude is not None:
        return float(row.latitude), float(row.longitude)
    postcode = geo.normalise_postcode(row.postcode)
    found = (
        conn.execute(select(gz.c.latitude, gz.c.longitude).where(gz.c.postcode == postcode)).first()
        if postcode
        else None
    )
    return (float(found.latitude), float(found.longitude)) if found is not None else None


def plan_import(
    store: db.Store,
    school_id: str,
    records: list[tuple[str, dict]] | ReadFeed,
    category_map: CategoryMap,
    default_category: str | None = None,
    sources: str = "",
    today: datetime.datetime | None = None,
    conn: Connection | None = None,
    max_km: float | None = None,
) -> _Plan:
    """What importing ``records`` into ``school_id``'s directory would do (nothing is written).
    New organisations come in as ``local offer``; services farther than ``max_km`` from the
    school (default ``[open_referral] max_km``; 0 = no limit) are left out and counted."""
    read_feed = records if isinstance(records, ReadFeed) else read_records(records)
    report = OrukReport(sources=sources, services_read=read_feed.count)
    report.problems += read_feed.problems
    report.notes += read_feed.notes
    report.max_km = float(load_settings().open_referral.max_km if max_km is None else max_km)
    typology = load_typology()
    feed = read_feed.services
    if report.problems:
        return _Plan(report, [], [], {}, {}, {}, {})

    def read(c: Connection) -> tuple[list[dict], list[dict], set[str], tuple[float, float] | None]:
        p, s = db.partners, db.services
        partners = [dict(r) for r in c.execute(select(p).where(p.c.school_id == school_id)).mappings()]
        services = [
            dict(r)
            for r in c.execute(
                select(s).join(p, p.c.partner_id == s.c.partner_id).where(p.c.school_id == school_id)
            ).mappings()
        ]
        taken = set(c.execute(select(p.c.partner_id)).scalars()) | set(c.execute(select(s.c.service_id)).scalars())
        return partners, services, taken, _school_place(c, school_id)

    if conn is not None:
        stored_partners, stored_services, taken, school_place = read(conn)
    else:
        with store.read() as c:
            stored_partners, stored_services, taken, school_place = read(c)

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
    # The local offer is local: a service far from the school (another city, another nation) is
    # left out and counted, never brought in. One without coordinates cannot be judged and comes in.
    if report.max_km > 0 and school_place is not None:
        for service in feed.values():
            lat, lon = service.partner["latitude"], service.partner["longitude"]
            if service.oruk_id not in category or lat is None or lon is None:
                continue
            km = float(geo.distance_km(school_place[0], school_place[1], lat, lon))
            if km > report.max_km:
                report.far.append({"id": service.oruk_id, "name": service.values["name"], "km": round(km, 1)})
                del category[service.oruk_id]
    elif report.max_km > 0:
        report.notes.append("the school has no coordinates, so no service was left out for its distance")
    kept_services = [s for s in feed.values() if s.oruk_id in category]
    left_out = {s.oruk_id for s in feed.values()} - set(category)
    this_source = source_key(sources)
    partner_source = {p["partner_id"]: source_key(p["oruk_source"]) for p in stored_partners}

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

    now = today or clock.now()
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
        # The feed's word for the partner: the local offer while any service is open (a partner an
        # earlier release brought in as active stays so), lapsed once none is. A status the school
        # set (prospective, active) differs from the one last imported, so it is kept by the merge.
        last_status = (_load_record(stored["oruk_record"]) or {}).get("status") if stored is not None else None
        open_status = "active" if last_status == "active" else LOCAL_OFFER
        values["status"] = open_status if any(s in OPEN_STATUSES for s in statuses) else "lapsed"
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
        if partner_source.get(s["partner_id"]) != this_source:
            continue  # another feed's service: only that feed closes it
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
        if (
            p["partner_id"] in seen_partners
            or not p["oruk_organisation_id"]
            or p["status"] not in ("active", LOCAL_OFFER)
        ):
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
    max_km: float | None = None,
) -> OrukReport:
    """Import an Open Referral UK directory into ``school_id``'s partners, all or nothing: every
    source read and every record checked before one write transaction (with one audit event).
    Each record is read into the directory's values as its page comes, and the page let go.
    With ``dry_run`` nothing is written and the report lists what would change."""
    started = time.perf_counter()
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    origin = source_text(sources)
    if default_category is not None and load_typology().category(default_category) is None:
        report = OrukReport(sources=origin, dry_run=dry_run)
        report.failures.append(f"--default-category {default_category!r} is not a category of the typology")
        return report
    failures: list[str] = []
    read_feed = read_records(iter_sources(sources, client or FeedClient(), failures, http))
    if failures:
        return OrukReport(sources=origin, dry_run=dry_run, failures=failures, services_read=read_feed.count)
    read = time.perf_counter() - started
    report = import_records(
        store, read_feed, school_id, origin, actor, dry_run, category_map, default_category, max_km=max_km
    )
    report.seconds = {"read the feed": read, **report.seconds}
    return report


def import_records(
    store: db.Store,
    records: list[tuple[str, dict]] | ReadFeed,
    school_id: str,
    origin: str,
    actor: str = "import",
    dry_run: bool = False,
    category_map: CategoryMap | None = None,
    default_category: str | None = None,
    max_km: float | None = None,
) -> OrukReport:
    """:func:`import_oruk` of records already read (:func:`read_sources`): the Data page reads a
    feed once, shows the dry run, and imports what it showed when the import is confirmed."""
    if default_category is not None and load_typology().category(default_category) is None:
        report = OrukReport(sources=origin, dry_run=dry_run)
        report.failures.append(f"--default-category {default_category!r} is not a category of the typology")
        return report
    category_map = category_map or load_category_map()
    read_feed = records if isinstance(records, ReadFeed) else read_records(records)
    steps = _steps(store, read_feed, category_map, default_category, origin, max_km)
    outcome = runner.run(store, [(steps, [read_feed])], dry_run=dry_run, actor=actor, school_id=school_id)
    done = next(r for s, r in outcome.reports if s is steps)
    assert isinstance(done, OrukReport)
    done.written = done.written and done.ok  # a write refused at its commit wrote nothing
    return done


def _audit_detail(plan: _Plan, read_feed: ReadFeed) -> dict[str, Any]:
    report = plan.report
    return {
        "standard": "Open Referral UK 3.0",
        "sources": report.sources,
        "services read": read_feed.count,
        "counts": {
            f"{kind}s {action}": report.count(kind, action)
            for kind in ("partner", "service")
            for action in ("add", "change", "close")
        },
        "partners found again": report.refreshed,
        "left out (no category)": [u["id"] for u in report.unmapped if u["what"] == "left out"],
        f"left out (farther than {report.max_km:g} km)": len(report.far),
    }


def _steps(
    store: db.Store,
    read_feed: ReadFeed,
    category_map: CategoryMap,
    default_category: str | None,
    origin: str,
    max_km: float | None,
) -> runner.Steps:
    """The directory import as the runner of imports drives it: the records are read already; the
    check is :func:`plan_import` on the runner's read; the write checks that the school's partners
    and services are as read (else the runner plans again) and writes the plan, with its audit
    event, unless it changes nothing."""

    def read(report: OrukReport, sources: list, kind: str | None) -> ReadFeed:
        return read_feed

    def check(report: OrukReport, feed: ReadFeed, conn: Connection, scope: runner.Scope) -> _Plan | None:
        plan = plan_import(
            store, str(scope.school_id), feed, category_map, default_category, origin, conn=conn, max_km=max_km
        )
        for f in fields(OrukReport):  # into the report the runner keeps, its timings and dry run kept
            if f.name not in ("dry_run", "seconds"):
                setattr(report, f.name, getattr(plan.report, f.name))
        plan.report = report
        plan.notes = list(report.notes)
        return plan if report.ok else None

    def write(report: OrukReport, feed: ReadFeed, plan: _Plan | None, conn: Connection, scope: runner.Scope) -> None:
        if plan is None:  # never first in a batch of its own; checked here if it were not
            plan = check(report, feed, conn, scope)
            if plan is None:
                raise runner.Refusal
        elif not _still_as_read(conn, plan, str(scope.school_id)):
            raise runner.StoreChanged
        report.notes[:] = plan.notes  # the runner starts the write's notes afresh
        if not unchanged(plan):
            _write(conn, plan, _audit_detail(plan, feed))
            report.written = True

    def unchanged(plan: _Plan) -> bool:
        """Nothing to change: no write transaction, no audit event."""
        return not (plan.report.changes or plan.partner_updates or plan.service_updates)

    return runner.Steps(
        "open referral",
        ("open referral",),
        read,
        check,
        write,
        new_report=lambda dry_run=False: OrukReport(sources=origin, dry_run=dry_run, services_read=read_feed.count),
        unchanged=unchanged,
    )
