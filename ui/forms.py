"""What the contact forms share: one way of asking "two-way?", and putting the keyboard focus
where the user's next step is after Streamlit redraws the page.

Both contact forms (a family's on the Outreach page, a partner's on the map) ask "two-way?" with
:func:`two_way_question`, so a family liaison officer answers the same question the same way on
every page. :func:`focus_on` moves the keyboard focus to a button or field after a save, instead of
leaving it at the top of the page where the redraw puts it.
"""

from __future__ import annotations

import json

import streamlit as st
import streamlit.components.v1 as components

AS_USUAL = "As usual"
TWO_WAY_OPTIONS = [AS_USUAL, "Yes", "No"]


def two_way_question(key: str, *, who: str = "they", container=st) -> bool | None:
    """The "two-way?" question of a contact form: True (they answered, you talked), False (a
    message or a call without an answer) or None (as usual: what the school's catalogue says of
    the activity). ``who``: "the family" or "the partner"."""
    answer = container.radio(
        f"Two-way: did {who} respond?",
        TWO_WAY_OPTIONS,
        key=key,
        horizontal=True,
        help="Yes: they answered and you talked. No: a message or a call without an answer. "
        "As usual: what the school's catalogue says of the activity.",
    )
    return None if answer == AS_USUAL else answer == "Yes"


def focus_on(label: str, kind: str = "button", nonce: object = None) -> None:
    """Put the keyboard focus on the page's ``kind`` ("button" or "input") whose visible text (a
    button, after its icon) or label (a field) is ``label``, once it is drawn. ``nonce`` makes a new request when
    the same label is asked for again (Streamlit would otherwise keep the old, spent frame)."""
    target = json.dumps({"label": label, "kind": kind, "nonce": str(nonce)})
    components.html(
        "<script>(function(){const t=" + target + ";const doc=window.parent.document;let tries=0;"
        # A button's words without its icon's (a material icon is a word in the page's text).
        "function words(b){const c=b.cloneNode(true);"
        "c.querySelectorAll('[data-testid=stIconMaterial]').forEach(i=>i.remove());return c.innerText.trim();}"
        "function find(){if(t.kind==='button'){return Array.from(doc.querySelectorAll('button'))"
        ".find(b=>words(b)===t.label);}"
        "const l=Array.from(doc.querySelectorAll('label')).find(x=>x.innerText.trim()===t.label);"
        "if(!l)return null;const box=l.closest('[data-testid]').parentElement;"
        "return box.querySelector('input,textarea');}"
        "function go(){const el=find();if(el){el.focus({preventScroll:true});"
        "el.scrollIntoView({block:'center'});return;}if(++tries<40)setTimeout(go,100);}go();})();</script>",
        height=0,
    )
