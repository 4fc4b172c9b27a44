"""What a governor's view may render: figures and tables made by the disclosure layer
(:mod:`engagement.disclosure`), and nothing else. A page showing a governor a table calls
:func:`governor_table`; handed a raw frame, a dict or a number instead, it raises
:class:`engagement.disclosure.RawFigure` before anything reaches the screen."""

from __future__ import annotations

import streamlit as st

from engagement import disclosure


def governor_table(data: object, *, caption: str | None = None) -> None:
    """Show a :class:`~engagement.disclosure.GovernorTable` (its cells are words already)."""
    table = disclosure.for_governor(data)
    if not isinstance(table, disclosure.GovernorTable):
        raise disclosure.RawFigure("a single figure is not a table: use governor_metric")
    st.table(table.records() or [dict.fromkeys(table.columns, "")], hide_index=True)
    if caption:
        st.caption(caption)


def governor_metric(label: str, data: object, *, help: str | None = None) -> None:
    """Show one :class:`~engagement.disclosure.Shown` figure; a hidden one says why."""
    shown = disclosure.for_governor(data)
    if not isinstance(shown, disclosure.Shown):
        raise disclosure.RawFigure("a table is not one figure: use governor_table")
    st.metric(label, shown.text, help=help or (f"Not shown: {shown.reason}." if shown.reason else None))


def words_table(rows: object, *, governor: bool) -> None:
    """A page's table of words (labels and figures already put into words by ``engagement``): for
    a governor it passes :class:`~engagement.disclosure.GovernorTable`, which refuses a frame or a
    bare number; for staff it is shown as it is."""
    if governor:
        governor_table(rows if isinstance(rows, disclosure.GovernorTable) else disclosure.GovernorTable.of(rows))  # type: ignore[arg-type]
    else:
        st.table(rows, hide_index=True)
