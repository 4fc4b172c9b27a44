"""How the school communicates with its families, measured the five ways of seed 003: **early**,
**regular**, **reliable**, **equitable** and **open** (definitions in ``../shared/DESIGN.md``,
"Communication"), for one school and a window, over its school days. Families only, aggregates
only: a figure resting on fewer families than the privacy threshold is not shown.

- **early**: of the families new this school year (``joined`` on or after 1 August, so a family
  joining in the summer holiday is new for September; or with a child in Reception and no
  ``joined`` date: they joined when the year began), those whose first 15 school days from joining
  (counted from the first school day on or after it: the term's start, for a family that joined
  before it) ended by the window's end; the share with two-way contact from the day they joined to
  the 15th school day.
- **regular**: the share of the window's school weeks (Monday to Sunday weeks holding a school day
  of the window) with at least one message to all families, and the longest stretch of school
  days in a row with none (a message on a non-school day counts for the next school day).
- **reliable**: of the one-way messages families sent the school in the window (``direction`` =
  ``from family``, not two-way) whose two school days to answer ended by the window's end, the
  share the school answered: any contact to that family from the day of the message to the second
  school day after it.
- **equitable**: family reach (two-way contact in the window) by preferred channel and by home
  language, groups of fewer families than the threshold not shown (nor families with neither
  recorded), and the widest gap between two shown groups of the same kind, in percentage points.
- **open**: the share of the window's contacts with families that were two-way.

**A message to all families** is recorded as an interaction with neither a family nor a partner,
of a one-way activity of type communicating (a newsletter, a portal message, a letter home, a
text message, an email: :func:`is_message_to_all`), under the school's ``school_id``. It counts
here only; reach and the other scores count contacts with a family.

Suppression: when the school has fewer families on roll than the threshold every figure is
null; otherwise early, reliable and open are null when fewer families than the threshold are
behind them (and null, but not suppressed, when nobody is). ``score --json`` prints
:attr:`Communication.card` under ``communication``.

>>> import pandas as pd
>>> families = pd.DataFrame({"family_id": [f"F{i}" for i in range(12)], "preferred_channel": "phone"})
>>> contacts = pd.DataFrame({"family_id": ["F1", "F2", None], "date": [datetime.date(2026, 9, 7)] * 3,
...                          "two_way": [True, False, False], "direction": ["to family"] * 3})
>>> measure(from_tables(families, contacts), datetime.date(2026, 9, 3), datetime.date(2026, 9, 11)).card
{'early': None, 'regular_weeks': 0.5, 'longest_gap_days': 4, 'reliable': None, 'open': None, \
'equitable': {'by_channel': {'phone': 0.0833}, 'by_language': {}, 'widest_gap_pp': None}, 'suppressed': True, \
'suppressed_figures': ['open']}
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import select

from engagement import disclosure
from engagement import store as db
from engagement.privacy import governor_count, is_small
from engagement.settings import Settings, load_settings
from engagement.terms import Calendar, day_number, default_calendar
from engagement.typology import load_typology

FIGURES = ("early", "regular_weeks", "longest_gap_days", "reliable", "equitable", "open")
PRINCIPLES = {"early": "Early", "regular": "Regular", "reliable": "Reliable", "equitable": "Equitable", "open": "Open"}
# How far apart two day numbers of one family may be in the sort key below: far more than any date.
_SPAN = 1_000_000


def is_message_to_all(activity) -> bool:
    """Whether an activity may be a message to all families: one-way by default and of Epstein's
    type communicating (a newsletter, a portal message; not a phone call or a parents' evening).

    >>> is_message_to_all("newsletter"), is_message_to_all("phone call"), is_message_to_all(None)
    (True, False, False)
    """
    found = load_typology().activity(str(activity)) if activity else None
    return found is not None and found.epstein == "communicating" and not found.two_way


@dataclass
class Messages:
    """What the measures read for one school. ``families``: family_id, joined (a date or None),
    year_groups, preferred_channel, language. ``contacts``: family (position in ``families``),
    day (day number), two_way, from_family. ``to_all``: the day numbers of messages to all families."""

    families: pd.DataFrame
    contacts: pd.DataFrame
    to_all: np.ndarray


def _text(values) -> list:
    return [
        None if v is None or (isinstance(v, float) and np.isnan(v)) or not str(v).strip() else str(v).strip()
        for v in values
    ]


def from_tables(families: pd.DataFrame, interactions: pd.DataFrame) -> Messages:
    """:class:`Messages` from a families table and an interactions table shaped like the store's
    (family_id, date, two_way, direction; a row with no family_id and no partner_id is a message
    to all families)."""
    fam = pd.DataFrame({"family_id": families["family_id"].astype(str).to_numpy()})
    for column in ("year_groups", "preferred_channel", "language"):
        fam[column] = _text(families[column]) if column in families else None
    joined = families["joined"] if "joined" in families else pd.Series(None, index=families.index, dtype=object)
    fam["joined"] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in joined]
    inter = interactions.copy()
    for column, default in (("family_id", None), ("partner_id", None), ("direction", "to family")):
        if column not in inter:
            inter[column] = default
    days = np.array([day_number(pd.Timestamp(d).date()) for d in inter["date"]], dtype=np.int64)
    has_family = inter["family_id"].notna().to_numpy()
    to_all = ~has_family & inter["partner_id"].isna().to_numpy()
    position = pd.Index(fam["family_id"]).get_indexer(inter["family_id"].where(has_family, None))
    keep = has_family & (position >= 0)
    contacts = pd.DataFrame(
        {
            "family": position[keep].astype(np.int64),
            "day": days[keep],
            "two_way": inter["two_way"].to_numpy()[keep].astype(bool),
            "from_family": (inter["direction"].fillna("to family").to_numpy()[keep] == "from family"),
        }
    )
    return Messages(fam, contacts, np.sort(days[to_all]))


def load_messages(store: db.Store, school_id: str) -> Messages:
    """What the measures need of one school, read from the store. A contact counts for its
    family's school, as every figure does; messages to all families are the school's own."""
    f, i = db.families, db.interactions
    with store.read() as conn:
        families = pd.DataFrame(
            db.tuples(
                conn.execute(
                    select(f.c.family_id, f.c.joined, f.c.year_groups, f.c.preferred_channel, f.c.language)
                    .where(f.c.school_id == school_id)
                    .order_by(f.c.family_id)
                )
            ),
            columns=["family_id", "joined", "year_groups", "preferred_channel", "language"],
        )
        contacts = pd.DataFrame(
            db.tuples(
                conn.execute(
                    select(i.c.family_id, i.c.date, i.c.two_way, i.c.direction)
                    .join(f, f.c.family_id == i.c.family_id)
                    .where(f.c.school_id == school_id)
                )
            ),
            columns=["family_id", "date", "two_way", "direction"],
        )
        to_all = pd.DataFrame(
            db.tuples(
                conn.execute(
                    select(i.c.date).where(
                        i.c.school_id == school_id, i.c.family_id.is_(None), i.c.partner_id.is_(None)
                    )
                )
            ),
            columns=["date"],
        )
    to_all = to_all.assign(family_id=None, partner_id=None, two_way=False, direction="to family")
    return from_tables(families, pd.concat([contacts, to_all], ignore_index=True))


# ---------------------------------------------------------------- the measures


def shown_figures(
    on_roll: int,
    early: float | None,
    new_due: int,
    reliable: float | None,
    senders: int,
    open_: float | None,
    talkers: int,
    threshold: int,
    for_governor: bool = False,
) -> tuple[dict, list[str]]:
    """Early, reliable and open as shown (``{"early": ..., "reliable": ..., "open": ...}``), with the
    figures not shown: every one when the school has fewer families on roll than the threshold; a
    figure resting on 1 to threshold - 1 families (``new_due``, ``senders``, ``talkers``); for a
    governor, early when the families it reached or did not are that few, and early coarsened.
    The one rule, for one school (:func:`measure`) and for many (:mod:`engagement.compare`)."""
    if on_roll < threshold:
        hidden = ["early", "regular_weeks", "longest_gap_days", "reliable", "open", "equitable"]
        return {"early": None, "reliable": None, "open": None}, hidden
    hidden = []
    for name, behind in (("early", new_due), ("reliable", senders), ("open", talkers)):
        if 0 < behind < threshold:
            hidden.append(name)
    if for_governor and "early" not in hidden and early is not None:
        reached_early = round(early * new_due)
        if is_small(reached_early, threshold) or is_small(new_due - reached_early, threshold):
            hidden.append("early")
    return {
        "early": None if "early" in hidden else disclosure.coarse(early) if for_governor else early,
        "reliable": None if "reliable" in hidden else reliable,
        "open": None if "open" in hidden else open_,
    }, hidden


@dataclass(frozen=True)
class Communication:
    """The five measures for one window: ``card`` is the ``communication`` object of
    ``score --json``; ``rows`` one per principle (principle, value, explanation: words a governor
    reads, no count under the threshold; short: the same in a few words, for the one-page report);
    ``groups`` the equitable groups shown (kind, group, reach) for a chart."""

    card: dict
    rows: list[dict] = field(default_factory=list)
    groups: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["kind", "group", "reach"]))


def rate(num: float, den: float) -> float | None:
    """``num / den`` to four places, None of nothing (a share as the card writes it)."""
    return None if den == 0 else round(num / den, 4)


def _percent(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _school_year_start(day: datetime.date) -> datetime.date:
    """1 August before ``day``: a family that joins in the summer holiday starts with the new year."""
    return datetime.date(day.year if day.month >= 8 else day.year - 1, 8, 1)


def _nth(school_days: np.ndarray, first: np.ndarray, n: int) -> np.ndarray:
    """The n-th school day on or after each day number (n from 1); a very large number past the calendar."""
    k = np.searchsorted(school_days, first, side="left") + n - 1
    out = np.full(len(first), np.iinfo(np.int64).max)
    inside = k < len(school_days)
    out[inside] = school_days[k[inside]]
    return out


def early_due(joined, year_groups, school_days: np.ndarray, end: datetime.date, days: int):
    """For each family (its ``joined`` date or None, its ``year_groups``): whether "early" counts it
    at ``end`` (new this school year, its first ``days`` school days ended by ``end``), and the day
    numbers its first school days run from and to. The one rule, for one school here and for
    many at once in :mod:`engagement.compare`."""
    year_start = _school_year_start(end)
    # A blank cell may come back as None or as NaN (pandas' text columns): no year groups either way.
    # Each spelling read once: a school's families have a handful between them.
    year_groups = list(year_groups)
    spelt = {v: "R" in [t.strip().upper() for t in v.split(";")] for v in set(year_groups) if isinstance(v, str)}
    reception = np.array([spelt.get(v, False) if isinstance(v, str) else False for v in year_groups], bool)
    joined = np.array([day_number(v) if v is not None else -1 for v in joined], dtype=np.int64)
    known = joined >= 0
    new = (known & (joined >= day_number(year_start)) & (joined <= day_number(end))) | (~known & reception)
    since = np.where(known, joined, day_number(year_start))
    deadline = _nth(school_days, since, days)
    return new & (deadline <= day_number(end)), since, deadline


def _early(data: Messages, school_days: np.ndarray, end: datetime.date, days: int):
    """(share, families due): families new this school year whose first ``days`` school days ended by
    ``end``, and the share of them with two-way contact in those days."""
    fam = data.families
    due, since, deadline = early_due(fam["joined"], fam["year_groups"], school_days, end, days)
    c = data.contacts
    fam_pos = c["family"].to_numpy()
    day = c["day"].to_numpy()
    hit = c["two_way"].to_numpy() & due[fam_pos] & (day >= since[fam_pos]) & (day <= deadline[fam_pos])
    reached = np.zeros(len(fam), bool)
    reached[fam_pos[hit]] = True
    return rate(int(reached.sum()), int(due.sum())), int(due.sum())


def _regular(data: Messages, window_days: np.ndarray, s: int, e: int):
    """(share of school weeks with a message to all, weeks with one, school weeks, longest gap)."""
    if not len(window_days):
        return None, 0, 0, None
    monday = lambda d: d - (d + 3) % 7  # noqa: E731 - 1 Jan 1970, day 0, was a Thursday
    weeks = np.unique(monday(window_days))
    sent = data.to_all[(data.to_all >= s) & (data.to_all <= e)]
    covered = np.intersect1d(weeks, np.unique(monday(sent)))
    marked = np.zeros(len(window_days), bool)
    at = np.searchsorted(window_days, sent, side="left")
    marked[at[at < len(window_days)]] = True
    bounds = np.concatenate([[-1], np.flatnonzero(marked), [len(window_days)]])
    return rate(len(covered), len(weeks)), len(covered), len(weeks), int((np.diff(bounds) - 1).max())


def _reliable(data: Messages, school_days: np.ndarray, s: int, e: int, days: int):
    """(share answered, messages due, families behind them)."""
    c = data.contacts
    fam_pos, day = c["family"].to_numpy(), c["day"].to_numpy()
    from_family, two_way = c["from_family"].to_numpy(), c["two_way"].to_numpy()
    sent = from_family & ~two_way & (day >= s) & (day <= e)
    # The n-th school day strictly after the message: the n-th on or after the next day.
    deadline = _nth(school_days, day[sent] + 1, days)
    due = deadline <= e
    who, when, deadline = fam_pos[sent][due], day[sent][due], deadline[due]
    replies = np.sort(fam_pos[~from_family].astype(np.int64) * _SPAN + day[~from_family])
    first = np.searchsorted(replies, who * _SPAN + when, side="left")
    answered = (first < len(replies)) & (replies[np.minimum(first, len(replies) - 1)] <= who * _SPAN + deadline)
    return rate(int(answered.sum()), len(who)), len(who), len(np.unique(who))


def _equitable(data: Messages, reached: np.ndarray, threshold: int, for_governor: bool = False):
    groups, by = [], {}
    for kind, column in (("channel", "preferred_channel"), ("language", "language")):
        values = pd.Series(data.families[column], dtype=object)
        table = pd.DataFrame({"group": values, "reached": reached}).dropna(subset=["group"])
        stats = table.groupby("group", sort=True)["reached"].agg(["size", "sum"])
        shown = stats[stats["size"] >= threshold]
        if for_governor:
            # A governor's share: neither side 1-9 families, coarsened (engagement.disclosure).
            by[kind] = {
                str(g): float(seen.value)
                for g, r in shown.iterrows()
                if (seen := disclosure.share(r["sum"], r["size"], threshold)).value is not None
            }
        else:
            by[kind] = {str(g): round(float(r["sum"] / r["size"]), 4) for g, r in shown.iterrows()}
        groups += [(kind, g, v) for g, v in by[kind].items()]
    gaps = [100 * (max(v.values()) - min(v.values())) for v in by.values() if len(v) >= 2]
    return by, (round(max(gaps), 1) if gaps else None), pd.DataFrame(groups, columns=["kind", "group", "reach"])


def measure(
    data: Messages,
    start: datetime.date,
    end: datetime.date,
    calendar: Calendar | None = None,
    settings: Settings | None = None,
    for_governor: bool = False,
) -> Communication:
    """The five measures of ``data`` for the window ``[start, end]`` over the school days of ``calendar``.
    ``for_governor``: counts of families in the words are rounded as governors see them, and "early"
    is hidden when the families it reached, or those it did not, number 1 to threshold - 1 (a
    share and its base would give that count back)."""
    cfg = settings or load_settings()
    cal = calendar or default_calendar(cfg)
    threshold, fewer = cfg.privacy.suppression_threshold, cfg.privacy.fewer_than
    words = cfg.communication
    s, e = day_number(start), day_number(end)
    school_days = cal.school_day_numbers
    window_days = school_days[(school_days >= s) & (school_days <= e)]
    c = data.contacts
    fam_pos, day, two_way = c["family"].to_numpy(), c["day"].to_numpy(), c["two_way"].to_numpy()
    in_window = (day >= s) & (day <= e)
    reached = np.zeros(len(data.families), bool)
    reached[fam_pos[in_window & two_way]] = True

    early, new_due = _early(data, school_days, end, words.early_school_days)
    regular, covered, weeks, gap = _regular(data, window_days, s, e)
    reliable, sent_due, senders = _reliable(data, school_days, s, e, words.answer_school_days)
    by, widest, groups = _equitable(data, reached, threshold, for_governor)
    contacts_n, talkers = int(in_window.sum()), len(np.unique(fam_pos[in_window]))
    open_ = rate(int((in_window & two_way).sum()), contacts_n)

    figures, hidden = shown_figures(
        len(data.families), early, new_due, reliable, senders, open_, talkers, threshold, for_governor
    )
    early, reliable, open_ = figures["early"], figures["reliable"], figures["open"]
    if len(data.families) < threshold:
        regular = widest = None
        gap, by, groups = None, {"channel": {}, "language": {}}, groups.iloc[0:0]
    card = {
        "early": early,
        "regular_weeks": regular,
        "longest_gap_days": gap,
        "reliable": reliable,
        "open": open_,
        "equitable": {"by_channel": by["channel"], "by_language": by["language"], "widest_gap_pp": widest},
        "suppressed": bool(hidden),
        "suppressed_figures": hidden,
    }
    if len(data.families) < threshold:
        note = f"Not shown: {fewer} families on roll."
        rows = [
            {"principle": label, "value": "not shown", "explanation": note, "short": note}
            for label in PRINCIPLES.values()
        ]
        return Communication(card, rows, groups)

    def hide(name: str, what: str, none: str) -> str | None:
        if name in hidden:
            return f"Not shown: {fewer} families {what}."
        return none if card[name] is None else None

    n, year_start = words.early_school_days, _school_year_start(end)
    new_families = f"about {governor_count(new_due, threshold):,.0f}" if for_governor else f"the {new_due}"
    rows = [
        {
            "principle": "Early",
            "value": "not shown" if "early" in hidden else _percent(early),
            "explanation": hide(
                "early",
                f"new this school year have had {n} school days since joining",
                f"No family new this school year has had {n} school days since joining yet.",
            )
            or (
                f"{_percent(early)} of {new_families} families new this school year (joined since {year_start.day} "
                f"{year_start:%B %Y}, or starting in Reception) had two-way contact within {n} school days of joining."
            ),
        },
        {
            "principle": "Regular",
            "value": _percent(regular),
            "explanation": (
                "No school days in the window."
                if regular is None
                else f"A message went to all families (a newsletter, a portal message) in {covered} of the window's {weeks} "
                f"school weeks; the longest stretch without one was {gap} school day{'s' * (gap != 1)}."
            ),
        },
        {
            "principle": "Reliable",
            "value": "not shown" if "reliable" in hidden else _percent(reliable),
            "explanation": hide(
                "reliable",
                "sent the school a message",
                "No family sent the school a one-way message "
                "(an email, a portal message, a letter) that was due an answer in the window.",
            )
            or (
                f"{_percent(reliable)} of the {sent_due} one-way messages families sent the school (emails, portal "
                f"messages, letters) were answered within {words.answer_school_days} school days."
            ),
        },
        {
            "principle": "Equitable",
            "value": "–" if widest is None else f"{widest:.1f} pts",
            "explanation": _equitable_words(by, widest, threshold, fewer),
        },
        {
            "principle": "Open",
            "value": "not shown" if "open" in hidden else _percent(open_),
            "explanation": hide("open", "had contact in the window", "No contact with families in the window.")
            or (
                f"{_percent(open_)} of the {contacts_n:,} contacts with families in the window were two-way "
                "(a conversation, not a message one way)."
            ),
        },
    ]
    extremes = sorted(((v, g) for kind in by.values() for g, v in kind.items()))
    short = {
        "Early": f"of {new_families.removeprefix('the ')} families new this school year had two-way contact within {n} school days",
        "Regular": f"of {weeks} school weeks had a message to all families; longest gap {gap} school days",
        "Reliable": f"of {sent_due} messages from families answered within {words.answer_school_days} school days",
        "Equitable": "widest gap in family reach between channels or languages"
        + (f" (lowest: {extremes[0][1]} {_percent(extremes[0][0])})" if extremes else ""),
        "Open": f"of {contacts_n:,} contacts with families were two-way",
    }
    for row in rows:
        shown = row["value"] not in ("not shown", "–")
        row["short"] = short[row["principle"]] if shown else row["explanation"]
    return Communication(card, rows, groups)


def _equitable_words(by: dict[str, dict[str, float]], widest: float | None, threshold: int, fewer: str) -> str:
    """The widest gap in words, naming its two groups; every group's figure is in the chart beside
    it, so a governor reads one sentence, not a list of languages.

    >>> words = _equitable_words({"channel": {"phone": 0.9, "letter": 0.8}, "language": {"Urdu": 0.7, "English": 0.95}},
    ...                          25.0, 10, "fewer than 10")
    >>> words.split(". ")[0]
    'Family reach differs most by home language: English 95.0% against Urdu 70.0%, a gap of 25.0 percentage points'
    """
    what = {"channel": "preferred channel", "language": "home language"}
    spans = {
        kind: (max(groups, key=lambda g: groups[g]), min(groups, key=lambda g: groups[g]))
        for kind, groups in by.items()
        if len(groups) >= 2
    }
    if widest is None or not spans:
        return (
            "Not measured: fewer than two groups of one kind (preferred channel, home language) have "
            f"{threshold} families or more to compare. Groups of {fewer} families are not shown."
        )
    kind = max(spans, key=lambda k: by[k][spans[k][0]] - by[k][spans[k][1]])
    high, low = spans[kind]
    return (
        f"Family reach differs most by {what[kind]}: {high} {_percent(by[kind][high])} against {low} "
        f"{_percent(by[kind][low])}, a gap of {widest:.1f} percentage points. Every group of {threshold} "
        "families or more is in the chart; smaller ones are not shown."
    )
