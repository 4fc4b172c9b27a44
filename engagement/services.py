"""The services partners offer, as families need them: who a service is for (ages), what it costs,
the languages spoken, how it is delivered, when it runs, how to get in, and whether it is SEND
inclusive; the ``services.csv`` import (all-or-nothing) and export; and how well one service fits
one family, in words. What a service's cells may say (delivery, ways in, statuses, days, sessions)
and a partner's tags live in :mod:`engagement.service_vocabulary`, which the main import reads too.

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
from engagement.service_vocabulary import parse_sessions

KIND = "services"

FORMAT: tuple[Field, ...] = ix.FORMATS[KIND]  # the columns of services.csv, read by the import's pipeline
COLUMNS = [f.name for f in FORMAT]


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
