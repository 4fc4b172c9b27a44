"""Many staff saving at once, on SQLite and on PostgreSQL (issue 26): eight writers and more, each
thread on its own connection, two of them editing one partner, two marking one register, two
creating one new event, two linking one family to one partner and two checking one partner.
Every save a writer was told succeeded is in the store, every refused one was told why (a
:class:`VersionConflict` or a refusal in words), and no family is on a register twice.

The writers of a pair start each round together (a barrier), so on PostgreSQL, where nothing
serialises writers the way SQLite's ``BEGIN IMMEDIATE`` does, they read the same record and race
to write it."""

from __future__ import annotations

import datetime
import json
import threading
from collections import Counter

from sqlalchemy import func, select

from engagement import directory as d
from engagement import events as ev
from engagement import referrals as rf
from engagement import store as db
from engagement.contacts import InvalidInteraction

ROUNDS = 12
FAMILIES = [f"F{i}" for i in range(1, 6)]


def seed(store) -> None:
    with store.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2QX"))
        conn.execute(
            db.partners.insert(),
            [
                {"partner_id": p, "school_id": "S1", "name": name, "category": "library", "layer": 3}
                for p, name in (("P1", "Oak Library"), ("P2", "Birch Library"))
            ],
        )
        conn.execute(db.families.insert(), [{"family_id": f, "school_id": "S1"} for f in FAMILIES])


def run_pairs(work: dict[str, object]) -> dict[str, list]:
    """Run each named job in two threads at once (round by round, both starting together);
    returns each job's outcomes, and re-raises in the test any error that was not a told refusal."""
    outcomes: dict[str, list] = {name: [] for name in work}
    errors: list[BaseException] = []
    threads = []
    for name, job in work.items():
        barrier = threading.Barrier(2)

        def body(name=name, job=job, barrier=barrier, writer=0):
            try:
                for round_ in range(ROUNDS):
                    barrier.wait()
                    outcomes[name].append(job(writer, round_))  # type: ignore[operator]
            except BaseException as error:  # anything not told is a failure of the test
                errors.append(error)
                barrier.abort()

        threads += [threading.Thread(target=body, kwargs={"writer": w}) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return outcomes


def test_eight_writers_lose_no_acknowledged_save_and_every_refusal_is_told(store):
    seed(store)

    def edit_partner(writer, round_):
        with store.read() as conn:
            seen = conn.execute(select(db.partners.c.version).where(db.partners.c.partner_id == "P1")).scalar_one()
        note = f"writer {writer} round {round_}"
        try:
            saved = d.save_partner(store, f"flo{writer}", "S1", {"notes": note}, "P1", expected_version=seen)
        except d.VersionConflict as refused:
            assert str(refused).startswith("Not saved:")
            return ("refused", note)
        assert saved.ok
        return ("saved", note, saved.version)

    def mark_register(writer, round_):
        saved = ev.save_register(
            store,
            f"flo{writer}",
            school_id="S1",
            event_id=f"E-shared-{round_}",
            date="2026-10-07",
            activity="parents evening",
            family_ids=FAMILIES,
            partner_ids=["P2"],
            today="2026-10-08",
        )
        return saved.added

    def create_event(writer, round_):
        # Both create the same new event; the second one's date differs every other round, and
        # is then refused in words (the event exists as the first one made it).
        day = "2026-10-09" if writer == 0 or round_ % 2 else "2026-10-10"
        try:
            saved = ev.save_register(
                store,
                f"flo{writer}",
                school_id="S1",
                event_id=f"E-new-{round_}",
                date=day,
                activity="coffee morning",
                family_ids=FAMILIES[:3],
                today="2026-10-12",
            )
        except InvalidInteraction as refused:
            return ("refused", str(refused))
        return ("saved", saved.added)

    def link(writer, round_):
        rf.link_family(
            store, f"flo{writer}", school_id="S1", family_id=FAMILIES[round_ % 5], partner_id="P2", relation="member"
        )
        return "saved"

    def check_partner(writer, round_):
        return d.verify_partner(store, f"flo{writer}", "P2", today=datetime.date(2026, 11, 1))

    outcomes = run_pairs(
        {
            "edit": edit_partner,
            "register": mark_register,
            "create": create_event,
            "link": link,
            "verify": check_partner,
        }
    )
    with store.read() as conn:
        partner = conn.execute(select(db.partners).where(db.partners.c.partner_id == "P1")).mappings().one()
        audited = [
            json.loads(a)
            for a in conn.execute(
                select(db.audit_log.c.after)
                .where(db.audit_log.c.table_name == "partners", db.audit_log.c.record_id == "P1")
                .order_by(db.audit_log.c.id)
            ).scalars()
        ]
        p2_version = conn.execute(select(db.partners.c.version).where(db.partners.c.partner_id == "P2")).scalar_one()
        registers = Counter(
            conn.execute(
                select(db.event_contacts.c.event_id, db.interactions.c.family_id, db.interactions.c.partner_id).join(
                    db.interactions, db.interactions.c.interaction_id == db.event_contacts.c.interaction_id
                )
            ).all()
        )
        events = Counter(conn.execute(select(db.events.c.event_id)).scalars())
        links = conn.execute(select(func.count()).select_from(db.family_partners)).scalar_one()
        contacts = conn.execute(select(func.count()).select_from(db.interactions)).scalar_one()

    # Two editing one partner: each acknowledged save has its own version, is audited with its
    # text, and the last of them is what the partner says now.
    saved = [o for o in outcomes["edit"] if o[0] == "saved"]
    versions = [o[2] for o in saved]
    assert len(set(versions)) == len(versions), f"two saves were both told version {Counter(versions).most_common(1)}"
    assert partner["version"] == 1 + len(saved)
    assert [a["notes"] for a in audited] == [o[1] for o in sorted(saved, key=lambda o: o[2])]
    assert partner["notes"] == max(saved, key=lambda o: o[2])[1]
    assert len(saved) >= ROUNDS  # at least one of each pair gets through

    # Two marking one register: each family and the partner once on it, added once in all.
    assert all(n == 1 for n in registers.values()), [k for k, n in registers.items() if n > 1]
    assert sum(outcomes["register"]) == len(FAMILIES) * ROUNDS
    # Two creating one event: one event each round; a refusal names the event as it is.
    assert all(events[f"E-new-{r}"] == 1 for r in range(ROUNDS))
    assert sum(o[1] for o in outcomes["create"] if o[0] == "saved") == 3 * ROUNDS
    assert all("E-new-" in o[1] for o in outcomes["create"] if o[0] == "refused")
    # Every contact is on a register, once.
    assert contacts == sum(registers.values()) == (len(FAMILIES) + 1 + 3) * ROUNDS
    # Two linking one family to one partner: one link each.
    assert links == len(FAMILIES)
    # Two checking one partner: each told its own new version.
    told = sorted(outcomes["verify"])
    assert told == list(range(2, 2 + 2 * ROUNDS)) and p2_version == 1 + 2 * ROUNDS


def test_a_form_save_during_an_open_referral_import_is_refused_not_overwritten(store, monkeypatch):
    """The import re-checks each partner's version in its write and then changes it: a save of the
    partner from a form in between (another connection, told to give up on a held row quickly)
    is refused in words; it must never be acknowledged and then overwritten by the import."""
    from sqlalchemy import event
    from sqlalchemy.exc import SQLAlchemyError

    from engagement import openreferral as oruk
    from engagement.openreferral import importing
    from tests.test_openreferral import CHANGED, PAGES, add_school, partners

    add_school(store)
    assert oruk.import_oruk(store, PAGES, "S1", actor="head", default_category="community centre").written
    library = partners(store)["Kings Norton Library"]
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    other = db.open_store(store.url)
    if other.dialect == "postgresql":

        @event.listens_for(other.engine, "connect")
        def _give_up_soon(dbapi_conn, _record):
            with dbapi_conn.cursor() as cursor:
                cursor.execute("SET lock_timeout = '200ms'")
            dbapi_conn.commit()  # kept for the session, not undone with the pool's rollback

        other.engine.dispose()  # the connections opened before this have no such limit

    outcome: list = []
    write = importing._write

    def form_saves_first(conn, plan, detail):
        try:
            outcome.append(
                d.save_partner(other, "flo", "S1", {"notes": "Rang Sam"}, library["partner_id"], library["version"])
            )
        except (SQLAlchemyError, d.VersionConflict) as refused:
            outcome.append(refused)
        write(conn, plan, detail)

    monkeypatch.setattr(importing, "_write", form_saves_first)
    try:
        assert oruk.import_oruk(store, [CHANGED], "S1", actor="head", default_category="community centre").written
    finally:
        other.dispose()
    after = partners(store)["Kings Norton Library"]
    [told] = outcome
    if isinstance(told, d.SaveResult):  # acknowledged: then it must still be there, and counted
        assert after["notes"] == "Rang Sam" and after["version"] == told.version + 1, (told, after)
    else:
        assert after["notes"] != "Rang Sam" and after["version"] == library["version"] + 1
