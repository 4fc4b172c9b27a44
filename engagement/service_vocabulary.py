"""What a service's cells may say, and how a partner's tags map onto its services: the
vocabularies of ``services.csv`` (ways of delivery, ways in, statuses, days), the readers of its
cells that the import adds to its own (:func:`service_readers`), and the tags of a partner as the
old ``services`` column of partners.csv held them (:func:`partner_tags`, :func:`rows_for_tags`).
A leaf: the main import (:mod:`engagement.interchange`) reads services' cells with these, while
:mod:`engagement.services` (the services as families need them, their import and export) reads
``services.csv`` with the import's pipeline.

>>> sessions_text(parse_sessions("mon 9:00-11:30"))
'Mon 09:00-11:30'
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from sqlalchemy.engine import Connection

from engagement import store as db
from engagement.cells import choice_reader, parse_list

KIND = "services"
DELIVERY = ("in person", "online", "phone")
ACCESS = ("drop-in", "self-referral", "professional referral")
SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ORUK_DAYS = dict(zip(DAYS, ("MO", "TU", "WE", "TH", "FR", "SA", "SU"), strict=True))


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
        "access": choice_reader(ACCESS, "a way in", bad),
        "service_status": choice_reader(SERVICE_STATUSES, "a service status", bad),
    }


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
