"""Loading frames: SQLite's text-block read gives exactly what the row-by-row read gives, and a
reference holding a separator character falls back to the row-by-row read, still right."""

import datetime

import pandas as pd
import pytest

from engagement import frames as fr
from engagement import store as db
from engagement.demo import load_demo

TODAY = datetime.date(2026, 11, 23)


def _row_by_row(store, monkeypatch, school_id=None):
    with monkeypatch.context() as m:
        m.setattr(fr, "_read_sqlite_interactions", lambda *a: None)
        return fr.load_school_frames(store, school_id)


@pytest.fixture
def demo_store(sqlite_store):
    load_demo(sqlite_store, today=TODAY)
    return sqlite_store


def test_text_blocks_and_rows_agree(demo_store, monkeypatch):
    for school_id in (None, "999001"):
        fast = fr.load_school_frames(demo_store, school_id)
        slow = _row_by_row(demo_store, monkeypatch, school_id)
        for name in ("families", "partners", "interactions"):
            pd.testing.assert_frame_equal(getattr(fast, name), getattr(slow, name))
        assert len(fast.interactions) > 10_000


def test_a_reference_with_a_separator_is_read_row_by_row(demo_store, monkeypatch):
    odd = "999001-F\x1fodd\nid"
    with demo_store.write(actor="test") as conn:
        db.upsert(conn, "families", [{"family_id": odd, "school_id": "999001", "pupil_premium": True}])
        db.upsert(
            conn,
            "interactions",
            [
                {
                    "interaction_id": "odd-1",
                    "school_id": "999001",
                    "date": TODAY,
                    "family_id": odd,
                    "activity": "phone call",
                    "channel": "phone",
                    "two_way": True,
                }
            ],
        )
    calls = []
    real = fr._read_sqlite_interactions
    monkeypatch.setattr(fr, "_read_sqlite_interactions", lambda *a: calls.append(real(*a)) or calls[-1])
    frames = fr.load_school_frames(demo_store, "999001")
    assert calls == [None]  # the text-block read declined
    position = frames.families.index[frames.families["family_id"] == odd][0]
    mine = frames.interactions[frames.interactions["family"] == position]
    assert len(mine) == 1 and bool(mine["two_way"].iloc[0])


def test_postgresql_reads_the_same_as_sqlite(postgresql_store, sqlite_store):
    for store in (postgresql_store, sqlite_store):
        load_demo(store, today=TODAY)
    pg, lite = fr.load_school_frames(postgresql_store), fr.load_school_frames(sqlite_store)
    for name in ("families", "partners"):
        pd.testing.assert_frame_equal(getattr(pg, name), getattr(lite, name))
    # Interactions come in each database's own order (the metrics do not depend on it).
    order = ["school_id", "day", "family", "partner", "activity", "two_way"]
    ordered = lambda f: f.interactions.sort_values(order, kind="stable").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(ordered(pg), ordered(lite))


def test_a_contact_naming_a_family_and_a_partner_is_read_as_one_row_per_side(demo_store, monkeypatch):
    with demo_store.read() as conn:
        family, partner = (
            conn.execute(db.families.select().with_only_columns(db.families.c.family_id).limit(1)).scalar(),
            conn.execute(db.partners.select().with_only_columns(db.partners.c.partner_id).limit(1)).scalar(),
        )
        before = conn.execute(db.interactions.select()).mappings().all()
    with demo_store.write(actor="test") as conn:
        conn.execute(
            db.interactions.insert().values(
                interaction_id="both-1",
                school_id="999001",
                date=TODAY,
                family_id=family,
                partner_id=partner,
                activity="family workshop",
                channel="in person",
                two_way=True,
            )
        )
    fast = fr.load_school_frames(demo_store)
    slow = _row_by_row(demo_store, monkeypatch)
    # A message to all families (neither a family nor a partner) is no row of the frames; the new
    # contact is two rows, one per side.
    to_all = sum(1 for row in before if row["family_id"] is None and row["partner_id"] is None)
    assert len(fast.interactions) == len(before) - to_all + 2
    order = ["school_id", "day", "family", "partner", "activity", "two_way"]
    ordered = lambda f: f.interactions.sort_values(order, kind="stable").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(ordered(fast), ordered(slow))
    # The same from plain tables (the demo's own path into the frames).
    with demo_store.read() as conn:
        tables = {
            t: pd.DataFrame(conn.execute(getattr(db, t).select()).mappings().all())
            for t in ("schools", "families", "partners", "interactions")
        }
    plain = fr.frames_from_tables(tables["schools"], tables["families"], tables["partners"], tables["interactions"])
    assert len(plain.interactions) == len(fast.interactions)
    pos_f = int(fast.families.index[fast.families["family_id"] == family][0])
    pos_p = int(fast.partners.index[fast.partners["partner_id"] == partner][0])
    mine = fast.interactions[fast.interactions["activity"] == "family workshop"]
    sides = {(int(f), int(p)) for f, p in zip(mine["family"], mine["partner"], strict=True)}
    assert {(pos_f, -1), (-1, pos_p)} <= sides
