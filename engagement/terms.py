"""School terms and windows of dates: autumn (September to December), spring (January to March)
and summer (April to August), as the design defines them; months for finer trends; the window
every page starts on, the window a change is measured against, and windows in a governor's words.

Every figure of the product is for a window, inclusive dates; this module is the one place that
decides which windows there are and what they are called, so the scores, the Overview, the map
and the command line agree.

>>> term_of(datetime.date(2026, 11, 23))
Term(name='autumn 2026', start=datetime.date(2026, 9, 1), end=datetime.date(2026, 12, 31))
>>> previous_term(term_of(datetime.date(2026, 11, 23))).name
'summer 2026'
>>> previous_window(datetime.date(2026, 9, 1), datetime.date(2026, 9, 30))
(datetime.date(2026, 8, 2), datetime.date(2026, 8, 31))
>>> default_window(datetime.date(2026, 11, 23))
(datetime.date(2026, 9, 1), datetime.date(2026, 11, 23))
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from engagement.settings import Settings, load_settings

# (name, first month, last month) in calendar order.
TERMS = (("spring", 1, 3), ("summer", 4, 8), ("autumn", 9, 12))


@dataclass(frozen=True)
class Term:
    name: str
    start: datetime.date
    end: datetime.date

    @property
    def label(self) -> str:
        return self.name.capitalize()


def _month_end(year: int, month: int) -> datetime.date:
    if month == 12:
        return datetime.date(year, 12, 31)
    return datetime.date(year, month + 1, 1) - datetime.timedelta(days=1)


def term_of(day: datetime.date) -> Term:
    """The term that ``day`` falls in."""
    for name, first, last in TERMS:
        if first <= day.month <= last:
            return Term(f"{name} {day.year}", datetime.date(day.year, first, 1), _month_end(day.year, last))
    raise AssertionError("every month belongs to a term")


def previous_term(term: Term) -> Term:
    return term_of(term.start - datetime.timedelta(days=1))


def next_term(term: Term) -> Term:
    return term_of(term.end + datetime.timedelta(days=1))


def terms_between(start: datetime.date, end: datetime.date) -> list[Term]:
    """Every term that overlaps ``[start, end]``, oldest first."""
    out, term = [], term_of(start)
    while term.start <= end:
        out.append(term)
        term = next_term(term)
    return out


def months_between(start: datetime.date, end: datetime.date) -> list[tuple[datetime.date, datetime.date]]:
    """Each calendar month overlapping ``[start, end]`` as (first day, last day)."""
    out, cur = [], datetime.date(start.year, start.month, 1)
    while cur <= end:
        out.append((cur, _month_end(cur.year, cur.month)))
        cur = _month_end(cur.year, cur.month) + datetime.timedelta(days=1)
    return out


@dataclass(frozen=True)
class Window:
    """A window of dates the pages and reports show, with the words that name it."""
    start: datetime.date
    end: datetime.date
    label: str


def term_windows(today: datetime.date, count: int = 4) -> list[Window]:
    """The current term so far and the ``count - 1`` terms before it, newest first: the choices a
    page offers. The current term ends today, since later days have no contacts yet.

    >>> [w.label for w in term_windows(datetime.date(2026, 11, 23), 3)]
    ['Autumn 2026 (1 Sep – 23 Nov 2026)', 'Summer 2026 (1 Apr – 31 Aug 2026)', 'Spring 2026 (1 Jan – 31 Mar 2026)']
    """
    out, term = [], term_of(today)
    for _ in range(count):
        end = min(term.end, today)
        out.append(Window(term.start, end, f"{term.label} ({date_range_text(term.start, end)})"))
        term = previous_term(term)
    return out


def date_range_text(start: datetime.date, end: datetime.date) -> str:
    """ "1 Sep – 23 Nov 2026", the way a governor writes a date range. """
    left = f"{start.day} {start:%b}" + ("" if start.year == end.year else f" {start.year}")
    return f"{left} – {end.day} {end:%b} {end.year}"


# ---------------------------------------------------------------- the windows figures are for

def default_window(
    today: datetime.date | None = None, settings: Settings | None = None
) -> tuple[datetime.date, datetime.date]:
    """The window every page and the command line use unless told otherwise: settings ``[window]``
    ``default`` = "term" (the current term so far) or a number of days ending today."""
    today = today or datetime.date.today()
    setting = (settings or load_settings()).window.default
    if str(setting) == "term":
        return term_of(today).start, today
    return today - datetime.timedelta(days=int(setting) - 1), today


def previous_window(start: datetime.date, end: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The window of the same length that ends the day before ``start``."""
    length = (end - start).days + 1
    return start - datetime.timedelta(days=length), start - datetime.timedelta(days=1)


def is_term_window(start: datetime.date, end: datetime.date) -> bool:
    """Whether the window is a term, or a term so far (it starts on the term's first day).

    >>> is_term_window(datetime.date(2026, 9, 1), datetime.date(2026, 11, 23))
    True
    """
    term = term_of(start)
    return start == term.start and end <= term.end


def comparison_window(start: datetime.date, end: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The window a change is measured against: the whole previous term when the window is a
    term (or the term so far), else the window of the same length just before.

    >>> comparison_window(datetime.date(2026, 9, 1), datetime.date(2026, 11, 23))
    (datetime.date(2026, 4, 1), datetime.date(2026, 8, 31))
    """
    if is_term_window(start, end):
        before = previous_term(term_of(start))
        return before.start, before.end
    return previous_window(start, end)


def periods(start: datetime.date, end: datetime.date, by: str) -> list[tuple[str, datetime.date, datetime.date]]:
    """The terms (``by="term"``) or calendar months (``by="month"``) overlapping ``[start, end]``,
    oldest first, as (name, first day, last day).

    >>> periods(datetime.date(2026, 8, 10), datetime.date(2026, 11, 23), "term")[-1]
    ('autumn 2026', datetime.date(2026, 9, 1), datetime.date(2026, 11, 23))
    """
    if by == "term":
        spans = [(t.name, t.start, t.end) for t in terms_between(start, end)]
    elif by == "month":
        spans = [(a.strftime("%Y-%m"), a, b) for a, b in months_between(start, end)]
    else:
        raise ValueError("by must be 'term' or 'month'")
    # A period is cut to the range asked for, so the current term runs to today, not to December.
    return [(name, max(a, start), min(b, end)) for name, a, b in spans]


# ---------------------------------------------------------------- windows in words

def window_text(start: datetime.date, end: datetime.date) -> str:
    """A window as a governor says it: the term when it is one (or the start of one), else dates.

    >>> window_text(datetime.date(2026, 4, 1), datetime.date(2026, 8, 31))
    'Summer term 2026, 1 Apr – 31 Aug 2026'
    >>> window_text(datetime.date(2026, 10, 5), datetime.date(2026, 11, 6))
    '5 Oct – 6 Nov 2026'
    """
    if is_term_window(start, end):
        season, year = term_of(start).name.split()
        return f"{season.capitalize()} term {year}, {date_range_text(start, end)}"
    return date_range_text(start, end)


def short_window_text(start: datetime.date, end: datetime.date) -> str:
    """A window in a few words, for a change's label: "Summer 2026", or "1 Apr – 31 Aug 2026".

    >>> short_window_text(datetime.date(2026, 4, 1), datetime.date(2026, 8, 31))
    'Summer 2026'
    """
    return term_of(start).name.capitalize() if is_term_window(start, end) else date_range_text(start, end)


def period_label(name: str, start: datetime.date, end: datetime.date) -> str:
    """A term of a trend by name, saying where it is cut short: "Autumn 2026 (to 23 Nov)".

    >>> period_label("autumn 2026", datetime.date(2026, 9, 1), datetime.date(2026, 11, 23))
    'Autumn 2026 (to 23 Nov)'
    """
    term = term_of(start)
    label = name.capitalize()
    if start != term.start:
        label += f" (from {start.day} {start:%b})"
    if end != term.end:
        label += f" (to {end.day} {end:%b})"
    return label
