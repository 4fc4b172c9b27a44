"""The browser tests' shared tab (``harness.Tab``): one visit leaves nothing for the next. Streamlit
keeps the sidebar's state in local storage (opened or closed by hand, the next page would start so);
what a page says is its own visit's; the pointer starts in the corner; and a visit inside another
is refused rather than taking the page from under it."""

from __future__ import annotations

import pytest

from . import harness as h

pytestmark = pytest.mark.browser

SET_JS = """() => {
  localStorage.setItem('tab-test', 'left over');
  sessionStorage.setItem('tab-test', 'left over');
  console.error('said by the first visit');
}"""
READ_JS = "() => [localStorage.getItem('tab-test'), sessionStorage.getItem('tab-test')]"


def test_a_visit_leaves_nothing_for_the_next(chromium, app_server):
    tab = h.Tab(chromium, app_server.url)
    try:
        with tab.visit("first", (1280, 720)) as (first, page):
            h.open_path(page, first, "/")
            page.evaluate(SET_JS)
            assert page.evaluate(READ_JS) == ["left over", "left over"]
            page.mouse.move(600, 400)
            with pytest.raises(AssertionError, match="one page at a time"), tab.visit("inside", (1280, 720)):
                pass
        assert [e for e in first.console_errors if "said by the first visit" in e]

        with tab.visit("second", (1440, 900)) as (second, page):
            h.open_path(page, second, "/")
            assert page.evaluate(READ_JS) == [None, None]
            assert page.viewport_size == {"width": 1440, "height": 900}
            assert page.evaluate("() => window.innerWidth") == 1440
            h.collect(page, second)
        assert second is not first
        assert not second.problems(), "\n".join(second.problems())
    finally:
        tab.close()
