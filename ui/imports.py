"""The steps every import section of the Data page shares: the uploaded files checked whole first
(a dry run of the same import), their problems listed by file, row, column and reason, and the
import written only on a click, saying what it did. One place, so the main files, the week's files
and the transitions and survey answers behave alike (the terms and the Open Referral directory
show a table of changes of their own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import streamlit as st

from engagement.text import md_escape
from ui.session import current_actor
from ui.tables import dataframe

if TYPE_CHECKING:  # what st.column_config's helpers return; a private path of Streamlit's, so for the checker only
    from streamlit.elements.lib.column_types import ColumnConfig

PROBLEM_COLUMNS: dict[str, str | ColumnConfig] = {
    "file": "File",
    "row": st.column_config.NumberColumn("Row", format="%d"),
    "column": "Column",
    "reason": st.column_config.TextColumn("Reason", width="large"),
}


def after_first_line(text: str) -> str:
    """A report's lines after its first ("Imported: …"), on one line: what it counted."""
    return "; ".join(line.strip() for line in text.split("\n")[1:] if line.strip())


def counts_text(report) -> str:
    """What a report's counts say, after its first line, on one line."""
    return after_first_line(report.format())


def check_then_import(
    store,
    importer: Callable[..., Any],
    sources: list[tuple[str, bytes]],
    options: dict[str, Any],
    *,
    key: str,
    button: str,
    describe: Callable[[Any], str] = counts_text,
) -> None:
    """Check ``sources`` with ``importer(store, sources, dry_run=True, **options)``; show the
    problems, or what the import would do and a ``button`` that imports them for real
    (``key``: the widgets' prefix)."""
    check = importer(store, sources, dry_run=True, **options)
    for note in check.notes:
        st.caption(md_escape(note))  # notes quote the files' headers: text, never markdown or an image
    if not check.ok:
        n = len(check.errors)
        st.error(
            f"Nothing can be imported yet: {n} problem{'s' * (n != 1)} to fix. Mend the files and upload them again."
        )
        dataframe(
            check.errors_frame(), hide_index=True, width="stretch", column_config=PROBLEM_COLUMNS, key=f"{key}_problems"
        )
        return
    st.success("Every row is valid. " + md_escape(describe(check)))
    if st.button(button, type="primary", key=f"{key}_go"):
        done = importer(store, sources, actor=current_actor(), **options)
        if done.ok:
            st.success("Imported. " + md_escape(describe(done)))
        else:
            st.error("The import was refused, so nothing changed.")
            dataframe(done.errors_frame(), hide_index=True, width="stretch", column_config=PROBLEM_COLUMNS)
