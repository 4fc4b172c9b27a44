"""The engagement metrics on a small school whose every figure was worked out by hand.

The data set (written into a real store, SQLite and PostgreSQL) and the window 1 Sep - 31 Oct 2026, on the
default terms for England: autumn 2026 starts on Thursday 3 Sep, half-term is 26-30 Oct. School days of the
window: 3-4 Sep, then the weeks of 7 Sep to 19 Oct (35 days): 37.

School S1, 20 families F01..F20.
  send         F01..F10  (10, rest 10)  shown
  young_carer  F11..F20  (10, rest 10)  shown
  pupil_premium F01..F09 (9)            suppressed: group under 10
  looked_after F01..F11  (11, rest 9)   suppressed: rest under 10
  eal          nobody    (0)            suppressed

Family interactions (tw = stored two_way):
  F01 phone call 10 Sep tw, parents evening 15 Oct tw    -> reached, months Sep+Oct, types {communicating}, last 15 Oct
  F02 home visit 5 Sep tw, reading diary 20 Sep tw       -> reached, Sep only, {parenting, learning at home}, last 20 Sep
  F03 volunteering 30 Oct tw                             -> reached, Oct only, {volunteering}, last 30 Oct
  F04 newsletter 10 Sep (one-way)                        -> informed only
  F05 phone call 12 Sep stored one-way (no answer)       -> informed only
  F06 phone call 31 Aug tw, newsletter 1 Nov             -> both outside the window: nothing
  F07 email 1 Oct stored two-way                         -> reached, Oct, {communicating}, last 1 Oct
  F11 phone call 1 Sep tw, 31 Oct tw, newsletter 5 Oct   -> reached, Sep+Oct, {communicating}, last 31 Oct
  F12 PTFA event 15 Sep tw, parent survey 2 Oct one-way  -> reached, Sep, {volunteering} (one-way types not counted)

  reached 6 (F01 F02 F03 F07 F11 F12) of 20 -> reach 0.3; informed 8 -> 0.4
  regularity: school months of 20 school days from 1 Sep: 3-30 Sep, then 1-23 Oct (a contact on a
    non-school day counts with the school day before it: F11's 31 Oct with 23 Oct, its 1 Sep with the first)
    -> 2 of 6 (F01, F11) -> 0.3333
  breadth (1 + 2 + 1 + 1 + 1 + 1) / 6 = 7/6 -> 1.17 (1.1667)
  recency, school days after the last two-way contact up to 31 Oct: F01 (15 Oct) 16, 19-23 Oct -> 6;
    F02 (20 Sep, a Sunday) 21 Sep - 23 Oct -> 25; F03 (30 Oct, half-term) 0; F07 (1 Oct) 2 Oct, 5-23 Oct -> 16;
    F11 (31 Oct) 0; F12 (15 Sep) 16-18 Sep, 21 Sep - 23 Oct -> 3 + 25 = 28
    -> sorted 0 0 6 16 25 28 -> median 11
  send: group 4/10 = 0.4 (F01 F02 F03 F07), rest 2/10 = 0.2 -> gap +20.0, parity 2.0
  young_carer: group 0.2, rest 0.4 -> gap -20.0, parity 0.5
  family score = 100 * (0.4*0.3 + 0.1*0.4 + 0.2*(1/3) + 0.15*(7/6/3) + 0.15*(1 - 11/90)) = 41.67 -> 41.7

Partners (typology: agencies 8 categories, businesses 3, community 18; layers 2: 10, 3: 14, 4: 5):
  P1 social care active: multi-agency meeting 10 Sep, phone call 1 Oct (one-way still counts)  engaged, 2
  P2 health prospective: phone call 20 Sep                                                  engaged, 1
  P3 health active: phone call 1 Aug (before the window)                                   not engaged
  P4 police lapsed: phone call 5 Sep                                                        not listed
  P5 business active: careers talk 10 Oct, work experience 11 Oct, fundraising 12 Oct      engaged, 3
  P6 employer active: nothing                                                               not engaged
  P7 food bank active: food bank 15 Sep                                                     engaged, 1
  P8 faith group active, layer overridden to 4: faith visit 20 Sep                          engaged, 1
  P9 Library (as typed) active: educational visit 5 Nov (after the window)                  not engaged

  agencies: listed 3, engaged 2, reach 0.6667, 3/2 = 1.5 each, coverage 2/8 = 0.25
            score 100 * (0.5*2/3 + 0.2*1.5/4 + 0.3*0.25) = 48.33 -> 48.3
  businesses: listed 2, engaged 1, reach 0.5, 3.0 each, coverage 1/3
            score 100 * (0.5*0.5 + 0.2*3/4 + 0.3/3) = 50.0
  community: listed 3, engaged 2, reach 0.6667, 1.0 each, coverage 2/18 = 0.1111
            score 100 * (0.5*2/3 + 0.2*1/4 + 0.3*2/18) = 41.67 -> 41.7
  layers: 2 -> social care, health: 2/10 = 0.2; 3 -> food bank, faith group (its category's layer): 2/14 = 0.1429;
          4 -> business: 1/5 = 0.2
  overall = 0.4*41.667 + 0.2*(48.333 + 50 + 41.667) = 44.67 -> 44.7

School S2 (beside it, to show schools do not mix): families G1..G3 (G1 phone call 10 Sep tw), partner Q1 business
  active with a careers talk 10 Sep. Families under 10 on roll: every family figure null, suppressed.
  businesses: 1 of 1, 1.0 each, coverage 1/3 -> 100 * (0.5 + 0.2*0.25 + 0.1) = 65.0; agencies and community
  list nobody -> 0. overall = (0.2*0 + 0.2*65 + 0.2*0) / 0.6 = 21.67 -> 21.7 (the families weight drops out).
"""

from __future__ import annotations

import datetime

import pytest

from engagement import explanations, scoring, terms
from engagement import store as db
from engagement.frames import load_school_frames
from engagement.settings import parse_settings

D = datetime.date
START, END = D(2026, 9, 1), D(2026, 10, 31)

# The weights the worked figures above use, whatever data/config.toml says today.
SETTINGS = parse_settings(
    {
        "privacy": {"suppression_threshold": 10},
        "scoring": {
            "families": {"reach": 0.4, "informed_reach": 0.1, "regularity": 0.2, "breadth": 0.15, "recency": 0.15},
            "partners": {"reach": 0.5, "intensity": 0.2, "category_coverage": 0.3},
            "scaling": {"breadth_full": 3.0, "recency_zero_days": 90, "intensity_full": 4.0},
            "overall": {"families": 0.4, "agencies": 0.2, "businesses": 0.2, "community": 0.2},
        },
    }
)


def _family(fid, school="S1", **flags):
    row = {
        "family_id": fid,
        "school_id": school,
        "pupils": 1,
        "pupil_premium": False,
        "send": False,
        "eal": False,
        "looked_after": False,
        "young_carer": False,
    }
    row.update(flags)
    return row


def write_school(store: db.Store) -> None:
    fams = []
    for i in range(1, 21):
        fams.append(_family(f"F{i:02d}", send=i <= 10, young_carer=i >= 11, pupil_premium=i <= 9, looked_after=i <= 11))
    fams += [_family(f"G{i}", school="S2") for i in range(1, 4)]
    partners = [
        ("P1", "social care", 2, "active"),
        ("P2", "health", 2, "prospective"),
        ("P3", "health", 2, "active"),
        ("P4", "police", 2, "lapsed"),
        ("P5", "business", 4, "active"),
        ("P6", "employer", 4, "active"),
        ("P7", "food bank", 3, "active"),
        ("P8", "faith group", 4, "active"),
        ("P9", "Library", 3, "active"),
    ]
    par = [
        {"partner_id": p, "school_id": "S1", "name": f"Partner {p}", "category": c, "layer": layer, "status": s}
        for p, c, layer, s in partners
    ]
    par.append(
        {
            "partner_id": "Q1",
            "school_id": "S2",
            "name": "<img src=x onerror=alert(1)>",
            "category": "business",
            "layer": 4,
            "status": "active",
        }
    )
    rows = [
        ("F01", None, D(2026, 9, 10), "phone call", True),
        ("F01", None, D(2026, 10, 15), "parents evening", True),
        ("F02", None, D(2026, 9, 5), "home visit", True),
        ("F02", None, D(2026, 9, 20), "reading diary", True),
        ("F03", None, D(2026, 10, 30), "volunteering", True),
        ("F04", None, D(2026, 9, 10), "newsletter", False),
        ("F05", None, D(2026, 9, 12), "phone call", False),
        ("F06", None, D(2026, 8, 31), "phone call", True),
        ("F06", None, D(2026, 11, 1), "newsletter", False),
        ("F07", None, D(2026, 10, 1), "email", True),
        ("F11", None, D(2026, 9, 1), "phone call", True),
        ("F11", None, D(2026, 10, 31), "phone call", True),
        ("F11", None, D(2026, 10, 5), "newsletter", False),
        ("F12", None, D(2026, 9, 15), "PTFA event", True),
        ("F12", None, D(2026, 10, 2), "parent survey", False),
        (None, "P1", D(2026, 9, 10), "multi-agency meeting", True),
        (None, "P1", D(2026, 10, 1), "phone call", False),
        (None, "P2", D(2026, 9, 20), "phone call", True),
        (None, "P3", D(2026, 8, 1), "phone call", True),
        (None, "P4", D(2026, 9, 5), "phone call", True),
        (None, "P5", D(2026, 10, 10), "careers talk", True),
        (None, "P5", D(2026, 10, 11), "work experience", True),
        (None, "P5", D(2026, 10, 12), "fundraising", True),
        (None, "P7", D(2026, 9, 15), "food bank", True),
        (None, "P8", D(2026, 9, 20), "faith visit", True),
        (None, "P9", D(2026, 11, 5), "educational visit", True),
        ("G1", None, D(2026, 9, 10), "phone call", True),
        (None, "Q1", D(2026, 9, 10), "careers talk", True),
    ]
    inter = [
        {
            "interaction_id": f"I{n:03d}",
            "school_id": "S2" if (f or p or "").startswith(("G", "Q")) else "S1",
            "date": d,
            "family_id": f,
            "partner_id": p,
            "activity": a,
            "channel": "phone",
            "two_way": tw,
        }
        for n, (f, p, d, a, tw) in enumerate(rows)
    ]
    with store.write(actor="test") as conn:
        conn.execute(
            db.schools.insert(),
            [
                {"school_id": "S1", "name": "Hollybrook", "postcode": "B30 2AA"},
                {"school_id": "S2", "name": "Elm Road", "postcode": "B30 3AA"},
            ],
        )
        conn.execute(db.families.insert(), fams)
        conn.execute(db.partners.insert(), par)
        conn.execute(db.interactions.insert(), inter)


EXPECTED_S1 = {
    "window": {"from": "2026-09-01", "to": "2026-10-31"},
    "families": {
        "on_roll": 20,
        "reached": 6,
        "reach": 0.3,
        "informed_reach": 0.4,
        "regularity": 0.3333,
        "breadth": 1.17,
        "recency_days": 11,
        "score": 41.7,
    },
    "equity": {
        "pupil_premium": {
            "group": None,
            "rest": None,
            "group_reach": None,
            "rest_reach": None,
            "gap_pp": None,
            "parity": None,
            "suppressed": True,
        },
        "send": {
            "group": 10,
            "rest": 10,
            "group_reach": 0.4,
            "rest_reach": 0.2,
            "gap_pp": 20.0,
            "parity": 2.0,
            "suppressed": False,
        },
        "eal": {
            "group": None,
            "rest": None,
            "group_reach": None,
            "rest_reach": None,
            "gap_pp": None,
            "parity": None,
            "suppressed": True,
        },
        "looked_after": {
            "group": None,
            "rest": None,
            "group_reach": None,
            "rest_reach": None,
            "gap_pp": None,
            "parity": None,
            "suppressed": True,
        },
        "young_carer": {
            "group": 10,
            "rest": 10,
            "group_reach": 0.2,
            "rest_reach": 0.4,
            "gap_pp": -20.0,
            "parity": 0.5,
            "suppressed": False,
        },
    },
    "agencies": {
        "listed": 3,
        "engaged": 2,
        "reach": 0.6667,
        "interactions_per_engaged": 1.5,
        "category_coverage": 0.25,
        "score": 48.3,
    },
    "businesses": {
        "listed": 2,
        "engaged": 1,
        "reach": 0.5,
        "interactions_per_engaged": 3.0,
        "category_coverage": 0.3333,
        "score": 50.0,
    },
    "community": {
        "listed": 3,
        "engaged": 2,
        "reach": 0.6667,
        "interactions_per_engaged": 1.0,
        "category_coverage": 0.1111,
        "score": 41.7,
    },
    "layers": {
        "2": {"categories": 10, "covered": 2, "coverage": 0.2},
        "3": {"categories": 14, "covered": 2, "coverage": 0.1429},
        "4": {"categories": 5, "covered": 1, "coverage": 0.2},
    },
    "overall": 44.7,
}


@pytest.fixture
def frames(sqlite_store):
    write_school(sqlite_store)
    return load_school_frames(sqlite_store)


def test_every_figure_of_the_hand_worked_school_on_both_databases(store):
    write_school(store)
    frames = load_school_frames(store)
    assert scoring.score_card(frames, "S1", START, END, SETTINGS) == EXPECTED_S1
    # Loading one school gives the same card as slicing it out of all schools.
    assert scoring.score_card(load_school_frames(store, "S1"), "S1", START, END, SETTINGS) == EXPECTED_S1


def test_a_school_with_fewer_than_ten_families_shows_no_family_figure(frames):
    card = scoring.score_card(frames, "S2", START, END, SETTINGS)
    assert card["families"] == {
        "on_roll": None,
        "reached": None,
        "reach": None,
        "informed_reach": None,
        "regularity": None,
        "breadth": None,
        "recency_days": None,
        "score": None,
        "suppressed": True,
    }
    assert all(entry["suppressed"] and entry["group"] is None for entry in card["equity"].values())
    assert card["businesses"] == {
        "listed": 1,
        "engaged": 1,
        "reach": 1.0,
        "interactions_per_engaged": 1.0,
        "category_coverage": 0.3333,
        "score": 65.0,
    }
    assert card["agencies"]["reach"] is None and card["agencies"]["score"] == 0.0
    assert card["overall"] == 21.7


def test_all_schools_at_once_equal_each_school_alone(frames):
    cards = scoring.score_cards(frames, START, END, SETTINGS)
    assert cards["S1"] == EXPECTED_S1
    assert cards["S2"] == scoring.score_card(frames, "S2", START, END, SETTINGS)


def test_a_window_cutting_through_the_data(frames):
    # September only. Reached: F01 (10 Sep), F02 (5, 20 Sep), F11 (1 Sep), F12 (15 Sep) = 4; F03 and F07 fall in
    # October. Informed adds F04 and F05: 6. Nobody has two months inside one month: regularity 0.
    # Recency in school days to 30 Sep: F01 (10 Sep) 11, 14-30 Sep -> 14; F02 (20 Sep) 21-30 Sep -> 8;
    # F11 (1 Sep) every school day 3-30 Sep -> 20; F12 (15 Sep) 16-30 Sep -> 11 -> median (11 + 14) / 2 = 12.5.
    # Breadth (1+2+1+1)/4 = 1.25.
    # Partners: P1 (1 in Sep), P2 engaged; P5 (October) not; P7, P8 engaged.
    card = scoring.score_card(frames, "S1", D(2026, 9, 1), D(2026, 9, 30), SETTINGS)
    fam = card["families"]
    assert (fam["reached"], fam["reach"], fam["informed_reach"]) == (4, 0.2, 0.3)
    assert (fam["regularity"], fam["breadth"], fam["recency_days"]) == (0.0, 1.25, 12.5)
    assert card["agencies"]["engaged"] == 2 and card["agencies"]["interactions_per_engaged"] == 1.0
    assert card["businesses"]["engaged"] == 0 and card["businesses"]["interactions_per_engaged"] is None
    # A one-day window is inclusive: on 31 Oct only F11's call counts (F03 volunteered on the 30th),
    # 0 days before the window's end.
    last_day = scoring.score_card(frames, "S1", D(2026, 10, 31), D(2026, 10, 31), SETTINGS)["families"]
    assert (last_day["reached"], last_day["recency_days"], last_day["regularity"]) == (1, 0, 0.0)


def test_a_window_ending_before_it_starts_is_refused(frames):
    with pytest.raises(ValueError):
        scoring.score_card(frames, "S1", END, START, SETTINGS)


def test_an_unknown_school_is_refused(frames):
    with pytest.raises(KeyError):
        scoring.score_card(frames, "nope", START, END, SETTINGS)


def test_partner_engagement_table(frames):
    table = scoring.partner_engagement(frames, "S1", START, END).set_index("partner_id")
    assert list(table.columns) == [
        "name",
        "category",
        "layer",
        "segment",
        "status",
        "interactions",
        "last_contact",
        "engaged",
    ]
    assert table.loc["P1", "interactions"] == 2 and table.loc["P1", "engaged"]
    assert not table.loc["P3", "engaged"] and table.loc["P3", "last_contact"] == datetime.datetime(2026, 8, 1)
    # A lapsed partner's contact is listed but never counts as engaged.
    assert table.loc["P4", "interactions"] == 1 and not table.loc["P4", "engaged"]
    # Contact after the window's end is not "last contact" as of that end.
    assert table.loc["P9", "category"] == "library" and str(table.loc["P9", "last_contact"]) == "NaT"
    assert table.loc["P8", "layer"] == 4 and table.loc["P8", "segment"] == "community"
    assert list(table.index[table["engaged"]]) == ["P1", "P2", "P5", "P7", "P8"]


def test_gaps_name_every_category_without_an_engaged_partner(frames):
    gaps = scoring.gaps(frames, "S1", START, END)
    assert "care home" in gaps[3] and "food bank" not in gaps[3] and "faith group" not in gaps[3]
    assert gaps[4] == ["residents association", "employer", "transport provider", "facility hirer"]
    assert "social care" not in gaps[2] and "police" in gaps[2] and len(gaps[2]) == 8 and len(gaps[3]) == 12


def test_explanations_add_up_and_name_the_biggest_gain(frames):
    why = explanations.explain(frames, "S1", START, END, SETTINGS)
    fam = why["families"]
    assert fam["score"] == 41.7
    assert [c["component"] for c in fam["components"]] == list(scoring.FAMILY_COMPONENTS)
    reach = fam["components"][0]
    assert (reach["value"], reach["scaled"], reach["weight"], reach["contribution"]) == (0.3, 0.3, 0.4, 12.0)
    recency = fam["components"][4]
    assert (recency["value"], recency["scaled"], recency["contribution"]) == (11, 0.8778, 13.2)
    assert abs(sum(c["contribution"] for c in fam["components"]) - fam["score"]) <= 0.3
    # Reach has the most to gain: 0.4 * (1 - 0.3) = 28 points; 14 families have had no two-way contact.
    assert "14 families" in fam["advice"] and "28.0 points" in fam["advice"]
    # Agencies: reach 0.5*(1/3) = 16.7, intensity 0.2*0.625 = 12.5, coverage 0.3*0.75 = 22.5 -> coverage.
    assert "category" in why["agencies"]["advice"] and "22.5 points" in why["agencies"]["advice"]
    overall = why["overall"]
    assert overall["score"] == 44.7
    assert [c["component"] for c in overall["components"]] == ["families", "agencies", "businesses", "community"]
    # Families: 0.4 * (100 - 41.67) = 23.3 points, the most of any segment.
    assert overall["advice"].startswith("The most to gain is in families (up to 23.3 points)")


def test_explanations_of_a_school_too_small_to_show(frames):
    why = explanations.explain(frames, "S2", START, END, SETTINGS)
    assert why["families"]["score"] is None and why["families"]["components"] == []
    assert [c["component"] for c in why["overall"]["components"]] == ["agencies", "businesses", "community"]


def test_trends_per_month_and_per_term(frames):
    months = scoring.trends(frames, "S1", START, END, by="month", settings=SETTINGS)
    reach = months[months["figure"] == "families.reach"]
    # September 4/20 = 0.2 (see above); October: F01 (15 Oct), F03, F07, F11 = 4/20 = 0.2.
    assert list(reach["period"]) == ["2026-09", "2026-10"] and list(reach["value"]) == [0.2, 0.2]
    assert set(months.columns) == {
        "school_id",
        "period",
        "period_start",
        "period_end",
        "figure",
        "section",
        "metric",
        "value",
    }
    # Suppressed figures stay empty in trends too.
    assert months.loc[months["figure"] == "equity.eal.group", "value"].isna().all()
    terms = scoring.trends(frames, "S1", D(2026, 7, 1), END, by="term", settings=SETTINGS)
    summer, autumn = terms[terms["figure"] == "families.reached"].sort_values("period_start")["value"]
    # Summer (13 Apr - 22 Jul, cut to 1-22 Jul): nobody. F06's call on 31 Aug is in the summer holiday, in no
    # term. Autumn (3 Sep - 18 Dec, cut to 3 Sep - 31 Oct): the card above less F11's 1 Sep call (F11 is
    # reached on 31 Oct anyway).
    assert (summer, autumn) == (0, 6)
    assert set(terms["period"]) == {"summer 2026", "autumn 2026"}
    everyone = scoring.trends(frames, None, START, END, by="term", settings=SETTINGS)
    assert set(everyone["school_id"]) == {"S1", "S2"}


def test_comparison_with_the_previous_window(frames):
    # 1 Sep - 31 Oct is 61 days; the window before is 2 Jul - 31 Aug: F06 (31 Aug) reached, P3 (1 Aug) engaged.
    assert terms.previous_window(START, END) == (D(2026, 7, 2), D(2026, 8, 31))
    table = scoring.compare(frames, "S1", START, END, settings=SETTINGS).set_index("figure")
    assert table.loc["families.reached"].tolist() == [6, 1, 5]
    assert table.loc["families.reach", "change"] == 0.25
    assert table.loc["agencies.engaged"].tolist() == [2, 1, 1]
    assert table.loc["equity.eal.group"].isna().all()


def test_the_default_window_follows_the_config():
    # Spring 2026 starts on the first weekday on or after 4 January: Monday 5 January.
    term = parse_settings({"window": {"default": "term"}})
    assert terms.default_window(D(2026, 2, 10), term) == (D(2026, 1, 5), D(2026, 2, 10))
    assert terms.default_window(D(2026, 2, 10), parse_settings({"window": {"default": 28}})) == (
        D(2026, 1, 14),
        D(2026, 2, 10),
    )
    # In the summer holiday the window is the summer term just gone, whole.
    assert terms.default_window(D(2026, 8, 20), term) == (D(2026, 4, 13), D(2026, 7, 22))


def test_plain_text_card_says_fewer_than_10(frames):
    text = explanations.format_card(scoring.score_card(frames, "S1", START, END, SETTINGS), "Hollybrook")
    assert "Looked after   fewer than 10 families on one side: not shown" in text
    assert "reached two-way     6 of 20 (30.0%)" in text
    assert "gap -20.0 points" in text and "Overall score: 44.7 / 100" in text


def test_a_family_at_a_partners_session_counts_for_both_sides(store):
    """The hand-worked school plus one contact naming F04 and P6 (employer, not engaged before):
    a two-way family workshop on 10 Oct (Epstein type parenting). Worked by hand:

    families: reached 7 (F04 joins) -> reach 0.35; informed still 8 -> 0.4; regularity 2/7 = 0.2857;
      breadth (7 + 1) / 7 = 1.1429 -> 1.14; recency in school days to 31 Oct: F04 (Sat 10 Oct) 12-16
      and 19-23 Oct -> 10, with the others' 0 0 6 16 25 28 -> median 10;
      score 100 * (0.4*0.35 + 0.1*0.4 + 0.2*2/7 + 0.15*(8/7)/3 + 0.15*(1 - 10/90)) = 42.76 -> 42.8
    send: group 5/10 = 0.5, rest 0.2 -> +30.0, parity 2.5; young carer: 0.2 vs 0.5 -> -30.0, parity 0.4
    businesses: listed 2, engaged 2, reach 1.0, (3 + 1) / 2 = 2.0 each, coverage 2/3
      score 100 * (0.5*1 + 0.2*2/4 + 0.3*2/3) = 80.0; layer 4: business and employer, 2/5 = 0.4
    overall 0.4*42.762 + 0.2*(48.333 + 80 + 41.667) = 51.10 -> 51.1
    """
    write_school(store)
    with store.write(actor="test") as conn:
        conn.execute(
            db.interactions.insert().values(
                interaction_id="I-both",
                school_id="S1",
                date=D(2026, 10, 10),
                family_id="F04",
                partner_id="P6",
                activity="family workshop",
                channel="in person",
                two_way=True,
            )
        )
    expected = {**EXPECTED_S1}
    expected["families"] = {
        "on_roll": 20,
        "reached": 7,
        "reach": 0.35,
        "informed_reach": 0.4,
        "regularity": 0.2857,
        "breadth": 1.14,
        "recency_days": 10,
        "score": 42.8,
    }
    expected["equity"] = {
        **EXPECTED_S1["equity"],
        "send": {
            "group": 10,
            "rest": 10,
            "group_reach": 0.5,
            "rest_reach": 0.2,
            "gap_pp": 30.0,
            "parity": 2.5,
            "suppressed": False,
        },
        "young_carer": {
            "group": 10,
            "rest": 10,
            "group_reach": 0.2,
            "rest_reach": 0.5,
            "gap_pp": -30.0,
            "parity": 0.4,
            "suppressed": False,
        },
    }
    expected["businesses"] = {
        "listed": 2,
        "engaged": 2,
        "reach": 1.0,
        "interactions_per_engaged": 2.0,
        "category_coverage": 0.6667,
        "score": 80.0,
    }
    expected["layers"] = {**EXPECTED_S1["layers"], "4": {"categories": 5, "covered": 2, "coverage": 0.4}}
    expected["overall"] = 51.1
    for frames in (load_school_frames(store), load_school_frames(store, "S1")):
        assert scoring.score_card(frames, "S1", START, END, SETTINGS) == expected
        # One contact, two rows: one per side, never one row counted twice on a side.
        inter = frames.school("S1").interactions
        both = inter[inter["activity"] == "family workshop"]
        assert sorted((int(f >= 0), int(p >= 0)) for f, p in zip(both["family"], both["partner"], strict=True)) == [
            (0, 1),
            (1, 0),
        ]
