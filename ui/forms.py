"""What the forms share: one way of saving (:func:`save`: a save the store or the rules refused
says so under the button that was pressed, keeps what was typed and offers to try again), one way
of asking "two-way?", and putting the keyboard focus where the user's next step is after Streamlit
redraws the page.

Both contact forms (a family's on the Outreach page, a partner's on the map) ask "two-way?" with
:func:`two_way_question`, so a family liaison officer answers the same question the same way on
every page. :func:`focus_on` moves the keyboard focus to a button or field after a save, instead of
leaving it at the top of the page where the redraw puts it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import TypeVar

import streamlit as st
import streamlit.components.v1 as components
from sqlalchemy.exc import SQLAlchemyError

from engagement import store as db
from engagement.text import md_escape

T = TypeVar("T")

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


def why_not_saved(error: BaseException) -> str:
    """A store's refusal of a save in the user's words (the SQL and any password left out).

    >>> from sqlalchemy.exc import OperationalError
    >>> why_not_saved(OperationalError("UPDATE ...", {}, Exception("database is locked")))
    'the store is busy with another save just now (it is locked)'
    """
    text = db.store_problem(error)
    lowered = text.lower()
    if "locked" in lowered or "could not obtain lock" in lowered or "deadlock" in lowered:
        return "the store is busy with another save just now (it is locked)"
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        return "the store is read-only here, so nothing can be saved to it"
    if db.disk_trouble(error):
        return "the disk holding the store is full or cannot be written"
    return text


def done_when_run(action: Callable[[], object]) -> Callable[[], bool]:
    """``action``, a save that returns nothing, as one that returns True once it has run (what
    :func:`save` takes to mean "saved")."""

    def run() -> bool:
        action()
        return True

    return run


def save(
    key: str,
    pressed: bool,
    work: Callable[[], T],
    refusals: tuple[type[BaseException], ...] = (),
    container=st,
) -> T | None:
    """Run a form's save when its button was ``pressed`` (or this save's "Try again" was), and
    return what ``work`` returned. When the rules (one of ``refusals``, told in their own words) or
    the store (locked, a database server down, a conflict) refused it, nothing is returned; the
    reason is shown here, where the button is, as "Not saved: ...", what was typed stays in the
    form, and a "Try again" button makes the same save again. The page-wide error message is left
    for pages that cannot be read. ``work`` returns something other than None when it saved."""
    failed, again = f"{key}__not_saved", f"{key}__try_again"
    box = container.container()
    message = box.empty()
    offered = bool(st.session_state.get(failed))
    if offered:
        message.error(st.session_state[failed], icon=":material/error:")
        pressed = box.button("Try again", key=again, icon=":material/refresh:") or pressed
    if not pressed:
        return None
    try:
        done = work()
    except refusals as error:
        reason = str(error)
    except SQLAlchemyError as error:
        reference = uuid.uuid4().hex[:8].upper()
        logging.getLogger("engagement").error("save refused, reference %s", reference, exc_info=error)
        reason = (
            f"{why_not_saved(error)}. What you entered is still here: try again in a moment (reference {reference})"
        )
    else:
        st.session_state.pop(failed, None)
        message.empty()
        return done
    text = md_escape(reason if reason.startswith("Not saved") else f"Not saved: {reason}")
    st.session_state[failed] = text
    message.error(text, icon=":material/error:")
    if not offered:
        box.button("Try again", key=again, icon=":material/refresh:")
    return None


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


def bring_into_view(key: str, nonce: object = None) -> None:
    """Scroll the page so the container made with ``key`` starts on screen (under Streamlit's
    header), with its first form in view too, unless both are already there: on a phone a panel
    that sits beside a list on a wide screen comes under the whole list. Streamlit has no scroll
    call, so a frame of the app's own (no outside script) asks the page. ``nonce``, as for
    :func:`focus_on`, makes a new request for the same container."""
    target = json.dumps({"selector": f".st-key-{key}", "nonce": str(nonce)})
    components.html(
        "<script>(function(){const t=" + target + ";const win=window.parent,doc=win.document;let tries=0;"
        "function go(){const el=doc.querySelector(t.selector);if(!el){if(++tries<40)setTimeout(go,100);return;}"
        "const bar=doc.querySelector('[data-testid=stHeader]');const top=bar?bar.getBoundingClientRect().bottom:0;"
        "const form=el.querySelector('[data-testid=stForm]')||el;const r=el.getBoundingClientRect();"
        # Already in view, with room to see the form begin: leave the page where the user has it.
        "if(r.top>=top&&form.getBoundingClientRect().top+120<=win.innerHeight)return;"
        "el.style.scrollMarginTop=(top+8)+'px';el.scrollIntoView({block:'start'});}"
        "win.requestAnimationFrame(go);})();</script>",
        height=0,
    )
