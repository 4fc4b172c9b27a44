"""What the pages share, and nothing else: Streamlit code that every page calls before it shows
a figure. ``engagement/`` never imports Streamlit; this package is the thin layer between the two.

- :mod:`ui.session`: who is signed in and what they may open, the store, the demo banner, the
  cached frames, calendar and messages, and :func:`open_page`, the first line of every page;
- :mod:`ui.pickers`: the school and window pickers of the sidebar;
- :mod:`ui.geocoding`: the section that places partners and schools on the map;
- :mod:`ui.governors`: what a governor's view may render (the disclosure layer's figures only);
- :mod:`ui.layout`: the style sheet of every page, the order of its headings, and :func:`subtitle`,
  the line under a page's title;
- :mod:`ui.forms`: the contact forms' shared "two-way?" question, and moving the keyboard focus after a save;
- :mod:`ui.tables`: :func:`dataframe`, every page's tables, a missing value shown as a dash.

Pages write ``import ui`` and call ``ui.open_page(...)``, ``ui.window_picker()`` and so on.
"""

from ui.governors import governor_metric, governor_table, words_table
from ui.layout import subtitle
from ui.pickers import school_picker, window_picker
from ui.session import (
    GOVERNORS_VIEW,
    Viewer,
    auth_configured,
    clear_demo_footer,
    current_actor,
    current_viewer,
    data_version,
    demo_banner,
    get_store,
    governors_view_switch,
    keep_governors_view,
    may_present,
    open_page,
    page_guard,
    school_calendar,
    school_frames,
    school_gone,
    school_messages,
    show_error,
)
from ui.tables import dataframe

__all__ = [
    "GOVERNORS_VIEW",
    "Viewer",
    "auth_configured",
    "clear_demo_footer",
    "current_actor",
    "current_viewer",
    "data_version",
    "dataframe",
    "demo_banner",
    "get_store",
    "governor_metric",
    "governor_table",
    "governors_view_switch",
    "keep_governors_view",
    "may_present",
    "open_page",
    "page_guard",
    "school_calendar",
    "school_frames",
    "school_gone",
    "school_messages",
    "school_picker",
    "show_error",
    "subtitle",
    "window_picker",
    "words_table",
]
