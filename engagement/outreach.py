"""The outreach planner: which families to reach next, why, and which partners near home fit.

A family liaison officer starts the day with the families the school has had no two-way contact
with in the last N days, most in need first. Given the school's calendar (:mod:`engagement.terms`;
the app and the command line always give it) the days are **school days**: the summer holiday or a
half-term does not put every family on the list the morning term starts; without one (plain
tables, as in the examples below) they are calendar days. Each family's priority is a sum of weighted parts
(``[outreach.priority]`` in the config) that the planner spells out, e.g. "looked after +5,
never in two-way contact +4": the equity flags (looked after, SEND, pupil premium, young carer,
EAL); how long since the last two-way contact, with a family never in two-way contact counting
most (the recency part is capped at the never-contacted weight, so recency alone never outranks a
family the school has never talked with); a transition coming (a child in Reception or Year 6,
or a *new starter*: a family whose first recorded contact of any kind is within the last
``new_starter_days``; a family with no record at all is not called a new starter, because a
store imported without history would make every family one: it is already lifted as never
contacted); and contact that went one way only (newsletters, unanswered calls) within the N days. Two reasons come
from the seed on SEND partnerships (issue 19) and are shown to family liaison officers only (other
staff see their points as "reasons for family liaison officers"): a child with SEND moving within
``[transitions] meeting_warning_days`` with no transition meeting yet (such a family is on the
list even after a recent contact: a phone call is not the meeting), and low belonging in the
family's answers to a non-anonymous survey's latest round.
Equal priorities are ordered never-contacted first, then longest without contact, then by
family reference, so the list is the same every time. A family with a referral still unanswered
after ``referral_no_reply_days`` is on the list whatever its contacts, with that reason.

For a family, :func:`partner_suggestions` lists the partners (active or prospective, never
lapsed) whose services match its needs within a radius of its home postcode, nearest first.
A family with no known home gets its matches by service at any distance; a family with no
recorded needs gets the partners offering the config's ``general_services`` (parenting support,
holiday club, after-school, food). Exports: a formula-safe CSV and a printable, dated visit/call
sheet as one self-contained HTML file. No names are stored, so none are shown.

>>> import datetime
>>> import pandas as pd
>>> families = pd.DataFrame([
...     {"family_id": "F1", "postcode": "B30 2QX", "looked_after": True, "year_groups": "3"},
...     {"family_id": "F2", "postcode": "B30 2AB", "year_groups": "4"},
...     {"family_id": "F3", "postcode": "B30 2AD", "year_groups": "5"}])
>>> interactions = pd.DataFrame([
...     {"family_id": "F2", "date": datetime.date(2026, 9, 1), "two_way": True},
...     {"family_id": "F3", "date": datetime.date(2026, 11, 20), "two_way": True}])
>>> frames = frames_from_tables("S1", families, interactions, today=datetime.date(2026, 11, 23), days=42)
>>> worklist(frames)[["family_id", "priority", "reasons"]].to_dict("records")
[{'family_id': 'F1', 'priority': 9.0, 'reasons': 'looked after +5, never in two-way contact +4'}, \
{'family_id': 'F2', 'priority': 2.0, 'reasons': '83 days since the last two-way contact +2'}]
"""

from __future__ import annotations

import csv
import datetime
import html
import io
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from engagement import clock
from engagement import store as db
from engagement.belonging import load_responses, low_belonging_families
from engagement.calendar import load_calendar
from engagement.cells import excel_safe, parse_list, year_tokens
from engagement.cells import is_blank as _blank  # the name this module has always read it by
from engagement.geo import distance_km, gazetteer_lookup, normalise_postcode, postcode_sector
from engagement.referrals import no_reply_reasons
from engagement.service_vocabulary import partner_tags
from engagement.services import service_fit, services_of
from engagement.settings import load_settings
from engagement.terms import Calendar, day_number
from engagement.text import list_text, readable_table
from engagement.transitions import send_moves_without_meeting

# The equity flags of a family, as the school says them.
FLAGS = {
    "looked_after": "looked after",
    "send": "SEND",
    "pupil_premium": "pupil premium",
    "young_carer": "young carer",
    "eal": "EAL",
}

FAMILY_COLUMNS = ["family_id", "postcode", "year_groups", *FLAGS, "needs", "preferred_channel", "language"]
CONTACT_COLUMNS = ["family_id", "last_two_way", "first_contact", "one_way_recent"]
PARTNER_COLUMNS = [
    "partner_id",
    "name",
    "category",
    "postcode",
    "latitude",
    "longitude",
    "services",
    "status",
    "contact_phone",
    "contact_email",
]
WORKLIST_COLUMNS = [
    "family_id",
    "postcode",
    "sector",
    "year_groups",
    "flags",
    "needs",
    "preferred_channel",
    "language",
    "last_two_way",
    "days_since",
    "one_way_contacts",
    "new_starter",
    "priority",
    "reasons",
]
# The worklist's columns in the school's words, for the page and the CSV alike; the days column is
# named by what it counts (see :func:`worklist_headers`).
WORKLIST_HEADERS = {
    "priority": "Priority",
    "family_id": "Family",
    "reasons": "Why now",
    "needs": "Needs",
    "flags": "Groups",
    "year_groups": "Year groups",
    "preferred_channel": "Prefers",
    "language": "Language",
    "postcode": "Postcode",
    "sector": "Postcode sector",
    "last_two_way": "Last two-way contact",
    "days_since": "Days since",
    "one_way_contacts": "One-way contacts",
    "new_starter": "New starter",
}
# Columns that hold a list ("R;4"), shown as "R, 4".
WORKLIST_LISTS = ("year_groups", "flags", "needs")
SUGGESTION_COLUMNS = [
    "partner_id",
    "name",
    "category",
    "services",
    "matched",
    "distance_km",
    "status",
    "contact_phone",
    "contact_email",
    "service",
    "why",
]


# ---------------------------------------------------------------- year groups and tags


def _year_order(token: str):
    return (0, -1) if token == "N" else (0, 0) if token == "R" else (1, int(token)) if token.isdigit() else (2, token)


def _items(text) -> list[str]:
    return [] if _blank(text) else parse_list(text)


def _tags(text) -> list[str]:
    return [" ".join(t.lower().split()) for t in _items(text)]


# ---------------------------------------------------------------- the data the planner reads


@dataclass
class OutreachFrames:
    """What the planner needs of one school, as of ``today`` with a window of ``days``:
    its families (with home coordinates from the gazetteer, NaN when unknown), one contact summary
    row per family that has any contact up to today, and its partners."""

    school_id: str
    today: datetime.date
    days: int
    families: pd.DataFrame
    contacts: pd.DataFrame
    partners: pd.DataFrame
    calendar: Calendar | None = None
    """Whose school days ``days`` counts (None: calendar days)."""

    @property
    def unit(self) -> str:
        """What ``days`` counts, in words: "school days" or "days"."""
        return "days" if self.calendar is None else "school days"

    # family_id -> "referral to X sent N days ago, no reply": such a family is on the list whatever
    # its contacts (engagement.referrals.no_reply_reasons).
    referral_no_reply: dict[str, str] = field(default_factory=dict)
    # SEND moves coming with no meeting yet (family_id, date, days_to_go) and families who answered
    # with low belonging (family_id, survey, date): see engagement.transitions and engagement.belonging.
    moves: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["family_id", "date", "days_to_go"]))
    low_belonging: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["family_id", "survey", "date"]))
    services: pd.DataFrame | None = None
    """The partners' services (engagement.services): ages, languages, delivery and cost of each;
    None when only the partners' tags are known."""
    _by_partner: tuple[pd.DataFrame, dict[str, list[dict]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def services_by_partner(self) -> dict[str, list[dict]]:
        """Each partner's active services as plain records, grouped once for these frames: a
        printed sheet asks for 25 families' partners, and grouping the services again for each
        family (a frame per partner) took most of a second a family."""
        if self.services is None:
            return {}
        if self._by_partner is None or self._by_partner[0] is not self.services:
            grouped: dict[str, list[dict]] = {}
            active = self.services[self.services["status"].fillna("active") == "active"]
            for record in active.to_dict("records"):
                grouped.setdefault(record["partner_id"], []).append(record)
            self._by_partner = (self.services, grouped)
        return self._by_partner[1]


def _window_start(today: datetime.date, days: int, calendar: Calendar | None = None) -> datetime.date:
    # "The last N days" are the N days ending today, today included; N school days, with a calendar.
    if calendar is not None:
        first = calendar.nth_school_day_before(today + datetime.timedelta(days=1), days)
        return first if first is not None else datetime.date.min
    return today - datetime.timedelta(days=days - 1)


def _families_frame(rows: pd.DataFrame, gazetteer: pd.DataFrame) -> pd.DataFrame:
    fam = rows.reindex(columns=FAMILY_COLUMNS).copy()
    for flag in FLAGS:
        fam[flag] = [False if _blank(v) else bool(v) for v in fam[flag]]
    fam["family_id"] = fam["family_id"].astype(str)
    # A postcode that is not a UK postcode is kept as written (the FLO may still read it) but has no home.
    written = {
        v: None if _blank(v) else normalise_postcode(v) or " ".join(str(v).split())
        for v in set(fam["postcode"].tolist())
    }
    fam["postcode"] = [written[v] for v in fam["postcode"].tolist()]
    coords = gazetteer.reindex(columns=["postcode", "latitude", "longitude"]).copy()
    coords["postcode"] = coords["postcode"].map(normalise_postcode)
    coords = coords.dropna(subset=["postcode"]).drop_duplicates("postcode")
    fam = fam.merge(coords, on="postcode", how="left")
    fam["latitude"] = fam["latitude"].astype(float)
    fam["longitude"] = fam["longitude"].astype(float)
    return fam.reset_index(drop=True)


def _partners_frame(rows: pd.DataFrame | None) -> pd.DataFrame:
    frame = (rows if rows is not None else pd.DataFrame()).reindex(columns=PARTNER_COLUMNS).copy()
    frame["latitude"] = frame["latitude"].astype(float)
    frame["longitude"] = frame["longitude"].astype(float)
    frame["status"] = frame["status"].fillna("active").astype(str).str.strip().str.lower()
    return frame.reset_index(drop=True)


def frames_from_tables(
    school_id: str,
    families: pd.DataFrame,
    interactions: pd.DataFrame | None = None,
    partners: pd.DataFrame | None = None,
    gazetteer: pd.DataFrame | None = None,
    *,
    today: datetime.date | None = None,
    days: int | None = None,
    calendar: Calendar | None = None,
    moves: pd.DataFrame | None = None,
    low_belonging: pd.DataFrame | None = None,
    services: pd.DataFrame | None = None,
) -> OutreachFrames:
    """Build the planner's input from plain tables (columns as in the store; ``interactions``
    needs only family_id, date and two_way). :func:`load_frames` computes the same from a store."""
    today = today or clock.today()
    days = int(days or load_settings().outreach.days_without_contact)
    inter = (
        (interactions if interactions is not None else pd.DataFrame())
        .reindex(columns=["family_id", "date", "two_way"])
        .dropna(subset=["family_id"])
        .copy()
    )
    inter["date"] = pd.to_datetime(inter["date"]).dt.date
    inter["two_way"] = inter["two_way"].fillna(False).astype(bool)
    inter = inter[inter["date"] <= today]
    start = _window_start(today, days, calendar)
    grouped = inter.assign(
        two_way_date=inter["date"].where(inter["two_way"]),
        recent_one_way=(~inter["two_way"] & (inter["date"] >= start)).astype(int),
    ).groupby("family_id", sort=True)
    contacts = (
        pd.DataFrame(
            {
                "last_two_way": grouped["two_way_date"].max(),
                "first_contact": grouped["date"].min(),
                "one_way_recent": grouped["recent_one_way"].sum(),
            }
        )
        .reset_index()
        .reindex(columns=CONTACT_COLUMNS)
    )
    gaz = gazetteer if gazetteer is not None else pd.DataFrame(columns=["postcode", "latitude", "longitude"])
    out = OutreachFrames(
        school_id,
        today,
        days,
        _families_frame(families, gaz),
        contacts,
        _partners_frame(partners),
        calendar,
        services=services,
    )
    if moves is not None:
        out.moves = moves.reindex(columns=["family_id", "date", "days_to_go"])
    if low_belonging is not None:
        out.low_belonging = low_belonging.reindex(columns=["family_id", "survey", "date"])
    return out


def load_frames(
    store: db.Store,
    school_id: str,
    today: datetime.date | None = None,
    days: int | None = None,
    calendar: Calendar | None = None,
) -> OutreachFrames:
    """Read what the planner needs for one school. The contact summary is aggregated by the
    database (one row per family), so this stays fast at trust scale. With ``calendar`` (the
    school's, :func:`engagement.calendar.load_calendar`), ``days`` are school days."""
    today = today or clock.today()
    days = int(days or load_settings().outreach.days_without_contact)
    f, i, p = db.families, db.interactions, db.partners
    start = _window_start(today, days, calendar)
    summary = (
        sa.select(
            i.c.family_id,
            sa.func.max(sa.case((i.c.two_way, i.c.date))).label("last_two_way"),
            sa.func.min(i.c.date).label("first_contact"),
            sa.func.sum(sa.case((sa.and_(sa.not_(i.c.two_way), i.c.date >= start), 1), else_=0)).label(
                "one_way_recent"
            ),
        )
        .where(i.c.school_id == school_id, i.c.family_id.is_not(None), i.c.date <= today)
        .group_by(i.c.family_id)
    )
    with store.read() as conn:
        fam = pd.DataFrame(
            db.tuples(conn.execute(sa.select(*(f.c[c] for c in FAMILY_COLUMNS)).where(f.c.school_id == school_id))),
            columns=FAMILY_COLUMNS,
        )
        contacts = pd.DataFrame(db.tuples(conn.execute(summary)), columns=CONTACT_COLUMNS)
        stored = [c for c in PARTNER_COLUMNS if c in p.c]  # a partner's services are a table of their own
        par = pd.DataFrame(
            db.tuples(
                conn.execute(
                    sa.select(*(p.c[c] for c in stored)).where(p.c.school_id == school_id, p.c.archived_on.is_(None))
                )
            ),
            columns=stored,
        )
        par["services"] = par["partner_id"].map(partner_tags(conn, list(par["partner_id"]))).astype(object)
    services = services_of(store, school_id)
    gaz = pd.DataFrame(
        [(code, lat, lon) for code, (lat, lon) in gazetteer_lookup(store, fam["postcode"]).items()],
        columns=["postcode", "latitude", "longitude"],
    )
    contacts["one_way_recent"] = contacts["one_way_recent"].fillna(0).astype(int)
    contacts["family_id"] = contacts["family_id"].astype(str)

    return OutreachFrames(
        school_id,
        today,
        days,
        _families_frame(fam, gaz),
        contacts,
        _partners_frame(par),
        calendar,
        no_reply_reasons(store, school_id, today),
        moves=send_moves_without_meeting(store, school_id, today),
        low_belonging=low_belonging_families(load_responses(store, school_id)),
        services=services,
    )


def _frames(source, school_id, today, days) -> OutreachFrames:
    if isinstance(source, OutreachFrames):
        if school_id not in (None, source.school_id):
            raise ValueError(f"these frames are of school {source.school_id!r}, not {school_id!r}")
        if (today not in (None, source.today)) or (days not in (None, source.days)):
            raise ValueError("these frames were built for another date or window; build them again")
        return source
    if school_id is None:
        raise ValueError("give the school")
    return load_frames(source, school_id, today, days, load_calendar(source, school_id))


# ---------------------------------------------------------------- the worklist


def _points(value: float) -> str:
    return f"+{value:g}"


def worklist(
    source,
    school_id: str | None = None,
    today: datetime.date | None = None,
    days: int | None = None,
    *,
    year_group: str | None = None,
    flag: str | None = None,
    sector: str | None = None,
    channel: str | None = None,
    language: str | None = None,
    weights: dict | None = None,
    flo_reasons: bool = True,
) -> pd.DataFrame:
    """The families with no two-way contact in the last ``days`` days, most in need first
    (columns :data:`WORKLIST_COLUMNS`). ``source`` is a store (give ``school_id``) or
    :class:`OutreachFrames`. Filters, each optional and case-insensitive: a year group ("R", "6"),
    a flag (a key or label of :data:`FLAGS`), a postcode sector, a preferred channel, a language.
    ``flo_reasons``: whether the reasons for family liaison officers only are spelt out
    (:func:`engagement.access.sees_flo_reasons`); without, their points show as one reason
    "reasons for family liaison officers"."""
    frames = _frames(source, school_id, today, days)
    cfg = load_settings().outreach
    w = {**cfg.priority.model_dump(), **(weights or {})}
    today, days, unit = frames.today, frames.days, frames.unit
    fam = frames.families.merge(frames.contacts, on="family_id", how="left")
    last = pd.to_datetime(fam["last_two_way"])
    since = (pd.Timestamp(today) - last).dt.days
    if frames.calendar is not None:
        # School days after the last two-way contact, up to today: holidays do not count.
        known = last.notna().to_numpy()
        through = frames.calendar.school_days_through
        counted = np.full(len(fam), np.nan)
        counted[known] = through([day_number(today)])[0] - through(
            last[known].to_numpy().astype("datetime64[D]").astype(np.int64)
        )
        since = pd.Series(counted, index=fam.index)
    waiting = fam["family_id"].map(frames.referral_no_reply)
    moving = frames.moves.drop_duplicates("family_id").set_index("family_id")["days_to_go"]
    low = frames.low_belonging.drop_duplicates("family_id").set_index("family_id")["survey"]
    on_list = since.isna() | (since >= days) | waiting.notna() | fam["family_id"].isin(moving.index).to_numpy()
    waiting = waiting[on_list.to_numpy()].reset_index(drop=True)
    fam, since = fam[on_list.to_numpy()].reset_index(drop=True), since[on_list.to_numpy()].reset_index(drop=True)
    never = since.isna().to_numpy()
    one_way = fam["one_way_recent"].fillna(0).astype(int).to_numpy()
    first = pd.to_datetime(fam["first_contact"])
    new_starter = (first >= pd.Timestamp(today - datetime.timedelta(days=cfg.new_starter_days))).to_numpy()
    years = [year_tokens(v) for v in fam["year_groups"].tolist()]
    days_since = since.fillna(-1).astype(int).tolist()
    flag_cols = {key: fam[key].to_numpy(dtype=bool) for key in FLAGS}

    n = len(fam)
    priority = np.zeros(n)
    reasons: list[list[str]] = [[] for _ in range(n)]
    for key, label in FLAGS.items():
        has = flag_cols[key]
        priority += has * w[key]
        for i in np.flatnonzero(has):
            reasons[i].append(f"{label} {_points(w[key])}")
    months = np.floor(since.fillna(0).to_numpy() / 30.0)
    recency = np.where(
        never, w["never_contacted"], np.minimum(months * w["per_30_days_since_contact"], w["never_contacted"])
    )
    priority += recency
    for idx in range(n):
        if never[idx]:
            reasons[idx].append(f"never in two-way contact {_points(w['never_contacted'])}")
        elif recency[idx]:
            reasons[idx].append(f"{days_since[idx]} {unit} since the last two-way contact {_points(recency[idx])}")
        transition = [
            word
            for word, yes in (
                ("Reception", "R" in years[idx]),
                ("Year 6", "6" in years[idx]),
                ("new starter", bool(new_starter[idx])),
            )
            if yes
        ]
        if transition:
            priority[idx] += w["transition_coming"]
            reasons[idx].append(f"transition: {' and '.join(transition)} {_points(w['transition_coming'])}")
        if isinstance(waiting.iloc[idx], str):
            priority[idx] += w["referral_no_reply"]
            reasons[idx].append(f"{waiting.iloc[idx]} {_points(w['referral_no_reply'])}")
        private = []
        family = fam["family_id"].iloc[idx]
        if family in moving.index:
            priority[idx] += w["send_move_without_meeting"]
            private.append(
                (f"SEND move in {int(moving[family])} days, no transition meeting yet", w["send_move_without_meeting"])
            )
        if family in low.index:
            priority[idx] += w["low_belonging"]
            private.append((f"low belonging in the {low[family]} survey", w["low_belonging"]))
        if private and flo_reasons:
            reasons[idx] += [f"{text} {_points(points)}" for text, points in private]
        elif private:
            reasons[idx].append(f"reasons for family liaison officers {_points(sum(p for _, p in private))}")
        # "None two-way" only of a family with no two-way contact in the window: one on the list for
        # a referral or a move may have had one lately, and the row must not say otherwise.
        if one_way[idx] and (never[idx] or days_since[idx] >= days):
            priority[idx] += w["one_way_only"]
            noun = "contact" if one_way[idx] == 1 else "contacts"
            reasons[idx].append(
                f"{one_way[idx]} one-way {noun} in {days} {unit}, none two-way {_points(w['one_way_only'])}"
            )

    out = pd.DataFrame(
        {
            "family_id": fam["family_id"].astype(str),
            "postcode": fam["postcode"],
            "sector": [postcode_sector(v) for v in fam["postcode"].tolist()],
            "year_groups": [";".join(sorted(t, key=_year_order)) or None for t in years],
            "flags": [";".join(FLAGS[k] for k in FLAGS if flag_cols[k][i]) or None for i in range(n)],
            "needs": fam["needs"],
            "preferred_channel": fam["preferred_channel"],
            "language": fam["language"],
            "last_two_way": fam["last_two_way"].astype(object).where(fam["last_two_way"].notna(), None),
            "days_since": since.astype("Int64"),
            "one_way_contacts": one_way,
            "new_starter": new_starter,
            "priority": np.round(priority, 2),
            "reasons": [", ".join(r) for r in reasons],
            "_never": never,
            "_since": since.fillna(np.inf).to_numpy(),
        }
    )
    out = (
        out.sort_values(
            ["priority", "_never", "_since", "family_id"], ascending=[False, False, False, True], kind="mergesort"
        )
        .drop(columns=["_never", "_since"])
        .reset_index(drop=True)
    )
    return _filter(out, year_group=year_group, flag=flag, sector=sector, channel=channel, language=language)


def _flag_key(flag: str) -> str:
    word = " ".join(str(flag).strip().lower().replace("_", " ").split())
    for key, label in FLAGS.items():
        if word in (key.replace("_", " "), label.lower()):
            return key
    raise ValueError(f"{flag!r} is not a flag; flags: {', '.join(FLAGS.values())}")


def _filter(
    frame: pd.DataFrame, *, year_group=None, flag=None, sector=None, channel=None, language=None
) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    if year_group:
        wanted = year_tokens(year_group)[0] if year_tokens(year_group) else ""
        keep &= frame["year_groups"].map(lambda t: wanted in _items(t)).to_numpy(dtype=bool)
    if flag:
        label = FLAGS[_flag_key(flag)]
        keep &= frame["flags"].map(lambda t: label in _items(t)).to_numpy(dtype=bool)
    if sector:
        keep &= (frame["sector"] == postcode_sector(sector)).fillna(False).to_numpy(dtype=bool)
    for column, value in (("preferred_channel", channel), ("language", language)):
        if value:
            keep &= (
                frame[column].fillna("").astype(str).str.strip().str.lower() == str(value).strip().lower()
            ).to_numpy(dtype=bool)
    return frame[keep].reset_index(drop=True)


def filter_choices(frame: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter can take in a worklist, sorted the way a school reads them."""
    years = {t for v in frame["year_groups"] for t in _items(v)}
    flags = {t for v in frame["flags"] for t in _items(v)}
    text = lambda col: sorted({str(v).strip() for v in frame[col].dropna() if str(v).strip()}, key=str.lower)  # noqa: E731
    return {
        "year_group": sorted(years, key=_year_order),
        "flag": [label for label in FLAGS.values() if label in flags],
        "sector": sorted(frame["sector"].dropna().unique().tolist()),
        "preferred_channel": text("preferred_channel"),
        "language": text("language"),
    }


# ---------------------------------------------------------------- partners near a family


def partner_suggestions(
    source,
    school_id: str | None = None,
    family_id: str | None = None,
    radius_km: float | None = None,
    *,
    today: datetime.date | None = None,
    days: int | None = None,
) -> pd.DataFrame:
    """The partners that fit one family (columns :data:`SUGGESTION_COLUMNS`), lapsed partners
    never included. With a home postcode: partners whose services match the family's needs
    (any case) within ``radius_km`` of home, nearest first. Without a known home: the matches at
    any distance, most needs met first. With no needs recorded: partners offering the
    config's ``general_services``. ``frame.attrs["basis"]`` says which rule gave the list."""
    if family_id is None:
        raise ValueError("give the family")
    frames = _frames(source, school_id, today, days)
    cfg = load_settings().outreach
    radius = float(cfg.partner_radius_km if radius_km is None else radius_km)
    found = frames.families[frames.families["family_id"] == str(family_id)]
    if found.empty:
        raise KeyError(f"there is no family {family_id!r} at school {frames.school_id!r}")
    family = found.iloc[0]
    needs = _tags(family["needs"])
    wanted = needs or [" ".join(s.lower().split()) for s in cfg.general_services]
    home = not (pd.isna(family["latitude"]) or pd.isna(family["longitude"]))

    partners = frames.partners[frames.partners["status"] != "lapsed"]
    services = partners["services"].map(_items)
    matched = services.map(lambda items: [s for s in items if " ".join(s.lower().split()) in wanted])
    has_match = matched.map(bool).to_numpy(dtype=bool)
    out = partners.assign(matched=matched.map(";".join))[has_match].copy()
    out["_matches"] = matched[has_match].map(len)
    out = _fit_services(out, frames.services, frames.services_by_partner(), family, wanted)
    free_first = "_free" if bool(family.get("pupil_premium")) else "_zero"
    out["_zero"] = 0
    if home:
        out["distance_km"] = np.round(
            distance_km(family["latitude"], family["longitude"], out["latitude"], out["longitude"]), 2
        )
        out = out[out["distance_km"] <= radius].sort_values(
            [free_first, "distance_km", "_matches", "partner_id"],
            ascending=[False, True, False, True],
            kind="mergesort",
        )
    else:
        out["distance_km"] = np.nan
        out = out.sort_values(
            [free_first, "_matches", "name", "partner_id"], ascending=[False, False, True, True], kind="mergesort"
        )
    out = out.reindex(columns=SUGGESTION_COLUMNS).reset_index(drop=True)
    what = "its needs" if needs else "general services (" + ", ".join(cfg.general_services) + ")"
    what += ", free ones first (pupil premium)" if bool(family.get("pupil_premium")) else ""
    out.attrs["basis"] = (
        f"Partners offering {what} within {radius:g} km of home, nearest first."
        if home
        else f"Partners offering {what}, at any distance: the family's home postcode is "
        f"{'not recorded' if _blank(family['postcode']) else 'not in the gazetteer'}."
    )
    return out


def _fit_services(
    out: pd.DataFrame,
    services: pd.DataFrame | None,
    by_partner: dict[str, list[dict]],
    family,
    wanted: list[str],
) -> pd.DataFrame:
    """Each candidate partner's best-fitting service and why it fits (the needs it meets, ages for
    the children's year groups, the family's language, a delivery it can use, free). A partner
    whose matching services all serve other ages is dropped. Without services, the tags alone."""
    out = out.copy()
    family = dict(family)
    offers = [f"offers {m.replace(';', ', ')}" for m in out["matched"]]
    if services is None or services.empty or out.empty:
        return out.assign(service=None, why=offers, _free=0)
    keep: list[bool] = []
    names: list[str | None] = []
    whys: list[str] = []
    free: list[int] = []
    for pid, offer in zip(out["partner_id"], offers, strict=True):
        best = None
        for service in by_partner.get(pid, []):
            if not {" ".join(t.lower().split()) for t in _items(service.get("tags"))} & set(wanted):
                continue
            fit = service_fit(service, family)
            if fit.fits and (best is None or fit.rank > best[1].rank):
                best = (service, fit)
        if best is None and by_partner.get(pid):
            keep.append(False)
            names.append(None)
            whys.append("")
            free.append(0)
            continue
        keep.append(True)
        names.append(best[0]["name"] if best else None)
        whys.append("; ".join([offer, *(best[1].why if best else [])]))
        free.append(int("free" in (best[1].why if best else [])))
    out = out.assign(service=names, why=whys, _free=free)
    return out[np.array(keep, dtype=bool)]


def suggestions_for(
    frames: OutreachFrames, family_ids, radius_km: float | None = None, per_family: int = 2
) -> dict[str, list[str]]:
    """The nearest few suggestions for several families, as "name (1.2 km, 0121 496 0001)" texts
    (for a printed sheet: the phone number is what the family liaison officer rings)."""
    out = {}
    for family_id in family_ids:
        top = partner_suggestions(frames, family_id=family_id, radius_km=radius_km).head(per_family)
        out[family_id] = [
            _suggestion_text(r.name, r.distance_km, r.contact_phone)
            + (f": {r.why}" if isinstance(r.why, str) and r.why else "")
            for r in top.itertuples()
        ]
    return out


def panel_suggestions(suggestions: pd.DataFrame) -> pd.DataFrame:
    """The partners that fit a family as the family's panel shows them: two columns that fit half a
    laptop's screen (or a phone's) without scrolling sideways, each cell read in full on wrapped
    lines. ``partner``: its name, distance and how to reach it (phone, else email); ``why``: its
    service and why it fits (the needs it meets, ages, language, delivery, cost).

    >>> panel_suggestions(pd.DataFrame([{"name": "Library", "distance_km": 0.71, "contact_phone": "0121 496 0001",
    ...     "contact_email": None, "service": "Homework club", "why": "offers homework help; free"}])).to_dict("records")
    [{'partner': 'Library (0.7 km, tel. 0121 496 0001)', 'why': 'Homework club: offers homework help; free'}]
    >>> panel_suggestions(pd.DataFrame([{"name": "Food bank", "distance_km": float("nan"), "contact_phone": None,
    ...     "contact_email": "help@fb.example", "service": "Food Bank", "why": "offers food"}])).to_dict("records")
    [{'partner': 'Food bank (help@fb.example)', 'why': 'offers food'}]
    """
    rows = []
    for r in suggestions.to_dict("records"):
        reach = r.get("contact_phone") if not _blank(r.get("contact_phone")) else None
        text = _suggestion_text(r["name"], r.get("distance_km"), reach)
        if reach is None and not _blank(r.get("contact_email")):
            text = text[:-1] + f", {r['contact_email']})" if text.endswith(")") else f"{text} ({r['contact_email']})"
        why = "" if _blank(r.get("why")) else str(r["why"])
        service = "" if _blank(r.get("service")) else str(r["service"])
        if service.casefold() == str(r["name"]).casefold():
            service = ""  # a service named after its partner says nothing the first column does not
        rows.append({"partner": text, "why": f"{service}: {why}" if service and why else service or why})
    return pd.DataFrame(rows, columns=["partner", "why"])


def panel_links(links: pd.DataFrame) -> pd.DataFrame:
    """The partners a family uses (:func:`engagement.referrals.family_links`) as its panel shows
    them, in three columns that fit half a laptop's screen: the partner, as what, and when (the
    dates in words, and whether the link has ended).

    >>> panel_links(pd.DataFrame([{"partner": "Library", "relation": "member", "start": datetime.date(2025, 9, 1),
    ...     "end": None, "current": True}, {"partner": "Club", "relation": None, "start": None,
    ...     "end": datetime.date(2026, 7, 20), "current": False}])).to_dict("records")
    [{'partner': 'Library', 'relation': 'member', 'when': 'since 01/09/2025'}, \
{'partner': 'Club', 'relation': '', 'when': 'until 20/07/2026 (ended)'}]
    """
    rows = []
    for r in links.to_dict("records"):
        start, end = r.get("start"), r.get("end")
        dates = [f"since {start:%d/%m/%Y}" if not _blank(start) and _blank(end) else ""]
        if not _blank(start) and not _blank(end):
            dates = [f"{start:%d/%m/%Y} to {end:%d/%m/%Y}"]
        elif not _blank(end):
            dates = [f"until {end:%d/%m/%Y}"]
        when = dates[0] + ("" if r.get("current") else (" (ended)" if not _blank(end) else " (not begun)"))
        rows.append(
            {
                "partner": str(r["partner"]),
                "relation": "" if _blank(r.get("relation")) else str(r["relation"]),
                "when": when.strip() or "now",
            }
        )
    return pd.DataFrame(rows, columns=["partner", "relation", "when"])


def panel_history(history: pd.DataFrame) -> pd.DataFrame:
    """A family's contacts as its panel shows them: the date, the contact in words (activity,
    channel, two-way or one-way) and the note, three columns that fit half a laptop's screen.

    >>> panel_history(pd.DataFrame([{"date": datetime.date(2026, 11, 3), "activity": "phone call",
    ...     "channel": "phone", "two_way": True, "notes": None}])).to_dict("records")
    [{'date': datetime.date(2026, 11, 3), 'contact': 'phone call · phone · two-way', 'notes': ''}]
    """
    rows = []
    for r in history.to_dict("records"):
        parts = [r["activity"], r.get("channel"), "two-way" if r.get("two_way") else "one-way"]
        rows.append(
            {
                "date": r["date"],
                "contact": " · ".join(str(p) for p in parts if not _blank(p)),
                "notes": "" if _blank(r.get("notes")) else str(r["notes"]),
            }
        )
    return pd.DataFrame(rows, columns=["date", "contact", "notes"])


def _suggestion_text(name, distance, phone) -> str:
    """ "Library (1.2 km, tel. 0121 496 0001)", leaving out what is not known.

    >>> _suggestion_text("Library", 1.234, "0121  496 0001"), _suggestion_text("Club", float("nan"), None)
    ('Library (1.2 km, tel. 0121 496 0001)', 'Club')
    """
    parts = [] if pd.isna(distance) else [f"{distance:.1f} km"]
    if not _blank(phone):
        parts.append("tel. " + " ".join(str(phone).split()))
    return f"{name} ({', '.join(parts)})" if parts else str(name)


# ---------------------------------------------------------------- taking it out


def worklist_headers(unit: str = "days") -> dict[str, str]:
    """:data:`WORKLIST_HEADERS` with the days column named by what it counts ("School days since")."""
    return {**WORKLIST_HEADERS, "days_since": f"{unit[:1].upper()}{unit[1:]} since"}


def worklist_csv(frame: pd.DataFrame, unit: str = "days") -> bytes:
    """The worklist as CSV (UTF-8 with a BOM, so Excel reads it right) as a person reads it:
    headers in words, lists as "R, 4", yes/no, whole numbers, dates as 23/11/2026, blanks blank;
    every text cell formula-safe.

    >>> row = pd.DataFrame([{"family_id": "F1", "flags": "pupil premium;EAL", "new_starter": False,
    ...                      "priority": 11.0, "language": None}])
    >>> print(worklist_csv(row).decode("utf-8-sig"))  # doctest: +NORMALIZE_WHITESPACE
    Priority,Family,Groups,Language,New starter
    11,F1,"pupil premium, EAL",,no
    """
    safe = readable_table(frame, worklist_headers(unit), lists=WORKLIST_LISTS).map(excel_safe)
    buffer = io.StringIO()
    safe.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    return buffer.getvalue().encode("utf-8-sig")


_SHEET_CSS = """
*{box-sizing:border-box}
body{font-family:Arial,Helvetica,sans-serif;color:#111;margin:16px;font-size:12px}
h1{font-size:18px;margin:0 0 4px}
p.meta{margin:0 0 10px;color:#333}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #555;padding:4px 5px;vertical-align:top;text-align:left}
th{background:#e8e8e8}
td.outcome{width:22%}
tr{page-break-inside:avoid;break-inside:avoid}
thead{display:table-header-group}
footer{margin-top:10px;font-size:11px;color:#333}
@page{size:A4 landscape;margin:12mm}
@media print{body{margin:0;font-size:10.5px}th{background:#e8e8e8 !important;-webkit-print-color-adjust:exact;
print-color-adjust:exact}}
"""


def visit_sheet_html(
    frame: pd.DataFrame,
    *,
    school_name: str,
    today: datetime.date | None = None,
    days: int | None = None,
    suggestions: dict[str, list[str]] | None = None,
    on_list: int | None = None,
    unit: str = "days",
) -> str:
    """A printable, dated visit and call sheet: one self-contained HTML page (no scripts, no
    outside resources, every text escaped), A4 when printed, with a blank column for the outcome.
    ``on_list`` is how many families the whole worklist holds, when the sheet shows only the first;
    ``unit`` what ``days`` counts ("school days" when the school's calendar applied).

    >>> sheet = visit_sheet_html(pd.DataFrame([{"family_id": "<b>F1</b>", "reasons": "SEND +3"}]),
    ...                          school_name="Hollybrook", today=datetime.date(2026, 11, 23), days=42)
    >>> "&lt;b&gt;F1&lt;/b&gt;" in sheet and "<b>F1" not in sheet and "23/11/2026" in sheet
    True
    """
    today = today or clock.today()
    esc = lambda v: "" if _blank(v) else html.escape(str(v))  # noqa: E731
    rows = []
    for rank, row in enumerate(frame.to_dict("records"), start=1):
        last = row.get("last_two_way")
        when = last.strftime("%d/%m/%Y") if isinstance(last, datetime.date) else "never"
        since = row.get("days_since")
        when += "" if since is None or pd.isna(since) else f" ({int(since)} {unit})"
        prefers = " · ".join(esc(v) for v in (row.get("preferred_channel"), row.get("language")) if esc(v))
        flags, needs = esc(list_text(row.get("flags"))), esc(list_text(row.get("needs")))
        about = "<br>".join(part for part in (flags, "needs: " + needs if needs else "") if part)
        near = "<br>".join(esc(s) for s in (suggestions or {}).get(row.get("family_id"), []))
        rows.append(
            f"<tr><td>{rank}</td><td>{esc(row.get('family_id'))}</td><td>{esc(row.get('postcode'))}</td>"
            f"<td>{esc(list_text(row.get('year_groups')))}</td><td>{about}</td><td>{prefers}</td><td>{esc(when)}</td>"
            f"<td>{esc(row.get('reasons'))}</td>"
            + (f"<td>{near}</td>" if suggestions is not None else "")
            + '<td class="outcome"></td></tr>'
        )
    near_head = "<th>Partners near home</th>" if suggestions is not None else ""
    window = f" in the last {days} {unit}" if days else ""
    return (
        '<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        f"<title>Visit and call sheet, {esc(school_name)}, {today:%d/%m/%Y}</title>"
        f"<style>{_SHEET_CSS}</style></head><body>"
        f"<h1>Visit and call sheet: {esc(school_name)}</h1>"
        f'<p class="meta">For {today:%A %d %B %Y}. '
        + (
            f"The first {len(frame)} of {on_list} families"
            if on_list and on_list > len(frame)
            else f"{len(frame)} {'family' if len(frame) == 1 else 'families'}"
        )
        + f" with no two-way contact{window}, most in need first. Family references only: no names are held.</p>"
        "<table><thead><tr><th>#</th><th>Family</th><th>Postcode</th><th>Year groups</th><th>Flags and needs</th>"
        "<th>Prefers</th><th>Last two-way contact</th><th>Why now</th>"
        + near_head
        + "<th>Outcome (date, activity, two-way?)</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        "<footer>Confidential: information about children and families. Log each contact in the app, "
        "then shred this sheet.</footer></body></html>\n"
    )


def worklist_records(frame: pd.DataFrame) -> list[dict]:
    """The worklist as JSON-ready records (dates ISO, missing values null)."""
    records = []
    for row in frame.to_dict("records"):
        out: dict[Hashable, object] = {}
        for key, value in row.items():
            if _blank(value) and value != "":
                out[key] = None
            elif isinstance(value, datetime.date):
                out[key] = value.isoformat()
            elif isinstance(value, (np.integer,)):
                out[key] = int(value)
            elif isinstance(value, (np.floating,)):
                out[key] = float(value)
            elif isinstance(value, np.bool_):
                out[key] = bool(value)
            else:
                out[key] = value
        records.append(out)
    return records


def worklist_report(
    store: db.Store,
    school_id: str,
    today: datetime.date | None = None,
    days: int | None = None,
    limit: int | None = None,
) -> dict:
    """The worklist of one school as one JSON-ready object (what ``python -m engagement outreach
    --json`` prints): the school, the date, the window, how many families are on the list, and
    the first ``limit`` of them (all when None)."""
    frames = _frames(store, school_id, today, days)
    frame = worklist(frames)
    with store.read() as conn:
        name = conn.execute(sa.select(db.schools.c.name).where(db.schools.c.school_id == school_id)).scalar()
    shown = frame if limit is None else frame.head(limit)
    return {
        "school_id": school_id,
        "school": name,
        "today": frames.today.isoformat(),
        "days": frames.days,
        "unit": frames.unit,
        "families_on_list": len(frame),
        "families_on_roll": len(frames.families),
        "families": worklist_records(shown),
    }
