"""app.py with AppTest: it routes, loads the demo school into an empty store, and says it is demo data;
the banner's button clears the demo, and a school's name is shown as text."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engagement import store as db

APP = Path(__file__).resolve().parent.parent / "app.py"
SCHOOL_PAGE = APP.parent / "app_pages" / "school.py"


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def _run(page=None):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def test_first_start_loads_demo_school_and_says_so(app_db):
    at = _run()
    assert not at.exception
    assert at.title[0].value == "Hollybrook Primary School"
    assert any("Demo data" in m.value for m in at.markdown)
    store = db.open_store(app_db)
    assert db.has_demo_data(store)


def test_clear_demo_button_asks_first_then_empties_the_store_and_audits_what_went(demo_app_db):
    app_db = demo_app_db  # a copy of the demo school, as the first start leaves it
    at = _run("app_pages/school.py")
    assert any("Demo data" in m.value for m in at.markdown)
    # At the foot of the page, after the page's own controls (not in the sidebar, before them all).
    assert [b for b in at.main.button if b.key == "clear_demo"] and not [b for b in at.sidebar.button]
    at.button(key="clear_demo").click().run()
    assert "cannot be undone" in at.warning[0].value
    at.button(key="clear_demo_cancel").click().run()
    assert db.has_demo_data(db.open_store(app_db)) and not at.warning  # "Keep it" keeps it
    at.button(key="clear_demo").click().run()
    at.button(key="clear_demo_confirm").click().run()
    assert not at.exception
    with db.open_store(app_db).read() as conn:
        detail = conn.execute(
            db.select(db.audit_log.c.detail).where(db.audit_log.c.action == "clear demo")
        ).scalar_one()
    assert "removed demo schools" in detail and "families" in detail and "interactions" in detail
    assert not any("Demo data" in m.value for m in at.markdown)
    assert db.school_ids(db.open_store(app_db)) == []


def test_a_hostile_school_name_is_shown_as_text(app_db):
    store = db.open_store(app_db)
    with store.write(actor="test") as conn:
        db.upsert(
            conn,
            "schools",
            [
                {
                    "school_id": "X1",
                    "name": "**Bold** [x](http://x) <img src=x onerror=alert(1)>",
                    "postcode": "B1 1AA",
                    "demo": False,
                }
            ],
        )
    at = AppTest.from_file(str(SCHOOL_PAGE), default_timeout=60).run()
    assert not at.exception
    title = at.title[0].value
    # Every markdown character is escaped, so Streamlit shows the name exactly as written.
    assert title.startswith("\\*\\*Bold\\*\\* \\[x\\]\\(http") and "\\<img" in title


def test_a_failing_page_shows_a_plain_message_and_logs_its_reference(demo_app_db, monkeypatch, caplog):
    import engagement.summary

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail: /var/lib/engagement.db")

    at = _run()
    monkeypatch.setattr(engagement.summary, "school_summary", broken)
    at.switch_page("app_pages/school.py").run()
    assert not at.exception  # no traceback reaches the user
    message = at.error[0].value
    assert "Something went wrong" in message and "secret detail" not in message
    reference = message.rsplit("**", 2)[-2]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and "secret detail" in str(logged[0].exc_info[1])


def test_streamlit_shows_no_error_details_and_no_raw_table_export():
    # Tables' built-in "Download as CSV" writes =HYPERLINK(...) raw; tracebacks are for the log.
    import tomllib

    with open(APP.parent / ".streamlit" / "config.toml", "rb") as f:
        client = tomllib.load(f)["client"]
    assert client["showErrorDetails"] == "none" and client["disableDataExport"] is True


def test_demo_prints_no_database_password(tmp_path, capsys, monkeypatch):
    from engagement import cli

    real_open = db.open_store

    def open_with_password(url):
        store = real_open(f"sqlite:///{tmp_path / 'demo.db'}")
        store.url = "postgresql+psycopg://app:s3cret@db.example/engagement"  # as a PostgreSQL store would say
        return store

    monkeypatch.setattr(db, "open_store", open_with_password)
    assert cli.main(["demo", "--db", "postgresql://app:s3cret@db.example/engagement"]) == 0
    out = capsys.readouterr().out
    assert "s3cret" not in out and "app:***@db.example" in out
