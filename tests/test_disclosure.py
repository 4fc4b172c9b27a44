"""The disclosure layer against the red team's list (issue 24): each figure a hostile governor read
or worked out, now rounded or hidden with the right reason, and a raw frame handed to a
governor's view refused. Worked by hand:

- an event of 8 families and 12 referrals (5 completed, 4 declined, 3 sent): ``score --json --for
  governor`` shows attendance null, referrals made "10" and each outcome null: no count of 1-9;
- transitions: all 31 moves with 12 complete plans, SEND 10 with 1, not SEND 21 with 11: before,
  "38.7 %" beside "30" and "52.4 %" beside "20" had only the fits 12/31 and 11/21; now the shares
  are 40 % and hidden (the SEND share has 1 complete plan, so its partner is hidden too), and an
  attacker's search finds more than one SEND count of complete plans;
- pupil premium: 108 families, 100 reached (8 not), the rest 312 with 273 reached: hidden because
  fewer than 10 in the group were not reached, and it says so.
"""

from __future__ import annotations

import datetime
import json
import math

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from engagement import cli, disclosure, overview, transitions
from engagement import store as db
from engagement.events import save_register
from engagement.referrals import refer, update_status

D = datetime.date
TODAY = D(2026, 11, 20)
T = 10


def _school_with_a_small_event(store: db.Store) -> None:
    families = [f"F{i:03d}" for i in range(1, 41)]
    with store.write("setup") as conn:
        conn.execute(db.schools.insert().values(school_id="S1", name="Oak", postcode="B30 2AA"))
        conn.execute(db.families.insert(), [{"family_id": f, "school_id": "S1"} for f in families])
        conn.execute(
            db.partners.insert(),
            [{"partner_id": "P1", "school_id": "S1", "name": "Food Bank", "category": "food bank", "layer": 3}],
        )
    save_register(
        store,
        "flo",
        school_id="S1",
        event_id="E1",
        date=D(2026, 10, 7),
        activity="parents evening",
        family_ids=families[:8],
        today=TODAY,
    )
    for i, family in enumerate(families[:12]):
        made = refer(store, "flo", school_id="S1", family_id=family, partner_id="P1", date=D(2026, 9, 10), today=TODAY)
        if i < 5:
            update_status(store, "flo", made, "accepted", D(2026, 9, 12), today=TODAY)
            update_status(store, "flo", made, "completed", D(2026, 9, 20), today=TODAY)
        elif i < 9:
            update_status(store, "flo", made, "declined", D(2026, 9, 12), decline_reason="full", today=TODAY)


FAMILY_COUNTS = [
    ("families", "on_roll"),
    ("families", "reached"),
    ("events", "attendance"),
    *[("referrals", k) for k in ("made", "sent", "accepted", "declined", "completed", "no_longer_needed", "open")],
    ("transitions", "count"),
    ("transitions", "send"),
    ("belonging", "responses"),
]


def test_score_for_governor_on_an_event_of_8_families_and_12_referrals_shows_no_count_of_1_to_9(sqlite_store, capsys):
    _school_with_a_small_event(sqlite_store)
    staff = cli.main(["score", "--db", sqlite_store.url, "--json", "--from", "2026-09-01", "--to", "2026-11-20"])
    card = json.loads(capsys.readouterr().out)
    assert staff == 0 and card["events"]["attendance"] == 8 and card["referrals"]["made"] == 12
    code = cli.main(
        ["score", "--db", sqlite_store.url, "--json", "--for", "governor", "--from", "2026-09-01", "--to", "2026-11-20"]
    )
    card = json.loads(capsys.readouterr().out)
    assert code == 0
    assert card["events"]["attendance"] is None and card["events"]["suppressed"] is True
    assert card["referrals"]["made"] == 10
    for section, key in FAMILY_COUNTS:
        value = (card.get(section) or {}).get(key)
        assert value is None or not 1 <= value <= 9, (section, key, value)
    for flag, entry in card["equity"].items():
        for key in ("group", "rest"):
            assert entry[key] is None or not 1 <= entry[key] <= 9, (flag, key)
    # The referrals by outcome are a partition of those made: none shown may complete a subtraction.
    shown = [v for k, v in card["referrals"].items() if k not in ("made", "open", "suppressed") and v is not None]
    assert all(v == 0 or v >= 10 for v in shown)


def _attacker_plan_counts(seen: dict) -> set[int]:
    """Every count of SEND moves with a complete plan consistent with what a governor is shown,
    found as an attacker would: try every school of up to 60 moves and keep those the rules show
    exactly the same way."""
    found = set()
    for n in range(20, 40):  # the count shown, "about 30", already tells the attacker 25-34
        for n_send in range(0, n + 1):
            for done_send in range(0, n_send + 1):
                for done_other in range(0, n - n_send + 1):
                    moves = transitions._governor_figures(n, n_send, done_send + done_other, done_send, T)
                    if moves == seen:
                        found.add(done_send)
    return found


def test_transitions_by_group_no_longer_give_the_send_row_back():
    seen = transitions._governor_figures(31, 10, 12, 1, T)
    assert seen["count"] == 30 and seen["plan_complete"] == 0.4
    assert seen["send_plan_complete"] is None and seen["not_send_plan_complete"] is None
    assert len(_attacker_plan_counts(seen)) > 1


def test_a_share_beside_a_rounded_count_does_not_give_its_denominator_back():
    """Belonging's 4 answers with 1 agreeing are hidden; a shown share is in steps of 5 points, and
    for a count shown as "about 30" more than one denominator fits it."""
    assert disclosure.share(1, 4).hidden and disclosure.share(23, 34).value == 0.7
    fits = {n for n in range(25, 35) for k in range(n + 1) if disclosure.share(k, n).value == 0.7}
    assert len(fits) > 1


def test_a_hidden_equity_group_says_which_side_is_small_in_a_governors_words():
    row = {
        "equity.pupil_premium.group": 108.0,
        "equity.pupil_premium.rest": 312.0,
        "equity.pupil_premium.group_reach": 100 / 108,
        "equity.pupil_premium.rest_reach": 273 / 312,
        "equity.pupil_premium.gap_pp": 5.0,
        "equity.pupil_premium.parity": 1.05,
        "equity.pupil_premium.suppressed": False,
    }
    seen = disclosure.governor_row(row, T)
    assert seen["equity.pupil_premium.suppressed"]
    assert seen["equity.pupil_premium.reason"] == "fewer than 10 families in the group were not reached"
    cells = overview.equity_text(
        pd.Series({"label": "Pupil premium", "suppressed": True, "reason": seen["equity.pupil_premium.reason"]})
    )
    assert cells["Families"] == "not shown: fewer than 10 families in the group were not reached"
    assert "on one side" not in cells["Families"]


def test_a_shown_equity_group_has_coarse_shares_and_a_gap_made_of_them():
    row = {
        "equity.send.group": 51.0,
        "equity.send.rest": 369.0,
        "equity.send.group_reach": 40 / 51,
        "equity.send.rest_reach": 313 / 369,
        "equity.send.gap_pp": 0.0,
        "equity.send.parity": 1.0,
        "equity.send.suppressed": False,
    }
    seen = disclosure.governor_row(row, T)
    assert (seen["equity.send.group"], seen["equity.send.rest"]) == (50.0, 370.0)
    assert (seen["equity.send.group_reach"], seen["equity.send.rest_reach"]) == (0.8, 0.85)
    assert seen["equity.send.gap_pp"] == -5.0 and math.isclose(seen["equity.send.parity"], 0.94)


def _raw_frame_for_a_governor():
    import pandas as pd
    import streamlit as st

    import ui
    from engagement import disclosure

    try:
        ui.governor_table(pd.DataFrame({"Families": [3]}))
    except disclosure.RawFigure as error:  # the app shows errors redacted: say which one it was
        st.error(f"refused: {error}")
        raise


def _governors_table():
    import ui
    from engagement import disclosure

    ui.governor_table(disclosure.GovernorTable.of([{"Group": "All", "Families": disclosure.count(33)}]))


def test_a_page_handing_a_raw_frame_to_a_governor_fails():
    raw = AppTest.from_function(_raw_frame_for_a_governor).run()
    assert raw.exception and "refused: a DataFrame was handed to a governor's view" in raw.error[0].value
    assert not raw.table
    made = AppTest.from_function(_governors_table).run()
    assert not made.exception and made.table[0].value.iloc[0]["Families"] == "about 30"


@pytest.mark.parametrize("raw", [pd.DataFrame({"x": [1]}), {"families": 3}, 3, "3 families"])
def test_only_the_layers_own_types_pass(raw):
    with pytest.raises(disclosure.RawFigure):
        disclosure.for_governor(raw)


def test_a_partners_record_for_governors_is_what_it_publishes():
    """Beside the map and the layers diagram a governor read the notes, "checked by" and the
    contact's phone; now only the services and the public contact (the heading gives the rest)."""
    partner = {
        "name": "Food Bank",
        "category": "food bank",
        "layer": 3,
        "services": "food; clothing",
        "contact_email": "hello@foodbank.org",
        "contact_name": "Jo Bloggs",
        "contact_phone": "0121 496 0999",
        "address": "1 Secret Lane",
        "notes": "Met families F012 and F013",
        "verified_by": "flo1@hollybrook.sch.uk",
        "oruk_source": "https://user:secret@feed.example/api",
    }
    record = disclosure.partner_record(partner)
    assert record == {"Services": "food; clothing", "Public contact": "hello@foodbank.org"}
    table = disclosure.partner_table(pd.DataFrame([partner | {"stale": True}]))
    assert table.columns == ("Partner", "Category", "Layer", "Services", "Public contact", "Check")
    assert table.rows == (("Food Bank", "food bank", "3", "food; clothing", "hello@foodbank.org", "due"),)


def test_a_language_group_of_12_with_4_not_reached_is_hidden_from_governors():
    """The red team's chart: 12 Polish-speaking families at 66.7 % (4 not reached). Staff still see
    it; governors do not, and a language group they do see is in steps of 5 points."""
    from engagement.communication import from_tables, measure

    families = pd.DataFrame(
        {
            "family_id": [f"F{i}" for i in range(42)],
            "language": ["Polish"] * 12 + ["English"] * 30,
        }
    )
    reached = [f"F{i}" for i in range(8)] + [f"F{i}" for i in range(12, 32)]  # 8 of 12, 20 of 30
    contacts = pd.DataFrame(
        {"family_id": reached, "date": [D(2026, 9, 7)] * len(reached), "two_way": True, "direction": "to family"}
    )
    window = (D(2026, 9, 3), D(2026, 9, 30))
    staff = measure(from_tables(families, contacts), *window).card["equitable"]["by_language"]
    assert staff == {"English": 0.6667, "Polish": 0.6667}
    governor = measure(from_tables(families, contacts), *window, for_governor=True).card["equitable"]
    assert governor["by_language"] == {"English": 0.65}
    assert governor["widest_gap_pp"] is None
