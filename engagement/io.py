"""Import and export in the formats of shared/FORMATS.md: CSV (UTF-8 with or without BOM, or
Windows-1252) and XLSX, validated whole before anything is written, upserted by id in one
transaction, every change audited; exports safe to open in Excel.

>>> parse_date("14/09/2026"), parse_bool("Yes"), parse_list(" a; b ;;")
(datetime.date(2026, 9, 14), True, ['a', 'b'])
>>> excel_safe("=HYPERLINK(\\"http://x\\",\\"y\\")")
'\\'=HYPERLINK("http://x","y")'
"""

from __future__ import annotations

import datetime
import re

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


def parse_list(text) -> list[str]:
    """A ;-separated list, items trimmed, empties dropped."""
    if text is None:
        return []
    return [item.strip() for item in str(text).split(";") if item.strip()]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def excel_safe(value):
    """A text cell that Excel would read as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
