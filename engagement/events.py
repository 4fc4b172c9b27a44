"""Event registers: a parents' evening, a coffee morning or a club session recorded in one go.

A family liaison officer creates the event (activity, date, the partners who ran it with the
school, and optionally how many came in all, volunteer hours and money raised), then marks who
came: one contact per attending family, two-way by the activity's default, and one two-way
contact per running partner, all in one write transaction with their audit rows. A reference the
school does not know is listed and nothing is saved until it is fixed or removed. Saving adds to
the register and never removes from it, so two staff marking the same event at once lose nothing
(on SQLite the second save waits for the first, then adds only the families not yet on it).

The contacts are ordinary interactions (with the event's activity, so its Epstein type counts in
a family's breadth); ``event_contacts`` ties each to its event.

>>> from engagement.store import open_store, schools, families
>>> store = open_store("sqlite://")
>>> with store.write("doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
...     _ = conn.execute(families.insert(), [{"family_id": f"F{i}", "school_id": "S1"} for i in (1, 2)])
>>> saved = save_register(store, "flo", school_id="S1", event_id="E1", date="2026-10-07",
...                       activity="parents evening", family_ids=["F1", "F2", "F2"], today="2026-10-08")
>>> saved.added, saved.already
(2, 0)
>>> save_register(store, "flo", school_id="S1", event_id="E1", date="2026-10-07",
...               activity="parents evening", family_ids=["F1", "F404"], today="2026-10-08")
Traceback (most recent call last):
...
engagement.events.UnknownReferences: 1 reference is not a family of this school: F404. Nothing was saved; \
fix or remove it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from engagement import store as db
from engagement.contacts import InteractionRow, InvalidInteraction, prepare_interaction

EVENT_COLUMNS = [
    "event_id",
    "date",
    "activity",
    "partner_ids",
    "families",
    "attendees",
    "volunteer_hours",
    "money_raised",
    "staff",
    "notes",
]


class UnknownReferences(InvalidInteraction):
    """References on a register that are not families (or partners) of the school; nothing was saved."""

    def __init__(self, unknown: list[str], what: str = "family"):
        self.unknown = unknown
        n = len(unknown)
        shown = ", ".join(unknown[:20]) + (f" and {n - 20} more" if n > 20 else "")
        super().__init__(
            f"{n} reference{'s are' if n != 1 else ' is'} not a {what} of this school: {shown}. "
            f"Nothing was saved; fix or remove {'them' if n != 1 else 'it'}."
        )


@dataclass
class SavedRegister:
    """What a save did: the event, families added now, families already on the register."""

    event_id: str
    added: int
    already: int
    partners_added: int = 0
    interaction_ids: list[str] = field(default_factory=list)


def new_event_id(date: datetime.date) -> str:
    """A fresh event reference that says its date (random tail: two staff never clash)."""
    import uuid

    return f"E-{date:%Y%m%d}-{uuid.uuid4().hex[:8]}"


_SPLIT = re.compile(r"[\n\r,;\t]+")


def parse_pasted(text: str | None) -> list[str]:
    """Family references pasted from a spreadsheet column or a list: one per line, or separated by
    commas, semicolons or tabs; blanks and repeats dropped, first order kept.

    >>> parse_pasted("F1\\nF2, F3;F2\\n\\n  F4  ")
    ['F1', 'F2', 'F3', 'F4']
    """
    seen: dict[str, None] = {}
    for part in _SPLIT.split(text or ""):
        ref = part.strip()
        if ref:
            seen.setdefault(ref, None)
    return list(seen)


def _number(value, what: str, whole: bool = False) -> float | int | None:
    if value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, float) and value != value):
        return None
    try:
        number = float(str(value).replace(",", "").replace("£", "").strip())
    except ValueError:
        raise InvalidInteraction(f"The {what} must be a number, not {value!r}.") from None
    if number < 0 or (whole and not number.is_integer()):
        raise InvalidInteraction(f"The {what} must be a {'whole ' if whole else ''}number of 0 or more, not {value!r}.")
    return int(number) if whole else number


def unknown_families(store: db.Store, school_id: str, references: Iterable[str]) -> list[str]:
    """The references (as given) that are not families of ``school_id``, in the order given."""
    refs = list(dict.fromkeys(str(r).strip() for r in references if str(r).strip()))
    known: set[str] = set()
    with store.read() as conn:
        for start in range(0, len(refs), 500):
            chunk = refs[start : start + 500]
            known |= set(
                conn.execute(
                    select(db.families.c.family_id).where(
                        db.families.c.school_id == school_id, db.families.c.family_id.in_(chunk)
                    )
                ).scalars()
            )
    return [r for r in refs if r not in known]


def school_family_ids(store: db.Store, school_id: str) -> list[str]:
    """Every family reference of the school, sorted: the register's searchable list."""
    with store.read() as conn:
        return list(
            conn.execute(
                select(db.families.c.family_id)
                .where(db.families.c.school_id == school_id)
                .order_by(db.families.c.family_id)
            ).scalars()
        )


def save_register(
    store: db.Store,
    actor: str,
    *,
    school_id: str,
    date,
    activity: str,
    event_id: str | None = None,
    family_ids: Iterable[str] = (),
    partner_ids: Iterable[str] = (),
    attendees=None,
    volunteer_hours=None,
    money_raised=None,
    staff: str | None = None,
    notes: str | None = None,
    two_way=None,
    today=None,
) -> SavedRegister:
    """Create or add to an event's register in one transaction: the event (its quantities updated
    when given), one contact per attending family not yet on it, one per running partner not yet
    contacted for it. Raises :class:`UnknownReferences` or :class:`InvalidInteraction` and writes
    nothing when anything is wrong."""
    families = list(dict.fromkeys(str(f).strip() for f in family_ids if str(f).strip()))
    partners = list(dict.fromkeys(str(p).strip() for p in partner_ids if str(p).strip()))
    # One template row checks the activity, date, channel and two-way once for the whole register.
    template = prepare_interaction(
        school_id=school_id, date=date, activity=activity, family_id="-", two_way=two_way, staff=staff, today=today
    )
    when = template["date"]
    quantities = {
        "attendees": _number(attendees, "number of attendees", whole=True),
        "volunteer_hours": _number(volunteer_hours, "volunteer hours"),
        "money_raised": _number(money_raised, "money raised"),
    }
    event_id = (str(event_id).strip() if event_id and str(event_id).strip() else None) or new_event_id(when)
    if len(event_id) > 64:
        raise InvalidInteraction("The event reference is too long (at most 64 characters).")

    def save(conn) -> SavedRegister:
        return register_in(
            conn,
            school_id=school_id,
            event_id=event_id,
            template=template,
            families=families,
            partners=partners,
            quantities=quantities,
            notes=notes,
        )

    return store.write_retrying(actor, save)


def register_in(
    conn,
    *,
    school_id: str,
    event_id: str,
    template: InteractionRow,
    families: list[str],
    partners: list[str],
    quantities: dict,
    notes: str | None,
    write: bool = True,
) -> SavedRegister:
    """The body of :func:`save_register` in the caller's write transaction (an import saves many
    events in one): raises and leaves the transaction to roll back when anything is wrong. With
    ``write=False`` (an import's dry run, on a read transaction) it makes every check and counts
    what the register would add, writing nothing and holding no lock."""
    when = template["date"]
    if conn.execute(select(db.schools.c.school_id).where(db.schools.c.school_id == school_id)).first() is None:
        raise InvalidInteraction(f"There is no school {school_id!r} in the store.")
    unknown = _not_of_school(conn, db.families, "family_id", school_id, families)
    if unknown:
        raise UnknownReferences(unknown)
    unknown = _not_of_school(conn, db.partners, "partner_id", school_id, partners)
    if unknown:
        raise UnknownReferences(unknown, "partner")
    event_row = {
        "event_id": event_id,
        "school_id": school_id,
        "date": when,
        "activity": template["activity"],
        "partner_ids": ";".join(partners) or None,
        "staff": template["staff"],
        "notes": (str(notes).strip() or None) if notes is not None else None,
        **{k: v for k, v in quantities.items() if v is not None},
    }
    # The event's row is held until this save commits, so a second register of the same event
    # (on PostgreSQL) waits, then sees who the first put on it. A new event is an insert the
    # database keeps unique: of two staff creating it at once, the second adds to the first's.
    if not write:
        stored = conn.execute(select(db.events).where(db.events.c.event_id == event_id)).mappings().first()
    else:
        stored = _event_held(conn, event_id)
    if stored is None and write:
        if db.insert_if_absent(conn, db.events, [event_row]):
            db.audit(conn, "insert", "events", event_id, after=event_row, detail="event created")
        else:
            stored = _event_held(conn, event_id)
    if stored is not None and stored["school_id"] != school_id:
        raise InvalidInteraction(f"The event {event_id!r} belongs to another school.")
    on_register = _on_register(conn, event_id)
    if stored is not None:
        listed = [p for p in (stored["partner_ids"] or "").split(";") if p]
        event_row["partner_ids"] = ";".join(dict.fromkeys(listed + partners)) or None
        if stored["date"] != when or stored["activity"] != template["activity"]:
            raise InvalidInteraction(
                f"The event {event_id!r} is a {stored['activity']} on {stored['date']:%d/%m/%Y}; "
                "a register adds families to it, it does not change its date or activity."
            )
        changed = {
            k: v
            for k, v in event_row.items()
            if v is not None and k not in ("event_id", "school_id") and stored[k] != v
        }
        if changed and write:
            conn.execute(db.events.update().where(db.events.c.event_id == event_id).values(**changed))
            db.audit(conn, "update", "events", event_id, before={k: stored[k] for k in changed}, after=changed)
    rows = []
    unlinked = _unlinked_contacts(conn, school_id, when, template["activity"])
    linked: list[tuple[str, str]] = []  # (family_id or partner_id, the contact put on the register)
    for key, refs in (("family_id", families), ("partner_id", partners)):
        for ref in refs:
            if (key, ref) in on_register:
                continue
            if (key, ref) in unlinked:  # logged already (or imported from interactions.csv): put it on the register
                linked.append((key, unlinked.pop((key, ref))))
                continue
            row: dict[str, Any] = {
                **template,
                "interaction_id": register_contact_id(event_id, key, ref),
                "family_id": None,
                "partner_id": None,
                key: ref,
            }
            if key == "partner_id":
                row["two_way"] = True  # the partner ran it with the school: a two-way contact
            rows.append(row)
    if rows and write:
        went_in = {k for (k,) in db.insert_if_absent(conn, db.interactions, rows)}
        rows = [r for r in rows if r["interaction_id"] in went_in]
    new_links = [r["interaction_id"] for r in rows] + [i for _, i in linked]
    if new_links and write:
        # A contact or a family put on this register by a save that committed meanwhile (an
        # import's contacts, say) stays as it is; a contact made here for a family already on
        # the register goes again, so the family is on it once.
        tied = db.link_to_events(conn, [(i, event_id) for i in new_links], if_absent=True)
        doubled = [r["interaction_id"] for r in rows if r["interaction_id"] not in tied]
        if doubled:
            conn.execute(db.interactions.delete().where(db.interactions.c.interaction_id.in_(doubled)))
        rows = [r for r in rows if r["interaction_id"] in tied]
        linked = [(key, i) for key, i in linked if i in tied]
    if rows and write:
        db.audit_many(
            conn,
            (
                {
                    "action": "insert",
                    "table_name": "interactions",
                    "record_id": r["interaction_id"],
                    "after": r,
                    "detail": f"register of event {event_id}",
                }
                for r in rows
            ),
        )
    db.audit_many(
        conn,
        (
            {
                "action": "link",
                "table_name": "interactions",
                "record_id": interaction_id,
                "detail": f"put on the register of event {event_id}",
            }
            for _, interaction_id in (linked if write else [])
        ),
    )
    families_added = sum(1 for r in rows if r["family_id"]) + sum(1 for key, _ in linked if key == "family_id")
    partners_added = sum(1 for r in rows if not r["family_id"]) + sum(1 for key, _ in linked if key == "partner_id")
    return SavedRegister(
        event_id, families_added, len(families) - families_added, partners_added, [r["interaction_id"] for r in rows]
    )


def _unlinked_contacts(conn, school_id: str, when, activity: str) -> dict[tuple[str, str], str]:
    """The school's contacts of that day and activity on no register yet, by ("family_id", F) or
    ("partner_id", P): the same contact, logged before the register was."""
    i, ec = db.interactions, db.event_contacts
    found = conn.execute(
        select(i.c.interaction_id, i.c.family_id, i.c.partner_id)
        .outerjoin(ec, ec.c.interaction_id == i.c.interaction_id)
        .where(i.c.school_id == school_id, i.c.date == when, i.c.activity == activity, ec.c.interaction_id.is_(None))
        .order_by(i.c.interaction_id)
    ).all()
    out: dict[tuple[str, str], str] = {}
    for interaction_id, family, partner in found:
        key = ("family_id", family) if family else ("partner_id", partner)
        out.setdefault(key, interaction_id)
    return out


def register_contact_id(event_id: str, key: str, ref: str) -> str:
    """The reference of the contact a register makes for a family (``key`` "family_id") or a
    running partner on an event: the same every time, so the database itself keeps one per
    attendee and event, however many staff mark the register at once. Shaped like any other
    contact's reference, and saying nothing of the family.

    >>> register_contact_id("E1", "family_id", "F1") == register_contact_id("E1", "family_id", "F1")
    True
    >>> register_contact_id("E1", "family_id", "F1") != register_contact_id("E2", "family_id", "F1")
    True
    """
    import hashlib

    return "I-" + hashlib.sha256(f"{event_id}\x1f{key}\x1f{ref}".encode()).hexdigest()[:32]


def _event_held(conn, event_id: str) -> dict | None:
    found = conn.execute(select(db.events).where(db.events.c.event_id == event_id).with_for_update()).mappings()
    row = found.first()
    return dict(row) if row else None


def _not_of_school(conn, table, key: str, school_id: str, refs: list[str]) -> list[str]:
    known: set[str] = set()
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        known |= set(
            conn.execute(select(table.c[key]).where(table.c.school_id == school_id, table.c[key].in_(chunk))).scalars()
        )
    return [r for r in refs if r not in known]


def _on_register(conn, event_id: str) -> set[tuple[str, str]]:
    i, ec = db.interactions, db.event_contacts
    found = conn.execute(
        select(i.c.family_id, i.c.partner_id)
        .join(ec, ec.c.interaction_id == i.c.interaction_id)
        .where(ec.c.event_id == event_id)
    ).all()
    return {("family_id", f) for f, _ in found if f} | {("partner_id", p) for f, p in found if p and not f}


def families_on_register(store: db.Store, event_id: str) -> list[str]:
    """The references of the families on an event's register, sorted."""
    with store.read() as conn:
        return sorted(ref for key, ref in _on_register(conn, event_id) if key == "family_id")


def remove_from_register(store: db.Store, actor: str, event_id: str, family_id: str) -> bool:
    """Take one family off an event's register (marked by mistake): its contact for the event goes,
    audited. True when there was one."""

    def work(conn) -> bool:
        i, ec = db.interactions, db.event_contacts
        ids = list(
            conn.execute(
                select(i.c.interaction_id)
                .join(ec, ec.c.interaction_id == i.c.interaction_id)
                .where(ec.c.event_id == event_id, i.c.family_id == family_id)
            ).scalars()
        )
        for interaction_id in ids:
            before = conn.execute(select(i).where(i.c.interaction_id == interaction_id)).mappings().one()
            conn.execute(ec.delete().where(ec.c.interaction_id == interaction_id))
            conn.execute(i.delete().where(i.c.interaction_id == interaction_id))
            db.audit(
                conn,
                "delete",
                "interactions",
                interaction_id,
                before=dict(before),
                detail=f"taken off the register of event {event_id}",
            )
        return bool(ids)

    return store.write_retrying(actor, work)


def register(store: db.Store, event_id: str) -> list[str]:
    """The families on an event's register, sorted."""
    i, ec = db.interactions, db.event_contacts
    with store.read() as conn:
        return sorted(
            conn.execute(
                select(i.c.family_id)
                .join(ec, ec.c.interaction_id == i.c.interaction_id)
                .where(ec.c.event_id == event_id, i.c.family_id.is_not(None))
            ).scalars()
        )


def list_events(
    store: db.Store, school_id: str, start: datetime.date | None = None, end: datetime.date | None = None
) -> pd.DataFrame:
    """The school's events (newest first) with how many families are on each register (columns
    :data:`EVENT_COLUMNS`), within ``[start, end]`` when given."""
    e, i, ec = db.events, db.interactions, db.event_contacts
    counted = (
        select(ec.c.event_id, func.count(i.c.family_id.distinct()).label("families"))
        .join(i, i.c.interaction_id == ec.c.interaction_id)
        .where(i.c.family_id.is_not(None))
        .group_by(ec.c.event_id)
        .subquery()
    )
    query = (
        select(
            e.c.event_id,
            e.c.date,
            e.c.activity,
            e.c.partner_ids,
            func.coalesce(counted.c.families, 0).label("families"),
            e.c.attendees,
            e.c.volunteer_hours,
            e.c.money_raised,
            e.c.staff,
            e.c.notes,
        )
        .outerjoin(counted, counted.c.event_id == e.c.event_id)
        .where(e.c.school_id == school_id)
    )
    if start is not None:
        query = query.where(e.c.date >= start)
    if end is not None:
        query = query.where(e.c.date <= end)
    with store.read() as conn:
        rows = conn.execute(query.order_by(e.c.date.desc(), e.c.event_id)).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=EVENT_COLUMNS)
    frame["families"] = frame["families"].astype(int)
    return frame


def events_summary(store: db.Store, school_id: str, start: datetime.date, end: datetime.date) -> dict:
    """The ``events`` entry of ``score --json`` (FORMATS.md) for the window: events held,
    attendance (each event's ``attendees`` where given, else its attending families) and volunteer
    hours (0 when none were given). Also ``money_raised`` for the Overview.

    >>> from engagement.store import open_store
    >>> events_summary(open_store("sqlite://"), "S1", datetime.date(2026, 9, 1), datetime.date(2026, 12, 19))
    {'held': 0, 'attendance': 0, 'volunteer_hours': 0.0, 'money_raised': 0.0}
    """
    frame = list_events(store, school_id, start, end)
    attendance = frame["attendees"].where(frame["attendees"].notna(), frame["families"])
    return {
        "held": len(frame),
        "attendance": int(pd.to_numeric(attendance).sum()),
        "volunteer_hours": round(float(pd.to_numeric(frame["volunteer_hours"]).fillna(0).sum()), 2),
        "money_raised": round(float(pd.to_numeric(frame["money_raised"]).fillna(0).sum()), 2),
    }
