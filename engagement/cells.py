"""One cell of a file, read and written: the date, yes/no and list parsers every import uses, and
the reading of year groups, and the Excel safety of every export (a text that Excel would run as a formula gets an apostrophe,
taken off again on import). A leaf: it imports nothing of ``engagement``, so any module may use it
without joining the importer's imports.

>>> parse_date("14/09/2026"), parse_date("2026-09-14"), parse_date("31/02/2026"), parse_date("next week")
(datetime.date(2026, 9, 14), datetime.date(2026, 9, 14), None, None)
>>> parse_bool("Yes"), parse_bool(" n "), parse_bool(""), parse_bool(None), parse_bool("maybe")
(True, False, False, False, None)
>>> parse_list(" a; b ;;"), parse_list(None)
(['a', 'b'], [])
>>> year_tokens("Reception; Y3;year 6"), year_tokens(float("nan"))
(['R', '3', '6'], [])
>>> excel_safe("=HYPERLINK(\\"http://x\\",\\"y\\")")
'\\'=HYPERLINK("http://x","y")'
>>> excel_safe(-1), excel_safe("plain")
(-1, 'plain')
>>> excel_unsafe(excel_safe("-1+2")), excel_unsafe("'tis")
('-1+2', "'tis")
>>> excel_unsafe(excel_safe("'=x")) == "'=x"  # escaped twice, read back once: what was stored
True
"""

from __future__ import annotations

import datetime
import math
import re

import pandas as pd

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UK = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
TRUE_WORDS = {"y", "yes", "true", "1"}
FALSE_WORDS = {"n", "no", "false", "0", ""}


def parse_date(text) -> datetime.date | None:
    """An ISO (2026-09-14) or UK (14/09/2026) date, or None when it is neither or not a real day."""
    if isinstance(text, datetime.datetime):
        return text.date()
    if isinstance(text, datetime.date):
        return text
    text = str(text).strip()
    try:
        if _ISO.match(text):
            return datetime.date.fromisoformat(text)
        m = _UK.match(text)
        if m:
            return datetime.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None
    return None


def parse_bool(text) -> bool | None:
    """Y/N, yes/no, true/false, 1/0 in any case, empty = no; None when it is none of those."""
    if isinstance(text, bool):
        return text
    if text is None:
        return False
    word = str(text).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def choice_reader(options, what: str, bad):
    """A reader of a cell that must be one of ``options`` (any case and spacing): the option, or
    ``bad(reason)`` naming ``what`` (with its article) and every option.

    >>> read = choice_reader(("open", "closed"), "a status", ValueError)
    >>> read("  OPEN "), read("shut")
    ('open', ValueError("'shut' is not a status. Choose one of: open, closed."))
    """

    def read(text):
        key = " ".join(text.lower().split())
        return key if key in options else bad(f"{text!r} is not {what}. Choose one of: {', '.join(options)}.")

    return read


def parse_list(text) -> list[str]:
    """A ;-separated list, items trimmed, empties dropped."""
    if text is None:
        return []
    return [item.strip() for item in str(text).split(";") if item.strip()]


def is_blank(value) -> bool:
    """Whether a cell is empty: None, NaN or pandas' NA (pandas 3 stores a missing text as NaN)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) or value == ""


_YEAR_WORDS = {"RECEPTION": "R", "REC": "R", "R": "R", "NURSERY": "N", "N": "N"}


def year_tokens(text) -> list[str]:
    """The year groups of a ``;`` list, written the same way ("Reception" -> "R", "Year 6" -> "6"):
    the one reading of year groups, for families' and services' alike."""
    out = []
    for item in [] if is_blank(text) else parse_list(text):
        word = " ".join(item.upper().split())
        word = re.sub(r"^(YEAR|YR|Y)\s*(?=\d)", "", word)
        out.append(_YEAR_WORDS.get(word, word))
    return out


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _looks_like_formula(value: str) -> bool:
    # A value already escaped once ("'=x") is escaped again, so that reading it back with
    # excel_unsafe gives exactly what was stored, whatever it was.
    while value.startswith("'"):
        value = value[1:]
    return value.startswith(FORMULA_STARTS)


def excel_safe(value):
    """A text cell that Excel would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and _looks_like_formula(value):
        return "'" + value
    return value


def excel_unsafe(value):
    """The inverse of :func:`excel_safe`, so re-importing an export changes nothing."""
    if isinstance(value, str) and value.startswith("'") and _looks_like_formula(value[1:]):
        return value[1:]
    return value
