"""What every part of the Open Referral UK exchange shares: the app's own taxonomies, the fields the
feed decides, the statuses, the ids the app makes for its own records, and how a value is compared
with the one last imported."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from typing import Any

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
# A partner of the authority's directory the school has not taken on: on the map and in outreach
# suggestions, in no score, never due for a check (engagement.typology.LOCAL_OFFER).
LOCAL_OFFER = "local offer"
CLOSED_STATUS = "inactive"
LIMITS = {"name": 300, "contact_name": 200, "contact_email": 200, "contact_phone": 50, "postcode": 16}


def made_id(*parts: str) -> str:
    """The Open Referral id the app gives something of its own (a UUID 5 of its references).

    >>> made_id("S1-P001") == made_id("S1-P001"), len(made_id("x"))
    (True, 36)
    """
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _key(text) -> str:
    return " ".join(str(text or "").lower().split())


def _norm(value) -> Any:
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def _load_record(text) -> dict | None:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


_PLAIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def file_stem(oruk_id: str) -> str:
    """The name (without ``.json``) a record's file has in an export: an Open Referral id is data,
    never a path, so only a plain token (a UUID is one) names its file; any other id (``../../x``,
    ``a/b``) is named by a UUID 5 made from it, the same every time, so an export read back finds it.

    >>> file_stem("5b0f1d8e-5a52-4a53-9a0c-3b1e0c6f1a18"), file_stem("a/b") == file_stem("a/b") != "a/b"
    ('5b0f1d8e-5a52-4a53-9a0c-3b1e0c6f1a18', True)
    """
    text = str(oruk_id)
    return text if _PLAIN_ID.fullmatch(text) and ".." not in text else made_id("file", text)
