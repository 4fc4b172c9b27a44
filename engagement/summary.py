"""A school at a glance: its record, its four layers in counts, and how much contact it logged.

This is the first thing anyone sees; every figure is a plain count from the store.

>>> from engagement.store import open_store
>>> summary = school_summary(open_store("sqlite://"), "none")
>>> summary is None
True
"""

from __future__ import annotations

import datetime

import pandas as pd
from sqlalchemy import func, select

from engagement import clock
from engagement import store as db
from engagement.access import sees_family_detail
from engagement.calendar import load_calendar
from engagement.privacy import governor_count
from engagement.settings import fewer_than, load_settings
from engagement.typology import PARTNER_STATUSES, load_typology


def school_summary(store: db.Store, school_id: str, today: datetime.date | None = None) -> dict | None:
    """The school record, layer counts and this term's interactions, or None for an unknown school."""
    today = today or clock.today()
    term = load_calendar(store, school_id).term_of(today)  # the school's own terms, else England's
    typology = load_typology()
    with store.read() as conn:
        school = conn.execute(select(db.schools).where(db.schools.c.school_id == school_id)).mappings().first()
        if school is None:
            return None
        families = conn.execute(
            select(func.count()).select_from(db.families).where(db.families.c.school_id == school_id)
        ).scalar_one()
        partner_counts = pd.DataFrame(
            conn.execute(
                select(db.partners.c.layer, db.partners.c.status, func.count().label("partners"))
                .where(db.partners.c.school_id == school_id)
                .group_by(db.partners.c.layer, db.partners.c.status)
            )
            .mappings()
            .all(),
            columns=["layer", "status", "partners"],
        )
        in_term = (db.interactions.c.school_id == school_id) & db.interactions.c.date.between(term.start, term.end)
        term_counts = conn.execute(
            select(func.count(db.interactions.c.family_id), func.count(db.interactions.c.partner_id)).where(in_term)
        ).one()
    layers = []
    for layer in (1, 2, 3, 4):
        row = {"layer": layer, "name": typology.layer_name(layer), "who": typology.layers[layer]["who"]}
        if layer == 1:
            # The core is counted, not mapped: its people go in words, not in the partner columns.
            row.update(
                who=f"{school['pupils'] or 0:,} pupils and {school['staff'] or 0:,} staff",
                **dict.fromkeys(PARTNER_STATUSES),
            )
        else:
            sub = partner_counts[partner_counts["layer"] == layer].set_index("status")["partners"]
            row.update({s: int(sub.get(s, 0)) for s in PARTNER_STATUSES})
        layers.append(row)
    return {
        "school": dict(school),
        "families": int(families),
        "term": term,
        "family_interactions_this_term": int(term_counts[0]),
        "partner_interactions_this_term": int(term_counts[1]),
        "layers": pd.DataFrame(layers),
    }


def families_on_roll_text(families: int, role: str | None) -> str:
    """The roll as a reader may see it: exact for staff; for governors rounded, or "fewer than
    10" (the Overview says the same, so neither page undoes the other).

    >>> families_on_roll_text(417, "head"), families_on_roll_text(417, "governor"), families_on_roll_text(7, "governor")
    ('417', 'about 420', 'fewer than 10')
    """
    if sees_family_detail(role):
        return f"{families:,}"
    shown = governor_count(families, load_settings().privacy.suppression_threshold)
    return fewer_than() if shown != shown else f"about {int(shown):,}"
