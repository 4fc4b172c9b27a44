"""Stored values as text for people: safe in Streamlit's markdown, and written as a person writes them.

Streamlit renders markdown in almost every element; a partner called ``**Free** [prize](http://x)``
would become bold text and a link. Every user string shown in a markdown element goes through
:func:`md_escape` first.

The store keeps lists as "pupil premium;EAL", flags as True/False and counts as floats; a page or a
download shows them as "pupil premium, EAL", "yes" and "11", with blanks left blank and column
headers in words (:func:`list_text`, :func:`value_text`, :func:`readable_table`): one place for the
pages and the CSV exports alike.
"""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd

_MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|<>~$:="


def md_escape(value) -> str:
    """User text for a Streamlit markdown element (a heading, a caption): every markdown
    character backslash-escaped so a name never becomes a link, bold, code or formula.

    >>> print(md_escape("**b** [l](x)"))
    \\*\\*b\\*\\* \\[l\\]\\(x\\)
    """
    text = "" if value is None else str(value)
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in text).replace("\n", " ")


def text_or_blank(value) -> str:
    """A stored value as text, with nothing for a missing one (None, or pandas' NaN, which a
    table of partners holds where a column is empty and which would otherwise print as "nan").

    >>> text_or_blank(float("nan")), text_or_blank(None), text_or_blank("Bournville Library")
    ('', '', 'Bournville Library')
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def record_lines(fields: dict) -> str:
    """A record as markdown lines, "**Label:** value", each value escaped and a dash where it is
    empty. Pages show partners' records this way rather than as a table, which cut long
    addresses and emails short in a narrow column.

    >>> print(record_lines({"Email": "office@example.org", "Notes": None}))  # doctest: +NORMALIZE_WHITESPACE
    **Email:** office@example\\.org
    **Notes:** —
    """
    return "  \n".join(f"**{label}:** {md_escape(text_or_blank(value)) or '—'}" for label, value in fields.items())


# ---------------------------------------------------------------- stored values as a person writes them

# Words the school writes in capitals, wherever a list item (a need, a service, a group) holds them
# in lower case: "community send group" is a "community SEND group".
ACRONYMS = {
    word.lower(): word
    for word in ("SEND", "SEN", "EAL", "EHCP", "PTA", "NHS", "CAMHS", "ESOL", "FSM", "SENCO", "FLO", "GP", "KS1", "KS2")
}


def _capitals(item: str) -> str:
    return " ".join(ACRONYMS.get(word.lower(), word) for word in item.split())


def list_text(value) -> str:
    """A stored list ("pupil premium;EAL", "4;6") as a person writes it: items joined by a comma,
    the school's acronyms in capitals, nothing for a blank.

    >>> list_text("pupil premium;eal"), list_text("4;6"), list_text("community send group"), list_text(None)
    ('pupil premium, EAL', '4, 6', 'community SEND group', '')
    """
    text = text_or_blank(value)
    return ", ".join(_capitals(item.strip()) for item in text.split(";") if item.strip())


def value_text(value) -> str:
    """One stored value as a person writes it: nothing for a blank (never "None" or "nan"), yes or
    no for a flag, a whole number without ".0", a date as 23/11/2026.

    >>> [value_text(v) for v in (None, float("nan"), True, False, 11.0, 7.25, 3, "Phone")]
    ['', '', 'yes', 'no', '11', '7.25', '3', 'Phone']
    >>> value_text(datetime.date(2026, 11, 23))
    '23/11/2026'
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (float, np.floating)):
        if value != value:
            return ""
        return str(int(value)) if float(value).is_integer() else f"{float(value):g}"
    if isinstance(value, (datetime.date, pd.Timestamp)):
        return f"{value:%d/%m/%Y}"
    return str(value)


def readable_table(frame, headers: dict[str, str], lists=()):
    """A table to show or download as a person reads it: the columns of ``headers`` in its order,
    renamed to its words; ``lists`` columns as :func:`list_text`, every other as :func:`value_text`.

    >>> table = pd.DataFrame({"new_starter": [False], "priority": [11.0], "flags": ["pupil premium;eal"], "x": [1]})
    >>> readable_table(table, {"flags": "Groups", "priority": "Priority", "new_starter": "New starter"},
    ...                lists=["flags"]).to_dict("records")
    [{'Groups': 'pupil premium, EAL', 'Priority': '11', 'New starter': 'no'}]
    """
    return pd.DataFrame(
        {
            label: frame[column].map(list_text if column in lists else value_text).astype(str)
            for column, label in headers.items()
            if column in frame.columns
        },
        index=frame.index,
    )
