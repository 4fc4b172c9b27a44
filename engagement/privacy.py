"""Protection of family data over time: reading the audit log, erasing interaction notes after the
retention period, and erasing one family completely on a data subject request.

Every family record is treated as part of a child's safeguarding record. The audit log keeps the
before and after of every change, so erasing data means erasing it there too: the audit rows that
held the erased text are redacted, and the erasure itself is audited (what, when, by whom, how
many records; never the erased content).

An import is audited as one event (action ``import``): its ``after`` lists the ids it added per
table, its ``before`` holds the before-image of every row it changed, per table and id. Erasing a
family takes its id, its interactions' ids and their images out of every import event; retention
redacts old notes in the images as it does in the rows of single changes.

>>> from engagement.store import open_store
>>> store = open_store("sqlite://")
>>> apply_retention(store, actor="doctest", today=datetime.date(2026, 11, 23))
0
"""

from __future__ import annotations

import datetime
import json

import pandas as pd
from sqlalchemy import and_, func, or_, select

from engagement import clock
from engagement import store as db
from engagement.cells import excel_safe
from engagement.settings import load_settings

REDACTED = "redacted"


def retention_days() -> int:
    return load_settings().privacy.notes_retention_days


def audit_entries(
    store: db.Store,
    *,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    actor: str | None = None,
    table_name: str | None = None,
    action: str | None = None,
    record_id: str | None = None,
    limit: int = 5000,
) -> pd.DataFrame:
    """The audit log, newest first, filtered. Dates are inclusive and in UTC."""
    log = db.audit_log
    query = select(log).order_by(log.c.id.desc()).limit(limit)
    if start:
        query = query.where(log.c.at >= datetime.datetime.combine(start, datetime.time(), datetime.UTC))
    if end:
        query = query.where(
            log.c.at < datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
        )
    for column, value in (("actor", actor), ("action", action), ("record_id", record_id)):
        if value:
            query = query.where(log.c[column] == value)
    if table_name:  # an import names every table it changed: "partners,services"
        named = log.c.table_name
        query = query.where(
            (named == table_name)
            | named.startswith(f"{table_name},", autoescape=True)
            | named.endswith(f",{table_name}", autoescape=True)
            | named.contains(f",{table_name},", autoescape=True)
        )
    with store.read() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in log.columns])


def _redact_notes_in_audit(conn, interaction_ids: list[str]) -> None:
    log = db.audit_log
    for start in range(0, len(interaction_ids), 500):
        chunk = interaction_ids[start : start + 500]
        rows = conn.execute(
            select(log.c.id, log.c.before, log.c.after).where(
                and_(log.c.table_name == "interactions", log.c.record_id.in_(chunk))
            )
        ).all()
        for row_id, before, after in rows:
            changes = {}
            for name, text in (("before", before), ("after", after)):
                if text:
                    data = json.loads(text)
                    if data.get("notes"):
                        data["notes"] = REDACTED
                        changes[name] = json.dumps(data, ensure_ascii=False, sort_keys=True)
            if changes:
                conn.execute(log.update().where(log.c.id == row_id).values(**changes))


def _import_events(conn, tables: tuple[str, ...]):
    """The import events that may hold rows of ``tables``: (id, at, before, after), JSON parsed."""
    log = db.audit_log
    rows = conn.execute(
        select(log.c.id, log.c.at, log.c.table_name, log.c.before, log.c.after)
        .where(log.c.action == "import")
        .order_by(log.c.id)
    )
    for row_id, at, table_name, before, after in rows:
        if before is None and after is None:
            continue
        if not set(str(table_name).split(",")) & set(tables):
            continue
        yield row_id, at, json.loads(before) if before else {}, json.loads(after) if after else {}


def _save_event(conn, row_id: int, before: dict, after: dict) -> None:
    conn.execute(
        db.audit_log.update()
        .where(db.audit_log.c.id == row_id)
        .values(before=db.to_json(before) if before else None, after=db.to_json(after) if after else None)
    )


def _utc(at: datetime.datetime) -> datetime.datetime:
    return at if at.tzinfo else at.replace(tzinfo=datetime.UTC)  # SQLite gives it back naive


def _old_in_import_events(conn, cutoff: datetime.date) -> set[str]:
    """Interactions whose before-image in an import event is dated before ``cutoff``, or that an
    import before the cutoff changed."""
    start = datetime.datetime.combine(cutoff, datetime.time(), datetime.UTC)
    found: set[str] = set()
    for _, at, before, _after in _import_events(conn, ("interactions",)):
        old_event = at is not None and _utc(at) < start
        for interaction_id, image in before.get("interactions", {}).items():
            day = str(image.get("date") or "")[:10]
            if old_event or (day and day < cutoff.isoformat()):
                found.add(interaction_id)
    return found


def _redact_notes_in_import_events(conn, interaction_ids: set[str]) -> None:
    for row_id, _at, before, after in _import_events(conn, ("interactions",)):
        images = before.get("interactions", {})
        hit = [i for i, image in images.items() if i in interaction_ids and image.get("notes")]
        for interaction_id in hit:
            images[interaction_id]["notes"] = REDACTED
        if hit:
            _save_event(conn, row_id, before, after)


def _erase_family_from_import_events(conn, family_id: str, interaction_ids: set[str]) -> None:
    """Take the family, its interactions and their images out of every import event."""
    for row_id, _at, before, after in _import_events(conn, ("families", "interactions")):
        changed = False
        added = after.get("added", {})
        for table, gone in (("families", {family_id}), ("interactions", interaction_ids)):
            if table in added and gone & set(added[table]):
                added[table] = [i for i in added[table] if i not in gone]
                changed = True
            images = before.get(table, {})
            for record_id in [
                r
                for r, image in images.items()
                if r in gone or (table == "interactions" and image.get("family_id") == family_id)
            ]:
                del images[record_id]
                changed = True
        if changed:
            for part in (added, before):
                for table in [t for t, v in part.items() if not v]:
                    del part[table]
            if not added:
                after.pop("added", None)
            _save_event(conn, row_id, before, after)


def _old_interactions_in_audit(conn, cutoff: datetime.date) -> set[str]:
    """Interactions whose notes the audit log may still hold although the row itself is gone or
    has since changed: any audited interaction dated before ``cutoff`` (by its date in an image),
    or first audited before it."""
    log = db.audit_log
    found: set[str] = set()
    start = datetime.datetime.combine(cutoff, datetime.time(), datetime.UTC)
    rows = conn.execute(
        select(log.c.record_id, log.c.at, log.c.before, log.c.after).where(
            and_(log.c.table_name == "interactions", log.c.record_id.is_not(None))
        )
    )
    for record_id, at, before, after in rows:
        if at is not None and (at if at.tzinfo else at.replace(tzinfo=datetime.UTC)) < start:
            found.add(record_id)
            continue
        for text in (before, after):
            if text:
                day = str(json.loads(text).get("date") or "")[:10]
                if day and day < cutoff.isoformat():
                    found.add(record_id)
    return found


# Other free text about families kept for the retention period only, as interactions' notes are:
# the table, its key, the day its text is dated by, and the text's columns.
RETAINED_TEXT = (
    ("referrals", "referral_id", "status_date", ("decline_reason",)),
    ("events", "event_id", "date", ("notes",)),
)


def _erase_old_text(conn, cutoff: datetime.date) -> dict[str, int]:
    """Erase the text of :data:`RETAINED_TEXT` (and the decline reasons kept with a referral's
    steps) dated before ``cutoff``, with its copies in the audit log: every audit row of a record
    whose text went now, and any audit row written, or whose image is dated, before the cutoff.
    Returns how many records of each table had text erased."""
    erased: dict[str, int] = {}
    start = datetime.datetime.combine(cutoff, datetime.time(), datetime.UTC)
    log = db.audit_log
    for table_name, key, day, columns in RETAINED_TEXT:
        table = db.TABLES[table_name]
        old = and_(table.c[day] < cutoff, or_(*(table.c[c].is_not(None) for c in columns)))
        ids = set(conn.execute(select(table.c[key]).where(old)).scalars())
        if ids:
            conn.execute(table.update().where(old).values(**dict.fromkeys(columns)))
        erased[table_name] = len(ids)
        rows = conn.execute(
            select(log.c.id, log.c.record_id, log.c.at, log.c.before, log.c.after).where(log.c.table_name == table_name)
        ).all()
        for row_id, record_id, at, before, after in rows:
            every = record_id in ids or (at is not None and _utc(at) < start)
            changes = {}
            for name, text in (("before", before), ("after", after)):
                image = json.loads(text) if text else {}
                hit = [c for c in columns if image.get(c)]
                # An image is dated by its own day: a reason given lately stays beside an old date.
                if hit and (every or "" < str(image.get(day) or "")[:10] < cutoff.isoformat()):
                    changes[name] = db.to_json({**image, **dict.fromkeys(hit, REDACTED)})
            if changes:
                conn.execute(log.update().where(log.c.id == row_id).values(**changes))
    steps = db.referral_steps
    conn.execute(steps.update().where(and_(steps.c.date < cutoff, steps.c.note.is_not(None))).values(note=None))
    return erased


def apply_retention(store: db.Store, actor: str, today: datetime.date | None = None, days: int | None = None) -> int:
    """Erase the notes of interactions older than the retention period, and every copy of them in
    the audit log's before and after images, including those of rows since updated or deleted; the
    same for referrals' decline reasons and events' notes (:data:`RETAINED_TEXT`).
    Returns how many interactions had notes erased in the tables."""
    today = today or clock.today()
    cutoff = today - datetime.timedelta(days=days if days is not None else retention_days())
    with store.write(actor) as conn:
        old = db.interactions.c.date < cutoff
        ids = list(
            conn.execute(
                select(db.interactions.c.interaction_id).where(old & db.interactions.c.notes.is_not(None))
            ).scalars()
        )
        if ids:
            conn.execute(db.interactions.update().where(old & db.interactions.c.notes.is_not(None)).values(notes=None))
        in_audit = _old_interactions_in_audit(conn, cutoff) | _old_in_import_events(conn, cutoff) | set(ids)
        _redact_notes_in_audit(conn, sorted(in_audit))
        _redact_notes_in_import_events(conn, in_audit)
        others = _erase_old_text(conn, cutoff)
        db.audit(
            conn,
            "retention",
            "interactions",
            detail=(
                f"erased the notes of {len(ids)} interactions dated before {cutoff.isoformat()}, "
                f"the decline reasons of {others['referrals']} referrals and the notes of {others['events']} "
                "events, and old copies of them in the audit log"
            ),
        )
    return len(ids)


class UnknownFamily(LookupError):
    pass


def _records_of_family(conn, family_id: str) -> dict[str, list[str]]:
    """Every record about the family, by table, as the audit log names them (its ``record_id``):
    its interactions, referrals, links to partners and partnerships, moves and their plan steps."""
    referrals = list(
        conn.execute(select(db.referrals.c.referral_id).where(db.referrals.c.family_id == family_id)).scalars()
    )
    moves = list(
        conn.execute(select(db.transitions.c.transition_id).where(db.transitions.c.family_id == family_id)).scalars()
    )
    links = conn.execute(
        select(db.family_partners.c.partner_id).where(db.family_partners.c.family_id == family_id)
    ).scalars()
    steps = (
        list(
            conn.execute(
                select(db.transition_steps.c.step_id).where(db.transition_steps.c.transition_id.in_(moves))
            ).scalars()
        )
        if moves
        else []
    )
    return {
        "families": [family_id],
        "interactions": list(
            conn.execute(
                select(db.interactions.c.interaction_id).where(db.interactions.c.family_id == family_id)
            ).scalars()
        ),
        "referrals": referrals,
        "family_partners": [f"{family_id}|{partner}" for partner in links],
        "partnership_members": [
            f"{partnership}|{family_id}"
            for partnership in conn.execute(
                select(db.partnership_members.c.partnership_id).where(db.partnership_members.c.family_id == family_id)
            ).scalars()
        ],
        "transitions": moves,
        "transition_steps": steps,
    }


def _naming(column, family_id: str):
    """``column`` holds the family's reference as a JSON string value (an image's ``family_id``,
    or any other field that repeats it)."""
    quoted = json.dumps(family_id, ensure_ascii=False)
    pattern = "%" + quoted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return column.like(pattern, escape="\\")


def erase_family(store: db.Store, family_id: str, actor: str) -> int:
    """Erase one family completely (a data subject request): its record, interactions, referrals,
    links to partners, memberships of partnerships, moves with their plans, and survey answers, and the content of every audit
    row about any of them (including rows whose images name the family). Returns how many
    interactions went."""
    with store.write(actor) as conn:
        exists = conn.execute(
            select(func.count()).select_from(db.families).where(db.families.c.family_id == family_id)
        ).scalar()
        if not exists:
            raise UnknownFamily(f"no family with reference {family_id!r} in the store")
        records = _records_of_family(conn, family_id)
        # Children first: the store does not rely on the database enforcing its cascades.
        conn.execute(
            db.transition_steps.delete().where(db.transition_steps.c.transition_id.in_(records["transitions"]))
        )
        conn.execute(db.transitions.delete().where(db.transitions.c.family_id == family_id))
        conn.execute(db.referral_steps.delete().where(db.referral_steps.c.referral_id.in_(records["referrals"])))
        conn.execute(db.referrals.delete().where(db.referrals.c.family_id == family_id))
        conn.execute(db.family_partners.delete().where(db.family_partners.c.family_id == family_id))
        conn.execute(db.partnership_members.delete().where(db.partnership_members.c.family_id == family_id))
        answers = conn.execute(db.survey_responses.delete().where(db.survey_responses.c.family_id == family_id))
        conn.execute(db.event_contacts.delete().where(db.event_contacts.c.interaction_id.in_(records["interactions"])))
        conn.execute(db.interactions.delete().where(db.interactions.c.family_id == family_id))
        conn.execute(db.families.delete().where(db.families.c.family_id == family_id))
        log = db.audit_log
        for table, ids in records.items():
            for start in range(0, len(ids), 500):
                about = (log.c.table_name == table) & log.c.record_id.in_(ids[start : start + 500])
                # A record's own reference can say what happened ("T-F1/meeting"): only the
                # family's entries keep theirs, so the log still shows that it was erased.
                record_id = {} if table == "families" else {"record_id": None}
                conn.execute(log.update().where(about).values(before=None, after=None, detail=REDACTED, **record_id))
        naming = (log.c.action != "import") & (_naming(log.c.before, family_id) | _naming(log.c.after, family_id))
        conn.execute(log.update().where(naming).values(before=None, after=None, detail=REDACTED, record_id=None))
        _erase_family_from_import_events(conn, family_id, set(records["interactions"]))
        n = len(records["interactions"])
        db.audit(
            conn,
            "erase family",
            "families",
            record_id=family_id,
            detail=(
                f"data subject request: erased the family record, {n} interactions, "
                f"{len(records['referrals'])} referrals, {len(records['family_partners'])} links to partners, "
                f"{len(records['transitions'])} moves and {answers.rowcount} survey answers"
            ),
        )
    return n


def audit_csv(entries: pd.DataFrame) -> bytes:
    """The audit entries as CSV for Excel: UTF-8 with BOM, every formula-like cell neutralised."""
    safe = entries.astype(object).map(excel_safe)
    return safe.to_csv(index=False).encode("utf-8-sig")


# ---------------------------------------------------------------- what governors may see

# The rules live in engagement.disclosure, the one layer every governor-facing figure passes
# through; these names stay importable from here for the modules that used them.
from engagement.disclosure import governor_count, governor_metrics, governor_row, is_small  # noqa: E402

__all__ = ["governor_count", "governor_metrics", "governor_row", "is_small"]
