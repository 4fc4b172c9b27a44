"""Logging one contact with a family, a partner or both, and reading back who was contacted when.

A family liaison officer logs a contact in seconds, so this checks everything a person could get
wrong (the family belongs to another school, the activity is misspelt, the date is tomorrow) and
answers in plain English before anything is written; a good contact lands with its audit row in
one transaction. The activity's default channel and two-way flag come from the catalogue.

>>> from engagement.store import open_store, schools, families
>>> store = open_store("sqlite://")
>>> with store.write("doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
...     _ = conn.execute(families.insert().values(family_id="F1", school_id="S1"))
>>> new_id = log_interaction(store, "flo", school_id="S1", family_id="F1",
...                          date="14/09/2026", activity="Phone Call", today="2026-09-15")
>>> interaction_history(store, family_id="F1", role="flo")[["date", "activity", "channel", "two_way"]].to_dict("records")
[{'date': datetime.date(2026, 9, 14), 'activity': 'phone call', 'channel': 'phone', 'two_way': True}]
>>> log_interaction(store, "flo", school_id="S1", family_id="F1", date="yesterday", activity="phone call")
Traceback (most recent call last):
...
engagement.contacts.InvalidInteraction: The date 'yesterday' is not a date: write it as 2026-09-14 or 14/09/2026.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Literal, TypedDict

import pandas as pd
from sqlalchemy import select

from engagement import clock
from engagement import store as db
from engagement.access import sees_family_detail
from engagement.cells import parse_bool, parse_date
from engagement.typology import CHANNELS, load_typology

HISTORY_COLUMNS = ["interaction_id", "date", "activity", "channel", "two_way", "staff", "notes"]
AGGREGATE_HISTORY_COLUMNS = ["date", "activity", "channel"]


class InvalidInteraction(ValueError):
    """A contact that cannot be logged; the message says why in plain English."""


class InteractionRow(TypedDict):
    """The row :func:`log_interaction` writes to the interactions table (and to the audit log)."""

    interaction_id: str
    school_id: str
    date: datetime.date
    family_id: str | None
    partner_id: str | None
    activity: str
    channel: str
    two_way: bool
    staff: str | None
    notes: str | None
    direction: str


def new_interaction_id() -> str:
    """A fresh unique interaction reference (random, so two people logging at once never clash)."""
    return f"I-{uuid.uuid4().hex}"


def _text(value, what: str, limit: int) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > limit:
        raise InvalidInteraction(f"The {what} is too long ({len(text)} characters; at most {limit}).")
    return text or None


def normalise_channel(value) -> str | None:
    """The channel of :data:`engagement.typology.CHANNELS` that ``value`` names (any case), or None."""
    key = " ".join(str(value).strip().lower().split())
    return key if key in CHANNELS else None


def _as_date(value, what: str = "date") -> datetime.date:
    parsed = parse_date(value)
    if parsed is None:
        raise InvalidInteraction(f"The {what} {value!r} is not a date: write it as 2026-09-14 or 14/09/2026.")
    return parsed


def not_happened_yet(when: datetime.date, today: datetime.date | None = None) -> str | None:
    """Why a contact dated ``when`` cannot be logged yet (it is after ``today``, by default the
    clock's), or None. The one rule for every way a contact comes in: the form, a register, a file.

    >>> not_happened_yet(datetime.date(2027, 1, 5), today=datetime.date(2026, 12, 7))
    'The date 05/01/2027 is in the future; log a contact once it has happened.'
    >>> not_happened_yet(datetime.date(2026, 12, 7), today=datetime.date(2026, 12, 7)) is None
    True
    """
    if when > (clock.today() if today is None else today):
        return f"The date {when:%d/%m/%Y} is in the future; log a contact once it has happened."
    return None


def prepare_interaction(
    *,
    school_id: str,
    date,
    activity: str,
    family_id: str | None = None,
    partner_id: str | None = None,
    channel: str | None = None,
    two_way=None,
    staff: str | None = None,
    notes: str | None = None,
    today=None,
    direction: str = "to family",
) -> InteractionRow:
    """The row :func:`log_interaction` would write, checked in everything that needs no store
    (the references, the date, the activity, channel and two-way); an event register checks its
    activity once this way and stamps a row per family. ``direction`` is who started it: "to family"
    (the school, the default) or "from family" (a message the family sent, which the communication
    panel expects an answer to). Raises :class:`InvalidInteraction`.

    >>> row = prepare_interaction(school_id="S1", family_id="F1", partner_id="P7", date="2026-09-14",
    ...                           activity="family workshop", today="2026-09-15")
    >>> row["family_id"], row["partner_id"], row["two_way"]
    ('F1', 'P7', True)
    """
    typology = load_typology()
    family_id = _text(family_id, "family reference", 64)
    partner_id = _text(partner_id, "partner reference", 64)
    if family_id is None and partner_id is None:
        raise InvalidInteraction("A contact is with a family, a partner, or both: give at least one of them.")
    when = _as_date(date)
    too_soon = not_happened_yet(when, None if today is None else _as_date(today, "today's date"))
    if too_soon:
        raise InvalidInteraction(too_soon)
    found = typology.activity(activity) if activity is not None and str(activity).strip() else None
    if found is None:
        raise InvalidInteraction(
            f"{activity!r} is not an activity of the catalogue. Known activities: "
            + ", ".join(typology.activity_names())
            + "."
        )
    channel_name: str | None
    if channel is None or str(channel).strip() == "":
        channel_name = found.channel
    else:
        channel_name = normalise_channel(channel)
        if channel_name is None:
            raise InvalidInteraction(f"{channel!r} is not a channel. Channels: {', '.join(CHANNELS)}.")
    two_way_value: bool | None
    if two_way is None or (isinstance(two_way, str) and not two_way.strip()):
        two_way_value = found.two_way
    else:
        two_way_value = parse_bool(two_way)
        if two_way_value is None:
            raise InvalidInteraction(f"Two-way must be yes or no, not {two_way!r}.")
    if direction not in ("to family", "from family"):
        raise InvalidInteraction(f"Who started the contact must be 'to family' or 'from family', not {direction!r}.")
    return {
        "interaction_id": new_interaction_id(),
        "school_id": school_id,
        "date": when,
        "family_id": family_id,
        "partner_id": partner_id,
        "activity": found.name,
        "channel": channel_name,
        "two_way": bool(two_way_value),
        "staff": _text(staff, "staff name", 200),
        "notes": _text(notes, "note", 20_000),
        "direction": direction,
    }


def check_owners(conn, school_id: str, row: InteractionRow) -> None:
    """Inside the caller's write transaction: the school exists and the row's family and partner
    (each when named) are the school's. Raises :class:`InvalidInteraction`."""
    if conn.execute(select(db.schools.c.school_id).where(db.schools.c.school_id == school_id)).first() is None:
        raise InvalidInteraction(f"There is no school {school_id!r} in the store.")
    sides: tuple[tuple[Any, Literal["family_id", "partner_id"], str], ...] = (
        (db.families, "family_id", "family"),
        (db.partners, "partner_id", "partner"),
    )
    for table, key, who in sides:
        if row[key] is None:
            continue
        owner = conn.execute(select(table.c.school_id).where(table.c[key] == row[key])).scalar()
        if owner is None:
            raise InvalidInteraction(f"There is no {who} {row[key]!r} in the store.")
        if owner != school_id:
            raise InvalidInteraction(f"The {who} {row[key]!r} belongs to another school, not {school_id!r}.")


def log_interaction(
    store: db.Store,
    actor: str,
    *,
    school_id: str,
    date,
    activity: str,
    family_id: str | None = None,
    partner_id: str | None = None,
    channel: str | None = None,
    two_way=None,
    staff: str | None = None,
    notes: str | None = None,
    today=None,
    direction: str = "to family",
) -> str:
    """Record one contact of the school with a family, a partner, or a family at a partner's
    session (both named: it counts for both sides of the metrics); returns its new id.

    Raises :class:`InvalidInteraction` (and writes nothing) when anything is wrong.
    """
    row = prepare_interaction(
        school_id=school_id,
        date=date,
        activity=activity,
        family_id=family_id,
        partner_id=partner_id,
        channel=channel,
        two_way=two_way,
        staff=staff,
        notes=notes,
        today=today,
        direction=direction,
    )

    def save(conn) -> None:
        # Checked inside the write transaction so the family cannot vanish between check and write.
        check_owners(conn, school_id, row)
        conn.execute(db.interactions.insert().values(**row))
        db.audit(conn, "insert", "interactions", row["interaction_id"], after=row, detail="contact logged")

    # A contact logged while the database server restarts is saved a moment later, not lost.
    store.write_retrying(actor, save)
    return row["interaction_id"]


def interaction_history(
    store: db.Store, *, family_id: str | None = None, partner_id: str | None = None, role: str | None = None
) -> pd.DataFrame:
    """Every contact with one family or one partner, newest first (columns :data:`HISTORY_COLUMNS`).
    A ``role`` that sees no family detail (governors) gets date, activity and channel only: notes
    (about named families, at a multi-agency meeting) and staff names are never read for it."""
    if (family_id is None) == (partner_id is None):
        raise ValueError("give exactly one of family_id and partner_id")
    if not sees_family_detail(role):
        if family_id is not None:
            raise PermissionError("a family's history is not for this role")
        columns = AGGREGATE_HISTORY_COLUMNS
    else:
        columns = HISTORY_COLUMNS
    t = db.interactions
    where = t.c.family_id == family_id if family_id is not None else t.c.partner_id == partner_id
    with store.read() as conn:
        rows = (
            conn.execute(
                select(*(t.c[c] for c in columns)).where(where).order_by(t.c.date.desc(), t.c.interaction_id.desc())
            )
            .mappings()
            .all()
        )
    frame = pd.DataFrame([dict(r) for r in rows], columns=columns)
    if "two_way" in frame:
        frame["two_way"] = frame["two_way"].astype(bool)
    return frame


DATED_AFTER_TODAY_COLUMNS = ["date", "interaction_id", "family_id", "partner_id", "activity", "staff"]


def dated_after_today(store: db.Store, school_ids: list[str], today: datetime.date | None = None) -> pd.DataFrame:
    """The contacts of ``school_ids`` dated after ``today`` (the clock's by default), soonest first:
    what the form, the registers and the files now refuse (:func:`not_happened_yet`) but a store
    may hold from before that rule, or from a backup or another system, which keep their dates.
    No page counts them until their day comes, and then each counts as if it had happened, so the
    data lead is shown them to check the date with whoever logged it.

    >>> from engagement.store import open_store, schools, families, interactions
    >>> store = open_store("sqlite://")
    >>> with store.write("doctest") as conn:
    ...     _ = conn.execute(schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
    ...     _ = conn.execute(families.insert().values(family_id="F1", school_id="S1"))
    ...     _ = conn.execute(interactions.insert().values(interaction_id="I1", school_id="S1", family_id="F1",
    ...         date=datetime.date(2027, 11, 20), activity="phone call", channel="phone", two_way=True))
    >>> dated_after_today(store, ["S1"], today=datetime.date(2026, 11, 25))[["date", "interaction_id"]].to_dict("records")
    [{'date': datetime.date(2027, 11, 20), 'interaction_id': 'I1'}]
    >>> len(dated_after_today(store, ["S1"], today=datetime.date(2027, 11, 20)))
    0
    """
    t = db.interactions
    with store.read() as conn:
        rows = (
            conn.execute(
                select(*(t.c[c] for c in DATED_AFTER_TODAY_COLUMNS))
                .where(t.c.school_id.in_(school_ids), t.c.date > (today or clock.today()))
                .order_by(t.c.date, t.c.interaction_id)
            )
            .mappings()
            .all()
        )
    return pd.DataFrame([dict(r) for r in rows], columns=DATED_AFTER_TODAY_COLUMNS)
