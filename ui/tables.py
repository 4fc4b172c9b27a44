"""Tables as every page shows them: ``st.dataframe`` with a missing value shown as the dash the rest
of the app writes for one ("–", as the Overview's figures and the map's popups do), not Streamlit's
grey "None", which a reader takes for a value: "Raised: None" as nothing raised, where nothing was
recorded. Pages call :func:`dataframe` for every table of ``st.dataframe`` (tests/test_pages.py
checks that none calls it another way); a page may still ask for another placeholder (an empty
cell where a blank reads better). Editors (``st.data_editor``) and static ``st.table``s keep
Streamlit's own display."""

from __future__ import annotations

from typing import Any

import streamlit as st

MISSING = "–"


def dataframe(data: Any, **options: Any) -> Any:
    """``st.dataframe(data, **options)``, missing values shown as :data:`MISSING` unless the
    ``placeholder`` given says otherwise.

        ui.dataframe(events, hide_index=True, key="week_events_table")
    """
    options.setdefault("placeholder", MISSING)
    return st.dataframe(data, **options)
