"""What ui.session does for every page, in AppTest: a school that went after the sidebar's picker
listed it (deleted from another tab or the command line) stops the page with a message."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page_whose_school_went() -> None:
    import streamlit as st

    import ui

    ui.school_gone()
    st.write("the figures of a school that is not there")


def test_a_school_that_went_stops_the_page_with_a_message():
    at = AppTest.from_function(_page_whose_school_went, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [
        "This school is no longer in the store. Choose another school in the sidebar."
    ]
    assert not [m.value for m in at.markdown if "figures" in m.value]
