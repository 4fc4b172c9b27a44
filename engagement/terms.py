"""School terms and windows: autumn (September to December), spring (January to March) and
summer (April to August), as the design defines them; and months for finer trends.

>>> term_of(datetime.date(2026, 11, 23))
Term(name='autumn 2026', start=datetime.date(2026, 9, 1), end=datetime.date(2026, 12, 31))
>>> previous_term(term_of(datetime.date(2026, 11, 23))).name
'summer 2026'
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

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
