"""Properties of the engagement metrics that hold for any school: random families, partners and
interactions from hypothesis, built into frames without a store (the loading path has its own tests)."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from engagement import scoring
from engagement.frames import FLAGS, frames_from_tables
from engagement.typology import load_typology

START, END = datetime.date(2026, 9, 1), datetime.date(2026, 10, 31)
TYPOLOGY = load_typology()
CATEGORIES = [c.name for c in TYPOLOGY.categories]
FAMILY_ACTIVITIES = ["phone call", "newsletter", "home visit", "reading diary", "volunteering", "parent survey"]
PARTNER_ACTIVITIES = ["phone call", "careers talk", "multi-agency meeting", "email"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@hs.composite
def schools(draw):
    n_fam = draw(hs.integers(0, 40))
    # Flags drawn per family, often skewed so that groups of 8 to 12 turn up around the threshold.
    flag_rate = {f: draw(hs.sampled_from([0.0, 0.2, 0.5, 0.9])) for f in FLAGS}
    fam_rows = []
    for i in range(n_fam):
        row = {"family_id": f"F{i}", "school_id": "S1"}
        for flag in FLAGS:
            row[flag] = draw(hs.floats(0, 1)) < flag_rate[flag]
        fam_rows.append(row)
    n_par = draw(hs.integers(0, 8))
    par_rows = [
        {
            "partner_id": f"P{i}",
            "school_id": "S1",
            "name": f"Partner {i}",
            "category": draw(hs.sampled_from(CATEGORIES)),
            "layer": draw(hs.sampled_from([2, 3, 4])),
            "status": draw(hs.sampled_from(["active", "prospective", "lapsed"])),
        }
        for i in range(n_par)
    ]
    inter_rows = []
    for _ in range(draw(hs.integers(0, 80))):
        to_family = n_fam and (not n_par or draw(hs.booleans()))
        if not n_fam and not n_par:
            break
        day = START + datetime.timedelta(days=draw(hs.integers(-40, 100)))
        if to_family:
            who = {
                "family_id": f"F{draw(hs.integers(0, n_fam - 1))}",
                "partner_id": None,
                "activity": draw(hs.sampled_from(FAMILY_ACTIVITIES)),
            }
        else:
            who = {
                "family_id": None,
                "partner_id": f"P{draw(hs.integers(0, n_par - 1))}",
                "activity": draw(hs.sampled_from(PARTNER_ACTIVITIES)),
            }
        inter_rows.append({"date": day, "two_way": draw(hs.booleans()), "school_id": "S1", **who})
    return tables(fam_rows, par_rows, inter_rows)


def tables(fam_rows, par_rows, inter_rows):
    return (
        pd.DataFrame([{"school_id": "S1", "name": "Hollybrook"}]),
        pd.DataFrame(fam_rows, columns=["family_id", "school_id", *FLAGS]),
        pd.DataFrame(par_rows, columns=["partner_id", "school_id", "name", "category", "layer", "status"]),
        pd.DataFrame(inter_rows, columns=["date", "two_way", "school_id", "family_id", "partner_id", "activity"]),
    )


def card_of(data, start=START, end=END):
    return scoring.score_card(frames_from_tables(*data), "S1", start, end)


def _rates(card):
    yield card["families"]["reach"], card["families"]["informed_reach"], card["families"]["regularity"]
    for e in card["equity"].values():
        yield e["group_reach"], e["rest_reach"]
    for seg in ("agencies", "businesses", "community"):
        yield card[seg]["reach"], card[seg]["category_coverage"]
    for layer in card["layers"].values():
        yield (layer["coverage"],)


@SETTINGS
@given(schools())
def test_rates_are_fractions_and_scores_are_0_to_100(data):
    card = card_of(data)
    for group in _rates(card):
        assert all(r is None or 0 <= r <= 1 for r in group)
    scores = [card[s]["score"] for s in ("families", "agencies", "businesses", "community")] + [card["overall"]]
    assert all(s is None or 0 <= s <= 100 for s in scores)
    assert card["overall"] is not None


@SETTINGS
@given(schools(), hs.data())
def test_a_two_way_contact_for_an_unreached_family_never_lowers_reach(data, more):
    schools_, fam, par, inter = data
    before = card_of(data)
    f = scoring.metrics(frames_from_tables(*data), START, END)
    if not len(fam):
        return
    new_family = more.draw(hs.sampled_from(list(fam["family_id"])))
    day = START + datetime.timedelta(days=more.draw(hs.integers(0, (END - START).days)))
    extra = pd.DataFrame(
        [
            {
                "date": day,
                "two_way": True,
                "school_id": "S1",
                "family_id": new_family,
                "partner_id": None,
                "activity": "phone call",
            }
        ]
    )
    after = card_of((schools_, fam, par, pd.concat([inter, extra], ignore_index=True)))
    if before["families"].get("suppressed"):
        assert after["families"].get("suppressed")
        return
    assert after["families"]["reach"] >= before["families"]["reach"]
    assert after["families"]["informed_reach"] >= before["families"]["informed_reach"]
    assert after["families"]["reached"] - before["families"]["reached"] in (0, 1)
    assert f["families.reached"].iloc[0] == before["families"]["reached"]


@SETTINGS
@given(schools(), hs.data())
def test_interactions_outside_the_window_change_nothing(data, more):
    schools_, fam, par, inter = data
    before = card_of(data)
    rows = []
    for _ in range(more.draw(hs.integers(1, 10))):
        offset = more.draw(hs.integers(1, 400))
        day = (
            START - datetime.timedelta(days=offset)
            if more.draw(hs.booleans())
            else END + datetime.timedelta(days=offset)
        )
        if len(fam) and more.draw(hs.booleans()):
            rows.append(
                {
                    "family_id": more.draw(hs.sampled_from(list(fam["family_id"]))),
                    "partner_id": None,
                    "activity": "phone call",
                }
            )
        elif len(par):
            rows.append(
                {
                    "family_id": None,
                    "partner_id": more.draw(hs.sampled_from(list(par["partner_id"]))),
                    "activity": "careers talk",
                }
            )
        else:
            continue
        rows[-1].update(date=day, two_way=more.draw(hs.booleans()), school_id="S1")
    after = card_of(
        (schools_, fam, par, pd.concat([inter, pd.DataFrame(rows, columns=inter.columns)], ignore_index=True))
    )
    assert after == before


@SETTINGS
@given(schools(), hs.randoms(use_true_random=False))
def test_the_order_of_rows_changes_nothing(data, rnd):
    schools_, fam, par, inter = data

    def shuffled(frame):
        order = list(range(len(frame)))
        rnd.shuffle(order)
        return frame.iloc[order].reset_index(drop=True)

    assert card_of((schools_, shuffled(fam), shuffled(par), shuffled(inter))) == card_of(data)


@SETTINGS
@given(schools())
def test_suppressed_figures_never_leak(data):
    _, fam, _, _ = data
    card = card_of(data)
    threshold = 10
    for flag, entry in card["equity"].items():
        group = int(fam[flag].sum()) if len(fam) else 0
        small = group < threshold or len(fam) - group < threshold
        assert entry["suppressed"] == small
        figures = [entry[k] for k in ("group", "rest", "group_reach", "rest_reach", "gap_pp", "parity")]
        if small:
            # Nothing of the entry is shown: not the group, nor the rest (on roll minus the rest is the group).
            assert figures == [None] * 6
        else:
            assert entry["group"] == group and entry["rest"] == len(fam) - group
    if len(fam) < threshold:
        assert card["families"]["suppressed"] is True
        assert {k: v for k, v in card["families"].items() if k != "suppressed"} == dict.fromkeys(
            ["on_roll", "reached", "reach", "informed_reach", "regularity", "breadth", "recency_days", "score"]
        )
    # The same holds in the trends and the comparison the pages draw from.
    trends = scoring.trends(frames_from_tables(*data), "S1", START, END, by="month")
    for flag, entry in card["equity"].items():
        if entry["suppressed"]:
            rows = trends[(trends["section"] == f"equity.{flag}")]
            # Months may differ from the whole window, but a suppressed month shows nothing either.
            for _, month in rows.groupby("period"):
                values = month.set_index("metric")["value"]
                assert values.isna().all() or values.notna().all()
    shown = trends.dropna(subset=["value"])
    groups = shown[shown["metric"].isin(["group", "rest"])]
    assert (groups["value"] >= threshold).all()
    assert np.all(pd.notna(trends.loc[trends["figure"] == "overall", "value"]))
