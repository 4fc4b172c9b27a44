"""Referrals with their outcomes, and the partners a family uses.

A family liaison officer refers a family to a partner (the food bank, early help) with the
reasons, drawn from the family's needs and the partner's services. A referral is ``sent``, then
``accepted``, ``declined`` (with the partner's reason), ``completed`` or ``no longer needed``, each
step kept with its date (``referral_steps``). The outstanding list puts the oldest first; one still
``sent`` after ``[outreach] referral_no_reply_days`` (30) raises its family on the outreach worklist.

A family can also be linked to partners it uses (a member of a club, uses the food bank, has a
mentor), with start and end dates. The partner's record shows its referrals, how many it
accepted and how many families use it; governors see counts only, rounded like every count of
families (:func:`engagement.privacy.governor_count`).

>>> from engagement.store import open_store, schools, families, partners, services
>>> store = open_store("sqlite://")
>>> with store.write("doctest") as conn:
...     _ = conn.execute(schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
...     _ = conn.execute(families.insert().values(family_id="F1", school_id="S1", needs="food;housing"))
...     _ = conn.execute(partners.insert().values(partner_id="P1", school_id="S1", name="Food bank",
...                                                category="food bank", layer=3))
...     _ = conn.execute(services.insert().values(service_id="P1-S1", partner_id="P1", name="Parcels",
...                                                tags="food;clothing"))
>>> reason_choices(store, "F1", "P1")
['food', 'housing', 'clothing']
>>> rid = refer(store, "flo", school_id="S1", family_id="F1", partner_id="P1", date="2026-09-01",
...             reasons=["food"], today="2026-09-01")
>>> update_status(store, "flo", rid, "declined", "2026-09-03", today="2026-09-04")
Traceback (most recent call last):
...
engagement.referrals.InvalidReferral: Say why the partner declined the referral.
>>> update_status(store, "flo", rid, "accepted", "2026-09-03", today="2026-09-04")
>>> referrals_summary(store, "S1", datetime.date(2026, 9, 1), datetime.date(2026, 9, 30))["open"]
1
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Mapping

import pandas as pd
from sqlalchemy import func, select

from engagement import clock
from engagement import store as db
from engagement.cells import parse_date, parse_list
from engagement.privacy import governor_count
from engagement.service_vocabulary import partner_tags
from engagement.settings import fewer_than, load_settings

STATUSES = db.REFERRAL_STATUSES
OPEN_STATUSES = ("sent", "accepted")
REFERRAL_COLUMNS = [
    "referral_id",
    "family_id",
    "partner_id",
    "partner",
    "date",
    "reasons",
    "status",
    "status_date",
    "decline_reason",
    "staff",
    "days_open",
    "no_reply",
]
LINK_COLUMNS = ["family_id", "partner_id", "partner", "category", "relation", "start", "end", "current"]


class InvalidReferral(ValueError):
    """A referral or a link that cannot be saved; the message says why in plain English."""


def _day(value, what: str = "date") -> datetime.date:
    if isinstance(value, datetime.date):
        return value
    parsed = parse_date(value)
    if parsed is None:
        raise InvalidReferral(f"The {what} {value!r} is not a date: write it as 2026-09-14 or 14/09/2026.")
    return parsed


def _fits(table, column: str, value: str | None, what: str) -> str | None:
    """``value`` when it fits the store's column, else :class:`InvalidReferral` saying so: SQLite
    would keep an over-long text and PostgreSQL refuse the save without saying which."""
    limit = getattr(table.c[column].type, "length", None)
    if value is not None and limit and len(value) > limit:
        raise InvalidReferral(f"The {what} is too long ({len(value)} characters; at most {limit}).")
    return value


def _today(today) -> datetime.date:
    return clock.today() if today is None else _day(today, "today's date")


def status_key(status: str) -> str:
    """``status`` as the store spells it (any case, spaces or underscores).

    >>> status_key("No_Longer  Needed")
    'no longer needed'
    """
    key = " ".join(str(status).replace("_", " ").lower().split())
    if key not in STATUSES:
        raise InvalidReferral(f"{status!r} is not a referral status; statuses: {', '.join(STATUSES)}.")
    return key


def _tags(text) -> list[str]:
    return [" ".join(t.split()) for t in parse_list(text or "")] if text else []


def reason_choices(store: db.Store, family_id: str, partner_id: str) -> list[str]:
    """The reasons to pick from: the family's needs, then the partner's services (repeats once)."""
    with store.read() as conn:
        needs = conn.execute(select(db.families.c.needs).where(db.families.c.family_id == family_id)).scalar()
        services = partner_tags(conn, [partner_id]).get(partner_id)
    seen: dict[str, None] = {}
    for tag in _tags(needs) + _tags(services):
        if tag.lower() not in {s.lower() for s in seen}:
            seen[tag] = None
    return list(seen)


def _check_pair(conn, school_id: str, family_id: str, partner_id: str) -> None:
    for table, key, ref, who in (
        (db.families, "family_id", family_id, "family"),
        (db.partners, "partner_id", partner_id, "partner"),
    ):
        owner = conn.execute(select(table.c.school_id).where(table.c[key] == ref)).scalar()
        if owner is None:
            raise InvalidReferral(f"There is no {who} {ref!r} in the store.")
        if owner != school_id:
            raise InvalidReferral(f"The {who} {ref!r} belongs to another school, not {school_id!r}.")


def refer(
    store: db.Store,
    actor: str,
    *,
    school_id: str,
    family_id: str,
    partner_id: str,
    date,
    reasons: Iterable[str] = (),
    staff: str | None = None,
    referral_id: str | None = None,
    today=None,
) -> str:
    """Refer a family to a partner (status ``sent``); returns the referral's reference."""
    when = _day(date)
    if when > _today(today):
        raise InvalidReferral(f"The date {when:%d/%m/%Y} is in the future.")
    new_id = referral_id or f"R-{uuid.uuid4().hex[:12]}"
    family, partner = str(family_id).strip(), str(partner_id).strip()
    row = {
        "referral_id": new_id,
        "school_id": school_id,
        "family_id": family,
        "partner_id": partner,
        "date": when,
        "reasons": ";".join(r.strip() for r in reasons if r and r.strip()) or None,
        "status": "sent",
        "status_date": when,
        "decline_reason": None,
        "staff": _fits(db.referrals, "staff", (staff or "").strip() or None, "name of who referred"),
    }
    _fits(db.referrals, "referral_id", new_id, "referral reference")

    def save(conn) -> None:
        _check_pair(conn, school_id, family, partner)
        conn.execute(db.referrals.insert().values(**row))
        conn.execute(
            db.referral_steps.insert().values(referral_id=new_id, status="sent", date=when, staff=row["staff"])
        )
        db.audit(conn, "insert", "referrals", new_id, after=row, detail="referral made")

    store.write_retrying(actor, save)
    return new_id


def update_status(
    store: db.Store, actor: str, referral_id: str, status: str, date, decline_reason: str | None = None, today=None
) -> None:
    """Move a referral to ``status`` on ``date`` (a declined one needs the partner's reason)."""
    status = status_key(status)
    when = _day(date)
    if when > _today(today):
        raise InvalidReferral(f"The date {when:%d/%m/%Y} is in the future.")
    reason = (decline_reason or "").strip() or None
    if status == "declined" and not reason:
        raise InvalidReferral("Say why the partner declined the referral.")

    def save(conn) -> None:
        # Held until this save commits: a second status change waits, then starts from this one.
        stored = (
            conn.execute(select(db.referrals).where(db.referrals.c.referral_id == referral_id).with_for_update())
            .mappings()
            .first()
        )
        if stored is None:
            raise InvalidReferral(f"There is no referral {referral_id!r}.")
        if when < stored["date"]:
            raise InvalidReferral(
                f"The referral was made on {stored['date']:%d/%m/%Y}; its {status} date cannot be earlier."
            )
        after = {"status": status, "status_date": when, "decline_reason": reason if status == "declined" else None}
        conn.execute(db.referrals.update().where(db.referrals.c.referral_id == referral_id).values(**after))
        conn.execute(
            db.referral_steps.insert().values(
                referral_id=referral_id, status=status, date=when, note=reason, staff=actor[:200]
            )
        )
        db.audit(conn, "update", "referrals", referral_id, before={k: stored[k] for k in after}, after=after)

    store.write_retrying(actor, save)


def referrals(
    store: db.Store,
    school_id: str,
    *,
    partner_id: str | None = None,
    family_id: str | None = None,
    open_only: bool = False,
    today=None,
) -> pd.DataFrame:
    """The school's referrals, oldest first (columns :data:`REFERRAL_COLUMNS`): ``days_open`` since
    made, ``no_reply`` when still ``sent`` after ``referral_no_reply_days``."""
    r, p = db.referrals, db.partners
    query = (
        select(
            r.c.referral_id,
            r.c.family_id,
            r.c.partner_id,
            p.c.name.label("partner"),
            r.c.date,
            r.c.reasons,
            r.c.status,
            r.c.status_date,
            r.c.decline_reason,
            r.c.staff,
        )
        .join(p, p.c.partner_id == r.c.partner_id)
        .where(r.c.school_id == school_id)
    )
    if partner_id is not None:
        query = query.where(r.c.partner_id == partner_id)
    if family_id is not None:
        query = query.where(r.c.family_id == family_id)
    if open_only:
        query = query.where(r.c.status.in_(OPEN_STATUSES))
    with store.read() as conn:
        rows = [dict(x) for x in conn.execute(query.order_by(r.c.date, r.c.referral_id)).mappings()]
    frame = pd.DataFrame(rows, columns=REFERRAL_COLUMNS[:-2])
    day = _today(today)
    limit = load_settings().outreach.referral_no_reply_days
    frame["days_open"] = [(day - d).days for d in frame["date"]]
    frame["no_reply"] = (frame["status"] == "sent") & (frame["days_open"] >= limit)
    return frame


def no_reply_reasons(store: db.Store, school_id: str, today=None) -> dict[str, str]:
    """Per family with a referral still unanswered after ``referral_no_reply_days``: the reason the
    outreach worklist gives, e.g. "referral to Food bank sent 34 days ago, no reply"."""
    frame = referrals(store, school_id, open_only=True, today=today)
    frame = frame[frame["no_reply"]]
    out: dict[str, str] = {}
    for row in frame.itertuples():
        text = f"referral to {row.partner} sent {row.days_open} days ago, no reply"
        out[row.family_id] = f"{out[row.family_id]}; {text}" if row.family_id in out else text
    return out


def referrals_summary(store: db.Store, school_id: str, start: datetime.date, end: datetime.date) -> dict:
    """The ``referrals`` entry of ``score --json`` (FORMATS.md): referrals made in the window by
    their current status, and ``open`` = sent + accepted."""
    r = db.referrals
    with store.read() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                select(r.c.status, func.count())
                .where(r.c.school_id == school_id, r.c.date >= start, r.c.date <= end)
                .group_by(r.c.status)
            ).all()
        )
    return summary_of(counts)


def summary_of(counts: Mapping[str, int]) -> dict:
    """The ``referrals`` entry from the number of referrals of each status (what
    :func:`referrals_summary` counts for one school, and :mod:`engagement.compare` for many at once).

    >>> summary_of({"sent": 2, "completed": 1})["open"], summary_of({"sent": 2, "completed": 1})["made"]
    (2, 3)
    """
    out = {"made": int(sum(counts.values()))}
    for status in STATUSES:
        out[status.replace(" ", "_")] = int(counts.get(status, 0))
    out["open"] = sum(out[status.replace(" ", "_")] for status in OPEN_STATUSES)
    return out


def governor_referrals(summary: dict, threshold: int | None = None) -> dict:
    """The referrals entry as governors see it: each count (a count of families referred) rounded
    to the threshold, under it ``None`` with ``suppressed`` set (FORMATS.md's shape)."""
    threshold = threshold or load_settings().privacy.suppression_threshold
    out: dict = {}
    hidden = False
    for key, value in summary.items():
        shown = governor_count(value, threshold)
        out[key] = None if shown != shown else int(shown)
        hidden = hidden or out[key] is None
    out["suppressed"] = hidden
    return out


def partner_referral_counts(store: db.Store, partner_id: str) -> dict[str, int]:
    """A partner's referrals: how many made, how many it accepted (accepted now, or accepted before
    it completed), declined, and open."""
    r, s = db.referrals, db.referral_steps
    with store.read() as conn:
        statuses = list(conn.execute(select(r.c.status).where(r.c.partner_id == partner_id)).scalars())
        accepted = set(
            conn.execute(
                select(s.c.referral_id)
                .join(r, r.c.referral_id == s.c.referral_id)
                .where(r.c.partner_id == partner_id, s.c.status == "accepted")
            ).scalars()
        )
    return {
        "made": len(statuses),
        "accepted": len(accepted),
        "declined": statuses.count("declined"),
        "open": sum(statuses.count(x) for x in OPEN_STATUSES),
    }


# ---------------------------------------------------------------- families' partners


def link_family(
    store: db.Store,
    actor: str,
    *,
    school_id: str,
    family_id: str,
    partner_id: str,
    relation: str | None = None,
    start=None,
    end=None,
) -> None:
    """Record that a family uses a partner (a club member, a food bank user, a mentee), or update
    the link's relation and dates. An open end means it goes on."""
    family, partner = str(family_id).strip(), str(partner_id).strip()
    begins = None if start in (None, "") else _day(start, "start")
    ends = None if end in (None, "") else _day(end, "end")
    if begins and ends and ends < begins:
        raise InvalidReferral("The link ends before it starts.")
    row = {
        "family_id": family,
        "partner_id": partner,
        "school_id": school_id,
        "relation": _fits(db.family_partners, "relation", (relation or "").strip() or None, "relation"),
        "start": begins,
        "end": ends,
    }

    def save(conn) -> None:
        _check_pair(conn, school_id, family, partner)
        write_links(conn, [row])

    store.write_retrying(actor, save)


def write_links(conn, rows: list[dict]) -> dict[str, int]:
    """Insert or update family-partner links in the caller's transaction, each change audited."""
    fp = db.family_partners
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for row in rows:
        key = f"{row['family_id']}|{row['partner_id']}"
        # Added if not there, the database deciding: two staff linking the same pair at once make
        # one link (the second then updates it like any stored one, its row held meanwhile).
        if db.insert_if_absent(conn, fp, [row]):
            db.audit(conn, "insert", "family_partners", key, after=row)
            counts["inserted"] += 1
            continue
        stored = (
            conn.execute(
                select(fp)
                .where(fp.c.family_id == row["family_id"], fp.c.partner_id == row["partner_id"])
                .with_for_update()
            )
            .mappings()
            .one()
        )
        changed = {k: v for k, v in row.items() if stored[k] != v}
        if not changed:
            counts["unchanged"] += 1
            continue
        conn.execute(
            fp.update()
            .where(fp.c.family_id == row["family_id"], fp.c.partner_id == row["partner_id"])
            .values(**changed)
        )
        db.audit(conn, "update", "family_partners", key, before={k: stored[k] for k in changed}, after=changed)
        counts["updated"] += 1
    return counts


def family_links(
    store: db.Store, *, family_id: str | None = None, partner_id: str | None = None, today=None
) -> pd.DataFrame:
    """The links of one family (its partners) or of one partner (its families), columns
    :data:`LINK_COLUMNS`; ``current`` when the link has started and not ended by ``today``."""
    fp, p = db.family_partners, db.partners
    query = select(
        fp.c.family_id, fp.c.partner_id, p.c.name.label("partner"), p.c.category, fp.c.relation, fp.c.start, fp.c.end
    ).join(p, p.c.partner_id == fp.c.partner_id)
    query = (
        query.where(fp.c.family_id == family_id)
        if family_id is not None
        else query.where(fp.c.partner_id == partner_id)
    )
    with store.read() as conn:
        rows = [dict(x) for x in conn.execute(query.order_by(p.c.name, fp.c.family_id)).mappings()]
    frame = pd.DataFrame(rows, columns=LINK_COLUMNS[:-1])
    day = _today(today)
    frame["current"] = [
        (s is None or s <= day) and (e is None or e >= day) for s, e in zip(frame["start"], frame["end"], strict=True)
    ]
    return frame


def families_using(store: db.Store, partner_id: str, today=None) -> int:
    """How many families use a partner now (links started and not ended)."""
    links = family_links(store, partner_id=partner_id, today=today)
    return int(links["current"].sum())


def partner_summary(store: db.Store, partner_id: str, *, for_governor: bool, today=None) -> dict[str, str]:
    """What a partner's record says of its referrals and users, label to text. For governors every
    count of families is rounded to the threshold (under it, the words of
    :func:`engagement.settings.fewer_than`) and no family is listed anywhere.

    >>> from engagement.store import open_store
    >>> partner_summary(open_store("sqlite://"), "P1", for_governor=False)
    {'Referrals made': '0', 'Referrals accepted': '0', 'Referrals open': '0', 'Families using it': '0'}
    """

    counts = partner_referral_counts(store, partner_id)
    figures = {
        "Referrals made": counts["made"],
        "Referrals accepted": counts["accepted"],
        "Referrals open": counts["open"],
        "Families using it": families_using(store, partner_id, today),
    }
    threshold = load_settings().privacy.suppression_threshold

    def shown(n: int) -> str:
        if not for_governor:
            return f"{n:,}"
        rounded = governor_count(n, threshold)
        return fewer_than() if rounded != rounded else f"about {int(rounded):,}" if rounded != n else f"{n:,}"

    return {label: shown(n) for label, n in figures.items()}
