"""The Data page's Open Referral UK section with AppTest: a feed on a local server is read once,
the dry run's added, changed and closed are shown with the services no category matches, nothing
is written until the import is confirmed, and then the partners are there. Uploading is hard to
drive in AppTest, so the feed's address is the way in here (files are the same call after reading)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from engagement import store as db
from tests import oruk_feed

PAGE = Path(__file__).resolve().parent.parent / "app_pages" / "data.py"
feed_server = oruk_feed.feed_server  # the local feed (a fixture)


def counts(url) -> tuple[int, int, int]:
    store = db.open_store(url)
    with store.read() as conn:
        partners = conn.execute(
            select(func.count()).select_from(db.partners).where(db.partners.c.oruk_organisation_id.is_not(None))
        ).scalar()
        services = conn.execute(
            select(func.count()).select_from(db.services).where(db.services.c.oruk_id.is_not(None))
        ).scalar()
        events = conn.execute(
            select(func.count()).select_from(db.audit_log).where(db.audit_log.c.detail.contains("Open Referral"))
        ).scalar()
    store.dispose()
    return partners, services, events


def frame_with(at, column: str):
    """The table of the page that has ``column`` (a plain table's key is not kept by AppTest)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_the_dry_run_diff_is_shown_before_the_import_is_confirmed(demo_copy, monkeypatch, feed_server):
    url = demo_copy()
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    assert "Local authority directory (Open Referral UK)" in [h.value for h in at.header]
    assert not [b for b in at.button if b.key == "oruk_go"]  # nothing to confirm before a directory is given

    at.text_input(key="oruk_url").input(feed_server.url).run()
    at.button(key="oruk_check").click().run()
    assert not at.exception, at.exception
    assert feed_server.seen == ["/api/services?page=1", "/api/services?page=2"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Partners to add"] == "7" and metrics["Services to add"] == "10"
    changes = frame_with(at, "school's own values kept")
    assert len(changes) == 17 and set(changes["change"]) == {"added"}
    assert "Stirchley Food Bank" in set(changes["name"])
    unmapped = frame_with(at, "terms")
    assert list(unmapped["name"]) == ["Bingo Nights"] and list(unmapped["terms"]) == ["Bingo"]
    assert counts(url) == (0, 0, 0)  # the dry run wrote nothing

    # Choosing a category for the unmatched services changes the diff, still without reading the feed again.
    at.selectbox(key="oruk_default").set_value("business").run()
    assert {m.label: m.value for m in at.metric}["Partners to add"] == "8"
    assert len(feed_server.seen) == 2

    at.button(key="oruk_go").click().run()
    assert not at.exception, at.exception
    assert any("Imported: 8 partners added" in s.value.replace("\\", "") for s in at.success)
    assert counts(url) == (8, 11, 1)
    assert len(feed_server.seen) == 2  # imported what was shown, not a second reading


def test_a_feed_that_cannot_be_read_says_why_and_offers_no_import(demo_copy, monkeypatch, feed_server):
    url = demo_copy()
    monkeypatch.setenv("DATABASE_URL", url)
    feed_server.trouble["/api/services?page=1"] = [(200, {}, b"<html>not json</html>", 0)]
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.run()
    at.text_input(key="oruk_url").input(feed_server.url).run()
    at.button(key="oruk_check").click().run()
    assert not at.exception, at.exception
    assert any("could not be read" in e.value for e in at.error)
    assert any("the answer is not valid JSON" in t.value for t in at.text)
    assert not [b for b in at.button if b.key == "oruk_go"]
    assert counts(url) == (0, 0, 0)


def test_the_feed_box_reads_web_addresses_only_and_never_a_file_of_the_server(demo_copy, monkeypatch, feed_server):
    url = demo_copy()
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.run()
    # A file of the server, and a directory file the page could read as a feed if it opened paths.
    for path in ("/etc/hostname", str(oruk_feed.FEED), f"file://{oruk_feed.FEED}"):
        at.text_input(key="oruk_url").input(path).run()
        at.button(key="oruk_check").click().run()
        assert not at.exception, at.exception
        assert any("give the feed's address, starting https://" in t.value for t in at.text), path
        assert not at.metric and not [b for b in at.button if b.key == "oruk_go"]
    # A loopback address without the allow-list (the settings as shipped): refused, never asked.
    monkeypatch.delenv("ENGAGEMENT_CONFIG")
    at.text_input(key="oruk_url").input(feed_server.url).run()
    at.button(key="oruk_check").click().run()
    assert any("this server itself (loopback)" in t.value for t in at.text)
    assert feed_server.seen == [] and counts(url) == (0, 0, 0)


def test_the_directory_zip_is_built_only_when_its_button_is_pressed(demo_copy, monkeypatch):
    from engagement import openreferral

    monkeypatch.setenv("DATABASE_URL", demo_copy())
    built: list[str] = []
    real = openreferral.export_zip
    monkeypatch.setattr(openreferral, "export_zip", lambda store, school: built.append(school) or real(store, school))
    at = AppTest.from_file(str(PAGE), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    assert [b for b in at.get("download_button") if b.proto.label.startswith("Export our directory")]
    assert built == []  # shown, not built: a visit writes nothing


def test_one_click_on_the_directory_takes_a_local_offer_on(demo_copy, monkeypatch):
    url = demo_copy()
    monkeypatch.setenv("DATABASE_URL", url)
    store = db.open_store(url)
    with store.write("test") as conn:
        chosen = conn.execute(select(db.partners.c.partner_id, db.partners.c.name).limit(1)).one()
        conn.execute(
            db.partners.update().where(db.partners.c.partner_id == chosen.partner_id).values(status="local offer")
        )
    store.dispose()
    at = AppTest.from_file(str(PAGE.parent / "directory.py"), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    at.selectbox(key="dir_pick").set_value(chosen.partner_id).run()
    assert any("not yet one of the school's partners" in c.value for c in at.caption)
    at.button(key="form_take_on_prospective").click().run()
    assert not at.exception, at.exception
    store = db.open_store(url)
    with store.read() as conn:
        status = conn.execute(
            select(db.partners.c.status).where(db.partners.c.partner_id == chosen.partner_id)
        ).scalar_one()
        audit = (
            conn.execute(
                select(db.audit_log)
                .where(db.audit_log.c.record_id == chosen.partner_id)
                .order_by(db.audit_log.c.id.desc())
            )
            .mappings()
            .first()
        )
    store.dispose()
    assert status == "prospective"
    assert audit is not None and audit["action"] == "update" and "local offer" in audit["before"]
    assert not [b for b in at.button if b.key == "form_take_on_prospective"]  # taken on: no more to click
