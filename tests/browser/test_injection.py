"""Hostile text never runs, renders or evaluates. The browser tests' store holds partners named
with HTML, ``${...}``, backticks, markdown and a spreadsheet formula, with contacts whose notes and
staff say the same (see conftest.seed_hostile_store). On every page of the menu: no dialog (an
``alert()`` would mean injected script ran), no element made out of a name (an ``<img src=x>``, a
link to http://x, markdown bold or code), a name shown at all is shown whole, and on the pages
that list the demo partner they were copied from every hostile name can be read as the literal text it is."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engagement import store as engagement_store

from . import harness as h

pytestmark = pytest.mark.browser

# A piece of each name that survives when the rest of it was eaten as markup, math or template.
FRAGMENTS = {
    "<img src=x onerror=alert(1)>": "onerror=alert(1)",
    "${alert(1)}": "alert(1)}",
    "`backtick`": "backtick",
    "**bold** [link](http://x)": "(http://x)",
    '=HYPERLINK("http://x","y")': 'HYPERLINK("',
}


def _visits(page_visits):
    return [record for records in page_visits.values() for record in records]


def test_the_store_behind_the_browser_tests_holds_every_hostile_name(app_database):
    store = engagement_store.open_store(app_database)
    try:
        with store.read() as conn:
            p = engagement_store.partners
            names = conn.execute(select(p.c.name).where(p.c.partner_id.like("HOSTILE-%"))).scalars().all()
    finally:
        store.dispose()
    assert sorted(names) == sorted(h.HOSTILE_NAMES)
    assert set(FRAGMENTS) == set(h.HOSTILE_NAMES)


def test_no_page_opens_a_dialog(page_visits):
    report = h.problem_report(
        _visits(page_visits),
        lambda r: [f"did not settle: {f}" for f in r.failures] + [f"dialog: {d}" for d in r.dialogs],
    )
    assert not report, f"a dialog means injected script ran:\n{report}"


def test_no_hostile_name_turns_into_markup(page_visits):
    report = h.problem_report(_visits(page_visits), lambda r: r.markup)
    assert not report, f"a name became markup instead of text:\n{report}"


def test_a_hostile_name_shown_at_all_is_shown_whole(page_visits):
    def broken(record: h.Visit) -> list[str]:
        return [
            f"shows {fragment!r} but not the whole name {name!r}"
            for name, fragment in FRAGMENTS.items()
            if fragment in record.text and name not in record.text
        ]

    report = h.problem_report(_visits(page_visits), broken)
    assert not report, f"part of a name was eaten as markup, math or a template:\n{report}"


def test_a_page_that_shows_the_copied_partner_shows_every_hostile_name_as_text(page_visits, app_database):
    # The hostile partners are copies of one demo partner (same category, place, services and
    # status), so a page that lists that partner has no reason to leave any of them out.
    store = engagement_store.open_store(app_database)
    try:
        with store.read() as conn:
            p = engagement_store.partners
            copy = conn.execute(select(p).where(p.c.partner_id == "HOSTILE-1")).mappings().one()
            original = (
                conn.execute(
                    select(p.c.name).where(
                        ~p.c.partner_id.like("HOSTILE-%"),
                        p.c.category == copy["category"],
                        p.c.latitude == copy["latitude"],
                        p.c.longitude == copy["longitude"],
                    )
                )
                .scalars()
                .first()
            )
    finally:
        store.dispose()
    assert original, "the hostile partners are not copies of a demo partner"
    listing = {name: records for name, records in page_visits.items() if original in records[0].text}
    missing = [
        f"{page}: lists {original!r} but not {hostile!r} as text"
        for page, records in listing.items()
        for hostile in h.HOSTILE_NAMES
        if not any(hostile in r.text for r in records)
    ]
    assert not missing, "\n".join(missing)
