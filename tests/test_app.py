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


def test_clear_demo_button_empties_the_store(demo_app_db):
    at = AppTest.from_file(str(SCHOOL_PAGE), default_timeout=60).run()
    assert any("Demo data" in m.value for m in at.markdown)
    at.button(key="clear_demo").click().run()
    assert not at.exception
    assert not any("Demo data" in m.value for m in at.markdown)
    assert db.school_ids(db.open_store(demo_app_db)) == []


def test_a_hostile_school_name_is_shown_as_text(app_db):
    store = db.open_store(app_db)
    with store.write(actor="test") as conn:
        db.upsert(conn, "schools", [{"school_id": "X1", "name": "**Bold** [x](http://x) <img src=x onerror=alert(1)>",
                                     "postcode": "B1 1AA", "demo": False}])
    at = AppTest.from_file(str(SCHOOL_PAGE), default_timeout=60).run()
    assert not at.exception
    title = at.title[0].value
    # Every markdown character is escaped, so Streamlit shows the name exactly as written.
    assert title.startswith("\\*\\*Bold\\*\\* \\[x\\]\\(http") and "\\<img" in title
