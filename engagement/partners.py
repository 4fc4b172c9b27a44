"""The partner directory as the pages show it: every stored field of each partner, its segment,
its distance from the school, how it stands in a window (interactions, last contact, engaged), and
the record of one partner that the map and the layers page show beside their drawing.

Engagement comes from :func:`engagement.scoring.partner_engagement`, so the diagram, the map and
the scores always agree on who counts as engaged (a listed partner, active or prospective, with at
least one interaction in the window; a lapsed partner never does).

>>> import datetime
>>> from engagement.store import open_store
>>> partners_in_window(open_store("sqlite://"), "none", datetime.date(2026, 9, 1), datetime.date(2026, 11, 23)).empty
True
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select

from engagement import clock, geo
from engagement import store as db
from engagement.frames import Frames, load_school_frames
from engagement.scoring import partner_engagement
from engagement.service_vocabulary import partner_tags
from engagement.settings import load_settings
from engagement.text import text_or_blank
from engagement.typology import LOCAL_OFFER, load_typology

ENGAGEMENT_COLUMNS = ["interactions", "last_contact", "engaged"]


# ---------------------------------------------------------------- stale: due for a check


def _months_before(day: datetime.date, months: int) -> datetime.date:
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    last = (datetime.date(year + (month == 12), month % 12 + 1, 1) - datetime.timedelta(days=1)).day
    return datetime.date(year, month, min(day.day, last))


def stale_since(today: datetime.date | None = None) -> datetime.date:
    """A partner last checked before this day is stale."""
    return _months_before(today or clock.today(), load_settings().directory.stale_after_months)


def is_stale(last_verified, today: datetime.date | None = None) -> bool:
    """Whether a partner last checked on ``last_verified`` (None: never) is due for a check."""
    if last_verified is None or (not isinstance(last_verified, datetime.date) and pd.isna(last_verified)):
        return True
    return last_verified < stale_since(today)


def stale_mask(last_verified: pd.Series, today: datetime.date | None = None) -> pd.Series:
    return last_verified.map(lambda d: is_stale(d, today)).astype(bool)


def partner_directory(
    store: db.Store, school_id: str, archived: bool = False, today: datetime.date | None = None
) -> pd.DataFrame:
    """Every stored field of the school's partners, with the distance from the school in km
    (NaN when the school or the partner is not placed yet), ``services`` (the tags of its active
    services, ``;``-joined) and ``stale`` (not checked within the configured period, see
    :func:`is_stale`). Archived partners only with ``archived``."""
    p = db.partners
    query = select(p).where(p.c.school_id == school_id).order_by(p.c.partner_id)
    if not archived:
        query = query.where(p.c.archived_on.is_(None))
    with store.read() as conn:
        school = conn.execute(select(db.schools).where(db.schools.c.school_id == school_id)).mappings().first()
        frame = pd.DataFrame(conn.execute(query).mappings().all(), columns=list(p.c.keys()))
        tags = partner_tags(conn, list(frame["partner_id"])) if len(frame) else {}
    frame["services"] = pd.Series([tags.get(p) for p in frame["partner_id"]], index=frame.index, dtype=object)
    # The local offer is the authority's to check, never the school's: never "due for a check".
    frame["stale"] = stale_mask(frame["last_verified"], today) & (frame["status"] != LOCAL_OFFER).to_numpy()
    frame["latitude"] = pd.to_numeric(frame["latitude"], errors="coerce")
    frame["longitude"] = pd.to_numeric(frame["longitude"], errors="coerce")
    if school is not None and school["latitude"] is not None and school["longitude"] is not None and len(frame):
        frame["distance_km"] = geo.distance_km(
            school["latitude"], school["longitude"], frame["latitude"], frame["longitude"]
        )
    else:
        frame["distance_km"] = np.nan
    return frame


def partners_in_window(
    store: db.Store, school_id: str, start: datetime.date, end: datetime.date, frames: Frames | None = None
) -> pd.DataFrame:
    """The directory joined with each partner's engagement in ``[start, end]`` and its segment."""
    directory = partner_directory(store, school_id)
    if directory.empty:
        return directory.assign(
            segment=pd.Series(dtype=object),
            interactions=pd.Series(dtype=int),
            last_contact=pd.Series(dtype="datetime64[s]"),
            engaged=pd.Series(dtype=bool),
        )
    frames = frames if frames is not None else load_school_frames(store, school_id)
    engagement = partner_engagement(frames, school_id, start, end)[["partner_id", "segment", *ENGAGEMENT_COLUMNS]]
    merged = directory.merge(engagement, on="partner_id", how="left")
    merged["interactions"] = merged["interactions"].fillna(0).astype(int)
    merged["engaged"] = merged["engaged"].fillna(False).astype(bool)
    # A category no longer in the typology (a school edited it after importing) falls in the
    # design's catch-all segment: "community, everyone else outside the gates".
    merged["segment"] = merged["segment"].fillna("community")
    return merged


@dataclass
class PartnerFilter:
    """What the page's filters chose; empty means "all"."""

    layers: tuple[int, ...] = ()
    segments: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    engaged: bool | None = None
    search: str = ""
    within_km: float | None = None  # from the school; a partner not placed yet is never within


def services_text(services) -> str:
    """One partner's services as a reader would write them: "; " between, blanks dropped.

    >>> services_text("after-school;holiday club; ;sport"), services_text(None)
    ('after-school; holiday club; sport', '')
    """
    return "; ".join(t.strip() for t in text_or_blank(services).split(";") if t.strip())


def partner_heading(partner) -> str:
    """The line under a partner's name: category, layer and status.

    >>> partner_heading({"category": "food bank", "layer": 3, "status": "active"})
    'food bank · layer 3 (Linked organisations) · active'
    """
    layer = int(partner["layer"])
    return f"{partner['category']} · layer {layer} ({load_typology().layer_name(layer)}) · {partner['status']}"


def partner_record(partner) -> dict[str, object]:
    """A partner's record as the pages show it beside the map and the layers diagram, label to
    value in the order shown (a value may be empty): one row of :func:`partners_in_window`. Both
    pages show this, so they show the same fields.

    >>> import datetime
    >>> row = {"distance_km": float("nan"), "interactions": 2, "engaged": True,
    ...        "last_contact": datetime.date(2026, 10, 5), "address": "1 High St", "postcode": None,
    ...        "contact_name": None, "contact_email": "a@b.org", "contact_phone": None, "services": "food;sport",
    ...        "since": None, "last_verified": datetime.date(2026, 9, 1), "notes": None, "partner_id": "P1"}
    >>> record = partner_record(row)
    >>> record["Distance from the school"], record["Last contact in the window"], record["Address"]
    ('not placed', '05/10/2026', '1 High St')
    """
    distance = partner["distance_km"]
    return {
        "Distance from the school": "not placed" if pd.isna(distance) else f"{distance:.1f} km",
        "Contacts in the window": str(int(partner["interactions"])),
        "Last contact in the window": _date_text(partner["last_contact"]) if partner["engaged"] else "",
        "Address": " ".join(text_or_blank(v) for v in (partner["address"], partner["postcode"]) if text_or_blank(v)),
        "Contact": partner["contact_name"],
        "Email": partner["contact_email"],
        "Phone": partner["contact_phone"],
        "Services": services_text(partner["services"]),
        "Partner since": _date_text(partner["since"]),
        "Last checked": _checked_text(partner),
        "Notes": partner["notes"],
        "From the authority's directory": _origin_text(partner),
        "Reference": partner["partner_id"],
    }


def _origin_text(partner) -> str:
    """Where an imported partner came from (engagement.openreferral) and when it was last imported;
    nothing for the school's own.

    >>> import datetime
    >>> _origin_text({"oruk_source": "https://la.example/api", "oruk_imported_at": datetime.datetime(2026, 11, 2)})
    'https://la.example/api, last imported 02/11/2026'
    """
    source = text_or_blank(partner.get("oruk_source"))
    if not source:
        return ""
    when = _date_text(partner.get("oruk_imported_at"))
    return f"{source}, last imported {when}" if when else source


def _checked_text(partner) -> str:
    """When the partner was last checked, by whom, and "due for a check" when stale."""
    text = _date_text(partner["last_verified"]) or "never"
    by = text_or_blank(partner.get("verified_by") if hasattr(partner, "get") else None)
    text += f" by {by}" if by else ""
    return text + (" (due for a check)" if bool(partner.get("stale", False)) else "")


def _date_text(day) -> str:
    # A date column with gaps comes back from pandas holding None, NaN or NaT where it is empty.
    return "" if day is None or pd.isna(day) else f"{day:%d/%m/%Y}"


def service_tags(partners: pd.DataFrame) -> list[str]:
    """Every service tag the partners offer, sorted case-insensitively."""
    tags = {t.strip() for s in partners["services"].dropna() for t in str(s).split(";") if t.strip()}
    return sorted(tags, key=str.lower)


def filter_partners(partners: pd.DataFrame, chosen: PartnerFilter) -> pd.DataFrame:
    """The partners that pass every filter.

    >>> frame = pd.DataFrame({"name": ["Stirchley Food Bank", "Bournville Library"], "layer": [3, 3],
    ...     "segment": ["community"] * 2, "category": ["food bank", "library"], "services": ["food;clothing", None],
    ...     "status": ["active", "lapsed"], "engaged": [True, False]})
    >>> filter_partners(frame, PartnerFilter(services=("Food",), search="stirch"))["name"].tolist()
    ['Stirchley Food Bank']
    """
    keep = pd.Series(True, index=partners.index)
    if chosen.layers:
        keep &= partners["layer"].isin(chosen.layers)
    if chosen.segments:
        keep &= partners["segment"].isin(chosen.segments)
    if chosen.categories:
        wanted = {c.lower() for c in chosen.categories}
        keep &= partners["category"].str.lower().isin(wanted)
    if chosen.services:
        wanted = {s.lower() for s in chosen.services}
        keep &= partners["services"].fillna("").map(lambda s: bool(wanted & {t.strip().lower() for t in s.split(";")}))
    if chosen.statuses:
        keep &= partners["status"].isin(chosen.statuses)
    if chosen.engaged is not None:
        keep &= partners["engaged"] == chosen.engaged
    if chosen.search.strip():
        keep &= name_matches(partners["name"], chosen.search)
    if chosen.within_km is not None:
        keep &= partners["distance_km"].fillna(float("inf")) <= chosen.within_km
    return partners[keep]


# How the table of partners beside the map may be sorted: nearest, A to Z, by category (nearest
# first within one), or the latest contact first; a partner with no distance or no contact last.
TABLE_SORTS = ("distance", "name", "category", "last contact")


def partners_table(partners: pd.DataFrame, sort: str = "distance") -> pd.DataFrame:
    """The partners shown on the map as the rows of its table, sorted by ``sort`` (one of
    :data:`TABLE_SORTS`): ``partner_id`` (to open the record), ``name``, ``category``,
    ``distance_km``, ``last_contact`` (in the window; None without one) and ``last_contact_text``
    (dd/mm/yyyy, blank without one).

    >>> import datetime
    >>> frame = pd.DataFrame({"partner_id": ["A", "B", "C"], "name": ["library", "Food bank", "Allotment"],
    ...     "category": ["library", "food bank", "allotment"], "distance_km": [0.4, float("nan"), 1.2],
    ...     "last_contact": [None, datetime.date(2026, 10, 1), datetime.date(2026, 9, 1)],
    ...     "engaged": [False, True, True]})
    >>> partners_table(frame)["partner_id"].tolist(), partners_table(frame, "name")["partner_id"].tolist()
    (['A', 'C', 'B'], ['C', 'B', 'A'])
    >>> partners_table(frame, "last contact")["partner_id"].tolist()
    ['B', 'C', 'A']
    """
    if sort not in TABLE_SORTS:
        raise ValueError(f"sort must be one of {', '.join(TABLE_SORTS)}, not {sort!r}")
    last = pd.to_datetime(partners["last_contact"].where(partners["engaged"].astype(bool)), errors="coerce")
    rows = pd.DataFrame(
        {
            "partner_id": partners["partner_id"],
            "name": partners["name"],
            "category": partners["category"],
            "distance_km": pd.to_numeric(partners["distance_km"], errors="coerce"),
            "last_contact": last.dt.date.astype(object).where(last.notna(), None),
            "_name": partners["name"].str.lower(),
            "_last": last,
        }
    )
    by, ascending = {
        "distance": (["distance_km", "_name"], [True, True]),
        "name": (["_name", "distance_km"], [True, True]),
        "category": (["category", "distance_km", "_name"], [True, True, True]),
        "last contact": (["_last", "_name"], [False, True]),
    }[sort]
    rows = rows.sort_values(by, ascending=ascending, na_position="last", kind="stable")
    rows["last_contact_text"] = [_date_text(d) for d in rows["last_contact"]]
    return rows.drop(columns=["_name", "_last"]).reset_index(drop=True)


def name_matches(names: pd.Series, search: str) -> pd.Series:
    """Which names hold every word of ``search`` (words split at spaces), in any case and order,
    each anywhere in the name ("Food Bank" finds "Acceptance Foodbank" and "Bank of Food"; a word
    with punctuation, such as "${alert", is looked for as it is written).

    >>> names = pd.Series(["Acceptance Foodbank", "Bank of Food", "Stirchley Library", None])
    >>> name_matches(names, "food  BANK").tolist(), name_matches(names, "library stirchley").tolist()
    ([True, True, False, False], [False, False, True, False])
    """
    folded = names.fillna("").map(lambda n: str(n).casefold())
    keep = names.notna()
    for word in search.casefold().split():
        keep &= folded.str.contains(word, regex=False)
    return keep


def only_match(partners: pd.DataFrame, search: str) -> str | None:
    """The partner whose name alone contains ``search`` (ignoring case), if exactly one does: a
    search that finds one partner opens its record.

    >>> frame = pd.DataFrame({"partner_id": ["A", "B"], "name": ["Stirchley Library", "Stirchley Baths"]})
    >>> only_match(frame, "library"), only_match(frame, "stirchley"), only_match(frame, " ")
    ('A', None, None)
    """
    if not search.strip():
        return None
    # The words in any order may find several ("Cotteridge Care" finds the childcare centre too);
    # the words as written, one partner, still opens it.
    as_written = partners[partners["name"].str.contains(" ".join(search.split()), case=False, regex=False, na=False)]
    found = as_written if len(as_written) == 1 else partners[name_matches(partners["name"], search)]
    return str(found["partner_id"].iloc[0]) if len(found) == 1 else None
