"""The services partners offer, as families need them: who a service is for (ages), what it costs,
the languages spoken, how it is delivered, when it runs, how to get in, and whether it is SEND
inclusive; the ``services.csv`` import (all-or-nothing) and export; and how well one service fits
one family, in words.

Each column maps onto one Open Referral UK 3.0 field (``shared/standards/oruk-3.0/``), so a later
import and export of that standard is a translation, not a remodelling:

=================  ==========================================================================
column             Open Referral UK 3.0
=================  ==========================================================================
service_id, name   service.id, service.name (partner_id: service.organization_id)
tags               service.attributes (taxonomy terms of the school's own vocabulary)
min_age, max_age   service.minimum_age, service.maximum_age (eligibility)
cost               cost_option: ``free`` is amount 0; other words are amount_description
languages          language.name, one per language
delivery           schedule.attending_type; ``in person`` also a service_at_location
sessions           schedule: freq WEEKLY, byday (MO..SU), opens_at, closes_at, one per session
access             attribute of the "access" taxonomy (drop-in, self-referral, professional referral)
eligibility        eligibility description (service.description's eligibility paragraph)
send_inclusive     attribute of the "SEND" taxonomy
status             service.status (active, inactive, defunct, temporarily closed)
=================  ==========================================================================

>>> parse_sessions("mon 9:00-11:30; Thursday 15:30-17:00")
[('Mon', '09:00', '11:30'), ('Thu', '15:30', '17:00')]
>>> year_ages("R;3")
[(4, 5), (7, 8)]
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from engagement import interchange as ix
from engagement import store as db
from engagement.cells import parse_list, year_tokens
from engagement.imports.reading import cell_text
from engagement.imports.report import ImportReport
from engagement.interchange import Field

KIND = "services"
DELIVERY = ("in person", "online", "phone")
ACCESS = ("drop-in", "self-referral", "professional referral")
SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ORUK_DAYS = dict(zip(DAYS, ("MO", "TU", "WE", "TH", "FR", "SA", "SU"), strict=True))

FORMAT: tuple[Field, ...] = ix.FORMATS[KIND]  # the columns of services.csv, read by the import's pipeline
COLUMNS = [f.name for f in FORMAT]


# ---------------------------------------------------------------- reading one value

_SESSION = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2})[:.](\d{2})\s*-\s*(\d{1,2})[:.](\d{2})$")


def day_name(text: str) -> str | None:
    """A day of the week as three letters ("thursday", "Thu" -> "Thu"), or None."""
    word = text.strip().lower()[:3]
    return next((d for d in DAYS if d.lower() == word), None) if len(text.strip()) >= 3 else None


def parse_sessions(text) -> list[tuple[str, str, str]]:
    """Weekly sessions ("Mon 09:00-11:30;Thu 15:30-17:00") as (day, opens, closes); ValueError
    naming the first session that cannot be read."""
    out = []
    for item in parse_list(text):
        m = _SESSION.match(" ".join(item.split()))
        day = day_name(m.group(1)) if m else None
        if not m or day is None:
            raise ValueError(f"{item!r} is not a weekly session: write it as a day and times, e.g. Mon 09:00-11:30")
        h1, m1, h2, m2 = (int(g) for g in m.groups()[1:])
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2, m2) <= (h1, m1):
            raise ValueError(f"{item!r}: the session must end after it starts, between 00:00 and 24:00")
        out.append((day, f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"))
    return out


def sessions_text(sessions: Iterable[tuple[str, str, str]]) -> str:
    return ";".join(f"{d} {a}-{b}" for d, a, b in sessions)


def service_readers(bad: type) -> dict:
    """How the import reads the kinds of cell only services have (``bad(reason)`` for a refusal);
    :func:`engagement.interchange._converters` adds them to its own, so a services file and the
    Directory's service form follow one set of rules."""

    def one_of(options, what):
        def read(text):
            key = " ".join(text.lower().split())
            return key if key in options else bad(f"{text!r} is not {what}. Choose one of: {', '.join(options)}.")

        return read

    def delivery(text):
        items = [" ".join(t.lower().split()) for t in parse_list(text)]
        wrong = [t for t in items if t not in DELIVERY]
        if wrong:
            return bad(f"{wrong[0]!r} is not a way of delivering a service. Choose from: {', '.join(DELIVERY)}.")
        return ";".join(dict.fromkeys(items))

    def sessions(text):
        try:
            return sessions_text(parse_sessions(text))
        except ValueError as error:
            return bad(str(error))

    return {
        "delivery": delivery,
        "sessions": sessions,
        "access": one_of(ACCESS, "a way in"),
        "service_status": one_of(SERVICE_STATUSES, "a service status"),
    }


def converters() -> dict:
    """The import's converters, services' kinds included (one set of rules for files and forms)."""
    return ix._converters()


def check_values(
    values: dict[str, object], fields: Iterable[Field], convert: dict | None = None
) -> tuple[dict[str, object], dict[str, str]]:
    """Read a record's texts as the import reads a row: (typed values, problems by column).
    Blank is None; a required blank is a problem. Used by the services import and by the
    Directory's forms, so a form says exactly what an import would.

    >>> from engagement.interchange import FORMATS
    >>> _, problems = check_values({"partner_id": "P1", "name": "", "category": "food bnk"}, FORMATS["partners"])
    >>> sorted(problems)
    ['category', 'name']
    """
    convert = convert or converters()
    out: dict[str, object] = {}
    problems: dict[str, str] = {}
    for f in fields:
        if f.name not in values:
            continue
        raw = values[f.name]
        # Not stripped again: a cell the import cleaned ("'\tx" read back as "\tx") stays as it was.
        text = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else cell_text(raw)
        if text.strip() == "":
            if f.required:
                problems[f.name] = f"the {f.name} is missing; every row needs one"
            out[f.name] = None
            continue
        value = convert[f.kind](text)
        if isinstance(value, ix._Bad):
            problems[f.name] = value.reason
        elif f.limit and isinstance(value, str) and len(value) > f.limit:
            problems[f.name] = f"is too long: {len(value)} characters, at most {f.limit}"
        else:
            out[f.name] = value
    low, high = out.get("min_age"), out.get("max_age")
    if not problems and isinstance(low, int) and isinstance(high, int) and low > high:
        problems["max_age"] = f"the maximum age {out['max_age']} is below the minimum age {out['min_age']}"
    return out, problems


# ---------------------------------------------------------------- tags of a partner (the old services column)


def partner_tags(conn: Connection, partner_ids: Collection[str]) -> dict[str, str]:
    """Each partner's tags as the old ``services`` column held them: the tags of its active
    services, ``;``-joined, first seen first (by service_id), without repeats (any case)."""
    rows = db.rows_by_key(
        conn, KIND, list(partner_ids), columns=["partner_id", "service_id", "tags", "status"], by="partner_id"
    )
    out: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r["partner_id"], r["service_id"])):
        if row["status"] != "active":
            continue
        have = out.setdefault(row["partner_id"], [])
        seen = {t.lower() for t in have}
        for tag in parse_list(row["tags"]):
            if tag.lower() not in seen:
                have.append(tag)
                seen.add(tag.lower())
    return {k: ";".join(v) for k, v in out.items() if v}


def _free_id(conn: Connection, partner_id: str) -> str:
    taken = set(conn.execute(select(db.services.c.service_id).where(db.services.c.partner_id == partner_id)).scalars())
    n = 1
    while f"{partner_id}-S{n}" in taken:
        n += 1
    return f"{partner_id}-S{n}"


def new_service_id(store: db.Store, partner_id: str) -> str:
    """The next free id of the form ``<partner_id>-S<n>``."""
    with store.read() as conn:
        return _free_id(conn, partner_id)


# ---------------------------------------------------------------- reading the store


def services_of(
    store: db.Store, school_id: str | None = None, partner_ids: Collection[str] | None = None
) -> pd.DataFrame:
    """The services of a school's partners (or of ``partner_ids``), one row each, every column."""
    s, p = db.services, db.partners
    query = select(s).join(p, p.c.partner_id == s.c.partner_id).order_by(s.c.partner_id, s.c.service_id)
    if school_id is not None:
        query = query.where(p.c.school_id == school_id)
    if partner_ids is not None:
        query = query.where(s.c.partner_id.in_(list(partner_ids)))
    with store.read() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=list(s.c.keys()))


# ---------------------------------------------------------------- how a service fits a family


def year_ages(year_groups) -> list[tuple[int, int]]:
    """The ages of children in these year groups in England (Nursery 3-4, Reception 4-5, Year n
    n+4 to n+5), for matching a service's age range."""
    out = []
    for token in year_tokens(year_groups):
        if token == "N":
            out.append((3, 4))
        elif token == "R":
            out.append((4, 5))
        elif token.isdigit():
            out.append((int(token) + 4, int(token) + 5))
    return out


def is_free(cost) -> bool:
    return isinstance(cost, str) and " ".join(cost.lower().split()) in ("free", "free of charge", "no cost", "£0")


def open_on(sessions, day: str) -> bool:
    """Whether weekly ``sessions`` (text) include ``day`` ("Mon" or a date's weekday)."""
    try:
        return any(d == day for d, _, _ in parse_sessions(sessions))
    except ValueError:
        return False


CHANNEL_DELIVERY = {"in person": "in person", "phone": "phone", "digital": "online", "letter": "in person"}


@dataclass(frozen=True)
class Fit:
    """How one service fits one family: whether it does, how well (larger is better), and why."""

    fits: bool
    rank: tuple
    why: list[str]


def service_fit(service: dict, family: dict) -> Fit:
    """Whether ``service`` (a row of the services table) suits ``family`` (year_groups, language,
    preferred_channel, pupil_premium), and the reasons in the school's words. A service for
    ages none of the children are does not fit; language, delivery and cost rank and explain.

    >>> fit = service_fit({"min_age": 5, "max_age": 11, "cost": "free", "languages": "English;Polish",
    ...                    "delivery": "in person;phone"},
    ...                   {"year_groups": "3", "language": "Polish", "preferred_channel": "phone",
    ...                    "pupil_premium": True})
    >>> fit.fits, fit.why
    (True, ['ages 5-11 fit Year 3', 'in Polish', 'by phone', 'free'])
    """
    why: list[str] = []
    lo, hi = service.get("min_age"), service.get("max_age")
    lo = None if lo is None or pd.isna(lo) else int(lo)
    hi = None if hi is None or pd.isna(hi) else int(hi)
    ages = year_ages(family.get("year_groups"))
    if (lo is not None or hi is not None) and ages:
        low, high = (lo if lo is not None else 0), (hi if hi is not None else 200)
        fitting = [i for i, (a, b) in enumerate(ages) if a <= high and b >= low]
        if not fitting:
            return Fit(False, (), [])
        token = (
            year_tokens(family.get("year_groups"))[fitting[0]]
            if fitting[0] < len(year_tokens(family.get("year_groups")))
            else ""
        )
        year = "Reception" if token == "R" else "Nursery" if token == "N" else f"Year {token}"
        span = f"{low}-{high}" if lo is not None and hi is not None else (f"{low}+" if hi is None else f"up to {high}")
        why.append(f"ages {span} fit {year}")
    language = str(family.get("language") or "").strip()
    spoken = {t.lower(): t for t in parse_list(service.get("languages"))}
    speaks = bool(language) and language.lower() in spoken and language.lower() != "english"
    if speaks:
        why.append(f"in {spoken[language.lower()]}")
    channel = CHANNEL_DELIVERY.get(str(family.get("preferred_channel") or "").strip().lower())
    delivery = [" ".join(t.lower().split()) for t in parse_list(service.get("delivery"))]
    usable = bool(channel) and channel in delivery
    if usable:
        why.append("by phone" if channel == "phone" else "online" if channel == "online" else "in person")
    free = is_free(service.get("cost"))
    if free:
        why.append("free")
    if service.get("send_inclusive") is True and family.get("send") is True:
        why.append("SEND inclusive")
    pupil_premium = bool(family.get("pupil_premium"))
    return Fit(True, (int(free and pupil_premium), int(speaks), int(usable)), why)


# ---------------------------------------------------------------- import


def rows_for_tags(
    partner_id: str, partner_name: str, tags: list[str], rows: list[dict], remove: bool = True
) -> list[dict]:
    """The services of one partner that a partners file's ``services`` tags change or add: tags it
    lists that no active service has go to the first active service (a new one, named after the
    partner, when it has none); tags it no longer lists leave every service, unless ``remove`` is
    False (a services file of the same batch describes the partner's services: it has the last
    word on them, the tags only add). ``rows`` are the partner's services as they stand (every
    column, in service_id order); a list equal to what the active services hold changes nothing,
    so an exported partners.csv imports back unchanged.

    >>> rows_for_tags("P1", "Hub", ["food", "debt advice"], [{"service_id": "P1-S1", "tags": "food;sport",
    ...                                                       "status": "active"}])
    [{'service_id': 'P1-S1', 'tags': 'food;debt advice', 'status': 'active'}]
    >>> [r["service_id"] for r in rows_for_tags("P2", "Club", ["sport"], [])]
    ['P2-S1']
    """
    wanted = {" ".join(t.lower().split()): t for t in tags}
    held = {" ".join(t.lower().split()) for r in rows if r["status"] == "active" for t in parse_list(r["tags"])}
    if set(wanted) == held:
        return []
    out: dict[str, dict] = {}
    for row in rows if remove else []:
        kept = [t for t in parse_list(row["tags"]) if " ".join(t.lower().split()) in wanted]
        if kept != parse_list(row["tags"]):
            out[row["service_id"]] = {**row, "tags": ";".join(kept) or None}
    missing = [t for key, t in wanted.items() if key not in held]
    if missing:
        first = next((out.get(r["service_id"], r) for r in rows if r["status"] == "active"), None)
        if first is None:
            taken = {r["service_id"] for r in rows}
            n = 1
            while f"{partner_id}-S{n}" in taken:
                n += 1
            first = {
                "service_id": f"{partner_id}-S{n}",
                "partner_id": partner_id,
                "name": str(partner_name)[:300],
                "tags": None,
                "send_inclusive": "send inclusive" in wanted,
                "status": "active",
            }
        out[first["service_id"]] = {**first, "tags": ";".join(parse_list(first["tags"]) + missing)}
    return list(out.values())


def import_services(
    store: db.Store,
    sources,
    actor: str = "import",
    dry_run: bool = False,
    allowed_schools: Collection[str] | None = None,
) -> ImportReport:
    """Import services.csv files alone (paths, (name, bytes) pairs or uploads), all or nothing;
    every partner named must be stored (or in the batch) and of a school the account may change.
    A column the file lacks keeps the stored value. The batch goes through
    :func:`engagement.interchange.import_files`, as with every other kind."""
    return ix.import_files(store, sources, kind=KIND, actor=actor, dry_run=dry_run, allowed_schools=allowed_schools)
