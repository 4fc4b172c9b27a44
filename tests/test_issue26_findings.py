"""The smaller findings of issue 26, each with the test that failed before its fix: a save of some
of a partner's fields keeps its place on the map, and the security review's low findings."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from engagement import directory as d
from engagement import store as db
from tests.test_access import APP, AUTH, ROLES


def seed_partner(store) -> None:
    with store.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2QX"))
        conn.execute(
            db.partners.insert().values(
                partner_id="P1",
                school_id="S1",
                name="Oak Library",
                category="library",
                layer=3,
                address="1 Oak Road",
                postcode="B30 2AA",
                latitude=52.431,
                longitude=-1.921,
            )
        )


def test_a_save_of_some_fields_keeps_the_partner_on_the_map(store):
    seed_partner(store)
    saved = d.save_partner(store, "flo", "S1", {"notes": "Rang them"}, "P1", expected_version=1, online=False)
    assert saved.ok and saved.placed == ""
    with store.read() as conn:
        row = conn.execute(select(db.partners).where(db.partners.c.partner_id == "P1")).mappings().one()
    assert (row["latitude"], row["longitude"], row["postcode"], row["notes"]) == (
        52.431,
        -1.921,
        "B30 2AA",
        "Rang them",
    )
    # A save naming the same postcode (another case) does not move it either; a new one does.
    d.save_partner(store, "flo", "S1", {"postcode": "b30 2aa"}, "P1", online=False)
    moved = d.save_partner(store, "flo", "S1", {"postcode": "B30 9ZZ"}, "P1", online=False)
    with store.read() as conn:
        row = conn.execute(select(db.partners).where(db.partners.c.partner_id == "P1")).mappings().one()
    assert moved.placed.startswith("Not placed on the map") and row["latitude"] is None


@pytest.mark.parametrize("claim", ["false", "False", "0"])
def test_an_address_the_provider_calls_unverified_in_text_gets_no_role(demo_app_db, claim):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = AUTH
    at.secrets["roles"] = ROLES
    at.user = {"is_logged_in": True, "email": "head@hollybrook.sch.uk", "email_verified": claim}
    at.run()
    assert not at.exception
    assert "No access yet" in [t.value for t in at.title]


def test_a_family_reference_taken_off_a_register_is_shown_as_text(tmp_path, monkeypatch):
    from engagement import events
    from engagement.text import md_escape
    from tests.test_week import write_school

    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    odd = "[F9](https://example.org) **now**"
    store = db.open_store(url)
    write_school(store)
    with store.write("setup") as conn:
        conn.execute(db.families.insert().values(family_id=odd, school_id="S1"))
    saved = events.save_register(
        store,
        "flo",
        school_id="S1",
        date="2026-10-07",
        activity="parents evening",
        family_ids=[odd],
        today="2026-10-08",
    )
    store.dispose()
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("app_pages/week.py").run()  # straight to the page, as by its address
    at.selectbox(key="week_event").set_value(saved.event_id).run()
    at.selectbox(key="week_event_remove_family").set_value(odd).run()
    at.checkbox(key="week_event_remove_sure").check().run()
    at.button(key="week_event_remove").click().run()
    assert not at.exception
    assert at.success[0].value == f"{md_escape(odd)} was taken off the register."


def test_retention_erases_old_decline_reasons_and_event_notes_with_their_audit_copies(store):
    import datetime

    from engagement import events, referrals
    from engagement.privacy import apply_retention

    seed_partner(store)
    with store.write("setup") as conn:
        conn.execute(db.families.insert(), [{"family_id": f, "school_id": "S1"} for f in ("F1", "F2")])
    old = referrals.refer(store, "flo", school_id="S1", family_id="F1", partner_id="P1", date="2024-01-05")
    referrals.update_status(store, "flo", old, "declined", "2024-02-01", decline_reason="Moved to Leeds")
    new = referrals.refer(store, "flo", school_id="S1", family_id="F2", partner_id="P1", date="2024-01-06")
    # Declined on 1 November, seen from the retention's day (on the suite's own day that was in the future on 31 October).
    referrals.update_status(
        store, "flo", new, "declined", "2026-11-01", decline_reason="Full this term", today="2026-11-23"
    )
    events.save_register(
        store,
        "flo",
        school_id="S1",
        date="2024-01-10",
        activity="coffee morning",
        family_ids=["F1"],
        notes="Mum upset about housing",
        today="2024-01-10",
    )
    events.save_register(
        store,
        "flo",
        school_id="S1",
        date="2026-11-10",
        activity="coffee morning",
        family_ids=["F2"],
        notes="Cake sale next time",
        today="2026-11-10",
    )
    apply_retention(store, "retention", today=datetime.date(2026, 11, 23), days=365)
    with store.read() as conn:
        reasons = dict(conn.execute(select(db.referrals.c.referral_id, db.referrals.c.decline_reason)).all())
        steps = set(conn.execute(select(db.referral_steps.c.note)).scalars())
        notes = set(conn.execute(select(db.events.c.notes)).scalars())
        log = " ".join(
            str(v) for row in conn.execute(select(db.audit_log.c.before, db.audit_log.c.after)).all() for v in row
        )
    assert reasons == {old: None, new: "Full this term"}
    assert steps == {None, "Full this term"}
    assert notes == {None, "Cake sale next time"}
    assert "Moved to Leeds" not in log and "Mum upset" not in log
    assert "Full this term" in log and "Cake sale next time" in log


def test_deleting_a_partner_keeps_a_copy_of_its_referrals_and_family_links_in_the_audit_log(store):
    import json

    from engagement import referrals

    seed_partner(store)
    with store.write("setup") as conn:
        conn.execute(db.families.insert().values(family_id="F1", school_id="S1"))
    rid = referrals.refer(store, "flo", school_id="S1", family_id="F1", partner_id="P1", date="2026-09-01")
    referrals.update_status(store, "flo", rid, "accepted", "2026-09-03", today="2026-09-04")
    referrals.link_family(store, "flo", school_id="S1", family_id="F1", partner_id="P1", relation="member")
    gone = d.delete_partner(store, "admin@school", "admin", "P1")
    assert gone["referrals"] == 1 and gone["family_partners"] == 1
    with store.read() as conn:
        copies = {
            (r.table_name, r.record_id): json.loads(r.before)
            for r in conn.execute(
                select(db.audit_log.c.table_name, db.audit_log.c.record_id, db.audit_log.c.before).where(
                    db.audit_log.c.action == "delete"
                )
            )
        }
    referral = copies[("referrals", rid)]
    assert (referral["family_id"], referral["status"]) == ("F1", "accepted")
    assert [s["status"] for s in referral["steps"]] == ["sent", "accepted"]
    assert copies[("family_partners", "F1|P1")]["relation"] == "member"
    assert copies[("partners", "P1")]["name"] == "Oak Library"
    # The family's later erasure reaches these copies too.
    from engagement.privacy import erase_family

    erase_family(store, "F1", "admin@school")
    with store.read() as conn:
        images = [str(v) for row in conn.execute(select(db.audit_log.c.before, db.audit_log.c.after)) for v in row]
    assert not any('"F1"' in image for image in images)


def test_an_import_refusing_another_schools_family_does_not_say_which_school_it_is_of(store):
    from engagement import interchange
    from engagement import send_belonging_files as sb

    with store.write("setup") as conn:
        conn.execute(
            db.schools.insert(),
            [
                {"school_id": "S1", "name": "Hollybrook", "postcode": "B30 2QX"},
                {"school_id": "S2", "name": "Oakfield", "postcode": "B29 6AA"},
            ],
        )
        conn.execute(db.families.insert().values(family_id="F9", school_id="S2"))
    reasons = []
    for text, engine, kind in (
        (b"date,family_id,activity,school_id\n2026-09-14,F9,phone call,S1\n", interchange, "interactions.csv"),
        (b"family_id,school_id\nF9,S1\n", interchange, "families.csv"),
        (b"survey,date,question,answer,family_id\nbelonging,2026-05-06,belong,agree,F9\n", sb, "survey_responses.csv"),
    ):
        for school in ("S1", None):
            report = engine.import_files(store, [(kind, text)], school_id=school, allowed_schools=["S1"])
            assert not report.ok and report.errors[0].column in ("family_id", "school_id"), report.errors
            reasons.append(report.errors[0].reason)
    assert not [r for r in reasons if "S2" in r or "Oakfield" in r], reasons
