"""The outreach planner's rules, on hand-built families: who is on the worklist, in what order and
why; which partners it suggests, how far away; the exports; the same list from the store (SQLite
and PostgreSQL) and from the command line."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from cli_inprocess import run_cli
from geopy.distance import geodesic

from engagement import outreach as o
from engagement import store as db
from engagement.terms import default_calendar

TODAY = datetime.date(2026, 11, 23)
ROOT = Path(__file__).resolve().parent.parent
HOME = (52.4318, -1.9282)


def ago(days: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=days)


def family(family_id, **kw):
    row = {
        "family_id": family_id,
        "postcode": None,
        "year_groups": "3",
        "needs": None,
        "preferred_channel": "phone",
        "language": "English",
    }
    row.update(kw)
    return row


def contact(family_id, days_ago, two_way=True):
    return {"family_id": family_id, "date": ago(days_ago), "two_way": two_way}


def frames(families, interactions=(), partners=(), gazetteer=(), days=42, calendar=None):
    # Plain tables count calendar days unless given the school's calendar (the store's path always is).
    return o.frames_from_tables(
        "S1",
        pd.DataFrame(families),
        pd.DataFrame(list(interactions)),
        pd.DataFrame(list(partners)),
        pd.DataFrame(list(gazetteer)),
        today=TODAY,
        days=days,
        calendar=calendar,
    )


def ids(frame) -> list[str]:
    return frame["family_id"].tolist()


# ---------------------------------------------------------------- who is on the list, in what order


def test_looked_after_never_contacted_ranks_above_a_family_contacted_twenty_days_ago():
    fr = frames(
        [family("A-contacted"), family("Z-looked-after", looked_after=True)], [contact("A-contacted", 20)], days=14
    )
    wl = o.worklist(fr)
    assert ids(wl) == ["Z-looked-after", "A-contacted"]
    top = wl.iloc[0]
    assert top["priority"] > wl.iloc[1]["priority"]
    assert top["reasons"] == "looked after +5, never in two-way contact +4"
    assert pd.isna(top["days_since"]) and top["last_two_way"] is None
    assert wl.iloc[1]["days_since"] == 20 and wl.iloc[1]["last_two_way"] == ago(20)


def test_a_two_way_contact_within_the_window_takes_a_family_off_the_list_and_one_way_does_not():
    fr = frames(
        [family("in-touch"), family("boundary"), family("just-in"), family("told-only")],
        [
            contact("in-touch", 3),
            contact("boundary", 42),
            contact("just-in", 41),
            contact("told-only", 2, two_way=False),
            contact("told-only", 60),
        ],
    )
    wl = o.worklist(fr)
    # The last 42 days are today and the 41 before it: a contact 42 days ago is outside them.
    assert set(ids(wl)) == {"boundary", "told-only"}
    told = wl.set_index("family_id").loc["told-only"]
    assert told["one_way_contacts"] == 1
    assert "1 one-way contact in 42 days, none two-way +1" in told["reasons"]


def test_a_family_on_the_list_for_a_move_with_a_recent_two_way_contact_is_not_called_none_two_way():
    """Issue 27, item 1: a family listed for its SEND move showed a two-way contact 5 days ago next to
    "none two-way"."""
    fr = o.frames_from_tables(
        "S1",
        pd.DataFrame([family("moving")]),
        pd.DataFrame([contact("moving", 5), contact("moving", 2, two_way=False)]),
        today=TODAY,
        days=42,
        moves=pd.DataFrame([{"family_id": "moving", "date": ago(-20), "days_to_go": 20}]),
    )
    row = o.worklist(fr).set_index("family_id").loc["moving"]
    assert row["days_since"] == 5
    assert "none two-way" not in row["reasons"] and "SEND move in 20 days" in row["reasons"]


def test_contacts_dated_after_today_are_ignored():
    wl = o.worklist(frames([family("F1")], [contact("F1", -5)]))
    assert ids(wl) == ["F1"] and wl.iloc[0]["reasons"] == "never in two-way contact +4"


def test_each_part_of_the_priority_is_weighted_and_explained():
    fr = frames(
        [family("F1", send=True, pupil_premium=True, eal=True, young_carer=True, year_groups="R;4")],
        [contact("F1", 95), contact("F1", 10, two_way=False), contact("F1", 5, two_way=False)],
    )
    row = o.worklist(fr).iloc[0]
    # SEND 3 + pupil premium 3 + young carer 3 + EAL 1 + 3 whole months 3 + Reception 2 + one-way 1
    assert row["priority"] == 16
    assert row["reasons"] == (
        "SEND +3, pupil premium +3, young carer +3, EAL +1, "
        "95 days since the last two-way contact +3, transition: Reception +2, "
        "2 one-way contacts in 42 days, none two-way +1"
    )
    assert row["flags"] == "SEND;pupil premium;young carer;EAL"


def test_recency_is_capped_so_a_family_never_reached_is_not_outranked_on_recency_alone():
    fr = frames([family("A-long-ago"), family("B-never")], [contact("A-long-ago", 400)])
    wl = o.worklist(fr)
    assert ids(wl) == ["B-never", "A-long-ago"]
    assert wl.iloc[0]["priority"] == wl.iloc[1]["priority"] == 4
    assert wl.iloc[1]["reasons"] == "400 days since the last two-way contact +4"


def test_ties_are_broken_never_first_then_longest_without_contact_then_by_reference():
    rows = [family("F-c"), family("F-a"), family("F-b"), family("F-d"), family("F-e")]
    inter = [contact("F-d", 50), contact("F-e", 55), contact("F-a", 50), contact("F-b", 50), contact("F-c", 50)]
    # F-a..F-d: 50 days (+1 each); F-e 55 days (+1): same priority, F-e waited longest.
    wl = o.worklist(frames(rows, inter))
    assert ids(wl) == ["F-e", "F-a", "F-b", "F-c", "F-d"]
    again = o.worklist(frames(list(reversed(rows)), list(reversed(inter))))
    assert ids(again) == ids(wl)


def test_transition_reception_year_six_and_new_starters():
    fr = frames(
        [
            family("year6", year_groups="Year 6"),
            family("reception", year_groups="Reception;2"),
            family("new", year_groups="3"),
            family("settled", year_groups="3"),
            family("unknown", year_groups="3"),
        ],
        [contact("new", 50, two_way=False), contact("settled", 90, two_way=False)],
    )
    wl = o.worklist(fr).set_index("family_id")
    assert "transition: Year 6 +2" in wl.loc["year6", "reasons"]
    assert "transition: Reception +2" in wl.loc["reception", "reasons"]
    assert wl.loc["reception", "year_groups"] == "R;2"
    assert "transition: new starter +2" in wl.loc["new", "reasons"] and wl.loc["new", "new_starter"]
    # First contact 90 days ago, or no record at all: not a new starter.
    assert "transition" not in wl.loc["settled", "reasons"] and not wl.loc["settled", "new_starter"]
    assert "transition" not in wl.loc["unknown", "reasons"]


def test_weights_come_from_the_config_file(tmp_path, monkeypatch):
    fr = frames([family("eal", eal=True), family("send", send=True)])
    assert ids(o.worklist(fr)) == ["send", "eal"]
    config = (ROOT / "data" / "config.toml").read_text().replace("eal = 1\n", "eal = 7\n", 1)
    (tmp_path / "config.toml").write_text(config)
    monkeypatch.setenv("ENGAGEMENT_CONFIG", str(tmp_path / "config.toml"))
    wl = o.worklist(fr)
    assert ids(wl) == ["eal", "send"] and wl.iloc[0]["reasons"].startswith("EAL +7")


def test_filters_by_year_group_flag_sector_channel_and_language():
    fr = frames(
        [
            family(
                "F1", year_groups="R;3", send=True, postcode="b30 2qx", preferred_channel="Phone", language="Polish"
            ),
            family("F2", year_groups="6", eal=True, postcode="B29 6AB", preferred_channel="digital", language="Urdu"),
            family("F3", year_groups="3", postcode=None, preferred_channel="letter", language="English"),
        ]
    )
    wl = o.worklist(fr)
    assert ids(o.worklist(fr, year_group="Year 3")) == ["F1", "F3"]
    assert ids(o.worklist(fr, year_group="reception")) == ["F1"]
    assert ids(o.worklist(fr, flag="send")) == ["F1"] and ids(o.worklist(fr, flag="EAL")) == ["F2"]
    assert ids(o.worklist(fr, sector="B30 2")) == ["F1"]
    assert ids(o.worklist(fr, channel="phone")) == ["F1"]
    assert ids(o.worklist(fr, language="urdu")) == ["F2"]
    assert o.worklist(fr, flag="send", language="Urdu").empty
    with pytest.raises(ValueError, match="not a flag"):
        o.worklist(fr, flag="tall")
    choices = o.filter_choices(wl)
    assert choices["year_group"] == ["R", "3", "6"]
    assert choices["flag"] == ["SEND", "EAL"]
    assert choices["sector"] == ["B29 6", "B30 2"]
    assert choices["language"] == ["English", "Polish", "Urdu"]
    assert wl.set_index("family_id").loc["F1", "postcode"] == "B30 2QX"


# ---------------------------------------------------------------- partners near a family


def partner(pid, services, north_km, east_km=0.0, status="active", name=None):
    lat = HOME[0] + north_km / 111.2
    lon = HOME[1] + east_km / (111.2 * 0.6094)
    return {
        "partner_id": pid,
        "name": name or pid,
        "category": "charity",
        "services": services,
        "status": status,
        "latitude": lat,
        "longitude": lon,
        "contact_phone": "0121 496 0000",
    }


PARTNERS = [
    partner("P-far", "food", 5.0),
    partner("P-near", "Food;clothing", 0.8),
    partner("P-mid", "SEND inclusive;holiday club", 1.5, 1.0),
    partner("P-lapsed", "food", 0.3, status="lapsed"),
    partner("P-prospective", "FOOD", 2.0, status="prospective"),
    partner("P-unrelated", "coding", 0.2),
    partner("P-general", "parenting support", 0.6),
]
GAZ = [{"postcode": "B30 2QX", "latitude": HOME[0], "longitude": HOME[1]}]


def test_partners_matching_needs_within_the_radius_nearest_first_lapsed_excluded():
    fr = frames([family("F1", postcode="b30 2qx", needs="food; send INCLUSIVE")], partners=PARTNERS, gazetteer=GAZ)
    sug = o.partner_suggestions(fr, family_id="F1", radius_km=3)
    assert sug["partner_id"].tolist() == ["P-near", "P-mid", "P-prospective"]
    assert sug["matched"].tolist() == ["Food", "SEND inclusive", "FOOD"]
    assert "P-lapsed" not in sug["partner_id"].tolist()
    assert sug.attrs["basis"] == "Partners offering its needs within 3 km of home, nearest first."
    for row in sug.itertuples():
        p = next(p for p in PARTNERS if p["partner_id"] == row.partner_id)
        expected = geodesic(HOME, (p["latitude"], p["longitude"])).km
        assert row.distance_km == pytest.approx(expected, rel=0.005, abs=0.006)
    wider = o.partner_suggestions(fr, family_id="F1", radius_km=6)
    assert wider["partner_id"].tolist()[-1] == "P-far"


def test_a_family_with_no_known_home_gets_its_matches_at_any_distance():
    fr = frames(
        [family("no-postcode", needs="food"), family("not-in-gazetteer", postcode="B1 1AA", needs="food")],
        partners=PARTNERS,
        gazetteer=GAZ,
    )
    for fid, why in (("no-postcode", "not recorded"), ("not-in-gazetteer", "not in the gazetteer")):
        sug = o.partner_suggestions(fr, family_id=fid)
        assert set(sug["partner_id"]) == {"P-far", "P-near", "P-prospective"}
        assert sug["distance_km"].isna().all()
        assert sug.attrs["basis"].endswith(f"home postcode is {why}.")


def test_a_family_with_no_needs_gets_the_general_services():
    fr = frames([family("F1", postcode="B30 2QX")], partners=PARTNERS, gazetteer=GAZ)
    sug = o.partner_suggestions(fr, family_id="F1", radius_km=3)
    assert sug["partner_id"].tolist() == ["P-general", "P-near", "P-mid", "P-prospective"]
    assert "general services (parenting support, holiday club, after-school, food)" in sug.attrs["basis"]
    with pytest.raises(KeyError):
        o.partner_suggestions(fr, family_id="nobody")


# ---------------------------------------------------------------- taking it out

NASTY = "<img src=x onerror=alert(1)>"


def test_csv_export_is_formula_safe_and_reads_back():
    fr = frames([family('=HYPERLINK("http://x")', needs="@SUM(A1)", language=NASTY, looked_after=True)])
    data = o.worklist_csv(o.worklist(fr))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0]["Family"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["Needs"] == "'@SUM(A1)"
    assert rows[0]["Language"] == NASTY and rows[0]["Priority"] == "9"
    assert list(rows[0]) == list(o.worklist_headers().values())


def test_the_csv_reads_as_a_person_writes_it():
    """Issue 15: headers in words, lists with commas, capitals, yes/no, whole numbers, blanks blank."""
    fr = frames(
        [
            family(
                "F1", pupil_premium=True, eal=True, year_groups="4;6", needs="debt advice;send support", language=None
            )
        ],
        [contact("F1", 70)],
    )
    data = o.worklist_csv(o.worklist(fr), unit="school days").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    assert list(rows[0]) == [
        "Priority", "Family", "Why now", "Needs", "Groups", "Year groups", "Prefers", "Language", "Postcode",
        "Postcode sector", "Last two-way contact", "School days since", "One-way contacts", "New starter",
    ]  # fmt: skip
    row = rows[0]
    assert row["Groups"] == "pupil premium, EAL" and row["Year groups"] == "4, 6"
    assert row["Needs"] == "debt advice, SEND support"
    assert row["Language"] == "" and row["New starter"] in ("yes", "no") and row["One-way contacts"] == "0"
    assert re.fullmatch(r"\d+", row["Priority"]) and row["Last two-way contact"] == "14/09/2026"
    for raw in ("None", "nan", "True", "False", ";", ".0,"):
        assert raw not in data, raw


def test_the_printable_sheet_gives_each_partners_phone_number():
    near_home = {**partner("P1", "food", 0.4, name="Stirchley Library"), "contact_phone": "0121  496 0001"}
    fr = frames([family("F1", needs="Food", postcode="B30 2QX")], partners=[near_home], gazetteer=GAZ)
    near = o.suggestions_for(fr, ["F1"], radius_km=3)
    assert near == {"F1": ["Stirchley Library (0.4 km, tel. 0121 496 0001): offers food"]}  # and why it fits
    sheet = o.visit_sheet_html(o.worklist(fr), school_name="Hollybrook", today=TODAY, days=42, suggestions=near)
    assert "Stirchley Library (" in sheet and "tel. 0121 496 0001)" in sheet


def test_printable_sheet_is_dated_escaped_self_contained_and_a4():
    fr = frames([family(NASTY, needs="${alert(1)}", postcode="B30 2QX")], [contact(NASTY, 70)])
    wl = o.worklist(fr)
    page = o.visit_sheet_html(
        wl, school_name="Holly <b>brook</b>", today=TODAY, days=42, suggestions={NASTY: ["<script>x</script> (0.4 km)"]}
    )
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and NASTY not in page
    assert "<script" not in page and "&lt;script&gt;x&lt;/script&gt; (0.4 km)" in page
    assert "Holly &lt;b&gt;brook&lt;/b&gt;" in page
    assert "Monday 23 November 2026" in page and "14/09/2026 (70 days)" in page
    assert "1 family with no two-way contact in the last 42 days" in page and "needs: ${alert(1)}" in page
    first_two = o.visit_sheet_html(
        o.worklist(frames([family("A"), family("B"), family("C")])).head(2),
        school_name="Hollybrook",
        today=TODAY,
        days=42,
        on_list=3,
    )
    assert "The first 2 of 3 families with no two-way contact" in first_two
    assert "@media print" in page and "size:A4" in page
    for outside in ("http://", "https://", 'src="', "<link", "@import", "url("):
        assert outside not in page


# ---------------------------------------------------------------- from the store, and from the command line


def fill_store(store, families, interactions, partners=(), gazetteer=()):
    with store.write("test") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Hollybrook", postcode="B30 2QX"))
        conn.execute(
            db.families.insert(),
            [{"school_id": "S1", "pupils": 1, **{flag: False for flag in o.FLAGS}, **f} for f in families],
        )
        if interactions:
            conn.execute(
                db.interactions.insert(),
                [
                    {"interaction_id": f"I{n}", "school_id": "S1", "activity": "phone call", "channel": "phone", **i}
                    for n, i in enumerate(interactions)
                ],
            )
        if partners:
            conn.execute(
                db.partners.insert(),
                [{"school_id": "S1", "layer": 3, **{k: v for k, v in p.items() if k != "services"}} for p in partners],
            )
            # A partner's tags are those of its services, a table of their own.
            conn.execute(
                db.services.insert(),
                [
                    {
                        "service_id": f"{p['partner_id']}-S1",
                        "partner_id": p["partner_id"],
                        "name": p["name"],
                        "tags": p["services"],
                    }
                    for p in partners
                    if p.get("services")
                ],
            )
        if gazetteer:
            conn.execute(db.gazetteer.insert(), list(gazetteer))


FAMILIES = [
    family("F1", looked_after=True, postcode="B30 2QX", needs="food"),
    family("F2", send=True, year_groups="6"),
    family("F3"),
    family("F4", eal=True),
    family("F5", pupil_premium=True, year_groups="R"),
]
CONTACTS = [
    contact("F2", 50),
    contact("F2", 10, two_way=False),
    contact("F3", 3),
    contact("F4", 200),
    contact("F4", 20, two_way=False),
    contact("F5", 30, two_way=False),
    contact("F5", 70, two_way=False),
    contact("F1", -3),
]


def test_the_store_gives_the_same_worklist_as_plain_tables(store):
    fill_store(store, FAMILIES, CONTACTS, PARTNERS, GAZ)
    from_store = o.worklist(store, "S1", today=TODAY, days=30)
    from_tables = o.worklist(frames(FAMILIES, CONTACTS, PARTNERS, GAZ, days=30, calendar=default_calendar()))
    pd.testing.assert_frame_equal(from_store, from_tables)
    # The store's path counts school days of the school's calendar (England's defaults here: autumn 2026 from
    # 3 Sep, half-term 26-30 Oct). F5: pupil premium 3, never 4, Reception 2, one-way 1; F1: looked after 5,
    # never 4 (its contact is dated after today); F2: SEND 3, last two-way Sun 4 Oct: 5-23 Oct and 2-23 Nov are
    # 31 school days, +1 per 30; Year 6 2, one-way 1; F4: EAL 1, last two-way 7 May: 8 May, 11-22 May,
    # 1 Jun - 22 Jul, 3 Sep - 23 Nov are 1 + 10 + 38 + 53 = 102 school days, +3; one-way 1.
    assert ids(from_store) == ["F5", "F1", "F2", "F4"]
    assert from_store["priority"].tolist() == [10, 9, 7, 5]
    assert from_store.set_index("family_id").loc["F4", "days_since"] == 102
    sug = o.partner_suggestions(store, "S1", "F1", 3, today=TODAY)
    assert sug["partner_id"].tolist() == ["P-near", "P-prospective"]


def test_cli_outreach_json(tmp_path):
    db_path = tmp_path / "cli.db"
    store = db.open_store(str(db_path))
    fill_store(store, FAMILIES, CONTACTS)
    store.dispose()
    env = {"DATABASE_URL": None}
    run = lambda *a: run_cli("outreach", "--db", db_path, *a, env=env)  # noqa: E731
    done = run("--json", "--today", "2026-11-23", "--limit", "2")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # Six school weeks by default, counted in school days (the half-term of 26-30 Oct does not count).
    assert report["school_id"] == "S1" and report["today"] == "2026-11-23" and report["days"] == 30
    assert report["unit"] == "school days"
    assert report["families_on_list"] == 4 and report["families_on_roll"] == 5
    assert [f["family_id"] for f in report["families"]] == ["F5", "F1"]
    assert report["families"][1]["reasons"] == "looked after +5, never in two-way contact +4"
    assert report["families"][1]["last_two_way"] is None and report["families"][1]["days_since"] is None
    # F3's call on Friday 20 Nov is 1 school day ago (Monday 23 Nov).
    wider = json.loads(run("--json", "--today", "2026-11-23", "--days", "1").stdout)
    assert wider["days"] == 1 and wider["families_on_list"] == 5
    f2 = next(f for f in wider["families"] if f["family_id"] == "F2")
    assert f2["last_two_way"] == "2026-10-04" and f2["days_since"] == 31 and f2["priority"] == 6
    text = run("--today", "2026-11-23")
    assert text.returncode == 0 and "4 of 5 families" in text.stdout and "F5" in text.stdout
    assert run("--school", "nope").returncode == 2
    assert run("--days", "0").returncode == 2
    # A store with no school yet says how to get one, as `score` does.
    empty = tmp_path / "empty.db"
    db.open_store(str(empty)).dispose()
    nothing = run_cli("outreach", "--db", empty, env=env)
    assert nothing.returncode == 2 and "holds no school yet" in nothing.stderr


def test_the_demo_names_each_road_once(demo_app_db):
    store = db.open_store(demo_app_db)
    try:
        with store.read() as conn:
            addresses = conn.execute(sa.select(db.partners.c.address)).scalars().all()
    finally:
        store.dispose()
    assert any(a.endswith(" Pershore Road") for a in addresses)
    assert not [a for a in addresses if "Road Road" in a]
