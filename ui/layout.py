"""How every page is laid out for reading, in one place: the style sheet and script every page
gets, the order of its headings, and the line under its title.

Headings go in order, so that a screen reader's list of headings is the page's outline (WCAG 1.3.1;
axe-core's ``heading-order``): the page's title is ``st.title`` (h1), each section under it
``st.header`` (h2), a part of a section ``st.subheader`` (h3). A section in a side column is drawn
a size smaller (a column is narrow), at the same level. A line that says what the page shows (the
school, the window) is not a section: it is :func:`subtitle`, a paragraph drawn large.

Tables (``st.table``) wrap their cells' words at spaces, so a table of words fits its column at
any width and at 200 % zoom instead of running off the side. A table still wider than its column
(many columns on a phone) scrolls sideways in a box that the keyboard can reach: the page's script
makes that box a focusable, named region while, and only while, it scrolls (WCAG 2.1.1; axe-core's
``scrollable-region-focusable``). Figures are never broken inside a word or a number. The same
script drops the "presentation" role from Streamlit's file drop zones, which are named regions.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

SUBTITLE_KEY = "page_subtitle"

# Streamlit draws a table's cells on one line each ("white-space: nowrap"), so a table of words is
# as wide as its longest sentences and scrolls sideways in a box the keyboard cannot reach.
_STYLE = f"""
.stMainBlockContainer {{ padding-top: 3rem; }}
[data-testid="stTable"] :is(th, td), [data-testid="stTable"] :is(th, td) :is(div, p) {{ white-space: normal; }}
[data-scroll-region]:focus-visible {{ outline: 2px solid #0072B2; outline-offset: 2px; }}
.stMain [data-testid="stColumn"] h2 {{ font-size: 1.75rem; }}
.st-key-{SUBTITLE_KEY} p {{ font-size: 1.5rem; font-weight: 600; line-height: 1.3; margin: 0; padding-bottom: 0.5rem; }}
.stElementContainer:has(> .stHtml [data-page-script]) {{ display: none; }}
"""

# A table's scroll box becomes a region the keyboard can reach (tabindex 0, named after the
# nearest heading before the table) while it scrolls sideways, and stops being one when it no
# longer does (a wider window, the sidebar closed); Streamlit does this itself only for tables
# given a fixed width or height. Watched for as tables are drawn (MutationObserver) and as their
# boxes change size (ResizeObserver); installed once per browser tab.
_SCRIPT = """
(() => {
  if (window.__pageScrollRegions) return;
  window.__pageScrollRegions = true;
  const MARK = 'scrollRegion';
  const name = box => {
    let heading = '';
    for (const h of document.querySelectorAll('[data-testid="stMain"] :is(h1, h2, h3, h4)')) {
      if (h.compareDocumentPosition(box) & Node.DOCUMENT_POSITION_FOLLOWING) heading = h.innerText.trim();
    }
    return (heading ? heading + ': table' : 'Table') + ', scrolls sideways';
  };
  const mark = box => {
    const ours = box.dataset[MARK] === '1';
    if (!ours && box.hasAttribute('tabindex')) return;  // Streamlit's own scrolling table
    const scrolls = box.scrollWidth > box.clientWidth + 1;
    if (scrolls && !ours) {
      box.tabIndex = 0;
      box.setAttribute('role', 'region');
      box.setAttribute('aria-label', name(box));
      box.dataset[MARK] = '1';
    } else if (!scrolls && ours) {
      for (const a of ['tabindex', 'role', 'aria-label', 'data-scroll-region']) box.removeAttribute(a);
    }
  };
  const watched = new WeakSet();
  const sizes = new ResizeObserver(entries => entries.forEach(e => mark(e.target)));
  let queued = false;
  const scan = () => {
    queued = false;
    // Streamlit's file drop zone says it is only presentation yet carries a name and a tabindex,
    // which contradict it (axe-core's presentation-role-conflict): it is a region, named by the
    // files it takes. The file input inside keeps its own label and button.
    for (const zone of document.querySelectorAll('[data-testid="stFileUploaderDropzone"][role="presentation"]')) {
      zone.removeAttribute('role');
    }
    for (const box of document.querySelectorAll('[data-testid="stTable"] > div')) {
      if (!box.querySelector('table')) continue;
      if (!watched.has(box)) { watched.add(box); sizes.observe(box); }
      mark(box);
    }
  };
  new MutationObserver(() => { if (!queued) { queued = true; setTimeout(scan, 50); } })
    .observe(document.body, {childList: true, subtree: true, characterData: true, attributes: true,
             attributeFilter: ['role']});  // a drop zone drawn again with its old role
  scan();
})();
"""

PAGE_HTML = f"<style>{_STYLE}</style><span data-page-script hidden></span><script>{_SCRIPT}</script>"


def page_style() -> None:
    """The style sheet and script above: every page calls it first (through ``ui.open_page``). Our
    own constant text, never the user's, so running its script is safe."""
    st.html(PAGE_HTML, unsafe_allow_javascript=True)


def subtitle(text: str, where: DeltaGenerator | None = None) -> None:
    """The line under a page's title (markdown, escaped by the caller), drawn as large as a
    heading but read as a paragraph, so the page's first section can be an h2 under its h1."""
    box = st.container(key=SUBTITLE_KEY) if where is None else where.container(key=SUBTITLE_KEY)
    box.markdown(text)
