"""Keeping the partner directory true from inside the app: add and edit a partner with the import's
own rules, place a new or moved address, refuse a save made from an older version (saying who
changed the partner and when), mark a partner checked today, archive, restore or (administrators
only) delete it, spot likely duplicates, list who is due for a check, and save a partner's services.

A partner is *stale* when it has not been checked for longer than ``[directory] stale_after_months``
(12 by default) or never was; a partner added in the app counts as checked that day, by whoever
added it. The "Due for a check" list puts first the stale partners the school relies on most: its
contacts with the partner in the last year, then the families whose recorded needs its services meet.

Every change is one write transaction with its audit entry (before and after), and raises the
partner's ``version``: a form remembers the version it showed, and :func:`save_partner` refuses
with :class:`VersionConflict` when the stored one has moved on, so nothing is overwritten unseen.

>>> import datetime
>>> is_stale(datetime.date(2025, 11, 1), today=datetime.date(2026, 11, 23)), is_stale(None)
(True, True)
>>> is_stale(datetime.date(2026, 1, 5), today=datetime.date(2026, 11, 23))
False
"""

from __future__ import annotations

import datetime
import difflib
import json
import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from engagement import clock, disclosure, geo
from engagement import store as db
from engagement.cells import parse_list
from engagement.disclosure import GovernorTable
from engagement.interchange import FORMATS
from engagement.partners import is_stale, partner_directory, services_text
from engagement.services import FORMAT as SERVICE_FORMAT
from engagement.services import _free_id, check_values, converters, is_free, open_on
from engagement.settings import load_settings
from engagement.text import text_or_blank
from engagement.typology import LOCAL_OFFER, load_typology

UK_TIME = ZoneInfo("Europe/London")
EDITORS = frozenset({"admin", "head", "flo"})
NOT_PLACED = "Not placed on the map"  # how a save that could not place the partner begins its word
# The partner fields a form edits: the import's own, less those the app keeps itself.
FORM_FIELDS = tuple(
    f for f in FORMATS["partners"] if f.name not in ("partner_id", "school_id", "services", "last_verified")
)
SERVICE_FIELDS = tuple(f for f in SERVICE_FORMAT if f.name not in ("service_id", "partner_id"))


def may_edit(role: str | None) -> bool:
    """Heads, family liaison officers and administrators keep the directory; governors read it."""
    return role in EDITORS


def may_delete(role: str | None) -> bool:
    """Deleting a partner (and its contact history) is for administrators only; others archive."""
    return role == "admin"


# ---------------------------------------------------------------- checking a form


@dataclass
class SaveResult:
    """What a save did: the partner, its new version, where it was placed (or why not), or the
    problems by column that stopped it (nothing written then)."""

    partner_id: str | None = None
    version: int | None = None
    problems: dict[str, str] = field(default_factory=dict)
    placed: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def not_placed(self) -> bool:
        """Saved, but with no place on the map (``placed`` says why): a warning, not a success."""
        return self.placed.startswith(NOT_PLACED)


class VersionConflict(Exception):
    """Someone saved the record after the form was opened: their change stands, this one is refused."""

    def __init__(self, what: str, record_id: str, who: str, when: datetime.datetime | None, current: dict | None):
        self.record_id, self.who, self.when, self.current = record_id, who, when, current
        if when is not None:  # stored in UTC (naive on SQLite); said in the school's own time
            when = (when if when.tzinfo else when.replace(tzinfo=datetime.UTC)).astimezone(UK_TIME)
        at = f" at {when:%H:%M on %d/%m/%Y}" if when else ""
        gone = "deleted" if current is None else "changed"
        super().__init__(
            f"Not saved: {who} {gone} this {what}{at}, after you opened it. Your changes are "
            "still in the form: check them against the record as it is now, then save again."
        )


def check_partner(values: dict[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """A form's partner fields read by the import's rules (one set, not two): typed values and the
    problems by column, in the import's words.

    >>> _, problems = check_partner({"name": "Youth club", "category": "youth org", "layer": "5"})
    >>> sorted(problems)
    ['category', 'layer']
    """
    fields = [f for f in FORM_FIELDS if f.name in values]
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    typed, problems = check_values(values, fields, converters())
    for name in ("name", "category"):
        if name in values and name not in problems and typed.get(name) is None:
            problems[name] = f"the {name} is missing; every row needs one"
    if (
        ("latitude" in values or "longitude" in values)
        and not ({"latitude", "longitude"} & set(problems))
        and (typed.get("latitude") is None) != (typed.get("longitude") is None)
    ):
        problems["longitude" if typed.get("longitude") is None else "latitude"] = (
            "a latitude needs its longitude and the other way round"
        )
    return typed, problems


def last_change(conn: Connection, table: str, record_id: str) -> tuple[str, datetime.datetime | None]:
    """Who made the newest audited change to a record, and when: its own audit rows, or an import
    whose one event added or changed it (named in the event's before-images or added ids)."""
    a = db.audit_log
    own = conn.execute(
        select(a.c.id, a.c.actor, a.c.at)
        .where(and_(a.c.table_name == table, a.c.record_id == record_id))
        .order_by(a.c.id.desc())
        .limit(1)
    ).first()
    # An import's event is read only when its text names the record; then its JSON says for sure.
    named = f'"{record_id}"'
    imports = conn.execute(
        select(a.c.id, a.c.actor, a.c.at, a.c.before, a.c.after)
        .where(
            and_(
                a.c.action == "import",
                a.c.table_name.contains(table, autoescape=True),
                or_(a.c.before.contains(named, autoescape=True), a.c.after.contains(named, autoescape=True)),
            )
        )
        .where(a.c.id > (own.id if own else 0))
        .order_by(a.c.id.desc())
    )
    for row in imports:
        before = json.loads(row.before) if row.before else {}
        added = (json.loads(row.after) if row.after else {}).get("added", {})
        if record_id in before.get(table, {}) or record_id in added.get(table, []):
            return row.actor, row.at
    return (own.actor, own.at) if own else ("someone", None)


def _partner(conn: Connection, partner_id: str, lock: bool = False) -> dict | None:
    """The stored partner; with ``lock`` (in a write) its row is held until the transaction ends,
    so a second save of it on PostgreSQL waits, then reads what the first one wrote."""
    query = select(db.partners).where(db.partners.c.partner_id == partner_id)
    row = conn.execute(query.with_for_update() if lock else query).mappings().first()
    return dict(row) if row else None


def _set_versioned(
    conn: Connection, table, key: str, what: str, record_id: str, seen: int, values: dict[str, object]
) -> None:
    """Write ``values`` (with the next version) to the record only if its version is still ``seen``:
    a compare-and-set, so a change another save made meanwhile is never overwritten unseen, whatever
    the database and its isolation; when it has moved on, :class:`VersionConflict` says who moved it."""
    done = conn.execute(
        table.update().where(and_(table.c[key] == record_id, table.c.version == seen)).values(**values)
    ).rowcount
    if done != 1:
        who, when = last_change(conn, table.name, record_id)
        found = conn.execute(select(table).where(table.c[key] == record_id)).mappings().first()
        raise VersionConflict(what, record_id, who, when, dict(found) if found else None)


def _check_version(
    conn: Connection, table: str, what: str, record_id: str, current: dict | None, expected: int | None
) -> None:
    if expected is None:
        return
    if current is None or current["version"] != expected:
        who, when = last_change(conn, table, record_id)
        raise VersionConflict(what, record_id, who, when, current)


def new_partner_id(store: db.Store, school_id: str) -> str:
    """The next free reference of the form ``<school>-P<nnn>``."""
    with store.read() as conn:
        return _next_partner_id(conn, school_id)


def _next_partner_id(conn: Connection, school_id: str, after: str | None = None) -> str:
    taken = set(conn.execute(select(db.partners.c.partner_id)).scalars())
    n = 1
    while f"{school_id}-P{n:03d}" in taken or (after is not None and f"{school_id}-P{n:03d}" <= after):
        n += 1
    return f"{school_id}-P{n:03d}"


# ---------------------------------------------------------------- placing an address


def place_address(
    store: db.Store, postcode, address, online: bool | None = None
) -> tuple[float | None, float | None, str]:
    """Coordinates for an address: the gazetteer first, then the online geocoder when allowed
    (``[geocoding] online``, or ``online``). The message says where they came from or why none.

    >>> from engagement.store import open_store
    >>> place_address(open_store("sqlite://"), "B30 2AA", None, online=False)
    (None, None, 'Not placed on the map: postcode B30 2AA is not in the gazetteer, and online geocoding is off')
    """
    code = geo.normalise_postcode(postcode)
    if code:
        found = geo.gazetteer_lookup(store, [code])
        if code in found:
            lat, lon = found[code]
            return lat, lon, f"Placed on the map from the postcode list ({code})."
    settings = geo.geocoding_settings()
    use_online = settings.online if online is None else online
    query = geo.online_query({"postcode": postcode, "address": address})
    if query is None:
        return None, None, NOT_PLACED + ": no postcode or address to look it up by."
    if not use_online:
        return None, None, NOT_PLACED + ": " + geo._offline_reason(postcode, code)
    try:
        hit = geo.OnlineGeocoder(store, settings).locate(query)
    except Exception as error:  # a failed look-up leaves the partner unplaced, never unsaved
        return None, None, f"{NOT_PLACED}: {geo.describe_error(error)}. It is saved; place it later."
    if hit is None:
        return None, None, f"{NOT_PLACED}: the online geocoder found no match for {query!r}."
    return hit[0], hit[1], f"Placed on the map by the online geocoder ({query})."


# ---------------------------------------------------------------- saving a partner


def save_partner(
    store: db.Store,
    actor: str,
    school_id: str,
    values: dict[str, object],
    partner_id: str | None = None,
    expected_version: int | None = None,
    online: bool | None = None,
) -> SaveResult:
    """Add a partner (``partner_id`` None) or change one, from a form's texts. The import's rules
    apply; a new or moved address with no typed coordinates is placed. Raises
    :class:`VersionConflict` when the stored version is not ``expected_version``."""
    typed, problems = check_partner(values)
    if problems:
        return SaveResult(partner_id, None, problems)
    with store.read() as conn:
        before = _partner(conn, partner_id) if partner_id else None
        if partner_id:
            _check_version(conn, "partners", "partner", partner_id, before, expected_version)
    assert before is not None or partner_id is None  # _check_version raised for a vanished partner
    if before is not None and before["school_id"] != school_id:
        return SaveResult(partner_id, None, {"partner_id": f"partner {partner_id!r} belongs to another school"})
    record = {**({} if before is None else {k: before[k] for k in typed}), **typed}
    if record.get("layer") is None and record.get("category"):
        category = load_typology().category(str(record["category"]))
        record["layer"] = category.layer if category else None
    if record.get("status") is None:
        record["status"] = "active"
    placed = ""
    # Where the partner is: the form's postcode and address where it gave them, else the stored ones
    # (a save of other fields alone neither moves the partner nor takes it off the map).
    where = {k: typed[k] if k in typed else (before or {}).get(k) for k in ("postcode", "address")}
    moved = before is None or any(_norm(where[k]) != _norm(before.get(k)) for k in where)
    typed_coordinates = typed.get("latitude") is not None
    if (
        typed_coordinates
        and before is not None
        and (typed["latitude"], typed["longitude"]) != (before["latitude"], before["longitude"])
    ):
        placed = "Placed on the map where you gave its coordinates."
    elif moved and not typed_coordinates and (where["postcode"] or where["address"]):
        lat, lon, placed = place_address(store, where["postcode"], where["address"], online)
        record["latitude"], record["longitude"] = lat, lon
    elif moved and not typed_coordinates:
        record["latitude"] = record["longitude"] = None
        placed = NOT_PLACED + ": no postcode or address."

    def write(conn: Connection) -> SaveResult:
        current = _partner(conn, partner_id, lock=True) if partner_id else None
        if partner_id:
            # Checked again inside the write: another save may have landed while we geocoded.
            _check_version(
                conn,
                "partners",
                "partner",
                partner_id,
                current,
                expected_version if expected_version is not None else (before or {}).get("version"),
            )
        if current is None:
            # Two people adding a partner at once may pick the same next reference: the database
            # keeps the first, and the second takes the one after.
            new_id = _next_partner_id(conn, school_id) if partner_id is None else partner_id
            # Whoever enters a partner has just checked it: it is not due for a check the day it is added.
            checked = {"last_verified": clock.today(), "verified_by": actor}
            row = {**record, **checked, "partner_id": new_id, "school_id": school_id, "version": 1}
            while not db.insert_if_absent(conn, db.partners, [row]):
                if partner_id is not None:  # added under this reference by someone else meanwhile
                    who, when = last_change(conn, "partners", new_id)
                    raise VersionConflict("partner", new_id, who, when, _partner(conn, new_id))
                row["partner_id"] = new_id = _next_partner_id(conn, school_id, after=new_id)
            db.audit(conn, "insert", "partners", new_id, after=row)
            return SaveResult(new_id, 1, placed=placed)
        changed = {k: v for k, v in record.items() if current.get(k) != v}
        if not changed:
            return SaveResult(partner_id, current["version"], placed=placed)
        changed["version"] = current["version"] + 1
        _set_versioned(conn, db.partners, "partner_id", "partner", current["partner_id"], current["version"], changed)
        db.audit(conn, "update", "partners", partner_id, before={k: current.get(k) for k in changed}, after=changed)
        return SaveResult(partner_id, changed["version"], placed=placed)

    return store.write_retrying(actor, write)


def _norm(value) -> str:
    return " ".join(str(value or "").lower().split())


def _change(
    store: db.Store, actor: str, partner_id: str, values: dict, action: str, expected_version: int | None = None
) -> int:
    def write(conn: Connection) -> int:
        current = _partner(conn, partner_id, lock=True)
        if current is None:
            who, when = last_change(conn, "partners", partner_id)
            raise VersionConflict("partner", partner_id, who, when, None)
        _check_version(conn, "partners", "partner", partner_id, current, expected_version)
        after = {**values, "version": current["version"] + 1}
        _set_versioned(conn, db.partners, "partner_id", "partner", partner_id, current["version"], after)
        db.audit(conn, action, "partners", partner_id, before={k: current.get(k) for k in after}, after=after)
        return after["version"]

    return store.write_retrying(actor, write)


def verify_partner(store: db.Store, actor: str, partner_id: str, today: datetime.date | None = None) -> int:
    """ "Checked today": the date and who checked, audited. Returns the new version."""
    return _change(store, actor, partner_id, {"last_verified": today or clock.today(), "verified_by": actor}, "verify")


def archive_partner(
    store: db.Store,
    actor: str,
    partner_id: str,
    today: datetime.date | None = None,
    expected_version: int | None = None,
) -> int:
    """Hide a partner from every list, map and figure, keeping it and its history to restore."""
    return _change(store, actor, partner_id, {"archived_on": today or clock.today()}, "archive", expected_version)


def restore_partner(store: db.Store, actor: str, partner_id: str) -> int:
    return _change(store, actor, partner_id, {"archived_on": None}, "restore")


def delete_partner(store: db.Store, actor: str, role: str | None, partner_id: str) -> dict[str, int]:
    """Delete a partner with its services and contact history: administrators only, audited with
    the record as it was. Returns how many rows of each table went."""
    if not may_delete(role):
        raise PermissionError("Only an administrator may delete a partner; archive it instead.")

    def write(conn: Connection) -> dict[str, int]:
        current = _partner(conn, partner_id)
        if current is None:
            return {}
        # Children first, whether or not the database enforces ON DELETE CASCADE; each goes into
        # the audit log as it was (a referral with its steps), so a deletion can be read back and a
        # family's later erasure finds these copies too (by their record ids).
        now = clock.now()
        referred = select(db.referrals.c.referral_id).where(db.referrals.c.partner_id == partner_id)
        steps: dict[str, list[dict]] = {}
        for step in conn.execute(
            select(db.referral_steps)
            .where(db.referral_steps.c.referral_id.in_(referred))
            .order_by(db.referral_steps.c.id)
        ).mappings():
            steps.setdefault(step["referral_id"], []).append({k: step[k] for k in ("status", "date", "note")})
        copies = []
        for name, table, key in (
            ("services", db.services, lambda r: r["service_id"]),
            ("interactions", db.interactions, lambda r: r["interaction_id"]),
            ("referrals", db.referrals, lambda r: r["referral_id"]),
            ("family_partners", db.family_partners, lambda r: f"{r['family_id']}|{r['partner_id']}"),
        ):
            for row in conn.execute(select(table).where(table.c.partner_id == partner_id)).mappings():
                image = dict(row) | ({"steps": steps.get(row["referral_id"], [])} if name == "referrals" else {})
                detail = f"deleted with partner {partner_id}"
                copies.append(db.audit_values(conn, "delete", name, key(row), image, None, detail, now))
        conn.execute(db.referral_steps.delete().where(db.referral_steps.c.referral_id.in_(referred)))
        gone = {
            name: conn.execute(table.delete().where(table.c.partner_id == partner_id)).rowcount
            for name, table in (
                ("services", db.services),
                ("interactions", db.interactions),
                ("referrals", db.referrals),
                ("family_partners", db.family_partners),
            )
        }
        if copies:
            conn.execute(db.audit_log.insert(), copies)
        conn.execute(db.partners.delete().where(db.partners.c.partner_id == partner_id))
        db.audit(
            conn,
            "delete",
            "partners",
            partner_id,
            before=current,
            detail="deleted with " + ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in gone.items()),
        )
        return gone

    return store.write_retrying(actor, write)


# ---------------------------------------------------------------- services of a partner


def save_service(
    store: db.Store,
    actor: str,
    partner_id: str,
    values: dict[str, object],
    service_id: str | None = None,
    expected_version: int | None = None,
) -> SaveResult:
    """Add or change one service of a partner from a form's texts, by the services.csv rules."""
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    typed, problems = check_values(values, [f for f in SERVICE_FIELDS if f.name in values], converters())
    if "name" in values and typed.get("name") is None and "name" not in problems:
        problems["name"] = "the name is missing; every row needs one"
    if problems:
        return SaveResult(service_id, None, problems)
    typed = {**typed, "send_inclusive": bool(typed.get("send_inclusive")), "status": typed.get("status") or "active"}

    def write(conn: Connection) -> SaveResult:
        s = db.services
        current: dict | None = None
        if service_id is not None:
            found = conn.execute(select(s).where(s.c.service_id == service_id).with_for_update()).mappings().first()
            current = dict(found) if found else None
            _check_version(conn, "services", "service", service_id, current, expected_version)
        if current is None:
            new_id = service_id or _free_id(conn, partner_id)
            row = {**typed, "service_id": new_id, "partner_id": partner_id, "version": 1}
            while not db.insert_if_absent(conn, s, [row]):  # taken meanwhile: the next one
                if service_id is not None or _free_id(conn, partner_id) == new_id:
                    who, when = last_change(conn, "services", new_id)
                    raise VersionConflict("service", new_id, who, when, {"service_id": new_id})
                row["service_id"] = new_id = _free_id(conn, partner_id)
            db.audit(conn, "insert", "services", new_id, after=row)
            return SaveResult(new_id, 1)
        changed = {k: v for k, v in typed.items() if current.get(k) != v}
        if not changed:
            return SaveResult(service_id, current["version"])
        version = int(current["version"]) + 1
        changed["version"] = version
        _set_versioned(conn, s, "service_id", "service", current["service_id"], int(current["version"]), changed)
        db.audit(conn, "update", "services", service_id, before={k: current.get(k) for k in changed}, after=changed)
        return SaveResult(service_id, version)

    return store.write_retrying(actor, write)


def delete_service(store: db.Store, actor: str, service_id: str) -> None:
    def write(conn: Connection) -> None:
        row = conn.execute(select(db.services).where(db.services.c.service_id == service_id)).mappings().first()
        if row is not None:
            conn.execute(db.services.delete().where(db.services.c.service_id == service_id))
            db.audit(conn, "delete", "services", service_id, before=dict(row))

    store.write_retrying(actor, write)


# ---------------------------------------------------------------- likely duplicates


def _name_key(name) -> str:
    return " ".join("".join(ch for ch in str(name or "").lower() if ch.isalnum() or ch.isspace()).split())


def likely_duplicates(
    partners: pd.DataFrame,
    name,
    postcode=None,
    category=None,
    latitude=None,
    longitude=None,
    exclude: str | None = None,
) -> pd.DataFrame:
    """The partners a new or edited one may duplicate: the same or a very similar name within
    ``[directory] duplicate_within_m`` (or anywhere, for the very same name, when either is not
    placed), or the same postcode and category. Columns: partner_id, name, postcode, category, why.

    >>> frame = pd.DataFrame({"partner_id": ["P1", "P2"], "name": ["Stirchley Food Bank", "Oak Library"],
    ...     "postcode": ["B30 2AA", "B30 2AB"], "category": ["food bank", "library"],
    ...     "latitude": [52.43, 52.44], "longitude": [-1.92, -1.93]})
    >>> likely_duplicates(frame, "Stirchley Foodbank", latitude=52.4305, longitude=-1.9205)["why"].tolist()
    ['a very similar name 65 m away']
    """
    out = []
    near = load_settings().directory.duplicate_within_m
    key = _name_key(name)
    code = geo.normalise_postcode(postcode)
    for row in partners.itertuples(index=False):
        if exclude is not None and row.partner_id == exclude:
            continue
        other = _name_key(row.name)
        same = bool(key) and other == key
        similar = bool(key) and (same or difflib.SequenceMatcher(None, key, other).ratio() >= 0.85)
        placed = latitude is not None and longitude is not None and not pd.isna(row.latitude)
        metres = float(geo.distance_km(latitude, longitude, row.latitude, row.longitude)) * 1000 if placed else math.nan
        why = None
        if similar and placed and metres <= near:
            why = f"{'the same' if same else 'a very similar'} name {metres:,.0f} m away"
        elif same and not placed:
            why = "the same name"
        elif (
            code
            and geo.normalise_postcode(row.postcode) == code
            and category
            and _norm(row.category) == _norm(category)
        ):
            why = f"the same postcode ({code}) and category"
        if why:
            out.append(
                {
                    "partner_id": row.partner_id,
                    "name": row.name,
                    "postcode": row.postcode,
                    "category": row.category,
                    "why": why,
                }
            )
    return pd.DataFrame(out, columns=["partner_id", "name", "postcode", "category", "why"])


def asks_about_duplicates(stored, values) -> bool:
    """Whether a save should first show the likely duplicates: for a new partner (``stored`` is
    None), or an edit that changes who the partner is (its name, postcode or category); an edit of
    its notes or contacts does not ask again.

    >>> stored = {"name": "Oak Library", "postcode": "B30 2AA", "category": "library"}
    >>> asks_about_duplicates(None, stored), asks_about_duplicates(stored, {**stored, "notes": "Rang"})
    (True, False)
    >>> asks_about_duplicates(stored, {**stored, "name": "Oak Food Bank"})
    True
    """
    if stored is None:
        return True
    return any(
        str(values.get(k) or "").strip() != str(text_or_blank(stored[k])).strip()
        for k in ("name", "postcode", "category")
    )


# ---------------------------------------------------------------- due for a check


def due_for_check(store: db.Store, school_id: str, today: datetime.date | None = None) -> pd.DataFrame:
    """The school's stale partners (not archived), the ones it relies on most first: contacts in
    the last year, then families whose recorded needs its services meet, then the longest unchecked.
    Columns: partner_id, name, category, status, last_verified, verified_by, contacts, families, version."""
    today = today or clock.today()
    partners = partner_directory(store, school_id, today=today)
    stale = partners[partners["stale"]].copy()
    columns = [
        "partner_id",
        "name",
        "category",
        "status",
        "last_verified",
        "verified_by",
        "contacts",
        "families",
        "version",
    ]
    if stale.empty:
        return pd.DataFrame(columns=columns)
    i, f = db.interactions, db.families
    year_ago = today - datetime.timedelta(days=365)
    with store.read() as conn:
        contacts: dict[str, int] = dict(
            conn.execute(
                select(i.c.partner_id, func.count())
                .where(
                    and_(
                        i.c.school_id == school_id, i.c.partner_id.is_not(None), i.c.date > year_ago, i.c.date <= today
                    )
                )
                .group_by(i.c.partner_id)
            ).all()
        )
        needs = [parse_list(n) for n in conn.execute(select(f.c.needs).where(f.c.school_id == school_id)).scalars()]
    wanted = [{_norm(t) for t in n} for n in needs if n]
    stale["contacts"] = stale["partner_id"].map(contacts).fillna(0).astype(int)
    stale["families"] = [
        sum(1 for w in wanted if w & {_norm(t) for t in parse_list(tags)}) for tags in stale["services"]
    ]
    stale["_checked"] = stale["last_verified"].map(lambda d: d if isinstance(d, datetime.date) else datetime.date.min)
    stale = stale.sort_values(
        ["contacts", "families", "_checked", "name"], ascending=[False, False, True, True], kind="mergesort"
    )
    return stale[columns].reset_index(drop=True)


def stale_count(store: db.Store, school_id: str, today: datetime.date | None = None) -> tuple[int, int]:
    """(stale partners, listed partners) of a school, archived ones and the local offer left out."""
    p = db.partners
    with store.read() as conn:
        days = list(
            conn.execute(
                select(p.c.last_verified).where(
                    and_(p.c.school_id == school_id, p.c.archived_on.is_(None), p.c.status != LOCAL_OFFER)
                )
            ).scalars()
        )
    return sum(is_stale(d, today) for d in days), len(days)


def governors_directory(store: db.Store, school_id: str, today: datetime.date | None = None) -> GovernorTable:
    """The directory as governors read it (engagement.disclosure): each listed partner's name,
    category, layer, services and public contact, and whether it is due for a check. No notes,
    no "checked by", no contact's name, phone or address, no count of families, no feed URL."""
    return disclosure.partner_table(partner_directory(store, school_id, today=today), services_text)


def stale_text(stale: int, listed: int) -> str:
    """The Overview's line on the directory (partners, not families: no suppression applies).

    >>> stale_text(3, 40)
    'Directory: 3 of 40 partners are due for a check (not checked for over 12 months).'
    >>> stale_text(0, 40)
    'Directory: all 40 partners were checked within 12 months.'
    """
    months = load_settings().directory.stale_after_months
    if not stale:
        return f"Directory: all {listed} partners were checked within {months} months."
    return (
        f"Directory: {stale} of {listed} partner{'s' * (listed != 1)} {'is' if stale == 1 else 'are'} due for a "
        f"check (not checked for over {months} months)."
    )


# ---------------------------------------------------------------- filtering by what services offer


@dataclass
class ServiceFilter:
    """The map's and the directory's service filters; empty means "any"."""

    tags: tuple[str, ...] = ()
    age: int | None = None
    language: str = ""
    free: bool = False
    delivery: tuple[str, ...] = ()
    open_on: str = ""  # "Mon".."Sun"

    @property
    def empty(self) -> bool:
        return not (
            self.tags or self.age is not None or self.language.strip() or self.free or self.delivery or self.open_on
        )


def service_matches(services: pd.DataFrame, chosen: ServiceFilter) -> pd.Series:
    """Which active services pass every chosen filter (a boolean per row)."""
    keep = pd.Series(services["status"].eq("active").to_numpy(dtype=bool), index=services.index)
    if chosen.tags:
        wanted = {_norm(t) for t in chosen.tags}
        keep &= services["tags"].map(lambda s: bool(wanted & {_norm(t) for t in parse_list(s)})).astype(bool)
    if chosen.age is not None:
        lo = pd.to_numeric(services["min_age"], errors="coerce").fillna(0)
        hi = pd.to_numeric(services["max_age"], errors="coerce").fillna(200)
        keep &= (lo <= chosen.age) & (hi >= chosen.age)
    if chosen.language.strip():
        word = _norm(chosen.language)
        keep &= services["languages"].map(lambda s: word in {_norm(t) for t in parse_list(s)}).astype(bool)
    if chosen.free:
        keep &= services["cost"].map(is_free).astype(bool)
    if chosen.delivery:
        ways = {_norm(d) for d in chosen.delivery}
        keep &= services["delivery"].map(lambda s: bool(ways & {_norm(t) for t in parse_list(s)})).astype(bool)
    if chosen.open_on:
        keep &= services["sessions"].map(lambda s: open_on(s, chosen.open_on)).astype(bool)
    return keep


def filter_by_services(partners: pd.DataFrame, services: pd.DataFrame, chosen: ServiceFilter) -> pd.DataFrame:
    """The partners with at least one active service that passes every chosen filter.

    >>> partners = pd.DataFrame({"partner_id": ["P1", "P2"], "name": ["Club", "Food bank"]})
    >>> services = pd.DataFrame({"partner_id": ["P1", "P2"], "status": ["active", "active"],
    ...     "tags": ["sport", "food"], "min_age": [5, None], "max_age": [11, None], "languages": [None, "Polish"],
    ...     "cost": ["£3", "free"], "delivery": ["in person", "in person"], "sessions": ["Sat 09:00-11:00", None]})
    >>> filter_by_services(partners, services, ServiceFilter(free=True))["name"].tolist()
    ['Food bank']
    >>> filter_by_services(partners, services, ServiceFilter(age=8, open_on="Sat"))["name"].tolist()
    ['Club']
    """
    if chosen.empty:
        return partners
    ids = set(services.loc[service_matches(services, chosen), "partner_id"]) if len(services) else set()
    return partners[partners["partner_id"].isin(ids)]


def service_choices(services: pd.DataFrame) -> dict[str, list[str]]:
    """The values the service filters can take, from the services there are."""

    def items(column):
        return sorted({t for v in services[column].dropna() for t in parse_list(v)}, key=str.lower)

    return {"tags": items("tags"), "languages": items("languages")}


def ages_text(min_age, max_age) -> str:
    """An age range for people: "5-11", "11+", "up to 4", or "" for all ages.

    >>> ages_text(5, 11), ages_text(11, None), ages_text(None, None)
    ('5-11', '11+', '')
    """
    lo = None if min_age is None or pd.isna(min_age) else int(min_age)
    hi = None if max_age is None or pd.isna(max_age) else int(max_age)
    if lo is None and hi is None:
        return ""
    return f"{lo}-{hi}" if lo is not None and hi is not None else f"{lo}+" if hi is None else f"up to {hi}"
