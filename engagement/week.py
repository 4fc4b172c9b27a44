"""The school's week in the score card: events held with their attendance and volunteer hours, and
referrals made by outcome, for a window; what ``score --json`` adds as ``events`` and ``referrals``
(FORMATS.md) and what the Overview shows beside the scores.

Governors see the same figures with every count of families rounded to the suppression threshold
(:func:`engagement.privacy.governor_count`): referrals by outcome, and an attendance made of
attending families, rounded too. Volunteer hours are no family's record.

>>> import datetime
>>> from engagement.store import open_store
>>> week_card(open_store("sqlite://"), "S1", datetime.date(2026, 9, 1), datetime.date(2026, 12, 19))
{'events': {'held': 0, 'attendance': 0, 'volunteer_hours': 0.0}, \
'referrals': {'made': 0, 'sent': 0, 'accepted': 0, 'declined': 0, 'completed': 0, 'no_longer_needed': 0, 'open': 0}}
"""

from __future__ import annotations

import datetime

from engagement import disclosure
from engagement import store as db
from engagement.events import events_summary
from engagement.referrals import governor_referrals, referrals_summary


def week_card(
    store: db.Store,
    school_id: str,
    start: datetime.date,
    end: datetime.date,
    *,
    governor: bool = False,
    threshold: int | None = None,
    with_money: bool = False,
) -> dict:
    """``{"events": ..., "referrals": ...}`` for the window, in FORMATS.md's shapes; for governors
    the referral counts are rounded, under the threshold ``None`` with ``"suppressed": true``.
    ``with_money`` adds the events' ``money_raised`` (the Overview shows it; the JSON keeps to its
    documented keys)."""
    events = events_summary(store, school_id, start, end)
    if not with_money:
        events.pop("money_raised")
    referrals = referrals_summary(store, school_id, start, end)
    if governor:
        referrals = governor_referrals(referrals, threshold)
        # Attendance counts families (or people at a family event): rounded like any count of
        # families, under the threshold None (engagement.disclosure).
        events["attendance"] = disclosure.count(events["attendance"], threshold).value
        events["attendance"] = None if events["attendance"] is None else int(events["attendance"])
        events["suppressed"] = events["attendance"] is None  # FORMATS.md: null with "suppressed" beside it
    return {"events": events, "referrals": referrals}
