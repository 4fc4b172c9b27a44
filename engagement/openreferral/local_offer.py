"""The local offer: organisations of the local authority's directory the school has brought in but
not taken on (status ``local offer``). They are on the map as a layer of their own and in outreach
suggestions, counted in no score and never due for a check, until staff take one on as a
``prospective`` or ``active`` partner: one click, one audited change of the partner's status
(the directory's own save, so a stale click is refused like any stale form)."""

from __future__ import annotations

from engagement import store as db
from engagement.directory import SaveResult, save_partner
from engagement.typology import LOCAL_OFFER

TAKE_ON = ("prospective", "active")


def take_on(
    store: db.Store, actor: str, school_id: str, partner_id: str, status: str, expected_version: int
) -> SaveResult:
    """Make the local-offer partner ``partner_id`` a ``prospective`` or ``active`` partner of the
    school. Raises :class:`engagement.directory.VersionConflict` when it changed meanwhile."""
    if status not in TAKE_ON:
        return SaveResult(partner_id, None, {"status": f"{status!r} is not one of {', '.join(TAKE_ON)}"})
    p = db.partners
    with store.read() as conn:
        now = conn.execute(p.select().where(p.c.partner_id == partner_id)).mappings().first()
    if now is not None and now["status"] != LOCAL_OFFER:
        return SaveResult(partner_id, None, {"status": f"is {now['status']}, not the local offer"})
    return save_partner(store, actor, school_id, {"status": status}, partner_id, expected_version, online=False)
