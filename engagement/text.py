"""Showing user text safely in Streamlit's markdown elements (titles, captions, labels).

Streamlit renders markdown in almost every element; a partner called ``**Free** [prize](http://x)``
would become bold text and a link. Every user string shown in a markdown element goes through
:func:`md_escape` first.
"""

from __future__ import annotations

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
