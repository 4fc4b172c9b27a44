"""The school's week recorded three ways give the same figures: an event register of 80 families,
four referrals moved through their statuses and six families linked to a club, written through
the domain functions, through the CSV imports, and through export then import again.

Worked by hand (window 1 Sep - 19 Dec 2026, school of 90 families F001..F090):
  parents' evening 7 Oct, F001..F080, attendees 95 (parents not on roll came too), 6.5 volunteer hours,
  run with the club P3 -> events {held 1, attendance 95, volunteer_hours 6.5}; 80 two-way family
  contacts: reached 80 of 90 = 0.8889; the club has one two-way contact for the evening.
  R1 F001 -> food bank: sent 10 Sep, accepted 12 Sep, completed 1 Oct
  R2 F002 -> food bank: sent 15 Sep, declined 16 Sep ("no capacity")
  R3 F003 -> early help: sent 20 Sep, no longer needed 5 Oct
  R4 F085 -> early help: sent 1 Oct, no reply -> on 10 Nov, 40 days: raised on the worklist
  -> referrals {made 4, sent 1, accepted 0, declined 1, completed 1, no_longer_needed 1, open 1};
     the food bank: 2 made, 1 accepted (R1 passed through accepted), 0 open.
  club P3: F010..F015 members from 1 Sep -> 6 families use it.
"""

from __future__ import annotations

import datetime
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from cli_inprocess import run_cli
from sqlalchemy import func, select

from engagement import store as db
from engagement.events import UnknownReferences, list_events, register, save_register
from engagement.frames import load_school_frames
from engagement.outreach import worklist
from engagement.referrals import (
    InvalidReferral,
    families_using,
    family_links,
    link_family,
    partner_referral_counts,
    partner_summary,
    refer,
    referrals,
    update_status,
)
from engagement.scoring import score_card
from engagement.week import week_card
from engagement.week_files import export_week, import_week_files, week_tables

D = datetime.date
START, END, TODAY = D(2026, 9, 1), D(2026, 12, 19), D(2026, 11, 10)
FAMILIES = [f"F{i:03d}" for i in range(1, 91)]
CAME = FAMILIES[:80]
CLUB = FAMILIES[9:15]
EXPECTED_WEEK = {
    "events": {"held": 1, "attendance": 95, "volunteer_hours": 6.5},
    "referrals": {"made": 4, "sent": 1, "accepted": 0, "declined": 1, "completed": 1, "no_longer_needed": 1, "open": 1},
}


def write_school(store: db.Store) -> None:
    with store.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2AA"))
        conn.execute(
            db.families.insert(),
            [
                {"family_id": f, "school_id": "S1", "send": i < 12, "needs": "food;housing" if i < 3 else None}
                for i, f in enumerate(FAMILIES)
            ],
        )
        conn.execute(
            db.partners.insert(),
            [
                {
                    "partner_id": "P1",
                    "school_id": "S1",
                    "name": "Stirchley Food Bank",
                    "category": "food bank",
                    "layer": 3,
                    "services": "food;clothing",
                },
                {
                    "partner_id": "P2",
                    "school_id": "S1",
                    "name": "Early Help Hub",
                    "category": "early help",
                    "layer": 2,
                    "services": None,
                },
                {
                    "partner_id": "P3",
                    "school_id": "S1",
                    "name": "Kings Heath Boxing Club",
                    "category": "sports club",
                    "layer": 3,
                    "services": None,
                },
            ],
        )


def record_week_by_functions(store: db.Store) -> None:
    save_register(
        store,
        "flo:amy",
        school_id="S1",
        event_id="E-PE",
        date=D(2026, 10, 7),
        activity="parents evening",
        family_ids=CAME,
        partner_ids=["P3"],
        attendees=95,
        volunteer_hours=6.5,
        today=TODAY,
    )
    r1 = refer(
        store,
        "flo:amy",
        school_id="S1",
        family_id="F001",
        partner_id="P1",
        date=D(2026, 9, 10),
        reasons=["food"],
        referral_id="R1",
        today=TODAY,
    )
    update_status(store, "flo:amy", r1, "accepted", D(2026, 9, 12), today=TODAY)
    update_status(store, "flo:amy", r1, "completed", D(2026, 10, 1), today=TODAY)
    r2 = refer(
        store,
        "flo:amy",
        school_id="S1",
        family_id="F002",
        partner_id="P1",
        date=D(2026, 9, 15),
        referral_id="R2",
        today=TODAY,
    )
    update_status(store, "flo:amy", r2, "declined", D(2026, 9, 16), decline_reason="no capacity", today=TODAY)
    r3 = refer(
        store,
        "flo:amy",
        school_id="S1",
        family_id="F003",
        partner_id="P2",
        date=D(2026, 9, 20),
        referral_id="R3",
        today=TODAY,
    )
    update_status(store, "flo:amy", r3, "no longer needed", D(2026, 10, 5), today=TODAY)
    refer(
        store,
        "flo:amy",
        school_id="S1",
        family_id="F085",
        partner_id="P2",
        date=D(2026, 10, 1),
        referral_id="R4",
        today=TODAY,
    )
    for family in CLUB:
        link_family(
            store, "flo:amy", school_id="S1", family_id=family, partner_id="P3", relation="member", start=D(2026, 9, 1)
        )


def week_csv_files(folder: Path) -> list[Path]:
    rows = ["event_id,date,activity,partner_id,family_id,attendees,volunteer_hours,money_raised"]
    rows += [
        f"E-PE,07/10/2026,Parents Evening,P3,{f},{'95' if n == 0 else ''},{'6.5' if n == 0 else ''},"
        for n, f in enumerate(CAME)
    ]
    (folder / "events.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "referrals.csv").write_text(
        "referral_id,family_id,partner_id,date,reasons,status,status_date,decline_reason\n"
        "R1,F001,P1,2026-09-10,food,completed,2026-10-01,\n"
        "R2,F002,P1,2026-09-15,,declined,2026-09-16,no capacity\n"
        "R3,F003,P2,2026-09-20,,no longer needed,2026-10-05,\n"
        "R4,F085,P2,2026-10-01,,sent,,\n",
        encoding="utf-8",
    )
    (folder / "family_partners.csv").write_text(
        "family_id,partner_id,relation,start,end\n" + "".join(f"{f},P3,member,2026-09-01,\n" for f in CLUB),
        encoding="utf-8",
    )
    return [folder / n for n in ("events.csv", "referrals.csv", "family_partners.csv")]


def figures(store: db.Store) -> tuple:
    card = score_card(load_school_frames(store, "S1"), "S1", START, END)
    return (
        week_card(store, "S1", START, END),
        card["families"]["reached"],
        card["community"]["engaged"],
        families_using(store, "P3", TODAY),
    )


def test_the_week_by_hand_gives_the_worked_figures(store):
    write_school(store)
    record_week_by_functions(store)
    week, reached, engaged, club = figures(store)
    assert week == EXPECTED_WEEK
    assert (reached, club) == (80, 6)
    assert engaged == 1  # the club that ran the evening with the school (the food bank had referrals, no contact)
    assert register(store, "E-PE") == sorted(CAME)
    assert list_events(store, "S1")[["event_id", "families", "attendees"]].to_dict("records") == [
        {"event_id": "E-PE", "families": 80, "attendees": 95}
    ]
    assert partner_referral_counts(store, "P1") == {"made": 2, "accepted": 1, "declined": 1, "open": 0}
    assert family_links(store, family_id="F010", today=TODAY)["partner"].tolist() == ["Kings Heath Boxing Club"]
    # Governors: counts of families rounded to 10, under it the words, never 1 to 9.
    governor = week_card(store, "S1", START, END, governor=True)["referrals"]
    assert governor["made"] is None and governor["suppressed"] is True
    assert partner_summary(store, "P3", for_governor=True)["Families using it"] == "fewer than 10"


def test_the_same_week_through_the_csv_imports_and_back_through_the_export(store, tmp_path):
    write_school(store)
    report = import_week_files(store, week_csv_files(tmp_path), actor="cli:test")
    assert report.ok, report.format()
    assert report.counts["events"]["family contacts"] == 80
    assert figures(store)[0] == EXPECTED_WEEK and figures(store)[1:] == (80, 1, 6)
    # Imported twice: nothing new (a register adds families not yet on it; referrals by id).
    again = import_week_files(store, week_csv_files(tmp_path), actor="cli:test")
    assert again.counts["events"]["family contacts"] == 0 and again.counts["referrals"]["unchanged"] == 4
    assert figures(store)[0] == EXPECTED_WEEK
    exported = export_week(store, tmp_path / "out")
    assert [p.name for p in exported] == ["events.csv", "referrals.csv", "referral_steps.csv", "family_partners.csv"]
    fresh = db.open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    write_school(fresh)
    back = import_week_files(fresh, exported, actor="cli:test")
    assert back.ok, back.format()
    assert figures(fresh) == figures(store)
    fresh.dispose()


def test_functions_and_imports_store_the_same_week(sqlite_store, tmp_path):
    write_school(sqlite_store)
    record_week_by_functions(sqlite_store)
    other = db.open_store(f"sqlite:///{tmp_path / 'other.db'}")
    write_school(other)
    assert import_week_files(other, week_csv_files(tmp_path), actor="t").ok
    mine, theirs = week_tables(sqlite_store), week_tables(other)
    for kind in ("events", "referrals", "family_partners"):
        assert mine[kind].drop(columns=["staff"], errors="ignore").astype(object).fillna("").to_dict(
            "records"
        ) == theirs[kind].drop(columns=["staff"], errors="ignore").astype(object).fillna("").to_dict("records"), kind
    other.dispose()


def _counts(store) -> tuple[int, ...]:
    with store.read() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar()
            for t in (db.interactions, db.events, db.referrals, db.family_partners, db.audit_log)
        )


def test_an_unknown_reference_saves_nothing_and_is_listed(store):
    write_school(store)
    before = _counts(store)
    with pytest.raises(UnknownReferences) as refused:
        save_register(
            store,
            "flo",
            school_id="S1",
            date=D(2026, 10, 7),
            activity="family workshop",
            family_ids=["F001", "F999", "f002", "F003"],
            today=TODAY,
        )
    assert refused.value.unknown == ["F999", "f002"]
    assert _counts(store) == before


def test_a_bad_file_imports_nothing_and_says_where(store, tmp_path):
    write_school(store)
    files = week_csv_files(tmp_path)
    (tmp_path / "referrals.csv").write_text(
        "referral_id,family_id,partner_id,date,status\nR1,F001,P1,2026-09-10,sent\nR2,F404,P1,31/02/2026,lost\n",
        encoding="utf-8",
    )
    before = _counts(store)
    report = import_week_files(store, files, actor="t")
    assert not report.ok
    where = {(p.file, p.row, p.column) for p in report.errors}
    assert ("referrals.csv", 3, "status") in where
    assert _counts(store) == before


def test_referral_statuses_are_checked(store):
    write_school(store)
    rid = refer(store, "flo", school_id="S1", family_id="F001", partner_id="P1", date=D(2026, 9, 10), today=TODAY)
    with pytest.raises(InvalidReferral, match="declined"):
        update_status(store, "flo", rid, "declined", D(2026, 9, 11), today=TODAY)
    with pytest.raises(InvalidReferral, match="cannot be earlier"):
        update_status(store, "flo", rid, "accepted", D(2026, 9, 1), today=TODAY)
    with pytest.raises(InvalidReferral, match="not a referral status"):
        update_status(store, "flo", rid, "lost", D(2026, 9, 11), today=TODAY)
    with pytest.raises(InvalidReferral, match=r"another school|no family"):
        refer(store, "flo", school_id="S1", family_id="G1", partner_id="P1", date=D(2026, 9, 10), today=TODAY)


def test_a_referral_with_no_reply_raises_its_family_on_the_worklist(store):
    write_school(store)
    record_week_by_functions(store)
    listed = worklist(store, "S1", today=TODAY, days=42)
    row = listed[listed["family_id"] == "F085"].iloc[0]
    assert "referral to Early Help Hub sent 40 days ago, no reply +2" in row["reasons"]
    # F001 was at the parents' evening (two-way, 34 days ago): not on a 42-day list, and its referral is done.
    assert "F001" not in set(listed["family_id"])
    oldest_first = referrals(store, "S1", open_only=True, today=TODAY)
    assert oldest_first["referral_id"].tolist() == ["R4"] and bool(oldest_first["no_reply"].iloc[0])


def test_two_staff_marking_one_register_at_once_lose_nothing(sqlite_store):
    write_school(sqlite_store)
    save_register(
        sqlite_store,
        "flo:a",
        school_id="S1",
        event_id="E1",
        date=D(2026, 10, 7),
        activity="family workshop",
        today=TODAY,
    )
    halves = [FAMILIES[:50], FAMILIES[40:]]
    errors: list[BaseException] = []

    def mark(families):
        try:
            save_register(
                sqlite_store,
                "flo",
                school_id="S1",
                event_id="E1",
                date=D(2026, 10, 7),
                activity="family workshop",
                family_ids=families,
                today=TODAY,
            )
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=mark, args=(h,)) for h in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert register(sqlite_store, "E1") == sorted(FAMILIES)


def test_a_register_of_80_families_takes_no_more_statements_than_one_of_8(sqlite_store):
    """Saving a register is a fixed handful of statements, not one round trip per family (how fast
    it is, is measured by ``python -m engagement bench``'s register section, not by a timed test)."""
    write_school(sqlite_store)

    def statements(event_id: str, families: list[str]) -> int:
        executed: list[str] = []

        def count(conn, cursor, statement, *args):
            executed.append(statement)

        sa.event.listen(sqlite_store.engine, "before_cursor_execute", count)
        try:
            save_register(
                sqlite_store,
                "flo",
                school_id="S1",
                event_id=event_id,
                date=D(2026, 10, 7),
                activity="parents evening",
                family_ids=families,
                today=TODAY,
            )
        finally:
            sa.event.remove(sqlite_store.engine, "before_cursor_execute", count)
        return len(executed)

    assert statements("E80", CAME) == statements("E8", CAME[:8])
    assert register(sqlite_store, "E80") == sorted(CAME) and register(sqlite_store, "E8") == sorted(CAME[:8])


def test_the_command_line_imports_exports_and_scores_the_week(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = db.open_store(url)
    write_school(store)
    store.dispose()
    run = lambda *a: run_cli(*a, "--db", url)  # noqa: E731
    done = run("import", *map(str, week_csv_files(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert "events: 1 events, 80 family contacts" in done.stdout
    import json

    card = json.loads(run("score", "--json", "--from", "2026-09-01", "--to", "2026-12-19").stdout)
    assert {k: card[k] for k in ("events", "referrals")} == EXPECTED_WEEK
    governor = json.loads(
        run("score", "--json", "--for", "governor", "--from", "2026-09-01", "--to", "2026-12-19").stdout
    )
    assert governor["referrals"]["made"] is None and governor["referrals"]["suppressed"] is True
    out = run("export", str(tmp_path / "export"))
    assert out.returncode == 0 and "referrals.csv" in out.stdout
    assert (tmp_path / "export" / "events.csv").read_text(encoding="utf-8-sig").count("E-PE") == 80


def test_a_whole_export_with_registers_imports_into_an_empty_store_as_it_was(sqlite_store, tmp_path):
    """interactions.csv names each register contact's event and events.csv lists who came: imported
    together into an empty store, each contact is on its register once, with its own reference."""
    from cli_inprocess import run_cli

    write_school(sqlite_store)
    assert import_week_files(sqlite_store, week_csv_files(tmp_path), actor="cli:test").ok
    out = tmp_path / "out"
    assert run_cli("export", out, "--db", sqlite_store.url).returncode == 0
    header = (out / "interactions.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.endswith("event_id")
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    done = run_cli("import", *sorted(out.glob("*.csv")), "--db", fresh_url)
    assert done.returncode == 0, done.stderr
    fresh = db.open_store(fresh_url)
    try:
        for table in (db.interactions, db.event_contacts, db.events, db.referrals, db.family_partners):
            with sqlite_store.read() as a, fresh.read() as b:
                query = select(table).order_by(*table.primary_key.columns)
                assert [dict(r) for r in a.execute(query).mappings()] == [
                    dict(r) for r in b.execute(query).mappings()
                ], table.name
        assert figures(fresh) == figures(sqlite_store)
    finally:
        fresh.dispose()


def test_a_dry_run_counts_what_the_import_does_and_takes_no_write_lock(store, tmp_path, monkeypatch):
    """Issue 23: the week files' dry run took the store's write lock on every rerun of the Data page
    while files sat in its uploader; a colleague saving a contact waited for it."""
    write_school(store)
    files = week_csv_files(tmp_path)
    before = _counts(store)
    if store.dialect == "sqlite":
        # Another writer holds the lock for the whole dry run; the dry run must not need it.
        monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
        checking = db.open_store(store.url)
        holder = store.engine.connect().execution_options(write=True)
        holder.begin()
        holder.execute(db.schools.update().where(db.schools.c.school_id == "S1").values(name="Held"))
    else:
        checking = store
    try:
        dry = import_week_files(checking, files, actor="t", dry_run=True)
    finally:
        if store.dialect == "sqlite":
            holder.rollback()
            holder.close()
            checking.dispose()
    assert dry.ok, dry.format()
    assert _counts(store) == before  # nothing written
    done = import_week_files(store, files, actor="t")
    assert done.ok, done.format()
    assert dry.counts == done.counts
