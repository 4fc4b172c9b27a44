"""School terms, school days and windows of dates: a school's calendar (its own terms and the
holidays inside them, which :mod:`engagement.calendar` reads from the store, with the defaults for
England from the settings wherever the school has given none), the window every page starts on,
the window a change is measured against, and windows in a governor's words.

Every figure of the product is for a window, inclusive dates; this module is the one place that
decides which windows there are, how many school days they hold and what they are called, so the
scores, the Overview, the report, the map and the command line agree. A **school day** is a weekday
inside one of the school's terms and outside its holidays. A term so far is compared with the same
number of school days from the start of the previous term (and of the same term last year), never
with a whole term: a longer window simply holds more contacts.

Functions that take ``calendar`` use the default calendar (England, ``[calendar]`` in the
settings) when it is None.

>>> term_of(datetime.date(2026, 11, 23))
Term(name='autumn 2026', start=datetime.date(2026, 9, 3), end=datetime.date(2026, 12, 18), \
holidays=(Holiday(name='autumn half-term', start=datetime.date(2026, 10, 26), end=datetime.date(2026, 10, 30)),))
>>> previous_term(term_of(datetime.date(2026, 11, 23))).name
'summer 2026'
>>> default_window(datetime.date(2026, 11, 23))
(datetime.date(2026, 9, 3), datetime.date(2026, 11, 23))
>>> compare(datetime.date(2026, 9, 3), datetime.date(2026, 11, 30)).text()
'the first 58 school days of autumn 2026 (3 Sep – 30 Nov 2026) against the first 58 school days of summer 2026 \
(13 Apr – 9 Jul 2026)'
"""

from __future__ import annotations

import datetime
import functools
import itertools
from dataclasses import dataclass

import numpy as np

from engagement import clock
from engagement.settings import CalendarSettings, Settings, SettingsError, TermRule, load_settings

_EPOCH = datetime.date(1970, 1, 1)
_DAY = datetime.timedelta(days=1)
# The default calendar is worked out for these school years (the first year of each): far more
# than any store holds, in a few milliseconds, once per settings file.
_DEFAULT_YEARS = range(1990, 2101)


def day_number(day: datetime.date) -> int:
    """Days since 1 January 1970, the unit :mod:`engagement.frames` keeps dates in."""
    return (day - _EPOCH).days


def from_day_number(number) -> datetime.date:
    return _EPOCH + datetime.timedelta(days=int(number))


@dataclass(frozen=True)
class Holiday:
    """A break inside a term: a half-term, a bank holiday, a training day."""

    name: str
    start: datetime.date
    end: datetime.date


@dataclass(frozen=True)
class Term:
    name: str
    start: datetime.date
    end: datetime.date
    holidays: tuple[Holiday, ...] = ()

    @property
    def label(self) -> str:
        return self.name[:1].upper() + self.name[1:]


@dataclass(frozen=True)
class Calendar:
    """A school's terms, oldest first, none overlapping. ``own`` says whether any of them are the
    school's own (imported); the others are the defaults for England."""

    terms: tuple[Term, ...]
    own: bool = False

    @functools.cached_property
    def _starts(self) -> np.ndarray:
        return np.array([day_number(t.start) for t in self.terms], dtype=np.int64)

    @functools.cached_property
    def school_day_numbers(self) -> np.ndarray:
        """Every school day of the calendar as a day number, in order."""
        parts = []
        for term in self.terms:
            days = np.arange(day_number(term.start), day_number(term.end) + 1, dtype=np.int64)
            # 1 Jan 1970 was a Thursday: day number + 3 is 0 on Mondays.
            keep = (days + 3) % 7 < 5
            for holiday in term.holidays:
                keep &= (days < day_number(holiday.start)) | (days > day_number(holiday.end))
            parts.append(days[keep])
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    # ------------------------------------------------------------ terms

    def term_at(self, day: datetime.date) -> Term | None:
        """The term holding ``day``, or None in the holidays between terms."""
        term = self.term_of(day)
        return term if term.start <= day <= term.end else None

    def term_of(self, day: datetime.date) -> Term:
        """The term holding ``day``, else the last one to start before it (in the summer holiday,
        the summer term), else the calendar's first term."""
        k = int(np.searchsorted(self._starts, day_number(day), side="right")) - 1
        return self.terms[max(k, 0)]

    def _index(self, term: Term) -> int:
        return self.terms.index(term)

    def previous_term(self, term: Term) -> Term | None:
        k = self._index(term)
        return self.terms[k - 1] if k > 0 else None

    def next_term(self, term: Term) -> Term | None:
        k = self._index(term)
        return self.terms[k + 1] if k + 1 < len(self.terms) else None

    def terms_between(self, start: datetime.date, end: datetime.date) -> list[Term]:
        """Every term that overlaps ``[start, end]``, oldest first."""
        return [t for t in self.terms if t.start <= end and t.end >= start]

    def same_term_last_year(self, term: Term) -> Term | None:
        """The term that started nearest a year before ``term`` (within a month), if any."""
        target = day_number(term.start) - 365
        best = min(self.terms, key=lambda t: abs(day_number(t.start) - target))
        return best if abs(day_number(best.start) - target) <= 31 and best != term else None

    def covers(self, start: datetime.date, end: datetime.date) -> bool:
        """Whether ``[start, end]`` starts a term and stays inside it or the holiday after it."""
        term = self.term_at(start)
        if term is None or start != term.start:
            return False
        after = self.next_term(term)
        return after is None or end < after.start

    # ------------------------------------------------------------ school days

    def school_days_through(self, days) -> np.ndarray:
        """For each day number, how many school days of the calendar fall on or before it."""
        return np.searchsorted(self.school_day_numbers, np.asarray(days, dtype=np.int64), side="right")

    def count_school_days(self, start: datetime.date, end: datetime.date) -> int:
        """School days in ``[start, end]``.

        >>> default_calendar().count_school_days(datetime.date(2026, 10, 19), datetime.date(2026, 11, 6))
        10
        """
        if end < start:
            return 0
        before, through = self.school_days_through([day_number(start) - 1, day_number(end)])
        return int(through - before)

    def school_days(self, start: datetime.date, end: datetime.date) -> list[datetime.date]:
        """The school days in ``[start, end]``, in order."""
        numbers = self.school_day_numbers
        lo = int(np.searchsorted(numbers, day_number(start), side="left"))
        hi = int(np.searchsorted(numbers, day_number(end), side="right"))
        return [from_day_number(n) for n in numbers[lo:hi]]

    def is_school_day(self, day: datetime.date) -> bool:
        return self.count_school_days(day, day) == 1

    def nth_school_day(self, first: datetime.date, n: int) -> datetime.date | None:
        """The ``n``-th school day on or after ``first`` (``n`` from 1), None past the calendar's end."""
        k = int(np.searchsorted(self.school_day_numbers, day_number(first), side="left")) + n - 1
        return from_day_number(self.school_day_numbers[k]) if 0 <= k < len(self.school_day_numbers) else None

    def nth_school_day_before(self, day: datetime.date, n: int) -> datetime.date | None:
        """The ``n``-th school day counting back from the day before ``day`` (``n`` from 1)."""
        k = int(np.searchsorted(self.school_day_numbers, day_number(day), side="left")) - n
        return from_day_number(self.school_day_numbers[k]) if 0 <= k < len(self.school_day_numbers) else None


# ---------------------------------------------------------------- the default calendar (England)


def easter_sunday(year: int) -> datetime.date:
    """Easter Sunday (the Gregorian computus).

    >>> easter_sunday(2026), easter_sunday(2027)
    (datetime.date(2026, 4, 5), datetime.date(2027, 3, 28))
    """
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    j = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * j) // 433
    month = (h + j - 7 * m + 90) // 25
    return datetime.date(year, month, (h + j - 7 * m + 33 * month + 19) % 32)


def _month_day(text: str, year: int) -> datetime.date:
    month, day = (int(part) for part in text.split("-"))
    # 29 February in a common year, or 31 April written by mistake, is the month's last day.
    last = (datetime.date(year + month // 12, month % 12 + 1, 1) - _DAY).day
    return datetime.date(year, month, min(day, last))


def _monday(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())


def _rule_start(rule: TermRule, year: int) -> datetime.date:
    if rule.start == "easter":  # the Monday after the fortnight around Easter Sunday
        return easter_sunday(year) + datetime.timedelta(days=8)
    day = _month_day(rule.start, year)
    while day.weekday() >= 5:
        day += _DAY
    return day


def _rule_term(rule: TermRule, start: datetime.date) -> Term:
    if rule.end == "easter":  # the Friday before the fortnight around Easter Sunday
        easter = easter_sunday(start.year)
        if easter - datetime.timedelta(days=9) <= start:
            easter = easter_sunday(start.year + 1)
        end = easter - datetime.timedelta(days=9)
    else:
        end = _month_day(rule.end, start.year)
        if end <= start:
            end = _month_day(rule.end, start.year + 1)
        while end.weekday() >= 5:
            end -= _DAY

    def inside(text: str) -> datetime.date | None:
        for year in (start.year, start.year + 1):
            day = _month_day(text, year)
            if start <= day <= end:
                return day
        return None

    holidays = []
    if rule.half_term and (held := inside(rule.half_term)):
        monday = _monday(held)
        holidays.append(Holiday(f"{rule.name} half-term", monday, monday + datetime.timedelta(days=4)))
    for text in rule.monday_holidays:
        if (held := inside(text)) is not None:
            holidays.append(Holiday("bank holiday", _monday(held), _monday(held)))
    return Term(f"{rule.name} {start.year}", start, end, tuple(sorted(holidays, key=lambda h: h.start)))


def england_terms(settings: CalendarSettings, years) -> list[Term]:
    """The default terms of the school years starting in ``years`` (each year the rules of
    ``settings.terms`` in order; a rule that would start before the previous one starts the next
    calendar year: spring after autumn)."""
    out: list[Term] = []
    for first_year in years:
        year, previous = first_year, None
        for rule in settings.terms:
            start = _rule_start(rule, year)
            if previous is not None and start <= previous:
                year += 1
                start = _rule_start(rule, year)
            out.append(_rule_term(rule, start))
            previous = start
    return out


def check_terms(terms: list[Term], source: str) -> None:
    """Refuse terms that overlap (a settings file whose rules run into each other)."""
    ordered = sorted(terms, key=lambda t: t.start)
    for before, after in itertools.pairwise(ordered):
        if after.start <= before.end:
            raise SettingsError(
                f"{source}: the default terms overlap: {before.name} "
                f"({before.start} to {before.end}) and {after.name} ({after.start} to {after.end})"
            )


_DEFAULTS: dict[str, Calendar] = {}


def default_calendar(settings: Settings | None = None) -> Calendar:
    """The terms for England of the settings' ``[calendar]``, worked out once per settings."""
    section = (settings or load_settings()).calendar
    key = section.model_dump_json()
    if key not in _DEFAULTS:
        terms = england_terms(section, _DEFAULT_YEARS)
        check_terms(terms, "calendar.terms")
        _DEFAULTS[key] = Calendar(tuple(terms), own=False)
    return _DEFAULTS[key]


def with_defaults(own: list[Term], default: Calendar) -> Calendar:
    """A school's own terms, with the default terms that overlap none of them filling the years
    the school has not given."""
    if not own:
        return default
    kept = [t for t in default.terms if not any(t.start <= o.end and t.end >= o.start for o in own)]
    return Calendar(tuple(sorted([*own, *kept], key=lambda t: t.start)), own=True)


def _calendar(calendar: Calendar | None) -> Calendar:
    return calendar if calendar is not None else default_calendar()


# ---------------------------------------------------------------- terms, the module's own way


def term_of(day: datetime.date, calendar: Calendar | None = None) -> Term:
    """The term that ``day`` falls in (in a holiday between terms, the one before it)."""
    return _calendar(calendar).term_of(day)


def previous_term(term: Term, calendar: Calendar | None = None) -> Term:
    cal = _calendar(calendar)
    before = cal.previous_term(term)
    if before is None:
        raise ValueError(f"the calendar has no term before {term.name}")
    return before


def next_term(term: Term, calendar: Calendar | None = None) -> Term:
    after = _calendar(calendar).next_term(term)
    if after is None:
        raise ValueError(f"the calendar has no term after {term.name}")
    return after


def terms_between(start: datetime.date, end: datetime.date, calendar: Calendar | None = None) -> list[Term]:
    """Every term that overlaps ``[start, end]``, oldest first."""
    return _calendar(calendar).terms_between(start, end)


def _month_end(year: int, month: int) -> datetime.date:
    if month == 12:
        return datetime.date(year, 12, 31)
    return datetime.date(year, month + 1, 1) - _DAY


def months_between(start: datetime.date, end: datetime.date) -> list[tuple[datetime.date, datetime.date]]:
    """Each calendar month overlapping ``[start, end]`` as (first day, last day)."""
    out, cur = [], datetime.date(start.year, start.month, 1)
    while cur <= end:
        out.append((cur, _month_end(cur.year, cur.month)))
        cur = _month_end(cur.year, cur.month) + _DAY
    return out


@dataclass(frozen=True)
class Window:
    """A window of dates the pages and reports show, with the words that name it."""

    start: datetime.date
    end: datetime.date
    label: str


def term_windows(today: datetime.date, count: int = 4, calendar: Calendar | None = None) -> list[Window]:
    """The current term so far and the ``count - 1`` terms before it, newest first: the choices a
    page offers. The current term ends today, since later days have no contacts yet; in a holiday
    the term just gone is offered whole.

    >>> [w.label for w in term_windows(datetime.date(2026, 11, 23), 3)]
    ['Autumn 2026 (3 Sep – 23 Nov 2026)', 'Summer 2026 (13 Apr – 22 Jul 2026)', 'Spring 2026 (5 Jan – 27 Mar 2026)']
    """
    cal = _calendar(calendar)
    out: list[Window] = []
    term: Term | None = cal.term_of(today)
    while term is not None and len(out) < count:
        end = min(term.end, today)
        if term.start <= today:
            out.append(Window(term.start, end, f"{term.label} ({date_range_text(term.start, end)})"))
        term = cal.previous_term(term)
    return out


def date_range_text(start: datetime.date, end: datetime.date) -> str:
    """ "1 Sep – 23 Nov 2026", the way a governor writes a date range."""
    left = f"{start.day} {start:%b}" + ("" if start.year == end.year else f" {start.year}")
    return f"{left} – {end.day} {end:%b} {end.year}"


# ---------------------------------------------------------------- the windows figures are for


def default_window(
    today: datetime.date | None = None,
    settings: Settings | None = None,
    calendar: Calendar | None = None,
) -> tuple[datetime.date, datetime.date]:
    """The window every page and the command line use unless told otherwise: settings ``[window]``
    ``default`` = "term" (the current term so far; in a holiday, the term just gone) or a number of
    days ending today."""
    today = today or clock.today()
    cfg = settings or load_settings()
    setting = cfg.window.default
    if str(setting) == "term":
        term = (calendar or default_calendar(cfg)).term_of(today)
        return (term.start, min(term.end, today)) if term.start <= today else (today, today)
    return today - datetime.timedelta(days=int(setting) - 1), today


def previous_window(start: datetime.date, end: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The window of the same length that ends the day before ``start``."""
    length = (end - start).days + 1
    return start - datetime.timedelta(days=length), start - _DAY


def is_term_window(start: datetime.date, end: datetime.date, calendar: Calendar | None = None) -> bool:
    """Whether the window is a term, or a term so far (it starts on the term's first day and ends
    before the next term).

    >>> is_term_window(datetime.date(2026, 9, 3), datetime.date(2026, 11, 23))
    True
    """
    return _calendar(calendar).covers(start, end)


@dataclass(frozen=True)
class Span:
    """A window of a comparison, with how many school days it holds and, in words, what it is:
    "first 58 school days of summer 2026". ``json()`` is its object in ``score --json``."""

    start: datetime.date
    end: datetime.date
    school_days: int
    why: str

    def json(self) -> dict:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "school_days": self.school_days,
            "why": self.why,
        }

    @property
    def dates(self) -> tuple[datetime.date, datetime.date]:
        return self.start, self.end


@dataclass(frozen=True)
class Comparison:
    """What a window's changes are measured against. ``window`` is the window itself, described;
    ``previous`` the same number of school days into the previous term (None when there is nothing
    to compare, e.g. a term with no school day yet); ``last_year`` the same point of the same term
    a year before (None when the calendar has no such term; whether the store holds contacts that
    far back is for the caller to say)."""

    window: Span
    previous: Span | None
    last_year: Span | None

    def text(self, last_year: bool = False) -> str:
        """The comparison in words, as the Overview, the report and the command line print it."""
        if self.previous is None:
            return f"{_the(self.window.why)}: there is nothing before it to compare with"
        text = (
            f"{_the(self.window.why)} ({date_range_text(*self.window.dates)}) against "
            f"{_the(self.previous.why)} ({date_range_text(*self.previous.dates)})"
        )
        if last_year and self.last_year is not None:
            text += f", and against {_the(self.last_year.why)} ({date_range_text(*self.last_year.dates)})"
        return text


def _the(why: str) -> str:
    return why if why.startswith(("all ", "the ")) else f"the {why}"


def _days(n: int) -> str:
    return "1 school day" if n == 1 else f"{n} school days"


def _first(n: int, term: Term) -> str:
    return f"first school day of {term.name}" if n == 1 else f"first {n} school days of {term.name}"


def _same_point(cal: Calendar, term: Term | None, n: int, whole: bool) -> Span | None:
    """The first ``n`` school days of ``term`` (the whole term when ``whole``, or when it is shorter)."""
    if term is None:
        return None
    total = cal.count_school_days(term.start, term.end)
    if whole:
        return Span(term.start, term.end, total, f"all {_days(total)} of {term.name}")
    if n == 0:
        return None
    if total < n:
        return Span(term.start, term.end, total, f"all {_days(total)} of {term.name}, a shorter term")
    last = cal.nth_school_day(term.start, n)
    assert last is not None  # the term holds at least n school days
    return Span(term.start, last, n, _first(n, term))


def compare(start: datetime.date, end: datetime.date, calendar: Calendar | None = None) -> Comparison:
    """The windows a change over ``[start, end]`` is measured against.

    A term so far (it starts on the term's first day) is compared with the same number of school
    days from the start of the previous term and of the same term last year; a whole term with the
    whole previous term (and last year's). Any other window is compared with the same number of
    school days just before it (with the same number of days, for a window with no school day).

    >>> c = compare(datetime.date(2026, 10, 5), datetime.date(2026, 10, 16))
    >>> c.window.why, c.previous.why, c.previous.dates
    ('10 school days from 5 Oct 2026', '10 school days before 5 Oct 2026', \
(datetime.date(2026, 9, 21), datetime.date(2026, 10, 2)))
    """
    cal = _calendar(calendar)
    n = cal.count_school_days(start, end)
    if cal.covers(start, end):
        term = cal.term_of(start)
        whole = end >= term.end
        why = f"all {_days(n)} of {term.name}" if whole else _first(n, term)
        return Comparison(
            Span(start, end, n, why),
            _same_point(cal, cal.previous_term(term), n, whole),
            _same_point(cal, cal.same_term_last_year(term), n, whole),
        )
    window = Span(start, end, n, f"{_days(n)} from {start.day} {start:%b %Y}")
    first = cal.nth_school_day_before(start, n) if n else None
    last = cal.nth_school_day_before(start, 1) if n else None
    if first is not None and last is not None:
        previous = Span(first, last, n, f"{_days(n)} before {start.day} {start:%b %Y}")
    else:
        a, b = previous_window(start, end)
        length = (b - a).days + 1
        previous = Span(a, b, 0, f"{length} day{'s' * (length != 1)} before {start.day} {start:%b %Y}")
    return Comparison(window, previous, None)


def comparison_window(
    start: datetime.date, end: datetime.date, calendar: Calendar | None = None
) -> tuple[datetime.date, datetime.date]:
    """The window a change is measured against (see :func:`compare`): for a term so far, the same
    number of school days into the previous term.

    >>> comparison_window(datetime.date(2026, 9, 3), datetime.date(2026, 11, 23))
    (datetime.date(2026, 4, 13), datetime.date(2026, 7, 2))
    """
    previous = compare(start, end, calendar).previous
    return previous.dates if previous is not None else previous_window(start, end)


def periods(
    start: datetime.date, end: datetime.date, by: str, calendar: Calendar | None = None
) -> list[tuple[str, datetime.date, datetime.date]]:
    """The terms (``by="term"``) or calendar months (``by="month"``) overlapping ``[start, end]``,
    oldest first, as (name, first day, last day). Holidays between terms belong to no term.

    >>> periods(datetime.date(2026, 8, 10), datetime.date(2026, 11, 23), "term")
    [('autumn 2026', datetime.date(2026, 9, 3), datetime.date(2026, 11, 23))]
    """
    if by == "term":
        spans = [(t.name, t.start, t.end) for t in terms_between(start, end, calendar)]
    elif by == "month":
        spans = [(a.strftime("%Y-%m"), a, b) for a, b in months_between(start, end)]
    else:
        raise ValueError("by must be 'term' or 'month'")
    # A period is cut to the range asked for, so the current term runs to today, not to December.
    return [(name, max(a, start), min(b, end)) for name, a, b in spans]


# ---------------------------------------------------------------- windows in words


def window_text(start: datetime.date, end: datetime.date, calendar: Calendar | None = None) -> str:
    """A window as a governor says it: the term when it is one (or the start of one), else dates.

    >>> window_text(datetime.date(2026, 4, 13), datetime.date(2026, 7, 22))
    'Summer term 2026, 13 Apr – 22 Jul 2026'
    >>> window_text(datetime.date(2026, 10, 5), datetime.date(2026, 11, 6))
    '5 Oct – 6 Nov 2026'
    """
    cal = _calendar(calendar)
    if cal.covers(start, end):
        return f"{_term_words(cal.term_of(start))}, {date_range_text(start, end)}"
    return date_range_text(start, end)


def _term_words(term: Term) -> str:
    """ "Summer term 2026" for a term named "summer 2026"; any other name as it is."""
    words = term.name.split()
    if len(words) == 2 and words[1].isdigit():
        return f"{words[0].capitalize()} term {words[1]}"
    return term.label


def short_window_text(start: datetime.date, end: datetime.date, calendar: Calendar | None = None) -> str:
    """A window in a few words, for a change's label: "Summer 2026", or "1 Apr – 31 Aug 2026".

    >>> short_window_text(datetime.date(2026, 4, 13), datetime.date(2026, 7, 22))
    'Summer 2026'
    """
    cal = _calendar(calendar)
    return cal.term_of(start).label if cal.covers(start, end) else date_range_text(start, end)


def is_partial(start: datetime.date, end: datetime.date, calendar: Calendar | None = None) -> bool:
    """Whether a period of a term trend is cut short of its term (the current term so far)."""
    term = _calendar(calendar).term_of(start)
    return start > term.start or end < term.end


def period_label(name: str, start: datetime.date, end: datetime.date, calendar: Calendar | None = None) -> str:
    """A term of a trend by name, saying plainly where it is only part of the term.

    >>> period_label("autumn 2026", datetime.date(2026, 9, 3), datetime.date(2026, 11, 23))
    'Autumn 2026 (so far: 53 of 72 school days)'
    """
    cal = _calendar(calendar)
    term = cal.term_of(start)
    label = name[:1].upper() + name[1:]
    if not is_partial(start, end, cal):
        return label
    total = cal.count_school_days(term.start, term.end)
    part = cal.count_school_days(start, end)
    if start > term.start:
        return f"{label} (part: {part} of {total} school days, from {start.day} {start:%b})"
    return f"{label} (so far: {part} of {total} school days)"
